//! The TFLM golden set in `tests/golden` (made by `tests/oracle/make_goldens.py`)
//! and the shipped models' TFLM goldens in `tests/golden/shipped` (made by
//! `bench/tflite_compare.py`): their manifests, each model imported and
//! written as a blob, one inference, and the byte comparison with TFLM.
use std::path::{Path, PathBuf};

use anyhow::{anyhow, ensure, Context, Result};
use mote_core::{align_arena, profile::NoCounter, Model, Session};
use mote_host::npy::{Array as Npy, Dtype};
use mote_host::{blob, plan, tflite};
use serde_json::Value;

use crate::repo_root;

pub fn golden_dir() -> PathBuf {
    repo_root().join("tests").join("golden")
}

/// TFLM's outputs for the shipped models (`models/*.tflite`).
pub fn shipped_golden_dir() -> PathBuf {
    golden_dir().join("shipped")
}

pub struct Case {
    pub input: String,
    pub outputs: Vec<String>,
}

pub struct Golden {
    pub name: String,
    pub tflite: String,
    pub cases: Vec<Case>,
    pub tensors_dir: Option<String>,
    pub tflm_arena_total: usize,
    pub tflm_arena_head: usize,
    /// The shipped `.mote` blob made from the same model, relative to the
    /// manifest's folder (shipped goldens only).
    pub mote: Option<String>,
}

pub fn str_field<'v>(v: &'v Value, key: &str) -> Result<&'v str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("MANIFEST entry has no string {key:?}"))
}

pub fn usize_field(v: &Value, key: &str) -> Result<usize> {
    v.get(key)
        .and_then(Value::as_u64)
        .map(|n| n as usize)
        .ok_or_else(|| anyhow!("MANIFEST entry has no number {key:?}"))
}

/// The golden models listed in `tests/golden/MANIFEST.json`.
pub fn manifest() -> Vec<Golden> {
    manifest_in(&golden_dir())
}

/// The models listed in `dir/MANIFEST.json` (file names in it are relative
/// to `dir`). A missing or unusable manifest panics: nothing is skipped.
pub fn manifest_in(dir: &Path) -> Vec<Golden> {
    let load = || -> Result<Vec<Golden>> {
        let path = dir.join("MANIFEST.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let json: Value = serde_json::from_str(&text)?;
        let models = json
            .get("models")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("MANIFEST has no models"))?;
        let mut out = Vec::new();
        for m in models {
            let cases = m
                .get("cases")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("model has no cases"))?
                .iter()
                .map(|c| {
                    Ok(Case {
                        input: str_field(c, "input")?.to_owned(),
                        outputs: c
                            .get("outputs")
                            .and_then(Value::as_array)
                            .ok_or_else(|| anyhow!("case has no outputs"))?
                            .iter()
                            .map(|o| {
                                o.as_str()
                                    .map(str::to_owned)
                                    .ok_or_else(|| anyhow!("output"))
                            })
                            .collect::<Result<_>>()?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            out.push(Golden {
                name: str_field(m, "name")?.to_owned(),
                tflite: str_field(m, "tflite")?.to_owned(),
                cases,
                tensors_dir: m
                    .get("tensors_dir")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                tflm_arena_total: usize_field(m, "tflm_arena_total_bytes")?,
                tflm_arena_head: usize_field(m, "tflm_arena_head_bytes")?,
                mote: m.get("mote").and_then(Value::as_str).map(str::to_owned),
            });
        }
        ensure!(!out.is_empty(), "MANIFEST lists no models");
        Ok(out)
    };
    match load() {
        Ok(g) => g,
        Err(e) => panic!("golden set unusable: {e:#}"),
    }
}

/// A golden model imported, fused and written as a blob.
pub struct Compiled {
    pub imported: tflite::Imported,
    pub blob: Vec<u8>,
    /// The blob's arena (after fusion and in-place planning).
    pub arena_size: usize,
    /// The arena the unfused graph would need (plain planning), for reports.
    pub unfused_arena_size: usize,
    /// Per imported-graph tensor id, its id in the blob (`None`: fused away).
    pub blob_ids: Vec<Option<usize>>,
}

impl Compiled {
    /// The blob tensor holding TFLite tensor `idx`: `Ok(None)` when fusion
    /// removed it, an error when the importer never mapped it.
    pub fn blob_tensor(&self, idx: usize) -> Result<Option<usize>> {
        let id = self
            .imported
            .tensor_ids
            .get(idx)
            .copied()
            .flatten()
            .ok_or_else(|| anyhow!("TFLite tensor {idx} has no mote tensor"))?;
        self.blob_ids
            .get(id)
            .copied()
            .ok_or_else(|| anyhow!("mote tensor {id} is outside the fusion map"))
    }
}

/// A model of `tests/golden`, imported from its `.tflite`.
pub fn compile(g: &Golden) -> Result<Compiled> {
    compile_in(&golden_dir(), g)
}

/// A model of the manifest in `dir`, imported from its `.tflite`.
pub fn compile_in(dir: &Path, g: &Golden) -> Result<Compiled> {
    let path = dir.join(&g.tflite);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let imported = tflite::import_mapped(&bytes).context("import")?;
    let unfused_arena_size = plan::plan(&imported.graph)?.arena_size;
    let (blob, fused) = blob::export_fused(&imported.graph).context("blob")?;
    let arena_size = mote_core::Model::parse(&blob)
        .map_err(|e| anyhow!("parse: {e}"))?
        .arena_size();
    Ok(Compiled {
        imported,
        blob,
        arena_size,
        unfused_arena_size,
        blob_ids: fused.tensor_map,
    })
}

/// Runs `blob` on one input; `on_op` sees each op's output (blob tensor
/// index, bytes) right after the op ran. Returns the graph outputs.
pub fn run(blob: &[u8], input: &[u8], mut on_op: impl FnMut(u16, &[u8])) -> Result<Vec<Vec<u8>>> {
    let model = Model::parse(blob).map_err(|e| anyhow!("parse: {e:?}"))?;
    let mut buf = vec![0u8; model.arena_size() + model.arena_align()];
    let arena = align_arena(&mut buf, model.arena_align());
    let mut session = Session::new(&model, arena).map_err(|e| anyhow!("session: {e:?}"))?;
    session
        .set_input(0, input)
        .map_err(|e| anyhow!("input: {e:?}"))?;
    session
        .run_profiled(&mut NoCounter, |r| on_op(r.output_index, r.output))
        .map_err(|e| anyhow!("run: {e:?}"))?;
    (0..model.output_count())
        .map(|k| {
            session
                .output(k)
                .map(<[u8]>::to_vec)
                .map_err(|e| anyhow!("output {k}: {e:?}"))
        })
        .collect()
}

/// `None` when equal, else where and how the bytes first differ.
pub fn first_mismatch(got: &[u8], want: &Npy) -> Option<String> {
    if got == want.data.as_slice() {
        return None;
    }
    if got.len() != want.data.len() {
        return Some(format!("{} bytes, TFLM has {}", got.len(), want.data.len()));
    }
    let elem = want.dtype.size();
    let differing = got
        .chunks(elem)
        .zip(want.data.chunks(elem))
        .filter(|(a, b)| a != b)
        .count();
    let (i, (a, b)) = got
        .chunks(elem)
        .zip(want.data.chunks(elem))
        .enumerate()
        .find(|(_, (a, b))| a != b)?;
    let show = |c: &[u8]| match want.dtype {
        Dtype::I8 => format!("{}", c[0] as i8),
        Dtype::F32 => format!("{}", f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        Dtype::I32 => format!("{}", i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
    };
    Some(format!(
        "first mismatch at element {i} of {:?}: mote {} vs TFLM {} ({differing} of {} elements differ)",
        want.shape,
        show(a),
        show(b),
        got.len() / elem
    ))
}
