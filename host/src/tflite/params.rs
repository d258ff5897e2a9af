//! [`OpSpec`] → mote op: kernel parameter words and per-channel constants,
//! computed by the kernels' host-side prepare constructors (this file does
//! no quantization math of its own; it only gathers TFLite's float scales,
//! zero points, shapes and options and hands them to `mote_core::kernels`).

use anyhow::{anyhow, ensure, Result};
use mote_core::kernels::{self, Activation, KernelError, Quant, Shape4};
use mote_core::quant;

use super::ops::{Fused, OpSpec};
use super::schema::Padding;
use crate::graph::{DType, Graph, OpCode, Quantization, TensorId};

/// The words a kernel `Params::encode` writes.
macro_rules! words {
    ($params:expr) => {{
        let mut words = Vec::new();
        $params.encode(&mut |w| words.push(w));
        words
    }};
}

/// Appends the op described by `spec` to the graph.
pub fn append(graph: &mut Graph, spec: &OpSpec) -> Result<()> {
    check_copy_quantization(graph, spec)?;
    match spec {
        OpSpec::Conv2d {
            input,
            filter,
            filter_scales,
            bias,
            output,
            window,
            fused,
        } => {
            let opts = kernels::conv2d::Options {
                padding: padding(window.padding),
                stride_h: window.stride_h,
                stride_w: window.stride_w,
                dilation_h: window.dilation_h,
                dilation_w: window.dilation_w,
                activation: activation(*fused),
            };
            let (params, out_shape) = kernels::conv2d::prepare(
                &opts,
                shape4(graph, *input)?,
                shape4(graph, *filter)?,
                quant_of(graph, *input)?,
                quant_of(graph, *output)?,
            )
            .map_err(kernel_error)?;
            check_shape(graph, *output, out_shape)?;
            let (mults, shifts) = per_channel(graph, *input, filter_scales, *output, "CONV_2D")?;
            let bias = bias_or_zero(graph, *bias, *output, out_shape.c)?;
            let words = words!(params);
            graph.add_op(
                OpCode::Conv2d,
                &[*input, *filter, bias, mults, shifts],
                &[*output],
                words,
            );
            Ok(())
        }
        OpSpec::DepthwiseConv2d {
            input,
            filter,
            filter_scales,
            bias,
            output,
            window,
            depth_multiplier: _,
            fused,
        } => {
            // The kernel derives the multiplier from the shapes, which the
            // importer has already checked against the option.
            let opts = kernels::depthwise_conv2d::Options {
                padding: padding(window.padding),
                stride_h: window.stride_h,
                stride_w: window.stride_w,
                dilation_h: window.dilation_h,
                dilation_w: window.dilation_w,
                activation: activation(*fused),
            };
            let (params, out_shape) = kernels::depthwise_conv2d::prepare(
                &opts,
                shape4(graph, *input)?,
                shape4(graph, *filter)?,
                quant_of(graph, *input)?,
                quant_of(graph, *output)?,
            )
            .map_err(kernel_error)?;
            check_shape(graph, *output, out_shape)?;
            let (mults, shifts) =
                per_channel(graph, *input, filter_scales, *output, "DEPTHWISE_CONV_2D")?;
            let bias = bias_or_zero(graph, *bias, *output, out_shape.c)?;
            let words = words!(params);
            graph.add_op(
                OpCode::DepthwiseConv2d,
                &[*input, *filter, bias, mults, shifts],
                &[*output],
                words,
            );
            Ok(())
        }
        OpSpec::FullyConnected {
            input,
            filter,
            filter_scales,
            bias,
            output,
            fused,
        } => {
            let params = kernels::fully_connected::prepare(
                activation(*fused),
                quant_of(graph, *input)?,
                quant_of(graph, *output)?,
            )
            .map_err(kernel_error)?;
            let units = graph.tensors[*filter].shape.first().copied().unwrap_or(0);
            let (mults, shifts) = if let [filter_scale] = filter_scales.as_slice() {
                // TFLM's per-tensor FULLY_CONNECTED rounds the scale product
                // to f32 first; the kernels' helper does the same.
                let (iq, oq) = (quant_of(graph, *input)?, quant_of(graph, *output)?);
                let (m, s) = kernels::fully_connected::per_tensor_multiplier(
                    iq.scale,
                    *filter_scale,
                    oq.scale,
                )
                .map_err(kernel_error)?;
                add_channel_arrays(
                    graph,
                    *output,
                    "FULLY_CONNECTED",
                    &vec![m; units],
                    &vec![s; units],
                )
            } else {
                per_channel(graph, *input, filter_scales, *output, "FULLY_CONNECTED")?
            };
            let bias = bias_or_zero(graph, *bias, *output, units)?;
            let words = words!(params);
            graph.add_op(
                OpCode::FullyConnected,
                &[*input, *filter, bias, mults, shifts],
                &[*output],
                words,
            );
            Ok(())
        }
        OpSpec::Add {
            a,
            b,
            output,
            fused,
        } => {
            let params = kernels::add::prepare(
                activation(*fused),
                quant_of(graph, *a)?,
                quant_of(graph, *b)?,
                quant_of(graph, *output)?,
            )
            .map_err(kernel_error)?;
            let words = words!(params);
            graph.add_op(OpCode::Add, &[*a, *b], &[*output], words);
            Ok(())
        }
        OpSpec::Mul {
            a,
            b,
            output,
            fused,
        } => {
            let params = kernels::mul::prepare(
                activation(*fused),
                quant_of(graph, *a)?,
                quant_of(graph, *b)?,
                quant_of(graph, *output)?,
            )
            .map_err(kernel_error)?;
            let words = words!(params);
            graph.add_op(OpCode::Mul, &[*a, *b], &[*output], words);
            Ok(())
        }
        OpSpec::Concatenation {
            inputs,
            output,
            axis,
        } => {
            let rank = graph.tensors[*output].shape.len();
            let params = kernels::concatenation::prepare(i32::try_from(*axis)?, rank, true)
                .map_err(kernel_error)?;
            let words = words!(params);
            graph.add_op(OpCode::Concatenation, inputs, &[*output], words);
            Ok(())
        }
        OpSpec::Pad {
            input,
            output,
            paddings,
        } => {
            let pairs = paddings
                .iter()
                .map(|&(b, a)| Ok([i32::try_from(b)?, i32::try_from(a)?]))
                .collect::<Result<Vec<_>>>()?;
            let zp = quant_of(graph, *output)?.zero_point;
            let params = kernels::pad::prepare(&pairs, zp, None).map_err(kernel_error)?;
            let words = words!(params);
            graph.add_op(OpCode::Pad, &[*input], &[*output], words);
            Ok(())
        }
        OpSpec::MaxPool2d {
            input,
            output,
            window,
            fused,
        }
        | OpSpec::AveragePool2d {
            input,
            output,
            window,
            fused,
        } => {
            let opts = kernels::pool::Options {
                padding: padding(window.padding),
                stride_h: window.stride_h,
                stride_w: window.stride_w,
                filter_h: window.filter_h,
                filter_w: window.filter_w,
                activation: activation(*fused),
            };
            let (params, out_shape) =
                kernels::pool::prepare(&opts, shape4(graph, *input)?, quant_of(graph, *output)?)
                    .map_err(kernel_error)?;
            check_shape(graph, *output, out_shape)?;
            let code = match spec {
                OpSpec::MaxPool2d { .. } => OpCode::MaxPool2d,
                _ => OpCode::AveragePool2d,
            };
            graph.add_op(code, &[*input], &[*output], words!(params));
            Ok(())
        }
        OpSpec::Mean {
            input,
            output,
            axes,
            keep_dims: _,
        } => {
            // With or without keep_dims the output's flat layout is the same;
            // its shape is in the tensor table.
            let axes = axes
                .iter()
                .map(|&a| i32::try_from(a))
                .collect::<Result<Vec<_>, _>>()?;
            let rank = graph.tensors[*input].shape.len();
            let params = kernels::mean::prepare(
                &axes,
                rank,
                quant_of(graph, *input)?,
                quant_of(graph, *output)?,
            )
            .map_err(kernel_error)?;
            graph.add_op(OpCode::Mean, &[*input], &[*output], words!(params));
            Ok(())
        }
        OpSpec::ResizeNearestNeighbor {
            input,
            output,
            align_corners,
            half_pixel_centers,
        } => {
            let params = kernels::resize_nearest::prepare(*align_corners, *half_pixel_centers);
            graph.add_op(
                OpCode::ResizeNearestNeighbor,
                &[*input],
                &[*output],
                words!(params),
            );
            Ok(())
        }
        OpSpec::ResizeBilinear {
            input,
            output,
            align_corners,
            half_pixel_centers,
        } => {
            let params = kernels::resize_bilinear::prepare(*align_corners, *half_pixel_centers)
                .map_err(kernel_error)?;
            graph.add_op(
                OpCode::ResizeBilinear,
                &[*input],
                &[*output],
                words!(params),
            );
            Ok(())
        }
        OpSpec::Logistic { input, output } => {
            let params =
                kernels::logistic::prepare(quant_of(graph, *input)?, quant_of(graph, *output)?)
                    .map_err(kernel_error)?;
            graph.add_op(OpCode::Logistic, &[*input], &[*output], words!(params));
            Ok(())
        }
        OpSpec::Softmax {
            input,
            output,
            beta,
        } => {
            let params = kernels::softmax::prepare(
                *beta,
                quant_of(graph, *input)?,
                quant_of(graph, *output)?,
            )
            .map_err(kernel_error)?;
            graph.add_op(OpCode::Softmax, &[*input], &[*output], words!(params));
            Ok(())
        }
        OpSpec::HardSwish { input, output } => {
            let params =
                kernels::hard_swish::prepare(quant_of(graph, *input)?, quant_of(graph, *output)?)
                    .map_err(kernel_error)?;
            graph.add_op(OpCode::HardSwish, &[*input], &[*output], words!(params));
            Ok(())
        }
        OpSpec::LeakyRelu {
            input,
            output,
            alpha,
        } => {
            let params = kernels::leaky_relu::prepare(
                *alpha,
                quant_of(graph, *input)?,
                quant_of(graph, *output)?,
            )
            .map_err(kernel_error)?;
            graph.add_op(OpCode::LeakyRelu, &[*input], &[*output], words!(params));
            Ok(())
        }
        OpSpec::Quantize { input, output } => {
            let output_q = quant_of(graph, *output)?;
            let params = match graph.tensors[*input].dtype {
                DType::Float32 => kernels::quantize::prepare_from_f32(output_q),
                _ => kernels::quantize::prepare_requantize(quant_of(graph, *input)?, output_q),
            }
            .map_err(kernel_error)?;
            graph.add_op(OpCode::Quantize, &[*input], &[*output], words!(params));
            Ok(())
        }
        OpSpec::Dequantize { input, output } => {
            let params =
                kernels::dequantize::prepare(quant_of(graph, *input)?).map_err(kernel_error)?;
            graph.add_op(OpCode::Dequantize, &[*input], &[*output], words!(params));
            Ok(())
        }
        OpSpec::Reshape { input, output } => {
            // Same bytes, new shape: no parameter words; the output shape is
            // in the tensor table.
            graph.add_op(OpCode::Reshape, &[*input], &[*output], Vec::new());
            Ok(())
        }
    }
}

fn kernel_error(e: KernelError) -> anyhow::Error {
    anyhow!("the kernel's prepare refused the op: {e:?}")
}

fn padding(p: Padding) -> kernels::Padding {
    match p {
        Padding::Same => kernels::Padding::Same,
        Padding::Valid => kernels::Padding::Valid,
    }
}

fn activation(f: Fused) -> Activation {
    match f {
        Fused::None => Activation::None,
        Fused::Relu => Activation::Relu,
        Fused::Relu6 => Activation::Relu6,
    }
}

/// TFLM moves int8 values unchanged through CONCATENATION, pooling, PAD,
/// the resizes and RESHAPE (the converter gives input and output one
/// quantization); mote's kernels assume the same, so a file where they
/// differ is refused here rather than computed differently.
fn check_copy_quantization(graph: &Graph, spec: &OpSpec) -> Result<()> {
    let (inputs, output): (&[TensorId], TensorId) = match spec {
        OpSpec::Concatenation { inputs, output, .. } => (inputs, *output),
        OpSpec::MaxPool2d { input, output, .. }
        | OpSpec::AveragePool2d { input, output, .. }
        | OpSpec::Pad { input, output, .. }
        | OpSpec::ResizeNearestNeighbor { input, output, .. }
        | OpSpec::ResizeBilinear { input, output, .. }
        | OpSpec::Reshape { input, output } => (std::slice::from_ref(input), *output),
        _ => return Ok(()),
    };
    let out = &graph.tensors[output];
    for &i in inputs {
        let t = &graph.tensors[i];
        ensure!(
            t.quant == out.quant,
            "input {:?} is quantized {:?} but output {:?} {:?}; this op copies int8 values, so they must agree",
            t.name,
            t.quant,
            out.name,
            out.quant
        );
    }
    Ok(())
}

/// A graph tensor's shape extended to 4-D.
fn shape4(graph: &Graph, id: TensorId) -> Result<Shape4> {
    let dims: Vec<i32> = graph.tensors[id]
        .shape
        .iter()
        .map(|&d| i32::try_from(d))
        .collect::<Result<_, _>>()?;
    Shape4::from_dims(&dims).ok_or_else(|| anyhow!("shape {dims:?} is not at most 4-D"))
}

/// The output shape the kernel computed must be the file's.
fn check_shape(graph: &Graph, output: TensorId, computed: Shape4) -> Result<()> {
    let file = shape4(graph, output)?;
    ensure!(
        file == computed,
        "output {:?} in the file, {:?} by the kernel's prepare",
        file.dims(),
        computed.dims()
    );
    Ok(())
}

/// The op's bias, or an all-zero one when the file has none: mote's kernels
/// always add a bias, and adding 0 is what TFLM's missing bias amounts to.
fn bias_or_zero(
    graph: &mut Graph,
    bias: Option<TensorId>,
    output: TensorId,
    channels: usize,
) -> Result<TensorId> {
    if let Some(b) = bias {
        return Ok(b);
    }
    let name = format!("{}/zero_bias", graph.tensors[output].name);
    Ok(graph.add_i32_constant(name, &[channels], Quantization::None, &vec![0; channels]))
}

/// Per-tensor quantization of an int8 tensor.
fn quant_of(graph: &Graph, id: TensorId) -> Result<Quant> {
    match &graph.tensors[id].quant {
        Quantization::PerTensor { scale, zero_point } => Ok(Quant::new(*scale, *zero_point)),
        q => Err(anyhow!(
            "tensor {:?} needs per-tensor quantization, has {q:?}",
            graph.tensors[id].name
        )),
    }
}

/// Per-channel multipliers and shifts (TFLite's
/// `PopulateConvolutionQuantizationParams`) as two int32 constants.
fn per_channel(
    graph: &mut Graph,
    input: TensorId,
    filter_scales: &[f32],
    output: TensorId,
    what: &str,
) -> Result<(TensorId, TensorId)> {
    let (iq, oq) = (quant_of(graph, input)?, quant_of(graph, output)?);
    // A single (per-tensor) scale is repeated for every output channel.
    let n = graph.tensors[output].shape.last().copied().unwrap_or(0);
    let mut mults = vec![0i32; n];
    let mut shifts = vec![0i32; n];
    quant::per_channel_multipliers(iq.scale, filter_scales, oq.scale, &mut mults, &mut shifts)
        .map_err(kernel_error)?;
    Ok(add_channel_arrays(graph, output, what, &mults, &shifts))
}

/// Adds per-channel multipliers and shifts as two int32 constants.
fn add_channel_arrays(
    graph: &mut Graph,
    output: TensorId,
    what: &str,
    mults: &[i32],
    shifts: &[i32],
) -> (TensorId, TensorId) {
    let n = mults.len();
    let name = &graph.tensors[output].name;
    let (m_name, s_name) = (
        format!("{name}/{what}/multiplier"),
        format!("{name}/{what}/shift"),
    );
    let m = graph.add_i32_constant(m_name, &[n], Quantization::None, mults);
    let s = graph.add_i32_constant(s_name, &[n], Quantization::None, shifts);
    (m, s)
}
