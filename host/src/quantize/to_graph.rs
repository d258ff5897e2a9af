//! A deploy network ([`super::calibrate::deploy_net`]) and its activation
//! parameters → the runtime's [`Graph`].
//!
//! Every layer becomes the TFLite op the runtime implements, described as a
//! [`crate::tflite::OpSpec`] and appended with
//! [`crate::tflite::append_op`], the same path `.tflite` import takes, so
//! multipliers and shifts come from the kernels' own prepare functions.
//! Weights are int8 per output channel (symmetric, `[-127, 127]`), biases
//! int32 with scale `input scale * weight scale`, activations int8 per
//! tensor, NHWC with batch 1.
use anyhow::{bail, ensure, Context, Result};

use crate::graph::{DType, Graph, Head, Quantization, TensorId};
use crate::tflite::schema::Padding;
use crate::tflite::{append_op, Fused, OpSpec, Window};
use crate::train::arch::{Act, Op, Resize};
use crate::train::fakequant::{bias_scale, quantize_bias, quantize_per_channel, ActQuant};
use crate::train::fold::fold_net;
use crate::train::net::Net;

fn fused(a: Act) -> Fused {
    match a {
        Act::None => Fused::None,
        Act::Relu => Fused::Relu,
        Act::Relu6 => Fused::Relu6,
    }
}

fn per_tensor(q: &ActQuant) -> Quantization {
    Quantization::PerTensor {
        scale: q.scale,
        zero_point: q.zero_point,
    }
}

/// Builds the int8 graph of `net` (no batch norm left: pass a deploy net)
/// with `act[t]` the quantization of tensor `t` of `net.arch`, declaring
/// `head` as what its output means. Graph tensor `t` is arch tensor `t`
/// for every activation (constants follow).
pub fn to_graph(net: &Net, act: &[ActQuant], head: Head) -> Result<Graph> {
    let arch = &net.arch;
    ensure!(
        act.len() == arch.tensor_count(),
        "{} activation parameters for {} tensors",
        act.len(),
        arch.tensor_count()
    );
    ensure!(
        net.layers.iter().flatten().all(|p| p.bn.is_none()),
        "the network still has batch norms: export its deploy net"
    );
    let mut g = Graph::new();
    for (t, q) in act.iter().enumerate() {
        let s = arch.shape(t).context("tensor without shape")?;
        let name = match t {
            0 => "input".to_string(),
            t => arch.layers[t - 1].name.clone(),
        };
        g.add_activation(name, &[1, s.h, s.w, s.c], DType::Int8, per_tensor(q));
    }
    let folded = fold_net(net)?;
    for (i, l) in arch.layers.iter().enumerate() {
        let out: TensorId = i + 1;
        let spec = match l.op {
            Op::Conv {
                kernel,
                stride,
                act: a,
                ..
            }
            | Op::Depthwise {
                kernel,
                stride,
                act: a,
                ..
            } => {
                let depthwise = matches!(l.op, Op::Depthwise { .. });
                let f = folded
                    .iter()
                    .find(|f| f.layer == i)
                    .with_context(|| format!("{}: no weights", l.name))?;
                let input = *l.inputs.first().context("conv without input")?;
                let channels = f.shape[0];
                let wq = quantize_per_channel(&f.weight, channels);
                let in_scale = act[input].scale;
                let bias: Vec<i32> = f
                    .bias
                    .iter()
                    .zip(&wq.scales)
                    .map(|(&b, &ws)| quantize_bias(b, bias_scale(in_scale, ws)))
                    .collect();
                let fshape = f.tflite_shape();
                let filter = g.add_i8_constant(
                    format!("{}/filter", l.name),
                    &fshape,
                    Quantization::PerChannel {
                        axis: if depthwise { 3 } else { 0 },
                        scales: wq.scales.clone(),
                    },
                    &f.tflite_order(&wq.values),
                );
                let bias = g.add_i32_constant(
                    format!("{}/bias", l.name),
                    &[channels],
                    Quantization::None,
                    &bias,
                );
                let window = Window {
                    stride_h: stride,
                    stride_w: stride,
                    dilation_h: 1,
                    dilation_w: 1,
                    filter_h: kernel,
                    filter_w: kernel,
                    padding: Padding::Same,
                };
                if depthwise {
                    OpSpec::DepthwiseConv2d {
                        input,
                        filter,
                        filter_scales: wq.scales,
                        bias: Some(bias),
                        output: out,
                        window,
                        depth_multiplier: 1,
                        fused: fused(a),
                    }
                } else {
                    OpSpec::Conv2d {
                        input,
                        filter,
                        filter_scales: wq.scales,
                        bias: Some(bias),
                        output: out,
                        window,
                        fused: fused(a),
                    }
                }
            }
            Op::Add { act: a } => match l.inputs.as_slice() {
                &[x, y] => OpSpec::Add {
                    a: x,
                    b: y,
                    output: out,
                    fused: fused(a),
                },
                _ => bail!("{}: ADD needs two inputs", l.name),
            },
            Op::Concat => OpSpec::Concatenation {
                inputs: l.inputs.clone(),
                output: out,
                axis: 3,
            },
            Op::Upsample { mode, .. } => {
                let input = *l.inputs.first().context("resize without input")?;
                match mode {
                    Resize::Nearest => OpSpec::ResizeNearestNeighbor {
                        input,
                        output: out,
                        align_corners: false,
                        half_pixel_centers: false,
                    },
                    Resize::Bilinear => OpSpec::ResizeBilinear {
                        input,
                        output: out,
                        align_corners: false,
                        half_pixel_centers: true,
                    },
                }
            }
        };
        append_op(&mut g, &spec).with_context(|| format!("layer {}", l.name))?;
    }
    g.inputs = vec![0];
    g.outputs = vec![arch.output];
    g.head = head;
    g.check()?;
    Ok(g)
}
