//! `mote-core`: int8 inference for microcontrollers.
//!
//! The crate is `no_std` and never allocates: a model is read zero-copy from a
//! byte slice (usually flash) and runs in an arena the caller owns.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod format;
pub mod kernels;
pub mod le;
pub mod profile;
pub mod quant;

pub use format::{DType, OpCode};

/// The runtime's version, as the firmware reports it at boot.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
