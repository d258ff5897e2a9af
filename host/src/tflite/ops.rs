//! Per-op conversion: check a TFLite operator against what mote supports,
//! fold its constant inputs, and describe it as an [`OpSpec`] in TFLite's own
//! terms. [`super::params`] then turns the spec into mote's kernel
//! parameters with the kernels' prepare constructors.

use anyhow::{bail, ensure, Result};

use super::convert::Converter;
use super::schema::{op, Activation, BuiltinOptions, Operator, Padding, TensorType};
use crate::graph::{DType, TensorId};

/// A fused activation mote's kernels apply (TFLite's clamp to the output's
/// quantized range of `[0, inf)` or `[0, 6]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fused {
    None,
    Relu,
    Relu6,
}

impl Fused {
    fn from_tflite(a: Activation) -> Result<Self> {
        match a {
            Activation::NONE => Ok(Fused::None),
            Activation::RELU => Ok(Fused::Relu),
            Activation::RELU6 => Ok(Fused::Relu6),
            other => bail!(
                "fused activation {} is not supported (mote fuses NONE, RELU, RELU6)",
                other.name()
            ),
        }
    }
}

/// Spatial window geometry shared by convolutions and pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    pub filter_h: usize,
    pub filter_w: usize,
    pub padding: Padding,
}

impl Window {
    /// TFLite's output size and leading padding for one spatial dimension
    /// (`ComputePaddingHeightWidth`): SAME gives `ceil(in / stride)` and
    /// pads half the excess before (the odd one after); VALID gives
    /// `ceil((in - effective_filter + 1) / stride)` with no padding.
    pub fn out_and_pad(
        padding: Padding,
        input: usize,
        filter: usize,
        stride: usize,
        dilation: usize,
    ) -> Option<(usize, usize)> {
        let effective = filter
            .checked_sub(1)?
            .checked_mul(dilation)?
            .checked_add(1)?;
        let out = match padding {
            Padding::Same => input.div_ceil(stride),
            Padding::Valid => input.checked_sub(effective)?.checked_add(stride)? / stride,
        };
        let needed = (out
            .checked_sub(1)?
            .checked_mul(stride)?
            .checked_add(effective)?)
        .saturating_sub(input);
        Some((out, needed / 2))
    }

    /// Checks the window against input and output `[1, H, W, C]` shapes.
    fn check(&self, input: &[usize], output: &[usize]) -> Result<()> {
        ensure!(
            self.stride_h >= 1 && self.stride_w >= 1,
            "stride {}x{}",
            self.stride_h,
            self.stride_w
        );
        ensure!(
            self.dilation_h >= 1 && self.dilation_w >= 1,
            "dilation {}x{}",
            self.dilation_h,
            self.dilation_w
        );
        ensure!(
            self.filter_h >= 1 && self.filter_w >= 1,
            "filter {}x{}",
            self.filter_h,
            self.filter_w
        );
        let h = Window::out_and_pad(
            self.padding,
            input[1],
            self.filter_h,
            self.stride_h,
            self.dilation_h,
        );
        let w = Window::out_and_pad(
            self.padding,
            input[2],
            self.filter_w,
            self.stride_w,
            self.dilation_w,
        );
        match (h, w) {
            (Some((oh, _)), Some((ow, _))) if oh == output[1] && ow == output[2] => Ok(()),
            _ => bail!(
                "output {:?} does not match input {:?} with {:?} padding, filter {}x{}, stride {}x{}, dilation {}x{}",
                output,
                input,
                self.padding,
                self.filter_h,
                self.filter_w,
                self.stride_h,
                self.stride_w,
                self.dilation_h,
                self.dilation_w
            ),
        }
    }
}

/// A checked op in TFLite's terms; tensor quantization and shapes are read
/// from the graph's tensors.
#[derive(Debug, Clone, PartialEq)]
pub enum OpSpec {
    Conv2d {
        input: TensorId,
        filter: TensorId,
        /// One per output channel, or one for per-tensor weights.
        filter_scales: Vec<f32>,
        bias: Option<TensorId>,
        output: TensorId,
        window: Window,
        fused: Fused,
    },
    DepthwiseConv2d {
        input: TensorId,
        filter: TensorId,
        /// One per output channel, or one for per-tensor weights.
        filter_scales: Vec<f32>,
        bias: Option<TensorId>,
        output: TensorId,
        window: Window,
        depth_multiplier: usize,
        fused: Fused,
    },
    FullyConnected {
        input: TensorId,
        filter: TensorId,
        /// One per output channel, or one for per-tensor weights.
        filter_scales: Vec<f32>,
        bias: Option<TensorId>,
        output: TensorId,
        fused: Fused,
    },
    Add {
        a: TensorId,
        b: TensorId,
        output: TensorId,
        fused: Fused,
    },
    Mul {
        a: TensorId,
        b: TensorId,
        output: TensorId,
        fused: Fused,
    },
    Concatenation {
        inputs: Vec<TensorId>,
        output: TensorId,
        /// Non-negative axis.
        axis: usize,
    },
    MaxPool2d {
        input: TensorId,
        output: TensorId,
        window: Window,
        fused: Fused,
    },
    AveragePool2d {
        input: TensorId,
        output: TensorId,
        window: Window,
        fused: Fused,
    },
    Mean {
        input: TensorId,
        output: TensorId,
        /// Non-negative, sorted, distinct axes of the input.
        axes: Vec<usize>,
        keep_dims: bool,
    },
    Pad {
        input: TensorId,
        output: TensorId,
        /// `(before, after)` per input dimension.
        paddings: Vec<(usize, usize)>,
    },
    Reshape {
        input: TensorId,
        output: TensorId,
    },
    ResizeNearestNeighbor {
        input: TensorId,
        output: TensorId,
        align_corners: bool,
        half_pixel_centers: bool,
    },
    ResizeBilinear {
        input: TensorId,
        output: TensorId,
        align_corners: bool,
        half_pixel_centers: bool,
    },
    Logistic {
        input: TensorId,
        output: TensorId,
    },
    Softmax {
        input: TensorId,
        output: TensorId,
        beta: f32,
    },
    HardSwish {
        input: TensorId,
        output: TensorId,
    },
    LeakyRelu {
        input: TensorId,
        output: TensorId,
        alpha: f32,
    },
    Quantize {
        input: TensorId,
        output: TensorId,
    },
    Dequantize {
        input: TensorId,
        output: TensorId,
    },
}

/// The highest version of each op mote imports. Newer versions add
/// features (int16 activations, int4 weights, grouped convolution, ...);
/// the features of an accepted version are still checked one by one below.
fn max_version(code: i32) -> Option<i32> {
    Some(match code {
        op::CONV_2D => 8,
        op::DEPTHWISE_CONV_2D => 7,
        op::FULLY_CONNECTED => 12,
        op::ADD => 5,
        op::MUL => 7,
        op::CONCATENATION => 4,
        op::MAX_POOL_2D | op::AVERAGE_POOL_2D => 4,
        op::MEAN => 3,
        op::PAD => 4,
        op::RESHAPE => 2,
        op::RESIZE_NEAREST_NEIGHBOR | op::RESIZE_BILINEAR => 4,
        op::LOGISTIC => 3,
        op::SOFTMAX => 3,
        op::HARD_SWISH => 1,
        op::LEAKY_RELU => 2,
        op::QUANTIZE => 3,
        op::DEQUANTIZE => 5,
        _ => return None,
    })
}

/// Converts one operator and appends it to the graph.
pub fn convert_op(
    cx: &mut Converter<'_, '_>,
    code: i32,
    version: i32,
    op: &Operator,
) -> Result<()> {
    let Some(max) = max_version(code) else {
        bail!("operator is not supported by mote");
    };
    ensure!(
        (1..=max).contains(&version),
        "version {version} is not supported (mote imports versions 1..={max})"
    );
    ensure!(!op.has_custom_options, "custom options are not supported");
    ensure!(
        op.intermediates.is_empty(),
        "intermediate tensors are not supported"
    );
    let spec = spec(cx, code, op)?;
    super::params::append(&mut cx.graph, &spec)
}

/// Which union member a builtin expects; anything else is a malformed file.
fn options_mismatch(options: &BuiltinOptions) -> anyhow::Error {
    anyhow::anyhow!("unexpected builtin options {options:?}")
}

/// Checks one op and describes it as an [`OpSpec`].
fn spec(cx: &mut Converter<'_, '_>, code: i32, op: &Operator) -> Result<OpSpec> {
    let out_index = Converter::output(op)?;
    match code {
        op::CONV_2D => conv2d(cx, op, out_index),
        op::DEPTHWISE_CONV_2D => depthwise_conv2d(cx, op, out_index),
        op::FULLY_CONNECTED => fully_connected(cx, op, out_index),
        op::ADD | op::MUL => add_or_mul(cx, op, code, out_index),
        op::CONCATENATION => concatenation(cx, op, out_index),
        op::MAX_POOL_2D | op::AVERAGE_POOL_2D => pool2d(cx, op, code, out_index),
        op::MEAN => mean(cx, op, out_index),
        op::PAD => pad(cx, op, out_index),
        op::RESHAPE => reshape(cx, op, out_index),
        op::RESIZE_NEAREST_NEIGHBOR | op::RESIZE_BILINEAR => resize(cx, op, code, out_index),
        op::LOGISTIC | op::SOFTMAX | op::HARD_SWISH | op::LEAKY_RELU => {
            activation_op(cx, op, code, out_index)
        }
        op::QUANTIZE => quantize(cx, op, out_index),
        op::DEQUANTIZE => dequantize(cx, op, out_index),
        _ => bail!("operator is not supported by mote"),
    }
}

/// CONV_2D: OHWI per-channel weights on axis 0; grouped convolution is rejected.
fn conv2d(cx: &mut Converter<'_, '_>, op: &Operator, out_index: i32) -> Result<OpSpec> {
    let BuiltinOptions::Conv2D(o) = &op.options else {
        return Err(options_mismatch(&op.options));
    };
    check_bias_type(o.quantized_bias_type)?;
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let filter_index = Converter::input(op, 1)?;
    let output = cx.activation(out_index, DType::Int8)?;
    let (filter, filter_scales) = cx.weights(filter_index, 0)?;
    let (ishape, fshape, oshape) = (shape(cx, input), shape(cx, filter), shape(cx, output));
    ensure!(
        ishape.len() == 4 && fshape.len() == 4 && oshape.len() == 4,
        "expects 4-D input, filter and output, got {ishape:?}, {fshape:?}, {oshape:?}"
    );
    ensure!(
        fshape[3] == ishape[3],
        "filter {fshape:?} has {} input channels for an input of {} (grouped convolution is not supported)",
        fshape[3],
        ishape[3]
    );
    ensure!(
        fshape[0] == oshape[3],
        "filter {fshape:?} makes {} channels, output has {}",
        fshape[0],
        oshape[3]
    );
    let window = Window {
        stride_h: positive(o.stride_h, "stride_h")?,
        stride_w: positive(o.stride_w, "stride_w")?,
        dilation_h: positive(o.dilation_h, "dilation_h_factor")?,
        dilation_w: positive(o.dilation_w, "dilation_w_factor")?,
        filter_h: fshape[1],
        filter_w: fshape[2],
        padding: o.padding,
    };
    window.check(&ishape, &oshape)?;
    let bias = cx.bias(op.inputs.get(2), oshape[3])?;
    Ok(OpSpec::Conv2d {
        input,
        filter,
        filter_scales,
        bias,
        output,
        window,
        fused: Fused::from_tflite(o.activation)?,
    })
}

/// DEPTHWISE_CONV_2D: 1HWC weights per channel on axis 3; the depth
/// multiplier is derived from the shapes and checked against the option.
fn depthwise_conv2d(cx: &mut Converter<'_, '_>, op: &Operator, out_index: i32) -> Result<OpSpec> {
    let BuiltinOptions::DepthwiseConv2D(o) = &op.options else {
        return Err(options_mismatch(&op.options));
    };
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let filter_index = Converter::input(op, 1)?;
    let output = cx.activation(out_index, DType::Int8)?;
    let (filter, filter_scales) = cx.weights(filter_index, 3)?;
    let (ishape, fshape, oshape) = (shape(cx, input), shape(cx, filter), shape(cx, output));
    ensure!(
        ishape.len() == 4 && fshape.len() == 4 && oshape.len() == 4,
        "expects 4-D input, filter and output, got {ishape:?}, {fshape:?}, {oshape:?}"
    );
    ensure!(
        fshape[0] == 1,
        "filter {fshape:?} must have leading dimension 1"
    );
    ensure!(
        ishape[3] > 0 && fshape[3] % ishape[3] == 0 && fshape[3] == oshape[3],
        "filter {fshape:?} and output {oshape:?} do not fit input {ishape:?}"
    );
    let derived = fshape[3] / ishape[3];
    // The option is redundant with the shapes (TFLite ignores it in
    // newer versions); a file where they disagree is rejected.
    ensure!(
        o.depth_multiplier == 0 || usize::try_from(o.depth_multiplier).ok() == Some(derived),
        "depth_multiplier {} disagrees with the shapes (which give {derived})",
        o.depth_multiplier
    );
    let window = Window {
        stride_h: positive(o.stride_h, "stride_h")?,
        stride_w: positive(o.stride_w, "stride_w")?,
        dilation_h: positive(o.dilation_h, "dilation_h_factor")?,
        dilation_w: positive(o.dilation_w, "dilation_w_factor")?,
        filter_h: fshape[1],
        filter_w: fshape[2],
        padding: o.padding,
    };
    window.check(&ishape, &oshape)?;
    let bias = cx.bias(op.inputs.get(2), oshape[3])?;
    Ok(OpSpec::DepthwiseConv2d {
        input,
        filter,
        filter_scales,
        bias,
        output,
        window,
        depth_multiplier: derived,
        fused: Fused::from_tflite(o.activation)?,
    })
}

/// FULLY_CONNECTED: `[units, depth]` weights (per channel on axis 0, or
/// per tensor); the input must hold exactly one row (batch 1).
fn fully_connected(cx: &mut Converter<'_, '_>, op: &Operator, out_index: i32) -> Result<OpSpec> {
    let BuiltinOptions::FullyConnected(o) = &op.options else {
        return Err(options_mismatch(&op.options));
    };
    ensure!(
        o.weights_format == 0,
        "weights_format {} is not supported (only DEFAULT)",
        o.weights_format
    );
    check_bias_type(o.quantized_bias_type)?;
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let filter_index = Converter::input(op, 1)?;
    let output = cx.activation(out_index, DType::Int8)?;
    let (filter, filter_scales) = cx.weights(filter_index, 0)?;
    let (ishape, fshape, oshape) = (shape(cx, input), shape(cx, filter), shape(cx, output));
    ensure!(fshape.len() == 2, "filter {fshape:?} must be 2-D");
    let (units, depth) = (fshape[0], fshape[1]);
    let in_len: usize = ishape.iter().product();
    ensure!(
        depth > 0 && in_len == depth,
        "input {ishape:?} does not hold one row of {depth} (mote runs batch 1)"
    );
    ensure!(
        oshape.last() == Some(&units) && oshape.iter().product::<usize>() == units,
        "output {oshape:?} does not hold {units} units"
    );
    let bias = cx.bias(op.inputs.get(2), units)?;
    Ok(OpSpec::FullyConnected {
        input,
        filter,
        filter_scales,
        bias,
        output,
        fused: Fused::from_tflite(o.activation)?,
    })
}

/// ADD and MUL: two int8 operands (activations or constants) that broadcast
/// to the output.
fn add_or_mul(
    cx: &mut Converter<'_, '_>,
    op: &Operator,
    code: i32,
    out_index: i32,
) -> Result<OpSpec> {
    let activation = match (&op.options, code) {
        (BuiltinOptions::Add { activation }, op::ADD) => *activation,
        (BuiltinOptions::Mul { activation }, op::MUL) => *activation,
        (BuiltinOptions::None, _) => Activation::NONE,
        (other, _) => return Err(options_mismatch(other)),
    };
    ensure!(
        op.inputs.len() == 2,
        "expects 2 inputs, got {}",
        op.inputs.len()
    );
    let a = cx.int8_operand(Converter::input(op, 0)?)?;
    let b = cx.int8_operand(Converter::input(op, 1)?)?;
    let output = cx.activation(out_index, DType::Int8)?;
    check_broadcast(&shape(cx, a), &shape(cx, b), &shape(cx, output))?;
    let fused = Fused::from_tflite(activation)?;
    Ok(if code == op::ADD {
        OpSpec::Add {
            a,
            b,
            output,
            fused,
        }
    } else {
        OpSpec::Mul {
            a,
            b,
            output,
            fused,
        }
    })
}

/// CONCATENATION: int8 inputs equal to the output except along `axis`.
fn concatenation(cx: &mut Converter<'_, '_>, op: &Operator, out_index: i32) -> Result<OpSpec> {
    let BuiltinOptions::Concatenation { axis, activation } = &op.options else {
        return Err(options_mismatch(&op.options));
    };
    ensure!(
        *activation == Activation::NONE,
        "fused activation {} on CONCATENATION is not supported",
        activation.name()
    );
    ensure!(!op.inputs.is_empty(), "no inputs");
    let inputs = op
        .inputs
        .iter()
        .map(|&i| cx.int8_operand(i))
        .collect::<Result<Vec<_>>>()?;
    let output = cx.activation(out_index, DType::Int8)?;
    let oshape = shape(cx, output);
    let axis = normalize_axis(i64::from(*axis), oshape.len())?;
    let mut total = 0;
    for &i in &inputs {
        let s = shape(cx, i);
        ensure!(
            s.len() == oshape.len()
                && s.iter()
                    .zip(&oshape)
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b),
            "input {s:?} does not concatenate into {oshape:?} on axis {axis}"
        );
        total += s[axis];
    }
    ensure!(
        total == oshape[axis],
        "inputs add up to {total} on axis {axis}, output has {}",
        oshape[axis]
    );
    Ok(OpSpec::Concatenation {
        inputs,
        output,
        axis,
    })
}

/// MAX_POOL_2D and AVERAGE_POOL_2D.
fn pool2d(cx: &mut Converter<'_, '_>, op: &Operator, code: i32, out_index: i32) -> Result<OpSpec> {
    let BuiltinOptions::Pool2D(o) = &op.options else {
        return Err(options_mismatch(&op.options));
    };
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let output = cx.activation(out_index, DType::Int8)?;
    let (ishape, oshape) = (shape(cx, input), shape(cx, output));
    ensure!(
        ishape.len() == 4 && oshape.len() == 4 && ishape[3] == oshape[3],
        "expects 4-D input and output with equal channels, got {ishape:?}, {oshape:?}"
    );
    let window = Window {
        stride_h: positive(o.stride_h, "stride_h")?,
        stride_w: positive(o.stride_w, "stride_w")?,
        dilation_h: 1,
        dilation_w: 1,
        filter_h: positive(o.filter_h, "filter_height")?,
        filter_w: positive(o.filter_w, "filter_width")?,
        padding: o.padding,
    };
    window.check(&ishape, &oshape)?;
    let fused = Fused::from_tflite(o.activation)?;
    Ok(if code == op::MAX_POOL_2D {
        OpSpec::MaxPool2d {
            input,
            output,
            window,
            fused,
        }
    } else {
        OpSpec::AveragePool2d {
            input,
            output,
            window,
            fused,
        }
    })
}

/// MEAN: the constant axes are folded into the spec.
fn mean(cx: &mut Converter<'_, '_>, op: &Operator, out_index: i32) -> Result<OpSpec> {
    let keep_dims = match &op.options {
        BuiltinOptions::Reducer { keep_dims } => *keep_dims,
        BuiltinOptions::None => false,
        other => return Err(options_mismatch(other)),
    };
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let axes_raw = cx.const_ints(Converter::input(op, 1)?)?;
    let output = cx.activation(out_index, DType::Int8)?;
    let (ishape, oshape) = (shape(cx, input), shape(cx, output));
    let mut axes = axes_raw
        .iter()
        .map(|&a| normalize_axis(a, ishape.len()))
        .collect::<Result<Vec<_>>>()?;
    axes.sort_unstable();
    axes.dedup();
    ensure!(!axes.is_empty(), "no reduction axes");
    let expect: Vec<usize> = ishape
        .iter()
        .enumerate()
        .filter_map(|(d, &n)| match (axes.contains(&d), keep_dims) {
            (true, true) => Some(1),
            (true, false) => None,
            (false, _) => Some(n),
        })
        .collect();
    ensure!(
        expect == oshape,
        "output {oshape:?} is not the mean of {ishape:?} over {axes:?} (keep_dims {keep_dims})"
    );
    Ok(OpSpec::Mean {
        input,
        output,
        axes,
        keep_dims,
    })
}

/// PAD: the constant `[rank, 2]` paddings are folded into the spec.
fn pad(cx: &mut Converter<'_, '_>, op: &Operator, out_index: i32) -> Result<OpSpec> {
    ensure!(
        op.inputs.len() == 2,
        "expects 2 inputs (a constant pad value, PADV2 style, is not supported)"
    );
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let raw = cx.const_ints(Converter::input(op, 1)?)?;
    let output = cx.activation(out_index, DType::Int8)?;
    let (ishape, oshape) = (shape(cx, input), shape(cx, output));
    ensure!(
        raw.len() == 2 * ishape.len() && oshape.len() == ishape.len(),
        "paddings {raw:?} do not fit input {ishape:?}"
    );
    let paddings = raw
        .chunks_exact(2)
        .map(|p| {
            let before = usize::try_from(p[0]).ok();
            let after = usize::try_from(p[1]).ok();
            before
                .zip(after)
                .ok_or_else(|| anyhow::anyhow!("negative padding {p:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
    for (d, ((b, a), (i, o))) in paddings.iter().zip(ishape.iter().zip(&oshape)).enumerate() {
        ensure!(
            i + b + a == *o,
            "dimension {d}: {i} + {b} + {a} != output {o}"
        );
    }
    Ok(OpSpec::Pad {
        input,
        output,
        paddings,
    })
}

/// RESHAPE: the output tensor already carries the new shape.
fn reshape(cx: &mut Converter<'_, '_>, op: &Operator, out_index: i32) -> Result<OpSpec> {
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let output = cx.activation(out_index, DType::Int8)?;
    // The new shape (input 1 or the options) is the output tensor's
    // shape, which the graph already records; only the element
    // count is checked here.
    let (ishape, oshape) = (shape(cx, input), shape(cx, output));
    ensure!(
        ishape.iter().product::<usize>() == oshape.iter().product::<usize>(),
        "cannot reshape {ishape:?} into {oshape:?}"
    );
    Ok(OpSpec::Reshape { input, output })
}

/// RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR: the constant size must be
/// the output's height and width.
fn resize(cx: &mut Converter<'_, '_>, op: &Operator, code: i32, out_index: i32) -> Result<OpSpec> {
    let o = match (&op.options, code) {
        (BuiltinOptions::ResizeNearestNeighbor(o), op::RESIZE_NEAREST_NEIGHBOR) => o.clone(),
        (BuiltinOptions::ResizeBilinear(o), op::RESIZE_BILINEAR) => o.clone(),
        (other, _) => return Err(options_mismatch(other)),
    };
    ensure!(
        !(o.align_corners && o.half_pixel_centers),
        "align_corners and half_pixel_centers are both set"
    );
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let size = cx.const_ints(Converter::input(op, 1)?)?;
    let output = cx.activation(out_index, DType::Int8)?;
    let (ishape, oshape) = (shape(cx, input), shape(cx, output));
    ensure!(
        ishape.len() == 4 && oshape.len() == 4 && ishape[3] == oshape[3],
        "expects 4-D input and output with equal channels, got {ishape:?}, {oshape:?}"
    );
    ensure!(
        size.len() == 2
            && usize::try_from(size[0]).ok() == Some(oshape[1])
            && usize::try_from(size[1]).ok() == Some(oshape[2]),
        "size {size:?} does not match output {oshape:?}"
    );
    let (align_corners, half_pixel_centers) = (o.align_corners, o.half_pixel_centers);
    Ok(if code == op::RESIZE_BILINEAR {
        OpSpec::ResizeBilinear {
            input,
            output,
            align_corners,
            half_pixel_centers,
        }
    } else {
        OpSpec::ResizeNearestNeighbor {
            input,
            output,
            align_corners,
            half_pixel_centers,
        }
    })
}

/// LOGISTIC, SOFTMAX, HARD_SWISH and LEAKY_RELU: elementwise, same shape.
fn activation_op(
    cx: &mut Converter<'_, '_>,
    op: &Operator,
    code: i32,
    out_index: i32,
) -> Result<OpSpec> {
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let output = cx.activation(out_index, DType::Int8)?;
    let (ishape, oshape) = (shape(cx, input), shape(cx, output));
    ensure!(
        ishape == oshape,
        "input {ishape:?} and output {oshape:?} differ"
    );
    Ok(match (code, &op.options) {
        (op::LOGISTIC, _) => OpSpec::Logistic { input, output },
        (op::HARD_SWISH, _) => OpSpec::HardSwish { input, output },
        (op::SOFTMAX, BuiltinOptions::Softmax { beta }) => OpSpec::Softmax {
            input,
            output,
            beta: *beta,
        },
        (op::LEAKY_RELU, BuiltinOptions::LeakyRelu { alpha }) => OpSpec::LeakyRelu {
            input,
            output,
            alpha: *alpha,
        },
        (_, other) => return Err(options_mismatch(other)),
    })
}

/// QUANTIZE: float32 → int8, or int8 → int8 (requantization).
fn quantize(cx: &mut Converter<'_, '_>, op: &Operator, out_index: i32) -> Result<OpSpec> {
    let in_index = Converter::input(op, 0)?;
    let dtype = match cx.tensor(in_index)?.dtype {
        TensorType::Float32 => DType::Float32,
        TensorType::Int8 => DType::Int8,
        other => bail!(
            "input type {} is not supported (float32 or int8)",
            other.name()
        ),
    };
    let input = cx.activation(in_index, dtype)?;
    let output = cx.activation(out_index, DType::Int8)?;
    ensure!(
        shape(cx, input) == shape(cx, output),
        "input and output shapes differ"
    );
    Ok(OpSpec::Quantize { input, output })
}

/// DEQUANTIZE: int8 → float32.
fn dequantize(cx: &mut Converter<'_, '_>, op: &Operator, out_index: i32) -> Result<OpSpec> {
    let input = cx.activation(Converter::input(op, 0)?, DType::Int8)?;
    let output = cx.activation(out_index, DType::Float32)?;
    ensure!(
        shape(cx, input) == shape(cx, output),
        "input and output shapes differ"
    );
    Ok(OpSpec::Dequantize { input, output })
}

fn shape(cx: &Converter<'_, '_>, id: TensorId) -> Vec<usize> {
    cx.graph.tensors[id].shape.clone()
}

fn positive(v: i32, what: &str) -> Result<usize> {
    usize::try_from(v)
        .ok()
        .filter(|&v| v >= 1)
        .ok_or_else(|| anyhow::anyhow!("option {what} = {v} must be at least 1"))
}

fn normalize_axis(axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    ensure!(
        (0..r).contains(&a),
        "axis {axis} out of range for rank {rank}"
    );
    Ok(a as usize)
}

/// `quantized_bias_type` unset (FLOAT32, the default) or INT32.
fn check_bias_type(t: TensorType) -> Result<()> {
    ensure!(
        matches!(t, TensorType::Float32 | TensorType::Int32),
        "option quantized_bias_type {} is not supported (int32 bias only)",
        t.name()
    );
    Ok(())
}

/// NumPy-style broadcast of `a` and `b` must give exactly `out`.
fn check_broadcast(a: &[usize], b: &[usize], out: &[usize]) -> Result<()> {
    let rank = a.len().max(b.len());
    ensure!(
        out.len() == rank,
        "output {out:?} has the wrong rank for {a:?} and {b:?}"
    );
    for d in 0..rank {
        let da = if d + a.len() >= rank {
            a[d + a.len() - rank]
        } else {
            1
        };
        let db = if d + b.len() >= rank {
            b[d + b.len() - rank]
        } else {
            1
        };
        let want = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => bail!("shapes {a:?} and {b:?} do not broadcast"),
        };
        ensure!(
            out[d] == want,
            "output {out:?} is not the broadcast of {a:?} and {b:?}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_and_valid_sizes() {
        // SAME: ceil(in/stride), pad half the excess.
        assert_eq!(Window::out_and_pad(Padding::Same, 9, 3, 1, 2), Some((9, 2)));
        assert_eq!(Window::out_and_pad(Padding::Same, 9, 2, 2, 1), Some((5, 0)));
        assert_eq!(
            Window::out_and_pad(Padding::Same, 10, 3, 2, 1),
            Some((5, 0))
        );
        assert_eq!(
            Window::out_and_pad(Padding::Same, 11, 3, 2, 1),
            Some((6, 1))
        );
        // VALID.
        assert_eq!(
            Window::out_and_pad(Padding::Valid, 9, 3, 2, 1),
            Some((4, 0))
        );
        assert_eq!(Window::out_and_pad(Padding::Valid, 2, 3, 1, 1), None);
    }

    #[test]
    fn broadcast_rules() {
        assert!(check_broadcast(&[1, 4, 4, 3], &[3], &[1, 4, 4, 3]).is_ok());
        assert!(check_broadcast(&[1, 4, 4, 3], &[1, 1, 1, 3], &[1, 4, 4, 3]).is_ok());
        assert!(check_broadcast(&[1, 4, 4, 3], &[2], &[1, 4, 4, 3]).is_err());
        assert!(check_broadcast(&[1, 4, 4, 3], &[3], &[1, 4, 4, 1]).is_err());
    }
}
