//! Test-only: a builder of small TFLite models on the FlatBuffers writer
//! ([`super::flatbuild`]), so the importer's error paths can be tested on
//! hand-made files (deliberately free to write what the `.tflite` writer
//! never would: wrong axes, versions, types).

pub use super::flatbuild::{F, T};

/// A tensor description for [`model`].
pub struct Tensor {
    pub shape: Vec<i32>,
    /// TFLite TensorType code.
    pub dtype: i8,
    /// Per-tensor or per-channel scales (empty: not quantized).
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    pub quantized_dimension: i32,
    /// Constant data (empty: an activation).
    pub data: Vec<u8>,
}

impl Tensor {
    /// An int8 activation with scale 0.1 and zero point 0.
    pub fn act(shape: &[i32]) -> Tensor {
        Tensor {
            shape: shape.to_vec(),
            dtype: 9,
            scales: vec![0.1],
            zero_points: vec![0],
            quantized_dimension: 0,
            data: vec![],
        }
    }
}

/// An operator for [`model`]: builtin code, version, inputs, outputs, and
/// options as (union tag, table).
pub struct Op {
    pub code: i32,
    pub version: i32,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub options: Option<(u8, T)>,
}

/// A one-subgraph model.
pub fn model(tensors: Vec<Tensor>, ops: Vec<Op>, inputs: Vec<i32>, outputs: Vec<i32>) -> Vec<u8> {
    let mut buffers = vec![T::default()];
    let mut tensor_tables = Vec::new();
    for t in tensors {
        let mut buffer = 0u32;
        if !t.data.is_empty() {
            buffer = buffers.len() as u32;
            buffers.push(T::default().with(0, F::Bytes(t.data)));
        }
        let mut q = T::default();
        if !t.scales.is_empty() {
            q = q
                .with(2, F::F32s(t.scales))
                .with(3, F::I64s(t.zero_points))
                .with(6, F::I32(t.quantized_dimension));
        }
        tensor_tables.push(
            T::default()
                .with(0, F::I32s(t.shape))
                .with(1, F::I8(t.dtype))
                .with(2, F::U32(buffer))
                .with(3, F::Str("t".into()))
                .with(4, F::Table(q)),
        );
    }
    let mut codes: Vec<(i32, i32)> = Vec::new();
    let mut op_tables = Vec::new();
    for op in ops {
        let idx = match codes.iter().position(|c| *c == (op.code, op.version)) {
            Some(i) => i,
            None => {
                codes.push((op.code, op.version));
                codes.len() - 1
            }
        };
        let mut t = T::default()
            .with(0, F::U32(idx as u32))
            .with(1, F::I32s(op.inputs))
            .with(2, F::I32s(op.outputs));
        if let Some((tag, options)) = op.options {
            t = t.with(3, F::U8(tag)).with(4, F::Table(options));
        }
        op_tables.push(t);
    }
    let code_tables = codes
        .into_iter()
        .map(|(c, v)| {
            T::default()
                .with(0, F::I8(c.min(127) as i8))
                .with(2, F::I32(v))
                .with(3, F::I32(c))
        })
        .collect();
    let subgraph = T::default()
        .with(0, F::Tables(tensor_tables))
        .with(1, F::I32s(inputs))
        .with(2, F::I32s(outputs))
        .with(3, F::Tables(op_tables));
    let root = T::default()
        .with(0, F::U32(3))
        .with(1, F::Tables(code_tables))
        .with(2, F::Tables(vec![subgraph]))
        .with(4, F::Tables(buffers));
    super::flatbuild::finish(&root, super::schema::FILE_IDENTIFIER).expect("a small model")
}
