//! `mote-host`: everything that runs on the developer's machine.
//!
//! The `mote` binary is a thin CLI over these modules, and the workspace tests
//! call them directly.

pub mod firmware;
pub mod sim;
pub mod train;
