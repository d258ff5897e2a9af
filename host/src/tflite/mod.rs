//! `.tflite` (int8) import: a bounds-checked FlatBuffers reader for the part
//! of TFLite's schema mote needs, and the conversion into mote's host graph.
//!
//! ```text
//! bytes ──flatbuf/schema──▶ schema::Model ──convert/ops──▶ OpSpec ──params──▶ Graph
//! ```

mod convert;
pub mod flatbuf;
mod ops;
mod params;
pub mod schema;

pub use ops::{Fused, OpSpec, Window};

use anyhow::{Context, Result};

use crate::graph::{Graph, TensorId};

/// Reads a `.tflite` file and converts it into a mote graph (not yet
/// planned). Any malformed file or unsupported op, version, option or type
/// is an error naming what is wrong; nothing here panics on bad input.
pub fn import(bytes: &[u8]) -> Result<Graph> {
    Ok(import_mapped(bytes)?.graph)
}

/// An imported graph and where each TFLite tensor went.
#[derive(Debug, Clone)]
pub struct Imported {
    pub graph: Graph,
    /// For each tensor index of the `.tflite` subgraph, the graph tensor
    /// made from it (`None` for tensors folded into op parameters or unused).
    /// The blob writer keeps graph tensor order, so this also maps TFLite
    /// tensors to blob tensor indices (used to compare intermediate
    /// tensors with TFLM's).
    pub tensor_ids: Vec<Option<TensorId>>,
}

/// [`import`], also returning the TFLite → graph tensor mapping.
pub fn import_mapped(bytes: &[u8]) -> Result<Imported> {
    let model = schema::Model::read(bytes).context("reading the .tflite flatbuffer")?;
    let (graph, tensor_ids) = convert::convert(&model)?;
    Ok(Imported { graph, tensor_ids })
}

#[cfg(test)]
mod testbuild;
#[cfg(test)]
mod tests;
