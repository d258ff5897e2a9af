//! `camera`: the real board's application. Reports the CPU and its clock,
//! initialises the camera, captures QQVGA frames, logs their statistics, and
//! runs the embedded segmenter and counter on the last one (the same pipeline
//! as the simulated board's `frames`), with per-layer cycle counts.
use mote_camera::{Config, Resolution};

use crate::app::EXIT_CAMERA;
use crate::models::Role;
use crate::pipeline::{self, Models};
use crate::{board::Board, calibrate, memory, stack};
use mote_core::preprocess::PixelFormat;

/// Frames thrown away after `init` while auto-exposure settles (about half a
/// second's worth, see camera/README.md).
const SETTLE_FRAMES: u32 = 8;

pub fn run(board: &mut Board) -> i32 {
    defmt::info!("core clock {=u32} Hz", board.core_hz);
    let base = calibrate::measure(&mut board.counter, 1);
    let loop_ = calibrate::measure(&mut board.counter, 100_001);
    defmt::info!(
        "counter: {=u64} cycles for 200000 loop instructions",
        loop_ - base
    );

    let Some(memory::Buffers {
        arena,
        frame,
        class_map,
        ..
    }) = memory::take()
    else {
        defmt::error!("buffers already taken");
        return 1;
    };
    let resolution = Resolution::Qqvga;
    if let Err(e) = board.camera.init(Config::new(resolution)) {
        defmt::error!("camera init failed: {}", e);
        return EXIT_CAMERA;
    }
    let (id_hi, id_lo) = board.camera.sensor_id().unwrap_or((0, 0));
    defmt::info!(
        "camera: OV{=u8:x}{=u8:x}, {=u16}x{=u16} RGB565",
        id_hi,
        id_lo,
        resolution.width(),
        resolution.height()
    );

    let mut info = None;
    for _ in 0..=SETTLE_FRAMES {
        let start = mote_core::profile::CycleCounter::now(&mut board.counter);
        match board.camera.capture(frame) {
            Ok(got) => info = Some(got),
            Err(e) => {
                defmt::error!("capture failed: {}", e);
                return EXIT_CAMERA;
            }
        }
        let took = mote_core::profile::CycleCounter::now(&mut board.counter) - start;
        defmt::info!("frame captured in {=u64} cycles", took);
    }
    let Some(info) = info else {
        return EXIT_CAMERA;
    };
    let pixels = frame.get(..info.len).unwrap_or_default();
    log_frame_stats(pixels);

    let size = (info.width.into(), info.height.into());
    let code = run_models(board, pixels, size, arena, class_map);
    defmt::info!("stack high-water {=usize} bytes", stack::high_water());
    if code == 0 {
        defmt::info!("done");
    }
    code
}

/// Mean and range of each channel: enough to see from the log whether the
/// sensor delivers an image (not all zeros, not saturated).
fn log_frame_stats(pixels: &[u8]) {
    let mut sum = [0u32; 3];
    let mut min = [u8::MAX; 3];
    let mut max = [0u8; 3];
    let mut count = 0u32;
    for p in pixels.chunks_exact(2) {
        let &[hi, lo] = p else { continue };
        let v = u16::from_be_bytes([hi, lo]);
        let rgb = [
            (v >> 11) as u8 & 0x1F,
            (v >> 5) as u8 & 0x3F,
            v as u8 & 0x1F,
        ];
        for (c, value) in rgb.into_iter().enumerate() {
            if let (Some(s), Some(lo), Some(hi)) = (sum.get_mut(c), min.get_mut(c), max.get_mut(c))
            {
                *s += u32::from(value);
                *lo = (*lo).min(value);
                *hi = (*hi).max(value);
            }
        }
        count += 1;
    }
    let count = count.max(1);
    defmt::info!(
        "frame: {=u32} pixels, mean r/g/b (5/6/5 bits) {=u32}/{=u32}/{=u32}, min {=[u8]}, max {=[u8]}",
        count,
        sum[0] / count,
        sum[1] / count,
        sum[2] / count,
        min[..],
        max[..]
    );
}

/// Runs the embedded segmenter and counter on the frame; logs a summary of
/// each raw output (the heads' results are logged by the pipeline).
fn run_models(
    board: &mut Board,
    frame: &[u8],
    (width, height): (usize, usize),
    arena: &mut [u8],
    class_map: &mut [u8],
) -> i32 {
    let models = match Models::load() {
        Ok(models) => models,
        Err(code) => return code,
    };
    // The ArduCAM's FIFO delivers RGB565 high byte first.
    let preprocessors = match models.preprocessors(PixelFormat::Rgb565Be, width, height) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let summary = |role: Role, k: usize, out: &[u8]| {
        let sum: i64 = out.iter().map(|&b| i64::from(b as i8)).sum();
        defmt::info!(
            "{=str} output {=usize}: {=usize} values, mean {=i64} (int8)",
            role.name(),
            k,
            out.len(),
            sum / out.len().max(1) as i64
        );
        true
    };
    match pipeline::run(
        &models,
        &preprocessors,
        &mut board.counter,
        frame,
        arena,
        class_map,
        summary,
    ) {
        Ok(()) => 0,
        Err(code) => code,
    }
}
