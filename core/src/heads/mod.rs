//! Post-processing of a model's output on the device: what the blob's
//! [`Head`](crate::Head) says output 0 means, turned into results a firmware
//! can log or act on.
//!
//! - [`segment`]: per-pixel class logits → class map (into a caller buffer),
//!   per-class pixel area and bounding box.
//! - [`density`]: density map → count (exact integer sum, scaled once) and
//!   local peaks (3x3 non-maximum suppression, into a caller buffer).
//!
//! Nothing here allocates or panics; every size is checked against the
//! tensor and the caller's buffers, and a mismatch is a [`HeadError`].
pub mod density;
pub mod segment;

use crate::format::{DType, Quant, TensorInfo};

/// Why an output could not be post-processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeadError {
    /// The output tensor is not what the head reads: int8, per-tensor
    /// quantized, `[1, H, W, C]` or `[H, W, C]` (density also `[1, H, W]`),
    /// with a single channel for density maps.
    UnsupportedOutput,
    /// More classes than the result type has room for.
    TooManyClasses { classes: u32, max: u32 },
    /// A buffer has the wrong length (the output bytes, or a caller buffer).
    BufferLen { expected: u32, len: u32 },
}

impl core::fmt::Display for HeadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HeadError::UnsupportedOutput => write!(
                f,
                "output is not an int8 per-tensor quantized NHWC map this head reads"
            ),
            HeadError::TooManyClasses { classes, max } => {
                write!(f, "{classes} classes, room for {max}")
            }
            HeadError::BufferLen { expected, len } => {
                write!(f, "buffer of {len} bytes, expected {expected}")
            }
        }
    }
}

/// Height, width and channels of an image-shaped output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MapShape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl MapShape {
    /// The map shape of an int8, per-tensor quantized output: `[1, H, W, C]`,
    /// `[H, W, C]`, or `[1, H, W]` / `[H, W]` meaning one channel. Returns the
    /// shape with the tensor's scale and zero point.
    pub fn of_tensor(t: &TensorInfo) -> Result<(MapShape, f32, i32), HeadError> {
        let Quant::PerTensor { scale, zero_point } = t.quant else {
            return Err(HeadError::UnsupportedOutput);
        };
        if t.dtype != DType::Int8 {
            return Err(HeadError::UnsupportedOutput);
        }
        let d = |i| t.shape.dim(i).map(|v| v as usize);
        let (h, w, c) = match t.shape.rank() {
            4 if d(0) == Some(1) => (d(1), d(2), d(3)),
            3 if d(0) == Some(1) => (d(1), d(2), Some(1)),
            3 => (d(0), d(1), d(2)),
            2 => (d(0), d(1), Some(1)),
            _ => return Err(HeadError::UnsupportedOutput),
        };
        match (h, w, c) {
            (Some(height), Some(width), Some(channels)) => Ok((
                MapShape {
                    height,
                    width,
                    channels,
                },
                scale,
                zero_point,
            )),
            _ => Err(HeadError::UnsupportedOutput),
        }
    }

    /// `height * width`, `None` on overflow.
    pub fn pixels(&self) -> Option<usize> {
        self.height.checked_mul(self.width)
    }

    /// `height * width * channels`, `None` on overflow.
    pub fn elements(&self) -> Option<usize> {
        self.pixels()?.checked_mul(self.channels)
    }
}

/// Saturating `usize` → `u32` for error payloads.
pub(crate) fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Checks that `buf` has exactly `expected` bytes.
pub(crate) fn check_len(expected: Option<usize>, len: usize) -> Result<usize, HeadError> {
    match expected {
        Some(e) if e == len => Ok(e),
        _ => Err(HeadError::BufferLen {
            expected: expected.map_or(u32::MAX, len_u32),
            len: len_u32(len),
        }),
    }
}
