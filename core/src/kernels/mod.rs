//! Int8 kernels, bit-exact with TFLite Micro's reference integer kernels.
//!
//! One op per module. Every module has the same shape:
//! - `Params`: everything the op needs at run time, already computed on the
//!   host (padding, offsets, multipliers, clamp range). Per-channel
//!   multipliers and shifts are not in `Params`; they are passed as
//!   [`PerChannel`] views of `i32` arrays stored in the blob.
//! - `prepare(...)` (host side): builds `Params` from float scales, zero
//!   points, shapes and TFLite options exactly as TFLM's `Prepare` does.
//! - `Params::encode` / `Params::decode`: a fixed list of `i32` words, the
//!   form stored in the blob (see `core/FORMAT-OPS.md`); `decode` range-checks
//!   every field.
//! - `Params::validate(shapes...)`: checks the params against tensor shapes.
//! - `eval(...)`: runs the op on plain slices. It validates first and never
//!   indexes out of bounds: inconsistent shapes or lengths are an `Err`.
//! - `Params::macs(shapes...)`: multiply-accumulate count, for reports.
//!
//! Shapes are 4-D NHWC ([`Shape4`]); a tensor of lower rank is extended with
//! leading 1s, as TFLite's `RuntimeShape::ExtendedShape(4, ...)` does.
//! Inputs and outputs never alias (the session guarantees it; ops that the
//! plan runs in place get a copy of each input chunk, see `dispatch`).

pub mod add;
pub mod average_pool2d;
pub mod concatenation;
pub mod conv2d;
pub mod conv2d_fused;
pub mod depthwise_conv2d;
pub mod dequantize;
pub mod fast;
pub mod fully_connected;
pub mod hard_swish;
pub mod input_view;
pub mod leaky_relu;
pub mod logistic;
pub mod max_pool2d;
pub mod mean;
pub mod mul;
pub mod pad;
pub mod pool;
pub mod quantize;
pub mod reshape;
pub mod resize_bilinear;
pub mod resize_nearest;
pub mod softmax;

use crate::le::I32s;

/// Why a kernel refused to run (or a host-side prepare refused a model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KernelError {
    /// Tensor shapes are inconsistent with each other or with the params.
    Shape,
    /// A buffer's length does not match its shape.
    Length,
    /// A parameter is out of range (or an encoded parameter list is malformed).
    Param,
    /// A scale or multiplier cannot be represented (host-side prepare).
    Quantization,
    /// A valid TFLite option that this runtime does not implement.
    Unsupported,
}

/// The largest dimension (and stride, dilation, padding) a kernel accepts:
/// keeps every coordinate computation far inside `i32`/`isize` on 32-bit
/// targets.
pub const MAX_DIM: usize = 1 << 15;

/// A 4-D NHWC shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape4 {
    /// Batch.
    pub n: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Channels (innermost, contiguous).
    pub c: usize,
}

impl Shape4 {
    /// A shape from its four dimensions.
    pub const fn new(n: usize, h: usize, w: usize, c: usize) -> Self {
        Self { n, h, w, c }
    }

    /// Extends a shape of rank 0..=4 to 4-D with leading 1s; `None` for a
    /// higher rank or a negative dimension.
    pub fn from_dims(dims: &[i32]) -> Option<Self> {
        if dims.len() > 4 {
            return None;
        }
        let mut d = [1usize; 4];
        let skip = 4 - dims.len();
        for (slot, &v) in d.iter_mut().skip(skip).zip(dims) {
            *slot = usize::try_from(v).ok()?;
        }
        Some(Self::new(d[0], d[1], d[2], d[3]))
    }

    /// The dimensions as an array `[n, h, w, c]`.
    pub const fn dims(&self) -> [usize; 4] {
        [self.n, self.h, self.w, self.c]
    }

    /// Number of elements, `None` on overflow.
    pub fn elements(&self) -> Option<usize> {
        self.n
            .checked_mul(self.h)?
            .checked_mul(self.w)?
            .checked_mul(self.c)
    }

    /// Checks every dimension is `<= MAX_DIM` and the element count fits.
    pub fn check(&self) -> Result<usize, KernelError> {
        if self.dims().iter().any(|&d| d > MAX_DIM) {
            return Err(KernelError::Shape);
        }
        self.elements().ok_or(KernelError::Shape)
    }
}

/// A read-only int8 tensor: its shape and its data.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// NHWC shape.
    pub shape: Shape4,
    /// Row-major (NHWC) data; its length must equal the shape's element count.
    pub data: &'a [i8],
}

/// A writable int8 tensor: its shape and its data.
#[derive(Debug)]
pub struct ViewMut<'a> {
    /// NHWC shape.
    pub shape: Shape4,
    /// Row-major (NHWC) data; its length must equal the shape's element count.
    pub data: &'a mut [i8],
}

impl<'a> View<'a> {
    /// A view; no check here (kernels check lengths before running).
    pub const fn new(shape: Shape4, data: &'a [i8]) -> Self {
        Self { shape, data }
    }
}

impl<'a> ViewMut<'a> {
    /// A writable view; no check here (kernels check lengths before running).
    pub fn new(shape: Shape4, data: &'a mut [i8]) -> Self {
        Self { shape, data }
    }
}

/// Checks that a buffer of `len` elements matches `shape`.
pub fn check_len(shape: Shape4, len: usize) -> Result<(), KernelError> {
    if shape.check()? == len {
        Ok(())
    } else {
        Err(KernelError::Length)
    }
}

/// Per-output-channel requantization: `multiplier[c]`, `shift[c]` as produced
/// by [`crate::quant::per_channel_multipliers`].
#[derive(Debug, Clone, Copy)]
pub struct PerChannel<'a> {
    /// Q0.31 significands, each in `[0, 2^31)`.
    pub multiplier: I32s<'a>,
    /// Power-of-two exponents, each in `[-31, 31]`.
    pub shift: I32s<'a>,
}

impl PerChannel<'_> {
    /// Checks both arrays have `channels` entries and every value is in range.
    pub fn validate(&self, channels: usize) -> Result<(), KernelError> {
        if self.multiplier.len() != channels || self.shift.len() != channels {
            return Err(KernelError::Length);
        }
        if self.multiplier.iter().any(|m| m < 0)
            || self.shift.iter().any(|s| !(-31..=31).contains(&s))
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }
}

/// Optional int32 bias: when present it has one entry per output channel.
pub fn check_bias(bias: Option<I32s<'_>>, channels: usize) -> Result<(), KernelError> {
    match bias {
        Some(b) if b.len() != channels => Err(KernelError::Length),
        _ => Ok(()),
    }
}

/// A tensor's affine quantization: `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quant {
    /// Scale (positive).
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
}

impl Quant {
    /// A quantization; see [`Quant::check_int8`] for the int8 ranges.
    pub const fn new(scale: f32, zero_point: i32) -> Self {
        Self { scale, zero_point }
    }

    /// Checks a positive finite scale and an int8 zero point.
    pub fn check_int8(&self) -> Result<(), KernelError> {
        if self.scale.is_finite() && self.scale > 0.0 && (-128..=127).contains(&self.zero_point) {
            Ok(())
        } else {
            Err(KernelError::Quantization)
        }
    }
}

/// TFLite padding schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Output size `ceil(in / stride)`, padding split with the extra on the end.
    Same,
    /// No padding.
    Valid,
}

/// TFLite fused activations supported by the int8 kernels.
/// Discriminants are TFLite's `ActivationFunctionType` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// No clamp beyond int8.
    None = 0,
    /// `max(0, x)`.
    Relu = 1,
    /// `clamp(x, -1, 1)`.
    ReluN1To1 = 2,
    /// `clamp(x, 0, 6)`.
    Relu6 = 3,
}

impl Activation {
    /// From TFLite's `ActivationFunctionType` code (TANH and SIGN_BIT are not
    /// fused activations an int8 kernel supports).
    pub fn from_tflite(code: i32) -> Result<Self, KernelError> {
        match code {
            0 => Ok(Self::None),
            1 => Ok(Self::Relu),
            2 => Ok(Self::ReluN1To1),
            3 => Ok(Self::Relu6),
            _ => Err(KernelError::Unsupported),
        }
    }
}

/// TFLite `CalculateActivationRangeQuantized` for an int8 output: the clamp
/// range `(min, max)` of a fused activation, quantizing 0, 6, -1, 1 with
/// `zero_point + (int)round(f / scale)` in `f32`.
pub fn activation_range(activation: Activation, output: Quant) -> (i32, i32) {
    let quantize = |f: f32| {
        output
            .zero_point
            .saturating_add(crate::quant::f32_to_i32(crate::quant::round_f32(
                f / output.scale,
            )))
    };
    let (qmin, qmax) = (-128i32, 127i32);
    match activation {
        Activation::None => (qmin, qmax),
        Activation::Relu => (qmin.max(quantize(0.0)), qmax),
        Activation::Relu6 => (qmin.max(quantize(0.0)), qmax.min(quantize(6.0))),
        Activation::ReluN1To1 => (qmin.max(quantize(-1.0)), qmax.min(quantize(1.0))),
    }
}

/// TFLite `ComputeOutSize`: output length along one axis.
pub fn compute_out_size(
    padding: Padding,
    in_size: usize,
    filter_size: usize,
    stride: usize,
    dilation: usize,
) -> Option<usize> {
    if stride == 0 || filter_size == 0 || dilation == 0 {
        return None;
    }
    let effective = (filter_size - 1).checked_mul(dilation)?.checked_add(1)?;
    match padding {
        Padding::Same => Some(in_size.checked_add(stride - 1)? / stride),
        Padding::Valid => Some(in_size.checked_add(stride)?.checked_sub(effective)? / stride),
    }
}

/// TFLite `ComputePaddingWithOffset`: padding before the data along one axis
/// (the kernels only use this one; the extra odd pixel goes after the data).
pub fn compute_padding(
    stride: usize,
    dilation: usize,
    in_size: usize,
    filter_size: usize,
    out_size: usize,
) -> Option<usize> {
    let effective = filter_size
        .checked_sub(1)?
        .checked_mul(dilation)?
        .checked_add(1)?;
    let total = (out_size.checked_sub(1)? as i64)
        .checked_mul(stride as i64)?
        .checked_add(effective as i64)?
        .checked_sub(in_size as i64)?;
    Some(if total > 0 { (total / 2) as usize } else { 0 })
}

/// The rows (or columns) a window of `filter` taps spaced `dilation`
/// apart spans.
pub fn effective_size(filter: usize, dilation: usize) -> Result<usize, KernelError> {
    filter
        .checked_sub(1)
        .and_then(|f| f.checked_mul(dilation))
        .and_then(|f| f.checked_add(1))
        .ok_or(KernelError::Shape)
}

/// Checks one spatial extent against TFLite's output-size rule: with
/// before-padding `pad`, the total padding is `2 * pad` or `2 * pad + 1` and
/// `out = (in + total - effective_filter) / stride + 1`. This rejects an
/// output that does not belong to the input (every tap would still be
/// bounds-checked; this keeps nonsense shapes out of the plan).
pub fn check_extent(
    in_size: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
    out: usize,
) -> Result<(), KernelError> {
    let effective = effective_size(filter, dilation)?;
    if stride == 0 {
        return Err(KernelError::Param);
    }
    let fits = |total: usize| {
        in_size
            .checked_add(total)
            .and_then(|t| t.checked_sub(effective))
            .is_some_and(|span| span / stride + 1 == out)
    };
    if fits(2 * pad) || fits(2 * pad + 1) {
        Ok(())
    } else {
        Err(KernelError::Shape)
    }
}

/// A check of one spatial extent: [`check_extent`] or [`check_band_extent`].
pub type Extent = fn(usize, usize, usize, usize, usize, usize) -> Result<(), KernelError>;

/// [`check_extent`] as the kernels check it before touching data: also
/// accepts a band of rows cut from a taller image, whose padding is
/// lopsided (only the first band has the top padding, only the last the
/// bottom). A band's bottom padding is less than one window, and fewer than
/// `stride` input rows go unread at its end. The runtime runs a convolution
/// in such bands when the plan places its output over its own input
/// ([`crate::bands`]); the kernels index-check every read, so they compute
/// any such geometry exactly.
pub fn check_band_extent(
    in_size: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
    out: usize,
) -> Result<(), KernelError> {
    if check_extent(in_size, filter, stride, dilation, pad, out).is_ok() {
        return Ok(());
    }
    if stride == 0 {
        return Err(KernelError::Param);
    }
    let effective = effective_size(filter, dilation)?;
    // In padded coordinates the real rows are [pad, pad + in_size) and the
    // last output row's window starts at `last`.
    let last = out
        .checked_sub(1)
        .and_then(|o| o.checked_mul(stride))
        .ok_or(KernelError::Shape)?;
    let real_end = pad.checked_add(in_size).ok_or(KernelError::Shape)?;
    let window_end = last.checked_add(effective).ok_or(KernelError::Shape)?;
    let reaches_real_rows = last < real_end;
    let few_unread = real_end <= window_end.saturating_add(stride - 1);
    if in_size > 0 && reaches_real_rows && few_unread {
        Ok(())
    } else {
        Err(KernelError::Shape)
    }
}

/// Element strides of `input` when broadcast to `output` (TFLite's
/// `NdArrayDescsForElementwiseBroadcast`): each input dimension must equal the
/// output's or be 1, in which case its stride is 0.
pub fn broadcast_strides(input: Shape4, output: Shape4) -> Result<[usize; 4], KernelError> {
    let d = input.dims();
    let o = output.dims();
    let mut strides = [0usize; 4];
    let mut stride = 1usize;
    for i in (0..4).rev() {
        if d[i] == o[i] {
            strides[i] = stride;
        } else if d[i] == 1 {
            strides[i] = 0;
        } else {
            return Err(KernelError::Shape);
        }
        stride = stride.checked_mul(d[i]).ok_or(KernelError::Shape)?;
    }
    Ok(strides)
}

/// Applies `f(a, b)` elementwise over `a` and `b` broadcast to `out`'s shape.
/// Shapes must have been validated with [`broadcast_strides`].
pub(crate) fn broadcast_binary(
    a: View<'_>,
    b: View<'_>,
    out: ViewMut<'_>,
    f: impl Fn(i8, i8) -> i8,
) -> Result<(), KernelError> {
    check_len(a.shape, a.data.len())?;
    check_len(b.shape, b.data.len())?;
    check_len(out.shape, out.data.len())?;
    if a.shape == out.shape && b.shape == out.shape {
        for ((o, &x), &y) in out.data.iter_mut().zip(a.data).zip(b.data) {
            *o = f(x, y);
        }
        return Ok(());
    }
    let sa = broadcast_strides(a.shape, out.shape)?;
    let sb = broadcast_strides(b.shape, out.shape)?;
    let mut outs = out.data.iter_mut();
    for n in 0..out.shape.n {
        for h in 0..out.shape.h {
            for w in 0..out.shape.w {
                let base_a = n * sa[0] + h * sa[1] + w * sa[2];
                let base_b = n * sb[0] + h * sb[1] + w * sb[2];
                for c in 0..out.shape.c {
                    let x = *a.data.get(base_a + c * sa[3]).ok_or(KernelError::Length)?;
                    let y = *b.data.get(base_b + c * sb[3]).ok_or(KernelError::Length)?;
                    *outs.next().ok_or(KernelError::Length)? = f(x, y);
                }
            }
        }
    }
    Ok(())
}

/// Reads an encoded parameter list word by word, range-checking each.
pub(crate) struct Words<'a> {
    words: &'a [i32],
}

impl<'a> Words<'a> {
    pub(crate) fn new(words: &'a [i32], expected: usize) -> Result<Self, KernelError> {
        if words.len() == expected {
            Ok(Self { words })
        } else {
            Err(KernelError::Param)
        }
    }

    /// The next word, which must lie in `lo..=hi`.
    pub(crate) fn int(&mut self, lo: i32, hi: i32) -> Result<i32, KernelError> {
        let (&first, rest) = self.words.split_first().ok_or(KernelError::Param)?;
        self.words = rest;
        if (lo..=hi).contains(&first) {
            Ok(first)
        } else {
            Err(KernelError::Param)
        }
    }

    /// The next word as a dimension-like count in `lo..=MAX_DIM`.
    pub(crate) fn size(&mut self, lo: usize) -> Result<usize, KernelError> {
        let v = self.int(lo as i32, MAX_DIM as i32)?;
        usize::try_from(v).map_err(|_| KernelError::Param)
    }

    /// The next word as a boolean (0 or 1).
    pub(crate) fn flag(&mut self) -> Result<bool, KernelError> {
        Ok(self.int(0, 1)? == 1)
    }

    /// An int8 clamp range: two words `min <= max` within `[-128, 127]`.
    pub(crate) fn clamp(&mut self) -> Result<(i32, i32), KernelError> {
        let lo = self.int(-128, 127)?;
        let hi = self.int(lo, 127)?;
        Ok((lo, hi))
    }
}

/// `usize` to `i32` for encoding (values are bounded by `MAX_DIM`).
pub(crate) fn word(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Clamps an `i32` into `[lo, hi]` and narrows it to `i8`.
#[inline]
pub(crate) fn clamp_i8(v: i32, lo: i32, hi: i32) -> i8 {
    v.clamp(lo, hi).clamp(-128, 127) as i8
}

#[cfg(test)]
mod robustness;
#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_size_and_padding_match_tflite() {
        // SAME, stride 2, in 7, filter 3: out 4, total pad (3*2+3-7)=2 -> 1.
        assert_eq!(compute_out_size(Padding::Same, 7, 3, 2, 1), Some(4));
        assert_eq!(compute_padding(2, 1, 7, 3, 4), Some(1));
        // SAME, stride 2, in 8, filter 3: out 4, total (3*2+3-8)=1 -> 0 before.
        assert_eq!(compute_padding(2, 1, 8, 3, 4), Some(0));
        // VALID, dilation 2, in 9, filter 3 (effective 5): out 5.
        assert_eq!(compute_out_size(Padding::Valid, 9, 3, 1, 2), Some(5));
        assert_eq!(compute_padding(1, 2, 9, 3, 5), Some(0));
        assert_eq!(compute_out_size(Padding::Valid, 2, 3, 1, 1), Some(0));
        assert_eq!(compute_out_size(Padding::Valid, 1, 3, 1, 1), None);
        assert_eq!(check_extent(7, 3, 2, 1, 1, 4), Ok(()));
        assert_eq!(check_extent(8, 3, 2, 1, 0, 4), Ok(()));
        assert_eq!(check_extent(9, 3, 1, 2, 0, 5), Ok(()));
        assert_eq!(check_extent(7, 3, 2, 1, 1, 5), Err(KernelError::Shape));
        assert_eq!(check_extent(7, 3, 2, 1, 1, 3), Err(KernelError::Shape));
        assert_eq!(check_extent(2, 5, 1, 1, 0, 1), Err(KernelError::Shape));
    }

    #[test]
    fn activation_ranges() {
        let q = Quant::new(0.05, -10);
        assert_eq!(activation_range(Activation::None, q), (-128, 127));
        assert_eq!(activation_range(Activation::Relu, q), (-10, 127));
        assert_eq!(activation_range(Activation::Relu6, q), (-10, 110));
        assert_eq!(activation_range(Activation::ReluN1To1, q), (-30, 10));
        // Relu6 with a large scale: 6 / 0.5 = 12.
        assert_eq!(
            activation_range(Activation::Relu6, Quant::new(0.5, 120)),
            (120, 127)
        );
    }

    #[test]
    fn shape_extension() {
        assert_eq!(Shape4::from_dims(&[3, 5]), Some(Shape4::new(1, 1, 3, 5)));
        assert_eq!(Shape4::from_dims(&[]), Some(Shape4::new(1, 1, 1, 1)));
        assert_eq!(Shape4::from_dims(&[1, 2, 3, 4, 5]), None);
        assert_eq!(Shape4::from_dims(&[-1]), None);
        assert!(Shape4::new(1, MAX_DIM + 1, 1, 1).check().is_err());
    }
}
