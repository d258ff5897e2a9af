//! Importer tests on hand-built `.tflite` files: unsupported ops, versions,
//! options and types are reported by name; malformed files are errors.

use super::schema::{op, Model, TensorType};
use super::testbuild::{model, Op, Tensor, F, T};

/// `[1,4,4,2] --CONV_2D 3x3 SAME (3 filters)--> [1,4,4,3]`, with knobs.
struct ConvCase {
    activation: i8,
    version: i32,
    batch: i32,
    weight_axis: i32,
    input_dtype: i8,
}

impl Default for ConvCase {
    fn default() -> Self {
        ConvCase {
            activation: 0,
            version: 3,
            batch: 1,
            weight_axis: 0,
            input_dtype: 9,
        }
    }
}

fn conv_model(c: ConvCase) -> Vec<u8> {
    let mut input = Tensor::act(&[c.batch, 4, 4, 2]);
    input.dtype = c.input_dtype;
    let weights = Tensor {
        shape: vec![3, 3, 3, 2],
        dtype: 9,
        scales: vec![0.01, 0.02, 0.03],
        zero_points: vec![0, 0, 0],
        quantized_dimension: c.weight_axis,
        data: (0..54).map(|i| (i * 7 % 255) as u8).collect(),
    };
    let bias = Tensor {
        shape: vec![3],
        dtype: 2,
        scales: vec![0.001, 0.002, 0.003],
        zero_points: vec![0, 0, 0],
        quantized_dimension: 0,
        data: [5i32, -7, 100]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    };
    let output = Tensor::act(&[c.batch, 4, 4, 3]);
    let options = T::default()
        .with(0, F::I8(0)) // SAME
        .with(1, F::I32(1))
        .with(2, F::I32(1))
        .with(3, F::I8(c.activation));
    model(
        vec![input, weights, bias, output],
        vec![Op {
            code: op::CONV_2D,
            version: c.version,
            inputs: vec![0, 1, 2],
            outputs: vec![3],
            options: Some((1, options)),
        }],
        vec![0],
        vec![3],
    )
}

fn import_error(bytes: &[u8]) -> String {
    match super::import(bytes) {
        Ok(_) => panic!("import unexpectedly succeeded"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn hand_built_model_reads_back() {
    let bytes = conv_model(ConvCase::default());
    let m = Model::read(&bytes).unwrap();
    assert_eq!(m.version, 3);
    assert_eq!(m.operator_codes[0].builtin, op::CONV_2D);
    assert_eq!(m.operator_codes[0].version, 3);
    let sg = &m.subgraphs[0];
    assert_eq!(sg.tensors.len(), 4);
    assert_eq!(sg.tensors[1].shape, vec![3, 3, 3, 2]);
    assert_eq!(sg.tensors[2].dtype, TensorType::Int32);
    let q = sg.tensors[1].quantization.as_ref().unwrap();
    assert_eq!(q.scale, vec![0.01, 0.02, 0.03]);
    assert_eq!(q.zero_point, vec![0, 0, 0]);
    assert_eq!(m.buffers[sg.tensors[2].buffer as usize].len(), 12);
    assert_eq!(sg.operators[0].inputs, vec![0, 1, 2]);
}

#[test]
fn unsupported_op_is_named() {
    // TANH (28) on int8.
    let bytes = model(
        vec![Tensor::act(&[1, 2, 2, 1]), Tensor::act(&[1, 2, 2, 1])],
        vec![Op {
            code: 28,
            version: 2,
            inputs: vec![0],
            outputs: vec![1],
            options: None,
        }],
        vec![0],
        vec![1],
    );
    let e = import_error(&bytes);
    assert!(e.contains("op #0 TANH"), "{e}");
    assert!(e.contains("not supported"), "{e}");

    // A code above 127 (BATCH_MATMUL = 126 fits; use 150 = GELU).
    let bytes = model(
        vec![Tensor::act(&[1, 2, 2, 1]), Tensor::act(&[1, 2, 2, 1])],
        vec![Op {
            code: 150,
            version: 1,
            inputs: vec![0],
            outputs: vec![1],
            options: None,
        }],
        vec![0],
        vec![1],
    );
    let e = import_error(&bytes);
    assert!(e.contains("GELU"), "{e}");
}

#[test]
fn fused_tanh_is_named() {
    let e = import_error(&conv_model(ConvCase {
        activation: 4,
        ..ConvCase::default()
    }));
    assert!(e.contains("CONV_2D") && e.contains("TANH"), "{e}");
}

#[test]
fn unsupported_version_is_named() {
    let e = import_error(&conv_model(ConvCase {
        version: 99,
        ..ConvCase::default()
    }));
    assert!(e.contains("CONV_2D") && e.contains("version 99"), "{e}");
}

#[test]
fn batch_two_is_rejected() {
    let e = import_error(&conv_model(ConvCase {
        batch: 2,
        ..ConvCase::default()
    }));
    assert!(e.contains("batch 2"), "{e}");
}

#[test]
fn per_channel_on_wrong_axis_is_rejected() {
    let e = import_error(&conv_model(ConvCase {
        weight_axis: 3,
        ..ConvCase::default()
    }));
    assert!(e.contains("CONV_2D") && e.contains("axis 3"), "{e}");
}

#[test]
fn float_activation_in_conv_is_rejected() {
    let e = import_error(&conv_model(ConvCase {
        input_dtype: 0,
        ..ConvCase::default()
    }));
    assert!(e.contains("FLOAT32"), "{e}");
}

#[test]
fn truncated_and_corrupted_files_are_errors() {
    let bytes = conv_model(ConvCase::default());
    // The builder writes children after parents and the last bytes are the
    // bias data, so every proper prefix loses something the reader needs.
    for len in 0..bytes.len() {
        assert!(
            super::import(&bytes[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    let mut state = 0x9E37_79B9u32;
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let i = state as usize % b.len();
            b[i] ^= (state >> 8) as u8 | 1;
        }
        let _ = super::import(&b);
    }
}

#[test]
fn pool_with_requantization_is_rejected() {
    let mut output = Tensor::act(&[1, 2, 2, 1]);
    output.scales = vec![0.2];
    let options = T::default()
        .with(0, F::I8(1)) // VALID
        .with(1, F::I32(2))
        .with(2, F::I32(2))
        .with(3, F::I32(2))
        .with(4, F::I32(2));
    let bytes = model(
        vec![Tensor::act(&[1, 4, 4, 1]), output],
        vec![Op {
            code: op::MAX_POOL_2D,
            version: 2,
            inputs: vec![0],
            outputs: vec![1],
            options: Some((5, options)),
        }],
        vec![0],
        vec![1],
    );
    let e = import_error(&bytes);
    assert!(e.contains("MAX_POOL_2D") && e.contains("must agree"), "{e}");
}

#[test]
fn hand_built_conv_imports_with_kernel_params() {
    let g = super::import(&conv_model(ConvCase::default())).unwrap();
    assert_eq!(g.ops.len(), 1);
    let conv = &g.ops[0];
    assert_eq!(conv.code, crate::graph::OpCode::Conv2d);
    // data, filter, bias, multipliers, shifts
    assert_eq!(conv.inputs.len(), 5);
    let shifts = &g.tensors[conv.inputs[4]];
    assert_eq!(shifts.shape, vec![3]);
    // stride 1, dilation 1, SAME 3x3 padding 1, input offset 0, output offset 0.
    assert_eq!(&conv.params[..6], &[1, 1, 1, 1, 1, 1]);
    assert_eq!(&conv.params[6..8], &[0, 0]);
}
