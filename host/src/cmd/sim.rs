//! `mote sim`: build the firmware and run it on a simulated board.
use anyhow::{bail, Result};
use mote_host::{firmware, sim};

#[derive(clap::Args)]
pub struct Args {
    /// Simulated CPU: cortex-m4 (mps2-an386) or cortex-m7 (mps2-an500).
    #[arg(long, default_value = "cortex-m4")]
    cpu: String,
    /// Words passed to the firmware, e.g. `calibrate 1000000` (default: its self-check).
    #[arg(trailing_var_arg = true)]
    firmware_args: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let board = sim::SimBoard::parse(&args.cpu)?;
    let elf = firmware::build(firmware::BoardKind::Sim)?;
    let run = sim::run(&elf, &sim::SimOptions::new(board).args(args.firmware_args))?;
    print!("{}", run.log);
    if run.status != 0 {
        bail!("firmware exited with status {}", run.status);
    }
    Ok(())
}
