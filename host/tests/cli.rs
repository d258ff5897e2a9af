//! `mote inspect`, `mote infer` and `mote train`'s arguments end to end,
//! through the built binary.
use std::path::{Path, PathBuf};
use std::process::Command;

use mote_core::Model;
use mote_host::npy::Array;
use mote_host::{blob, infer, sample};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mote-cli-{name}-{}", std::process::id()));
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

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn infer_writes_what_the_session_computes() {
    let dir = temp_dir("infer");
    let g = sample::two_branches(2).unwrap();
    let bytes = blob::export(&g).unwrap();
    let model_path = dir.join("m.mote");
    std::fs::write(&model_path, &bytes).unwrap();
    let mut rng = sample::Rng::new(3);
    let a = Array::from_i8(&[1, 6, 6, 2], &rng.i8s(72));
    // Second input without its batch dimension.
    let b = Array::from_i8(&[5, 4, 1], &rng.i8s(20));
    a.write(&dir.join("a.npy")).unwrap();
    b.write(&dir.join("b.npy")).unwrap();
    let (o0, o1) = (dir.join("o0.npy"), dir.join("o1.npy"));
    let (ok, stdout, stderr) = mote(&[
        "infer",
        p(&model_path),
        "--input",
        p(&dir.join("a.npy")),
        "--input",
        p(&dir.join("b.npy")),
        "--output",
        p(&o0),
        "--output",
        p(&o1),
    ]);
    assert!(ok, "{stdout}\n{stderr}");

    let model = Model::parse(&bytes).unwrap();
    let want = infer::run(&model, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(Array::read(&o0).unwrap(), want[0]);
    assert_eq!(Array::read(&o1).unwrap(), want[1]);
    assert_eq!(want[0].shape, vec![1, 3, 2, 7]);
    assert_eq!(want[1].shape, vec![1, 40]);

    // Wrong shape and wrong count are errors with a message.
    let bad = Array::from_i8(&[1, 6, 6, 3], &rng.i8s(108));
    bad.write(&dir.join("bad.npy")).unwrap();
    let (ok, _, stderr) = mote(&[
        "infer",
        p(&model_path),
        "--input",
        p(&dir.join("bad.npy")),
        "--input",
        p(&dir.join("b.npy")),
        "--output",
        p(&o0),
    ]);
    assert!(!ok && stderr.contains("shape"), "{stderr}");
    let (ok, _, stderr) = mote(&[
        "infer",
        p(&model_path),
        "--input",
        p(&dir.join("a.npy")),
        "--output",
        p(&o0),
    ]);
    assert!(!ok && stderr.contains("2 input"), "{stderr}");
}

#[test]
fn inspect_reports_ops_totals_and_the_tflm_arena() {
    let dir = temp_dir("inspect");
    let g = sample::conv_chain(1).unwrap();
    let bytes = blob::export(&g).unwrap();
    let model_path = dir.join("chain.mote");
    std::fs::write(&model_path, &bytes).unwrap();
    let model = Model::parse(&bytes).unwrap();

    let (ok, text, stderr) = mote(&["inspect", p(&model_path)]);
    assert!(ok, "{stderr}");
    assert!(
        text.contains("CONV_2D") && text.contains("RESHAPE"),
        "{text}"
    );
    assert!(
        text.contains(&format!("arena {} bytes", model.arena_size())),
        "{text}"
    );
    assert!(text.contains("no TFLM sidecar"), "{text}");

    std::fs::write(
        dir.join("chain.tflm.json"),
        r#"{"arena": {"total_bytes": 5000, "head_bytes": 700, "tail_bytes": 4300}}"#,
    )
    .unwrap();
    let (ok, json, stderr) = mote(&["inspect", "--json", p(&model_path)]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["arena_bytes"].as_u64(), Some(model.arena_size() as u64));
    assert_eq!(v["tflm_arena"]["total_bytes"].as_u64(), Some(5000));
    assert_eq!(v["ops"].as_array().unwrap().len(), 3);
    let macs: u64 = (0..3).map(|k| model.op_macs(k).unwrap()).sum();
    assert_eq!(v["macs"].as_u64(), Some(macs));
    assert!(macs > 0);
    // Per-channel scales are all there.
    let filter = &v["tensors"][1];
    assert_eq!(
        filter["quantization"]["scales"].as_array().unwrap().len(),
        5
    );
    let (ok, text, _) = mote(&["inspect", p(&model_path)]);
    assert!(
        ok && text.contains("vs TFLM 5000 bytes") && text.contains("mote needs no more"),
        "{text}"
    );

    // A corrupt blob is an error, not a panic.
    let mut bad = bytes.clone();
    bad[100] ^= 1;
    std::fs::write(&model_path, &bad).unwrap();
    let (ok, _, stderr) = mote(&["inspect", p(&model_path)]);
    assert!(!ok && stderr.contains("CRC"), "{stderr}");
}

#[test]
fn train_takes_class_weights_as_written_in_its_help() {
    let dir = temp_dir("weights");
    let missing = dir.join("none");
    let args = |w: &'static str| {
        vec![
            "train".to_string(),
            "segmenter".into(),
            "--data".into(),
            p(&missing).to_string(),
            "--val".into(),
            p(&missing).to_string(),
            "--out".into(),
            p(&dir.join("run")).to_string(),
            "--class-weights".into(),
            w.into(),
        ]
    };
    let run = |w: &'static str| {
        let a = args(w);
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        mote(&a)
    };
    // `BG,GLASSES,SHADOW` parses: the run then fails on the missing folder.
    let (ok, _, err) = run("1,2.5,4");
    assert!(!ok);
    assert!(!err.contains("class-weights"), "{err}");
    let (ok, _, err) = run("1,2");
    assert!(
        !ok && err.contains("--class-weights takes 3 positive numbers"),
        "{err}"
    );
    let (ok, _, err) = run("1,-2,3");
    assert!(!ok && err.contains("--class-weights takes 3"), "{err}");
}
