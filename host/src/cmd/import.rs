//! `mote import IN.tflite -o OUT.mote`: converts an int8 TFLite model into a
//! mote blob (memory planned on the host).
use std::path::PathBuf;

use anyhow::{Context, Result};

use mote_host::{blob, plan, tflite};

#[derive(clap::Args)]
pub struct Args {
    /// The `.tflite` model (full-integer int8, batch 1).
    input: PathBuf,
    /// Where to write the blob.
    #[arg(short, long)]
    output: PathBuf,
    /// Number the activations first, as `mote export` does: the blob of a
    /// `.tflite` that `mote export` wrote is then the exported blob, byte
    /// for byte (how `models/NAME.mote` is re-planned from `models/NAME.tflite`).
    #[arg(long)]
    renumber: bool,
}

pub fn run(args: Args) -> Result<()> {
    let bytes =
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let mut graph =
        tflite::import(&bytes).with_context(|| format!("importing {}", args.input.display()))?;
    if args.renumber {
        graph.reorder_activations_first();
    }
    let (blob, fused) = blob::export_fused(&graph)?;
    let graph = fused.graph;
    let plan = plan::plan(&graph)?;
    std::fs::write(&args.output, &blob)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let weights: usize = graph
        .tensors
        .iter()
        .filter(|t| t.is_constant())
        .map(|t| t.byte_len())
        .sum();
    println!(
        "{}: {} ops, arena {} bytes, weights {} bytes, blob {} bytes",
        args.output.display(),
        graph.ops.len(),
        plan.arena_size,
        weights,
        blob.len()
    );
    Ok(())
}
