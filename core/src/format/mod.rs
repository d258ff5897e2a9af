//! The model blob: its layout (see `core/FORMAT.md`) and zero-copy parsing.
pub(crate) mod bytes;
pub mod layout;
pub(crate) mod tensor;
mod types;

pub use tensor::{Quant, Shape, Storage, TensorInfo};
pub use types::{DType, OpCode};
