//! One adapter per op: tensor-order and type conventions (FORMAT.md §4),
//! parameter decoding, MAC count, and the kernel call.
//!
//! Each adapter takes the gathered [`Operands`] and, at run time, the
//! buffers ([`Io`]); without buffers it only checks. It returns the op's
//! multiply-accumulate count. Where the parameter words repeat a tensor's
//! zero point, the adapter requires the two to agree, so a blob cannot
//! describe one quantization and compute with another.
// With only some `op-*` features, the glue of the others is unused.
#![cfg_attr(not(feature = "all-ops"), allow(dead_code))]
use super::{as_i8, as_i8_mut, in_place_binary, in_place_unary, shape4, Io, OpResult, Operands};
use crate::bands::Rows;
use crate::error::OpError;
use crate::format::{DType, TensorInfo};
use crate::kernels::{
    add, average_pool2d, check_bias, concatenation, conv2d, conv2d_fused, depthwise_conv2d,
    dequantize, fully_connected, hard_swish, input_view::MAX_PARTS, leaky_relu, logistic,
    max_pool2d, mean, mul, pad, pool, quantize, resize_bilinear, resize_nearest, softmax,
    KernelError, PerChannel, Shape4, View, ViewMut,
};
use crate::le::I32s;

fn same(a: i32, b: i32) -> Result<(), OpError> {
    if a == b {
        Ok(())
    } else {
        Err(OpError::Params)
    }
}

/// Input and output must share scale and zero point (ops that move int8
/// values without requantizing: pooling, padding, resizing, concatenation).
fn same_quant(a: &TensorInfo, b: &TensorInfo) -> Result<(), OpError> {
    if a.quant == b.quant {
        Ok(())
    } else {
        Err(OpError::Tensors)
    }
}

/// The operands shared by CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED:
/// data (int8 activation), filter (int8 constant), bias, multiplier and
/// shift (int32 constants, one entry per output channel).
struct Weighted<'m, 'o> {
    input: &'o TensorInfo,
    filter: Shape4,
    weights: &'m [i8],
    bias: I32s<'m>,
    quant: PerChannel<'m>,
    output: &'o TensorInfo,
}

fn weighted<'m, 'o>(ops: &'o Operands<'m>) -> Result<Weighted<'m, 'o>, OpError> {
    ops.arity(5, 5)?;
    let filter = ops.dtype(1, DType::Int8)?;
    let w = Weighted {
        input: ops.act_i8(0)?,
        filter: shape4(filter),
        weights: as_i8(ops.constant(1)?)?,
        bias: ops.const_i32(2)?,
        quant: PerChannel {
            multiplier: ops.const_i32(3)?,
            shift: ops.const_i32(4)?,
        },
        output: ops.out_i8()?,
    };
    let out_c = shape4(w.output).c;
    check_bias(Some(w.bias), out_c)?;
    w.quant.validate(out_c)?;
    Ok(w)
}

impl<'m> Weighted<'m, '_> {
    fn filter_view(&self) -> View<'m> {
        View::new(self.filter, self.weights)
    }
}

pub(super) fn conv2d(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let w = weighted(ops)?;
    let p = conv2d::Params::decode(ops.words())?;
    same(p.input_offset, -w.input.zero_point())?;
    same(p.output_offset, w.output.zero_point())?;
    let os = shape4(w.output);
    p.validate(shape4(w.input), w.filter, os)?;
    if let Some(io) = io {
        let (x, out, pad_h) = io.rows(w.input, w.output, p.pad_h, p.stride_h)?;
        let p = conv2d::Params { pad_h, ..p };
        conv2d::eval(&p, x, w.filter_view(), Some(w.bias), w.quant, out)?;
    }
    Ok(p.macs(w.filter, os))
}

pub(super) fn depthwise_conv2d(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let w = weighted(ops)?;
    let p = depthwise_conv2d::Params::decode(ops.words())?;
    same(p.input_offset, -w.input.zero_point())?;
    same(p.output_offset, w.output.zero_point())?;
    let os = shape4(w.output);
    p.validate(shape4(w.input), w.filter, os)?;
    if let Some(io) = io {
        let (x, out, pad_h) = io.rows(w.input, w.output, p.pad_h, p.stride_h)?;
        let p = depthwise_conv2d::Params { pad_h, ..p };
        depthwise_conv2d::eval(&p, x, w.filter_view(), Some(w.bias), w.quant, out)?;
    }
    Ok(p.macs(w.filter, os))
}

pub(super) fn fully_connected(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let w = weighted(ops)?;
    let p = fully_connected::Params::decode(ops.words())?;
    same(p.input_offset, -w.input.zero_point())?;
    same(p.output_offset, w.output.zero_point())?;
    let os = shape4(w.output);
    p.validate(shape4(w.input), w.filter, os)?;
    if let Some(io) = io {
        let x = io.view(0, w.input)?;
        let out = io.view_mut(w.output)?;
        fully_connected::eval(&p, x, w.filter_view(), Some(w.bias), w.quant, out)?;
    }
    Ok(p.macs(w.filter, os))
}

/// The vertical geometry of a CONV_2D or DEPTHWISE_CONV_2D (batch 1), for
/// running it in row bands ([`crate::bands`]).
pub(super) fn row_geometry(ops: &Operands<'_>) -> Result<Rows, OpError> {
    let w = weighted(ops)?;
    let depthwise = match ops.op.code {
        crate::format::OpCode::Conv2d => false,
        crate::format::OpCode::DepthwiseConv2d => true,
        _ => return Err(OpError::Unsupported),
    };
    let (input, output) = (shape4(w.input), shape4(w.output));
    Rows::of_conv(depthwise, ops.words(), input, w.filter.h, output).ok_or(OpError::Tensors)
}

/// Binary element-wise operands: two int8 tensors (activations or
/// constants) with per-tensor quantization, broadcast by the kernel.
fn binary<'o>(ops: &'o Operands<'_>) -> Result<[&'o TensorInfo; 3], OpError> {
    ops.arity(2, 2)?;
    Ok([ops.int8(0)?, ops.int8(1)?, ops.out_i8()?])
}

/// Not inlined: the 2 KiB [`add::Tables`] then live in this frame only while
/// ADD runs, not in `run_op`'s frame under every other op's kernel.
#[inline(never)]
pub(super) fn add(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [a, b, o] = binary(ops)?;
    let p = add::Params::decode(ops.words())?;
    same(p.input1_offset, -a.zero_point())?;
    same(p.input2_offset, -b.zero_point())?;
    same(p.output_offset, o.zero_point())?;
    let os = shape4(o);
    p.validate(shape4(a), shape4(b), os)?;
    if let Some(io) = io {
        // Built once for the whole tensor (512 rescalings), not per chunk.
        let t = p.tables();
        match io.in_place {
            None => add::eval_with(&t, io.view(0, a)?, io.view(1, b)?, io.view_mut(o)?)?,
            Some(k) => {
                let (buf, other) = in_place_operands(io, [a, b, o], k)?;
                t.apply_in_place(buf, other, k == 0);
            }
        }
    }
    Ok(p.macs(os))
}

pub(super) fn mul(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [a, b, o] = binary(ops)?;
    let p = mul::Params::decode(ops.words())?;
    same(p.input1_offset, -a.zero_point())?;
    same(p.input2_offset, -b.zero_point())?;
    same(p.output_offset, o.zero_point())?;
    let os = shape4(o);
    p.validate(shape4(a), shape4(b), os)?;
    if let Some(io) = io {
        binary_eval(io, [a, b, o], |x, y, out| mul::eval(&p, x, y, out))?;
    }
    Ok(p.macs(os))
}

/// Runs a binary element-wise kernel, in place over input 0 or 1 when the
/// plan put the output on it (then that input has the output's shape).
fn binary_eval(
    io: Io<'_>,
    [a, b, o]: [&TensorInfo; 3],
    mut kernel: impl FnMut(View<'_>, View<'_>, ViewMut<'_>) -> Result<(), KernelError>,
) -> Result<(), OpError> {
    match io.in_place {
        None => kernel(io.view(0, a)?, io.view(1, b)?, io.view_mut(o)?).map_err(Into::into),
        Some(k) => {
            let (buf, other) = in_place_operands(io, [a, b, o], k)?;
            in_place_binary(buf, other, k, kernel)
        }
    }
}

/// For a binary element-wise op run in place over input `k` (0 or 1): the
/// output's bytes (holding input `k`) and the other input, of the same
/// length. Both inputs must have the output's shape (no broadcasting).
fn in_place_operands<'x>(
    io: Io<'x>,
    [a, b, o]: [&TensorInfo; 3],
    k: usize,
) -> Result<(&'x mut [i8], &'x [i8]), OpError> {
    let (written, other, other_t) = match k {
        0 => (a, 1, b),
        1 => (b, 0, a),
        _ => return Err(OpError::Tensors),
    };
    let os = shape4(o);
    if shape4(written) != os || shape4(other_t) != os {
        return Err(OpError::Tensors);
    }
    let other = io.view(other, other_t)?.data;
    let buf = as_i8_mut(io.output)?;
    if buf.len() != other.len() {
        return Err(OpError::Tensors);
    }
    Ok((buf, other))
}

/// Runs a one-input element-wise kernel, in place when the plan put the
/// output on the input.
fn unary_eval(
    io: Io<'_>,
    i: &TensorInfo,
    o: &TensorInfo,
    mut kernel: impl FnMut(View<'_>, ViewMut<'_>) -> Result<(), KernelError>,
) -> Result<(), OpError> {
    match io.in_place {
        None => kernel(io.view(0, i)?, io.view_mut(o)?).map_err(Into::into),
        Some(0) => in_place_unary(as_i8_mut(io.output)?, kernel),
        Some(_) => Err(OpError::Tensors),
    }
}

/// CONCATENATION: 1 to 16 int8 inputs (activations or constants), all with
/// the output's quantization.
pub(super) fn concatenation(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    ops.arity(1, 16)?;
    let p = concatenation::Params::decode(ops.words())?;
    let o = ops.out_i8()?;
    let n = usize::from(ops.op.inputs);
    for i in 0..n {
        same_quant(ops.int8(i)?, o)?;
    }
    let shapes = (0..n).filter_map(|i| ops.input(i).ok().map(shape4));
    p.validate(shapes, shape4(o))?;
    if let Some(io) = io {
        let mut views: [Option<View<'_>>; 16] = [None; 16];
        for (i, slot) in views.iter_mut().enumerate().take(n) {
            *slot = Some(io.view(i, ops.input(i)?)?);
        }
        let views = views.iter().flatten().copied();
        concatenation::eval(&p, views, io.view_mut(o)?)?;
    }
    Ok(p.macs())
}

/// Ops with one int8 activation input and an int8 output.
fn unary<'o>(ops: &'o Operands<'_>) -> Result<[&'o TensorInfo; 2], OpError> {
    ops.arity(1, 1)?;
    Ok([ops.act_i8(0)?, ops.out_i8()?])
}

fn pool_op(
    ops: &Operands<'_>,
    io: Option<Io<'_>>,
    eval: fn(
        &pool::Params,
        View<'_>,
        crate::kernels::ViewMut<'_>,
    ) -> Result<(), crate::kernels::KernelError>,
) -> OpResult {
    let [i, o] = unary(ops)?;
    same_quant(i, o)?;
    let p = pool::Params::decode(ops.words())?;
    let os = shape4(o);
    p.validate(shape4(i), os)?;
    if let Some(io) = io {
        eval(&p, io.view(0, i)?, io.view_mut(o)?)?;
    }
    Ok(p.macs(os))
}

pub(super) fn max_pool2d(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    pool_op(ops, io, max_pool2d::eval)
}

pub(super) fn average_pool2d(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    pool_op(ops, io, average_pool2d::eval)
}

pub(super) fn mean(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [i, o] = unary(ops)?;
    let p = mean::Params::decode(ops.words())?;
    same(p.input_zero_point, i.zero_point())?;
    same(p.output_zero_point, o.zero_point())?;
    let is = shape4(i);
    p.validate(is, shape4(o))?;
    if let Some(io) = io {
        mean::eval(&p, io.view(0, i)?, io.view_mut(o)?)?;
    }
    Ok(p.macs(is))
}

pub(super) fn pad(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [i, o] = unary(ops)?;
    same_quant(i, o)?;
    let p = pad::Params::decode(ops.words())?;
    p.validate(shape4(i), shape4(o))?;
    if let Some(io) = io {
        pad::eval(&p, io.view(0, i)?, io.view_mut(o)?)?;
    }
    Ok(p.macs())
}

pub(super) fn resize_nearest(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [i, o] = unary(ops)?;
    same_quant(i, o)?;
    let p = resize_nearest::Params::decode(ops.words())?;
    p.validate(shape4(i), shape4(o))?;
    if let Some(io) = io {
        resize_nearest::eval(&p, io.view(0, i)?, io.view_mut(o)?)?;
    }
    Ok(p.macs())
}

pub(super) fn resize_bilinear(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [i, o] = unary(ops)?;
    same_quant(i, o)?;
    let p = resize_bilinear::Params::decode(ops.words())?;
    let os = shape4(o);
    p.validate(shape4(i), os)?;
    if let Some(io) = io {
        resize_bilinear::eval(&p, io.view(0, i)?, io.view_mut(o)?)?;
    }
    Ok(p.macs(os))
}

/// Requires an int8 output with zero point -128 (and so scale 1/256 by the
/// TFLite spec): LOGISTIC and SOFTMAX produce probabilities in that form.
fn probability_output(o: &TensorInfo) -> Result<(), OpError> {
    if o.zero_point() == -128 {
        Ok(())
    } else {
        Err(OpError::Tensors)
    }
}

pub(super) fn logistic(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [i, o] = unary(ops)?;
    let p = logistic::Params::decode(ops.words())?;
    same(p.input_zero_point, i.zero_point())?;
    probability_output(o)?;
    let os = shape4(o);
    p.validate(shape4(i), os)?;
    if let Some(io) = io {
        unary_eval(io, i, o, |x, out| logistic::eval(&p, x, out))?;
    }
    Ok(p.macs(os))
}

pub(super) fn softmax(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [i, o] = unary(ops)?;
    let p = softmax::Params::decode(ops.words())?;
    probability_output(o)?;
    let os = shape4(o);
    p.validate(shape4(i), os)?;
    if let Some(io) = io {
        softmax::eval(&p, io.view(0, i)?, io.view_mut(o)?)?;
    }
    Ok(p.macs(os))
}

pub(super) fn hard_swish(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [i, o] = unary(ops)?;
    let p = hard_swish::Params::decode(ops.words())?;
    same(p.input_zero_point, i.zero_point())?;
    same(p.output_zero_point, o.zero_point())?;
    let os = shape4(o);
    p.validate(shape4(i), os)?;
    if let Some(io) = io {
        unary_eval(io, i, o, |x, out| hard_swish::eval(&p, x, out))?;
    }
    Ok(p.macs(os))
}

pub(super) fn leaky_relu(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let [i, o] = unary(ops)?;
    let p = leaky_relu::Params::decode(ops.words())?;
    same(p.input_zero_point, i.zero_point())?;
    same(p.output_zero_point, o.zero_point())?;
    let os = shape4(o);
    p.validate(shape4(i), os)?;
    if let Some(io) = io {
        unary_eval(io, i, o, |x, out| leaky_relu::eval(&p, x, out))?;
    }
    Ok(p.macs(os))
}

/// QUANTIZE: a float32 activation to int8 (the words hold the output's
/// scale and zero point, which must equal the output record's), or an int8
/// activation requantized to another scale.
pub(super) fn quantize(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    ops.arity(1, 1)?;
    let o = ops.out_i8()?;
    let p = quantize::Params::decode(ops.words())?;
    let os = shape4(o);
    match p {
        quantize::Params::FromF32 { scale, zero_point } => {
            let i = ops.dtype(0, DType::Float32)?;
            if i.is_constant() || scale.to_bits() != o.scale().to_bits() {
                return Err(OpError::Tensors);
            }
            same(zero_point, o.zero_point())?;
            let is = shape4(i);
            p.validate(is, os)?;
            if let Some(io) = io {
                if io.in_place.is_some() {
                    return Err(OpError::Tensors);
                }
                let bytes = io.inputs.first().copied().ok_or(OpError::Arity)?;
                let x = crate::le::F32s::new(bytes).ok_or(OpError::Tensors)?;
                quantize::eval_from_f32(&p, x, is, io.view_mut(o)?)?;
            }
        }
        quantize::Params::Requantize {
            input_zero_point,
            output_zero_point,
            ..
        } => {
            let i = ops.act_i8(0)?;
            same(input_zero_point, i.zero_point())?;
            same(output_zero_point, o.zero_point())?;
            p.validate(shape4(i), os)?;
            if let Some(io) = io {
                unary_eval(io, i, o, |x, out| quantize::eval_requantize(&p, x, out))?;
            }
        }
    }
    Ok(p.macs(os))
}

/// DEQUANTIZE: an int8 activation to a float32 output (unquantized); the
/// words' scale and zero point must equal the input record's.
pub(super) fn dequantize(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    ops.arity(1, 1)?;
    let i = ops.act_i8(0)?;
    let o = &ops.output;
    if o.dtype != DType::Float32 {
        return Err(OpError::Tensors);
    }
    let p = dequantize::Params::decode(ops.words())?;
    if p.scale.to_bits() != i.scale().to_bits() {
        return Err(OpError::Params);
    }
    same(p.zero_point, i.zero_point())?;
    let os = shape4(o);
    p.validate(shape4(i), os)?;
    if let Some(io) = io {
        let x = io.view(0, i)?;
        dequantize::eval(&p, x, io.output, os)?;
    }
    Ok(p.macs(os))
}

/// CONV_2D_FUSED: inputs are the view's parts (int8 activations sharing one
/// quantization, whose zero point the conv's input offset negates), filter,
/// bias, multiplier and shift (as CONV_2D), and with the ADD epilogue the
/// addend (int8, the output's shape; it may be the output's own bytes).
pub(super) fn conv2d_fused(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    let p = conv2d_fused::Params::decode(ops.words())?;
    let parts = p.part_count;
    let w = parts; // first weight input
    let expected = parts + 4 + usize::from(p.add.is_some());
    if usize::from(ops.op.inputs) != expected || ops.op.outputs != 1 {
        return Err(OpError::Arity);
    }
    let first = ops.act_i8(0)?;
    let mut shapes = [Shape4::default(); MAX_PARTS];
    let mut channels = [0usize; MAX_PARTS];
    for (i, (s, c)) in shapes.iter_mut().zip(&mut channels).enumerate().take(parts) {
        let t = ops.act_i8(i)?;
        same_quant(t, first)?;
        *s = shape4(t);
        *c = s.c;
    }
    same(p.conv.input_offset, -first.zero_point())?;
    let filter = shape4(ops.dtype(w, DType::Int8)?);
    let weights = as_i8(ops.constant(w)?)?;
    let bias = ops.const_i32(w + 1)?;
    let quant = PerChannel {
        multiplier: ops.const_i32(w + 2)?,
        shift: ops.const_i32(w + 3)?,
    };
    let o = ops.out_i8()?;
    let os = shape4(o);
    check_bias(Some(bias), os.c)?;
    quant.validate(os.c)?;
    let addend = match &p.add {
        Some(a) => {
            let t = ops.int8(w + 4)?;
            same(a.input2_offset, -t.zero_point())?;
            same(a.output_offset, o.zero_point())?;
            Some(t)
        }
        None => {
            same(p.conv.output_offset, o.zero_point())?;
            None
        }
    };
    let part_shapes = shapes.get(..parts).ok_or(OpError::Arity)?;
    p.validate(part_shapes.iter().copied(), filter, addend.map(shape4), os)?;
    if let Some(io) = io {
        let mut views = [View::new(Shape4::default(), &[]); MAX_PARTS];
        for (i, v) in views.iter_mut().enumerate().take(parts) {
            *v = io.view(i, ops.input(i)?)?;
        }
        let addend = match (addend, io.in_place) {
            (Some(_), Some(k)) if k == w + 4 => None,
            (Some(t), None) => Some(io.view(w + 4, t)?),
            (None, None) => None,
            _ => return Err(OpError::Tensors),
        };
        let views = views.get(..parts).ok_or(OpError::Arity)?;
        let filter_view = View::new(filter, weights);
        conv2d_fused::eval(
            &p,
            views,
            filter_view,
            Some(bias),
            quant,
            addend,
            io.view_mut(o)?,
        )?;
    }
    Ok(p.macs(filter, os, channels.get(..parts).unwrap_or(&[])))
}
