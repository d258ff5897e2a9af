//! Byte offsets and sizes of the fixed-size records (see `core/FORMAT.md`),
//! and the limits that bound the parser's work on a hostile blob.

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"MOTE";
/// The format version this build reads and writes.
pub const VERSION: u16 = 1;
/// Bytes before the body (magic, version, flags, body length, CRC).
pub const PREFIX_LEN: usize = 16;
/// Bytes of prefix plus directory: the first section starts at or after this.
pub const HEADER_LEN: usize = 80;
/// Bytes of one tensor record.
pub const TENSOR_RECORD: usize = 48;
/// Bytes of one op record.
pub const OP_RECORD: usize = 16;
/// Alignment of constant data, relative to the blob start.
pub const CONST_ALIGN: usize = 16;
/// Smallest arena alignment a blob may ask for.
pub const MIN_ARENA_ALIGN: u32 = 16;
/// Largest arena alignment a blob may ask for.
pub const MAX_ARENA_ALIGN: u32 = 4096;
/// Maximum rank of a tensor.
pub const MAX_RANK: usize = 4;

/// Directory field offsets (from the blob start).
pub(crate) mod dir {
    pub const ARENA_SIZE: usize = 16;
    pub const ARENA_ALIGN: usize = 20;
    pub const TENSOR_COUNT: usize = 24;
    pub const OP_COUNT: usize = 26;
    pub const INPUT_COUNT: usize = 28;
    pub const OUTPUT_COUNT: usize = 30;
    pub const TENSOR_TABLE: usize = 32;
    pub const OP_TABLE: usize = 36;
    pub const INDEX_POOL: usize = 40;
    pub const INDEX_COUNT: usize = 44;
    pub const WORD_POOL: usize = 48;
    pub const WORD_COUNT: usize = 52;
    pub const SCALE_POOL: usize = 56;
    pub const SCALE_COUNT: usize = 60;
    pub const CONST_OFFSET: usize = 64;
    pub const CONST_LEN: usize = 68;
    pub const GRAPH_IO: usize = 72;
    pub const HEAD: usize = 76;
}

/// Tensor record field offsets (from the record start).
pub(crate) mod tensor {
    pub const DTYPE: usize = 0;
    pub const RANK: usize = 1;
    pub const STORAGE: usize = 2;
    pub const QUANT: usize = 3;
    pub const DIMS: usize = 4;
    pub const SCALE: usize = 20;
    pub const ZERO_POINT: usize = 24;
    pub const AXIS: usize = 28;
    pub const RESERVED: usize = 29; // 3 bytes
    pub const SCALE_INDEX: usize = 32;
    pub const OFFSET: usize = 36;
    pub const BYTE_LEN: usize = 40;
    pub const FIRST: usize = 44;
    pub const LAST: usize = 46;
}

/// Op record field offsets (from the record start).
pub(crate) mod op {
    pub const CODE: usize = 0;
    pub const INPUTS: usize = 2;
    pub const OUTPUTS: usize = 3;
    pub const INDEX: usize = 4;
    pub const WORD_INDEX: usize = 8;
    pub const WORD_COUNT: usize = 12;
}

/// Storage codes of a tensor record.
pub const STORAGE_ARENA: u8 = 0;
pub const STORAGE_CONSTANT: u8 = 1;
/// Quantization codes of a tensor record.
pub const QUANT_NONE: u8 = 0;
pub const QUANT_PER_TENSOR: u8 = 1;
pub const QUANT_PER_CHANNEL: u8 = 2;

/// Limits on counts. They bound the parser's work (the overlap check is
/// quadratic in the tensor count) and the stack a run uses.
pub mod limits {
    /// Tensors per model.
    pub const MAX_TENSORS: usize = 1024;
    /// Ops per model.
    pub const MAX_OPS: usize = 1024;
    /// Inputs of one op (CONCATENATION is the widest).
    pub const MAX_OP_INPUTS: usize = 16;
    /// Outputs of one op: every supported op has one.
    pub const MAX_OP_OUTPUTS: usize = 1;
    /// Parameter words of one op.
    pub const MAX_OP_WORDS: usize = 64;
    /// Graph inputs, and separately graph outputs.
    pub const MAX_GRAPH_IO: usize = 16;
    /// Per-channel scales in the whole model.
    pub const MAX_SCALES: usize = 65536;
    /// Links of in-place RESHAPE chains the plan check may walk in total
    /// (real models walk a handful).
    pub const MAX_ALIAS_STEPS: u32 = 1 << 16;
}
