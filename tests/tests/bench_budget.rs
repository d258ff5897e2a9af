//! Instruction budgets: the layer benchmarks, the golden models and any
//! shipped models, on the simulated Cortex-M4 and Cortex-M7, each held under
//! its budget in `bench/budgets.json` (measured + a small margin). Counts are
//! executed instructions under QEMU `-icount`, so they do not depend on the
//! machine: a kernel that got slower fails here, not in a wall-clock timing.
//! Budgets are only valid for the compiler that built the firmware; the
//! failure message names both.
use mote_host::{
    bench::{self, budgets::Budgets, BenchModel},
    firmware,
    sim::SimBoard,
};
use mote_tests::{golden::golden_dir, repo_root, sim_firmware};

fn budgets() -> Budgets {
    Budgets::read(&repo_root().join("bench").join("budgets.json"))
        .unwrap_or_else(|e| panic!("{e:#}"))
}

fn toolchain() -> String {
    firmware::Toolchain::detect()
        .and_then(|t| bench::toolchain_text(&t))
        .unwrap_or_else(|e| panic!("{e:#}"))
}

fn models() -> Vec<BenchModel> {
    let mut models = bench::layer_models().expect("layer benchmarks");
    models.extend(bench::golden_models(&golden_dir()).expect("golden models"));
    models.extend(bench::shipped_models(&repo_root().join("models")).expect("shipped models"));
    models
}

#[test]
fn every_model_stays_within_its_instruction_budget() {
    let elf = sim_firmware();
    let budgets = budgets();
    let mut failures = Vec::new();
    let mut measured = Vec::new();
    for model in models() {
        // `measure` also fails if the device's output differs from the host's.
        let result = bench::measure(&elf, &model, &SimBoard::ALL)
            .unwrap_or_else(|e| panic!("{}: {e:#}", model.key()));
        for run in &result.runs {
            measured.push((result.key.clone(), run.cpu.to_owned()));
            let count = run.op_instructions;
            match budgets.get(&result.key, run.cpu) {
                None => failures.push(format!(
                    "{} on {}: measured {count} instructions, no budget",
                    result.key, run.cpu
                )),
                Some(budget) if count > budget => failures.push(format!(
                    "{} on {}: measured {count} instructions > budget {budget} ({:+.2}%)",
                    result.key,
                    run.cpu,
                    100.0 * (count as f64 / budget as f64 - 1.0)
                )),
                Some(budget) if (count as f64) < budget as f64 * 0.9 => eprintln!(
                    "note: {} on {}: {count} instructions, well under its budget {budget}: \
                     tighten it with `mote bench --update-budgets`",
                    result.key, run.cpu
                ),
                Some(_) => {}
            }
        }
    }
    // A budget nobody measures any more (a renamed model) protects nothing.
    for (key, cpus) in &budgets.budgets {
        for cpu in cpus.keys() {
            if !measured.iter().any(|(k, c)| k == key && c == cpu) {
                failures.push(format!("budget for {key} on {cpu}: no such model measured"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "instruction budgets exceeded:\n  {}\nbudgets were measured with firmware built by {}; \
         this firmware was built by {}. If the change is intended (or the toolchain changed), \
         re-run `mote bench --update-budgets` and commit bench/.",
        failures.join("\n  "),
        budgets.toolchain,
        toolchain()
    );
}

#[test]
fn instruction_counts_are_deterministic() {
    let elf = sim_firmware();
    let layers = bench::layer_models().expect("layer benchmarks");
    // The smallest layer: a stride-2 first layer.
    let layer = layers
        .iter()
        .find(|l| l.name == "conv3x3_s2_96x96x1_8")
        .expect("layer");
    for board in SimBoard::ALL {
        let a = bench::measure(&elf, layer, &[board]).expect("first run");
        let b = bench::measure(&elf, layer, &[board]).expect("second run");
        assert_eq!(a.runs[0].ops, b.runs[0].ops, "per-op counts on {board:?}");
        assert_eq!(
            a.runs[0].total_instructions, b.runs[0].total_instructions,
            "total on {board:?}"
        );
        assert!(
            a.runs[0].op_instructions > a.macs,
            "fewer instructions than MACs?"
        );
    }
}

#[test]
fn the_flash_split_accounts_for_the_code() {
    let split = bench::flash::split(&sim_firmware()).expect("ELF");
    assert!(
        split.mote_core_code_bytes > 0 && split.other_code_bytes > 0,
        "{split:?}"
    );
    assert!(
        split.mote_core_code_bytes + split.other_code_bytes <= split.text_bytes,
        "function symbols exceed .text: {split:?}"
    );
    assert!(
        split.text_bytes + split.rodata_bytes <= split.flash_bytes,
        "{split:?}"
    );
    assert!(
        split
            .largest_mote_core
            .iter()
            .any(|(name, _)| name.contains("conv2d")),
        "no conv kernel among mote_core's largest functions: {split:?}"
    );
}
