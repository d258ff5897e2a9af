//! The TFLM golden set in `tests/golden` (made by `tests/oracle/make_goldens.py`):
//! its manifest, and each model imported and written as a blob.
use std::path::PathBuf;

use anyhow::{anyhow, ensure, Context, Result};
use mote_host::{blob, plan, tflite};
use serde_json::Value;

use crate::repo_root;

pub fn golden_dir() -> PathBuf {
    repo_root().join("tests").join("golden")
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

/// The golden models listed in `MANIFEST.json`.
pub fn manifest() -> Vec<Golden> {
    let load = || -> Result<Vec<Golden>> {
        let path = golden_dir().join("MANIFEST.json");
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

pub fn compile(g: &Golden) -> Result<Compiled> {
    let bytes = std::fs::read(golden_dir().join(&g.tflite))?;
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
