//! `mote synth`: render synthetic training data (faces, crowds, fractals).
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use mote_host::synth::dataset::{self, FractalJob, Job};
use mote_host::synth::fractals::FILL_THRESHOLD;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    kind: Kind,
}

/// Options shared by the image generators.
#[derive(clap::Args)]
struct Common {
    /// Number of images.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Also write a contact sheet with the ground truth overlaid.
    #[arg(long)]
    preview: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Subcommand)]
enum Kind {
    /// Portraits with eyeglasses and their cast shadows, plus class masks.
    Faces {
        #[command(flatten)]
        common: Common,
        /// Image side in pixels.
        #[arg(long, default_value_t = 96)]
        size: u32,
    },
    /// Crowds on a ground plane, plus visible head points.
    Crowds {
        #[command(flatten)]
        common: Common,
        /// Image side in pixels.
        #[arg(long, default_value_t = 128)]
        size: u32,
    },
    /// Fractal images from random iterated function systems, one folder per class.
    Fractals {
        /// Number of categories (IFS).
        #[arg(long, default_value_t = 100)]
        classes: usize,
        /// Instances per category.
        #[arg(long, default_value_t = 10)]
        per_class: usize,
        #[arg(long, default_value_t = 64)]
        size: u32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Minimum filling rate of a category's attractor.
        #[arg(long, default_value_t = FILL_THRESHOLD)]
        fill: f32,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        preview: Option<PathBuf>,
        #[arg(long)]
        quiet: bool,
    },
}

fn job(c: Common, size: u32) -> Result<Job> {
    if !(8..=4096).contains(&size) {
        bail!("--size must be between 8 and 4096, got {size}");
    }
    Ok(Job {
        out: c.out,
        seed: c.seed,
        count: c.count,
        size,
        preview: c.preview,
        progress: !c.quiet,
    })
}

fn report(what: &str, n: usize, t: Instant, out: &std::path::Path) {
    let s = t.elapsed().as_secs_f64();
    println!(
        "{n} {what} in {s:.2} s ({:.0}/s) -> {}",
        n as f64 / s.max(1e-9),
        out.display()
    );
}

pub fn run(args: Args) -> Result<()> {
    let t = Instant::now();
    match args.kind {
        Kind::Faces { common, size } => {
            let job = job(common, size)?;
            let meta = dataset::write_faces(&job)?;
            report("faces", job.count, t, &job.out);
            println!(
                "glasses on {:.1}% of faces; pixels: glasses {:.2}%, shadow {:.2}%",
                100.0 * meta.stats.glasses_faces_fraction,
                100.0 * meta.stats.pixel_fraction[1],
                100.0 * meta.stats.pixel_fraction[2]
            );
        }
        Kind::Crowds { common, size } => {
            let job = job(common, size)?;
            let meta = dataset::write_crowds(&job)?;
            report("crowds", job.count, t, &job.out);
            println!(
                "heads per image: mean {:.1}, median {}, max {}; empty images {}",
                meta.stats.mean_count,
                meta.stats.median_count,
                meta.stats.max_count,
                meta.stats.empty_images
            );
        }
        Kind::Fractals {
            classes,
            per_class,
            size,
            seed,
            fill,
            out,
            preview,
            quiet,
        } => {
            if !(8..=4096).contains(&size) {
                bail!("--size must be between 8 and 4096, got {size}");
            }
            if !(0.0..1.0).contains(&fill) {
                bail!("--fill must be in [0, 1), got {fill}");
            }
            let job = FractalJob {
                out,
                seed,
                classes,
                per_class,
                size,
                threshold: fill,
                preview,
                progress: !quiet,
            };
            dataset::write_fractals(&job)?;
            report("fractals", classes * per_class, t, &job.out);
        }
    }
    Ok(())
}
