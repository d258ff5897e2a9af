//! Small deterministic models built directly in the graph IR, for tests,
//! fuzz seeds and examples. Weights come from a fixed-seed generator so the
//! same call always gives the same blob.
use anyhow::{anyhow, Result};
use mote_core::kernels::{self, conv2d, Activation, Padding, Shape4};
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

/// Every sample model, by name (fuzz seeds and corruption tests use all).
pub fn all() -> Result<Vec<(&'static str, Graph)>> {
    Ok(vec![
        ("conv_chain", conv_chain(1)?),
        ("two_branches", two_branches(2)?),
    ])
}
