//! `mote train segmenter|counter`: train a model from data folders.
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use mote_host::train::arch::{Task, SEG_CLASSES};
use mote_host::train::budget::Budget;
use mote_host::train::density::FixedSigmaDensity;
use mote_host::train::run::{run as run_training, Pretrain, RunSpec};
use mote_host::train::trainer::TrainConfig;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Model {
    Segmenter,
    Counter,
}

#[derive(clap::Args)]
pub struct Args {
    /// Which model to train.
    #[arg(value_enum)]
    model: Model,
    /// Training folder (faces: NAME.png + NAME.mask.png; crowds: NAME.png + NAME.points.csv).
    #[arg(long)]
    data: PathBuf,
    /// Validation folder, same layout (use another seed than --data).
    #[arg(long)]
    val: PathBuf,
    /// Run folder for checkpoints, log.csv and run.txt.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Peak Adam learning rate (cosine decay to 5%).
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Pre-train the encoder first: `--pretrain fractals DIR` (DIR/<class>/*.png).
    #[arg(long, num_args = 2, value_names = ["KIND", "DIR"])]
    pretrain: Vec<String>,
    /// Pre-training epochs.
    #[arg(long, default_value_t = 3)]
    pretrain_epochs: usize,
    /// Segmentation class weights `BG,GLASSES,SHADOW` (default: estimated
    /// from the training data's class frequencies).
    /// (clap counts `num_args` before splitting at commas, so the count of
    /// three is checked in `run`.)
    #[arg(long, value_delimiter = ',')]
    class_weights: Option<Vec<f32>>,
    /// Weight of the soft Dice term in the segmentation loss (0 = cross-entropy only).
    #[arg(long, default_value_t = mote_host::train::trainer::DICE_WEIGHT)]
    dice: f64,
    /// Weight of the count L1 term (in heads) next to the density-map MSE.
    #[arg(long, default_value_t = mote_host::train::trainer::COUNT_WEIGHT)]
    count_weight: f64,
    /// Counter: sigma of each head's Gaussian in the density target, in
    /// output cells (one cell is 4 input pixels for the shipped counter).
    #[arg(long, default_value_t = 1.0)]
    sigma: f32,
    /// Threads each batch is shared over (default: `MOTE_THREADS`, else
    /// every core). Batch norm sees shards of the batch, so the result
    /// depends on this number; a run is deterministic for a given one.
    #[arg(long)]
    threads: Option<usize>,
    /// Training images (the first ones, not augmented) whose batch-norm
    /// statistics replace the running ones before each validation; 0 keeps
    /// the running averages of the last steps.
    #[arg(long, default_value_t = mote_host::train::trainer::BN_CENSUS_IMAGES)]
    bn_census: usize,
    /// Stop each epoch after this many steps (benchmarks).
    #[arg(long)]
    max_steps: Option<usize>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<()> {
    let task = match args.model {
        Model::Segmenter => Task::Segmenter,
        Model::Counter => Task::Counter,
    };
    let pretrain = match args.pretrain.as_slice() {
        [] => None,
        [kind, dir] if kind == "fractals" => Some(Pretrain::FractalFolder {
            dir: PathBuf::from(dir),
            epochs: args.pretrain_epochs,
        }),
        [kind, _] => bail!("unknown pre-training kind {kind:?} (expected \"fractals\")"),
        _ => bail!("--pretrain takes KIND DIR"),
    };
    let mut config = TrainConfig::new(task);
    config.epochs = args.epochs;
    config.seed = args.seed;
    config.batch = args.batch.max(1);
    config.lr = args.lr;
    config.out = Some(args.out.clone());
    config.progress = !args.quiet;
    config.max_steps = args.max_steps;
    config.bn_census = args.bn_census;
    if let Some(t) = args.threads {
        config.threads = t.max(1);
    }
    if let Some(w) = &args.class_weights {
        if w.len() != SEG_CLASSES || !w.iter().all(|v| v.is_finite() && *v > 0.0) {
            bail!("--class-weights takes {SEG_CLASSES} positive numbers, BG,GLASSES,SHADOW");
        }
    }
    config.class_weights = args.class_weights;
    config.dice_weight = args.dice;
    config.count_weight = args.count_weight;
    if !(args.sigma > 0.0 && args.sigma.is_finite()) {
        bail!("--sigma must be a positive number of output cells");
    }
    config.density = Arc::new(FixedSigmaDensity { sigma: args.sigma });
    println!("{}: {}", task.name(), Budget::of(&task.arch()?));
    let spec = RunSpec {
        config,
        data: args.data,
        val: args.val,
        pretrain,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let reports = run_training(&spec)?;
    for r in &reports {
        println!(
            "epoch {}: loss {:.4}, val {}, {:.1} s ({:.1} images/s)",
            r.epoch,
            r.train_loss,
            r.score,
            r.seconds,
            r.images as f64 / r.seconds.max(1e-9)
        );
    }
    println!("run saved in {}", args.out.display());
    Ok(())
}
