//! `mote bench`: instruction counts, memory and flash of every model on the
//! simulated Cortex-M4 and Cortex-M7.
//!
//! Counts come from the firmware (`sim::run_model`): QEMU runs with
//! `-icount shift=0`, so they are executed instructions, not cycles, and the
//! same firmware and input give the same count on every machine. That makes
//! them usable as CI budgets (`budgets.rs`). Every run's outputs are compared
//! with the host's (`infer::run`): a benchmark of a wrong answer is no
//! benchmark.
pub mod budgets;
pub mod flash;
pub mod host;
pub mod layers;
pub mod report;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context, Result};
use mote_core::{DType, Model};

use crate::npy::{Array, Dtype};
use crate::sample::Rng;
use crate::sim::{self, OpCost, SimBoard};
use crate::{blob, infer, model_file};

/// Where a benchmarked model comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A `.tflite` model of the TFLM golden set (`tests/golden`).
    Golden,
    /// A shipped model (`models/*.mote`).
    Shipped,
    /// A layer benchmark built in code, with CMSIS-NN's figure and the target
    /// (instructions per MAC on Cortex-M4).
    Layer { cmsis_nn_m4: f64, target_m4: f64 },
}

impl Source {
    pub fn name(&self) -> &'static str {
        match self {
            Source::Golden => "golden",
            Source::Shipped => "shipped",
            Source::Layer { .. } => "layer",
        }
    }
}

/// A model ready to benchmark: its blob and one input per model input.
pub struct BenchModel {
    pub name: String,
    pub description: String,
    pub source: Source,
    pub blob: Vec<u8>,
    pub inputs: Vec<Array>,
    /// TFLM's arena for the same model, where the oracle recorded it.
    pub tflm_arena_bytes: Option<u64>,
}

impl BenchModel {
    /// `source/name`, the key used in reports and budgets.
    pub fn key(&self) -> String {
        format!("{}/{}", self.source.name(), self.name)
    }
}

/// The four layer benchmarks (`layers.rs`).
pub fn layer_models() -> Result<Vec<BenchModel>> {
    layers::all()?
        .into_iter()
        .map(|l| {
            Ok(BenchModel {
                name: l.name.to_owned(),
                description: l.description.to_owned(),
                source: Source::Layer {
                    cmsis_nn_m4: l.cmsis_nn_m4,
                    target_m4: l.target_m4,
                },
                blob: blob::export_whole_tensors(&l.graph)
                    .with_context(|| format!("blob of {}", l.name))?,
                inputs: vec![l.input],
                tflm_arena_bytes: None,
            })
        })
        .collect()
}

fn sorted_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.retain(|p| p.is_file() && p.extension().is_some_and(|e| e == ext));
    files.sort();
    Ok(files)
}

fn stem(path: &Path) -> Result<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{}: no file name", path.display()))
}

/// A seeded random input for each of the model's inputs (shipped models come
/// without input files): int8 over its whole range, float32 in [-1, 1].
pub fn random_inputs(model: &Model<'_>, seed: u64) -> Result<Vec<Array>> {
    let mut rng = Rng::new(seed);
    model
        .inputs()
        .map(|t| {
            let shape: Vec<usize> = t.shape.dims().iter().map(|&d| d as usize).collect();
            let n: usize = shape.iter().product();
            Ok(match t.dtype {
                DType::Int8 => Array::from_i8(&shape, &rng.i8s(n)),
                DType::Float32 => Array {
                    shape,
                    dtype: Dtype::F32,
                    data: (0..n)
                        .flat_map(|_| (rng.range(-1000, 1000) as f32 / 1000.0).to_le_bytes())
                        .collect(),
                },
                DType::Int32 => bail!("int32 model inputs are not benchmarked"),
            })
        })
        .collect()
}

/// Every golden model (`dir/*.tflite`), imported, with its first recorded
/// input (`NAME.input0.npy`).
pub fn golden_models(dir: &Path) -> Result<Vec<BenchModel>> {
    let mut out = Vec::new();
    for path in sorted_files(dir, "tflite")? {
        let name = stem(&path)?;
        let file = model_file::load(&path)?;
        let input_path = dir.join(format!("{name}.input0.npy"));
        let input = Array::read(&input_path)
            .with_context(|| format!("golden input {}", input_path.display()))?;
        out.push(BenchModel {
            description: format!("{} (TFLM golden set)", path.display()),
            tflm_arena_bytes: model_file::tflm_arena(&path)?.map(|a| a.total_bytes),
            name,
            source: Source::Golden,
            blob: file.blob,
            inputs: vec![input],
        });
    }
    Ok(out)
}

/// Every shipped model (`dir/*.mote`), with seeded random inputs. No folder
/// or an empty one is no models, not an error.
pub fn shipped_models(dir: &Path) -> Result<Vec<BenchModel>> {
    let mut out = Vec::new();
    for (k, path) in sorted_files(dir, "mote")?.into_iter().enumerate() {
        let blob = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let model = Model::parse(&blob).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let inputs = random_inputs(&model, layers::SEED + 100 + k as u64)?;
        out.push(BenchModel {
            name: stem(&path)?,
            description: format!("{} (shipped, random input)", path.display()),
            source: Source::Shipped,
            tflm_arena_bytes: shipped_tflm_arena(&path)?,
            blob,
            inputs,
        });
    }
    Ok(out)
}

/// TFLM's arena for a shipped model: from a `NAME.tflm.json` beside it, or
/// from the TFLM goldens of the shipped models (`tests/golden/shipped/`,
/// written by `bench/tflite_compare.py` from `models/NAME.tflite`).
fn shipped_tflm_arena(path: &Path) -> Result<Option<u64>> {
    if let Some(a) = model_file::tflm_arena(path)? {
        return Ok(Some(a.total_bytes));
    }
    let Some(name) = path.file_name() else {
        return Ok(None);
    };
    let Some(root) = path.parent().and_then(Path::parent) else {
        return Ok(None);
    };
    let golden = root.join("tests/golden/shipped").join(name);
    Ok(model_file::tflm_arena(&golden)?.map(|a| a.total_bytes))
}

/// One model on one simulated CPU.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuRun {
    pub cpu: &'static str,
    /// The board's count from the first op's start to the last op's end,
    /// including the firmware's per-op log lines.
    pub total_instructions: u64,
    /// The sum of the ops' own counts: the inference without logging.
    pub op_instructions: u64,
    pub ops: Vec<OpCost>,
    /// The firmware's painted-stack high-water mark for the whole run.
    pub stack_bytes: u64,
}

impl CpuRun {
    /// Instructions per MAC over the ops' own counts.
    pub fn per_mac(&self, macs: u64) -> f64 {
        self.op_instructions as f64 / macs.max(1) as f64
    }
}

/// One model's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelBench {
    pub key: String,
    pub name: String,
    pub description: String,
    pub source: Source,
    pub blob_bytes: usize,
    pub constant_bytes: usize,
    pub arena_bytes: usize,
    pub tflm_arena_bytes: Option<u64>,
    pub ops: usize,
    pub macs: u64,
    pub runs: Vec<CpuRun>,
}

/// Runs `bench` on each of `boards` with the firmware `elf`, checking that
/// the device's outputs equal the host's.
pub fn measure(elf: &Path, bench: &BenchModel, boards: &[SimBoard]) -> Result<ModelBench> {
    let key = bench.key();
    let model = Model::parse(&bench.blob).map_err(|e| anyhow!("{key}: {e}"))?;
    let host = infer::run(&model, &bench.inputs).with_context(|| format!("{key} on the host"))?;
    let macs = (0..model.op_count())
        .map(|k| model.op_macs(k as u16).map_err(|e| anyhow!("{key}: {e}")))
        .sum::<Result<u64>>()?;
    let input_bytes: Vec<Vec<u8>> = bench.inputs.iter().map(|a| a.data.clone()).collect();
    let mut runs = Vec::new();
    for &board in boards {
        let run = sim::run_model(
            elf,
            board,
            &bench.blob,
            &input_bytes,
            model.output_count(),
            None,
        )
        .with_context(|| format!("{key} on {}", board.cpu()))?;
        ensure!(
            run.sim.status == 0,
            "{key} on {}: firmware exited with {}:\n{}",
            board.cpu(),
            run.sim.status,
            run.sim.log
        );
        ensure!(
            run.outputs.len() == host.len(),
            "{key} on {}: {} outputs, the host has {}",
            board.cpu(),
            run.outputs.len(),
            host.len()
        );
        for (k, (device, host)) in run.outputs.iter().zip(&host).enumerate() {
            ensure!(
                device == &host.data,
                "{key} on {}: output {k} differs from the host's",
                board.cpu()
            );
        }
        ensure!(
            run.ops.len() == model.op_count(),
            "{key} on {}: {} op lines for {} ops",
            board.cpu(),
            run.ops.len(),
            model.op_count()
        );
        let total_instructions = run
            .instructions
            .ok_or_else(|| anyhow!("{key} on {}: no total count", board.cpu()))?;
        let stack_bytes = run
            .stack_bytes
            .ok_or_else(|| anyhow!("{key} on {}: no stack figure", board.cpu()))?;
        runs.push(CpuRun {
            cpu: board.cpu(),
            total_instructions,
            op_instructions: run.ops.iter().map(|op| op.instructions).sum(),
            ops: run.ops,
            stack_bytes,
        });
    }
    Ok(ModelBench {
        key,
        name: bench.name.clone(),
        description: bench.description.clone(),
        source: bench.source.clone(),
        blob_bytes: bench.blob.len(),
        constant_bytes: model.constant_bytes(),
        arena_bytes: model.arena_size(),
        tflm_arena_bytes: bench.tflm_arena_bytes,
        ops: model.op_count(),
        macs,
        runs,
    })
}

/// The firmware toolchain, in words: its kind and `rustc --version`.
pub fn toolchain_text(toolchain: &crate::firmware::Toolchain) -> Result<String> {
    use crate::firmware::Toolchain;
    let (kind, rustc) = match toolchain {
        Toolchain::Installed { rustc, .. } => ("installed target", rustc),
        Toolchain::BuildStd { rustc, .. } => ("-Z build-std=core", rustc),
    };
    let out = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", rustc.display()))?;
    ensure!(out.status.success(), "{} --version failed", rustc.display());
    Ok(format!(
        "{} ({kind})",
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_models_come_from_mote_files_and_an_empty_folder_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(shipped_models(&dir.path().join("missing"))
            .expect("missing folder")
            .is_empty());
        assert!(shipped_models(dir.path()).expect("empty folder").is_empty());

        let graph = crate::sample::many_ops(3).expect("sample");
        let bytes = blob::export(&graph).expect("blob");
        std::fs::write(dir.path().join("many.mote"), &bytes).expect("write");
        // A float32-input model too.
        let floats = blob::export(&crate::sample::activations(4).expect("sample")).expect("blob");
        std::fs::write(dir.path().join("act.mote"), &floats).expect("write");
        std::fs::write(dir.path().join("notes.txt"), b"not a model").expect("write");
        let models = shipped_models(dir.path()).expect("two models");
        let keys: Vec<String> = models.iter().map(BenchModel::key).collect();
        assert_eq!(keys, ["shipped/act", "shipped/many"]);
        for m in &models {
            let model = Model::parse(&m.blob).expect("parses");
            // The random inputs fit the model, so the host can run it.
            infer::run(&model, &m.inputs).expect("host run");
        }

        std::fs::write(dir.path().join("bad.mote"), &bytes[..bytes.len() / 2]).expect("write");
        assert!(
            shipped_models(dir.path()).is_err(),
            "a corrupt blob is an error"
        );
    }
}
