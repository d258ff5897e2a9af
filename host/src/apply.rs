//! Running a model with a head on an image of any size, the way the device
//! does: the image goes through `mote_core::preprocess` (RGB888 frames) and
//! the output through `mote_core::heads`, and results are mapped back onto
//! the image through the same crop/scale geometry.
use anyhow::{anyhow, bail, Result};
use image::RgbImage;
use mote_core::heads::{density, MapShape};
use mote_core::preprocess::{Geometry, PixelFormat, Preprocessor};
use mote_core::{align_arena, Head, Model, Session};

/// What a model with a head says about one image.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Class ids at the image's own size (pixels outside the crop are 0,
    /// background), and the class count.
    Segmentation { classes: usize, mask: Vec<u8> },
    /// The count, and the dequantized density map at the model's output
    /// size with the geometry to map it back.
    Density {
        count: f64,
        map: Vec<f32>,
        map_width: usize,
        map_height: usize,
    },
}

/// The image's RGB888 bytes through the core preprocessor into the model's
/// input, one run, and the output interpreted by the blob's head.
pub fn predict(model: &Model<'_>, image: &RgbImage) -> Result<(Prediction, Geometry)> {
    let err = |e: mote_core::Error| anyhow!("{e}");
    let input = model.input(0).map_err(err)?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let pre = Preprocessor::new(&input, w, h, PixelFormat::Rgb888)
        .map_err(|e| anyhow!("model input: {e}"))?;
    let mut buf = vec![0u8; model.arena_size() + model.arena_align()];
    let arena = align_arena(&mut buf, model.arena_align());
    let mut session = Session::new(model, arena).map_err(err)?;
    pre.run(image.as_raw(), session.input(0).map_err(err)?)
        .map_err(|e| anyhow!("preprocess: {e}"))?;
    session.run().map_err(err)?;
    let out_t = model.output(0).map_err(err)?;
    let out = session.output(0).map_err(err)?;
    let geometry = *pre.geometry();
    let (shape, scale, zero_point) =
        MapShape::of_tensor(&out_t).map_err(|e| anyhow!("output 0: {e}"))?;
    let prediction = match model.head() {
        Head::Segmentation => {
            let mut classes = vec![0u8; shape.pixels().unwrap_or(0)];
            mote_core::heads::segment::segment::<256>(out, shape, &mut classes)
                .map_err(|e| anyhow!("segmentation head: {e}"))?;
            let mask = map_back(&geometry, shape.width, shape.height, |mx, my| {
                classes.get(my * shape.width + mx).copied().unwrap_or(0)
            });
            Prediction::Segmentation {
                classes: shape.channels,
                mask,
            }
        }
        Head::Density => {
            if shape.channels != 1 {
                bail!("density head: output has {} channels", shape.channels);
            }
            let count = density::count(out, scale, zero_point).value();
            let map = out
                .iter()
                .map(|&b| (i32::from(b as i8) - zero_point) as f32 * scale)
                .collect();
            Prediction::Density {
                count: f64::from(count),
                map,
                map_width: shape.width,
                map_height: shape.height,
            }
        }
        Head::None => bail!("the model declares no head (segmentation or density)"),
    };
    Ok((prediction, geometry))
}

/// An image-sized map from a model-output-sized one: each image pixel in
/// the crop takes the output pixel its model pixel falls in (nearest);
/// pixels outside the crop get `T::default()`.
pub fn map_back<T: Copy + Default>(
    g: &Geometry,
    out_width: usize,
    out_height: usize,
    at: impl Fn(usize, usize) -> T,
) -> Vec<T> {
    let mut v = Vec::with_capacity(g.frame_width * g.frame_height);
    for y in 0..g.frame_height {
        let my = g.model_y(y).map(|m| m * out_height / g.out_height);
        for x in 0..g.frame_width {
            let mx = g.model_x(x).map(|m| m * out_width / g.out_width);
            v.push(match (mx, my) {
                (Some(mx), Some(my)) => at(mx, my),
                _ => T::default(),
            });
        }
    }
    v
}

/// Overlay colours per class (class 0 is left as is).
pub const CLASS_COLOURS: [[u8; 3]; 8] = [
    [0, 0, 0],
    [255, 40, 40],
    [40, 120, 255],
    [40, 220, 40],
    [255, 200, 0],
    [200, 0, 200],
    [0, 200, 200],
    [255, 255, 255],
];

/// The image with each non-background class tinted (50 % blend).
pub fn overlay(image: &RgbImage, mask: &[u8]) -> RgbImage {
    let mut out = image.clone();
    for (px, &c) in out.pixels_mut().zip(mask) {
        if c == 0 {
            continue;
        }
        let col = CLASS_COLOURS[usize::from(c) % CLASS_COLOURS.len()];
        for (v, k) in px.0.iter_mut().zip(col) {
            *v = ((u16::from(*v) + u16::from(k)) / 2) as u8;
        }
    }
    out
}

/// A heat map of `map` (output-sized) over the image: density normalised to
/// its maximum, blue→red, blended in proportion to the density.
pub fn heat_map(
    image: &RgbImage,
    g: &Geometry,
    map: &[f32],
    map_width: usize,
    map_height: usize,
) -> RgbImage {
    let max = map.iter().copied().fold(0.0f32, f32::max);
    let full = map_back(g, map_width, map_height, |x, y| {
        map.get(y * map_width + x).copied().unwrap_or(0.0)
    });
    let mut out = image.clone();
    for (px, &d) in out.pixels_mut().zip(&full) {
        let t = if max > 0.0 {
            (d / max).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let heat = [255.0 * t, 64.0 * (1.0 - t), 255.0 * (1.0 - t)];
        let a = 0.25 + 0.5 * t;
        for (v, h) in px.0.iter_mut().zip(heat) {
            *v = (f32::from(*v) * (1.0 - a) + h * a).round() as u8;
        }
    }
    out
}

/// `mote run`: for each image writes `NAME.mask.png` (class ids, image size)
/// and `NAME.overlay.png` for a segmenter, or `NAME.density.png` and one row
/// of `counts.csv` (`name,count`) for a counter, into `out_dir`. Returns
/// `(name, count)` per image (count `None` for segmenters).
pub fn run_to_dir(
    blob: &[u8],
    images: &[std::path::PathBuf],
    out_dir: &std::path::Path,
) -> Result<Vec<(String, Option<f64>)>> {
    use anyhow::Context;
    let model = Model::parse(blob).map_err(|e| anyhow!("invalid blob: {e}"))?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut results = Vec::new();
    let mut csv = String::from("name,count\n");
    for path in images {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| anyhow!("bad file name {}", path.display()))?
            .to_string();
        let img = image::open(path)
            .with_context(|| format!("reading {}", path.display()))?
            .to_rgb8();
        let (w, h) = img.dimensions();
        let (prediction, geometry) =
            predict(&model, &img).with_context(|| format!("{}", path.display()))?;
        match prediction {
            Prediction::Segmentation { mask, .. } => {
                let m = image::GrayImage::from_raw(w, h, mask)
                    .ok_or_else(|| anyhow!("internal: mask size"))?;
                let ov = overlay(&img, m.as_raw());
                m.save(out_dir.join(format!("{name}.mask.png")))?;
                ov.save(out_dir.join(format!("{name}.overlay.png")))?;
                results.push((name, None));
            }
            Prediction::Density {
                count,
                map,
                map_width,
                map_height,
            } => {
                heat_map(&img, &geometry, &map, map_width, map_height)
                    .save(out_dir.join(format!("{name}.density.png")))?;
                csv.push_str(&format!("{name},{count:.2}\n"));
                results.push((name, Some(count)));
            }
        }
    }
    if model.head() == Head::Density {
        std::fs::write(out_dir.join("counts.csv"), csv)?;
    }
    Ok(results)
}
