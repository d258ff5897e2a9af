//! One module per subcommand; this file only lists them.
use clap::{Parser, Subcommand};

mod sim;
mod train;

#[derive(Parser)]
#[command(
    name = "mote",
    version,
    about = "From synthetic data to int8 models on Cortex-M"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the firmware and run it on a simulated board (QEMU).
    Sim(sim::Args),
    /// Train the segmenter or the counter (candle, CPU).
    Train(train::Args),
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Sim(args) => sim::run(args),
            Command::Train(args) => train::run(args),
        }
    }
}
