//! Writing data sets to disk: images, ground truth, `meta.json`, and an
//! optional contact sheet. Rendering runs in parallel with rayon; results are
//! collected in index order, so files and statistics do not depend on the
//! thread count.
use std::fs;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, GrayImage, ImageEncoder, RgbImage};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::crowds::{self, CameraInfo, Head};
use super::fractals::{self, Ifs};
use super::{faces, preview, GENERATOR_VERSION};

/// What to generate and where.
#[derive(Clone, Debug)]
pub struct Job {
    pub out: PathBuf,
    pub seed: u64,
    pub count: usize,
    pub size: u32,
    pub preview: Option<PathBuf>,
    pub progress: bool,
}

/// `meta.json`: which generator, how it was called, and what came out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta<S> {
    pub generator: String,
    pub version: u32,
    pub seed: u64,
    pub count: usize,
    pub size: u32,
    pub stats: S,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaceStats {
    /// Fraction of faces wearing glasses.
    pub glasses_faces_fraction: f64,
    /// Mean fraction of pixels per class: other, glasses, shadow.
    pub pixel_fraction: [f64; 3],
    /// Fraction of faces with glasses whose shadow is labelled somewhere.
    pub shadow_faces_fraction: f64,
    /// Faces per frame style.
    pub styles: Vec<(String, usize)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CrowdStats {
    pub mean_count: f64,
    pub median_count: usize,
    pub max_count: usize,
    pub min_count: usize,
    pub total_heads: usize,
    pub empty_images: usize,
    /// Share of placed people whose head is hidden or out of frame.
    pub hidden_fraction: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FractalStats {
    pub classes: usize,
    pub per_class: usize,
    pub fill_threshold: f32,
    /// The category systems, by class index.
    pub categories: Vec<Ifs>,
}

/// Per-image annotation next to each crowd image (`NNNNN.heads.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CrowdAnnotation {
    pub count: usize,
    pub camera: CameraInfo,
    pub heads: Vec<Head>,
}

fn bar(n: usize, show: bool) -> ProgressBar {
    if !(show && std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(n as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}") {
        pb.set_style(style);
    }
    pb
}

/// Write an 8-bit PNG with fast (but deterministic) compression.
pub fn write_png(path: &Path, w: u32, h: u32, data: &[u8], color: ExtendedColorType) -> Result<()> {
    write_png_with(path, w, h, data, color, CompressionType::Fast)
}

fn write_png_with(
    path: &Path,
    w: u32,
    h: u32,
    data: &[u8],
    color: ExtendedColorType,
    level: CompressionType,
) -> Result<()> {
    let f = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    // Data files favour speed (Sub filter); contact sheets favour size.
    let filter = match level {
        CompressionType::Best => FilterType::Adaptive,
        _ => FilterType::Sub,
    };
    PngEncoder::new_with_quality(BufWriter::new(f), level, filter)
        .write_image(data, w, h, color)
        .with_context(|| format!("writing {}", path.display()))
}

fn write_meta<S: Serialize>(dir: &Path, meta: &Meta<S>) -> Result<()> {
    let p = dir.join("meta.json");
    fs::write(&p, serde_json::to_string_pretty(meta)? + "\n")
        .with_context(|| format!("writing {}", p.display()))
}

fn save_rgb(path: &Path, img: &RgbImage) -> Result<()> {
    write_png(
        path,
        img.width(),
        img.height(),
        img.as_raw(),
        ExtendedColorType::Rgb8,
    )
}

/// Contact sheets are written once and kept in docs: compress them well.
fn save_sheet(path: &Path, img: &RgbImage) -> Result<()> {
    write_png_with(
        path,
        img.width(),
        img.height(),
        img.as_raw(),
        ExtendedColorType::Rgb8,
        CompressionType::Best,
    )
}

fn save_gray(path: &Path, img: &GrayImage) -> Result<()> {
    write_png(
        path,
        img.width(),
        img.height(),
        img.as_raw(),
        ExtendedColorType::L8,
    )
}

/// Tiles kept for the contact sheet.
const PREVIEW_FACES: usize = 16;
const PREVIEW_CROWDS: usize = 8;

/// `DIR/NNNNN.png` + `DIR/NNNNN.mask.png` + `DIR/meta.json`.
pub fn write_faces(job: &Job) -> Result<Meta<FaceStats>> {
    fs::create_dir_all(&job.out).with_context(|| format!("creating {}", job.out.display()))?;
    let pb = bar(job.count, job.progress);
    type Row = (Option<faces::FaceSample>, Option<&'static str>, [usize; 3]);
    let rows: Vec<Result<Row>> = (0..job.count)
        .into_par_iter()
        .map(|i| {
            let f = faces::render(job.seed, i as u64, job.size);
            save_rgb(&job.out.join(format!("{i:05}.png")), &f.image)?;
            save_gray(&job.out.join(format!("{i:05}.mask.png")), &f.mask)?;
            pb.inc(1);
            let style = f.glasses.map(style_name);
            let counts = f.class_counts();
            Ok((
                if i < PREVIEW_FACES { Some(f) } else { None },
                style,
                counts,
            ))
        })
        .collect();
    pb.finish_and_clear();
    let rows: Vec<Row> = rows.into_iter().collect::<Result<_>>()?;
    let n = rows.len().max(1) as f64;
    let px = (job.size as f64) * (job.size as f64);
    let mut frac = [0.0f64; 3];
    let (mut with, mut shadowed) = (0usize, 0usize);
    let mut styles: Vec<(String, usize)> = Vec::new();
    for (_, style, counts) in &rows {
        for k in 0..3 {
            frac[k] += counts[k] as f64 / px / n;
        }
        if let Some(s) = style {
            with += 1;
            if counts[2] > 0 {
                shadowed += 1;
            }
            match styles.iter_mut().find(|(name, _)| name == s) {
                Some(e) => e.1 += 1,
                None => styles.push((s.to_string(), 1)),
            }
        }
    }
    styles.sort();
    if let Some(path) = &job.preview {
        let mut tiles = Vec::new();
        for f in rows.iter().filter_map(|r| r.0.as_ref()) {
            tiles.push(f.image.clone());
            tiles.push(preview::overlay_mask(&f.image, &f.mask));
        }
        save_sheet(path, &preview::sheet(&tiles, 8))?;
    }
    let meta = Meta {
        generator: "faces".into(),
        version: GENERATOR_VERSION,
        seed: job.seed,
        count: job.count,
        size: job.size,
        stats: FaceStats {
            glasses_faces_fraction: with as f64 / n,
            pixel_fraction: frac,
            shadow_faces_fraction: shadowed as f64 / (with.max(1) as f64),
            styles,
        },
    };
    write_meta(&job.out, &meta)?;
    Ok(meta)
}

fn style_name(s: super::glasses::Style) -> &'static str {
    use super::glasses::Style::*;
    match s {
        Round => "round",
        Rectangular => "rectangular",
        CatEye => "cat-eye",
        Aviator => "aviator",
        Rimless => "rimless",
        HalfRim => "half-rim",
    }
}

/// `x,y` lines for the visible heads.
pub fn points_csv(heads: &[Head]) -> String {
    let mut s = String::from("x,y\n");
    for h in heads {
        s.push_str(&format!("{:.2},{:.2}\n", h.x, h.y));
    }
    s
}

/// Read a `points.csv` back (header `x,y`, extra columns ignored).
pub fn read_points(path: &Path) -> Result<Vec<(f32, f32)>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut it = line.split(',');
        let parse = |s: Option<&str>| -> Result<f32> {
            s.and_then(|v| v.trim().parse().ok())
                .with_context(|| format!("{}:{}: bad point line {line:?}", path.display(), n + 1))
        };
        out.push((parse(it.next())?, parse(it.next())?));
    }
    Ok(out)
}

/// Read the per-image crowd annotation (`NNNNN.heads.json`).
pub fn read_annotation(path: &Path) -> Result<CrowdAnnotation> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// `DIR/NNNNN.png` + `DIR/NNNNN.points.csv` + `DIR/NNNNN.heads.json` + `DIR/meta.json`.
pub fn write_crowds(job: &Job) -> Result<Meta<CrowdStats>> {
    fs::create_dir_all(&job.out).with_context(|| format!("creating {}", job.out.display()))?;
    let pb = bar(job.count, job.progress);
    type Row = (Option<crowds::CrowdSample>, usize, usize);
    let rows: Vec<Result<Row>> = (0..job.count)
        .into_par_iter()
        .map(|i| {
            let c = crowds::render(job.seed, i as u64, job.size);
            save_rgb(&job.out.join(format!("{i:05}.png")), &c.image)?;
            let p = job.out.join(format!("{i:05}.points.csv"));
            fs::write(&p, points_csv(&c.heads))
                .with_context(|| format!("writing {}", p.display()))?;
            let ann = CrowdAnnotation {
                count: c.heads.len(),
                camera: c.camera.clone(),
                heads: c.heads.clone(),
            };
            let p = job.out.join(format!("{i:05}.heads.json"));
            fs::write(&p, serde_json::to_string(&ann)? + "\n")
                .with_context(|| format!("writing {}", p.display()))?;
            pb.inc(1);
            let (count, placed) = (c.heads.len(), c.placed);
            Ok((
                if i < PREVIEW_CROWDS { Some(c) } else { None },
                count,
                placed,
            ))
        })
        .collect();
    pb.finish_and_clear();
    let rows: Vec<Row> = rows.into_iter().collect::<Result<_>>()?;
    let mut counts: Vec<usize> = rows.iter().map(|r| r.1).collect();
    let placed: usize = rows.iter().map(|r| r.2).sum();
    let total: usize = counts.iter().sum();
    if let Some(path) = &job.preview {
        let mut tiles = Vec::new();
        for c in rows.iter().filter_map(|r| r.0.as_ref()) {
            let pts: Vec<(f32, f32)> = c.heads.iter().map(|h| (h.x, h.y)).collect();
            tiles.push(c.image.clone());
            tiles.push(preview::overlay_points(&c.image, &pts));
        }
        save_sheet(path, &preview::sheet(&tiles, 4))?;
    }
    counts.sort_unstable();
    let meta = Meta {
        generator: "crowds".into(),
        version: GENERATOR_VERSION,
        seed: job.seed,
        count: job.count,
        size: job.size,
        stats: CrowdStats {
            mean_count: total as f64 / counts.len().max(1) as f64,
            median_count: counts.get(counts.len() / 2).copied().unwrap_or(0),
            max_count: counts.last().copied().unwrap_or(0),
            min_count: counts.first().copied().unwrap_or(0),
            total_heads: total,
            empty_images: counts.iter().filter(|c| **c == 0).count(),
            hidden_fraction: 1.0 - total as f64 / placed.max(1) as f64,
        },
    };
    write_meta(&job.out, &meta)?;
    Ok(meta)
}

/// Fractal data set options.
#[derive(Clone, Debug)]
pub struct FractalJob {
    pub out: PathBuf,
    pub seed: u64,
    pub classes: usize,
    pub per_class: usize,
    pub size: u32,
    pub threshold: f32,
    pub preview: Option<PathBuf>,
    pub progress: bool,
}

/// `DIR/CCCC/NNNN.png` (one folder per category) + `DIR/meta.json`.
pub fn write_fractals(job: &FractalJob) -> Result<Meta<FractalStats>> {
    fs::create_dir_all(&job.out).with_context(|| format!("creating {}", job.out.display()))?;
    let cats: Vec<Ifs> = (0..job.classes)
        .into_par_iter()
        .map(|c| fractals::category(job.seed, c as u64, job.threshold))
        .collect();
    for c in 0..job.classes {
        let d = job.out.join(format!("{c:04}"));
        fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    let total = job.classes * job.per_class;
    let pb = bar(total, job.progress);
    let rows: Vec<Result<Option<RgbImage>>> = (0..total)
        .into_par_iter()
        .map(|k| {
            let (c, i) = (k / job.per_class.max(1), k % job.per_class.max(1));
            let img = fractals::render_instance(&cats[c], job.seed, c as u64, i as u64, job.size);
            save_rgb(&job.out.join(format!("{c:04}/{i:04}.png")), &img)?;
            pb.inc(1);
            Ok((c < 8 && i < 6).then_some(img))
        })
        .collect();
    pb.finish_and_clear();
    let rows: Vec<Option<RgbImage>> = rows.into_iter().collect::<Result<_>>()?;
    if let Some(path) = &job.preview {
        let tiles: Vec<RgbImage> = rows.into_iter().flatten().collect();
        save_sheet(path, &preview::sheet(&tiles, job.per_class.clamp(1, 6)))?;
    }
    let meta = Meta {
        generator: "fractals".into(),
        version: GENERATOR_VERSION,
        seed: job.seed,
        count: total,
        size: job.size,
        stats: FractalStats {
            classes: job.classes,
            per_class: job.per_class,
            fill_threshold: job.threshold,
            categories: cats,
        },
    };
    write_meta(&job.out, &meta)?;
    Ok(meta)
}
