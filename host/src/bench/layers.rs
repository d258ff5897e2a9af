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

/// What a layer computes.
#[derive(Clone, Copy)]
enum Kind {
    Conv {
        out_channels: usize,
    },
    /// Depth multiplier 1.
    Depthwise,
}

/// A layer's shape and its reference figures.
struct Spec {
    name: &'static str,
    description: &'static str,
    /// (CMSIS-NN M4, target M4) instructions per MAC.
    refs: (f64, f64),
    input: [usize; 4],
    kind: Kind,
    kernel: usize,
    stride: usize,
}

/// Issue 7's four layers, in its order. All use SAME padding.
const SPECS: [Spec; 4] = [
    Spec {
        name: "conv3x3_s1_48x48x8_16",
        description: "conv 3x3 stride 1 SAME, 48x48x8 → 48x48x16",
        refs: (2.87, 1.6),
        input: [1, 48, 48, 8],
        kind: Kind::Conv { out_channels: 16 },
        kernel: 3,
        stride: 1,
    },
    Spec {
        name: "dwconv3x3_s1_48x48x16",
        description: "depthwise 3x3 stride 1 SAME, 48x48x16",
        refs: (9.29, 4.0),
        input: [1, 48, 48, 16],
        kind: Kind::Depthwise,
        kernel: 3,
        stride: 1,
    },
    Spec {
        name: "conv1x1_48x48x16_32",
        description: "conv 1x1, 48x48x16 → 48x48x32",
        refs: (3.96, 1.6),
        input: [1, 48, 48, 16],
        kind: Kind::Conv { out_channels: 32 },
        kernel: 1,
        stride: 1,
    },
    Spec {
        name: "conv3x3_s2_96x96x1_8",
        description: "conv 3x3 stride 2 SAME, 96x96x1 → 48x48x8",
        refs: (14.09, 6.0),
        input: [1, 96, 96, 1],
        kind: Kind::Conv { out_channels: 8 },
        kernel: 3,
        stride: 2,
    },
];

fn build(spec: &Spec, seed: u64) -> Result<Layer> {
    let mut rng = Rng::new(seed);
    let mut g = Graph::new();
    let x = input(&mut g, spec.input);
    let k = (spec.kernel, spec.kernel);
    let y = match spec.kind {
        Kind::Conv { out_channels } => {
            let fan_in = spec.kernel * spec.kernel * spec.input[3];
            let opts = conv2d::Options {
                padding: Padding::Same,
                stride_h: spec.stride,
                stride_w: spec.stride,
                dilation_h: 1,
                dilation_w: 1,
                activation: Activation::None,
            };
            add_conv2d(
                &mut g,
                &mut rng,
                x,
                out_channels,
                k,
                opts,
                (out_scale(fan_in), 3),
            )?
        }
        Kind::Depthwise => {
            let opts = depthwise_conv2d::Options {
                padding: Padding::Same,
                stride_h: spec.stride,
                stride_w: spec.stride,
                dilation_h: 1,
                dilation_w: 1,
                activation: Activation::None,
            };
            let fan_in = spec.kernel * spec.kernel;
            add_depthwise_conv2d(&mut g, &mut rng, x, k, opts, (out_scale(fan_in), 3))?
        }
    };
    g.inputs = vec![x];
    g.outputs = vec![y];
    let data = rng.i8s(spec.input.iter().product());
    Ok(Layer {
        name: spec.name,
        description: spec.description,
        cmsis_nn_m4: spec.refs.0,
        target_m4: spec.refs.1,
        graph: g,
        input: Array::from_i8(&spec.input, &data),
    })
}

/// The four layers, in issue 7's order; layer `k` uses seed `SEED + k`.
pub fn all() -> Result<Vec<Layer>> {
    SPECS
        .iter()
        .zip(0..)
        .map(|(spec, k)| build(spec, SEED + k))
        .collect()
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
