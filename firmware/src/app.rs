//! What the firmware does, independent of the board it runs on.
//!
//! Commands come from the command line (semihosting `-append` under QEMU):
//! - (none) or `hello`: report the CPU and the runtime version, self-check the counter.
//! - `calibrate N`: count `2 N` instructions of a known loop and report the measurement.
//! - `run [ARENA_BYTES]`: run `model.mote` on `input*.bin`, write `output*.bin`
//!   (see `run_model`); the optional arena cap tests the too-small-arena path.
//! - `frames N FORMAT W H`: run the embedded segmenter and counter on camera
//!   frames `frame*.bin` (see `frames`).
//! - `models`: write the embedded models back to the host.
//! - `panic`: fail on purpose, to prove a failure reaches the host as an exit status.
//! - `camera` (real board, its only command): capture frames and run the embedded
//!   models on one (see `camera_app`).
use crate::board::{self, Board};
use crate::{calibrate, stack};
use mote_core::preprocess::PixelFormat;

/// Exit status for a command line the firmware does not understand.
pub const EXIT_USAGE: i32 = 2;
/// A model that fails validation (or a failed run).
pub const EXIT_MODEL: i32 = 3;
/// An arena too small for the model.
pub const EXIT_ARENA: i32 = 4;
/// An input of the wrong size, or one that cannot be read.
pub const EXIT_INPUT: i32 = 5;
/// An output that cannot be handed back.
pub const EXIT_OUTPUT: i32 = 6;
/// The camera does not answer or delivers no frame (real board only).
#[cfg_attr(not(feature = "board-h743"), allow(dead_code))]
pub const EXIT_CAMERA: i32 = 7;

// Each board parses every command; `Run`'s and `Frames`' arguments are read
// only in simulation.
#[cfg_attr(not(feature = "board-sim"), allow(dead_code))]
enum Command {
    Hello,
    Calibrate(u32),
    Run { arena_limit: Option<usize> },
    Frames(FramesArgs),
    Models,
    Panic,
    Camera,
}

impl Command {
    fn parse(board: &Board) -> Option<Command> {
        let mut words = board.args.words();
        let command = words.next().unwrap_or("hello");
        if command == "frames" {
            return FramesArgs::parse(words).map(Command::Frames);
        }
        let number: Option<u32> = words.next().and_then(|s| s.parse().ok());
        Some(match command {
            "hello" => Command::Hello,
            "calibrate" => Command::Calibrate(number.unwrap_or(1_000_000)),
            "run" => Command::Run {
                arena_limit: number.map(|n| n as usize),
            },
            "models" => Command::Models,
            "panic" => Command::Panic,
            "camera" => Command::Camera,
            other => {
                defmt::error!("unknown command {=str}", other);
                return None;
            }
        })
    }
}

pub fn run(board: &mut Board) -> i32 {
    defmt::info!(
        "mote firmware {=str} on {}",
        env!("CARGO_PKG_VERSION"),
        board::cpu()
    );
    let Some(command) = Command::parse(board) else {
        return EXIT_USAGE;
    };
    match command {
        Command::Hello => {
            let base = calibrate::measure(&mut board.counter, 1);
            let loop_ = calibrate::measure(&mut board.counter, 100_001);
            defmt::info!(
                "counter: {=u64} instructions for 200000 loop instructions",
                loop_ - base
            );
            defmt::info!("mote-core {=str} linked", mote_core::VERSION);
            defmt::info!("stack high-water {=usize} bytes", stack::high_water());
            defmt::info!("done");
            0
        }
        Command::Calibrate(n) => {
            let base = calibrate::measure(&mut board.counter, 1);
            let total = calibrate::measure(&mut board.counter, n);
            defmt::info!(
                "calibrate n={=u32} base={=u64} total={=u64} loop={=u64}",
                n,
                base,
                total,
                total - base
            );
            0
        }
        #[cfg(feature = "board-sim")]
        Command::Run { arena_limit } => crate::run_model::run(board, arena_limit),
        #[cfg(feature = "board-sim")]
        Command::Frames(args) => crate::frames::run(board, &args),
        #[cfg(feature = "board-sim")]
        Command::Models => crate::frames::dump_models(),
        #[cfg(feature = "board-h743")]
        Command::Camera => crate::camera_app::run(board),
        Command::Panic => defmt::panic!("panic requested"),
        // A command this board has no hardware for: models come from the
        // host only in simulation, frames from a camera only on the real board.
        #[allow(unreachable_patterns)]
        Command::Run { .. } | Command::Frames(_) | Command::Models | Command::Camera => {
            defmt::error!("this board cannot run that command");
            EXIT_USAGE
        }
    }
}

/// `frames N FORMAT W H`: how many frames, and their pixel format and size.
#[cfg_attr(not(feature = "board-sim"), allow(dead_code))]
pub struct FramesArgs {
    pub count: u32,
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
}

impl FramesArgs {
    fn parse<'w>(mut words: impl Iterator<Item = &'w str>) -> Option<FramesArgs> {
        let count = words.next().and_then(|s| s.parse().ok());
        let format = words.next().and_then(pixel_format);
        let width = words.next().and_then(|s| s.parse().ok());
        let height = words.next().and_then(|s| s.parse().ok());
        match (count, format, width, height) {
            (Some(count), Some(format), Some(width), Some(height)) => Some(FramesArgs {
                count,
                format,
                width,
                height,
            }),
            _ => {
                defmt::error!(
                    "usage: frames N FORMAT WIDTH HEIGHT (FORMAT: rgb565, rgb565le, rgb888, gray8, yuyv)"
                );
                None
            }
        }
    }
}

/// A camera pixel format by its command-line name (the host's `--format`).
pub fn pixel_format(name: &str) -> Option<PixelFormat> {
    Some(match name {
        "rgb565" | "rgb565be" => PixelFormat::Rgb565Be,
        "rgb565le" => PixelFormat::Rgb565Le,
        "rgb888" => PixelFormat::Rgb888,
        "gray8" => PixelFormat::Gray8,
        "yuyv" => PixelFormat::Yuyv,
        _ => return None,
    })
}
