//! `mote flash` without probe-rs says how to install it, before building anything.
use std::process::Command;

#[test]
fn flash_without_probe_rs_explains_how_to_install_it() {
    let empty = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_mote"))
        .arg("flash")
        // No probe-rs (and nothing else) on PATH.
        .env("PATH", empty.path())
        .output()
        .expect("run mote");
    assert!(!out.status.success(), "flash succeeded without probe-rs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("probe-rs is not installed")
            && stderr.contains("cargo install probe-rs-tools --locked")
            && stderr.contains("udev"),
        "unhelpful error: {stderr}"
    );
}
