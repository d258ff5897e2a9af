//! The one place that knows which kernel runs which op: parse-time checks
//! of an op's parameters and tensors, and evaluation.
use crate::error::OpError;
use crate::format::OpCode;
use crate::model::{Model, OpInfo};

/// Checks that the op's parameter words decode and fit its tensors.
pub(crate) fn check(model: &Model<'_>, op: &OpInfo) -> Result<(), OpError> {
    match op.code {
        OpCode::Reshape => check_reshape(model, op),
        _ => Err(OpError::Unsupported),
    }
}

/// RESHAPE: one data input (an optional shape input is ignored), same element
/// count and type, same quantization; no parameter words.
fn check_reshape(model: &Model<'_>, op: &OpInfo) -> Result<(), OpError> {
    if op.inputs == 0 || op.inputs > 2 || op.outputs != 1 {
        return Err(OpError::Arity);
    }
    if op.word_count() != 0 {
        return Err(OpError::Params);
    }
    let input = model
        .op_input(op, 0)
        .and_then(|i| model.tensor(i))
        .map_err(|_| OpError::Bounds)?;
    let output = model
        .op_output(op, 0)
        .and_then(|i| model.tensor(i))
        .map_err(|_| OpError::Bounds)?;
    if input.is_constant()
        || input.dtype != output.dtype
        || input.byte_len != output.byte_len
        || input.quant != output.quant
    {
        return Err(OpError::Tensors);
    }
    Ok(())
}
