//! Tensor records: shape, type, quantization and where the bytes live.
use super::bytes::{f32_at, i32_at, u16_at, u32_at, u8_at};
use super::layout::{self, tensor as f, MAX_RANK};
use super::types::DType;
use crate::error::{Error, Section, TensorError};

/// A shape of rank 0 to 4, outermost dimension first (NHWC for images).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    dims: [u32; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// A shape from its dimensions; `None` above rank 4.
    pub fn new(dims: &[u32]) -> Option<Shape> {
        let mut out = Shape::default();
        out.dims.get_mut(..dims.len())?.copy_from_slice(dims);
        out.rank = dims.len() as u8;
        Some(out)
    }

    /// The dimensions.
    pub fn dims(&self) -> &[u32] {
        self.dims.get(..usize::from(self.rank)).unwrap_or(&[])
    }

    pub fn rank(&self) -> usize {
        usize::from(self.rank)
    }

    /// Dimension `i`, or `None` past the rank.
    pub fn dim(&self, i: usize) -> Option<u32> {
        self.dims().get(i).copied()
    }

    /// Element count (1 for a scalar), `None` on overflow.
    pub fn elements(&self) -> Option<usize> {
        self.dims()
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
    }

    /// The shape as NHWC with leading 1s added for ranks below 4.
    pub fn nhwc(&self) -> [u32; 4] {
        let mut out = [1u32; 4];
        let dims = self.dims();
        let skip = 4usize.saturating_sub(dims.len());
        for (o, d) in out.iter_mut().skip(skip).zip(dims) {
            *o = *d;
        }
        out
    }
}

/// How a tensor's integers map to real numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Quant {
    /// Not quantized (float32 data, or int32 words such as multipliers).
    None,
    /// `real = scale * (q - zero_point)`.
    PerTensor { scale: f32, zero_point: i32 },
    /// One scale per index along `axis` (zero points all 0). The scales are
    /// `count` f32 values at `index` in the scale pool: read them with
    /// [`crate::Model::channel_scale`].
    PerChannel { axis: u8, index: u32, count: u32 },
}

/// Where a tensor's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Storage {
    /// In the arena at this offset; alive from time `first` to `last`
    /// (time 0: set by the caller; time k+1: written or read by op k;
    /// time ops+1: read by the caller).
    Arena { offset: u32, first: u16, last: u16 },
    /// In the blob's constant section at this offset from the blob start.
    Constant { offset: u32 },
}

/// One validated tensor record.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorInfo {
    pub shape: Shape,
    pub dtype: DType,
    pub quant: Quant,
    pub storage: Storage,
    /// Bytes of data: elements times element size.
    pub byte_len: u32,
}

impl TensorInfo {
    /// Per-tensor scale (1.0 for unquantized tensors, 0.0 for per-channel ones).
    pub fn scale(&self) -> f32 {
        match self.quant {
            Quant::PerTensor { scale, .. } => scale,
            Quant::None => 1.0,
            Quant::PerChannel { .. } => 0.0,
        }
    }

    /// Per-tensor zero point (0 otherwise).
    pub fn zero_point(&self) -> i32 {
        match self.quant {
            Quant::PerTensor { zero_point, .. } => zero_point,
            _ => 0,
        }
    }

    /// Element count.
    pub fn elements(&self) -> usize {
        // Checked to fit when the record was read.
        self.shape.elements().unwrap_or(0)
    }

    /// Whether the tensor lives in the blob rather than the arena.
    pub fn is_constant(&self) -> bool {
        matches!(self.storage, Storage::Constant { .. })
    }

    /// Arena byte range, for activations.
    pub(crate) fn arena_range(&self) -> Option<(usize, usize)> {
        match self.storage {
            Storage::Arena { offset, .. } => {
                let start = offset as usize;
                Some((start, start.checked_add(self.byte_len as usize)?))
            }
            Storage::Constant { .. } => None,
        }
    }

    /// Lifetime `(first, last)`, for activations.
    pub(crate) fn lifetime(&self) -> Option<(u16, u16)> {
        match self.storage {
            Storage::Arena { first, last, .. } => Some((first, last)),
            Storage::Constant { .. } => None,
        }
    }
}

/// Limits the tensor record reader checks against, from the directory.
pub(crate) struct Bounds {
    pub arena_size: u32,
    pub arena_align: u32,
    pub const_start: usize,
    pub const_end: usize,
    pub scale_count: u32,
    /// Last valid time: op count + 1.
    pub last_time: u16,
}

/// Reads and checks the record at `at`. Everything that can be checked from
/// the record alone is checked here; uses by ops are checked by the model.
pub(crate) fn read(
    bytes: &[u8],
    at: usize,
    b: &Bounds,
) -> core::result::Result<TensorInfo, TensorErrorOr> {
    let s = Section::TensorTable;
    let rd8 = |o: usize| u8_at(bytes, at.wrapping_add(o), s);
    let dtype_code = rd8(f::DTYPE)?;
    let dtype = DType::from_code(dtype_code).ok_or(TensorError::DType(dtype_code))?;
    let rank = rd8(f::RANK)?;
    if usize::from(rank) > MAX_RANK {
        return Err(TensorError::Rank(rank).into());
    }
    let mut dims = [0u32; MAX_RANK];
    for (i, d) in dims.iter_mut().enumerate() {
        *d = u32_at(bytes, at.wrapping_add(f::DIMS + 4 * i), s)?;
        let used = i < usize::from(rank);
        if used == (*d == 0) {
            return Err(TensorError::Dim.into());
        }
    }
    let shape =
        Shape::new(dims.get(..usize::from(rank)).unwrap_or(&[])).ok_or(TensorError::Rank(rank))?;
    let byte_len = shape
        .elements()
        .and_then(|n| n.checked_mul(dtype.size()))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(TensorError::TooLarge)?;
    if u32_at(bytes, at.wrapping_add(f::BYTE_LEN), s)? != byte_len {
        return Err(TensorError::ByteLen.into());
    }
    for i in 0..3 {
        if rd8(f::RESERVED + i)? != 0 {
            return Err(TensorError::Code.into());
        }
    }

    let scale = f32_at(bytes, at.wrapping_add(f::SCALE), s)?;
    let zero_point = i32_at(bytes, at.wrapping_add(f::ZERO_POINT), s)?;
    let axis = rd8(f::AXIS)?;
    let scale_index = u32_at(bytes, at.wrapping_add(f::SCALE_INDEX), s)?;
    let quant = match rd8(f::QUANT)? {
        layout::QUANT_NONE => {
            if scale.to_bits() != 0 || zero_point != 0 || axis != 0 || scale_index != 0 {
                return Err(TensorError::Code.into());
            }
            Quant::None
        }
        layout::QUANT_PER_TENSOR => {
            let zp_ok = match dtype {
                DType::Int8 => (-128..=127).contains(&zero_point),
                DType::Int32 => zero_point == 0,
                DType::Float32 => false,
            };
            if !(scale.is_finite() && scale > 0.0 && zp_ok) {
                return Err(TensorError::Quantization.into());
            }
            if axis != 0 || scale_index != 0 {
                return Err(TensorError::Code.into());
            }
            Quant::PerTensor { scale, zero_point }
        }
        layout::QUANT_PER_CHANNEL => {
            let count = shape
                .dim(usize::from(axis))
                .ok_or(TensorError::PerChannel)?;
            let end = scale_index
                .checked_add(count)
                .ok_or(TensorError::PerChannel)?;
            if end > b.scale_count || dtype == DType::Float32 {
                return Err(TensorError::PerChannel.into());
            }
            if scale.to_bits() != 0 || zero_point != 0 {
                return Err(TensorError::Quantization.into());
            }
            Quant::PerChannel {
                axis,
                index: scale_index,
                count,
            }
        }
        _ => return Err(TensorError::Code.into()),
    };

    let offset = u32_at(bytes, at.wrapping_add(f::OFFSET), s)?;
    let first = u16_at(bytes, at.wrapping_add(f::FIRST), s)?;
    let last = u16_at(bytes, at.wrapping_add(f::LAST), s)?;
    let storage = match rd8(f::STORAGE)? {
        layout::STORAGE_ARENA => {
            let end = offset
                .checked_add(byte_len)
                .ok_or(TensorError::ArenaBounds)?;
            if end > b.arena_size {
                return Err(TensorError::ArenaBounds.into());
            }
            if offset % b.arena_align != 0 {
                return Err(TensorError::ArenaAlign.into());
            }
            if first > last || last > b.last_time {
                return Err(TensorError::Code.into());
            }
            Storage::Arena {
                offset,
                first,
                last,
            }
        }
        layout::STORAGE_CONSTANT => {
            let start = offset as usize;
            let end = start
                .checked_add(byte_len as usize)
                .ok_or(TensorError::ConstantBounds)?;
            if start < b.const_start || end > b.const_end {
                return Err(TensorError::ConstantBounds.into());
            }
            if start % layout::CONST_ALIGN != 0 {
                return Err(TensorError::ConstantAlign.into());
            }
            if first != 0 || last != 0 {
                return Err(TensorError::Code.into());
            }
            Storage::Constant { offset }
        }
        _ => return Err(TensorError::Code.into()),
    };
    Ok(TensorInfo {
        shape,
        dtype,
        quant,
        storage,
        byte_len,
    })
}

/// A record error, or a read outside the table (which `Model` maps to `Bounds`).
pub(crate) enum TensorErrorOr {
    Tensor(TensorError),
    Other(Error),
}

impl From<TensorError> for TensorErrorOr {
    fn from(e: TensorError) -> Self {
        TensorErrorOr::Tensor(e)
    }
}

impl From<Error> for TensorErrorOr {
    fn from(e: Error) -> Self {
        TensorErrorOr::Other(e)
    }
}
