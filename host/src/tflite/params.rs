//! [`OpSpec`] → mote op: kernel parameter words and per-channel constants,
//! computed by the kernels' host-side prepare constructors.

use anyhow::{bail, Result};

use super::ops::OpSpec;
use crate::graph::Graph;

/// Appends the op described by `spec` to the graph.
pub fn append(_graph: &mut Graph, spec: &OpSpec) -> Result<()> {
    bail!("no kernel parameters yet for {spec:?}")
}
