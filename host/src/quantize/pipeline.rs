//! `mote export` as a library call: a run folder in, a blob, the same model
//! as a `.tflite` (to run it in TFLite and TFLM) and its model card out. The CLI (`host/src/cmd/export.rs`) only parses arguments.
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use mote_core::Model;

use crate::graph::Graph;
use crate::train::arch::Task;
use crate::train::checkpoint;
use crate::train::evaluate::{score_float, score_int8};
use crate::train::metrics::Score;
use crate::train::net::Net;
use crate::train::run::open_folder;
use crate::train::trainer::DENSITY_SCALE;

use crate::train::class_offsets::{fold, Logits};
use crate::train::density_offset::{fold as fold_density, PreActivation};

use super::card::{as_mote_command, AblationRow, Card, ClassOffsets, DensityOffset, RunInfo};
use super::{image_batches, within_tolerance, QatConfig, Quantized};

/// What `mote export` is asked to do.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    pub run: PathBuf,
    /// `models/NAME.mote`; the card goes to `models/NAME.md` and the same
    /// model as an int8 TFLite file to `models/NAME.tflite`.
    pub out: PathBuf,
    /// Checkpoint file name inside the run (`best.safetensors`).
    pub checkpoint: String,
    /// Calibration folder (default: the run's training data).
    pub calib: Option<PathBuf>,
    pub calib_images: usize,
    /// Held-out folder (default: the run's validation data).
    pub eval: Option<PathBuf>,
    /// Quantization-aware fine-tuning epochs, used when post-training
    /// quantization misses the tolerance (or always with `force_qat`).
    pub qat_epochs: usize,
    pub force_qat: bool,
    pub qat_max_steps: Option<usize>,
    pub qat_lr: f64,
    /// Fine-tuning data (default: the run's training data).
    pub qat_data: Option<PathBuf>,
    /// Runs of the same budget with/without pre-training, for the card.
    pub ablation: Vec<PathBuf>,
    /// Tune the output's offsets on the run's validation set and fold them
    /// into the last convolution's bias: per-class logit offsets for a
    /// segmenter ([`crate::train::class_offsets`]), the density offset for a
    /// counter ([`crate::train::density_offset`]).
    pub tune_outputs: bool,
    pub progress: bool,
    /// The command line, for the card.
    pub command: String,
}

impl ExportSpec {
    pub fn new(run: &Path, out: &Path) -> ExportSpec {
        ExportSpec {
            run: run.to_path_buf(),
            out: out.to_path_buf(),
            checkpoint: "best.safetensors".into(),
            calib: None,
            calib_images: 256,
            eval: None,
            qat_epochs: 0,
            force_qat: false,
            qat_max_steps: None,
            qat_lr: 3e-4,
            qat_data: None,
            ablation: Vec::new(),
            tune_outputs: true,
            progress: false,
            command: String::new(),
        }
    }
}

/// What was exported and measured.
pub struct ExportReport {
    pub task: Task,
    pub blob: Vec<u8>,
    /// The same model as an int8 `.tflite` (written next to the blob).
    pub tflite: Vec<u8>,
    pub tflite_path: PathBuf,
    pub card_path: PathBuf,
    pub card: String,
    pub float: Score,
    pub ptq: Score,
    /// Score after fine-tuning, when it ran.
    pub qat: Option<Score>,
    /// Whether the shipped blob is the fine-tuned one.
    pub shipped_qat: bool,
    pub eval_dir: PathBuf,
}

impl ExportReport {
    /// The shipped blob's int8 score.
    pub fn int8(&self) -> &Score {
        match (&self.qat, self.shipped_qat) {
            (Some(q), true) => q,
            _ => &self.ptq,
        }
    }
}

fn task_of(info: &RunInfo) -> Result<Task> {
    match info.get("task") {
        Some("segmenter") => Ok(Task::Segmenter),
        Some("counter") => Ok(Task::Counter),
        other => bail!("run.txt names no known task ({other:?})"),
    }
}

fn path_from(info: &RunInfo, key: &str) -> Result<PathBuf> {
    info.get(key)
        .map(PathBuf::from)
        .with_context(|| format!("run.txt has no {key}= folder; pass it explicitly"))
}

/// Loads a run's network from `checkpoint` (a file name in the run folder).
pub fn load_run(run: &Path, checkpoint_name: &str) -> Result<(RunInfo, Task, Net)> {
    let info = RunInfo::read(run)?;
    let task = task_of(&info)?;
    let net = Net::new(task.arch()?, 0)?;
    checkpoint::load(&net, &run.join(checkpoint_name))?;
    Ok((info, task, net))
}

fn score_of_blob(
    blob: &[u8],
    task: Task,
    data: &dyn crate::train::data::DataSource,
) -> Result<Score> {
    let model = Model::parse(blob).map_err(|e| anyhow::anyhow!("parsing the blob: {e}"))?;
    score_int8(&model, task, data)
}

/// The shipped graph as a `.tflite` file (for TFLite and TFLM), checked
/// to be the same model as `blob`: imported back and renumbered as the
/// exporter numbers tensors, it must give the same blob bytes.
pub fn tflite_of(graph: &Graph, blob: &[u8]) -> Result<Vec<u8>> {
    let bytes = crate::tflite::write(graph).context("writing the .tflite")?;
    let mut back = crate::tflite::import(&bytes).context("importing the written .tflite")?;
    back.reorder_activations_first();
    let again = crate::blob::export(&back)?;
    ensure!(
        again == blob,
        "the written .tflite does not import back to the blob ({} bytes vs {})",
        again.len(),
        blob.len()
    );
    Ok(bytes)
}

/// Tunes a segmenter's class offsets on the run's validation set and folds
/// them into `net`.
fn tune_offsets(net: &Net, info: &RunInfo) -> Result<ClassOffsets> {
    let val_dir = path_from(info, "val")?;
    let val = open_folder(Task::Segmenter, &val_dir)?;
    let logits = Logits::of(net, val.as_ref())?;
    let zero = vec![0f32; logits.classes];
    let before = logits.score(&zero).miou();
    let offsets = logits.tune();
    let after = logits.score(&offsets).miou();
    fold(net, &offsets)?;
    Ok(ClassOffsets {
        offsets,
        val_dir,
        val_count: val.len(),
        before,
        after,
    })
}

/// Tunes a counter's density offset on the run's validation set and folds
/// it into `net`.
fn tune_density(net: &Net, info: &RunInfo) -> Result<DensityOffset> {
    let val_dir = path_from(info, "val")?;
    let val = open_folder(Task::Counter, &val_dir)?;
    let pre = PreActivation::of(net, val.as_ref(), DENSITY_SCALE)?;
    let before = pre.mae(0.0);
    let offset = pre.tune();
    let after = pre.mae(offset);
    fold_density(net, offset)?;
    Ok(DensityOffset {
        per_cell: offset / DENSITY_SCALE,
        val_dir,
        val_count: val.len(),
        before,
        after,
    })
}

/// Exports a run: quantize, measure, optionally fine-tune, write the blob
/// and the card.
pub fn export_run(spec: &ExportSpec) -> Result<ExportReport> {
    let (info, task, net) = load_run(&spec.run, &spec.checkpoint)?;
    let offsets = match task {
        Task::Segmenter if spec.tune_outputs => Some(tune_offsets(&net, &info)?),
        _ => None,
    };
    let density_offset = match task {
        Task::Counter if spec.tune_outputs => Some(tune_density(&net, &info)?),
        _ => None,
    };
    let calib_dir = match &spec.calib {
        Some(d) => d.clone(),
        None => path_from(&info, "data")?,
    };
    let eval_dir = match &spec.eval {
        Some(d) => d.clone(),
        None => path_from(&info, "val")?,
    };
    let calib = open_folder(task, &calib_dir)?;
    let eval = open_folder(task, &eval_dir)?;
    let batches = image_batches(calib.as_ref(), net.arch.input, spec.calib_images, 16)?;
    let calib_count: usize = batches.iter().map(|b| b.dim(0).unwrap_or(0)).sum();
    let mut q = Quantized::new(&net, task, &batches)?;
    let divisor = match task {
        Task::Segmenter => 1.0,
        Task::Counter => DENSITY_SCALE,
    };
    let float = score_float(&net, task, eval.as_ref(), divisor, 16)?;
    let ptq_graph = q.graph()?;
    let ptq_blob = crate::blob::export(&ptq_graph)?;
    let ptq = score_of_blob(&ptq_blob, task, eval.as_ref())?;
    let mut blob = ptq_blob;
    let mut graph = ptq_graph;
    let mut qat = None;
    let mut shipped_qat = false;
    if spec.qat_epochs > 0 && (spec.force_qat || !within_tolerance(&float, &ptq)) {
        let qat_dir = match &spec.qat_data {
            Some(d) => d.clone(),
            None => path_from(&info, "data")?,
        };
        let data = open_folder(task, &qat_dir)?;
        let mut cfg = QatConfig::new(task, spec.qat_epochs);
        cfg.lr = spec.qat_lr;
        cfg.max_steps = spec.qat_max_steps;
        cfg.progress = spec.progress;
        if let Some(seed) = info.get("seed").and_then(|s| s.parse().ok()) {
            cfg.seed = seed;
        }
        q.fine_tune(data.as_ref(), &cfg)?;
        let qat_graph = q.graph()?;
        let qat_blob = crate::blob::export(&qat_graph)?;
        let s = score_of_blob(&qat_blob, task, eval.as_ref())?;
        // Ship the fine-tuned model only if it is better on held-out data.
        if s.figure_of_merit() > ptq.figure_of_merit() {
            blob = qat_blob;
            graph = qat_graph;
            shipped_qat = true;
        }
        qat = Some(s);
    }
    let mut ablation = Vec::new();
    if !spec.ablation.is_empty() {
        ablation.push(AblationRow {
            run: spec.run.clone(),
            info: info.clone(),
            score: float.clone(),
        });
        for r in &spec.ablation {
            let (ri, rt, rn) = load_run(r, &spec.checkpoint)?;
            if rt != task {
                bail!(
                    "ablation run {} is a {}, not a {}",
                    r.display(),
                    rt.name(),
                    task.name()
                );
            }
            // Scored as the exported run is: with its own offsets.
            if offsets.is_some() {
                tune_offsets(&rn, &ri)?;
            }
            if density_offset.is_some() {
                tune_density(&rn, &ri)?;
            }
            let score = score_float(&rn, task, eval.as_ref(), divisor, 16)?;
            ablation.push(AblationRow {
                run: r.clone(),
                info: ri,
                score,
            });
        }
    }
    if let Some(parent) = spec.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&spec.out, &blob).with_context(|| format!("writing {}", spec.out.display()))?;
    let tflite = tflite_of(&graph, &blob)?;
    let tflite_path = spec.out.with_extension("tflite");
    std::fs::write(&tflite_path, &tflite)
        .with_context(|| format!("writing {}", tflite_path.display()))?;
    let name = spec
        .out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_string();
    let card_path = spec.out.with_extension("md");
    let int8 = if shipped_qat { qat.as_ref() } else { None }.unwrap_or(&ptq);
    let export_command = if spec.command.is_empty() {
        format!(
            "mote export {} -o {} --calib {} --eval {}",
            spec.run.display(),
            spec.out.display(),
            calib_dir.display(),
            eval_dir.display()
        )
    } else {
        as_mote_command(&spec.command)
    };
    let card = Card {
        name: &name,
        task,
        arch: &net.arch,
        blob: &blob,
        run: &spec.run,
        info: &info,
        eval_dir: &eval_dir,
        eval_count: eval.len(),
        float: &float,
        int8,
        ptq: if shipped_qat { Some(&ptq) } else { None },
        calib_dir: &calib_dir,
        calib_count,
        qat_epochs: if shipped_qat {
            Some(spec.qat_epochs)
        } else {
            None
        },
        export_command,
        eval_command: format!(
            "mote eval {} --data {}",
            spec.out.display(),
            eval_dir.display()
        ),
        ablation,
        class_offsets: offsets.as_ref(),
        density_offset: density_offset.as_ref(),
    }
    .render()?;
    std::fs::write(&card_path, &card)
        .with_context(|| format!("writing {}", card_path.display()))?;
    Ok(ExportReport {
        task,
        blob,
        tflite,
        tflite_path,
        card_path,
        card,
        float,
        ptq,
        qat,
        shipped_qat,
        eval_dir,
    })
}
