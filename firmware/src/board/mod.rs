//! Board support: one module per board, selected by a cargo feature.
//!
//! Each board module exports the same names, which is all `app` relies on:
//! - `Board::take()`: the board, set up once, with a `counter`
//!   (`mote_core::profile::CycleCounter`) and `args` (`words()`: the command);
//! - `exit(code) -> !`: end the run with a status.
//!
//! What the CPU is comes from the core itself ([`cpu`]), the same on every board.

#[cfg(all(feature = "board-sim", feature = "board-h743"))]
compile_error!("choose one board: build with --no-default-features --features board-h743");

#[cfg(feature = "board-sim")]
mod sim;
#[cfg(feature = "board-sim")]
pub use sim::{exit, Board};

#[cfg(feature = "board-h743")]
mod h743;
#[cfg(feature = "board-h743")]
pub use h743::{exit, Board};

/// Which Cortex-M this is.
#[derive(Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum Cpu {
    CortexM4,
    CortexM7,
    Other(u16),
}

/// Reads the CPUID register's part number.
pub fn cpu() -> Cpu {
    // SAFETY: CPUID is a read-only identification register, always present.
    let base = unsafe { (*cortex_m::peripheral::CPUID::PTR).base.read() };
    match ((base >> 4) & 0xFFF) as u16 {
        0xC24 => Cpu::CortexM4,
        0xC27 => Cpu::CortexM7,
        other => Cpu::Other(other),
    }
}
