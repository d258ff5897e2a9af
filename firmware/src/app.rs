//! What the firmware does, independent of the board it runs on.
//!
//! Commands come from the command line (semihosting `-append` under QEMU):
//! - (none) or `hello`: report the CPU and the runtime version, self-check the counter.
//! - `calibrate N`: count `2 N` instructions of a known loop and report the measurement.
//! - `panic`: fail on purpose, to prove a failure reaches the host as an exit status.
use crate::{board::Board, calibrate};


pub fn run(board: &mut Board) -> i32 {
    let cpu = board.cpu();
    defmt::info!("mote firmware {=str} on {}", env!("CARGO_PKG_VERSION"), cpu);
    let mut args = board.args.words();
    let command = args.next().unwrap_or("hello");
    let arg: Option<u32> = args.next().and_then(|s| s.parse().ok());
    match command {
        "hello" => {
            let base = calibrate::measure(&mut board.counter, 1);
            let loop_ = calibrate::measure(&mut board.counter, 100_001);
            defmt::info!("counter: {=u64} instructions for 200000 loop instructions", loop_ - base);
            defmt::info!("mote-core {=str} linked", mote_core::VERSION);
            defmt::info!("stack high-water {=usize} bytes", crate::stack::high_water());
            defmt::info!("done");
            0
        }
        "calibrate" => {
            let n = arg.unwrap_or(1_000_000);
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
        "panic" => defmt::panic!("panic requested"),
        other => {
            defmt::error!("unknown command {=str}", other);
            2
        }
    }
}
