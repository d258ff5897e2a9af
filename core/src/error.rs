//! Every way parsing or running a model can fail, as one `Copy` type.
//!
//! Payloads say *where* (which section, tensor, op) so a firmware log line is
//! enough to find the problem without a debugger.
pub use crate::kernels::KernelError;

/// A part of the blob, for errors about bounds and alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Section {
    Header,
    TensorTable,
    OpTable,
    IndexPool,
    WordPool,
    ScalePool,
    Constants,
}

/// What is wrong with one tensor record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TensorError {
    /// Unknown element type code.
    DType(u8),
    /// Rank above 4.
    Rank(u8),
    /// A used dimension is 0, or an unused one is not 0.
    Dim,
    /// Element count times element size overflows or exceeds the limits.
    TooLarge,
    /// The stored byte length disagrees with shape and type.
    ByteLen,
    /// Unknown storage or quantization code, or a reserved field is not 0.
    Code,
    /// Scale not finite and positive, or zero point outside the type's range.
    Quantization,
    /// Per-channel axis or scale range is invalid.
    PerChannel,
    /// Constant bytes are outside the constant section.
    ConstantBounds,
    /// Constant data offset is not 16-byte aligned.
    ConstantAlign,
    /// Activation does not fit in the arena.
    ArenaBounds,
    /// Activation offset not aligned to the arena alignment.
    ArenaAlign,
    /// Its lifetime does not start when it is written (by the caller or an op).
    Lifetime,
}

/// What is wrong with one op record or how it uses its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OpError {
    /// Unknown op code.
    Code(u16),
    /// Input/output count outside what the format or the op allows.
    Arity,
    /// Its tensor indices or parameter words are outside their pools.
    Bounds,
    /// Refers to a tensor index that does not exist.
    TensorIndex(u16),
    /// Reads an activation that no earlier op (nor the caller) has written.
    NotReady(u16),
    /// Writes a constant, a graph input, or a tensor another op already wrote.
    BadOutput(u16),
    /// The parameter words do not decode (unknown values, out of range).
    Params,
    /// Shapes, types or quantization of its tensors do not fit the op.
    Tensors,
    /// The op is known to the format but this build has no kernel for it.
    Unsupported,
    /// The kernel refused its parameters or tensors.
    Kernel(KernelError),
}

impl From<KernelError> for OpError {
    fn from(e: KernelError) -> Self {
        OpError::Kernel(e)
    }
}

/// What is wrong with the memory plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PlanError {
    /// Arena alignment is not a power of two of at least 16.
    Alignment(u32),
    /// Two tensors alive at the same time share arena bytes.
    Overlap { a: u16, b: u16 },
    /// The arena size exceeds the end of the last activation (rounded up
    /// to the arena alignment).
    ArenaSize(u32),
}

/// Errors of `mote-core`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The blob ends before its header or its stated body length.
    Truncated { needed: u32, len: u32 },
    /// The first four bytes are not `MOTE`.
    Magic,
    /// A format version this build does not read.
    Version(u16),
    /// Flags this build does not know.
    Flags(u16),
    /// The directory's head kind is a code this build does not know.
    Head(u32),
    /// The body's CRC-32 differs from the header's.
    Crc { stored: u32, computed: u32 },
    /// A section lies outside the body.
    Bounds(Section),
    /// A section is not aligned as the format requires.
    Align(Section),
    /// A count exceeds this build's limits (see `format::limits`).
    Limit(Section),
    /// A tensor record is invalid.
    Tensor { index: u16, error: TensorError },
    /// An op record is invalid.
    Op { index: u16, error: OpError },
    /// A graph input/output entry is invalid (index into the input or output list).
    GraphIo { output: bool, index: u16 },
    /// The memory plan is invalid.
    Plan(PlanError),
    /// The caller's arena is smaller than the model needs.
    ArenaSize { needed: u32, len: u32 },
    /// The caller's arena does not start at the required alignment.
    ArenaAlign { align: u32 },
    /// An input or output number beyond the model's count.
    NoSuchIo(u16),
    /// A buffer the caller passed has the wrong length.
    BufferLen { expected: u32, len: u32 },
    /// A consistency check at run time failed; parse should have caught it.
    Internal,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Truncated { needed, len } => {
                write!(f, "blob truncated: needs {needed} bytes, has {len}")
            }
            Error::Magic => write!(f, "not a mote blob (bad magic)"),
            Error::Version(v) => write!(f, "unsupported format version {v}"),
            Error::Flags(v) => write!(f, "unknown flags {v:#06x}"),
            Error::Head(code) => write!(f, "unknown head kind {code}"),
            Error::Crc { stored, computed } => write!(
                f,
                "CRC mismatch: header says {stored:#010x}, body has {computed:#010x}"
            ),
            Error::Bounds(s) => write!(f, "{s:?} section out of bounds"),
            Error::Align(s) => write!(f, "{s:?} section misaligned"),
            Error::Limit(s) => write!(f, "{s:?} count exceeds limits"),
            Error::Tensor { index, error } => write!(f, "tensor {index}: {error:?}"),
            Error::Op { index, error } => write!(f, "op {index}: {error:?}"),
            Error::GraphIo { output, index } => write!(
                f,
                "graph {} {index} invalid",
                if *output { "output" } else { "input" }
            ),
            Error::Plan(e) => write!(f, "memory plan: {e:?}"),
            Error::ArenaSize { needed, len } => {
                write!(f, "arena too small: needs {needed} bytes, got {len}")
            }
            Error::ArenaAlign { align } => write!(f, "arena not {align}-byte aligned"),
            Error::NoSuchIo(i) => write!(f, "no input/output number {i}"),
            Error::BufferLen { expected, len } => {
                write!(f, "buffer of {len} bytes, expected {expected}")
            }
            Error::Internal => write!(f, "internal consistency check failed"),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
