//! The one place that knows which kernel runs which op.
//!
//! Every op has one adapter function here that decodes its parameter words,
//! checks its tensors (count, types, shapes, quantization), returns its MAC
//! count and, when given buffers, runs the kernel. The same function serves
//! `Model::parse` (no buffers: check only) and `Session::run`, so what parse
//! accepted is exactly what run executes.
mod ops;

use crate::bands;
use crate::error::{Error, OpError, Result};
use crate::format::layout::limits::{MAX_OP_INPUTS, MAX_OP_WORDS};
use crate::format::{DType, OpCode, TensorInfo};
use crate::kernels::{KernelError, Shape4, View, ViewMut};
use crate::le::I32s;
use crate::model::{Model, OpInfo};

/// An op's record, tensors, constant bytes and parameter words, gathered once.
pub(crate) struct Operands<'m> {
    pub op: OpInfo,
    pub inputs: [Option<TensorInfo>; MAX_OP_INPUTS],
    /// Constant inputs' bytes (empty for activations).
    pub consts: [&'m [u8]; MAX_OP_INPUTS],
    pub output: TensorInfo,
    words: [i32; MAX_OP_WORDS],
    word_count: usize,
}

/// The buffers of one evaluation: every input's bytes and the output's.
pub(crate) struct Io<'x> {
    pub inputs: [&'x [u8]; MAX_OP_INPUTS],
    pub output: &'x mut [u8],
    /// The input the plan placed on the output's bytes (written in place):
    /// its slot in `inputs` is empty and its values are in `output`.
    pub in_place: Option<usize>,
    /// The rows this call computes, when the plan placed the output over the
    /// top of its input ([`bands`]): `inputs[0]` and `output` hold only
    /// those rows.
    pub band: Option<bands::Band>,
}

impl<'m> Operands<'m> {
    pub fn load(model: &Model<'m>, k: u16) -> Result<Operands<'m>> {
        let op = model.op(k)?;
        let mut inputs = [None; MAX_OP_INPUTS];
        let mut consts: [&'m [u8]; MAX_OP_INPUTS] = [&[]; MAX_OP_INPUTS];
        for i in 0..op.inputs {
            let t = model.tensor(model.op_input(&op, i)?)?;
            let slot = usize::from(i);
            *consts.get_mut(slot).ok_or(Error::Internal)? = model.constant(&t)?;
            *inputs.get_mut(slot).ok_or(Error::Internal)? = Some(t);
        }
        let output = model.tensor(model.op_output(&op, 0)?)?;
        let mut words = [0i32; MAX_OP_WORDS];
        let word_count = model.op_words(&op, &mut words)?.len();
        Ok(Operands {
            op,
            inputs,
            consts,
            output,
            words,
            word_count,
        })
    }

    /// The parameter words.
    pub fn words(&self) -> &[i32] {
        self.words.get(..self.word_count).unwrap_or(&[])
    }

    /// Input `i`'s record.
    pub fn input(&self, i: usize) -> core::result::Result<&TensorInfo, OpError> {
        self.inputs
            .get(i)
            .and_then(Option::as_ref)
            .ok_or(OpError::Arity)
    }

    /// Requires between `min` and `max` inputs.
    pub fn arity(&self, min: u8, max: u8) -> core::result::Result<(), OpError> {
        if (min..=max).contains(&self.op.inputs) && self.op.outputs == 1 {
            Ok(())
        } else {
            Err(OpError::Arity)
        }
    }

    /// Requires input `i` to have type `dtype`.
    pub fn dtype(&self, i: usize, dtype: DType) -> core::result::Result<&TensorInfo, OpError> {
        let t = self.input(i)?;
        if t.dtype == dtype {
            Ok(t)
        } else {
            Err(OpError::Tensors)
        }
    }

    /// Requires input `i` to be an int8 activation with per-tensor quantization.
    pub fn act_i8(&self, i: usize) -> core::result::Result<&TensorInfo, OpError> {
        let t = self.dtype(i, DType::Int8)?;
        if t.is_constant() || !matches!(t.quant, crate::format::Quant::PerTensor { .. }) {
            return Err(OpError::Tensors);
        }
        Ok(t)
    }

    /// Requires input `i` to be int8 with per-tensor quantization
    /// (activation or constant).
    pub fn int8(&self, i: usize) -> core::result::Result<&TensorInfo, OpError> {
        let t = self.dtype(i, DType::Int8)?;
        if !matches!(t.quant, crate::format::Quant::PerTensor { .. }) {
            return Err(OpError::Tensors);
        }
        Ok(t)
    }

    /// Requires the output to be int8 with per-tensor quantization.
    pub fn out_i8(&self) -> core::result::Result<&TensorInfo, OpError> {
        let t = &self.output;
        if t.dtype != DType::Int8 || !matches!(t.quant, crate::format::Quant::PerTensor { .. }) {
            return Err(OpError::Tensors);
        }
        Ok(t)
    }

    /// Requires input `i` to be a constant int32 array and views it.
    pub fn const_i32(&self, i: usize) -> core::result::Result<I32s<'m>, OpError> {
        self.dtype(i, DType::Int32)?;
        as_i32s(self.constant(i)?)
    }

    /// Requires input `i` to be a constant (weights) and returns its bytes.
    pub fn constant(&self, i: usize) -> core::result::Result<&'m [u8], OpError> {
        if self.input(i)?.is_constant() {
            self.consts.get(i).copied().ok_or(OpError::Arity)
        } else {
            Err(OpError::Tensors)
        }
    }
}

type OpResult = core::result::Result<u64, OpError>;

/// Checks op `k` (parse time). Errors carry no op index: the caller adds it.
pub(crate) fn check(model: &Model<'_>, k: u16) -> core::result::Result<(), OpError> {
    let ops = Operands::load(model, k).map_err(|_| OpError::Bounds)?;
    run_op(&ops, None).map(|_| ())
}

/// Multiply-accumulates of op `k`.
pub(crate) fn macs(model: &Model<'_>, k: u16) -> Result<u64> {
    let ops = Operands::load(model, k)?;
    run_op(&ops, None).map_err(|error| Error::Op { index: k, error })
}

/// Runs op `k` in `arena`.
pub(crate) fn eval(model: &Model<'_>, k: u16, arena: &mut [u8]) -> Result<()> {
    let ops = Operands::load(model, k)?;
    let err = |error| Error::Op { index: k, error };
    let (o0, o1) = ops.output.arena_range().ok_or(Error::Internal)?;

    if ops.op.code == OpCode::Reshape {
        // In place when the plan aliased it; a plain copy otherwise.
        let src = ops.input(0).map_err(err)?;
        let (s0, s1) = src.arena_range().ok_or(Error::Internal)?;
        if s0 != o0 {
            if s1.saturating_sub(s0) != o1.saturating_sub(o0) || s1 > arena.len() {
                return Err(Error::Internal);
            }
            arena.copy_within(s0..s1, o0);
        }
        return Ok(());
    }

    if let Some((rows, input)) = row_overwrite(&ops).map_err(err)? {
        return bands::run(&rows, arena, o0, input, |band, x, y| {
            let mut inputs: [&[u8]; MAX_OP_INPUTS] = ops.consts;
            *inputs.first_mut().ok_or(OpError::Arity)? = x;
            let io = Io {
                inputs,
                output: y,
                in_place: None,
                band: Some(*band),
            };
            run_op(&ops, Some(io)).map(|_| ())
        })
        .map_err(err);
    }

    // The plan guarantees the output overlaps no input, except one input
    // the op may overwrite that has exactly the output's bytes (or, above,
    // its data input's top rows, for a convolution): split the
    // arena around the output so the kernel gets one `&mut` and many `&`.
    let mut in_place = None;
    for i in 0..ops.op.inputs {
        let t = ops.input(usize::from(i)).map_err(err)?;
        if t.arena_range() == Some((o0, o1)) && may_overwrite(model, &ops.op, i) {
            in_place = Some(usize::from(i));
            break;
        }
    }
    let (below, rest) = arena.split_at_mut_checked(o0).ok_or(Error::Internal)?;
    let (output, above) = rest
        .split_at_mut_checked(o1.saturating_sub(o0))
        .ok_or(Error::Internal)?;
    let mut inputs: [&[u8]; MAX_OP_INPUTS] = [&[]; MAX_OP_INPUTS];
    for (i, slot) in inputs
        .iter_mut()
        .enumerate()
        .take(usize::from(ops.op.inputs))
    {
        let t = ops.input(i).map_err(err)?;
        *slot = match t.arena_range() {
            _ if in_place == Some(i) => &[],
            None => ops.consts.get(i).copied().ok_or(Error::Internal)?,
            Some((s0, s1)) if s1 <= o0 => below.get(s0..s1).ok_or(Error::Internal)?,
            Some((s0, s1)) if s0 >= o1 => above
                .get(s0.saturating_sub(o1)..s1.saturating_sub(o1))
                .ok_or(Error::Internal)?,
            Some(_) => return Err(Error::Internal),
        };
    }
    run_op(
        &ops,
        Some(Io {
            inputs,
            output,
            in_place,
            band: None,
        }),
    )
    .map(|_| ())
    .map_err(err)
}

/// Checks the op and, with buffers, runs it; returns its MAC count. An op
/// whose kernel is not compiled in (`op-*` features) is `Unsupported`, so
/// `Model::parse` rejects a model that needs it.
fn run_op(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    match ops.op.code {
        OpCode::Reshape => reshape(ops),
        #[cfg(feature = "op-conv2d")]
        OpCode::Conv2d => ops::conv2d(ops, io),
        #[cfg(feature = "op-depthwise-conv2d")]
        OpCode::DepthwiseConv2d => ops::depthwise_conv2d(ops, io),
        #[cfg(feature = "op-fully-connected")]
        OpCode::FullyConnected => ops::fully_connected(ops, io),
        #[cfg(feature = "op-add")]
        OpCode::Add => ops::add(ops, io),
        #[cfg(feature = "op-mul")]
        OpCode::Mul => ops::mul(ops, io),
        #[cfg(feature = "op-concatenation")]
        OpCode::Concatenation => ops::concatenation(ops, io),
        #[cfg(feature = "op-max-pool2d")]
        OpCode::MaxPool2d => ops::max_pool2d(ops, io),
        #[cfg(feature = "op-average-pool2d")]
        OpCode::AveragePool2d => ops::average_pool2d(ops, io),
        #[cfg(feature = "op-mean")]
        OpCode::Mean => ops::mean(ops, io),
        #[cfg(feature = "op-pad")]
        OpCode::Pad => ops::pad(ops, io),
        #[cfg(feature = "op-resize-nearest")]
        OpCode::ResizeNearestNeighbor => ops::resize_nearest(ops, io),
        #[cfg(feature = "op-resize-bilinear")]
        OpCode::ResizeBilinear => ops::resize_bilinear(ops, io),
        #[cfg(feature = "op-logistic")]
        OpCode::Logistic => ops::logistic(ops, io),
        #[cfg(feature = "op-softmax")]
        OpCode::Softmax => ops::softmax(ops, io),
        #[cfg(feature = "op-hard-swish")]
        OpCode::HardSwish => ops::hard_swish(ops, io),
        #[cfg(feature = "op-leaky-relu")]
        OpCode::LeakyRelu => ops::leaky_relu(ops, io),
        #[cfg(feature = "op-quantize")]
        OpCode::Quantize => ops::quantize(ops, io),
        #[cfg(feature = "op-dequantize")]
        OpCode::Dequantize => ops::dequantize(ops, io),
        #[cfg(feature = "op-conv2d-fused")]
        OpCode::Conv2dFused => ops::conv2d_fused(ops, io),
        // Ops whose kernel this build leaves out (see core/Cargo.toml).
        #[allow(unreachable_patterns)]
        _ => Err(OpError::Unsupported),
    }
}

/// Whether `op` may write its output over input `i` (when the plan gives
/// both the same bytes and the input dies at this op). True for ops whose
/// output element `j` depends on that input only at element `j`: the
/// element-wise ops (run chunk by chunk through a stack copy, see
/// [`in_place_unary`]) and the ADD epilogue's addend of CONV_2D_FUSED
/// (read before it is overwritten).
pub(crate) fn may_overwrite(model: &Model<'_>, op: &OpInfo, i: u8) -> bool {
    match op.code {
        OpCode::Add | OpCode::Mul => i < 2,
        OpCode::Logistic | OpCode::LeakyRelu | OpCode::HardSwish | OpCode::Quantize => i == 0,
        OpCode::Conv2dFused => {
            let mut words = [0i32; MAX_OP_WORDS];
            model
                .op_words(op, &mut words)
                .ok()
                .and_then(|w| crate::kernels::conv2d_fused::Params::decode(w).ok())
                .is_some_and(|p| p.add.is_some() && i.checked_add(1) == Some(op.inputs))
        }
        _ => false,
    }
}

/// When the plan placed op `ops`'s output over the top rows of its data
/// input (FORMAT.md §6: a CONV_2D or DEPTHWISE_CONV_2D whose input 0 it
/// overlaps, starting before it): the row geometry and the input's arena
/// offset, for [`bands::run`]. `None` when the output overlaps no input
/// that way. A placement the rows do not fit is an error (parse time
/// rejects it, see `Model::check_op_overlap`).
pub(crate) fn row_overwrite(
    ops: &Operands<'_>,
) -> core::result::Result<Option<(bands::Rows, usize)>, OpError> {
    if !matches!(ops.op.code, OpCode::Conv2d | OpCode::DepthwiseConv2d) {
        return Ok(None);
    }
    let (Some((o0, o1)), Some((s0, s1))) = (ops.output.arena_range(), ops.input(0)?.arena_range())
    else {
        return Ok(None);
    };
    if s1 <= o0 || o1 <= s0 {
        return Ok(None);
    }
    let rows = ops::row_geometry(ops)?;
    match s0.checked_sub(o0) {
        Some(gap) if gap > 0 && rows.fits(gap) => Ok(Some((rows, s0))),
        _ => Err(OpError::Tensors),
    }
}

/// Elements copied to the stack at a time by the in-place runners.
const IN_PLACE_CHUNK: usize = 64;

/// A run of `len` elements as a shape (element-wise kernels only compare
/// element counts).
fn run_shape(len: usize) -> Shape4 {
    Shape4::new(1, 1, 1, len)
}

/// Runs a one-input element-wise kernel over `buf` in place: each chunk is
/// copied to the stack and the kernel writes the chunk back, so it still
/// sees disjoint input and output slices.
#[cfg_attr(not(feature = "all-ops"), allow(dead_code))]
pub(crate) fn in_place_unary(
    buf: &mut [i8],
    mut kernel: impl FnMut(View<'_>, ViewMut<'_>) -> core::result::Result<(), KernelError>,
) -> core::result::Result<(), OpError> {
    let mut tmp = [0i8; IN_PLACE_CHUNK];
    for out in buf.chunks_mut(IN_PLACE_CHUNK) {
        let n = out.len();
        let src = tmp.get_mut(..n).ok_or(OpError::Tensors)?;
        src.copy_from_slice(out);
        kernel(
            View::new(run_shape(n), src),
            ViewMut::new(run_shape(n), out),
        )?;
    }
    Ok(())
}

/// [`in_place_unary`] for a two-input element-wise kernel without
/// broadcasting: `buf` holds operand `overwritten` (0 or 1), `other` the
/// other operand (same length).
pub(crate) fn in_place_binary(
    buf: &mut [i8],
    other: &[i8],
    overwritten: usize,
    mut kernel: impl FnMut(View<'_>, View<'_>, ViewMut<'_>) -> core::result::Result<(), KernelError>,
) -> core::result::Result<(), OpError> {
    if other.len() != buf.len() || overwritten > 1 {
        return Err(OpError::Tensors);
    }
    let mut tmp = [0i8; IN_PLACE_CHUNK];
    for (out, b) in buf
        .chunks_mut(IN_PLACE_CHUNK)
        .zip(other.chunks(IN_PLACE_CHUNK))
    {
        let n = out.len();
        let a = tmp.get_mut(..n).ok_or(OpError::Tensors)?;
        a.copy_from_slice(out);
        let (a, b) = (View::new(run_shape(n), a), View::new(run_shape(n), b));
        let (x, y) = if overwritten == 0 { (a, b) } else { (b, a) };
        kernel(x, y, ViewMut::new(run_shape(n), out))?;
    }
    Ok(())
}

/// A tensor's shape as the kernels take it (NHWC, leading 1s).
pub(crate) fn shape4(t: &TensorInfo) -> Shape4 {
    let [n, h, w, c] = t.shape.nhwc();
    Shape4::new(n as usize, h as usize, w as usize, c as usize)
}

/// Bytes as `i8` (same size and alignment; every bit pattern is valid).
pub(crate) fn as_i8(bytes: &[u8]) -> core::result::Result<&[i8], OpError> {
    bytemuck::try_cast_slice(bytes).map_err(|_| OpError::Tensors)
}

/// Mutable bytes as `i8`.
pub(crate) fn as_i8_mut(bytes: &mut [u8]) -> core::result::Result<&mut [i8], OpError> {
    bytemuck::try_cast_slice_mut(bytes).map_err(|_| OpError::Tensors)
}

/// Bytes as little-endian `i32`s.
pub(crate) fn as_i32s(bytes: &[u8]) -> core::result::Result<I32s<'_>, OpError> {
    I32s::new(bytes).ok_or(OpError::Tensors)
}

impl<'x> Io<'x> {
    /// Input `i` as an int8 view of the tensor `t`.
    pub fn view(&self, i: usize, t: &TensorInfo) -> core::result::Result<View<'x>, OpError> {
        let bytes = self.inputs.get(i).copied().ok_or(OpError::Arity)?;
        Ok(View::new(shape4(t), as_i8(bytes)?))
    }

    /// The output as an int8 view of the tensor `t`.
    pub fn view_mut(self, t: &TensorInfo) -> core::result::Result<ViewMut<'x>, OpError> {
        Ok(ViewMut::new(shape4(t), as_i8_mut(self.output)?))
    }

    /// Input 0 (`input`) and the output (`output`) as views of the rows
    /// this call computes, with the top padding of those rows: the whole
    /// tensors and `pad` without a band, the band's rows otherwise
    /// ([`bands`]; `stride` is the op's vertical stride).
    pub fn rows(
        self,
        input: &TensorInfo,
        output: &TensorInfo,
        pad: usize,
        stride: usize,
    ) -> core::result::Result<(View<'x>, ViewMut<'x>, usize), OpError> {
        let (xs, os) = (shape4(input), shape4(output));
        let ((xs, os), pad) = match self.band {
            Some(b) => (b.shapes(xs, os), b.pad(pad, stride)),
            None => ((xs, os), pad),
        };
        let x = self.inputs.first().copied().ok_or(OpError::Arity)?;
        Ok((
            View::new(xs, as_i8(x)?),
            ViewMut::new(os, as_i8_mut(self.output)?),
            pad,
        ))
    }
}

/// RESHAPE: one data input (a second, shape input is allowed and ignored),
/// no parameter words; same element type, byte size and quantization. The
/// data movement (none when in place) is done by `eval` itself.
fn reshape(ops: &Operands<'_>) -> OpResult {
    ops.arity(1, 2)?;
    if !ops.words().is_empty() {
        return Err(OpError::Params);
    }
    let input = ops.input(0)?;
    let output = &ops.output;
    if input.is_constant()
        || input.dtype != output.dtype
        || input.byte_len != output.byte_len
        || input.quant != output.quant
    {
        return Err(OpError::Tensors);
    }
    Ok(0)
}
