//! Small deterministic models built directly in the graph IR, for tests,
//! fuzz seeds and examples. Weights come from a fixed-seed generator so the
//! same call always gives the same blob.
use anyhow::{anyhow, Result};
use mote_core::kernels::{
    self, add, concatenation, conv2d, depthwise_conv2d, dequantize, fully_connected, hard_swish,
    leaky_relu, logistic, mean, mul, pad, pool, quantize, resize_bilinear, resize_nearest, softmax,
    Activation, Padding, Shape4,
};
use mote_core::quant::per_channel_multipliers;

use crate::graph::{DType, Graph, OpCode, Quantization, TensorId};

/// A tiny xorshift generator: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i32, hi: i32) -> i32 {
        let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
        (i64::from(lo) + (self.next_u64() % span) as i64) as i32
    }

    pub fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.range(-128, 127) as i8).collect()
    }
}

fn q(scale: f32, zero_point: i32) -> Quantization {
    Quantization::PerTensor { scale, zero_point }
}

fn shape4(s: &[usize]) -> Shape4 {
    Shape4::new(s[0], s[1], s[2], s[3])
}

fn kerr(e: kernels::KernelError) -> anyhow::Error {
    anyhow!("kernel prepare: {e:?}")
}

/// Appends a CONV_2D with random per-channel weights; returns the output.
#[allow(clippy::too_many_arguments)]
pub fn add_conv2d(
    g: &mut Graph,
    rng: &mut Rng,
    input: TensorId,
    out_channels: usize,
    kernel: (usize, usize),
    opts: conv2d::Options,
    out_q: (f32, i32),
) -> Result<TensorId> {
    let x = g.tensors[input].clone();
    let (in_scale, in_zp) = match x.quant {
        Quantization::PerTensor { scale, zero_point } => (scale, zero_point),
        _ => return Err(anyhow!("conv input must be per-tensor quantized")),
    };
    let in_c = x.shape[3];
    let fshape = [out_channels, kernel.0, kernel.1, in_c];
    let scales: Vec<f32> = (0..out_channels)
        .map(|c| 0.002 + 0.001 * (c % 7) as f32)
        .collect();
    let (params, out_shape) = conv2d::prepare(
        &opts,
        shape4(&x.shape),
        shape4(&fshape),
        kernels::Quant::new(in_scale, in_zp),
        kernels::Quant::new(out_q.0, out_q.1),
    )
    .map_err(kerr)?;
    let mut mult = vec![0; out_channels];
    let mut shift = vec![0; out_channels];
    per_channel_multipliers(in_scale, &scales, out_q.0, &mut mult, &mut shift).map_err(kerr)?;
    let n = fshape.iter().product();
    let w = g.add_i8_constant(
        "filter",
        &fshape,
        Quantization::PerChannel {
            axis: 0,
            scales: scales.clone(),
        },
        &rng.i8s(n),
    );
    let bias_vals: Vec<i32> = (0..out_channels).map(|_| rng.range(-2000, 2000)).collect();
    let bias_scales = scales.iter().map(|s| s * in_scale).collect();
    let b = g.add_i32_constant(
        "bias",
        &[out_channels],
        Quantization::PerChannel {
            axis: 0,
            scales: bias_scales,
        },
        &bias_vals,
    );
    let m = g.add_i32_constant("multiplier", &[out_channels], Quantization::None, &mult);
    let s = g.add_i32_constant("shift", &[out_channels], Quantization::None, &shift);
    let o = g.add_activation(
        "conv_out",
        &out_shape.dims(),
        DType::Int8,
        q(out_q.0, out_q.1),
    );
    let mut words = Vec::new();
    params.encode(&mut |w| words.push(w));
    g.add_op(OpCode::Conv2d, &[input, w, b, m, s], &[o], words);
    Ok(o)
}

/// Appends a DEPTHWISE_CONV_2D (depth multiplier 1) with random per-channel
/// weights; returns the output.
pub fn add_depthwise_conv2d(
    g: &mut Graph,
    rng: &mut Rng,
    input: TensorId,
    kernel: (usize, usize),
    opts: depthwise_conv2d::Options,
    out_q: (f32, i32),
) -> Result<TensorId> {
    let channels = g.tensors[input].shape[3];
    let fshape = [1, kernel.0, kernel.1, channels];
    let [w, b, m, s] = weights(g, rng, input, &fshape, channels, out_q.0)?;
    let probe = g.add_activation(
        "dw_out",
        &[1, 1, 1, channels],
        DType::Int8,
        q(out_q.0, out_q.1),
    );
    let (params, out_shape) =
        depthwise_conv2d::prepare(&opts, s4(g, input), s4(g, w), kq(g, input), kq(g, probe))
            .map_err(kerr)?;
    g.tensors[probe].shape = out_shape.dims().to_vec();
    g.add_op(
        OpCode::DepthwiseConv2d,
        &[input, w, b, m, s],
        &[probe],
        words(|f| params.encode(&mut |x| f(x))),
    );
    Ok(probe)
}

fn conv_opts(stride: usize, padding: Padding, dilation: usize, act: Activation) -> conv2d::Options {
    conv2d::Options {
        padding,
        stride_h: stride,
        stride_w: stride,
        dilation_h: dilation,
        dilation_w: dilation,
        activation: act,
    }
}

/// input 1×9×7×3 → CONV 3×3 s2 SAME relu (5 ch) → CONV 3×3 dilation 2 VALID
/// (4 ch) → RESHAPE to [1, n].
pub fn conv_chain(seed: u64) -> Result<Graph> {
    let mut rng = Rng::new(seed);
    let mut g = Graph::new();
    let x = g.add_activation("input", &[1, 9, 7, 3], DType::Int8, q(0.02, -5));
    let a = add_conv2d(
        &mut g,
        &mut rng,
        x,
        5,
        (3, 3),
        conv_opts(2, Padding::Same, 1, Activation::Relu),
        (0.05, -128),
    )?;
    let b = add_conv2d(
        &mut g,
        &mut rng,
        a,
        4,
        (2, 2),
        conv_opts(1, Padding::Valid, 2, Activation::None),
        (0.1, 3),
    )?;
    let len = g.tensors[b].len();
    let r = g.add_activation("flat", &[1, len], DType::Int8, q(0.1, 3));
    g.add_op(OpCode::Reshape, &[b], &[r], vec![]);
    g.inputs = vec![x];
    g.outputs = vec![r];
    Ok(g)
}

/// A model with two inputs and two outputs and a branch that stays alive
/// across other ops, to exercise the planner: in0 → CONV → a; in1 → CONV → b;
/// a → CONV → c (output 0); b → RESHAPE → d (output 1).
pub fn two_branches(seed: u64) -> Result<Graph> {
    let mut rng = Rng::new(seed);
    let mut g = Graph::new();
    let in0 = g.add_activation("in0", &[1, 6, 6, 2], DType::Int8, q(0.03, 1));
    let in1 = g.add_activation("in1", &[1, 5, 4, 1], DType::Int8, q(0.04, -2));
    let same1 = conv_opts(1, Padding::Same, 1, Activation::Relu6);
    let a = add_conv2d(&mut g, &mut rng, in0, 3, (3, 3), same1, (0.03, -128))?;
    let b = add_conv2d(&mut g, &mut rng, in1, 2, (1, 1), same1, (0.05, -100))?;
    let c = add_conv2d(
        &mut g,
        &mut rng,
        a,
        7,
        (1, 3),
        conv_opts(2, Padding::Valid, 1, Activation::None),
        (0.2, 10),
    )?;
    let d = g.add_activation("b_flat", &[1, 40], DType::Int8, q(0.05, -100));
    g.add_op(OpCode::Reshape, &[b], &[d], vec![]);
    g.inputs = vec![in0, in1];
    g.outputs = vec![c, d];
    Ok(g)
}

fn words(encode: impl FnOnce(&mut dyn FnMut(i32))) -> Vec<i32> {
    let mut w = Vec::new();
    encode(&mut |x| w.push(x));
    w
}

fn kq(g: &Graph, t: TensorId) -> kernels::Quant {
    let t = &g.tensors[t];
    kernels::Quant::new(t.quant.scale().unwrap_or(1.0), t.quant.zero_point())
}

fn s4(g: &Graph, t: TensorId) -> Shape4 {
    let s = &g.tensors[t].shape;
    let mut d = [1usize; 4];
    d[4 - s.len()..].copy_from_slice(s);
    Shape4::new(d[0], d[1], d[2], d[3])
}

/// Random weights and the multiplier/shift constants of a weighted op.
fn weights(
    g: &mut Graph,
    rng: &mut Rng,
    input: TensorId,
    filter_shape: &[usize],
    out_channels: usize,
    out_q: f32,
) -> Result<[TensorId; 4]> {
    let in_scale = g.tensors[input].quant.scale().unwrap_or(1.0);
    let scales: Vec<f32> = (0..out_channels)
        .map(|c| 0.003 + 0.001 * (c % 5) as f32)
        .collect();
    let mut mult = vec![0; out_channels];
    let mut shift = vec![0; out_channels];
    per_channel_multipliers(in_scale, &scales, out_q, &mut mult, &mut shift).map_err(kerr)?;
    let n = filter_shape.iter().product();
    let axis = if filter_shape[0] == out_channels {
        0
    } else {
        filter_shape.len() - 1
    };
    let w = g.add_i8_constant(
        "filter",
        filter_shape,
        Quantization::PerChannel { axis, scales },
        &rng.i8s(n),
    );
    let bias: Vec<i32> = (0..out_channels).map(|_| rng.range(-3000, 3000)).collect();
    let b = g.add_i32_constant("bias", &[out_channels], Quantization::None, &bias);
    let m = g.add_i32_constant("multiplier", &[out_channels], Quantization::None, &mult);
    let s = g.add_i32_constant("shift", &[out_channels], Quantization::None, &shift);
    Ok([w, b, m, s])
}

/// Every op the runtime dispatches, in one small encoder–decoder-like graph:
/// CONV → DEPTHWISE (s2) → MAX_POOL → RESIZE_NEAREST → ADD(skip) → MUL;
/// CONCAT(skip, resized) → PAD → AVERAGE_POOL → RESIZE_BILINEAR → MEAN →
/// RESHAPE → FULLY_CONNECTED. Outputs: the dense head and the MUL map.
pub fn many_ops(seed: u64) -> Result<Graph> {
    let mut rng = Rng::new(seed);
    let mut g = Graph::new();
    let x = g.add_activation("input", &[1, 8, 8, 3], DType::Int8, q(0.02, -5));
    let a = add_conv2d(
        &mut g,
        &mut rng,
        x,
        6,
        (3, 3),
        conv_opts(1, Padding::Same, 1, Activation::Relu),
        (0.05, -128),
    )?;

    // Depthwise 3×3 stride 2, multiplier 1.
    let b = g.add_activation("dw", &[1, 4, 4, 6], DType::Int8, q(0.04, -128));
    let [w, bias, m, s] = weights(&mut g, &mut rng, a, &[1, 3, 3, 6], 6, 0.04)?;
    let dw_opts = depthwise_conv2d::Options {
        padding: Padding::Same,
        stride_h: 2,
        stride_w: 2,
        dilation_h: 1,
        dilation_w: 1,
        activation: Activation::Relu6,
    };
    let (p, shape) =
        depthwise_conv2d::prepare(&dw_opts, s4(&g, a), s4(&g, w), kq(&g, a), kq(&g, b))
            .map_err(kerr)?;
    anyhow::ensure!(shape == s4(&g, b), "dw shape {shape:?}");
    g.add_op(
        OpCode::DepthwiseConv2d,
        &[a, w, bias, m, s],
        &[b],
        words(|f| p.encode(&mut |x| f(x))),
    );

    let pool_opts = |k: usize, st: usize| pool::Options {
        padding: Padding::Valid,
        stride_h: st,
        stride_w: st,
        filter_h: k,
        filter_w: k,
        activation: Activation::None,
    };
    let (p, shape) = pool::prepare(&pool_opts(2, 2), s4(&g, b), kq(&g, b)).map_err(kerr)?;
    let c = g.add_activation(
        "maxpool",
        &shape.dims(),
        DType::Int8,
        g.tensors[b].quant.clone(),
    );
    g.add_op(
        OpCode::MaxPool2d,
        &[b],
        &[c],
        words(|f| p.encode(&mut |x| f(x))),
    );

    let d = g.add_activation("up", &[1, 4, 4, 6], DType::Int8, g.tensors[c].quant.clone());
    let p = resize_nearest::prepare(false, false);
    g.add_op(
        OpCode::ResizeNearestNeighbor,
        &[c],
        &[d],
        words(|f| p.encode(&mut |x| f(x))),
    );

    let e = g.add_activation("add", &[1, 4, 4, 6], DType::Int8, q(0.06, -20));
    let p = add::prepare(Activation::None, kq(&g, b), kq(&g, d), kq(&g, e)).map_err(kerr)?;
    g.add_op(
        OpCode::Add,
        &[b, d],
        &[e],
        words(|f| p.encode(&mut |x| f(x))),
    );

    let f_ = g.add_activation("mul", &[1, 4, 4, 6], DType::Int8, q(0.1, 0));
    let p = mul::prepare(Activation::None, kq(&g, e), kq(&g, e), kq(&g, f_)).map_err(kerr)?;
    g.add_op(
        OpCode::Mul,
        &[e, e],
        &[f_],
        words(|f| p.encode(&mut |x| f(x))),
    );

    let cat = g.add_activation(
        "concat",
        &[1, 4, 4, 12],
        DType::Int8,
        g.tensors[b].quant.clone(),
    );
    let p = concatenation::prepare(3, 4, true).map_err(kerr)?;
    g.add_op(
        OpCode::Concatenation,
        &[b, d],
        &[cat],
        words(|f| p.encode(&mut |x| f(x))),
    );

    let zp = g.tensors[cat].quant.zero_point();
    let p = pad::prepare(&[[0, 0], [1, 1], [1, 1], [0, 0]], zp, None).map_err(kerr)?;
    let h = g.add_activation(
        "pad",
        &[1, 6, 6, 12],
        DType::Int8,
        g.tensors[cat].quant.clone(),
    );
    g.add_op(
        OpCode::Pad,
        &[cat],
        &[h],
        words(|f| p.encode(&mut |x| f(x))),
    );

    let (p, shape) = pool::prepare(&pool_opts(3, 3), s4(&g, h), kq(&g, h)).map_err(kerr)?;
    let i = g.add_activation(
        "avgpool",
        &shape.dims(),
        DType::Int8,
        g.tensors[h].quant.clone(),
    );
    g.add_op(
        OpCode::AveragePool2d,
        &[h],
        &[i],
        words(|f| p.encode(&mut |x| f(x))),
    );

    let j = g.add_activation(
        "bilinear",
        &[1, 3, 3, 12],
        DType::Int8,
        g.tensors[i].quant.clone(),
    );
    let p = resize_bilinear::prepare(false, true).map_err(kerr)?;
    g.add_op(
        OpCode::ResizeBilinear,
        &[i],
        &[j],
        words(|f| p.encode(&mut |x| f(x))),
    );

    let k = g.add_activation("mean", &[1, 1, 1, 12], DType::Int8, q(0.03, 2));
    let p = mean::prepare(&[1, 2], 4, kq(&g, j), kq(&g, k)).map_err(kerr)?;
    g.add_op(OpCode::Mean, &[j], &[k], words(|f| p.encode(&mut |x| f(x))));

    let l = g.add_activation("flat", &[1, 12], DType::Int8, g.tensors[k].quant.clone());
    g.add_op(OpCode::Reshape, &[k], &[l], vec![]);

    let out = g.add_activation("dense", &[1, 5], DType::Int8, q(0.1, 3));
    let [w, bias, m, s] = weights(&mut g, &mut rng, l, &[5, 12], 5, 0.1)?;
    let p = fully_connected::prepare(Activation::None, kq(&g, l), kq(&g, out)).map_err(kerr)?;
    g.add_op(
        OpCode::FullyConnected,
        &[l, w, bias, m, s],
        &[out],
        words(|f| p.encode(&mut |x| f(x))),
    );

    g.inputs = vec![x];
    g.outputs = vec![out, f_];
    Ok(g)
}

/// The element-wise and type-changing ops: float32 input → QUANTIZE →
/// HARD_SWISH → LEAKY_RELU → QUANTIZE (requantize) → LOGISTIC (output 0);
/// the requantized map → SOFTMAX → DEQUANTIZE (float32 output 1).
pub fn activations(seed: u64) -> Result<Graph> {
    let _ = seed;
    let mut g = Graph::new();
    let shape = [1, 3, 5, 7];
    let x = g.add_activation("input_f32", &shape, DType::Float32, Quantization::None);
    let a = g.add_activation("quantized", &shape, DType::Int8, q(0.05, 3));
    let p = quantize::prepare_from_f32(kq(&g, a)).map_err(kerr)?;
    g.add_op(
        OpCode::Quantize,
        &[x],
        &[a],
        words(|f| p.encode(&mut |x| f(x))),
    );
    let b = g.add_activation("hard_swish", &shape, DType::Int8, q(0.04, -90));
    let p = hard_swish::prepare(kq(&g, a), kq(&g, b)).map_err(kerr)?;
    g.add_op(
        OpCode::HardSwish,
        &[a],
        &[b],
        words(|f| p.encode(&mut |x| f(x))),
    );
    let c = g.add_activation("leaky_relu", &shape, DType::Int8, q(0.03, -60));
    let p = leaky_relu::prepare(0.2, kq(&g, b), kq(&g, c)).map_err(kerr)?;
    g.add_op(
        OpCode::LeakyRelu,
        &[b],
        &[c],
        words(|f| p.encode(&mut |x| f(x))),
    );
    let d = g.add_activation("requantized", &shape, DType::Int8, q(0.07, 10));
    let p = quantize::prepare_requantize(kq(&g, c), kq(&g, d)).map_err(kerr)?;
    g.add_op(
        OpCode::Quantize,
        &[c],
        &[d],
        words(|f| p.encode(&mut |x| f(x))),
    );
    let e = g.add_activation("logistic", &shape, DType::Int8, q(1.0 / 256.0, -128));
    let p = logistic::prepare(kq(&g, d), kq(&g, e)).map_err(kerr)?;
    g.add_op(
        OpCode::Logistic,
        &[d],
        &[e],
        words(|f| p.encode(&mut |x| f(x))),
    );
    let sm = g.add_activation("softmax", &shape, DType::Int8, q(1.0 / 256.0, -128));
    let p = softmax::prepare(1.0, kq(&g, d), kq(&g, sm)).map_err(kerr)?;
    g.add_op(
        OpCode::Softmax,
        &[d],
        &[sm],
        words(|f| p.encode(&mut |x| f(x))),
    );
    let out = g.add_activation("probabilities", &shape, DType::Float32, Quantization::None);
    let p = dequantize::prepare(kq(&g, sm)).map_err(kerr)?;
    g.add_op(
        OpCode::Dequantize,
        &[sm],
        &[out],
        words(|f| p.encode(&mut |x| f(x))),
    );
    g.inputs = vec![x];
    g.outputs = vec![e, out];
    Ok(g)
}

/// Every sample model, by name (fuzz seeds and corruption tests use all).
pub fn all() -> Result<Vec<(&'static str, Graph)>> {
    Ok(vec![
        ("conv_chain", conv_chain(1)?),
        ("two_branches", two_branches(2)?),
        ("many_ops", many_ops(3)?),
        ("activations", activations(4)?),
    ])
}
