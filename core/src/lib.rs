//! `mote-core`: int8 inference for microcontrollers.
//!
//! The crate is `no_std` and never allocates: a model is read zero-copy from a
//! byte slice (usually flash) and runs in an arena the caller owns.
//!
//! ```text
//! let model = Model::parse(BLOB)?;          // validates everything, copies nothing
//! let mut session = Session::new(&model, &mut ARENA)?; // size and alignment checked
//! session.input(0)?.copy_from_slice(&frame); // int8 NHWC bytes
//! session.run()?;                             // or run_profiled(&mut counter, |op| ..)
//! let logits = session.output(0)?;
//! ```
//!
//! The blob format is specified in `core/FORMAT.md` (layout, validation
//! rules, memory plan) and `core/FORMAT-OPS.md` (each op's parameter words).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod bands;
pub mod crc32;
mod dispatch;
pub mod error;
pub mod format;
pub mod heads;
pub mod kernels;
pub mod le;
mod model;
pub mod preprocess;
pub mod profile;
pub mod quant;
mod session;

pub use error::{Error, OpError, PlanError, Result, Section, TensorError};
pub use format::{DType, Head, OpCode, Quant, Shape, Storage, TensorInfo};
pub use model::{Model, OpInfo};
pub use session::{align_arena, OpReport, Session};

/// The runtime's version, as the firmware reports it at boot.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
