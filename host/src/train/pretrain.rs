//! Formula-driven pre-training: the encoder learns to tell fractal
//! categories apart (global average pool + a linear classifier on the
//! encoder output), then the whole network is fine-tuned on the task with
//! the pre-trained encoder weights. Any classification [`DataSource`] works
//! (a folder of `<class>/*.png`, or a generator).
use anyhow::{ensure, Result};
use candle_core::{DType, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use super::augment::Augment;
use super::batch::{collate, BatchTarget, Target};
use super::data::DataSource;
use super::loss;
use super::net::Net;
use super::ops::global_avg_pool;
use super::rng::Rng;
use super::trainer::{cosine_lr, progress_bar};

/// Pre-training settings.
#[derive(Debug, Clone)]
pub struct PretrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    pub progress: bool,
    pub max_steps: Option<usize>,
}

/// The throw-away classifier on top of the encoder.
pub struct Head {
    pub weight: Var,
    pub bias: Var,
}

impl Head {
    pub fn new(features: usize, classes: usize, rng: &mut Rng) -> Result<Head> {
        let std = (1.0 / features as f32).sqrt();
        let w: Vec<f32> = (0..features * classes)
            .map(|_| rng.normal() * std)
            .collect();
        let w = Tensor::from_vec(w, (classes, features), &candle_core::Device::Cpu)?;
        Ok(Head {
            weight: Var::from_tensor(&w)?,
            bias: Var::zeros(classes, DType::F32, &candle_core::Device::Cpu)?,
        })
    }

    /// (N, C, h, w) features → (N, classes) logits.
    pub fn forward(&self, features: &Tensor) -> Result<Tensor> {
        let pooled = global_avg_pool(features)?;
        Ok(pooled
            .matmul(&self.weight.as_tensor().t()?)?
            .broadcast_add(self.bias.as_tensor())?)
    }
}

/// Per-epoch pre-training result: mean loss and training accuracy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PretrainEpoch {
    pub loss: f64,
    pub accuracy: f64,
}

/// Trains the encoder of `net` (and a fresh head) to classify `data`.
pub fn pretrain(
    net: &Net,
    data: &dyn DataSource,
    cfg: &PretrainConfig,
) -> Result<Vec<PretrainEpoch>> {
    let classes = data.classes();
    ensure!(classes >= 2, "pre-training data has {classes} classes");
    let feat = net.arch.shape(net.arch.encoder).map(|s| s.c).unwrap_or(0);
    let mut rng = Rng::new(cfg.seed ^ 0xf4ac_7a15);
    let head = Head::new(feat, classes, &mut rng)?;
    let mut vars = net.trainable(true);
    vars.push(head.weight.clone());
    vars.push(head.bias.clone());
    let mut opt = AdamW::new(
        vars,
        ParamsAdamW {
            lr: cfg.lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let target = Target::Label { classes };
    let aug = Augment {
        hflip: true,
        min_crop: 0.8,
        jitter: 0.1,
    };
    let mut per_epoch = data.len().div_ceil(cfg.batch.max(1));
    if let Some(m) = cfg.max_steps {
        per_epoch = per_epoch.min(m);
    }
    let total = (per_epoch * cfg.epochs).max(1);
    let mut step = 0;
    let mut out = Vec::new();
    for epoch in 1..=cfg.epochs {
        let bar = progress_bar(cfg.progress, &format!("pretrain {epoch}/{}", cfg.epochs));
        let mut order: Vec<usize> = (0..data.len()).collect();
        rng.shuffle(&mut order);
        let chunks: Vec<&[usize]> = order.chunks(cfg.batch.max(1)).take(per_epoch).collect();
        bar.set_length(chunks.len() as u64);
        let (mut sum, mut n, mut correct, mut seen) = (0f64, 0usize, 0usize, 0usize);
        for idx in chunks {
            let mut samples = Vec::with_capacity(idx.len());
            for &i in idx {
                samples.push(aug.apply(data.get(i)?, &mut rng));
            }
            let b = collate(samples, net.arch.input, &target)?;
            let BatchTarget::Labels(labels) = &b.target else {
                anyhow::bail!("classification batch without labels");
            };
            opt.set_learning_rate(cosine_lr(cfg.lr, step as f64 / total as f64));
            let logits = head.forward(&net.encode(&b.images, true)?)?;
            let l = loss::classification(&logits, labels)?;
            opt.backward_step(&l)?;
            step += 1;
            let pred = logits.argmax(1)?.to_vec1::<u32>()?;
            correct += pred.iter().zip(labels).filter(|(p, t)| p == t).count();
            seen += labels.len();
            sum += l.to_scalar::<f32>()? as f64;
            n += 1;
            bar.set_message(format!(
                "loss {:.4} acc {:.1}%",
                sum / n as f64,
                100.0 * correct as f64 / seen as f64
            ));
            bar.inc(1);
        }
        bar.finish();
        out.push(PretrainEpoch {
            loss: sum / n.max(1) as f64,
            accuracy: correct as f64 / seen.max(1) as f64,
        });
    }
    Ok(out)
}
