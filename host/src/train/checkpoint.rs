//! Checkpoints: every variable of a [`Net`] (including batch-norm running
//! statistics) in one safetensors file, named as [`Net::named_vars`] says.
use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};

use super::net::Net;

/// Writes the network's variables to `path`.
pub fn save(net: &Net, path: &Path) -> Result<()> {
    let map: HashMap<String, Tensor> = net
        .named_vars()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    candle_core::safetensors::save(&map, path)
        .with_context(|| format!("writing checkpoint {}", path.display()))
}

/// Reads a checkpoint's tensors.
pub fn read(path: &Path) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load(path, &Device::Cpu)
        .with_context(|| format!("reading checkpoint {}", path.display()))
}

/// Loads every variable of `net` from `path` (all must be present).
pub fn load(net: &Net, path: &Path) -> Result<()> {
    let map = read(path)?;
    net.load_named(&map, false)
        .with_context(|| format!("loading checkpoint {}", path.display()))?;
    Ok(())
}
