//! The training loop: batches from a [`DataSource`], Adam, a cosine
//! learning-rate decay, validation each epoch, safetensors checkpoints and
//! a progress bar showing loss and metric.
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use indicatif::{ProgressBar, ProgressStyle};

use super::arch::{Task, SEG_CLASSES};
use super::augment::Augment;
use super::batch::{collate, Batch, BatchTarget, Target};
use super::checkpoint;
use super::data::{DataSource, Label};
use super::density::{DensityMap, FixedSigmaDensity};
use super::loss;
use super::metrics::{argmax_classes, CountScore, Score, SegScore};
use super::net::{Net, Pass};
use super::parallel;
use super::rng::Rng;

/// The counter learns the density map multiplied by this (per-pixel
/// densities are ~0.01-0.1, too small for a well-conditioned MSE); the
/// exporter divides the last layer's weights and bias by it.
pub const DENSITY_SCALE: f32 = 100.0;
/// Default weight of the count L1 term in the counting loss.
pub const COUNT_WEIGHT: f64 = 0.1;
/// Default weight of the soft Dice term in the segmentation loss.
pub const DICE_WEIGHT: f64 = 1.0;

/// Default number of training images in the batch-norm census before each
/// validation: enough for a stable estimate, a few seconds of forward passes.
pub const BN_CENSUS_IMAGES: usize = 512;

/// Everything a training run is configured by.
#[derive(Clone)]
pub struct TrainConfig {
    pub task: Task,
    pub epochs: usize,
    pub batch: usize,
    /// Peak learning rate; decays with a cosine to 5% of it.
    pub lr: f64,
    pub seed: u64,
    pub augment: Augment,
    /// Run folder for checkpoints and logs; `None` writes nothing.
    pub out: Option<PathBuf>,
    /// Show progress bars.
    pub progress: bool,
    /// Ground-truth density renderer (counter).
    pub density: Arc<dyn DensityMap>,
    /// Segmentation class weights; `None` estimates them from the data.
    pub class_weights: Option<Vec<f32>>,
    /// Cap on steps per epoch (benchmarks, tests).
    pub max_steps: Option<usize>,
    /// Weight of the soft Dice term added to the segmentation cross-entropy.
    pub dice_weight: f64,
    /// Weight of the count L1 term (heads) next to the density MSE.
    pub count_weight: f64,
    /// Threads a step's batch is shared over ([`super::parallel`]).
    pub threads: usize,
    /// Training images (the first ones, not augmented) whose batch-norm
    /// statistics replace the running ones before each validation
    /// ([`Net::recompute_bn_stats`]); 0 keeps the running ones.
    pub bn_census: usize,
}

impl TrainConfig {
    /// Defaults for a task: batch 16, lr 3e-3, task-specific augmentation.
    pub fn new(task: Task) -> TrainConfig {
        TrainConfig {
            task,
            epochs: 10,
            batch: 16,
            lr: 3e-3,
            seed: 1,
            augment: match task {
                Task::Segmenter => Augment::faces(),
                Task::Counter => Augment::crowds(),
            },
            out: None,
            progress: true,
            density: Arc::new(FixedSigmaDensity::default()),
            class_weights: None,
            max_steps: None,
            dice_weight: DICE_WEIGHT,
            count_weight: COUNT_WEIGHT,
            threads: super::parallel::default_threads(),
            bn_census: BN_CENSUS_IMAGES,
        }
    }
}

/// One epoch's outcome.
#[derive(Debug, Clone)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    pub score: Score,
    pub seconds: f64,
    pub images: usize,
}

/// Estimates segmentation class weights from up to `max` samples:
/// `sqrt(min(freq[background] / freq[k], 100))`, so a class 100x rarer
/// than background weighs 10x. (With a cap of 25, 80 steps on synthetic
/// faces still predicted background everywhere.)
pub fn estimate_class_weights(data: &dyn DataSource, max: usize) -> Result<Vec<f32>> {
    let mut counts = [0u64; SEG_CLASSES];
    for i in 0..data.len().min(max) {
        if let Label::Mask(m) = data.get(i)?.label {
            for v in m {
                if let Some(c) = counts.get_mut(v as usize) {
                    *c += 1;
                }
            }
        }
    }
    let bg = counts[0].max(1) as f32;
    Ok(counts
        .iter()
        .map(|&c| (bg / c.max(1) as f32).clamp(1.0, 100.0).sqrt())
        .collect())
}

/// A network, its optimizer, and the task's target/loss.
pub struct Trainer {
    pub net: Net,
    pub cfg: TrainConfig,
    pub target: Target,
    pub class_weights: Vec<f32>,
    opt: AdamW,
    step: usize,
    total_steps: usize,
}

impl Trainer {
    /// Trainer for `net`; `train_len` (samples per epoch) sets the schedule.
    pub fn new(
        net: Net,
        cfg: TrainConfig,
        train_len: usize,
        class_weights: Vec<f32>,
    ) -> Result<Trainer> {
        let out = net
            .arch
            .shape(net.arch.output)
            .context("model has no output")?;
        let target = match cfg.task {
            Task::Segmenter => Target::Classes {
                classes: SEG_CLASSES,
            },
            Task::Counter => Target::Density {
                out_w: out.w,
                out_h: out.h,
                scale: DENSITY_SCALE,
                map: cfg.density.clone(),
            },
        };
        let opt = adam(&net, false, cfg.lr)?;
        let mut per_epoch = train_len.div_ceil(cfg.batch.max(1));
        if let Some(m) = cfg.max_steps {
            per_epoch = per_epoch.min(m);
        }
        Ok(Trainer {
            net,
            total_steps: (per_epoch * cfg.epochs).max(1),
            cfg,
            target,
            class_weights,
            opt,
            step: 0,
        })
    }

    /// Mean loss of a batch (see [`Pass`] for batch norm).
    pub fn loss(&self, batch: &Batch, pass: impl Into<Pass>) -> Result<candle_core::Tensor> {
        let y = self.net.forward(&batch.images, pass)?;
        Ok(match &batch.target {
            BatchTarget::Classes(c) => {
                let ce = loss::segmentation(&y, c, &self.class_weights)?;
                if self.cfg.dice_weight > 0.0 {
                    (ce + (loss::soft_dice(&y, c)? * self.cfg.dice_weight)?)?
                } else {
                    ce
                }
            }
            BatchTarget::Density { map, counts } => {
                loss::density(&y, map, counts, DENSITY_SCALE, self.cfg.count_weight)?
            }
            BatchTarget::Labels(l) => loss::classification(&y, l)?,
        })
    }

    /// One optimisation step; returns the batch loss before the update.
    pub fn step(&mut self, batch: &Batch) -> Result<f32> {
        let t = self.step as f64 / self.total_steps as f64;
        self.opt
            .set_learning_rate(cosine_lr(self.cfg.lr, t.min(1.0)));
        let vars = self.net.trainable(false);
        let (l, grads) =
            parallel::grads(batch, self.cfg.threads, &vars, |b, pass| self.loss(b, pass))?;
        self.opt.step(&grads)?;
        self.step += 1;
        Ok(l)
    }

    /// Loads samples `idx` (augmented when `rng` is given) into a batch.
    pub fn load(
        &self,
        data: &dyn DataSource,
        idx: &[usize],
        rng: Option<&mut Rng>,
    ) -> Result<Batch> {
        let mut samples = Vec::with_capacity(idx.len());
        let mut rng = rng;
        for &i in idx {
            let s = data.get(i)?;
            samples.push(match rng.as_deref_mut() {
                Some(r) => self.cfg.augment.apply(s, r),
                None => s,
            });
        }
        collate(samples, self.net.arch.input, &self.target)
    }

    /// One pass over the (shuffled) training data; returns the mean loss
    /// and the number of images seen.
    pub fn train_epoch(
        &mut self,
        data: &dyn DataSource,
        rng: &mut Rng,
        bar: &ProgressBar,
    ) -> Result<(f64, usize)> {
        let mut order: Vec<usize> = (0..data.len()).collect();
        rng.shuffle(&mut order);
        let mut chunks: Vec<&[usize]> = order.chunks(self.cfg.batch.max(1)).collect();
        if let Some(m) = self.cfg.max_steps {
            chunks.truncate(m);
        }
        bar.set_length(chunks.len() as u64);
        bar.set_position(0);
        let (mut sum, mut n, mut images) = (0f64, 0usize, 0usize);
        for idx in chunks {
            let b = self.load(data, idx, Some(rng))?;
            let l = self.step(&b)? as f64;
            sum += l;
            n += 1;
            images += idx.len();
            bar.set_message(format!("loss {:.4}", sum / n as f64));
            bar.inc(1);
        }
        Ok((sum / n.max(1) as f64, images))
    }

    /// Batch-norm census over the first `cfg.bn_census` training images,
    /// not augmented, in batches of `cfg.batch` (see
    /// [`Net::recompute_bn_stats`]). Returns the batches counted.
    pub fn recompute_bn_stats(&self, data: &dyn DataSource) -> Result<usize> {
        let n = self.cfg.bn_census.min(data.len());
        let idx: Vec<usize> = (0..n).collect();
        let batches = idx.chunks(self.cfg.batch.max(1)).map(|c| {
            self.load(data, c, None)
                .map(|b| b.images)
                .map_err(candle_core::Error::msg)
        });
        Ok(self.net.recompute_bn_stats(batches)?)
    }

    /// Validation score over a whole data source (inference mode).
    pub fn evaluate(&self, data: &dyn DataSource) -> Result<Score> {
        let mut seg = SegScore::new(SEG_CLASSES);
        let mut cnt = CountScore::default();
        let idx: Vec<usize> = (0..data.len()).collect();
        for chunk in idx.chunks(self.cfg.batch.max(1)) {
            let b = self.load(data, chunk, None)?;
            let y = self.net.forward(&b.images, false)?;
            match &b.target {
                BatchTarget::Classes(truth) => seg.update(&argmax_classes(&y)?, truth),
                BatchTarget::Density { counts, .. } => {
                    let pred = y.sum((1, 2, 3))?.to_vec1::<f32>()?;
                    for (p, t) in pred.iter().zip(counts) {
                        cnt.update((*p / DENSITY_SCALE) as f64, *t as f64);
                    }
                }
                BatchTarget::Labels(_) => {}
            }
        }
        Ok(match self.cfg.task {
            Task::Segmenter => Score::Seg(seg),
            Task::Counter => Score::Count(cnt),
        })
    }

    /// Trains for `cfg.epochs`, validating after each epoch, writing
    /// `last.safetensors`, `best.safetensors` and `log.csv` to `cfg.out`.
    pub fn fit(
        &mut self,
        train: &dyn DataSource,
        val: &dyn DataSource,
    ) -> Result<Vec<EpochReport>> {
        let mut rng = Rng::new(self.cfg.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed);
        let mut reports = Vec::new();
        let mut best = f64::NEG_INFINITY;
        if let Some(out) = &self.cfg.out {
            fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            fs::write(
                out.join("log.csv"),
                "epoch,train_loss,metric,seconds,images_per_s\n",
            )?;
        }
        for epoch in 1..=self.cfg.epochs {
            let bar = progress_bar(
                self.cfg.progress,
                &format!("{} {epoch}/{}", self.cfg.task.name(), self.cfg.epochs),
            );
            let t0 = Instant::now();
            let (train_loss, images) = self.train_epoch(train, &mut rng, &bar)?;
            self.recompute_bn_stats(train)?;
            let seconds = t0.elapsed().as_secs_f64();
            let score = self.evaluate(val)?;
            bar.finish_with_message(format!("loss {train_loss:.4} val {score}"));
            if let Some(out) = &self.cfg.out {
                checkpoint::save(&self.net, &out.join("last.safetensors"))?;
                if score.figure_of_merit() > best {
                    checkpoint::save(&self.net, &out.join("best.safetensors"))?;
                }
                let mut log = fs::OpenOptions::new()
                    .append(true)
                    .open(out.join("log.csv"))?;
                writeln!(
                    log,
                    "{epoch},{train_loss:.6},\"{score}\",{seconds:.1},{:.1}",
                    images as f64 / seconds.max(1e-9)
                )?;
            }
            best = best.max(score.figure_of_merit());
            reports.push(EpochReport {
                epoch,
                train_loss,
                score,
                seconds,
                images,
            });
        }
        Ok(reports)
    }
}

/// Adam (AdamW with zero weight decay) over the network's trainable
/// variables, or only the encoder's.
pub fn adam(net: &Net, encoder_only: bool, lr: f64) -> Result<AdamW> {
    Ok(AdamW::new(
        net.trainable(encoder_only),
        ParamsAdamW {
            lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?)
}

/// Cosine decay from `lr` at `t = 0` to `0.05 lr` at `t = 1`.
pub fn cosine_lr(lr: f64, t: f64) -> f64 {
    let floor = 0.05 * lr;
    floor + (lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// A progress bar with loss/metric message, or a hidden one.
pub fn progress_bar(show: bool, prefix: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix.to_string());
    bar
}
