//! Building the Cortex-M firmware from the host.
//!
//! The firmware needs `core` for `thumbv7em-none-eabihf`. With rustup that is
//! `rustup target add thumbv7em-none-eabihf` and a plain `cargo build`. On
//! machines where rustup cannot add targets, a distribution toolchain with its
//! library source (Debian's `rustc-web`, `cargo-web`, `rust-web-src`) builds
//! `core` itself with `-Z build-std=core`. This module picks whichever works,
//! so nothing about it is hard-wired into `firmware/.cargo/config.toml`.
use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

pub const TARGET: &str = "thumbv7em-none-eabihf";

/// The firmware crate's folder: `MOTE_FIRMWARE_DIR`, or the one beside this crate.
pub fn firmware_dir() -> PathBuf {
    env::var_os("MOTE_FIRMWARE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware"))
}

/// Which board support the firmware is built with (its cargo feature).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoardKind {
    /// QEMU mps2-an386 / mps2-an500.
    Sim,
    /// STM32H743 (NUCLEO-H743ZI2), flashed and run with probe-rs.
    H743,
}

impl BoardKind {
    fn feature(self) -> &'static str {
        match self {
            BoardKind::Sim => "board-sim",
            BoardKind::H743 => "board-h743",
        }
    }

    /// Where cargo builds this board's firmware, under `firmware/`. Each board
    /// has its own, so switching boards does not rebuild the other's.
    fn target_dir(self) -> &'static str {
        match self {
            BoardKind::Sim => "target",
            BoardKind::H743 => "target/h743",
        }
    }
}

/// How `core` for the target is obtained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// A toolchain whose sysroot already has the target's `core` (rustup).
    Installed { cargo: PathBuf, rustc: PathBuf },
    /// A toolchain with library source: `-Z build-std=core` (Debian's rustc-web).
    BuildStd { cargo: PathBuf, rustc: PathBuf },
}

fn sysroot(rustc: &Path) -> Option<PathBuf> {
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn has_target_core(sysroot: &Path) -> bool {
    sysroot
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
}

fn has_library_source(sysroot: &Path) -> bool {
    sysroot
        .join("lib/rustlib/src/rust/library/core/Cargo.toml")
        .is_file()
}

impl Toolchain {
    /// Finds a toolchain that can build the firmware, preferring an installed
    /// target over building `core`. `MOTE_FIRMWARE_CARGO` / `MOTE_FIRMWARE_RUSTC`
    /// pin the tools explicitly.
    pub fn detect() -> Result<Toolchain> {
        let pinned = (
            env::var_os("MOTE_FIRMWARE_CARGO"),
            env::var_os("MOTE_FIRMWARE_RUSTC"),
        );
        let mut candidates: Vec<(PathBuf, PathBuf)> = Vec::new();
        if let (Some(cargo), Some(rustc)) = pinned {
            candidates.push((cargo.into(), rustc.into()));
        } else {
            // The rustup (or PATH) toolchain first, then Debian's.
            candidates.push(("cargo".into(), "rustc".into()));
            candidates.push(("/usr/bin/cargo".into(), "/usr/bin/rustc".into()));
        }
        for (cargo, rustc) in &candidates {
            let Some(root) = sysroot(rustc) else { continue };
            if has_target_core(&root) {
                return Ok(Toolchain::Installed {
                    cargo: cargo.clone(),
                    rustc: rustc.clone(),
                });
            }
        }
        for (cargo, rustc) in &candidates {
            let Some(root) = sysroot(rustc) else { continue };
            if has_library_source(&root) && Command::new(cargo).arg("--version").output().is_ok() {
                return Ok(Toolchain::BuildStd {
                    cargo: cargo.clone(),
                    rustc: rustc.clone(),
                });
            }
        }
        bail!(
            "no toolchain can build for {TARGET}: run `bash scripts/setup.sh` \
             (Debian: rustc-web cargo-web rust-web-src lld-22), or `rustup target add {TARGET}`"
        )
    }

    fn rustc(&self) -> &Path {
        match self {
            Toolchain::Installed { rustc, .. } | Toolchain::BuildStd { rustc, .. } => rustc,
        }
    }

    fn cargo(&self) -> &Path {
        match self {
            Toolchain::Installed { cargo, .. } | Toolchain::BuildStd { cargo, .. } => cargo,
        }
    }
}

/// The linker: the toolchain's own `rust-lld` when it ships one, else a
/// system `ld.lld` (Debian's lld-22), which is the same linker.
fn linker(toolchain: &Toolchain) -> Result<Option<PathBuf>> {
    if let Some(root) = sysroot(toolchain.rustc()) {
        let host = root.join("lib/rustlib");
        if let Ok(dirs) = std::fs::read_dir(&host) {
            for dir in dirs.flatten() {
                if dir.path().join("bin/rust-lld").is_file() {
                    return Ok(None);
                }
            }
        }
    }
    for name in ["rust-lld", "ld.lld-22", "ld.lld"] {
        if let Some(path) = which(name) {
            return Ok(if name == "rust-lld" { None } else { Some(path) });
        }
    }
    bail!("no linker for {TARGET}: install lld (`bash scripts/setup.sh` installs lld-22)")
}

/// Looks `name` up in PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Builds the firmware (release profile) and returns the ELF's path.
pub fn build(board: BoardKind) -> Result<PathBuf> {
    let dir = firmware_dir();
    let toolchain = Toolchain::detect()?;
    let mut cmd = Command::new(toolchain.cargo());
    cmd.current_dir(&dir)
        .args([
            "build",
            "--release",
            "--no-default-features",
            "--features",
            board.feature(),
            "--target-dir",
            board.target_dir(),
        ])
        .env("RUSTC", toolchain.rustc())
        // An outer cargo (tests, clippy) leaks settings meant for the host build.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS");
    if let Toolchain::BuildStd { .. } = toolchain {
        cmd.args(["-Z", "build-std=core"])
            .env("RUSTC_BOOTSTRAP", "1");
    }
    if let Some(linker) = linker(&toolchain)? {
        cmd.env("CARGO_TARGET_THUMBV7EM_NONE_EABIHF_LINKER", linker);
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", toolchain.cargo().display()))?;
    if !out.status.success() {
        bail!(
            "firmware build failed ({:?}):\n{}",
            toolchain,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let elf = dir
        .join(board.target_dir())
        .join(TARGET)
        .join("release/mote-firmware");
    if !elf.is_file() {
        bail!("firmware build produced no ELF at {}", elf.display());
    }
    Ok(elf)
}
