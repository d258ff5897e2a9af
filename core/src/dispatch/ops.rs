//! One adapter per op: tensor-order and type conventions (FORMAT.md §4 and
//! FORMAT-OPS.md), parameter decoding, MAC count, and the kernel call.
//!
//! Each adapter takes the gathered [`Operands`] and, at run time, the
//! buffers ([`Io`]); without buffers it only checks. It returns the op's
//! multiply-accumulate count.
use super::{shape4, Io, OpResult, Operands};
use crate::error::OpError;
use crate::kernels::{conv2d, PerChannel};

/// Requires the params' zero-point words to match the tensors' records, so a
/// blob cannot describe one quantization and compute with another.
fn same(a: i32, b: i32) -> Result<(), OpError> {
    if a == b {
        Ok(())
    } else {
        Err(OpError::Params)
    }
}

/// CONV_2D inputs: data (int8 activation), filter (int8 constant, OHWI),
/// bias (int32 constant, one per output channel), multiplier and shift
/// (int32 constants, one per output channel).
pub(super) fn conv2d(ops: &Operands<'_>, io: Option<Io<'_>>) -> OpResult {
    ops.arity(5, 5)?;
    let p = conv2d::Params::decode(ops.words())?;
    let input = ops.act_i8(0)?;
    let filter = ops.dtype(1, crate::DType::Int8)?;
    let filter_bytes = ops.constant(1)?;
    let bias = ops.const_i32(2)?;
    let quant = PerChannel {
        multiplier: ops.const_i32(3)?,
        shift: ops.const_i32(4)?,
    };
    let output = ops.out_i8()?;
    same(p.input_offset, -input.zero_point())?;
    same(p.output_offset, output.zero_point())?;
    let (fs, os) = (shape4(filter), shape4(output));
    p.validate(shape4(input), fs, os)?;
    crate::kernels::check_bias(Some(bias), os.c)?;
    quant.validate(os.c)?;
    if let Some(io) = io {
        let x = io.view(0, input)?;
        let w = crate::kernels::View::new(fs, super::as_i8(filter_bytes)?);
        conv2d::eval(&p, x, w, Some(bias), quant, io.view_mut(output)?)?;
    }
    Ok(p.macs(fs, os))
}
