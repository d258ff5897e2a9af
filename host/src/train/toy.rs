//! Tiny hand-drawn datasets for tests and benchmarks (not for real
//! training: `mote synth` makes the real data). Faces: a skin-coloured
//! background with a dark "glasses" bar and a thin darker "shadow" line
//! below it. Crowds: dark round "heads" on a textured ground.
use std::path::Path;

use anyhow::Result;
use image::{GrayImage, RgbImage};

use super::data::{Image, Label, Sample};
use super::rng::Rng;

/// One toy face crop of `size x size`: class 1 = glasses bar, 2 = shadow line.
pub fn face(size: usize, rng: &mut Rng) -> Sample {
    let skin = [
        rng.range(0.55, 0.9),
        rng.range(0.4, 0.7),
        rng.range(0.3, 0.55),
    ];
    let mut rgb = vec![0f32; size * size * 3];
    let mut mask = vec![0u8; size * size];
    let bar_h = 3 + rng.below(4);
    let y0 = size / 3 + rng.below(size / 6);
    let x0 = rng.below(size / 6) + 4;
    let x1 = size - 4 - rng.below(size / 6);
    let shadow_dy = 2 + rng.below(3);
    let frame = rng.range(0.0, 0.25);
    for y in 0..size {
        for x in 0..size {
            let i = y * size + x;
            let mut c = skin;
            let noise = rng.range(-0.03, 0.03);
            if (y0..y0 + bar_h).contains(&y) && (x0..x1).contains(&x) {
                c = [frame, frame, frame + 0.05];
                mask[i] = 1;
            } else if y == y0 + bar_h + shadow_dy && (x0 + 2..x1 + 2).contains(&x) {
                c = [skin[0] * 0.6, skin[1] * 0.6, skin[2] * 0.6];
                mask[i] = 2;
            }
            for k in 0..3 {
                rgb[i * 3 + k] = (c[k] + noise).clamp(0.0, 1.0);
            }
        }
    }
    Sample {
        image: Image {
            w: size,
            h: size,
            rgb,
        },
        label: Label::Mask(mask),
    }
}

/// One toy crowd frame with `1..=max_heads` heads.
pub fn crowd(size: usize, max_heads: usize, rng: &mut Rng) -> Sample {
    let n = 1 + rng.below(max_heads.max(1));
    let ground = [
        rng.range(0.4, 0.7),
        rng.range(0.4, 0.7),
        rng.range(0.35, 0.6),
    ];
    let mut rgb = vec![0f32; size * size * 3];
    for (i, v) in rgb.iter_mut().enumerate() {
        *v = ground[i % 3] + rng.range(-0.04, 0.04);
    }
    let mut points = Vec::with_capacity(n);
    for _ in 0..n {
        let (cx, cy) = (
            rng.range(2.0, size as f32 - 2.0),
            rng.range(2.0, size as f32 - 2.0),
        );
        let r = rng.range(2.0, 4.0);
        let tone = rng.range(0.05, 0.25);
        for y in 0..size {
            for x in 0..size {
                let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
                if d < r {
                    for k in 0..3 {
                        rgb[(y * size + x) * 3 + k] = tone;
                    }
                }
            }
        }
        points.push((cx, cy));
    }
    Sample {
        image: Image {
            w: size,
            h: size,
            rgb,
        },
        label: Label::Points(points),
    }
}

fn to_rgb8(img: &Image) -> RgbImage {
    let data = img
        .rgb
        .iter()
        .map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    RgbImage::from_raw(img.w as u32, img.h as u32, data).unwrap_or_default()
}

/// Writes a sample in the folder layout [`super::data`] reads.
pub fn write_sample(dir: &Path, index: usize, s: &Sample) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let stem = format!("{index:05}");
    to_rgb8(&s.image).save(dir.join(format!("{stem}.png")))?;
    match &s.label {
        Label::Mask(m) => {
            let g = GrayImage::from_raw(s.image.w as u32, s.image.h as u32, m.clone())
                .ok_or_else(|| anyhow::anyhow!("mask size"))?;
            g.save(dir.join(format!("{stem}.mask.png")))?;
        }
        Label::Points(p) => {
            let mut csv = String::from("x,y\n");
            for (x, y) in p {
                csv.push_str(&format!("{x},{y}\n"));
            }
            std::fs::write(dir.join(format!("{stem}.points.csv")), csv)?;
        }
        Label::Class(_) => {}
    }
    Ok(())
}

/// Writes `n` toy faces (`crowds = false`) or crowds into `dir`.
pub fn write_folder(dir: &Path, n: usize, crowds: bool, seed: u64) -> Result<()> {
    let mut rng = Rng::new(seed);
    for i in 0..n {
        let s = if crowds {
            crowd(128, 30, &mut rng)
        } else {
            face(96, &mut rng)
        };
        write_sample(dir, i, &s)?;
    }
    Ok(())
}
