//! mote's Cortex-M application.
//!
//! The application logic lives here and in `app`; everything that differs
//! between boards (how time is counted, how the run ends, where its arguments
//! come from) lives in one thin module under `board/`.
#![no_std]
#![no_main]

mod app;
mod board;
mod calibrate;
#[cfg(feature = "board-h743")]
mod camera_app;
#[cfg(feature = "board-sim")]
mod files;
#[cfg(feature = "board-sim")]
mod frames;
mod memory;
mod models;
mod pipeline;
mod profile;
#[cfg(feature = "board-sim")]
mod run_model;
mod stack;

use cortex_m_rt::entry;

#[entry]
fn main() -> ! {
    let mut board = board::Board::take();
    let code = app::run(&mut board);
    board::exit(code)
}

/// A panic is a failed run: say why through defmt, then end the run with a
/// non-zero status (the simulation's exit status; a halt under probe-rs).
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    board::exit(101)
}
