//! Test-only: a tiny FlatBuffers writer and a builder of small TFLite models,
//! so the importer's error paths can be tested on hand-made files.
//!
//! Children are written after their parents (FlatBuffers offsets are
//! unsigned and point forward); every vtable sits right before its table.

/// A field value.
pub enum F {
    I8(i8),
    U8(u8),
    I32(i32),
    U32(u32),
    Table(T),
    I32s(Vec<i32>),
    F32s(Vec<f32>),
    I64s(Vec<i64>),
    Bytes(Vec<u8>),
    Tables(Vec<T>),
    Str(String),
}

/// A table: `(slot, value)` pairs.
#[derive(Default)]
pub struct T(pub Vec<(usize, F)>);

impl T {
    pub fn with(mut self, slot: usize, f: F) -> T {
        self.0.push((slot, f));
        self
    }
}

fn align(buf: &mut Vec<u8>, a: usize) {
    while buf.len() % a != 0 {
        buf.push(0);
    }
}

fn patch(buf: &mut [u8], at: usize, target: usize) {
    let rel = (target - at) as u32;
    buf[at..at + 4].copy_from_slice(&rel.to_le_bytes());
}

/// Writes `t`, returns its position.
fn write_table(buf: &mut Vec<u8>, t: &T) -> usize {
    let max_slot = t.0.iter().map(|(s, _)| *s + 1).max().unwrap_or(0);
    let vt_len = 4 + 2 * max_slot;
    let table_len = 4 + 4 * t.0.len();
    align(buf, 4);
    if (buf.len() + vt_len) % 4 != 0 {
        buf.extend_from_slice(&[0, 0]);
    }
    let vt = buf.len();
    let mut vtable = vec![0u16; max_slot + 2];
    vtable[0] = vt_len as u16;
    vtable[1] = table_len as u16;
    for (k, (slot, _)) in t.0.iter().enumerate() {
        vtable[2 + slot] = (4 + 4 * k) as u16;
    }
    for v in &vtable {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    let pos = buf.len();
    buf.extend_from_slice(&((pos - vt) as i32).to_le_bytes());
    let mut deferred = Vec::new();
    for (_, f) in &t.0 {
        let at = buf.len();
        match f {
            F::I8(v) => buf.extend_from_slice(&[*v as u8, 0, 0, 0]),
            F::U8(v) => buf.extend_from_slice(&[*v, 0, 0, 0]),
            F::I32(v) => buf.extend_from_slice(&v.to_le_bytes()),
            F::U32(v) => buf.extend_from_slice(&v.to_le_bytes()),
            _ => {
                buf.extend_from_slice(&[0; 4]);
                deferred.push((at, f));
            }
        }
    }
    for (at, f) in deferred {
        let target = write_child(buf, f);
        patch(buf, at, target);
    }
    pos
}

fn write_child(buf: &mut Vec<u8>, f: &F) -> usize {
    align(buf, 4);
    let start = buf.len();
    let scalars = |buf: &mut Vec<u8>, n: usize, bytes: Vec<u8>| {
        buf.extend_from_slice(&(n as u32).to_le_bytes());
        buf.extend_from_slice(&bytes);
    };
    match f {
        F::Table(t) => return write_table(buf, t),
        F::I32s(v) => scalars(
            buf,
            v.len(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        F::F32s(v) => scalars(
            buf,
            v.len(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        F::I64s(v) => {
            // Align the elements to 8.
            if (buf.len() + 4) % 8 != 0 {
                buf.extend_from_slice(&[0; 4]);
            }
            let s = buf.len();
            scalars(
                buf,
                v.len(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            );
            return s;
        }
        F::Bytes(v) => scalars(buf, v.len(), v.clone()),
        F::Str(s) => {
            scalars(buf, s.len(), s.as_bytes().to_vec());
            buf.push(0);
        }
        F::Tables(ts) => {
            buf.extend_from_slice(&(ts.len() as u32).to_le_bytes());
            let first = buf.len();
            buf.extend_from_slice(&vec![0; 4 * ts.len()]);
            for (i, t) in ts.iter().enumerate() {
                let p = write_table(buf, t);
                patch(buf, first + 4 * i, p);
            }
        }
        _ => unreachable!("scalars are written inline"),
    }
    start
}

/// Serializes a root table with the TFLite file identifier.
pub fn finish(root: &T) -> Vec<u8> {
    let mut buf = vec![0u8; 4];
    buf.extend_from_slice(b"TFL3");
    let pos = write_table(&mut buf, root);
    buf[0..4].copy_from_slice(&(pos as u32).to_le_bytes());
    buf
}

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
    finish(&root)
}
