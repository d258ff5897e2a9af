//! Accuracy of a model with a head on a folder of synthetic data, through
//! the same path as `mote run` (core preprocess, core runtime, core heads).
//!
//! - Segmenter folders (`mote synth faces`): `NAME.png` + `NAME.mask.png`
//!   (8-bit class ids at the image's size): per-class IoU and mean IoU.
//! - Counter folders (`mote synth crowds`): `NAME.png` + `NAME.points.csv`
//!   (one head per row): MAE, RMSE, MAE relative to the mean true count.
//!
//! The metric math is `train::metrics` (the same numbers training reports).
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context, Result};
use mote_core::{Head, Model};
use serde::Serialize;

use crate::apply::{predict, Prediction};
use crate::synth::dataset::read_points;
use crate::train::metrics::{CountScore, SegScore};

/// Segmentation accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegEval {
    pub images: usize,
    /// IoU per class, class order.
    pub iou: Vec<f64>,
    pub mean_iou: f64,
}

/// Counting accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountEval {
    pub images: usize,
    pub mae: f64,
    pub rmse: f64,
    /// MAE divided by the mean true count.
    pub relative_mae: f64,
    pub mean_count: f64,
}

/// The result for the model's head.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Evaluation {
    Segmentation(SegEval),
    Counting(CountEval),
}

/// `NAME.png` files of `dir` that are images (not masks or density maps),
/// sorted by name.
pub fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".png") && name.matches('.').count() == 1
        })
        .collect();
    v.sort();
    Ok(v)
}

fn stem(p: &Path) -> Result<&str> {
    p.file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| anyhow!("bad file name {}", p.display()))
}

/// Evaluates the blob on every image of `dir` (see the module docs).
pub fn evaluate(blob: &[u8], dir: &Path) -> Result<Evaluation> {
    let model = Model::parse(blob).map_err(|e| anyhow!("invalid blob: {e}"))?;
    let images = images_in(dir)?;
    ensure!(
        !images.is_empty(),
        "no NAME.png images in {}",
        dir.display()
    );
    match model.head() {
        Head::Segmentation => {
            let mut score: Option<SegScore> = None;
            for path in &images {
                let img = image::open(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .to_rgb8();
                let mask_path = dir.join(format!("{}.mask.png", stem(path)?));
                let truth = image::open(&mask_path)
                    .with_context(|| format!("reading {}", mask_path.display()))?
                    .to_luma8();
                ensure!(
                    truth.dimensions() == img.dimensions(),
                    "{}: mask size differs from the image",
                    mask_path.display()
                );
                let (Prediction::Segmentation { classes, mask }, _) = predict(&model, &img)? else {
                    bail!("internal: segmentation head gave another prediction");
                };
                score
                    .get_or_insert_with(|| SegScore::new(classes))
                    .update(&mask, truth.as_raw());
            }
            let s = score.ok_or_else(|| anyhow!("no images"))?;
            let iou: Vec<f64> = (0..s.inter.len()).map(|k| s.iou(k)).collect();
            Ok(Evaluation::Segmentation(SegEval {
                images: images.len(),
                mean_iou: s.miou(),
                iou,
            }))
        }
        Head::Density => {
            let mut score = CountScore::default();
            for path in &images {
                let img = image::open(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .to_rgb8();
                let points = read_points(&dir.join(format!("{}.points.csv", stem(path)?)))?;
                let (Prediction::Density { count, .. }, _) = predict(&model, &img)? else {
                    bail!("internal: density head gave another prediction");
                };
                // Heads whose centre lies in the image, the rule the cards and
                // training use (`train::evaluate::prepare`).
                let (w, h) = (img.width() as f32, img.height() as f32);
                let inside = points
                    .iter()
                    .filter(|&&(x, y)| x >= 0.0 && y >= 0.0 && x < w && y < h)
                    .count();
                score.update(count, inside as f64);
            }
            let n = score.pairs.len().max(1) as f64;
            Ok(Evaluation::Counting(CountEval {
                images: images.len(),
                mae: score.mae(),
                rmse: score.rmse(),
                relative_mae: score.rel_mae(),
                mean_count: score.pairs.iter().map(|(_, t)| t).sum::<f64>() / n,
            }))
        }
        Head::None => bail!("the model declares no head; `mote eval` needs a segmenter or counter"),
    }
}
