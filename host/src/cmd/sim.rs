//! `mote sim`: build the firmware and run it on a simulated board: a model on
//! `.npy` inputs (outputs written back as `.npy`), the firmware's embedded
//! segmenter and counter on camera frames made from pictures (`--frames`), or
//! one of the firmware's own commands.
use std::path::PathBuf;

use anyhow::{anyhow, bail, ensure, Result};
use mote_core::Model;
use mote_host::{firmware, frames, infer, model_file, npy, sim};

#[derive(clap::Args)]
pub struct Args {
    /// A `.mote` blob or a `.tflite` file (imported on the fly). Without it,
    /// the firmware runs `--command`.
    model: Option<PathBuf>,
    /// Input tensor (`.npy`, NHWC, batch dimension optional); repeat for several.
    #[arg(long)]
    input: Vec<PathBuf>,
    /// Where to write an output (`.npy`); repeat for several.
    #[arg(long)]
    output: Vec<PathBuf>,
    /// Simulated CPU: cortex-m4 (mps2-an386) or cortex-m7 (mps2-an500).
    #[arg(long, default_value = "cortex-m4")]
    cpu: String,
    /// Pictures to run the firmware's embedded models on, as camera frames
    /// (resized to `--camera`, encoded as `--format`).
    #[arg(long, num_args = 1.., conflicts_with_all = ["model", "input"])]
    frames: Vec<PathBuf>,
    /// Camera pixel format for `--frames`: rgb565 (high byte first), rgb565le,
    /// rgb888 or gray8.
    #[arg(long, default_value = "rgb565")]
    format: String,
    /// Camera frame size for `--frames`, WIDTHxHEIGHT.
    #[arg(long, default_value = "160x120")]
    camera: String,
    /// Folder for `--frames` results: each frame's raw outputs (`.npy`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// A firmware command when no model is given, e.g. "calibrate 1000000".
    #[arg(long, default_value = "hello")]
    command: String,
    /// Print the firmware's whole log (per-op lines included).
    #[arg(long, short)]
    verbose: bool,
}

pub fn run(args: Args) -> Result<()> {
    let board = sim::SimBoard::parse(&args.cpu)?;
    let elf = firmware::build(firmware::BoardKind::Sim)?;
    if !args.frames.is_empty() {
        return run_frames(&args, &elf, board);
    }
    let Some(model_path) = &args.model else {
        let words = args.command.split_whitespace();
        let run = sim::run(&elf, &sim::SimOptions::new(board).args(words))?;
        print!("{}", run.log);
        ensure!(
            run.status == 0,
            "firmware exited with status {}",
            run.status
        );
        return Ok(());
    };
    let file = model_file::load(model_path)?;
    let model = Model::parse(&file.blob).map_err(|e| anyhow!("{}: {e}", model_path.display()))?;
    let inputs = args
        .input
        .iter()
        .map(|p| npy::Array::read(p))
        .collect::<Result<Vec<_>>>()?;
    infer::check_inputs(&model, &inputs)?;
    let bytes: Vec<Vec<u8>> = inputs.into_iter().map(|a| a.data).collect();
    let run = sim::run_model(&elf, board, &file.blob, &bytes, model.output_count(), None)?;
    if args.verbose || run.sim.status != 0 {
        print!("{}", run.sim.log);
    }
    if run.sim.status != 0 {
        bail!("firmware exited with status {}", run.sim.status);
    }
    let outputs = infer::output_arrays(&model, run.outputs)?;
    for (array, path) in outputs.iter().zip(&args.output) {
        array.write(path)?;
        println!("{}: {:?} {:?}", path.display(), array.dtype, array.shape);
    }
    let instructions = run
        .instructions
        .ok_or_else(|| anyhow!("the firmware reported no count"))?;
    let macs: u64 = run.ops.iter().map(|op| op.macs).sum();
    println!(
        "{}: {} instructions ({} ops, {} MACs, {:.2} instructions/MAC), stack {} bytes",
        board.cpu(),
        instructions,
        run.ops.len(),
        macs,
        instructions as f64 / macs.max(1) as f64,
        run.stack_bytes.unwrap_or(0)
    );
    Ok(())
}

/// `--frames`: the embedded models on camera frames made from pictures.
fn run_frames(args: &Args, elf: &std::path::Path, board: sim::SimBoard) -> Result<()> {
    let format = frames::pixel_format(&args.format)?;
    let (width, height) = frames::parse_size(&args.camera)?;
    let rgb = args
        .frames
        .iter()
        .map(|p| frames::camera_rgb(p, width, height))
        .collect::<Result<Vec<_>>>()?;
    let camera = rgb
        .iter()
        .map(|px| frames::encode(format, px))
        .collect::<Result<Vec<_>>>()?;
    let run = frames::run_frames(elf, board, &camera, format, width, height)?;
    if args.verbose || run.sim.status != 0 {
        print!("{}", run.sim.log);
    }
    if run.sim.status != 0 {
        bail!("firmware exited with status {}", run.sim.status);
    }
    let blobs = frames::embedded_models(elf, board)?;
    let models = [Model::parse(&blobs[0]), Model::parse(&blobs[1])];
    let [Ok(segmenter), Ok(counter)] = &models else {
        bail!("the firmware's embedded models do not parse");
    };
    for (k, (frame, picture)) in run.frames.iter().zip(&args.frames).enumerate() {
        println!("frame {k} ({}):", picture.display());
        for ((name, model_run), model) in frames::MODELS
            .iter()
            .zip(&frame.models)
            .zip([segmenter, counter])
        {
            println!(
                "  {name}: {} instructions ({} ops), preprocessing {} instructions",
                model_run
                    .instructions
                    .ok_or_else(|| anyhow!("the firmware reported no count for {name}"))?,
                model_run.ops.len(),
                model_run.preprocess.unwrap_or(0)
            );
            for (class, c) in model_run.classes.iter().enumerate() {
                match c.bbox {
                    Some([x0, y0, x1, y1]) => println!(
                        "    class {class}: {} pixels, box ({x0},{y0})-({x1},{y1})",
                        c.area
                    ),
                    None => println!("    class {class}: 0 pixels"),
                }
            }
            if let Some(c) = model_run.count {
                println!("    count {:.2} ({} peaks)", c.count, c.peaks);
            }
            if let Some(dir) = &args.out {
                std::fs::create_dir_all(dir)?;
                let arrays = infer::output_arrays(model, model_run.outputs.clone())?;
                for (j, array) in arrays.iter().enumerate() {
                    array.write(&dir.join(format!("frame{k}.{name}{j}.npy")))?;
                }
            }
        }
        if let (Some(dir), Some(px)) = (&args.out, rgb.get(k)) {
            let path = dir.join(format!("frame{k}.png"));
            frames::picture(px, width, height, [segmenter, counter], frame)?.save(&path)?;
            println!("  picture: {}", path.display());
        }
    }
    println!(
        "{}: stack {} bytes",
        board.cpu(),
        run.stack_bytes.unwrap_or(0)
    );
    Ok(())
}
