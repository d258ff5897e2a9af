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

use crate::graph::Graph;

/// Reads a `.tflite` file and converts it into a mote graph (not yet
/// planned). Any malformed file or unsupported op, version, option or type
/// is an error naming what is wrong; nothing here panics on bad input.
pub fn import(bytes: &[u8]) -> Result<Graph> {
    let model = schema::Model::read(bytes).context("reading the .tflite flatbuffer")?;
    convert::convert(&model)
}

#[cfg(test)]
mod testbuild;
#[cfg(test)]
mod tests;
