//! The host-side model graph: what the `.tflite` importer and the training
//! exporter fill in, and what the memory planner and blob writer consume.
//!
//! It is deliberately close to the blob: tensors carry their quantization and
//! (for weights) their bytes, and every op already carries its kernel's
//! encoded parameter words (`mote_core::kernels::<op>::Params::encode`), so
//! everything that needs floating point (multipliers, shifts) has been
//! computed on the host by the kernels' prepare constructors before a graph
//! exists. Per-channel multipliers and shifts are int32 constant tensors that
//! the op lists among its inputs (see `core/FORMAT.md` §4 for each op's
//! input order).
use anyhow::{bail, ensure, Result};
pub use mote_core::format::{DType, Head, OpCode};

/// Index of a tensor in [`Graph::tensors`].
pub type TensorId = usize;

/// How a tensor's integers map to real numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantization {
    /// Plain numbers (float32 tensors, or int32 tensors of precomputed words).
    None,
    /// `real = scale * (q - zero_point)`.
    PerTensor { scale: f32, zero_point: i32 },
    /// One scale per slice along `axis` (`scales.len() == shape[axis]`), zero
    /// point 0 for every channel, as the TFLite int8 spec requires of weights.
    PerChannel { axis: usize, scales: Vec<f32> },
}

impl Quantization {
    /// Per-tensor scale, or `None` for unquantized / per-channel tensors.
    pub fn scale(&self) -> Option<f32> {
        match self {
            Quantization::PerTensor { scale, .. } => Some(*scale),
            _ => None,
        }
    }

    /// Zero point (0 for per-channel and unquantized tensors).
    pub fn zero_point(&self) -> i32 {
        match self {
            Quantization::PerTensor { zero_point, .. } => *zero_point,
            _ => 0,
        }
    }
}

/// One tensor: an activation (lives in the arena) or a constant (in the blob).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Name for humans (`inspect`, error messages); not stored in the blob.
    pub name: String,
    /// Dimensions, outermost first (NHWC for 4-D), at most 4 of them.
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub quant: Quantization,
    /// Little-endian element bytes for constants; `None` for activations.
    pub data: Option<Vec<u8>>,
}

impl Tensor {
    /// Number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of the element bytes.
    pub fn byte_len(&self) -> usize {
        self.len() * self.dtype.size()
    }

    /// Whether the tensor is constant data (weights, bias, multipliers).
    pub fn is_constant(&self) -> bool {
        self.data.is_some()
    }
}

/// One operator application.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub code: OpCode,
    /// Input tensors in the order of `core/FORMAT.md` §4 (e.g. CONV_2D: data,
    /// filter, bias, multiplier, shift).
    pub inputs: Vec<TensorId>,
    /// Output tensors (every supported op has exactly one).
    pub outputs: Vec<TensorId>,
    /// The kernel's encoded `Params` words.
    pub params: Vec<i32>,
}

/// A whole model: tensors, ops in execution order, graph inputs and outputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub tensors: Vec<Tensor>,
    pub ops: Vec<Op>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// What output 0 means (segmentation logits, a density map, or nothing
    /// declared); written to the blob's directory so tools and firmware can
    /// post-process without being told.
    pub head: Head,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds an activation tensor (no data) and returns its id.
    pub fn add_activation(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        dtype: DType,
        quant: Quantization,
    ) -> TensorId {
        self.tensors.push(Tensor {
            name: name.into(),
            shape: shape.to_vec(),
            dtype,
            quant,
            data: None,
        });
        self.tensors.len() - 1
    }

    /// Adds a constant tensor from its little-endian bytes and returns its id.
    pub fn add_constant(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        dtype: DType,
        quant: Quantization,
        data: Vec<u8>,
    ) -> TensorId {
        self.tensors.push(Tensor {
            name: name.into(),
            shape: shape.to_vec(),
            dtype,
            quant,
            data: Some(data),
        });
        self.tensors.len() - 1
    }

    /// Adds an int8 constant.
    pub fn add_i8_constant(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        quant: Quantization,
        values: &[i8],
    ) -> TensorId {
        let data = values.iter().map(|&v| v as u8).collect();
        self.add_constant(name, shape, DType::Int8, quant, data)
    }

    /// Adds an int32 constant (bias, per-channel multipliers or shifts).
    pub fn add_i32_constant(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        quant: Quantization,
        values: &[i32],
    ) -> TensorId {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_constant(name, shape, DType::Int32, quant, data)
    }

    /// Appends an op (execution order is insertion order).
    pub fn add_op(
        &mut self,
        code: OpCode,
        inputs: &[TensorId],
        outputs: &[TensorId],
        params: Vec<i32>,
    ) {
        self.ops.push(Op {
            code,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            params,
        });
    }

    /// Removes tensors no op and no graph input/output refers to (TFLite
    /// files often carry some), renumbering the rest. Returns, for each old
    /// id, its new id.
    pub fn prune(&mut self) -> Vec<Option<TensorId>> {
        let mut used = vec![false; self.tensors.len()];
        let refs = self
            .ops
            .iter()
            .flat_map(|op| op.inputs.iter().chain(&op.outputs))
            .chain(&self.inputs)
            .chain(&self.outputs);
        for &t in refs {
            if let Some(u) = used.get_mut(t) {
                *u = true;
            }
        }
        let mut map = vec![None; self.tensors.len()];
        let mut next = 0;
        for (old, &u) in used.iter().enumerate() {
            if u {
                map[old] = Some(next);
                next += 1;
            }
        }
        let old = std::mem::take(&mut self.tensors);
        self.tensors = old
            .into_iter()
            .zip(&used)
            .filter_map(|(t, &u)| u.then_some(t))
            .collect();
        let remap = |ids: &mut Vec<TensorId>| {
            for id in ids.iter_mut() {
                *id = map[*id].unwrap_or(*id);
            }
        };
        for op in &mut self.ops {
            remap(&mut op.inputs);
            remap(&mut op.outputs);
        }
        remap(&mut self.inputs);
        remap(&mut self.outputs);
        map
    }

    /// Renumbers the tensors: activations first, then constants, each in the
    /// order the graph first refers to them (graph inputs, then every op's
    /// inputs and outputs in op order, then graph outputs); tensors nothing
    /// refers to go last, in their old order. Returns, for each old id, its
    /// new id.
    ///
    /// The training exporter builds its graphs in exactly this order (the
    /// network's activations, then each layer's weights, bias, multipliers
    /// and shifts), while the `.tflite` importer creates tensors as ops meet
    /// them; renumbering an imported graph this way gives back the
    /// exporter's graph, and so the same blob bytes.
    pub fn reorder_activations_first(&mut self) -> Vec<TensorId> {
        let n = self.tensors.len();
        let mut seen = vec![false; n];
        let mut order = Vec::with_capacity(n);
        let refs = self
            .inputs
            .iter()
            .chain(
                self.ops
                    .iter()
                    .flat_map(|op| op.inputs.iter().chain(&op.outputs)),
            )
            .chain(&self.outputs);
        for &t in refs {
            if let Some(s) = seen.get_mut(t).filter(|s| !**s) {
                *s = true;
                order.push(t);
            }
        }
        let is_constant = |t: &TensorId| self.tensors[*t].is_constant();
        let mut sorted: Vec<TensorId> = order.iter().copied().filter(|t| !is_constant(t)).collect();
        sorted.extend(order.iter().copied().filter(is_constant));
        sorted.extend((0..n).filter(|&t| !seen[t]));
        let mut map = vec![0; n];
        for (new, &old) in sorted.iter().enumerate() {
            map[old] = new;
        }
        let mut old: Vec<Option<Tensor>> = std::mem::take(&mut self.tensors)
            .into_iter()
            .map(Some)
            .collect();
        self.tensors = sorted.iter().filter_map(|&t| old[t].take()).collect();
        let remap = |ids: &mut Vec<TensorId>| {
            for id in ids.iter_mut() {
                *id = map.get(*id).copied().unwrap_or(*id);
            }
        };
        for op in &mut self.ops {
            remap(&mut op.inputs);
            remap(&mut op.outputs);
        }
        remap(&mut self.inputs);
        remap(&mut self.outputs);
        map
    }

    /// The op that writes `tensor`, if any.
    pub fn producer(&self, tensor: TensorId) -> Option<usize> {
        self.ops.iter().position(|op| op.outputs.contains(&tensor))
    }

    /// Structural checks a writer relies on: ids in range, shapes at most 4-D,
    /// constant byte sizes, quantization axes, and that every activation an op
    /// reads is a graph input or was written by an earlier op. The blob parser
    /// in `mote-core` checks all of this again (and the op parameters); this
    /// gives host-side errors with tensor names instead.
    pub fn check(&self) -> Result<()> {
        let n = self.tensors.len();
        for (id, t) in self.tensors.iter().enumerate() {
            ensure!(
                t.shape.len() <= 4,
                "tensor {id} {:?}: rank {} > 4",
                t.name,
                t.shape.len()
            );
            if let Some(data) = &t.data {
                ensure!(
                    data.len() == t.byte_len(),
                    "tensor {id} {:?}: {} data bytes for shape {:?} {}",
                    t.name,
                    data.len(),
                    t.shape,
                    t.dtype.name()
                );
            }
            if let Quantization::PerChannel { axis, scales } = &t.quant {
                ensure!(
                    t.shape.get(*axis) == Some(&scales.len()),
                    "tensor {id} {:?}: {} per-channel scales on axis {axis} of {:?}",
                    t.name,
                    scales.len(),
                    t.shape
                );
            }
        }
        let mut written = vec![false; n];
        for &i in &self.inputs {
            ensure!(i < n, "graph input {i} out of range");
            ensure!(
                !self.tensors[i].is_constant(),
                "graph input {:?} is constant",
                self.tensors[i].name
            );
            written[i] = true;
        }
        for (k, op) in self.ops.iter().enumerate() {
            for &i in &op.inputs {
                ensure!(i < n, "op {k} {}: input {i} out of range", op.code.name());
                let t = &self.tensors[i];
                ensure!(
                    t.is_constant() || written[i],
                    "op {k} {}: reads {:?} before it is written",
                    op.code.name(),
                    t.name
                );
            }
            for &o in &op.outputs {
                ensure!(o < n, "op {k} {}: output {o} out of range", op.code.name());
                let t = &self.tensors[o];
                ensure!(
                    !t.is_constant(),
                    "op {k} {}: writes constant {:?}",
                    op.code.name(),
                    t.name
                );
                if written[o] {
                    bail!("op {k} {}: {:?} is written twice", op.code.name(), t.name);
                }
                written[o] = true;
            }
        }
        for &o in &self.outputs {
            ensure!(o < n, "graph output {o} out of range");
            ensure!(
                written[o],
                "graph output {:?} is never written",
                self.tensors[o].name
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> Quantization {
        Quantization::PerTensor {
            scale: 0.1,
            zero_point: 0,
        }
    }

    #[test]
    fn check_finds_order_and_shape_mistakes() {
        let mut g = Graph::new();
        let x = g.add_activation("x", &[1, 4], DType::Int8, q());
        let y = g.add_activation("y", &[4], DType::Int8, q());
        let z = g.add_activation("z", &[4], DType::Int8, q());
        g.inputs = vec![x];
        g.outputs = vec![z];
        // z is read before anything writes it.
        g.add_op(OpCode::Reshape, &[z], &[y], vec![]);
        g.add_op(OpCode::Reshape, &[y], &[z], vec![]);
        let e = g.check().unwrap_err().to_string();
        assert!(e.contains("before it is written"), "{e}");
        // Fixed order, but y written twice.
        g.ops[0].inputs = vec![x];
        g.ops[1].outputs = vec![y];
        let e = g.check().unwrap_err().to_string();
        assert!(e.contains("written twice"), "{e}");
        g.ops[1].outputs = vec![z];
        g.check().unwrap();
        // A constant whose bytes do not match its shape.
        g.add_constant("c", &[3], DType::Int32, Quantization::None, vec![0; 11]);
        let e = g.check().unwrap_err().to_string();
        assert!(e.contains("11 data bytes"), "{e}");
    }

    #[test]
    fn reorder_puts_activations_first_in_use_order() {
        let mut g = Graph::new();
        let w = g.add_i8_constant("w", &[2], q(), &[1, 2]);
        let y = g.add_activation("y", &[2], DType::Int8, q());
        let unused = g.add_activation("unused", &[1], DType::Int8, q());
        let x = g.add_activation("x", &[2], DType::Int8, q());
        g.add_op(OpCode::Add, &[x, w], &[y], vec![]);
        g.inputs = vec![x];
        g.outputs = vec![y];
        let map = g.reorder_activations_first();
        assert_eq!(map, vec![2, 1, 3, 0]);
        let names: Vec<&str> = g.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["x", "y", "w", "unused"]);
        assert_eq!(g.ops[0].inputs, vec![0, 2]);
        assert_eq!((g.inputs.clone(), g.outputs.clone()), (vec![0], vec![1]));
        let _ = unused;
        // Already in order: nothing moves.
        let before = g.clone();
        assert_eq!(g.reorder_activations_first(), vec![0, 1, 2, 3]);
        assert_eq!(g, before);
    }

    #[test]
    fn prune_drops_unreferenced_tensors_and_renumbers() {
        let mut g = Graph::new();
        let _unused = g.add_activation("unused", &[2], DType::Int8, q());
        let x = g.add_activation("x", &[4], DType::Int8, q());
        let y = g.add_activation("y", &[4], DType::Int8, q());
        g.add_op(OpCode::Reshape, &[x], &[y], vec![]);
        g.inputs = vec![x];
        g.outputs = vec![y];
        assert_eq!(g.prune(), vec![None, Some(0), Some(1)]);
        assert_eq!(g.ops[0].inputs, vec![0]);
        assert_eq!(g.ops[0].outputs, vec![1]);
        assert_eq!((g.inputs.clone(), g.outputs.clone()), (vec![0], vec![1]));
        g.check().unwrap();
    }
}
