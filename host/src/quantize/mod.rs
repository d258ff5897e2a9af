//! Post-training int8 quantization, quantization-aware fine-tuning and
//! export of a trained network to the runtime's [`Graph`] and blob.
//!
//! ```text
//! Net (trained, BN) ─deploy_net─▶ Net (BN folded, real outputs)
//!        ─calibrate + activation_params─▶ per-tensor int8 parameters
//!        ─[fine_tune (QAT)]─▶ ─to_graph─▶ Graph ─blob::export─▶ blob
//! ```
//!
//! The rounding rules live in [`crate::train::fakequant`] and are shared by
//! the fake-quantized forward pass and [`to_graph`], so a fake-quantized
//! network predicts the runtime's int8 output (tests hold them together).
pub mod calibrate;
pub mod card;
pub mod pipeline;
pub mod qat;
pub mod to_graph;

use anyhow::{ensure, Result};
use candle_core::{Device, Tensor};

use crate::graph::{Graph, Head};
use crate::train::arch::{Shape, Task};
use crate::train::data::DataSource;
use crate::train::fakequant::ActQuant;
use crate::train::metrics::Score;
use crate::train::net::Net;
use crate::train::trainer::DENSITY_SCALE;

pub use calibrate::{activation_params, calibrate, deploy_net, INPUT_QUANT};
pub use pipeline::{export_run, ExportReport, ExportSpec};
pub use qat::{fine_tune, QatConfig};
pub use to_graph::to_graph;

/// What the deploy network's output is divided by relative to training:
/// the counter learns `DENSITY_SCALE * density`.
pub fn output_divisor(task: Task) -> f32 {
    match task {
        Task::Segmenter => 1.0,
        Task::Counter => DENSITY_SCALE,
    }
}

/// The blob head kind of a task's output.
pub fn head_of(task: Task) -> Head {
    match task {
        Task::Segmenter => Head::Segmentation,
        Task::Counter => Head::Density,
    }
}

/// Up to `n` images of `data`, evenly spread over it, resized to `input`,
/// as (N, 3, H, W) batches of at most `batch` images in `[0, 1]`.
pub fn image_batches(
    data: &dyn DataSource,
    input: Shape,
    n: usize,
    batch: usize,
) -> Result<Vec<Tensor>> {
    let len = data.len();
    ensure!(len > 0, "no images");
    let n = n.clamp(1, len);
    let idx: Vec<usize> = (0..n).map(|k| k * len / n).collect();
    let mut out = Vec::new();
    for chunk in idx.chunks(batch.max(1)) {
        let mut pixels = Vec::with_capacity(chunk.len() * input.len());
        for &i in chunk {
            let img = data.get(i)?.image.resized(input.w, input.h);
            for c in 0..3 {
                pixels.extend((0..input.h * input.w).map(|p| img.rgb[p * 3 + c]));
            }
        }
        out.push(Tensor::from_vec(
            pixels,
            (chunk.len(), 3, input.h, input.w),
            &Device::Cpu,
        )?);
    }
    Ok(out)
}

/// A network ready for the runtime: the deploy network and the int8
/// parameters of each of its tensors.
pub struct Quantized {
    pub task: Task,
    /// Batch norm folded, output in real units (density, not scaled).
    pub deploy: Net,
    /// Per tensor of `deploy.arch` (index = tensor id).
    pub act: Vec<ActQuant>,
}

impl Quantized {
    /// Post-training quantization of a trained `net`: fold, calibrate on
    /// `calib` (batches of images in `[0, 1]`), derive the int8 parameters.
    pub fn new(net: &Net, task: Task, calib: &[Tensor]) -> Result<Quantized> {
        let deploy = deploy_net(net, output_divisor(task))?;
        let cal = calibrate(&deploy, calib)?;
        let act = activation_params(&deploy, &cal)?;
        Ok(Quantized { task, deploy, act })
    }

    /// The runtime graph, its head declared from the task.
    pub fn graph(&self) -> Result<Graph> {
        to_graph(&self.deploy, &self.act, head_of(self.task))
    }

    /// The planned, checked blob.
    pub fn blob(&self) -> Result<Vec<u8>> {
        crate::blob::export(&self.graph()?)
    }

    /// The deploy network's output with every weight, bias and activation
    /// fake-quantized as the runtime computes (what the blob should return,
    /// dequantized), on (N, 3, H, W) images in `[0, 1]`.
    pub fn fake_quant_forward(&mut self, x: &Tensor) -> Result<Tensor> {
        self.deploy.fake_quant = Some(calibrate::fake_quant_table(&self.act));
        let y = self.deploy.forward(x, false);
        self.deploy.fake_quant = None;
        Ok(y?)
    }

    /// Quantization-aware fine-tuning of the deploy network (see [`qat`]).
    pub fn fine_tune(&mut self, data: &dyn DataSource, cfg: &QatConfig) -> Result<Vec<f64>> {
        fine_tune(&mut self.deploy, &self.act, self.task, data, cfg)
    }
}

/// Whether an int8 score is within the issue's tolerance of the float one:
/// every class IoU and the mean within 1 IoU point; count MAE within 2% of
/// the mean count.
pub fn within_tolerance(float: &Score, int8: &Score) -> bool {
    match (float, int8) {
        (Score::Seg(f), Score::Seg(q)) => {
            let k = f.inter.len();
            (0..k).all(|c| f.iou(c) - q.iou(c) <= 0.01) && f.miou() - q.miou() <= 0.01
        }
        (Score::Count(f), Score::Count(q)) => q.rel_mae() - f.rel_mae() <= 0.02,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
