//! `.tflite` writer tests: every golden model and a hand-built graph per op
//! survive `import(write(graph)) == graph`; what TFLite cannot express is an
//! error, not a panic.

use std::path::PathBuf;

use super::ops::{Fused, OpSpec, Window};
use super::schema::{self, Activation, BuiltinOptions, Model, Padding};
use super::{append_op, import, write};
use crate::graph::{DType, Graph, Head, OpCode, Quantization, TensorId};

fn q(scale: f32, zero_point: i32) -> Quantization {
    Quantization::PerTensor { scale, zero_point }
}

/// Writes, imports back and compares with the original, field by field;
/// writing the imported graph again gives the same bytes.
fn round_trip(g: &Graph) -> Vec<u8> {
    g.check().unwrap();
    let bytes = write(g).unwrap_or_else(|e| panic!("write: {e:#}"));
    let back = import(&bytes).unwrap_or_else(|e| panic!("import: {e:#}"));
    assert_eq!(back.tensors.len(), g.tensors.len(), "tensor count");
    for (a, b) in back.tensors.iter().zip(&g.tensors) {
        assert_eq!(a, b);
    }
    assert_eq!(back.ops, g.ops);
    assert_eq!(&back, g);
    assert_eq!(write(&back).unwrap(), bytes, "writing is deterministic");
    bytes
}

/// A graph with one int8 input `x` of `shape`.
fn with_input(shape: &[usize], quant: Quantization) -> (Graph, TensorId) {
    let mut g = Graph::new();
    let x = g.add_activation("x", shape, DType::Int8, quant);
    g.inputs = vec![x];
    (g, x)
}

fn weights(g: &mut Graph, shape: &[usize], quant: Quantization) -> TensorId {
    let n: usize = shape.iter().product();
    let values: Vec<i8> = (0..n).map(|i| ((i * 37 + 11) % 255) as i8).collect();
    g.add_i8_constant("w", shape, quant, &values)
}

fn bias(g: &mut Graph, n: usize) -> TensorId {
    let values: Vec<i32> = (0..n as i32).map(|i| i * 301 - 700).collect();
    g.add_i32_constant("b", &[n], Quantization::None, &values)
}

fn window(padding: Padding, stride: usize, dilation: usize, filter: usize) -> Window {
    Window {
        stride_h: stride,
        stride_w: stride,
        dilation_h: dilation,
        dilation_w: dilation,
        filter_h: filter,
        filter_w: filter,
        padding,
    }
}

/// Appends `spec` writing `out`, makes `out` the graph output.
fn finish_graph(mut g: Graph, spec: OpSpec, out: TensorId) -> Graph {
    append_op(&mut g, &spec).unwrap();
    g.outputs = vec![out];
    g
}

/// `(builtin code, version)` of each operator of a file, in op order.
fn op_versions(bytes: &[u8]) -> Vec<(String, i32)> {
    let m = Model::read(bytes).unwrap();
    m.subgraphs[0]
        .operators
        .iter()
        .map(|op| {
            let c = &m.operator_codes[op.opcode_index as usize];
            (schema::builtin_name(c.builtin), c.version)
        })
        .collect()
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

#[test]
fn every_golden_model_round_trips() {
    let mut seen = 0;
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tflite") {
            let bytes = std::fs::read(&path).unwrap();
            let g = import(&bytes).unwrap();
            let written = round_trip(&g);
            // Operator codes and versions as TFLite's converter wrote them
            // (options may differ where equivalent: NONE for a RELU that
            // clamps nothing, SAME for a 1x1 VALID, axis 3 for -1).
            assert_eq!(
                op_versions(&written),
                op_versions(&bytes),
                "{}",
                path.display()
            );
            // The blob is the same too (it is a function of the graph).
            let back = import(&write(&g).unwrap()).unwrap();
            assert_eq!(
                crate::blob::export(&back).unwrap(),
                crate::blob::export(&g).unwrap(),
                "{}",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 5, "only {seen} golden models found");
}

#[test]
fn conv_same_relu6_per_channel_with_bias() {
    let (mut g, x) = with_input(&[1, 7, 6, 3], q(0.05, -3));
    let out = g.add_activation("y", &[1, 4, 3, 4], DType::Int8, q(0.04, -128));
    let scales = vec![0.01, 0.02, 0.015, 0.03];
    let w = weights(
        &mut g,
        &[4, 3, 3, 3],
        Quantization::PerChannel {
            axis: 0,
            scales: scales.clone(),
        },
    );
    let b = bias(&mut g, 4);
    let spec = OpSpec::Conv2d {
        input: x,
        filter: w,
        filter_scales: scales,
        bias: Some(b),
        output: out,
        window: window(Padding::Same, 2, 1, 3),
        fused: Fused::Relu6,
    };
    let bytes = round_trip(&finish_graph(g, spec, out));
    // Options as TFLite's converter writes them, the multiplier and shift
    // inputs dropped, the bias quantized with input scale * filter scale.
    let m = Model::read(&bytes).unwrap();
    let code = &m.operator_codes[0];
    assert_eq!((code.builtin, code.version), (schema::op::CONV_2D, 3));
    let sg = &m.subgraphs[0];
    let op = &sg.operators[0];
    assert_eq!(op.inputs.len(), 3);
    let BuiltinOptions::Conv2D(o) = &op.options else {
        panic!("{:?}", op.options)
    };
    assert_eq!(o.padding, Padding::Same);
    assert_eq!((o.stride_h, o.stride_w), (2, 2));
    assert_eq!(o.activation, Activation::RELU6);
    let bq = sg.tensors[op.inputs[2] as usize]
        .quantization
        .as_ref()
        .unwrap();
    assert_eq!(
        bq.scale,
        vec![0.05 * 0.01, 0.05 * 0.02, 0.05 * 0.015, 0.05 * 0.03]
    );
}

#[test]
fn conv_valid_dilated_per_tensor_without_bias() {
    let (mut g, x) = with_input(&[1, 9, 9, 2], q(0.1, 5));
    let out = g.add_activation("y", &[1, 5, 5, 3], DType::Int8, q(0.2, -10));
    let w = weights(&mut g, &[3, 3, 3, 2], q(0.02, 0));
    let spec = OpSpec::Conv2d {
        input: x,
        filter: w,
        filter_scales: vec![0.02],
        bias: None,
        output: out,
        window: window(Padding::Valid, 1, 2, 3),
        fused: Fused::Relu,
    };
    let bytes = round_trip(&finish_graph(g, spec, out));
    let m = Model::read(&bytes).unwrap();
    let op = &m.subgraphs[0].operators[0];
    // The importer's invented zero bias is omitted again.
    assert_eq!(op.inputs[2], -1);
    let BuiltinOptions::Conv2D(o) = &op.options else {
        panic!()
    };
    assert_eq!(
        (o.padding, o.dilation_h, o.activation),
        (Padding::Valid, 2, Activation::RELU)
    );
}

#[test]
fn depthwise_multiplier_two_valid_stride_two() {
    let (mut g, x) = with_input(&[1, 8, 8, 2], q(0.05, 0));
    let out = g.add_activation("y", &[1, 3, 3, 4], DType::Int8, q(0.1, 3));
    let scales = vec![0.01, 0.02, 0.03, 0.04];
    let w = weights(
        &mut g,
        &[1, 3, 3, 4],
        Quantization::PerChannel {
            axis: 3,
            scales: scales.clone(),
        },
    );
    let b = bias(&mut g, 4);
    let spec = OpSpec::DepthwiseConv2d {
        input: x,
        filter: w,
        filter_scales: scales,
        bias: Some(b),
        output: out,
        window: window(Padding::Valid, 2, 1, 3),
        depth_multiplier: 2,
        fused: Fused::None,
    };
    round_trip(&finish_graph(g, spec, out));
}

#[test]
fn one_output_channel_stays_per_channel() {
    // The counter's last layer: per-channel weights with a single channel.
    let (mut g, x) = with_input(&[1, 4, 4, 8], q(0.05, -128));
    let out = g.add_activation("y", &[1, 4, 4, 1], DType::Int8, q(0.002, -128));
    let w = weights(
        &mut g,
        &[1, 1, 1, 8],
        Quantization::PerChannel {
            axis: 0,
            scales: vec![0.01],
        },
    );
    let b = bias(&mut g, 1);
    let spec = OpSpec::Conv2d {
        input: x,
        filter: w,
        filter_scales: vec![0.01],
        bias: Some(b),
        output: out,
        window: window(Padding::Same, 1, 1, 1),
        fused: Fused::None,
    };
    round_trip(&finish_graph(g, spec, out));
}

#[test]
fn fully_connected_per_tensor_and_per_channel() {
    let (mut g, x) = with_input(&[1, 8], q(0.05, 2));
    let out = g.add_activation("y", &[1, 3], DType::Int8, q(0.1, -1));
    let w = weights(&mut g, &[3, 8], q(0.02, 0));
    let b = bias(&mut g, 3);
    let spec = OpSpec::FullyConnected {
        input: x,
        filter: w,
        filter_scales: vec![0.02],
        bias: Some(b),
        output: out,
        fused: Fused::Relu,
    };
    round_trip(&finish_graph(g, spec, out));

    let (mut g, x) = with_input(&[1, 1, 1, 8], q(0.05, 2));
    let out = g.add_activation("y", &[1, 1, 1, 3], DType::Int8, q(0.1, -1));
    let scales = vec![0.02, 0.01, 0.03];
    let w = weights(
        &mut g,
        &[3, 8],
        Quantization::PerChannel {
            axis: 0,
            scales: scales.clone(),
        },
    );
    let spec = OpSpec::FullyConnected {
        input: x,
        filter: w,
        filter_scales: scales,
        bias: None,
        output: out,
        fused: Fused::None,
    };
    let bytes = round_trip(&finish_graph(g, spec, out));
    let m = Model::read(&bytes).unwrap();
    let BuiltinOptions::FullyConnected(o) = &m.subgraphs[0].operators[0].options else {
        panic!()
    };
    assert!(o.keep_num_dims);
}

#[test]
fn add_with_a_constant_and_mul_of_two_inputs() {
    let (mut g, a) = with_input(&[1, 4, 4, 3], q(0.05, -3));
    let c = g.add_i8_constant("c", &[3], q(0.02, 1), &[5, -7, 100]);
    let out = g.add_activation("y", &[1, 4, 4, 3], DType::Int8, q(0.07, -128));
    let spec = OpSpec::Add {
        a,
        b: c,
        output: out,
        fused: Fused::Relu,
    };
    round_trip(&finish_graph(g, spec, out));

    let (mut g, a) = with_input(&[1, 4, 4, 3], q(0.05, -3));
    let b = g.add_activation("x2", &[1, 4, 4, 3], DType::Int8, q(0.03, 7));
    g.inputs.push(b);
    let out = g.add_activation("y", &[1, 4, 4, 3], DType::Int8, q(0.01, 0));
    let spec = OpSpec::Mul {
        a,
        b,
        output: out,
        fused: Fused::Relu6,
    };
    round_trip(&finish_graph(g, spec, out));
}

#[test]
fn concatenation_pools_and_pad() {
    let qa = q(0.05, -3);
    let (mut g, a) = with_input(&[1, 2, 2, 3], qa.clone());
    let b = g.add_activation("x2", &[1, 2, 2, 5], DType::Int8, qa.clone());
    g.inputs.push(b);
    let out = g.add_activation("y", &[1, 2, 2, 8], DType::Int8, qa.clone());
    let spec = OpSpec::Concatenation {
        inputs: vec![a, b],
        output: out,
        axis: 3,
    };
    round_trip(&finish_graph(g, spec, out));

    for (max, padding, shape, fused) in [
        (true, Padding::Same, [1, 4, 4, 2], Fused::None),
        (false, Padding::Valid, [1, 3, 3, 2], Fused::Relu),
    ] {
        let (mut g, x) = with_input(&[1, 7, 7, 2], qa.clone());
        let out = g.add_activation("y", &shape, DType::Int8, qa.clone());
        let w = window(padding, 2, 1, 3);
        let spec = if max {
            OpSpec::MaxPool2d {
                input: x,
                output: out,
                window: w,
                fused,
            }
        } else {
            OpSpec::AveragePool2d {
                input: x,
                output: out,
                window: w,
                fused,
            }
        };
        round_trip(&finish_graph(g, spec, out));
    }

    let (mut g, x) = with_input(&[1, 3, 3, 2], qa.clone());
    let out = g.add_activation("y", &[1, 6, 4, 2], DType::Int8, qa);
    let spec = OpSpec::Pad {
        input: x,
        output: out,
        paddings: vec![(0, 0), (1, 2), (0, 1), (0, 0)],
    };
    round_trip(&finish_graph(g, spec, out));
}

#[test]
fn mean_reshape_and_resizes() {
    for keep_dims in [true, false] {
        let (mut g, x) = with_input(&[1, 4, 4, 3], q(0.05, -3));
        let shape: &[usize] = if keep_dims { &[1, 1, 1, 3] } else { &[1, 3] };
        let out = g.add_activation("y", shape, DType::Int8, q(0.02, 4));
        let spec = OpSpec::Mean {
            input: x,
            output: out,
            axes: vec![1, 2],
            keep_dims,
        };
        round_trip(&finish_graph(g, spec, out));
    }

    let (mut g, x) = with_input(&[1, 2, 2, 3], q(0.05, -3));
    let out = g.add_activation("y", &[1, 12], DType::Int8, q(0.05, -3));
    let spec = OpSpec::Reshape {
        input: x,
        output: out,
    };
    round_trip(&finish_graph(g, spec, out));

    for (nearest, align_corners, half_pixel_centers) in [
        (true, false, false),
        (true, false, true),
        (false, true, false),
        (false, false, true),
    ] {
        let (mut g, x) = with_input(&[1, 3, 4, 2], q(0.05, -3));
        let out = g.add_activation("y", &[1, 6, 8, 2], DType::Int8, q(0.05, -3));
        let spec = if nearest {
            OpSpec::ResizeNearestNeighbor {
                input: x,
                output: out,
                align_corners,
                half_pixel_centers,
            }
        } else {
            OpSpec::ResizeBilinear {
                input: x,
                output: out,
                align_corners,
                half_pixel_centers,
            }
        };
        round_trip(&finish_graph(g, spec, out));
    }
}

#[test]
fn elementwise_activations() {
    let out_q = q(1.0 / 256.0, -128);
    for k in 0..6 {
        let (mut g, x) = with_input(&[1, 2, 2, 5], q(0.07, 3));
        let oq = if k < 3 { out_q.clone() } else { q(0.05, -7) };
        let out = g.add_activation("y", &[1, 2, 2, 5], DType::Int8, oq);
        let (input, output) = (x, out);
        let spec = match k {
            0 => OpSpec::Logistic { input, output },
            1 => OpSpec::Softmax {
                input,
                output,
                beta: 1.0,
            },
            2 => OpSpec::Softmax {
                input,
                output,
                beta: 0.37,
            },
            3 => OpSpec::HardSwish { input, output },
            4 => OpSpec::LeakyRelu {
                input,
                output,
                alpha: 0.1,
            },
            _ => OpSpec::LeakyRelu {
                input,
                output,
                alpha: 0.2,
            },
        };
        round_trip(&finish_graph(g, spec, out));
    }
}

#[test]
fn quantize_and_dequantize() {
    let mut g = Graph::new();
    let x = g.add_activation("x", &[1, 4], DType::Float32, Quantization::None);
    g.inputs = vec![x];
    let y = g.add_activation("y", &[1, 4], DType::Int8, q(0.05, 3));
    append_op(
        &mut g,
        &OpSpec::Quantize {
            input: x,
            output: y,
        },
    )
    .unwrap();
    let z = g.add_activation("z", &[1, 4], DType::Int8, q(0.1, -2));
    append_op(
        &mut g,
        &OpSpec::Quantize {
            input: y,
            output: z,
        },
    )
    .unwrap();
    let f = g.add_activation("f", &[1, 4], DType::Float32, Quantization::None);
    append_op(
        &mut g,
        &OpSpec::Dequantize {
            input: z,
            output: f,
        },
    )
    .unwrap();
    g.outputs = vec![f];
    round_trip(&g);
}

#[test]
fn head_kind_travels_in_metadata() {
    for head in [Head::Segmentation, Head::Density] {
        let (mut g, x) = with_input(&[1, 2, 2, 3], q(0.05, -3));
        let out = g.add_activation("y", &[1, 12], DType::Int8, q(0.05, -3));
        let spec = OpSpec::Reshape {
            input: x,
            output: out,
        };
        let mut g = finish_graph(g, spec, out);
        g.head = head;
        let bytes = round_trip(&g);
        let m = Model::read(&bytes).unwrap();
        assert_eq!(m.metadata.len(), 1);
        assert_eq!(m.metadata[0].0, schema::HEAD_METADATA);
    }
}

/// A conv graph whose op can then be tampered with.
fn small_conv() -> Graph {
    let (mut g, x) = with_input(&[1, 4, 4, 2], q(0.05, 0));
    let out = g.add_activation("y", &[1, 4, 4, 3], DType::Int8, q(0.1, 0));
    let w = weights(&mut g, &[3, 3, 3, 2], q(0.02, 0));
    let spec = OpSpec::Conv2d {
        input: x,
        filter: w,
        filter_scales: vec![0.02],
        bias: None,
        output: out,
        window: window(Padding::Same, 1, 1, 3),
        fused: Fused::None,
    };
    finish_graph(g, spec, out)
}

fn write_error(g: &Graph) -> String {
    match write(g) {
        Ok(_) => panic!("write unexpectedly succeeded"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn relu_n1_to_1_is_written() {
    use mote_core::kernels::{conv2d, Activation as KAct, Quant, Shape4};
    let mut g = small_conv();
    let opts = conv2d::Options {
        padding: mote_core::kernels::Padding::Same,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        activation: KAct::ReluN1To1,
    };
    let (p, _) = conv2d::prepare(
        &opts,
        Shape4::new(1, 4, 4, 2),
        Shape4::new(3, 3, 3, 2),
        Quant::new(0.05, 0),
        Quant::new(0.1, 0),
    )
    .unwrap();
    let mut words = Vec::new();
    p.encode(&mut |w| words.push(w));
    g.ops[0].params = words;
    let bytes = write(&g).unwrap();
    let m = Model::read(&bytes).unwrap();
    let BuiltinOptions::Conv2D(o) = &m.subgraphs[0].operators[0].options else {
        panic!()
    };
    assert_eq!(o.activation, Activation::RELU_N1_TO_1);
}

#[test]
fn what_tflite_cannot_express_is_an_error() {
    // A fused op.
    let mut g = small_conv();
    g.ops[0].code = OpCode::Conv2dFused;
    assert!(write_error(&g).contains("CONV_2D_FUSED"));

    // An activation clamp that no TFLite fused activation gives.
    let mut g = small_conv();
    let n = g.ops[0].params.len();
    g.ops[0].params[n - 1] = 100;
    assert!(
        write_error(&g).contains("fused activation"),
        "{}",
        write_error(&g)
    );

    // Multipliers that are not what the scales give.
    let mut g = small_conv();
    let m = g.ops[0].inputs[3];
    if let Some(d) = g.tensors[m].data.as_mut() {
        d[0] ^= 1;
    }
    assert!(write_error(&g).contains("multipliers"));

    // Missing inputs, bad ids, garbage words: errors, never panics.
    let mut g = small_conv();
    g.ops[0].inputs.pop();
    assert!(write_error(&g).contains("inputs"));
    let mut g = small_conv();
    g.ops[0].params = vec![i32::MIN; 3];
    write_error(&g);
    let mut g = small_conv();
    g.outputs = vec![999];
    write_error(&g);
}

#[test]
fn mutated_graphs_never_panic() {
    let mut graphs = Vec::new();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tflite") {
            graphs.push(import(&std::fs::read(&path).unwrap()).unwrap());
        }
    }
    graphs.push(small_conv());
    let mut state = 0x9e37_79b9_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as usize
    };
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..3000 {
        let mut g = graphs[next() % graphs.len()].clone();
        let k = next() % g.ops.len();
        match next() % 5 {
            0 if !g.ops[k].params.is_empty() => {
                let n = g.ops[k].params.len();
                g.ops[k].params[next() % n] = next() as i32 % 300 - 150;
            }
            1 => {
                let t = g.ops[k].inputs[0];
                let rank = g.tensors[t].shape.len();
                if rank > 0 {
                    g.tensors[t].shape[next() % rank] = next() % 5;
                }
            }
            2 => {
                let t = g.ops[k].outputs[0];
                g.tensors[t].quant = q(0.01 * (next() % 7) as f32, next() as i32 % 300 - 150);
            }
            3 => {
                g.ops[k].params.truncate(next() % 4);
            }
            _ => {
                let n = g.ops[k].inputs.len();
                g.ops[k].inputs.truncate(next() % (n + 1));
            }
        }
        match write(&g) {
            Ok(_) => ok += 1,
            Err(_) => refused += 1,
        }
    }
    // Most mutations make a model TFLite cannot express the same way.
    assert!(refused > ok, "{refused} refused, {ok} written");
}
