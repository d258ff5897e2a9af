//! `mote import` and `.tflite` models through the CLI, end to end, on the
//! oracle's golden models (tests/golden).
use std::path::{Path, PathBuf};
use std::process::Command;

use mote_core::Model;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/golden")
        .join(name)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mote-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mote(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mote"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn import_writes_a_blob_the_core_parses() {
    let dir = temp_dir("blob");
    let out = dir.join("encdec.mote");
    let (ok, stdout, stderr) = mote(&["import", s(&golden("encdec.tflite")), "-o", s(&out)]);
    assert!(ok, "{stderr}");
    let bytes = std::fs::read(&out).unwrap();
    let model = Model::parse(&bytes).unwrap();
    // One line: ops, arena and weight bytes, as the blob says.
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains(&format!("{} ops", model.op_count()))
            && stdout.contains(&format!("arena {} bytes", model.arena_size())),
        "{stdout}"
    );
    assert_eq!(model.input_count(), 1);
    assert_eq!(model.output_count(), 2);
}

#[test]
fn infer_on_a_tflite_file_gives_tflm_outputs() {
    let dir = temp_dir("infer");
    let (a, b) = (dir.join("out0.npy"), dir.join("out1.npy"));
    let (ok, _, stderr) = mote(&[
        "infer",
        s(&golden("encdec.tflite")),
        "--input",
        s(&golden("encdec.input1.npy")),
        "--output",
        s(&a),
        "--output",
        s(&b),
    ]);
    assert!(ok, "{stderr}");
    for (got, want) in [
        (a, "encdec.input1.output0.npy"),
        (b, "encdec.input1.output1.npy"),
    ] {
        let got = mote_host::npy::Array::read(&got).unwrap();
        let want = mote_host::npy::Array::read(&golden(want)).unwrap();
        assert_eq!(got.data, want.data, "{want:?}");
    }
}

#[test]
fn import_errors_name_the_problem() {
    let dir = temp_dir("err");
    let bad = dir.join("bad.tflite");
    std::fs::write(&bad, b"not a model at all").unwrap();
    let (ok, _, stderr) = mote(&["import", s(&bad), "-o", s(&dir.join("x.mote"))]);
    assert!(!ok);
    assert!(
        stderr.contains("TFL3") || stderr.contains("flatbuffer"),
        "{stderr}"
    );

    // A golden model whose first op code is rewritten to TANH (28).
    let mut bytes = std::fs::read(golden("conv_stack.tflite")).unwrap();
    let model = mote_host::tflite::schema::Model::read(&bytes).unwrap();
    let code = model.operator_codes[0].builtin;
    assert_eq!(code, mote_host::tflite::schema::op::CONV_2D);
    patch_first_opcode(&mut bytes, 28);
    let tanh = dir.join("tanh.tflite");
    std::fs::write(&tanh, &bytes).unwrap();
    let (ok, _, stderr) = mote(&["import", s(&tanh), "-o", s(&dir.join("y.mote"))]);
    assert!(!ok);
    assert!(
        stderr.contains("TANH") && stderr.contains("not supported"),
        "{stderr}"
    );
}

/// Rewrites both builtin-code fields of the model's first OperatorCode.
fn patch_first_opcode(bytes: &mut [u8], code: i32) {
    let u32_at =
        |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let root = u32_at(bytes, 0);
    let field = |b: &[u8], table: usize, slot: usize| -> Option<usize> {
        let vt = (table as i64 - i32::from_le_bytes(b[table..table + 4].try_into().unwrap()) as i64)
            as usize;
        let vt_len = u16::from_le_bytes([b[vt], b[vt + 1]]) as usize;
        let entry = 4 + 2 * slot;
        if entry + 2 > vt_len {
            return None;
        }
        let off = u16::from_le_bytes([b[vt + entry], b[vt + entry + 1]]) as usize;
        (off != 0).then_some(table + off)
    };
    let codes_field = field(bytes, root, 1).unwrap();
    let codes = codes_field + u32_at(bytes, codes_field);
    let first = codes + 4 + u32_at(bytes, codes + 4);
    if let Some(at) = field(bytes, first, 0) {
        bytes[at] = code as u8;
    }
    if let Some(at) = field(bytes, first, 3) {
        bytes[at..at + 4].copy_from_slice(&code.to_le_bytes());
    }
}
