//! mote-core also builds for Cortex-M cores without the DSP extension
//! (thumbv6m: Cortex-M0/M0+). There `core/build.rs` leaves `cfg(mote_dsp)`
//! unset and the fast kernels use their plain-Rust formulation of the same
//! arithmetic (the one the host tests pin against the DSP instructions), so
//! no Armv7E-M instruction reaches an assembler that would reject it.
use std::path::Path;
use std::process::Command;

use mote_host::firmware::Toolchain;

const V6M: &str = "thumbv6m-none-eabi";

#[test]
fn core_builds_for_cortex_m0plus() {
    let toolchain = Toolchain::detect().unwrap_or_else(|e| panic!("{e:#}"));
    let (cargo, rustc, build_std) = match &toolchain {
        Toolchain::Installed { cargo, rustc } => (cargo, rustc, false),
        Toolchain::BuildStd { cargo, rustc } => (cargo, rustc, true),
    };
    if !build_std {
        let out = Command::new(rustc)
            .args(["--print", "sysroot"])
            .output()
            .expect("rustc --print sysroot");
        let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            Path::new(&sysroot).join("lib/rustlib").join(V6M).is_dir(),
            "no {V6M} target in {sysroot}: run `rustup target add {V6M}` \
             (scripts/setup.sh does on rustup toolchains)"
        );
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target_dir = root.join("target/thumbv6m-check");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "-p", "mote-core", "--target", V6M])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTC", rustc)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS");
    if build_std {
        cmd.args(["-Z", "build-std=core"])
            .env("RUSTC_BOOTSTRAP", "1");
    }
    let out = cmd.output().expect("running cargo");
    assert!(
        out.status.success(),
        "mote-core does not build for {V6M}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
