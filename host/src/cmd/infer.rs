//! `mote infer MODEL --input in.npy --output out.npy`: one inference
//! through `mote-core`, tensors in and out as `.npy`.
use std::path::PathBuf;

use anyhow::{anyhow, ensure, Result};
use mote_core::Model;
use mote_host::{infer, model_file, npy};

#[derive(clap::Args)]
pub struct Args {
    /// A `.mote` blob or a `.tflite` file (imported on the fly).
    model: PathBuf,
    /// Input tensor (`.npy`, the model input's type, NHWC, batch dimension
    /// optional). Repeat for several inputs, in the model's order.
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Where to write an output (`.npy`). Repeat for several outputs, in the
    /// model's order.
    #[arg(long, required = true)]
    output: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let file = model_file::load(&args.model)?;
    let model = Model::parse(&file.blob).map_err(|e| anyhow!("{}: {e}", args.model.display()))?;
    ensure!(
        args.input.len() == model.input_count(),
        "the model has {} input(s), {} --input given",
        model.input_count(),
        args.input.len()
    );
    ensure!(
        args.output.len() <= model.output_count(),
        "the model has {} output(s), {} --output given",
        model.output_count(),
        args.output.len()
    );
    let inputs = args
        .input
        .iter()
        .map(|p| npy::Array::read(p))
        .collect::<Result<Vec<_>>>()?;
    let outputs = infer::run(&model, &inputs)?;
    for (array, path) in outputs.iter().zip(&args.output) {
        array.write(path)?;
        println!("{}: {:?} {:?}", path.display(), array.dtype, array.shape);
    }
    Ok(())
}
