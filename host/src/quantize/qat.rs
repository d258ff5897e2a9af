//! Quantization-aware fine-tuning: a few epochs of training on the deploy
//! network (batch norm folded) with weights, biases and activations
//! fake-quantized exactly as the runtime rounds them
//! ([`crate::train::fakequant`]) and gradients passed straight through.
//! Activation ranges stay at their calibrated values, so the exported graph
//! uses the very parameters the fine-tuning saw.
use std::sync::Arc;

use anyhow::{ensure, Result};
use candle_core::Tensor;
use candle_nn::Optimizer;

use crate::train::arch::{Task, SEG_CLASSES};
use crate::train::augment::Augment;
use crate::train::batch::{collate, BatchTarget, Target};
use crate::train::data::DataSource;
use crate::train::density::{DensityMap, FixedSigmaDensity};
use crate::train::fakequant::ActQuant;
use crate::train::loss;
use crate::train::net::Net;
use crate::train::rng::Rng;
use crate::train::trainer::{
    adam, cosine_lr, estimate_class_weights, progress_bar, COUNT_WEIGHT, DENSITY_SCALE, DICE_WEIGHT,
};

use super::calibrate::fake_quant_table;

/// Settings of a fine-tuning run.
#[derive(Clone)]
pub struct QatConfig {
    pub epochs: usize,
    pub batch: usize,
    /// Peak learning rate (cosine decay to 5%); a tenth of training's.
    pub lr: f64,
    pub seed: u64,
    pub augment: Augment,
    /// Cap on steps per epoch.
    pub max_steps: Option<usize>,
    pub progress: bool,
    /// Segmentation class weights; `None` estimates them from the data.
    pub class_weights: Option<Vec<f32>>,
    /// Ground-truth density renderer (counter).
    pub density: Arc<dyn DensityMap>,
}

impl QatConfig {
    pub fn new(task: Task, epochs: usize) -> QatConfig {
        QatConfig {
            epochs,
            batch: 16,
            lr: 3e-4,
            seed: 1,
            augment: match task {
                Task::Segmenter => Augment::faces(),
                Task::Counter => Augment::crowds(),
            },
            max_steps: None,
            progress: true,
            class_weights: None,
            density: Arc::new(FixedSigmaDensity::default()),
        }
    }
}

/// Fine-tunes `net` (a deploy network: no batch norm, a counter's output
/// already the real density) in place with activations fake-quantized by
/// `act`. Returns the mean training loss of each epoch. `net.fake_quant`
/// is cleared again afterwards.
pub fn fine_tune(
    net: &mut Net,
    act: &[ActQuant],
    task: Task,
    data: &dyn DataSource,
    cfg: &QatConfig,
) -> Result<Vec<f64>> {
    ensure!(
        net.layers.iter().flatten().all(|p| p.bn.is_none()),
        "quantization-aware fine-tuning trains the deploy network (batch norm folded)"
    );
    ensure!(!data.is_empty(), "no fine-tuning data");
    ensure!(
        act.len() == net.arch.tensor_count(),
        "activation table size"
    );
    let out = net.arch.shape(net.arch.output);
    let target = match (task, out) {
        (Task::Segmenter, _) => Target::Classes {
            classes: SEG_CLASSES,
        },
        (Task::Counter, Some(o)) => Target::Density {
            out_w: o.w,
            out_h: o.h,
            scale: DENSITY_SCALE,
            map: cfg.density.clone(),
        },
        (Task::Counter, None) => anyhow::bail!("model has no output"),
    };
    let weights = match (&cfg.class_weights, task) {
        (Some(w), _) => w.clone(),
        (None, Task::Segmenter) => estimate_class_weights(data, 256)?,
        (None, Task::Counter) => Vec::new(),
    };
    net.fake_quant = Some(fake_quant_table(act));
    let result = train_loop(net, &target, &weights, data, cfg);
    net.fake_quant = None;
    result
}

fn train_loop(
    net: &Net,
    target: &Target,
    weights: &[f32],
    data: &dyn DataSource,
    cfg: &QatConfig,
) -> Result<Vec<f64>> {
    let mut opt = adam(net, false, cfg.lr)?;
    let mut rng = Rng::new(cfg.seed ^ 0x0009_a70f_ca11);
    let per_epoch = data
        .len()
        .div_ceil(cfg.batch.max(1))
        .min(cfg.max_steps.unwrap_or(usize::MAX));
    let total = (per_epoch * cfg.epochs).max(1);
    let mut step = 0usize;
    let mut losses = Vec::with_capacity(cfg.epochs);
    for epoch in 1..=cfg.epochs {
        let bar = progress_bar(cfg.progress, &format!("qat {epoch}/{}", cfg.epochs));
        let mut order: Vec<usize> = (0..data.len()).collect();
        rng.shuffle(&mut order);
        let chunks: Vec<&[usize]> = order.chunks(cfg.batch.max(1)).take(per_epoch).collect();
        bar.set_length(chunks.len() as u64);
        let (mut sum, mut n) = (0f64, 0usize);
        for idx in chunks {
            let mut samples = Vec::with_capacity(idx.len());
            for &i in idx {
                samples.push(cfg.augment.apply(data.get(i)?, &mut rng));
            }
            let b = collate(samples, net.arch.input, target)?;
            let y = net.forward(&b.images, true)?;
            let l: Tensor = match &b.target {
                BatchTarget::Classes(c) => {
                    (loss::segmentation(&y, c, weights)?
                        + (loss::soft_dice(&y, c)? * DICE_WEIGHT)?)?
                }
                BatchTarget::Density { map, counts } => {
                    // The deploy net outputs the real density; the loss
                    // is defined on the scaled one, as in training.
                    let scaled = (y * DENSITY_SCALE as f64)?;
                    loss::density(&scaled, map, counts, DENSITY_SCALE, COUNT_WEIGHT)?
                }
                BatchTarget::Labels(l) => loss::classification(&y, l)?,
            };
            opt.set_learning_rate(cosine_lr(cfg.lr, step as f64 / total as f64));
            opt.backward_step(&l)?;
            step += 1;
            sum += l.to_scalar::<f32>()? as f64;
            n += 1;
            bar.set_message(format!("loss {:.4}", sum / n as f64));
            bar.inc(1);
        }
        let mean = sum / n.max(1) as f64;
        bar.finish_with_message(format!("loss {mean:.4}"));
        losses.push(mean);
    }
    Ok(losses)
}
