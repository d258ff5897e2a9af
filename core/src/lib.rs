//! `mote-core`: int8 inference for microcontrollers.
//!
//! The crate is `no_std` and never allocates: a model is read zero-copy from a
//! byte slice (usually flash) and runs in an arena the caller owns.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod crc32;
mod dispatch;
pub mod error;
pub mod format;
pub mod kernels;
pub mod le;
mod model;
pub mod profile;
pub mod quant;
mod session;

pub use error::{Error, OpError, PlanError, Result, Section, TensorError};
pub use format::{DType, OpCode, Quant, Shape, Storage, TensorInfo};
pub use model::{Model, OpInfo};
pub use session::{align_arena, OpReport, Session};

/// The runtime's version, as the firmware reports it at boot.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
