//! Augmentation that keeps labels consistent with the image: horizontal
//! flips, random crops resized back (masks nearest, points transformed) and
//! a small colour jitter (image only).
use super::data::{resize_mask, Image, Label, Sample};
use super::rng::Rng;

/// Augmentation settings; [`Augment::none`] turns everything off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    /// Mirror left-right with probability 1/2.
    pub hflip: bool,
    /// Smallest crop side as a fraction of the image (1 = no crops).
    pub min_crop: f32,
    /// Brightness shift and contrast/gain change amplitude.
    pub jitter: f32,
}

impl Augment {
    pub const fn none() -> Augment {
        Augment {
            hflip: false,
            min_crop: 1.0,
            jitter: 0.0,
        }
    }

    /// Face crops: flips, mild crops (the face must stay framed), jitter.
    pub const fn faces() -> Augment {
        Augment {
            hflip: true,
            min_crop: 0.85,
            jitter: 0.1,
        }
    }

    /// Crowd frames: flips, wider crops (density is local), jitter.
    pub const fn crowds() -> Augment {
        Augment {
            hflip: true,
            min_crop: 0.7,
            jitter: 0.1,
        }
    }

    /// Applies a random augmentation; the output has the input's size.
    pub fn apply(&self, s: Sample, rng: &mut Rng) -> Sample {
        let mut s = s;
        if self.hflip && rng.uniform() < 0.5 {
            s = hflip(s);
        }
        if self.min_crop < 1.0 {
            let f = rng.range(self.min_crop, 1.0);
            let cw = ((s.image.w as f32 * f).round() as usize).clamp(1, s.image.w);
            let ch = ((s.image.h as f32 * f).round() as usize).clamp(1, s.image.h);
            let x0 = rng.below(s.image.w - cw + 1);
            let y0 = rng.below(s.image.h - ch + 1);
            s = crop_resize(s, x0, y0, cw, ch);
        }
        if self.jitter > 0.0 {
            let j = self.jitter;
            let bright = rng.range(-j, j);
            let contrast = 1.0 + rng.range(-j, j) * 1.5;
            let gain = [
                1.0 + rng.range(-j, j) * 0.8,
                1.0 + rng.range(-j, j) * 0.8,
                1.0 + rng.range(-j, j) * 0.8,
            ];
            let mean = s.image.rgb.iter().sum::<f32>() / s.image.rgb.len().max(1) as f32;
            for (i, v) in s.image.rgb.iter_mut().enumerate() {
                let x = ((*v - mean) * contrast + mean) * gain[i % 3] + bright;
                *v = x.clamp(0.0, 1.0);
            }
        }
        s
    }
}

/// Mirrors the image and its label left-right.
pub fn hflip(s: Sample) -> Sample {
    let (w, h) = (s.image.w, s.image.h);
    let mut rgb = vec![0f32; s.image.rgb.len()];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                rgb[(y * w + x) * 3 + c] = s.image.rgb[(y * w + (w - 1 - x)) * 3 + c];
            }
        }
    }
    let label = match s.label {
        Label::Mask(m) => {
            let mut o = vec![0u8; m.len()];
            for y in 0..h {
                for x in 0..w {
                    o[y * w + x] = m[y * w + (w - 1 - x)];
                }
            }
            Label::Mask(o)
        }
        Label::Points(p) => Label::Points(p.into_iter().map(|(x, y)| (w as f32 - x, y)).collect()),
        other => other,
    };
    Sample {
        image: Image { w, h, rgb },
        label,
    }
}

/// Crops `cw x ch` at `(x0, y0)` and resizes back to the original size.
pub fn crop_resize(s: Sample, x0: usize, y0: usize, cw: usize, ch: usize) -> Sample {
    let (w, h) = (s.image.w, s.image.h);
    let mut crop = vec![0f32; cw * ch * 3];
    for y in 0..ch {
        let src = ((y0 + y) * w + x0) * 3;
        crop[y * cw * 3..(y + 1) * cw * 3].copy_from_slice(&s.image.rgb[src..src + cw * 3]);
    }
    let image = Image {
        w: cw,
        h: ch,
        rgb: crop,
    }
    .resized(w, h);
    let label = match s.label {
        Label::Mask(m) => {
            let mut c = vec![0u8; cw * ch];
            for y in 0..ch {
                c[y * cw..(y + 1) * cw]
                    .copy_from_slice(&m[(y0 + y) * w + x0..(y0 + y) * w + x0 + cw]);
            }
            Label::Mask(resize_mask(&c, cw, ch, w, h))
        }
        Label::Points(p) => {
            let (sx, sy) = (w as f32 / cw as f32, h as f32 / ch as f32);
            Label::Points(
                p.into_iter()
                    .map(|(x, y)| ((x - x0 as f32) * sx, (y - y0 as f32) * sy))
                    .filter(|&(x, y)| x >= 0.0 && y >= 0.0 && x < w as f32 && y < h as f32)
                    .collect(),
            )
        }
        other => other,
    };
    Sample { image, label }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image whose red channel encodes its mask (class k → k/2), so any
    /// geometric mismatch between image and label shows up.
    fn tagged(w: usize, h: usize) -> Sample {
        let mut rgb = vec![0f32; w * h * 3];
        let mut mask = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let k = ((x / 8 + y / 6) % 3) as u8;
                mask[y * w + x] = k;
                rgb[(y * w + x) * 3] = k as f32 / 2.0;
            }
        }
        Sample {
            image: Image { w, h, rgb },
            label: Label::Mask(mask),
        }
    }

    #[test]
    fn geometric_augmentations_keep_mask_aligned() {
        let mut rng = Rng::new(3);
        let aug = Augment {
            hflip: true,
            min_crop: 0.6,
            jitter: 0.0,
        };
        for _ in 0..10 {
            let s = aug.apply(tagged(48, 36), &mut rng);
            let Label::Mask(m) = &s.label else {
                panic!("label type changed")
            };
            assert_eq!(m.len(), 48 * 36);
            // Only pixels on class edges may disagree (the image is
            // resampled bilinearly, the mask by nearest neighbour).
            let agree = m
                .iter()
                .enumerate()
                .filter(|&(i, &k)| (s.image.rgb[i * 3] * 2.0).round() as u8 == k)
                .count();
            assert!(
                agree * 100 > m.len() * 85,
                "only {agree} of {} agree",
                m.len()
            );
        }
        // A shifted mask would fail: check the test can tell.
        let s = tagged(48, 36);
        let Label::Mask(m) = &s.label else { panic!() };
        let shifted = (0..m.len())
            .filter(|&i| (s.image.rgb[i * 3] * 2.0).round() as u8 == m[(i + 4) % m.len()])
            .count();
        assert!(shifted * 100 < m.len() * 85);
    }

    #[test]
    fn flips_and_crops_move_points() {
        let s = Sample {
            image: Image::new(10, 10, vec![0.5; 300]).unwrap(),
            label: Label::Points(vec![(2.0, 3.0), (9.5, 9.5)]),
        };
        let f = hflip(s.clone());
        assert_eq!(f.label, Label::Points(vec![(8.0, 3.0), (0.5, 9.5)]));
        let c = crop_resize(s, 0, 0, 5, 5);
        assert_eq!(c.label, Label::Points(vec![(4.0, 6.0)]));
    }
}
