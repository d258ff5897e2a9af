//! The shipped models next to TFLM (issue #7): `tests/golden/shipped` holds
//! TFLM's outputs for three seeded inputs of each shipped model's `.tflite`
//! (`models/NAME.tflite`) and TFLM's arena for it, written by
//! `bench/tflite_compare.py`. mote must give the same bytes, both from the
//! `.tflite` imported here and from the committed `models/NAME.mote` blob,
//! and its arena is held against TFLM's.
//!
//! A missing or unreadable manifest or model fails the tests (nothing is
//! skipped).

use anyhow::{anyhow, ensure, Context, Result};
use mote_host::npy::Array as Npy;
use mote_tests::golden::{
    compile_in, first_mismatch, manifest_in, run, shipped_golden_dir, Golden,
};

/// The shipped models the manifest must cover.
const SHIPPED: [&str; 2] = ["segmenter", "counter"];

fn shipped() -> Vec<Golden> {
    let models = manifest_in(&shipped_golden_dir());
    for name in SHIPPED {
        assert!(
            models.iter().any(|g| g.name == name),
            "tests/golden/shipped/MANIFEST.json lacks {name}"
        );
    }
    models
}

/// Every case of `g` run through `blob`; one line per failure.
fn check_cases(g: &Golden, what: &str, blob: &[u8]) -> (usize, Vec<String>) {
    let dir = shipped_golden_dir();
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in &g.cases {
        let result = (|| -> Result<()> {
            let input = Npy::read(&dir.join(&case.input))?;
            let outputs = run(blob, &input.data, |_, _| {})?;
            ensure!(
                outputs.len() == case.outputs.len(),
                "{} outputs, TFLM has {}",
                outputs.len(),
                case.outputs.len()
            );
            for (j, (got, file)) in outputs.iter().zip(&case.outputs).enumerate() {
                let want = Npy::read(&dir.join(file))?;
                if let Some(m) = first_mismatch(got, &want) {
                    anyhow::bail!("output {j}: {m}");
                }
                checked += 1;
            }
            Ok(())
        })();
        if let Err(e) = result {
            failures.push(format!("{} ({what}) {}: {e:#}", g.name, case.input));
        }
    }
    (checked, failures)
}

fn mote_blob(g: &Golden) -> Result<Vec<u8>> {
    let rel = g
        .mote
        .as_ref()
        .ok_or_else(|| anyhow!("{}: the manifest names no .mote blob", g.name))?;
    let path = shipped_golden_dir().join(rel);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

#[test]
fn shipped_models_match_tflm_bit_for_bit() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for g in shipped() {
        ensure_cases(&g);
        match compile_in(&shipped_golden_dir(), &g) {
            Ok(c) => {
                let (n, f) = check_cases(&g, "imported .tflite", &c.blob);
                checked += n;
                failures.extend(f);
            }
            Err(e) => failures.push(format!("{} (imported .tflite): {e:#}", g.name)),
        }
        match mote_blob(&g) {
            Ok(blob) => {
                let (n, f) = check_cases(&g, "shipped .mote", &blob);
                checked += n;
                failures.extend(f);
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} shipped cases differ from TFLM ({checked} outputs matched):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 0, "no shipped output was checked");
}

fn ensure_cases(g: &Golden) {
    assert!(
        g.cases.len() >= 3,
        "{}: {} cases, expected the script's three inputs",
        g.name,
        g.cases.len()
    );
}

/// Issue #7 asks for mote's arena ≤ 0.5 × TFLM's (total) for every shipped
/// model. **That is not met yet.** Measured on 2026-12-04: TFLM's total by
/// `bench/tflite_compare.py` (`bench/tflite.md`), mote's from the shipped
/// `.mote` (`mote inspect`), since the stem convolutions write over the
/// top rows of their inputs (`mote_core::bands`):
///
/// | model | mote | TFLM total | ratio |
/// |---|---:|---:|---:|
/// | segmenter | 87552 | 136336 | 0.643 |
/// | counter | 51200 | 92960 | 0.551 |
///
/// These ceilings (per mille of TFLM's total, rounded up) are today's
/// figures, so the arena cannot grow back unnoticed; lower them towards the
/// issue's 500 as fusion, in-place ops and row streaming of the
/// full-resolution layers land. The golden models already meet 0.5
/// (`golden.rs::mote_arena_is_at_most_half_of_tflm`).
const ARENA_CEILING_PER_MILLE: [(&str, u64); 2] = [("segmenter", 643), ("counter", 551)];

/// Issue #7's target, for the report.
const ISSUE7_TARGET_PER_MILLE: u64 = 500;

#[test]
fn shipped_arena_against_tflm() {
    let mut report = Vec::new();
    let mut over = Vec::new();
    for g in shipped() {
        let ceiling = ARENA_CEILING_PER_MILLE
            .iter()
            .find(|(name, _)| *name == g.name)
            .map(|&(_, c)| c)
            .unwrap_or_else(|| panic!("{}: no arena ceiling for this shipped model", g.name));
        let imported = compile_in(&shipped_golden_dir(), &g)
            .unwrap_or_else(|e| panic!("{}: {e:#}", g.name))
            .arena_size;
        let blob = mote_blob(&g).unwrap_or_else(|e| panic!("{e:#}"));
        let shipped = mote_core::Model::parse(&blob)
            .unwrap_or_else(|e| panic!("{}: {e}", g.name))
            .arena_size();
        let tflm = g.tflm_arena_total as u64;
        assert!(tflm > 0, "{}: TFLM's arena is 0 in the manifest", g.name);
        for (what, mote) in [("imported .tflite", imported), ("shipped .mote", shipped)] {
            let per_mille = mote as u64 * 1000;
            report.push(format!(
                "{} ({what}): mote {mote} B, TFLM total {tflm} B (head {} B): {:.3} of TFLM, ceiling {:.3}, issue #7 target {:.3}",
                g.name,
                g.tflm_arena_head,
                mote as f64 / tflm as f64,
                ceiling as f64 / 1000.0,
                ISSUE7_TARGET_PER_MILLE as f64 / 1000.0
            ));
            if per_mille > ceiling * tflm {
                over.push(format!("{} ({what})", g.name));
            }
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        over.is_empty(),
        "mote's arena grew past its measured ceiling for {over:?}:\n{}",
        report.join("\n")
    );
}
