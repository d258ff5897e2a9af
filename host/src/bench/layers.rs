//! The four layer benchmarks of issue 7: single-op int8 models with random
//! weights and inputs (fixed seed), shaped exactly like the layers Arm's
//! CMSIS-NN figures were measured on, so our instructions per MAC can sit
//! next to theirs.
use anyhow::Result;
use mote_core::kernels::{conv2d, depthwise_conv2d, Activation, Padding};

use crate::graph::{DType, Graph, Quantization};
use crate::npy::Array;
use crate::sample::{add_conv2d, add_depthwise_conv2d, Rng};

/// Seed of every layer benchmark's weights and input.
pub const SEED: u64 = 0x6d6f_7465;

/// One layer benchmark.
pub struct Layer {
    pub name: &'static str,
    /// What it is, in words (the report's row label).
    pub description: &'static str,
    /// CMSIS-NN's instructions per MAC on Cortex-M4 (issue 7).
    pub cmsis_nn_m4: f64,
    /// Issue 7's target for mote on Cortex-M4.
    pub target_m4: f64,
    pub graph: Graph,
    pub input: Array,
}

const IN_SCALE: f32 = 0.02;
const IN_ZERO: i32 = -5;
/// Mean of `add_conv2d`'s / `add_depthwise_conv2d`'s per-channel weight scales.
const W_SCALE: f32 = 0.005;

/// An output scale that keeps a random layer's outputs mostly inside int8:
/// ±3 standard deviations of a sum of `fan_in` products of uniform int8s
/// (standard deviation about 74 each) map onto ±128.
fn out_scale(fan_in: usize) -> f32 {
    let sigma = 74.0 * 74.0 * (fan_in as f32).sqrt() * IN_SCALE * W_SCALE;
    3.0 * sigma / 128.0
}

fn input(g: &mut Graph, shape: [usize; 4]) -> crate::graph::TensorId {
    g.add_activation(
        "input",
        &shape,
        DType::Int8,
        Quantization::PerTensor {
            scale: IN_SCALE,
            zero_point: IN_ZERO,
        },
    )
}

fn conv_opts(stride: usize) -> conv2d::Options {
    conv2d::Options {
        padding: Padding::Same,
        stride_h: stride,
        stride_w: stride,
        dilation_h: 1,
        dilation_w: 1,
        activation: Activation::None,
    }
}

fn conv_layer(
    name: &'static str,
    description: &'static str,
    refs: (f64, f64),
    in_shape: [usize; 4],
    out_channels: usize,
    kernel: usize,
    stride: usize,
    seed: u64,
) -> Result<Layer> {
    let mut rng = Rng::new(seed);
    let mut g = Graph::new();
    let x = input(&mut g, in_shape);
    let fan_in = kernel * kernel * in_shape[3];
    let y = add_conv2d(
        &mut g,
        &mut rng,
        x,
        out_channels,
        (kernel, kernel),
        conv_opts(stride),
        (out_scale(fan_in), 3),
    )?;
    g.inputs = vec![x];
    g.outputs = vec![y];
    let data = rng.i8s(in_shape.iter().product());
    Ok(Layer {
        name,
        description,
        cmsis_nn_m4: refs.0,
        target_m4: refs.1,
        graph: g,
        input: Array::from_i8(&in_shape, &data),
    })
}

/// The four layers, in issue 7's order.
pub fn all() -> Result<Vec<Layer>> {
    let mut layers = vec![conv_layer(
        "conv3x3_s1_48x48x8_16",
        "conv 3x3 stride 1 SAME, 48x48x8 → 48x48x16",
        (2.87, 1.6),
        [1, 48, 48, 8],
        16,
        3,
        1,
        SEED,
    )?];

    let mut rng = Rng::new(SEED + 1);
    let mut g = Graph::new();
    let shape = [1, 48, 48, 16];
    let x = input(&mut g, shape);
    let opts = depthwise_conv2d::Options {
        padding: Padding::Same,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        activation: Activation::None,
    };
    let y = add_depthwise_conv2d(&mut g, &mut rng, x, (3, 3), opts, (out_scale(9), 3))?;
    g.inputs = vec![x];
    g.outputs = vec![y];
    let data = rng.i8s(shape.iter().product());
    layers.push(Layer {
        name: "dwconv3x3_s1_48x48x16",
        description: "depthwise 3x3 stride 1 SAME, 48x48x16",
        cmsis_nn_m4: 9.29,
        target_m4: 4.0,
        graph: g,
        input: Array::from_i8(&shape, &data),
    });

    layers.push(conv_layer(
        "conv1x1_48x48x16_32",
        "conv 1x1, 48x48x16 → 48x48x32",
        (3.96, 1.6),
        [1, 48, 48, 16],
        32,
        1,
        1,
        SEED + 2,
    )?);
    layers.push(conv_layer(
        "conv3x3_s2_96x96x1_8",
        "conv 3x3 stride 2 SAME, 96x96x1 → 48x48x8",
        (14.09, 6.0),
        [1, 96, 96, 1],
        8,
        3,
        2,
        SEED + 3,
    )?);
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_have_the_issue_shapes_and_are_deterministic() {
        let a = all().expect("layers");
        let b = all().expect("layers");
        let outs: Vec<Vec<usize>> = a
            .iter()
            .map(|l| l.graph.tensors[l.graph.outputs[0]].shape.clone())
            .collect();
        assert_eq!(
            outs,
            vec![
                vec![1, 48, 48, 16],
                vec![1, 48, 48, 16],
                vec![1, 48, 48, 32],
                vec![1, 48, 48, 8]
            ]
        );
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                crate::blob::export(&x.graph).expect("blob"),
                crate::blob::export(&y.graph).expect("blob")
            );
            assert_eq!(x.input.data, y.input.data);
        }
    }
}
