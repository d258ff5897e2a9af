//! The model card `models/NAME.md` that `mote export` writes next to the
//! blob: architecture, size and budgets, float vs int8 metrics on a
//! held-out set, how it was trained, the fractal pre-training ablation, and
//! the commands that reproduce it all.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mote_core::Model;

use crate::train::arch::{Act, Arch, Op, Resize, Task};
use crate::train::budget::{self, ARENA_LIMIT, MAC_LIMIT, WEIGHT_LIMIT};
use crate::train::metrics::Score;

/// `run.txt` of a run folder as `key=value` pairs.
#[derive(Debug, Clone, Default)]
pub struct RunInfo(pub BTreeMap<String, String>);

impl RunInfo {
    pub fn read(run: &Path) -> Result<RunInfo> {
        let p = run.join("run.txt");
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        Ok(RunInfo::parse(&text))
    }

    pub fn parse(text: &str) -> RunInfo {
        RunInfo(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.as_str())
    }

    /// The training command with the binary's path shortened to `mote`.
    pub fn command(&self) -> Option<String> {
        self.get("command").map(as_mote_command)
    }

    /// Pre-training plus training seconds.
    pub fn seconds(&self) -> f64 {
        let f = |k| {
            self.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        f("pretrain_seconds") + f("train_seconds")
    }

    pub fn pretrained(&self) -> bool {
        self.get("pretrain").is_some_and(|p| p != "none")
    }
}

/// `path/to/mote sub ...` → `mote sub ...`.
pub fn as_mote_command(cmd: &str) -> String {
    match cmd.split_once(' ') {
        Some((bin, rest)) if bin.ends_with("mote") => format!("mote {rest}"),
        _ => cmd.to_string(),
    }
}

/// The `mote synth` command that re-creates a data folder, from its
/// `meta.json` (`None` when the folder has none).
pub fn synth_command(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("meta.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let g = v["generator"].as_str()?;
    let (seed, count, size) = (
        v["seed"].as_u64()?,
        v["count"].as_u64()?,
        v["size"].as_u64()?,
    );
    let out = dir.display();
    Some(match g {
        "fractals" => {
            let s = &v["stats"];
            format!(
                "mote synth fractals --classes {} --per-class {} --size {size} --seed {seed} --out {out}",
                s["classes"].as_u64()?,
                s["per_class"].as_u64()?
            )
        }
        other => {
            format!("mote synth {other} --count {count} --size {size} --seed {seed} --out {out}")
        }
    })
}

/// One row of the fractal pre-training ablation.
#[derive(Debug, Clone)]
pub struct AblationRow {
    pub run: PathBuf,
    pub info: RunInfo,
    pub score: Score,
}

/// Everything a card states.
pub struct Card<'a> {
    pub name: &'a str,
    pub task: Task,
    pub arch: &'a Arch,
    pub blob: &'a [u8],
    pub run: &'a Path,
    pub info: &'a RunInfo,
    /// Held-out folder and its size.
    pub eval_dir: &'a Path,
    pub eval_count: usize,
    pub float: &'a Score,
    /// The shipped blob's score.
    pub int8: &'a Score,
    /// Post-training quantization's score when QAT replaced it.
    pub ptq: Option<&'a Score>,
    pub calib_dir: &'a Path,
    pub calib_count: usize,
    /// QAT epochs when fine-tuning was applied.
    pub qat_epochs: Option<usize>,
    pub export_command: String,
    pub eval_command: String,
    /// Ablation runs (this run included) scored in float on the held-out set.
    pub ablation: Vec<AblationRow>,
    /// A segmenter's class logit offsets, when export tuned them.
    pub class_offsets: Option<&'a ClassOffsets>,
    /// A counter's density offset, when export tuned it.
    pub density_offset: Option<&'a DensityOffset>,
}

/// A counter's density offset (heads per output cell, before the ReLU)
/// tuned on validation data and folded into the density convolution's bias.
#[derive(Debug, Clone)]
pub struct DensityOffset {
    pub per_cell: f32,
    pub val_dir: PathBuf,
    pub val_count: usize,
    /// Float count MAE on the validation set without and with it.
    pub before: f64,
    pub after: f64,
}

/// Per-class logit offsets tuned on validation data and folded into the
/// logits' bias before quantization.
#[derive(Debug, Clone)]
pub struct ClassOffsets {
    pub offsets: Vec<f32>,
    pub val_dir: PathBuf,
    pub val_count: usize,
    /// Float mean IoU on the validation set without and with them.
    pub before: f64,
    pub after: f64,
}

fn op_text(op: &Op) -> (String, String, Act) {
    match *op {
        Op::Conv {
            kernel,
            stride,
            act,
            ..
        } => (
            "CONV_2D".into(),
            format!("{kernel}x{kernel} /{stride}"),
            act,
        ),
        Op::Depthwise {
            kernel,
            stride,
            act,
            ..
        } => (
            "DEPTHWISE_CONV_2D".into(),
            format!("{kernel}x{kernel} /{stride}"),
            act,
        ),
        Op::Add { act } => ("ADD".into(), String::new(), act),
        Op::Concat => ("CONCATENATION".into(), String::new(), Act::None),
        Op::Upsample { factor, mode } => (
            match mode {
                Resize::Nearest => "RESIZE_NEAREST_NEIGHBOR".into(),
                Resize::Bilinear => "RESIZE_BILINEAR".into(),
            },
            format!("x{factor}"),
            Act::None,
        ),
    }
}

fn act_text(a: Act) -> &'static str {
    match a {
        Act::None => "",
        Act::Relu => "ReLU",
        Act::Relu6 => "ReLU6",
    }
}

/// Metric lines of a score as `(name, value)`.
pub fn metric_rows(score: &Score) -> Vec<(String, String)> {
    match score {
        Score::Seg(s) => {
            let names = crate::train::arch::SEG_CLASS_NAMES;
            let mut rows: Vec<(String, String)> = (0..s.inter.len())
                .map(|k| {
                    let n = names.get(k).map_or(format!("class {k}"), |n| n.to_string());
                    (format!("IoU {n}"), format!("{:.4}", s.iou(k)))
                })
                .collect();
            rows.push(("mean IoU".into(), format!("{:.4}", s.miou())));
            rows
        }
        Score::Count(c) => vec![
            ("MAE (heads)".into(), format!("{:.3}", c.mae())),
            ("RMSE (heads)".into(), format!("{:.3}", c.rmse())),
            (
                "MAE / mean count".into(),
                format!("{:.2}%", 100.0 * c.rel_mae()),
            ),
        ],
        Score::Accuracy(a) => vec![("accuracy".into(), format!("{:.2}%", 100.0 * a))],
    }
}

/// The headline number of a score for the ablation table.
fn headline(score: &Score) -> String {
    match score {
        Score::Seg(s) => format!(
            "mIoU {:.4} (glasses {:.4}, shadow {:.4})",
            s.miou(),
            s.iou(1),
            s.iou(2)
        ),
        Score::Count(c) => format!("MAE {:.3} ({:.2}% of mean)", c.mae(), 100.0 * c.rel_mae()),
        Score::Accuracy(a) => format!("acc {:.2}%", 100.0 * a),
    }
}

fn ok(v: u64, limit: u64) -> &'static str {
    if v <= limit {
        "within"
    } else {
        "OVER"
    }
}

impl Card<'_> {
    /// The card as Markdown.
    pub fn render(&self) -> Result<String> {
        let model = Model::parse(self.blob).map_err(|e| anyhow::anyhow!("{e}"))?;
        let arch = self.arch;
        let mut s = String::new();
        let what = match self.task {
            Task::Segmenter => "glasses / shadow segmenter",
            Task::Counter => "crowd counter (density map)",
        };
        let out = arch.shape(arch.output).context("no output shape")?;
        let i = arch.input;
        writeln!(s, "# `{}`: {what}, int8\n", self.name)?;
        writeln!(
            s,
            "Input {}x{}x{} int8 (pixel - 128: scale 1/255, zero point -128), output {}x{}x{} int8{}.",
            i.h,
            i.w,
            i.c,
            out.h,
            out.w,
            out.c,
            match self.task {
                Task::Segmenter => " class logits (argmax = background 0, glasses 1, shadow 2)",
                Task::Counter => " density (dequantized sum = head count)",
            }
        )?;
        writeln!(
            s,
            "Written by `mote export` from run `{}`; the numbers below come from the same code as `mote eval`.\n",
            self.run.display()
        )?;

        writeln!(s, "## Size\n")?;
        let macs = budget::macs(arch);
        let weights = budget::weight_bytes(arch);
        let arena = model.arena_size();
        writeln!(s, "| quantity | value | budget |")?;
        writeln!(s, "|---|---:|---|")?;
        writeln!(s, "| parameters (BN folded) | {} | |", budget::params(arch))?;
        writeln!(
            s,
            "| MACs per inference | {macs} ({:.2} M) | {} 15 M |",
            macs as f64 / 1e6,
            ok(macs, MAC_LIMIT)
        )?;
        writeln!(
            s,
            "| weight bytes (int8 weights + int32 bias) | {weights} | {} 64 KB |",
            ok(weights as u64, WEIGHT_LIMIT as u64)
        )?;
        writeln!(
            s,
            "| constant bytes in the blob (+ per-channel multipliers, shifts) | {} | |",
            model.constant_bytes()
        )?;
        writeln!(
            s,
            "| arena bytes (planned by mote) | {arena} | {} 96 KB |",
            ok(arena as u64, ARENA_LIMIT as u64)
        )?;
        writeln!(s, "| blob bytes | {} | |\n", self.blob.len())?;

        writeln!(s, "## Architecture\n")?;
        writeln!(s, "| # | layer | op | kernel / stride | inputs | output HxWxC | activation | params | MACs |")?;
        writeln!(s, "|---:|---|---|---|---|---|---|---:|---:|")?;
        let tname = |t: usize| {
            if t == 0 {
                "input".to_string()
            } else {
                arch.layers
                    .get(t - 1)
                    .map_or("?".into(), |l| l.name.clone())
            }
        };
        for (k, l) in arch.layers.iter().enumerate() {
            let (op, geo, act) = op_text(&l.op);
            let (w, b) = budget::layer_params(arch, k);
            let ins: Vec<String> = l.inputs.iter().map(|&t| tname(t)).collect();
            writeln!(
                s,
                "| {k} | {} | {op} | {geo} | {} | {}x{}x{} | {} | {} | {} |",
                l.name,
                ins.join(", "),
                l.out.h,
                l.out.w,
                l.out.c,
                act_text(act),
                w + b,
                budget::layer_macs(arch, k)
            )?;
        }
        writeln!(s)?;

        writeln!(s, "## Accuracy\n")?;
        writeln!(
            s,
            "Held-out synthetic set `{}` ({} images{}).\n",
            self.eval_dir.display(),
            self.eval_count,
            synth_command(self.eval_dir)
                .map(|c| format!(", made by `{c}`"))
                .unwrap_or_default()
        )?;
        let f = metric_rows(self.float);
        let q = metric_rows(self.int8);
        let p = self.ptq.map(metric_rows);
        if let Some(p) = &p {
            writeln!(
                s,
                "| metric | float | int8 post-training | int8 after QAT (shipped) |"
            )?;
            writeln!(s, "|---|---:|---:|---:|")?;
            for ((n, fv), ((_, pv), (_, qv))) in f.iter().zip(p.iter().zip(&q)) {
                writeln!(s, "| {n} | {fv} | {pv} | {qv} |")?;
            }
        } else {
            writeln!(s, "| metric | float | int8 (shipped) |")?;
            writeln!(s, "|---|---:|---:|")?;
            for ((n, fv), (_, qv)) in f.iter().zip(&q) {
                writeln!(s, "| {n} | {fv} | {qv} |")?;
            }
        }
        writeln!(s)?;
        writeln!(
            s,
            "Quantization: per-channel symmetric int8 weights, int32 biases, per-tensor int8 activations calibrated (min/max) on {} images of `{}`; {}.\n",
            self.calib_count,
            self.calib_dir.display(),
            match self.qat_epochs {
                Some(e) => format!("then {e} epochs of quantization-aware fine-tuning (post-training quantization lost more than the tolerance: 1 IoU point / 2% count MAE)"),
                None => "post-training only (no quantization-aware fine-tuning was needed)".into(),
            }
        )?;

        if let Some(o) = self.class_offsets {
            let list: Vec<String> = o
                .offsets
                .iter()
                .enumerate()
                .skip(1)
                .map(|(k, v)| {
                    format!(
                        "{} {v:+.3}",
                        crate::train::arch::SEG_CLASS_NAMES.get(k).unwrap_or(&"?")
                    )
                })
                .collect();
            writeln!(
                s,
                "Class logit offsets: {}, tuned for mean IoU on the validation set `{}` ({} images; float mean IoU there {:.4} → {:.4}) and added to the bias of the convolution that writes the logits, before calibration. The held-out figures above are measured with them.\n",
                list.join(", "),
                o.val_dir.display(),
                o.val_count,
                o.before,
                o.after
            )?;
        }
        if let Some(o) = self.density_offset {
            writeln!(
                s,
                "Density offset: {:+.5} heads per output cell added before the density map's ReLU, tuned for count MAE on the validation set `{}` ({} images; float MAE there {:.2} → {:.2} heads) and folded into the bias of the convolution that writes the map, before calibration. The held-out figures above are measured with it.\n",
                o.per_cell,
                o.val_dir.display(),
                o.val_count,
                o.before,
                o.after
            )?;
        }
        writeln!(s, "## Training\n")?;
        let info = self.info;
        let g = |k: &str| info.get(k).unwrap_or("?").to_string();
        writeln!(
            s,
            "- command: `{}`",
            info.command().unwrap_or_else(|| "?".into())
        )?;
        writeln!(s, "- seed: {}", g("seed"))?;
        writeln!(
            s,
            "- epochs {}, batch {} (shared over {} threads), peak lr {}, {} training images",
            g("epochs"),
            g("batch"),
            info.get("threads").unwrap_or("1"),
            g("lr"),
            g("train_images")
        )?;
        if let Some(n) = info.get("bn_census").filter(|n| *n != "0") {
            writeln!(
                s,
                "- batch-norm statistics: recomputed over the first {n} training images before each validation (precise batch norm)"
            )?;
        }
        writeln!(s, "- pre-training: {}", g("pretrain"))?;
        writeln!(
            s,
            "- time: {:.1} min ({} s pre-training + {} s training) on the 2-core build machine",
            info.seconds() / 60.0,
            g("pretrain_seconds"),
            g("train_seconds")
        )?;
        writeln!(
            s,
            "- final validation (float, during training): {}\n",
            g("final_val")
        )?;

        if !self.ablation.is_empty() {
            writeln!(s, "## Fractal pre-training ablation\n")?;
            writeln!(
                s,
                "Same budget (epochs, data, seed), with and without formula-driven pre-training on fractals; float metrics on the held-out set above{}.\n",
                if self.class_offsets.is_some() || self.density_offset.is_some() {
                    ", each run with its output offsets tuned on its own validation set as above"
                } else {
                    ""
                }
            )?;
            writeln!(
                s,
                "| run | pre-training | epochs | time | held-out (float) |"
            )?;
            writeln!(s, "|---|---|---:|---:|---|")?;
            for r in &self.ablation {
                writeln!(
                    s,
                    "| `{}` | {} | {} | {:.1} min | {} |",
                    r.run.display(),
                    r.info.get("pretrain").unwrap_or("?"),
                    r.info.get("epochs").unwrap_or("?"),
                    r.info.seconds() / 60.0,
                    headline(&r.score)
                )?;
            }
            writeln!(s)?;
        }

        writeln!(s, "## Reproduce\n")?;
        writeln!(s, "```sh")?;
        let mut dirs: Vec<PathBuf> = Vec::new();
        for k in ["data", "val"] {
            if let Some(d) = info.get(k) {
                dirs.push(PathBuf::from(d));
            }
        }
        if let Some(p) = info.get("pretrain").and_then(pretrain_dir) {
            dirs.push(p);
        }
        dirs.push(self.eval_dir.to_path_buf());
        let mut seen = Vec::new();
        for d in dirs {
            if seen.contains(&d) {
                continue;
            }
            match synth_command(&d) {
                Some(c) => writeln!(s, "{c}")?,
                None => writeln!(
                    s,
                    "# {}: no meta.json, made outside `mote synth`",
                    d.display()
                )?,
            }
            seen.push(d);
        }
        if let Some(c) = info.command() {
            writeln!(s, "{c}")?;
        }
        for r in &self.ablation {
            if r.run != self.run {
                if let Some(c) = r.info.command() {
                    writeln!(s, "{c}")?;
                }
            }
        }
        writeln!(s, "{}", self.export_command)?;
        writeln!(s, "{}", self.eval_command)?;
        writeln!(s, "```")?;
        writeln!(
            s,
            "\n`mote export` also writes `{}.tflite`: this model as an int8 TFLite flatbuffer, to run it in TFLite or TFLM \
             (the export checks that it imports back to this blob byte for byte; the head kind is in its metadata).",
            self.name
        )?;
        Ok(s)
    }
}

/// The folder of `pretrain=fractals DIR (...)` in `run.txt`.
fn pretrain_dir(p: &str) -> Option<PathBuf> {
    let rest = p.strip_prefix("fractals ")?;
    let dir = rest.split(" (").next()?;
    Some(PathBuf::from(dir))
}
