//! The model blob: its layout (see `core/FORMAT.md`) and zero-copy parsing.
mod types;

pub use types::{DType, OpCode};
