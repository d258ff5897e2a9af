//! Loading a model file for the CLI: a `.mote` blob as is, or a `.tflite`
//! file imported on the fly.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::blob;
use crate::graph::Graph;

/// A model ready to parse with `mote_core::Model::parse`.
pub struct ModelFile {
    pub path: PathBuf,
    /// The blob bytes.
    pub blob: Vec<u8>,
    /// The imported graph (with TFLite's tensor names) for `.tflite` input,
    /// after fusion: the graph the blob describes.
    pub graph: Option<Graph>,
}

/// Reads `path`: a `.tflite` file is imported and planned; anything else is
/// taken to be a mote blob.
pub fn load(path: &Path) -> Result<ModelFile> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let is_tflite = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tflite"))
        || bytes.get(4..8) == Some(b"TFL3");
    if is_tflite {
        let graph =
            import_tflite(&bytes).with_context(|| format!("importing {}", path.display()))?;
        let (blob, fused) = blob::export_fused(&graph)?;
        Ok(ModelFile {
            path: path.to_path_buf(),
            blob,
            graph: Some(fused.graph),
        })
    } else {
        Ok(ModelFile {
            path: path.to_path_buf(),
            blob: bytes,
            graph: None,
        })
    }
}

/// The `.tflite` importer hook: `inspect`, `infer` (and `import`) reach the
/// importer through this function.
pub fn import_tflite(bytes: &[u8]) -> Result<Graph> {
    crate::tflite::import(bytes)
}

/// TFLM's arena figures for a model, from the oracle's sidecar
/// `<name>.tflm.json` next to the model file.
#[derive(Debug, Clone, PartialEq)]
pub struct TflmArena {
    pub sidecar: PathBuf,
    /// Everything TFLM allocated in its arena.
    pub total_bytes: u64,
    /// The non-persistent head: TFLM's planned activation buffers.
    pub head_bytes: Option<u64>,
    /// The persistent tail: tensor structs, op data, quantization arrays.
    pub tail_bytes: Option<u64>,
}

/// Finds and reads the TFLM sidecar for `model` (`name.tflm.json` beside
/// `name.tflite` or `name.mote`); `None` if there is none.
pub fn tflm_arena(model: &Path) -> Result<Option<TflmArena>> {
    let Some(stem) = model.file_stem().and_then(|s| s.to_str()) else {
        return Ok(None);
    };
    let sidecar = model.with_file_name(format!("{stem}.tflm.json"));
    if !sidecar.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&sidecar)
        .with_context(|| format!("reading {}", sidecar.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", sidecar.display()))?;
    let arena = &v["arena"];
    let total_bytes = arena["total_bytes"]
        .as_u64()
        .with_context(|| format!("{}: no arena.total_bytes", sidecar.display()))?;
    Ok(Some(TflmArena {
        sidecar,
        total_bytes,
        head_bytes: arena["head_bytes"].as_u64(),
        tail_bytes: arena["tail_bytes"].as_u64(),
    }))
}
