//! `mote export RUN -o models/NAME.mote`: quantize a training run to int8,
//! write the blob, the same model as `models/NAME.tflite` (for TFLite and
//! TFLM; checked to import back to the same blob) and its model card
//! `models/NAME.md`.
use std::path::PathBuf;

use anyhow::Result;
use mote_host::quantize::{export_run, ExportSpec};

#[derive(clap::Args)]
pub struct Args {
    /// Run folder written by `mote train` (run.txt + checkpoints).
    run: PathBuf,
    /// Output blob, e.g. models/NAME.mote (the card goes to models/NAME.md,
    /// the same model as an int8 TFLite file to models/NAME.tflite).
    #[arg(short, long)]
    out: PathBuf,
    /// Checkpoint in the run folder.
    #[arg(long, default_value = "best.safetensors")]
    checkpoint: String,
    /// Calibration images (default: the run's training folder).
    #[arg(long)]
    calib: Option<PathBuf>,
    /// How many calibration images (spread evenly over the folder).
    #[arg(long, default_value_t = 256)]
    calib_images: usize,
    /// Held-out folder for the card's float and int8 metrics (default: the
    /// run's validation folder; use another seed than training).
    #[arg(long)]
    eval: Option<PathBuf>,
    /// Quantization-aware fine-tuning epochs, run when post-training
    /// quantization loses more than 1 IoU point / 2% count MAE.
    #[arg(long, default_value_t = 0)]
    qat_epochs: usize,
    /// Fine-tune even when post-training quantization is within tolerance.
    #[arg(long)]
    force_qat: bool,
    /// Cap on fine-tuning steps per epoch.
    #[arg(long)]
    qat_max_steps: Option<usize>,
    /// Peak fine-tuning learning rate.
    #[arg(long, default_value_t = 3e-4)]
    qat_lr: f64,
    /// Fine-tuning data (default: the run's training folder).
    #[arg(long)]
    qat_data: Option<PathBuf>,
    /// A run of the same budget with/without fractal pre-training, for the
    /// card's ablation table (repeatable).
    #[arg(long)]
    ablation: Vec<PathBuf>,
    /// Keep the trained output as it is instead of tuning its offsets on
    /// the run's validation set (a segmenter's per-class logit offsets, a
    /// counter's density offset).
    #[arg(long)]
    no_output_tuning: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<()> {
    let mut spec = ExportSpec::new(&args.run, &args.out);
    spec.checkpoint = args.checkpoint;
    spec.calib = args.calib;
    spec.calib_images = args.calib_images.max(1);
    spec.eval = args.eval;
    spec.qat_epochs = args.qat_epochs;
    spec.force_qat = args.force_qat;
    spec.qat_max_steps = args.qat_max_steps;
    spec.qat_lr = args.qat_lr;
    spec.qat_data = args.qat_data;
    spec.ablation = args.ablation;
    spec.tune_outputs = !args.no_output_tuning;
    spec.progress = !args.quiet;
    spec.command = std::env::args().collect::<Vec<_>>().join(" ");
    let r = export_run(&spec)?;
    println!("{} on {}:", r.task.name(), r.eval_dir.display());
    println!("  float:           {}", r.float);
    println!("  int8 (PTQ):      {}", r.ptq);
    if let Some(q) = &r.qat {
        println!(
            "  int8 (QAT):      {q}{}",
            if r.shipped_qat {
                " (shipped)"
            } else {
                " (not better; PTQ shipped)"
            }
        );
    }
    println!(
        "wrote {} ({} bytes), {} ({} bytes) and {}",
        args.out.display(),
        r.blob.len(),
        r.tflite_path.display(),
        r.tflite.len(),
        r.card_path.display()
    );
    Ok(())
}
