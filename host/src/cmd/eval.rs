//! `mote eval MODEL --data DIR [--json]`: per-class and mean IoU of a
//! segmenter, or MAE / RMSE / relative MAE of a counter, on a folder made by
//! `mote synth` (see `mote_host::evaluate`).
use std::path::PathBuf;

use anyhow::Result;
use mote_host::evaluate::{evaluate, Evaluation};
use mote_host::model_file;

#[derive(clap::Args)]
pub struct Args {
    /// A `.mote` blob whose head is segmentation or density.
    model: PathBuf,
    /// Folder of `NAME.png` with `NAME.mask.png` (faces) or `NAME.points.csv` (crowds).
    #[arg(long)]
    data: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let file = model_file::load(&args.model)?;
    let e = evaluate(&file.blob, &args.data)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    match e {
        Evaluation::Segmentation(s) => {
            println!("{} images", s.images);
            for (k, iou) in s.iou.iter().enumerate() {
                println!("class {k}: IoU {iou:.4}");
            }
            println!("mean IoU {:.4}", s.mean_iou);
        }
        Evaluation::Counting(c) => {
            println!("{} images, mean count {:.2}", c.images, c.mean_count);
            println!(
                "MAE {:.3}  RMSE {:.3}  MAE/mean {:.4}",
                c.mae, c.rmse, c.relative_mae
            );
        }
    }
    Ok(())
}
