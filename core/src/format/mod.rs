//! The model blob: its layout (see `core/FORMAT.md`) and zero-copy parsing.
pub(crate) mod bytes;
pub mod layout;
pub(crate) mod tensor;
mod types;

pub use tensor::{Quant, Shape, Storage, TensorInfo};
pub use types::{DType, Head, OpCode};

/// The arena size a blob declares, readable in a `const` so firmware can
/// size a static arena at compile time:
/// `static mut ARENA: Arena<{ arena_size_hint(MODEL) }> = ...`.
/// It only reads the header field (0 if the slice is too short or not a
/// blob); `Session::new` checks the real requirement at run time.
pub const fn arena_size_hint(blob: &[u8]) -> usize {
    if blob.len() < layout::HEADER_LEN
        || blob[0] != layout::MAGIC[0]
        || blob[1] != layout::MAGIC[1]
        || blob[2] != layout::MAGIC[2]
        || blob[3] != layout::MAGIC[3]
    {
        return 0;
    }
    u32::from_le_bytes([blob[16], blob[17], blob[18], blob[19]]) as usize
}
