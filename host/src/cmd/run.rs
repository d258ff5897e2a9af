//! `mote run MODEL IMAGE... --out DIR`: a segmenter's masks and overlays, or
//! a counter's heat maps and counts, for images of any size, computed by
//! `mote-core` exactly as on the device (see `mote_host::apply`).
use std::path::PathBuf;

use anyhow::Result;
use mote_host::{apply, model_file};

#[derive(clap::Args)]
pub struct Args {
    /// A `.mote` blob whose head is segmentation or density.
    model: PathBuf,
    /// PNG images (any size: centre-cropped and scaled to the model input).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let file = model_file::load(&args.model)?;
    let results = apply::run_to_dir(&file.blob, &args.images, &args.out)?;
    for (name, count) in &results {
        match count {
            Some(c) => println!("{name}: count {c:.2}"),
            None => println!("{name}: mask and overlay written"),
        }
    }
    println!("wrote {} image(s) to {}", results.len(), args.out.display());
    Ok(())
}
