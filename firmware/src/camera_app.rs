//! `camera`: the real board's application. Reports the CPU and its clock,
//! initialises the camera, captures QQVGA frames, logs their statistics, and
//! runs the embedded demo model on the last one, with per-layer cycle counts.
use mote_camera::{Config, Resolution};
use mote_core::{Model, Session};

use crate::app::{EXIT_ARENA, EXIT_CAMERA, EXIT_INPUT, EXIT_MODEL, EXIT_OUTPUT};
use crate::{board::Board, calibrate, memory, preprocess, profile, stack};

/// Frames thrown away after `init` while auto-exposure settles (about half a
/// second's worth, see camera/README.md).
const SETTLE_FRAMES: u32 = 8;

/// 16-byte aligned bytes, for an embedded model blob.
#[repr(C, align(16))]
struct Aligned<T: ?Sized>(T);

/// The demo model (`models/demo.mote`: the runtime's `encdec` golden model,
/// 32x24 RGB in). Aligned because the blob aligns weights to 16 bytes.
static DEMO_MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("../models/demo.mote"));

pub fn run(board: &mut Board) -> i32 {
    defmt::info!("core clock {=u32} Hz", board.core_hz);
    let base = calibrate::measure(&mut board.counter, 1);
    let loop_ = calibrate::measure(&mut board.counter, 100_001);
    defmt::info!(
        "counter: {=u64} cycles for 200000 loop instructions",
        loop_ - base
    );

    let Some(memory::Buffers { arena, frame, .. }) = memory::take() else {
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

    let code = run_demo(board, pixels, info.width.into(), info.height.into(), arena);
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

/// Runs the demo model on the frame and logs a summary of its outputs.
fn run_demo(
    board: &mut Board,
    pixels: &[u8],
    width: usize,
    height: usize,
    arena: &mut [u8],
) -> i32 {
    let model = match Model::parse(&DEMO_MODEL.0) {
        Ok(model) => model,
        Err(e) => {
            defmt::error!("demo model rejected: {}", e);
            return EXIT_MODEL;
        }
    };
    let mut session = match Session::new(&model, arena) {
        Ok(session) => session,
        Err(e) => {
            defmt::error!("arena refused: {}", e);
            return EXIT_ARENA;
        }
    };
    let filled = match (model.input(0), session.input(0)) {
        (Ok(input), Ok(dst)) => preprocess::rgb565_be_to_input(pixels, width, height, &input, dst),
        _ => Err(preprocess::PreprocessError::UnsupportedInput),
    };
    if let Err(e) = filled {
        defmt::error!("frame to model input: {}", e);
        return EXIT_INPUT;
    }
    if let Err(e) = profile::run(&mut board.counter, &mut session) {
        defmt::error!("run failed: {}", e);
        return EXIT_MODEL;
    }
    for k in 0..model.output_count() {
        let Ok(out) = session.output(k) else {
            return EXIT_OUTPUT;
        };
        let sum: i64 = out.iter().map(|&b| i64::from(b as i8)).sum();
        defmt::info!(
            "output {=usize}: {=usize} values, mean {=i64} (int8)",
            k,
            out.len(),
            sum / out.len().max(1) as i64
        );
    }
    0
}
