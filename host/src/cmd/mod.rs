//! One module per subcommand; this file only lists them.
use clap::{Parser, Subcommand};

mod bench;
mod eval;
mod export;
mod flash;
mod import;
mod infer;
mod inspect;
mod run;
mod sim;
mod synth;
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
    /// Quantize a training run to int8: blob + model card.
    Export(export::Args),
    /// Convert an int8 `.tflite` model into a mote blob.
    Import(import::Args),
    /// Build the firmware and run it on a simulated board (QEMU).
    Sim(sim::Args),
    /// Instructions per inference/layer/MAC, arena, stack and flash on the simulated boards.
    Bench(bench::Args),
    /// Build the STM32H743 firmware and run it on a board with probe-rs.
    Flash(flash::Args),
    /// Show a model's ops, tensors, MACs, weights and arena (vs TFLM's).
    Inspect(inspect::Args),
    /// Run one inference through mote-core: .npy in, .npy out.
    Infer(infer::Args),
    /// A segmenter's masks/overlays or a counter's heat maps/counts for images.
    Run(run::Args),
    /// Accuracy on a `mote synth` folder: IoU per class, or count MAE/RMSE.
    Eval(eval::Args),
    /// Render synthetic training data: faces, crowds, fractals.
    Synth(synth::Args),
    /// Train the segmenter or the counter (candle, CPU).
    Train(train::Args),
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Export(args) => export::run(args),
            Command::Import(args) => import::run(args),
            Command::Sim(args) => sim::run(args),
            Command::Bench(args) => bench::run(args),
            Command::Flash(args) => flash::run(args),
            Command::Inspect(args) => inspect::run(args),
            Command::Infer(args) => infer::run(args),
            Command::Run(args) => run::run(args),
            Command::Eval(args) => eval::run(args),
            Command::Synth(args) => synth::run(args),
            Command::Train(args) => train::run(args),
        }
    }
}
