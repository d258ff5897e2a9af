//! Camera frames through the firmware's embedded models on a simulated board.
//!
//! The firmware's `frames N FORMAT W H` command reads `frame{k}.bin` through
//! semihosting, preprocesses each with mote-core, runs the segmenter then the
//! counter, writes every raw output back (`frame{k}.{model}{j}.bin`) and logs
//! per-op instruction counts and what the heads make of the outputs. This
//! module writes the frames, runs QEMU and reads all of that back.
use std::path::Path;

use anyhow::{bail, Context, Result};

use mote_core::preprocess::{luma, rgb888_to_rgb565, PixelFormat};

use crate::sim::{self, OpCost, SimBoard, SimOptions, SimRun};

/// A camera pixel format by the name the firmware's `frames` command and
/// `mote sim --format` use.
pub fn pixel_format(name: &str) -> Result<PixelFormat> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "rgb565" | "rgb565be" => PixelFormat::Rgb565Be,
        "rgb565le" => PixelFormat::Rgb565Le,
        "rgb888" => PixelFormat::Rgb888,
        "gray8" => PixelFormat::Gray8,
        other => bail!("camera format {other:?}: use rgb565, rgb565le, rgb888 or gray8"),
    })
}

/// The firmware's name for `format`.
pub fn format_name(format: PixelFormat) -> &'static str {
    match format {
        PixelFormat::Rgb565Be => "rgb565",
        PixelFormat::Rgb565Le => "rgb565le",
        PixelFormat::Rgb888 => "rgb888",
        PixelFormat::Gray8 => "gray8",
        PixelFormat::Yuyv => "yuyv",
    }
}

/// 8-bit RGB pixels as a camera delivering `format` would send them.
/// YUYV is not produced (no RGB → YUV conversion here).
pub fn encode(format: PixelFormat, rgb: &[u8]) -> Result<Vec<u8>> {
    let px = rgb.chunks_exact(3).map(|p| [p[0], p[1], p[2]]);
    Ok(match format {
        PixelFormat::Rgb888 => rgb.to_vec(),
        PixelFormat::Rgb565Be => px.flat_map(|p| rgb888_to_rgb565(p).to_be_bytes()).collect(),
        PixelFormat::Rgb565Le => px.flat_map(|p| rgb888_to_rgb565(p).to_le_bytes()).collect(),
        PixelFormat::Gray8 => px.map(|[r, g, b]| luma(r, g, b)).collect(),
        PixelFormat::Yuyv => bail!("cannot encode YUYV frames"),
    })
}

/// `160x120` → (160, 120).
pub fn parse_size(text: &str) -> Result<(usize, usize)> {
    let parsed = text
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)));
    match parsed {
        Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => bail!("camera size {text:?}: expected WIDTHxHEIGHT, e.g. 160x120"),
    }
}

/// A picture as the camera would see it: scaled to `width x height` (the
/// whole picture, aspect ratio not kept), 8-bit RGB. Encode it with
/// [`encode`] for the frame the camera delivers.
pub fn camera_rgb(path: &Path, width: usize, height: usize) -> Result<Vec<u8>> {
    let picture = image::open(path)
        .with_context(|| format!("reading {}", path.display()))?
        .to_rgb8();
    let (w, h) = (u32::try_from(width)?, u32::try_from(height)?);
    let scaled = image::imageops::resize(&picture, w, h, image::imageops::FilterType::Triangle);
    Ok(scaled.into_raw())
}

/// The embedded models, in the order the firmware runs them.
pub const MODELS: [&str; 2] = ["segmenter", "counter"];

/// One model's run on one frame, as the firmware reported it.
#[derive(Clone, Debug, Default)]
pub struct ModelRun {
    /// Raw output tensors, in the model's output order.
    pub outputs: Vec<Vec<u8>>,
    /// Instructions for the whole inference.
    pub instructions: Option<u64>,
    /// Instructions to make the model's input from the frame.
    pub preprocess: Option<u64>,
    pub ops: Vec<OpCost>,
    /// Segmentation head: per class, its area in output pixels and its
    /// bounding box (`x_min, y_min, x_max, y_max`), as logged.
    pub classes: Vec<ClassResult>,
    /// Density head: the count as logged.
    pub count: Option<CountResult>,
}

/// One class of a segmentation result, as the firmware logged it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassResult {
    pub area: u32,
    pub bbox: Option<[u16; 4]>,
}

/// A density result as the firmware logged it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CountResult {
    /// `scale * sum_q`.
    pub count: f32,
    /// The exact integer sum of the map's `q - zero_point`.
    pub sum_q: i64,
    /// Local peaks found.
    pub peaks: u32,
}

/// Both models' runs on one frame (`models[i]` is [`MODELS`]`[i]`).
#[derive(Clone, Debug, Default)]
pub struct FrameRun {
    pub models: [ModelRun; 2],
}

/// What a `frames` run produced.
#[derive(Debug)]
pub struct FramesRun {
    pub sim: SimRun,
    /// One per frame the firmware got through (all of them when `sim.status` is 0).
    pub frames: Vec<FrameRun>,
    pub stack_bytes: Option<u64>,
}

/// Runs the firmware's embedded models on `frames` (each `width x height`
/// pixels of `format`, as the camera delivers them).
pub fn run_frames(
    elf: &Path,
    board: SimBoard,
    frames: &[Vec<u8>],
    format: PixelFormat,
    width: usize,
    height: usize,
) -> Result<FramesRun> {
    let dir = tempfile::tempdir().context("creating a folder for the simulation")?;
    for (k, bytes) in frames.iter().enumerate() {
        std::fs::write(dir.path().join(format!("frame{k}.bin")), bytes)?;
    }
    let args = [
        "frames".to_string(),
        frames.len().to_string(),
        format_name(format).to_string(),
        width.to_string(),
        height.to_string(),
    ];
    let mut opts = SimOptions::new(board).args(args);
    opts.workdir = Some(dir.path().to_path_buf());
    let sim = sim::run(elf, &opts)?;
    let mut runs = parse_log(&sim.log);
    for (k, frame) in runs.iter_mut().enumerate() {
        for (name, model) in MODELS.iter().zip(&mut frame.models) {
            for j in 0.. {
                let path = dir.path().join(format!("frame{k}.{name}{j}.bin"));
                match std::fs::read(&path) {
                    Ok(bytes) => model.outputs.push(bytes),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) => return Err(e).context(format!("reading {}", path.display())),
                }
            }
        }
    }
    if sim.status == 0 && runs.len() != frames.len() {
        bail!(
            "the firmware reported {} frames of {}:\n{}",
            runs.len(),
            frames.len(),
            sim.log
        );
    }
    let stack_bytes = sim
        .line("stack high-water")
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok());
    Ok(FramesRun {
        sim,
        frames: runs,
        stack_bytes,
    })
}

/// The blobs the firmware embeds (`segmenter`, `counter`), as it hands them
/// back with its `models` command: exactly what `frames` runs.
pub fn embedded_models(elf: &Path, board: SimBoard) -> Result<[Vec<u8>; 2]> {
    let dir = tempfile::tempdir().context("creating a folder for the simulation")?;
    let mut opts = SimOptions::new(board).args(["models"]);
    opts.workdir = Some(dir.path().to_path_buf());
    let run = sim::run(elf, &opts)?;
    if run.status != 0 {
        bail!("`models` exited with status {}:\n{}", run.status, run.log);
    }
    let read = |name: &str| {
        let path = dir.path().join(format!("{name}.mote"));
        std::fs::read(&path).with_context(|| format!("firmware wrote no {}", path.display()))
    };
    Ok([read(MODELS[0])?, read(MODELS[1])?])
}

/// Splits the log into frames (`frame K` lines) and each frame's lines into
/// its models (`model=NAME` on op and total lines).
fn parse_log(log: &str) -> Vec<FrameRun> {
    let mut frames: Vec<FrameRun> = Vec::new();
    for line in log.lines() {
        let msg = message(line);
        if let Some(k) = msg.strip_prefix("frame ") {
            if k.trim().parse::<usize>().is_ok() {
                frames.push(FrameRun::default());
            }
            continue;
        }
        let Some(frame) = frames.last_mut() else {
            continue;
        };
        let first = msg.split_whitespace().next().unwrap_or("");
        if let Some(model) = MODELS
            .iter()
            .position(|m| *m == first)
            .and_then(|i| frame.models.get_mut(i))
        {
            parse_result(msg, model);
            continue;
        }
        let Some(name) = value(msg, "model=") else {
            continue;
        };
        let Some(model) = MODELS
            .iter()
            .position(|m| *m == name)
            .and_then(|i| frame.models.get_mut(i))
        else {
            continue;
        };
        if msg.starts_with("total ") {
            model.instructions = value(msg, "instructions=").and_then(|v| v.parse().ok());
        } else if msg.starts_with("preprocess ") {
            model.preprocess = value(msg, "instructions=").and_then(|v| v.parse().ok());
        } else if let Some(op) = sim::parse_op_line(msg) {
            model.ops.push(op);
        }
    }
    frames
}

/// Head result lines: `segmenter class 1 area=12 bbox=0,1,5,7` and
/// `counter count=3.5 sum_q=70 peaks=2` (firmware/src/pipeline.rs).
fn parse_result(msg: &str, model: &mut ModelRun) {
    let mut words = msg.split_whitespace().skip(1);
    match words.next() {
        Some("class") => {
            let Some(area) = value(msg, "area=").and_then(|v| v.parse().ok()) else {
                return;
            };
            let bbox = value(msg, "bbox=").and_then(|v| {
                let n: Vec<u16> = v.split(',').filter_map(|x| x.parse().ok()).collect();
                <[u16; 4]>::try_from(n).ok()
            });
            model.classes.push(ClassResult { area, bbox });
        }
        Some(w) if w.starts_with("count=") => {
            let parsed = (
                value(msg, "count=").and_then(|v| v.parse().ok()),
                value(msg, "sum_q=").and_then(|v| v.parse().ok()),
                value(msg, "peaks=").and_then(|v| v.parse().ok()),
            );
            if let (Some(count), Some(sum_q), Some(peaks)) = parsed {
                model.count = Some(CountResult {
                    count,
                    sum_q,
                    peaks,
                });
            }
        }
        _ => {}
    }
}

/// The message of a decoded log line, without its level (`INFO  ...`).
fn message(line: &str) -> &str {
    line.split_once(' ')
        .map(|(_, rest)| rest.trim_start())
        .unwrap_or(line)
}

/// The value of `key` (e.g. `model=`) in a line of `key=value` words.
fn value<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key))
}

/// Class colours for the overlay (class 0, the background, is left as is).
const CLASS_COLOURS: [[u8; 3]; 4] = [[0, 0, 0], [255, 64, 64], [64, 160, 255], [255, 220, 0]];

/// A picture of one frame's results, side by side: the camera frame with the
/// segmenter's classes blended in, and the frame with the counter's density
/// map as a heat map. The heads run on the host (mote-core, the same code as
/// on the device) over the firmware's raw outputs. `rgb` is the frame as
/// 8-bit RGB, `width x height`.
pub fn picture(
    rgb: &[u8],
    width: usize,
    height: usize,
    models: [&mote_core::Model; 2],
    run: &FrameRun,
) -> Result<image::RgbImage> {
    use mote_core::heads::{segment, MapShape};
    let (w, h) = (u32::try_from(width)?, u32::try_from(height)?);
    let frame = image::RgbImage::from_raw(w, h, rgb.to_vec())
        .context("frame size does not match its pixels")?;
    let mut out = image::RgbImage::new(2 * w, h);
    image::imageops::replace(&mut out, &frame, 0, 0);
    image::imageops::replace(&mut out, &frame, i64::from(w), 0);

    let [segmenter, counter] = models;
    let output = |m: usize| run.models[m].outputs.first().context("no output 0");
    if segmenter.head() == mote_core::Head::Segmentation {
        let tensor = segmenter.output(0).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (shape, _, _) = MapShape::of_tensor(&tensor).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut map = vec![0u8; shape.pixels().context("class map size")?];
        segment::segment_output::<{ segment::MAX_CLASSES }>(&tensor, output(0)?, &mut map)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (x, y, px) in out.enumerate_pixels_mut().filter(|(x, _, _)| *x < w) {
            let (mx, my) = (
                x as usize * shape.width / width,
                y as usize * shape.height / height,
            );
            let class = map.get(my * shape.width + mx).copied().unwrap_or(0);
            if class > 0 {
                let c = CLASS_COLOURS[usize::from(class) % CLASS_COLOURS.len()];
                for (v, c) in px.0.iter_mut().zip(c) {
                    *v = ((u16::from(*v) + u16::from(c)) / 2) as u8;
                }
            }
        }
    }
    if counter.head() == mote_core::Head::Density {
        let tensor = counter.output(0).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (shape, scale, zero_point) =
            MapShape::of_tensor(&tensor).map_err(|e| anyhow::anyhow!("{e}"))?;
        let map = output(1)?;
        let values: Vec<f32> = map
            .iter()
            .map(|&q| (i32::from(q as i8) - zero_point) as f32 * scale)
            .collect();
        let peak = values.iter().copied().fold(0.0f32, f32::max);
        for (x, y, px) in out.enumerate_pixels_mut().filter(|(x, _, _)| *x >= w) {
            let (mx, my) = (
                (x - w) as usize * shape.width / width,
                y as usize * shape.height / height,
            );
            let v = values.get(my * shape.width + mx).copied().unwrap_or(0.0);
            let t = if peak > 0.0 {
                (v / peak).clamp(0.0, 1.0)
            } else {
                0.0
            };
            // Dark blue (nothing) to red (the densest pixel), half over the frame.
            let heat = [(255.0 * t) as u8, 32, (255.0 * (1.0 - t)) as u8];
            for (v, c) in px.0.iter_mut().zip(heat) {
                *v = ((u16::from(*v) + u16::from(c)) / 2) as u8;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_encode_as_the_camera_sends_them() {
        let rgb = [0xFF, 0x00, 0x00, 0x00, 0xFF, 0x08];
        let px = encode(PixelFormat::Rgb565Be, &rgb).unwrap();
        assert_eq!(px, [0xF8, 0x00, 0x07, 0xE1]);
        let px = encode(PixelFormat::Rgb565Le, &rgb).unwrap();
        assert_eq!(px, [0x00, 0xF8, 0xE1, 0x07]);
        assert_eq!(encode(PixelFormat::Rgb888, &[1, 2, 3]).unwrap(), [1, 2, 3]);
        for name in ["rgb565", "rgb565le", "rgb888", "gray8"] {
            assert_eq!(format_name(pixel_format(name).unwrap()), name);
        }
        assert!(pixel_format("bgr").is_err());
        assert_eq!(parse_size("160x120").unwrap(), (160, 120));
        assert!(parse_size("160").is_err() && parse_size("0x5").is_err());
    }

    #[test]
    fn the_log_splits_into_frames_and_models() {
        let log = "INFO  mote firmware 0.1.0 on CortexM4\n\
                   INFO  frame 0\n\
                   INFO  preprocess instructions=1000 model=segmenter\n\
                   INFO  op 0 Conv2d instructions=40 macs=2 model=segmenter\n\
                   INFO  total instructions=80 macs=2 model=segmenter\n\
                   INFO  op 0 Conv2d instructions=120 macs=3 model=counter\n\
                   INFO  total instructions=160 macs=3 model=counter\n\
                   INFO  segmenter class 0 area=10 bbox=0,0,4,1\n\
                   INFO  segmenter class 1 area=0\n\
                   INFO  counter count=2.5 sum_q=10 peaks=1\n\
                   INFO  counter peak x=1 y=2 q=9\n\
                   INFO  frame 1\n\
                   INFO  total instructions=200 macs=2 model=segmenter\n";
        let frames = parse_log(log);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].models[0].instructions, Some(80));
        assert_eq!(frames[0].models[0].preprocess, Some(1000));
        assert_eq!(frames[0].models[0].ops.len(), 1);
        assert_eq!(frames[0].models[1].ops[0].instructions, 120);
        assert_eq!(frames[0].models[1].instructions, Some(160));
        assert_eq!(
            frames[0].models[0].classes,
            [
                ClassResult {
                    area: 10,
                    bbox: Some([0, 0, 4, 1])
                },
                ClassResult {
                    area: 0,
                    bbox: None
                }
            ]
        );
        assert_eq!(
            frames[0].models[1].count,
            Some(CountResult {
                count: 2.5,
                sum_q: 10,
                peaks: 1
            })
        );
        assert_eq!(frames[1].models[0].instructions, Some(200));
        assert_eq!(frames[1].models[1].instructions, None);
    }
}
