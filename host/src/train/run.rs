//! One training run end to end, as `mote train` performs it: open the data
//! folders, optionally pre-train the encoder on fractals, train with
//! validation, and leave everything the exporter needs in the run folder:
//! `best.safetensors`, `last.safetensors`, `log.csv` and `run.txt`
//! (task, seed, hyper-parameters, command, timings, budgets).
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};

use super::arch::{Task, SEG_CLASSES};
use super::budget::Budget;
use super::data::{ClassFolder, CrowdFolder, DataSource, FaceFolder};
use super::net::Net;
use super::pretrain::{pretrain, PretrainConfig};
use super::trainer::{estimate_class_weights, EpochReport, TrainConfig, Trainer};

/// Pre-training source: only fractal class folders so far; the synth
/// module can add a generated variant here.
#[derive(Debug, Clone)]
pub enum Pretrain {
    /// `DIR/<class>/*.png`.
    FractalFolder { dir: PathBuf, epochs: usize },
}

/// A whole run.
#[derive(Clone)]
pub struct RunSpec {
    pub config: TrainConfig,
    pub data: PathBuf,
    pub val: PathBuf,
    pub pretrain: Option<Pretrain>,
    /// The command line, recorded in `run.txt`.
    pub command: String,
}

/// Opens a training/validation folder for a task.
pub fn open_folder(task: Task, dir: &std::path::Path) -> Result<Box<dyn DataSource>> {
    Ok(match task {
        Task::Segmenter => Box::new(FaceFolder::open(dir, SEG_CLASSES)?),
        Task::Counter => Box::new(CrowdFolder::open(dir)?),
    })
}

/// Runs training; returns the epoch reports (also logged in the run folder).
pub fn run(spec: &RunSpec) -> Result<Vec<EpochReport>> {
    let cfg = &spec.config;
    let arch = cfg.task.arch()?;
    let budget = Budget::of(&arch);
    let train = open_folder(cfg.task, &spec.data)?;
    let val = open_folder(cfg.task, &spec.val)?;
    let net = Net::new(arch, cfg.seed)?;
    let t0 = Instant::now();
    let mut pre_line = String::from("none");
    if let Some(Pretrain::FractalFolder { dir, epochs }) = &spec.pretrain {
        let fractals = ClassFolder::open(dir)?;
        if fractals.is_empty() {
            bail!("no fractal images in {}", dir.display());
        }
        let pc = PretrainConfig {
            epochs: *epochs,
            batch: cfg.batch,
            lr: cfg.lr,
            seed: cfg.seed,
            progress: cfg.progress,
            max_steps: cfg.max_steps,
        };
        let r = pretrain(&net, &fractals, &pc)?;
        let last = r.last().copied();
        pre_line = format!(
            "fractals {} ({} classes, {} images, {epochs} epochs, final acc {:.3})",
            dir.display(),
            fractals.classes(),
            fractals.len(),
            last.map_or(0.0, |e| e.accuracy)
        );
    }
    let pre_seconds = t0.elapsed().as_secs_f64();
    let weights = match (&cfg.class_weights, cfg.task) {
        (Some(w), _) => w.clone(),
        (None, Task::Segmenter) => estimate_class_weights(train.as_ref(), 256)?,
        (None, Task::Counter) => Vec::new(),
    };
    let mut trainer = Trainer::new(net, cfg.clone(), train.len(), weights.clone())?;
    let t1 = Instant::now();
    let reports = trainer.fit(train.as_ref(), val.as_ref())?;
    let train_seconds = t1.elapsed().as_secs_f64();
    if let Some(out) = &cfg.out {
        let last = reports.last();
        let text = format!(
            "task={}\nseed={}\nepochs={}\nbatch={}\nthreads={}\nbn_census={}\nlr={}\ndata={}\nval={}\ntrain_images={}\n\
             class_weights={:?}\ndice={}\ncount_weight={}\ndensity={}\npretrain={}\npretrain_seconds={:.1}\ntrain_seconds={:.1}\n\
             final_train_loss={:.6}\nfinal_val={}\nbudget={}\ncommand={}\n",
            cfg.task.name(),
            cfg.seed,
            cfg.epochs,
            cfg.batch,
            cfg.threads,
            cfg.bn_census,
            cfg.lr,
            spec.data.display(),
            spec.val.display(),
            train.len(),
            weights,
            cfg.dice_weight,
            cfg.count_weight,
            cfg.density.describe(),
            pre_line,
            pre_seconds,
            train_seconds,
            last.map_or(f64::NAN, |r| r.train_loss),
            last.map_or(String::new(), |r| r.score.to_string()),
            budget,
            spec.command
        );
        std::fs::write(out.join("run.txt"), text)?;
    }
    Ok(reports)
}
