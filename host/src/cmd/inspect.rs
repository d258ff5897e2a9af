//! `mote inspect MODEL [--json]`: what a model contains and what it costs.
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use mote_core::{Model, Storage};
use mote_host::{describe, model_file};

#[derive(clap::Args)]
pub struct Args {
    /// A `.mote` blob or a `.tflite` file (imported on the fly).
    model: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let file = model_file::load(&args.model)?;
    let model = Model::parse(&file.blob).map_err(|e| anyhow!("{}: {e}", args.model.display()))?;
    let names: Option<Vec<String>> = file
        .graph
        .as_ref()
        .map(|g| g.tensors.iter().map(|t| t.name.clone()).collect());
    let tflm = model_file::tflm_arena(&args.model)?;

    if args.json {
        let mut v = describe::to_json(&model, names.as_deref())?;
        v["model"] = args.model.display().to_string().into();
        if let Some(t) = &tflm {
            v["tflm_arena"] = serde_json::json!({
                "sidecar": t.sidecar.display().to_string(),
                "total_bytes": t.total_bytes,
                "head_bytes": t.head_bytes,
                "tail_bytes": t.tail_bytes,
            });
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }

    let name = |i: u16| -> String {
        names
            .as_ref()
            .and_then(|n| n.get(usize::from(i)))
            .map_or_else(|| format!("t{i}"), |n| format!("t{i} {n}"))
    };
    let err = |e: mote_core::Error| anyhow!("{e}");
    println!(
        "{}: blob {} bytes, format v{}, {} tensors, {} ops",
        args.model.display(),
        model.bytes().len(),
        mote_core::format::layout::VERSION,
        model.tensor_count(),
        model.op_count()
    );
    println!();
    println!(
        "{:>4}  {:<24} {:<40} {:<16} {:>12}  params",
        "#", "op", "inputs (c = constant)", "output", "MACs"
    );
    let ops = describe::ops(&model)?;
    for op in &ops {
        let inputs = op
            .inputs
            .iter()
            .map(|&i| {
                let t = model.tensor(i).map_err(err)?;
                let c = if t.is_constant() { "c" } else { "" };
                Ok(format!("{c}{}", describe::shape_text(&t)))
            })
            .collect::<Result<Vec<_>>>()?
            .join(" ");
        let out = describe::shape_text(&model.tensor(op.output).map_err(err)?);
        println!(
            "{:>4}  {:<24} {:<40} {:<16} {:>12}  {}",
            op.index,
            op.code.name(),
            inputs,
            out,
            op.macs,
            op.params
        );
    }
    println!();
    println!("tensors:");
    for i in 0..model.tensor_count() {
        let t = model.tensor(i as u16).map_err(err)?;
        let place = match t.storage {
            Storage::Arena {
                offset,
                first,
                last,
            } => format!(
                "arena {offset}..{} alive {first}..{last}",
                offset + t.byte_len
            ),
            Storage::Constant { offset } => format!("blob @{offset}"),
        };
        println!(
            "  {:<40} {:<8} {:<16} {:<44} {}",
            name(i as u16),
            t.dtype.name(),
            describe::shape_text(&t),
            describe::quant_text(&model, &t),
            place
        );
    }
    let io = |k: usize, out: bool| -> Result<String> {
        let i = if out {
            model.output_index(k)
        } else {
            model.input_index(k)
        }
        .map_err(err)?;
        let t = model.tensor(i).map_err(err)?;
        Ok(format!(
            "{} {} {} {}",
            name(i),
            t.dtype.name(),
            describe::shape_text(&t),
            describe::quant_text(&model, &t)
        ))
    };
    println!();
    for k in 0..model.input_count() {
        println!("input {k}:  {}", io(k, false)?);
    }
    for k in 0..model.output_count() {
        println!("output {k}: {}", io(k, true)?);
    }
    println!("head: {}", model.head().name());
    let macs: u64 = ops.iter().map(|o| o.macs).sum();
    println!();
    println!(
        "totals: {} ops, {macs} MACs, weights {} bytes, arena {} bytes (align {})",
        model.op_count(),
        model.constant_bytes(),
        model.arena_size(),
        model.arena_align()
    );
    match tflm {
        Some(t) => {
            let mote = model.arena_size() as u64;
            let verdict = |tflm: u64| {
                if mote <= tflm {
                    "mote needs no more"
                } else {
                    "MOTE NEEDS MORE"
                }
            };
            println!(
                "arena: mote {mote} bytes vs TFLM {} bytes total [{}] (from {})",
                t.total_bytes,
                verdict(t.total_bytes),
                t.sidecar.display()
            );
            if let (Some(head), Some(tail)) = (t.head_bytes, t.tail_bytes) {
                println!(
                    "       TFLM head (planned activations) {head} bytes [{}], tail (persistent) {tail} bytes",
                    verdict(head)
                );
            }
        }
        None => println!(
            "arena: mote {} bytes (no TFLM sidecar found)",
            model.arena_size()
        ),
    }
    Ok(())
}
