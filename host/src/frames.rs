//! Camera frames through the firmware's embedded models on a simulated board.
//!
//! The firmware's `frames N FORMAT W H` command reads `frame{k}.bin` through
//! semihosting, preprocesses each with mote-core, runs the segmenter then the
//! counter, writes every raw output back (`frame{k}.{model}{j}.bin`) and logs
//! per-op instruction counts and what the heads make of the outputs. This
//! module writes the frames, runs QEMU and reads all of that back.
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::sim::{self, OpCost, SimBoard, SimOptions, SimRun};

/// How a camera delivers pixels (the firmware's `FORMAT` word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    /// 16 bits per pixel, 5/6/5, high byte first (as the OV2640 sends it).
    Rgb565,
    /// 24 bits per pixel, R then G then B.
    Rgb888,
}

impl PixelFormat {
    pub fn parse(name: &str) -> Result<PixelFormat> {
        match name.to_ascii_lowercase().as_str() {
            "rgb565" => Ok(PixelFormat::Rgb565),
            "rgb888" => Ok(PixelFormat::Rgb888),
            other => bail!("unknown camera format {other:?}: use rgb565 or rgb888"),
        }
    }

    /// The firmware's name for it.
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Rgb565 => "rgb565",
            PixelFormat::Rgb888 => "rgb888",
        }
    }

    /// Encodes 8-bit RGB pixels as this format.
    pub fn encode(self, rgb: &[u8]) -> Vec<u8> {
        match self {
            PixelFormat::Rgb888 => rgb.to_vec(),
            PixelFormat::Rgb565 => rgb
                .chunks_exact(3)
                .flat_map(|p| {
                    let v = (u16::from(p[0]) >> 3) << 11
                        | (u16::from(p[1]) >> 2) << 5
                        | u16::from(p[2]) >> 3;
                    v.to_be_bytes()
                })
                .collect(),
        }
    }
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

/// A picture as the camera would deliver it: scaled to `width x height`
/// (the whole picture, aspect ratio not kept, as a sensor's field of view
/// would frame it) and encoded as `format`.
pub fn camera_frame(path: &Path, format: PixelFormat, width: usize, height: usize) -> Result<Vec<u8>> {
    let picture = image::open(path)
        .with_context(|| format!("reading {}", path.display()))?
        .to_rgb8();
    let (w, h) = (u32::try_from(width)?, u32::try_from(height)?);
    let scaled = image::imageops::resize(&picture, w, h, image::imageops::FilterType::Triangle);
    Ok(format.encode(scaled.as_raw()))
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
    pub ops: Vec<OpCost>,
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
/// pixels of `format`, e.g. `rgb565`, as the camera delivers them).
pub fn run_frames(
    elf: &Path,
    board: SimBoard,
    frames: &[Vec<u8>],
    format: &str,
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
        format.to_string(),
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
        } else if let Some(op) = sim::parse_op_line(msg) {
            model.ops.push(op);
        }
    }
    frames
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb565_packs_the_top_bits_high_byte_first() {
        let px = PixelFormat::Rgb565.encode(&[0xFF, 0x00, 0x00, 0x00, 0xFF, 0x08]);
        assert_eq!(px, [0xF8, 0x00, 0x07, 0xE1]);
        assert_eq!(PixelFormat::Rgb888.encode(&[1, 2, 3]), [1, 2, 3]);
        assert_eq!(parse_size("160x120").unwrap(), (160, 120));
        assert!(parse_size("160").is_err() && parse_size("0x5").is_err());
    }

    #[test]
    fn the_log_splits_into_frames_and_models() {
        let log = "INFO  mote firmware 0.1.0 on CortexM4\n\
                   INFO  frame 0\n\
                   INFO  op 0 Conv2d instructions=40 macs=2 model=segmenter\n\
                   INFO  total instructions=80 macs=2 model=segmenter\n\
                   INFO  op 0 Conv2d instructions=120 macs=3 model=counter\n\
                   INFO  total instructions=160 macs=3 model=counter\n\
                   INFO  frame 1\n\
                   INFO  total instructions=200 macs=2 model=segmenter\n";
        let frames = parse_log(log);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].models[0].instructions, Some(80));
        assert_eq!(frames[0].models[0].ops.len(), 1);
        assert_eq!(frames[0].models[1].ops[0].instructions, 120);
        assert_eq!(frames[0].models[1].instructions, Some(160));
        assert_eq!(frames[1].models[0].instructions, Some(200));
        assert_eq!(frames[1].models[1].instructions, None);
    }
}
