//! `mote bench`: every golden, shipped and layer-benchmark model on the
//! simulated Cortex-M4 and Cortex-M7; writes `report.md` and `report.json`.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use mote_host::bench::{self, budgets::Budgets, report::Report};
use mote_host::{firmware, sim::SimBoard};

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
}

pub fn run(args: Args) -> Result<()> {
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
