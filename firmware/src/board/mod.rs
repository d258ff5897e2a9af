//! Board support: one module per board, selected by a cargo feature.

#[cfg(feature = "board-sim")]
mod sim;
#[cfg(feature = "board-sim")]
pub use sim::{exit, Board};
