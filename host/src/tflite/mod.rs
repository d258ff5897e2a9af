//! `.tflite` (int8) import: a bounds-checked FlatBuffers reader for the part
//! of TFLite's schema mote needs, and the conversion into mote's host graph.
//!
//! ```text
//! bytes ──flatbuf/schema──▶ schema::Model ──convert/ops──▶ OpSpec ──params──▶ Graph
//! ```
//!
//! What is imported: the first (only) subgraph of a full-integer model with
//! batch 1; int8 activations with per-tensor quantization, int8 weights
//! (per-channel on TFLite's axis: 0 for CONV_2D and FULLY_CONNECTED, 3 for
//! DEPTHWISE_CONV_2D, or per-tensor) with zero point 0, int32 bias, and
//! float32 only at a QUANTIZE input or a DEQUANTIZE output. Ops: CONV_2D,
//! DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL, CONCATENATION, MAX_POOL_2D,
//! AVERAGE_POOL_2D, MEAN, PAD, RESHAPE, RESIZE_NEAREST_NEIGHBOR,
//! RESIZE_BILINEAR, LOGISTIC, SOFTMAX, HARD_SWISH, LEAKY_RELU, QUANTIZE,
//! DEQUANTIZE, with fused NONE, RELU or RELU6. Constant op inputs (PAD's
//! paddings, RESHAPE's shape, MEAN's axes, a resize's size) are folded into
//! the op's parameters; output shapes in the file are checked against what
//! the options imply.
//!
//! Anything else (another op, a newer op version, a fused TANH, a grouped
//! convolution, batch > 1, per-channel scales on the wrong axis, a dtype
//! out of place, custom options, sparsity, several subgraphs) is an error
//! that names the op (`op #3 CONV_2D (version 3): ...`) and the offending
//! option or tensor, so nothing unsupported reaches a device.

mod convert;
pub mod flatbuf;
mod flatbuild;
mod ops;
mod params;
pub mod schema;
mod write;

pub use ops::{Fused, OpSpec, Window};
/// Appends an [`OpSpec`] to a graph with the kernels' prepared parameters;
/// the training exporter (`crate::quantize`) builds its graphs through it
/// too, so both paths compute multipliers and shifts the same way.
pub use params::append as append_op;
pub use write::write;

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
