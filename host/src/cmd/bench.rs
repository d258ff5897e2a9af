//! `mote bench`: every golden, shipped and layer-benchmark model on the
//! simulated Cortex-M4 and Cortex-M7; writes `report.md` and `report.json`.
//!
//! `mote bench --host FILE`: instead, times `mote-core` on this machine for
//! one model and prints JSON (used by `bench/tflite_compare.py`).
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use mote_core::Model;
use mote_host::bench::{self, budgets::Budgets, report::Report};
use mote_host::npy::Array;
use mote_host::{firmware, model_file, sim::SimBoard};

#[derive(clap::Args)]
pub struct Args {
    /// Print the JSON report on stdout (instead of the summary).
    #[arg(long)]
    json: bool,
    /// Folder the reports are written to.
    #[arg(long, default_value = "bench")]
    out: PathBuf,
    /// The TFLM golden set (`*.tflite` with `NAME.input0.npy`).
    #[arg(long, default_value = "tests/golden")]
    golden: PathBuf,
    /// Shipped models (`*.mote`); a missing or empty folder is fine.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Also write `OUT/budgets.json` (measured + 2%) for the budget test.
    #[arg(long)]
    update_budgets: bool,
    /// Time mote-core on this machine (single thread) for this model (`.mote`
    /// or `.tflite`) and print JSON, instead of the simulated-board report.
    #[arg(long, value_name = "FILE")]
    host: Option<PathBuf>,
    /// With `--host`: an input (`.npy`); repeat to cycle through several.
    /// Without one, the model's input is seeded random data.
    #[arg(long, requires = "host")]
    input: Vec<PathBuf>,
    /// With `--host`: seconds of timed inferences (after a short warm-up).
    #[arg(long, default_value_t = 3.0, requires = "host")]
    seconds: f64,
}

pub fn run(args: Args) -> Result<()> {
    if let Some(path) = &args.host {
        return host(path, &args.input, args.seconds);
    }
    let started = Instant::now();
    let toolchain = bench::toolchain_text(&firmware::Toolchain::detect()?)?;
    let elf = firmware::build(firmware::BoardKind::Sim)?;
    let mut models = bench::layer_models()?;
    models.extend(bench::golden_models(&args.golden)?);
    models.extend(bench::shipped_models(&args.models)?);
    let mut results = Vec::new();
    for model in &models {
        eprintln!("bench: {}", model.key());
        results.push(bench::measure(&elf, model, &SimBoard::ALL)?);
    }
    let flash = bench::flash::split(&elf)?;
    let board_elf = firmware::build(firmware::BoardKind::H743)?;
    let board_flash = Some(bench::flash::split(&board_elf)?);
    let mut command = String::from("mote bench");
    for word in std::env::args().skip(2) {
        command.push(' ');
        command.push_str(&word);
    }
    let report = Report {
        command,
        toolchain: toolchain.clone(),
        flash,
        board_flash,
        models: results,
        seconds: started.elapsed().as_secs_f64(),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let json = serde_json::to_string_pretty(&report.to_json())? + "\n";
    std::fs::write(args.out.join("report.json"), &json)?;
    std::fs::write(args.out.join("report.md"), report.to_markdown())?;
    if args.update_budgets {
        Budgets::from_models(&toolchain, &report.models, bench::budgets::MARGIN)
            .write(&args.out.join("budgets.json"))?;
    }
    if args.json {
        print!("{json}");
    } else {
        for m in &report.models {
            let figures: Vec<String> = m
                .runs
                .iter()
                .map(|r| {
                    format!(
                        "{} {} instr ({:.2}/MAC)",
                        r.cpu,
                        r.op_instructions,
                        r.per_mac(m.macs)
                    )
                })
                .collect();
            println!("{:40} {}", m.key, figures.join(", "));
        }
        println!(
            "flash {} bytes: mote_core code {}, other code {}; real board runtime code {}; \
             reports in {} ({:.0} s)",
            report.flash.flash_bytes,
            report.flash.mote_core_code_bytes,
            report.flash.other_code_bytes,
            report
                .board_flash
                .as_ref()
                .map_or(0, |b| b.runtime_code_bytes),
            args.out.display(),
            report.seconds
        );
    }
    Ok(())
}

/// `--host`: one model timed on this machine, JSON on stdout.
fn host(path: &Path, input_paths: &[PathBuf], seconds: f64) -> Result<()> {
    let file = model_file::load(path)?;
    let model = Model::parse(&file.blob).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let inputs = if input_paths.is_empty() {
        bench::random_inputs(&model, bench::layers::SEED)?
    } else {
        input_paths
            .iter()
            .map(|p| Array::read(p))
            .collect::<Result<Vec<_>>>()?
    };
    let timing = bench::host::time(&model, &inputs, seconds)?;
    let mut v = timing.to_json();
    v["runtime"] = "mote".into();
    v["mote_version"] = env!("CARGO_PKG_VERSION").into();
    v["model"] = path.display().to_string().into();
    v["blob_bytes"] = file.blob.len().into();
    v["inputs"] = input_paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .into();
    v["threads"] = 1.into();
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}
