//! `mote flash`: build the real-board firmware and run it on a board through a
//! debug probe with probe-rs, which flashes it, resets the core and prints the
//! firmware's defmt log until it halts.
use std::process::Command;

use anyhow::{bail, Context, Result};
use mote_host::firmware::{self, BoardKind};

/// How to get probe-rs, for the error when it is missing.
const INSTALL_HINT: &str = "install it with `cargo install probe-rs-tools --locked` \
     (or the installer at https://probe.rs/docs/getting-started/installation/); \
     on Linux also install its udev rules \
     (https://probe.rs/docs/getting-started/probe-setup/) so the probe is usable without root";

#[derive(clap::Args)]
pub struct Args {
    /// Target chip, as probe-rs names it (`probe-rs chip list`).
    #[arg(long, default_value = "STM32H743ZITx")]
    chip: String,
    /// Which probe, when several are connected: VID:PID[:SERIAL] (`probe-rs list`).
    #[arg(long)]
    probe: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    // Before the (slow) build: without probe-rs there is nothing to flash with.
    let Some(probe_rs) = firmware::which("probe-rs") else {
        bail!("probe-rs is not installed: {INSTALL_HINT}");
    };
    let elf = firmware::build(BoardKind::H743)?;
    let mut cmd = Command::new(&probe_rs);
    cmd.args(["run", "--chip", &args.chip]);
    if let Some(probe) = &args.probe {
        cmd.args(["--probe", probe]);
    }
    cmd.arg(&elf);
    eprintln!("flashing {} with {}", elf.display(), probe_rs.display());
    let status = cmd
        .status()
        .with_context(|| format!("running {}", probe_rs.display()))?;
    if !status.success() {
        bail!("probe-rs exited with {status}");
    }
    Ok(())
}
