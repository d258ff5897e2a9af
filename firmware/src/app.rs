//! What the firmware does, independent of the board it runs on.
//!
//! Commands come from the command line (semihosting `-append` under QEMU):
//! - (none) or `hello`: report the CPU and the runtime version, self-check the counter.
//! - `calibrate N`: count `2 N` instructions of a known loop and report the measurement.
//! - `run [ARENA_BYTES]`: run `model.mote` on `input*.bin`, write `output*.bin`
//!   (see `run_model`); the optional arena cap tests the too-small-arena path.
//! - `panic`: fail on purpose, to prove a failure reaches the host as an exit status.
use crate::{board::Board, calibrate, run_model, stack};

/// Exit status for a command line the firmware does not understand.
pub const EXIT_USAGE: i32 = 2;

enum Command {
    Hello,
    Calibrate(u32),
    Run { arena_limit: Option<usize> },
    Panic,
}

impl Command {
    fn parse(board: &Board) -> Option<Command> {
        let mut words = board.args.words();
        let command = words.next().unwrap_or("hello");
        let number: Option<u32> = words.next().and_then(|s| s.parse().ok());
        Some(match command {
            "hello" => Command::Hello,
            "calibrate" => Command::Calibrate(number.unwrap_or(1_000_000)),
            "run" => Command::Run { arena_limit: number.map(|n| n as usize) },
            "panic" => Command::Panic,
            other => {
                defmt::error!("unknown command {=str}", other);
                return None;
            }
        })
    }
}

pub fn run(board: &mut Board) -> i32 {
    defmt::info!("mote firmware {=str} on {}", env!("CARGO_PKG_VERSION"), board.cpu());
    let Some(command) = Command::parse(board) else {
        return EXIT_USAGE;
    };
    match command {
        Command::Hello => {
            let base = calibrate::measure(&mut board.counter, 1);
            let loop_ = calibrate::measure(&mut board.counter, 100_001);
            defmt::info!("counter: {=u64} instructions for 200000 loop instructions", loop_ - base);
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
        Command::Run { arena_limit } => run_model::run(board, arena_limit),
        Command::Panic => defmt::panic!("panic requested"),
    }
}
