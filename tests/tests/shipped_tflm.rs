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
