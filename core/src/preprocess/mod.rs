//! Camera frames → a model's int8 input, the same way on the host and the
//! device.
//!
//! Three steps, all integer at run time:
//! 1. **Decode** the frame's pixels to RGB888 ([`PixelFormat`]: RGB565 in
//!    either byte order, RGB888, grey, YUYV).
//! 2. **Geometry** ([`Geometry`]): centre-crop to the model's aspect ratio,
//!    then average the block of crop pixels under each model pixel (rounded
//!    to the nearest 8-bit value, halves up). A one-channel model gets the
//!    BT.601 luma of that average; a grey frame feeding a three-channel
//!    model is replicated.
//! 3. **Quantize** each 8-bit value `p` as the model was trained to see it,
//!    the real number `p / 255`, with the input tensor's scale and zero
//!    point and core's rounding rule ([`crate::quant::quantize_f32_to_i8`]:
//!    `round(p / 255 / scale) + zero_point`, ties away from zero, clamped).
//!    The 256 results are tabulated once when a [`Preprocessor`] is made, so
//!    a frame costs no floating point; for scale 1/255 and zero point −128
//!    the table is `p − 128`.
mod geometry;
mod pixel;

pub use geometry::{Geometry, Rect};
pub use pixel::{luma, rgb565_to_rgb888, rgb888_to_rgb565, yuv_to_rgb, PixelFormat};

use crate::format::{DType, Quant, TensorInfo};
use crate::quant::quantize_f32_to_i8;

/// Why a frame could not become a model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PreprocessError {
    /// The frame does not hold exactly `width · height` pixels of its format.
    FrameLen { expected: u32, len: u32 },
    /// The frame or the model input has a zero dimension.
    ZeroSize,
    /// YUYV frames pair pixels, so their width must be even.
    OddWidth,
    /// Sizes overflow, or a model pixel would average too many frame pixels.
    TooLarge,
    /// The input tensor is not int8, per-tensor quantized, `[1, H, W, C]` or
    /// `[H, W, C]` with 1 or 3 channels.
    UnsupportedInput,
    /// The destination is not the input tensor's size.
    InputLen { expected: u32, len: u32 },
}

impl core::fmt::Display for PreprocessError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PreprocessError::FrameLen { expected, len } => {
                write!(f, "frame of {len} bytes, expected {expected}")
            }
            PreprocessError::ZeroSize => write!(f, "zero-sized frame or model input"),
            PreprocessError::OddWidth => write!(f, "YUYV frames need an even width"),
            PreprocessError::TooLarge => write!(f, "frame too large for the model input"),
            PreprocessError::UnsupportedInput => write!(
                f,
                "model input is not an int8 per-tensor [1,H,W,1|3] tensor"
            ),
            PreprocessError::InputLen { expected, len } => {
                write!(f, "input buffer of {len} bytes, expected {expected}")
            }
        }
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What the preprocessor needs to know about the model's input tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InputSpec {
    pub height: usize,
    pub width: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    pub scale: f32,
    pub zero_point: i32,
}

impl InputSpec {
    /// Reads an int8, per-tensor quantized `[1, H, W, C]` or `[H, W, C]`
    /// tensor with `C` 1 or 3.
    pub fn of_tensor(t: &TensorInfo) -> Result<InputSpec, PreprocessError> {
        let bad = PreprocessError::UnsupportedInput;
        let Quant::PerTensor { scale, zero_point } = t.quant else {
            return Err(bad);
        };
        if t.dtype != DType::Int8 {
            return Err(bad);
        }
        let d = |i| t.shape.dim(i).map(|v| v as usize).ok_or(bad);
        let (height, width, channels) = match t.shape.rank() {
            4 if d(0)? == 1 => (d(1)?, d(2)?, d(3)?),
            3 => (d(0)?, d(1)?, d(2)?),
            _ => return Err(bad),
        };
        if !(channels == 1 || channels == 3) {
            return Err(bad);
        }
        Ok(InputSpec {
            height,
            width,
            channels,
            scale,
            zero_point,
        })
    }

    /// Bytes of the input tensor.
    pub fn len(&self) -> Option<usize> {
        self.height
            .checked_mul(self.width)?
            .checked_mul(self.channels)
    }

    /// Whether the input has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// The 256 int8 codes of the 8-bit values `p / 255` (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantizer {
    table: [i8; 256],
}

impl Quantizer {
    /// Tabulates `round(p / 255 / scale) + zero_point` (core's rounding
    /// rule, clamped to int8). `scale` must be finite and positive and the
    /// zero point an int8 value, as the blob parser guarantees.
    pub fn new(scale: f32, zero_point: i32) -> Result<Quantizer, PreprocessError> {
        let valid = scale.is_finite() && scale > 0.0 && (-128..=127).contains(&zero_point);
        if !valid {
            return Err(PreprocessError::UnsupportedInput);
        }
        let mut table = [0i8; 256];
        for (p, q) in table.iter_mut().enumerate() {
            *q = quantize_f32_to_i8(p as f32 / 255.0, scale, zero_point);
        }
        Ok(Quantizer { table })
    }

    /// The code of 8-bit value `p`.
    #[inline]
    pub fn quantize(&self, p: u8) -> i8 {
        // 256 entries: every u8 is in range.
        self.table.get(usize::from(p)).copied().unwrap_or(0)
    }
}

/// A frame-size- and format-specific preprocessor for one model input:
/// validated once, then [`Preprocessor::run`] per frame.
#[derive(Debug, Clone, Copy)]
pub struct Preprocessor {
    geometry: Geometry,
    format: PixelFormat,
    channels: usize,
    frame_len: usize,
    input_len: usize,
    quantizer: Quantizer,
}

impl Preprocessor {
    /// For frames of `frame_width × frame_height` pixels in `format`, feeding
    /// the model input `input`.
    pub fn new(
        input: &TensorInfo,
        frame_width: usize,
        frame_height: usize,
        format: PixelFormat,
    ) -> Result<Preprocessor, PreprocessError> {
        Self::for_spec(
            &InputSpec::of_tensor(input)?,
            frame_width,
            frame_height,
            format,
        )
    }

    /// As [`Preprocessor::new`], from an already-read [`InputSpec`].
    pub fn for_spec(
        spec: &InputSpec,
        frame_width: usize,
        frame_height: usize,
        format: PixelFormat,
    ) -> Result<Preprocessor, PreprocessError> {
        if !(spec.channels == 1 || spec.channels == 3) {
            return Err(PreprocessError::UnsupportedInput);
        }
        let geometry = Geometry::new(frame_width, frame_height, spec.width, spec.height)?;
        if format == PixelFormat::Yuyv && frame_width % 2 != 0 {
            return Err(PreprocessError::OddWidth);
        }
        let frame_len = frame_width
            .checked_mul(frame_height)
            .and_then(|n| n.checked_mul(format.bytes_per_pixel()))
            .ok_or(PreprocessError::TooLarge)?;
        let input_len = spec.len().ok_or(PreprocessError::TooLarge)?;
        Ok(Preprocessor {
            geometry,
            format,
            channels: spec.channels,
            frame_len,
            input_len,
            quantizer: Quantizer::new(spec.scale, spec.zero_point)?,
        })
    }

    /// The crop and scale, for mapping results back onto the frame.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Bytes a frame must have.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Bytes of the model input.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Writes the model input for `frame` into `dst` (the input tensor's
    /// bytes, e.g. `session.input(0)?`).
    pub fn run(&self, frame: &[u8], dst: &mut [u8]) -> Result<(), PreprocessError> {
        if frame.len() != self.frame_len {
            return Err(PreprocessError::FrameLen {
                expected: len_u32(self.frame_len),
                len: len_u32(frame.len()),
            });
        }
        if dst.len() != self.input_len {
            return Err(PreprocessError::InputLen {
                expected: len_u32(self.input_len),
                len: len_u32(dst.len()),
            });
        }
        match self.format {
            PixelFormat::Rgb565Be => self.run_rows::<pixel::Rgb565BeRow>(frame, dst),
            PixelFormat::Rgb565Le => self.run_rows::<pixel::Rgb565LeRow>(frame, dst),
            PixelFormat::Rgb888 => self.run_rows::<pixel::Rgb888Row>(frame, dst),
            PixelFormat::Gray8 => self.run_rows::<pixel::Gray8Row>(frame, dst),
            PixelFormat::Yuyv => self.run_rows::<pixel::YuyvRow>(frame, dst),
        }
    }

    /// [`Preprocessor::run`] for one pixel format, after the length checks:
    /// per model pixel, the rounded mean RGB of its block of frame pixels
    /// (rounded half up; no division when the block is one pixel, the case
    /// at or above model size), then the quantizer.
    fn run_rows<D: pixel::RowDecoder>(
        &self,
        frame: &[u8],
        dst: &mut [u8],
    ) -> Result<(), PreprocessError> {
        let short = PreprocessError::FrameLen {
            expected: len_u32(self.frame_len),
            len: len_u32(frame.len()),
        };
        let g = &self.geometry;
        let row_len = g.frame_width * self.format.bytes_per_pixel();
        let mut pixels = dst.chunks_exact_mut(self.channels);
        for oy in 0..g.out_height {
            let (y0, y1) = g.span_y(oy);
            // The frame rows of this model row, sliced once for all its pixels.
            let block = frame.get(y0 * row_len..y1 * row_len).ok_or(short)?;
            for ox in 0..g.out_width {
                let (x0, x1) = g.span_x(ox);
                let mut sum = [0u32; 3];
                let mut n = 0u32;
                for row in block.chunks_exact(row_len.max(1)) {
                    for x in x0..x1 {
                        let rgb = D::rgb(row, x).ok_or(short)?;
                        for (s, v) in sum.iter_mut().zip(rgb) {
                            *s = s.saturating_add(u32::from(v));
                        }
                        n = n.saturating_add(1);
                    }
                }
                let rgb = if n == 1 {
                    sum.map(|s| s as u8)
                } else {
                    let n = n.max(1);
                    sum.map(|s| (s.saturating_add(n / 2) / n).min(255) as u8)
                };
                let out = pixels.next().ok_or(PreprocessError::TooLarge)?;
                if let [v] = out {
                    let [r, g, b] = rgb;
                    *v = self.quantizer.quantize(luma(r, g, b)) as u8;
                } else {
                    for (v, p) in out.iter_mut().zip(rgb) {
                        *v = self.quantizer.quantize(p) as u8;
                    }
                }
            }
        }
        Ok(())
    }
}

/// One-shot [`Preprocessor::new`] + [`Preprocessor::run`]; returns the
/// geometry so results can be mapped back onto the frame. A firmware that
/// processes many frames keeps a `Preprocessor` instead (it tabulates the
/// quantizer once).
pub fn frame_to_input(
    input: &TensorInfo,
    frame: &[u8],
    frame_width: usize,
    frame_height: usize,
    format: PixelFormat,
    dst: &mut [u8],
) -> Result<Geometry, PreprocessError> {
    let p = Preprocessor::new(input, frame_width, frame_height, format)?;
    p.run(frame, dst)?;
    Ok(p.geometry)
}

#[cfg(test)]
mod tests;
