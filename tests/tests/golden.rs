//! Golden vectors: every model in `tests/golden` (made by
//! `tests/oracle/make_goldens.py` with TFLM's reference kernels) is imported
//! from its `.tflite`, written as a blob, parsed by `mote-core` and run; every
//! output must equal TFLM's byte for byte, and so must every intermediate
//! tensor of the models that come with a tensor dump.
//!
//! A missing or unreadable golden set fails the tests (nothing is skipped).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{anyhow, ensure, Result};
use mote_host::npy::Array as Npy;
use mote_host::tflite;
use mote_tests::golden::{
    compile, first_mismatch, golden_dir, manifest, run, str_field, usize_field,
};
use serde_json::Value;

#[test]
fn golden_outputs_match_tflm_bit_for_bit() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for g in manifest() {
        let compiled = match compile(&g) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{}: {e:#}", g.name));
                continue;
            }
        };
        for case in &g.cases {
            let result = (|| -> Result<()> {
                let input = Npy::read(&golden_dir().join(&case.input))?;
                let outputs = run(&compiled.blob, &input.data, |_, _| {})?;
                ensure!(
                    outputs.len() == case.outputs.len(),
                    "{} outputs, TFLM has {}",
                    outputs.len(),
                    case.outputs.len()
                );
                for (j, (got, file)) in outputs.iter().zip(&case.outputs).enumerate() {
                    let want = Npy::read(&golden_dir().join(file))?;
                    if let Some(m) = first_mismatch(got, &want) {
                        anyhow::bail!("output {j}: {m}");
                    }
                    checked += 1;
                }
                Ok(())
            })();
            if let Err(e) = result {
                failures.push(format!("{} {}: {e:#}", g.name, case.input));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden cases failed ({checked} outputs matched):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 0, "no golden output was checked");
}

#[test]
fn golden_intermediate_tensors_match_tflm() {
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut fused_away = 0;
    let mut models = 0;
    for g in manifest() {
        let Some(dir) = &g.tensors_dir else {
            continue;
        };
        models += 1;
        let result = (|| -> Result<()> {
            let compiled = compile(&g)?;
            let dir = golden_dir().join(dir);
            let index: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("tensors.json"))?)?;
            let entries = index
                .get("tensors")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("tensors.json has no tensors"))?;
            // One dump per input ("runs"); older dumps only have input0 here.
            let runs: Vec<(String, PathBuf)> = match index.get("runs").and_then(Value::as_array) {
                Some(runs) => runs
                    .iter()
                    .map(|r| {
                        Ok((
                            str_field(r, "input")?.to_owned(),
                            dir.join(str_field(r, "dir")?),
                        ))
                    })
                    .collect::<Result<_>>()?,
                None => vec![(str_field(&index, "input")?.to_owned(), dir.clone())],
            };
            for (input_file, run_dir) in runs {
                let input = Npy::read(&golden_dir().join(&input_file))?;
                let mut seen: HashMap<u16, Vec<u8>> = HashMap::new();
                run(&compiled.blob, &input.data, |t, bytes| {
                    seen.insert(t, bytes.to_vec());
                })?;
                for e in entries {
                    if e.get("role").and_then(Value::as_str) == Some("input") {
                        continue;
                    }
                    let idx = usize_field(e, "index")?;
                    let want = Npy::read(&run_dir.join(str_field(e, "file")?))?;
                    // Tensors the fusion pass removed are never stored; the
                    // op that absorbed them is checked through its output.
                    let Some(id) = compiled.blob_tensor(idx)? else {
                        fused_away += 1;
                        continue;
                    };
                    let got = seen
                        .get(&u16::try_from(id)?)
                        .ok_or_else(|| anyhow!("no op wrote tensor {idx} (mote {id})"))?;
                    if let Some(m) = first_mismatch(got, &want) {
                        let producer = e.get("producer_op").cloned().unwrap_or(Value::Null);
                        failures.push(format!(
                            "{} {input_file}: tensor {idx} {:?} (op #{producer}): {m}",
                            g.name,
                            str_field(e, "name").unwrap_or("?")
                        ));
                    } else {
                        checked += 1;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            failures.push(format!("{}: {e:#}", g.name));
        }
    }
    assert!(models > 0, "no golden model has a tensor dump");
    assert!(
        failures.is_empty(),
        "{} intermediate tensors differ ({checked} matched):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 0, "no intermediate tensor was checked");
    println!("{checked} intermediate tensors matched, {fused_away} fused away");
}

/// mote's arena (fusion + in-place planning) is at most half of TFLM's
/// whole arena for the same model (issue #7), and never larger than TFLM's
/// non-persistent ("head") area alone.
#[test]
fn mote_arena_is_at_most_half_of_tflm() {
    let mut report = Vec::new();
    let mut over = Vec::new();
    for g in manifest() {
        let compiled = compile(&g).unwrap_or_else(|e| panic!("{}: {e:#}", g.name));
        report.push(format!(
            "{}: mote {} B (unfused {} B), TFLM head {} B, TFLM total {} B",
            g.name,
            compiled.arena_size,
            compiled.unfused_arena_size,
            g.tflm_arena_head,
            g.tflm_arena_total
        ));
        if 2 * compiled.arena_size > g.tflm_arena_total || compiled.arena_size > g.tflm_arena_head {
            over.push(g.name.clone());
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        over.is_empty(),
        "mote needs more than half of TFLM's arena for {over:?}:\n{}",
        report.join("\n")
    );
}

/// Truncated or corrupted golden `.tflite` files never panic the importer;
/// a truncated file either fails or (when only bytes the importer does not
/// read were cut) gives exactly the same graph.
#[test]
fn damaged_golden_tflite_files_never_panic() {
    for g in manifest() {
        let bytes = std::fs::read(golden_dir().join(&g.tflite)).unwrap();
        let full = tflite::import(&bytes).unwrap_or_else(|e| panic!("{}: {e:#}", g.name));
        let step = (bytes.len() / 300).max(1);
        let mut errors = 0;
        for len in (0..bytes.len()).step_by(step) {
            match tflite::import(&bytes[..len]) {
                Err(_) => errors += 1,
                Ok(graph) => assert!(
                    graph == full,
                    "{}: a {len}-byte prefix imports as a different graph",
                    g.name
                ),
            }
        }
        assert!(errors > 0, "{}: no truncation was rejected", g.name);
        let mut state = 0x2545_F491u32 ^ bytes.len() as u32;
        for _ in 0..300 {
            let mut b = bytes.clone();
            for _ in 0..8 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let i = state as usize % b.len();
                b[i] = (state >> 11) as u8;
            }
            let _ = tflite::import(&b);
        }
    }
}

/// The comparison itself: equal bytes pass, a difference is located.
#[test]
fn mismatch_report_names_the_first_differing_element() {
    let want = Npy::from_i8(&[1, 4], &[1, -2, 3, 4]);
    assert_eq!(first_mismatch(&[1, 254, 3, 4], &want), None);
    let m = first_mismatch(&[1, 254, 3, 5], &want).unwrap();
    assert!(
        m.contains("element 3") && m.contains("mote 5 vs TFLM 4"),
        "{m}"
    );
    assert!(first_mismatch(&[1, 254, 3], &want)
        .unwrap()
        .contains("3 bytes"));
}
