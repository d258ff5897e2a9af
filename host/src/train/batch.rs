//! Turning samples into tensors: images to (N, 3, H, W) in `[0, 1]` (the
//! device feeds `pixel / 255` the same way), labels to the task's target.
use std::sync::Arc;

use anyhow::{bail, ensure, Result};
use candle_core::{Device, Tensor};

use super::arch::Shape;
use super::data::{resize_mask, Label, Sample};
use super::density::DensityMap;

/// What the trainer needs from a sample's label.
#[derive(Clone)]
pub enum Target {
    /// Per-pixel class ids at the model input size.
    Classes { classes: usize },
    /// Density map at `out` size, multiplied by `scale` (the network learns
    /// the scaled map; the exporter divides the last layer by `scale`).
    Density {
        out_w: usize,
        out_h: usize,
        scale: f32,
        map: Arc<dyn DensityMap>,
    },
    /// One class id per image.
    Label { classes: usize },
}

/// Targets of a batch.
#[derive(Debug, Clone)]
pub enum BatchTarget {
    /// `N * H * W` class ids.
    Classes(Vec<u8>),
    /// Scaled density (N, 1, h, w) and the true counts.
    Density { map: Tensor, counts: Vec<f32> },
    /// `N` class ids.
    Labels(Vec<u32>),
}

/// A batch of images and targets.
#[derive(Debug, Clone)]
pub struct Batch {
    pub images: Tensor,
    pub target: BatchTarget,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.images.dims().first().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch cut into at most `parts` consecutive shards of near-equal
    /// size (images `0..a`, `a..b`, ...), each with its own targets.
    pub fn shards(&self, parts: usize) -> Result<Vec<Batch>> {
        let n = self.len();
        let parts = parts.clamp(1, n.max(1));
        let mut out = Vec::with_capacity(parts);
        let mut start = 0;
        for k in 0..parts {
            let len = n / parts + usize::from(k < n % parts);
            let images = self.images.narrow(0, start, len)?;
            let target = match &self.target {
                BatchTarget::Classes(c) => {
                    let per = c.len() / n.max(1);
                    BatchTarget::Classes(c[start * per..(start + len) * per].to_vec())
                }
                BatchTarget::Density { map, counts } => BatchTarget::Density {
                    map: map.narrow(0, start, len)?,
                    counts: counts[start..start + len].to_vec(),
                },
                BatchTarget::Labels(l) => BatchTarget::Labels(l[start..start + len].to_vec()),
            };
            out.push(Batch { images, target });
            start += len;
        }
        Ok(out)
    }
}

/// Stacks samples into a batch, resizing images (and masks, points) to the
/// model input size.
pub fn collate(samples: Vec<Sample>, input: Shape, target: &Target) -> Result<Batch> {
    ensure!(!samples.is_empty(), "empty batch");
    let (w, h) = (input.w, input.h);
    let n = samples.len();
    let mut pixels = Vec::with_capacity(n * 3 * w * h);
    let mut classes = Vec::new();
    let mut density = Vec::new();
    let mut counts = Vec::new();
    let mut labels = Vec::new();
    for s in samples {
        let (sw, sh) = (s.image.w, s.image.h);
        let img = s.image.resized(w, h);
        for c in 0..3 {
            pixels.extend((0..w * h).map(|i| img.rgb[i * 3 + c]));
        }
        match (target, s.label) {
            (Target::Classes { classes: k }, Label::Mask(m)) => {
                ensure!(m.len() == sw * sh, "mask size differs from the image");
                ensure!(
                    m.iter().all(|&v| (v as usize) < *k),
                    "class id out of range"
                );
                classes.extend(resize_mask(&m, sw, sh, w, h));
            }
            (
                Target::Density {
                    out_w,
                    out_h,
                    scale,
                    map,
                },
                Label::Points(p),
            ) => {
                let (fx, fy) = (w as f32 / sw as f32, h as f32 / sh as f32);
                let p: Vec<(f32, f32)> = p.into_iter().map(|(x, y)| (x * fx, y * fy)).collect();
                let d = map.render(&p, w, h, *out_w, *out_h);
                counts.push(d.iter().sum::<f32>());
                density.extend(d.into_iter().map(|v| v * scale));
            }
            (Target::Label { classes: k }, Label::Class(c)) => {
                ensure!(c < *k, "class {c} out of range");
                labels.push(c as u32);
            }
            (_, l) => bail!(
                "label {:?} does not fit the target",
                std::mem::discriminant(&l)
            ),
        }
    }
    let images = Tensor::from_vec(pixels, (n, 3, h, w), &Device::Cpu)?;
    let target = match target {
        Target::Classes { .. } => BatchTarget::Classes(classes),
        Target::Density { out_w, out_h, .. } => BatchTarget::Density {
            map: Tensor::from_vec(density, (n, 1, *out_h, *out_w), &Device::Cpu)?,
            counts,
        },
        Target::Label { .. } => BatchTarget::Labels(labels),
    };
    Ok(Batch { images, target })
}
