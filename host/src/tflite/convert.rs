//! TFLite subgraph → mote [`Graph`]: tensor mapping and the checks every op
//! shares (types, quantization, batch 1, constants). Per-op work is in
//! [`super::ops`].

use anyhow::{anyhow, bail, ensure, Context, Result};

use super::schema::{self, Model, Operator, SubGraph, TensorType};
use crate::graph::{DType, Graph, Head, Quantization, TensorId};

/// The largest dimension mote's kernels accept.
const MAX_DIM: usize = mote_core::kernels::MAX_DIM;
/// The largest tensor the importer accepts (elements): far above anything
/// a microcontroller runs, low enough that a hostile shape cannot make the
/// host allocate without bound.
const MAX_ELEMENTS: usize = 1 << 28;

/// Converts a decoded model's first subgraph into a mote graph. Every
/// unsupported feature is an error naming the op (and option) here, at host
/// time, so nothing is discovered on the device.
pub fn convert(model: &Model<'_>) -> Result<(Graph, Vec<Option<TensorId>>)> {
    ensure!(
        model.subgraphs.len() == 1,
        "the model has {} subgraphs; mote imports single-subgraph models only",
        model.subgraphs.len()
    );
    let sg = &model.subgraphs[0];
    let mut cx = Converter {
        model,
        sg,
        graph: Graph::new(),
        ids: vec![None; sg.tensors.len()],
    };
    for &i in &sg.inputs {
        let t = cx.tensor(i)?;
        ensure!(
            !cx.is_constant(i)?,
            "graph input {:?} has constant data",
            t.name
        );
        let dtype = match t.dtype {
            TensorType::Int8 => DType::Int8,
            TensorType::Float32 => DType::Float32,
            other => bail!(
                "graph input {:?} is {}; mote takes int8 or float32 inputs",
                t.name,
                other.name()
            ),
        };
        let id = cx.activation(i, dtype)?;
        cx.graph.inputs.push(id);
    }
    for (k, op) in sg.operators.iter().enumerate() {
        let code = model
            .operator_codes
            .get(op.opcode_index as usize)
            .ok_or_else(|| anyhow!("op #{k}: opcode index {} out of range", op.opcode_index))?;
        let name = if code.builtin == schema::op::CUSTOM {
            format!(
                "CUSTOM ({})",
                code.custom_code.as_deref().unwrap_or("unnamed")
            )
        } else {
            schema::builtin_name(code.builtin)
        };
        super::ops::convert_op(&mut cx, code.builtin, code.version, op)
            .with_context(|| format!("op #{k} {name} (version {})", code.version))?;
    }
    for &o in &sg.outputs {
        let id = cx
            .ids
            .get(usize::try_from(o).unwrap_or(usize::MAX))
            .copied()
            .flatten();
        let Some(id) = id else {
            bail!(
                "graph output {:?} is not written by any op",
                cx.tensor(o).map(|t| t.name.as_str()).unwrap_or("?")
            );
        };
        cx.graph.outputs.push(id);
    }
    cx.graph.head = head(model)?;
    cx.graph.check()?;
    Ok((cx.graph, cx.ids))
}

/// The head kind recorded by mote's writer in the model's metadata
/// ([`schema::HEAD_METADATA`]); `Head::None` when absent (any other file).
fn head(model: &Model<'_>) -> Result<Head> {
    let Some((_, buffer)) = model
        .metadata
        .iter()
        .find(|(name, _)| name == schema::HEAD_METADATA)
    else {
        return Ok(Head::None);
    };
    let bytes = model.buffers.get(*buffer as usize).ok_or_else(|| {
        anyhow!(
            "metadata {}: buffer {buffer} out of range",
            schema::HEAD_METADATA
        )
    })?;
    Head::ALL
        .iter()
        .copied()
        .find(|h| h.name().as_bytes() == *bytes)
        .ok_or_else(|| {
            anyhow!(
                "metadata {} names an unknown head kind {:?}",
                schema::HEAD_METADATA,
                String::from_utf8_lossy(bytes)
            )
        })
}

/// Conversion state: the source subgraph and the graph being built.
pub struct Converter<'m, 'a> {
    model: &'m Model<'a>,
    sg: &'m SubGraph,
    pub graph: Graph,
    /// TFLite tensor index → graph tensor, once created.
    ids: Vec<Option<TensorId>>,
}

impl<'m, 'a> Converter<'m, 'a> {
    /// The TFLite tensor at `index` (checked).
    pub fn tensor(&self, index: i32) -> Result<&'m schema::Tensor> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.sg.tensors.get(i))
            .ok_or_else(|| anyhow!("tensor index {index} out of range"))
    }

    /// The constant bytes of a tensor (empty for activations).
    pub fn data(&self, index: i32) -> Result<&'a [u8]> {
        let t = self.tensor(index)?;
        self.model
            .buffers
            .get(t.buffer as usize)
            .copied()
            .ok_or_else(|| anyhow!("tensor {:?}: buffer {} out of range", t.name, t.buffer))
    }

    /// Whether a tensor holds constant data.
    pub fn is_constant(&self, index: i32) -> Result<bool> {
        Ok(!self.data(index)?.is_empty())
    }

    /// A tensor's shape as sizes, rank at most 4.
    pub fn shape(&self, index: i32) -> Result<Vec<usize>> {
        let t = self.tensor(index)?;
        ensure!(
            t.shape.len() <= 4,
            "tensor {:?} has rank {} (mote supports up to 4)",
            t.name,
            t.shape.len()
        );
        let shape = t
            .shape
            .iter()
            .map(|&d| {
                usize::try_from(d)
                    .ok()
                    .filter(|&d| d <= MAX_DIM)
                    .ok_or_else(|| {
                        anyhow!(
                            "tensor {:?} has dimension {d} (dynamic, negative, or above {MAX_DIM})",
                            t.name
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        ensure!(
            shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .is_some_and(|n| n <= MAX_ELEMENTS),
            "tensor {:?} of shape {shape:?} is too large",
            t.name
        );
        Ok(shape)
    }

    /// Per-tensor (scale, zero point) of an int8 tensor.
    pub fn per_tensor(&self, index: i32) -> Result<(f32, i32)> {
        let t = self.tensor(index)?;
        let q = t
            .quantization
            .as_ref()
            .filter(|q| !q.scale.is_empty())
            .ok_or_else(|| anyhow!("tensor {:?} is not quantized", t.name))?;
        ensure!(
            !q.has_details,
            "tensor {:?} uses custom quantization",
            t.name
        );
        ensure!(
            q.scale.len() == 1 && q.zero_point.len() <= 1,
            "tensor {:?} has {} scales where one per-tensor scale is required",
            t.name,
            q.scale.len()
        );
        let scale = q.scale[0];
        ensure!(
            scale.is_finite() && scale > 0.0,
            "tensor {:?} has scale {scale}",
            t.name
        );
        let zp = q.zero_point.first().copied().unwrap_or(0);
        ensure!(
            (-128..=127).contains(&zp),
            "tensor {:?} has int8 zero point {zp}",
            t.name
        );
        Ok((scale, zp as i32))
    }

    /// Common checks of every tensor the graph will hold.
    fn check_plain(&self, index: i32) -> Result<()> {
        let t = self.tensor(index)?;
        ensure!(!t.is_sparse, "tensor {:?} is sparse", t.name);
        ensure!(!t.is_variable, "tensor {:?} is a variable", t.name);
        Ok(())
    }

    /// The graph tensor for an activation (created on first use). int8
    /// activations must be per-tensor quantized and float32 ones not
    /// quantized; a leading dimension (batch) must be 1.
    pub fn activation(&mut self, index: i32, dtype: DType) -> Result<TensorId> {
        let t = self.tensor(index)?;
        self.check_plain(index)?;
        ensure!(
            !self.is_constant(index)?,
            "tensor {:?} is constant where an activation is expected",
            t.name
        );
        let want = match dtype {
            DType::Int8 => TensorType::Int8,
            DType::Float32 => TensorType::Float32,
            DType::Int32 => TensorType::Int32,
        };
        ensure!(
            t.dtype == want,
            "tensor {:?} is {}, expected {}",
            t.name,
            t.dtype.name(),
            want.name()
        );
        let shape = self.shape(index)?;
        if shape.len() >= 2 {
            ensure!(
                shape[0] == 1,
                "tensor {:?} has batch {} (mote runs batch 1)",
                t.name,
                shape[0]
            );
        }
        let i = usize::try_from(index)?;
        if let Some(id) = self.ids[i] {
            return Ok(id);
        }
        let quant = match dtype {
            DType::Int8 => {
                let (scale, zero_point) = self.per_tensor(index)?;
                Quantization::PerTensor { scale, zero_point }
            }
            _ => Quantization::None,
        };
        let id = self.graph.add_activation(&t.name, &shape, dtype, quant);
        self.ids[i] = Some(id);
        Ok(id)
    }

    /// An int8 operand that may be an activation or a per-tensor quantized
    /// constant (e.g. the second operand of an ADD).
    pub fn int8_operand(&mut self, index: i32) -> Result<TensorId> {
        if !self.is_constant(index)? {
            return self.activation(index, DType::Int8);
        }
        let i = usize::try_from(index)?;
        if let Some(id) = self.ids[i] {
            return Ok(id);
        }
        self.check_plain(index)?;
        let t = self.tensor(index)?;
        ensure!(
            t.dtype == TensorType::Int8,
            "constant {:?} is {}, expected int8",
            t.name,
            t.dtype.name()
        );
        let shape = self.shape(index)?;
        let (scale, zero_point) = self.per_tensor(index)?;
        let data = self.data(index)?.to_vec();
        ensure!(
            data.len() == shape.iter().product::<usize>(),
            "constant {:?}: {} bytes for shape {shape:?}",
            t.name,
            data.len()
        );
        let id = self.graph.add_constant(
            &t.name,
            &shape,
            DType::Int8,
            Quantization::PerTensor { scale, zero_point },
            data,
        );
        self.ids[i] = Some(id);
        Ok(id)
    }

    /// Per-channel (or per-tensor) int8 weights quantized along `axis`, zero
    /// points all 0. Returns the graph tensor and the file's scales: one per
    /// channel, or a single one for per-tensor weights (TFLM computes some
    /// per-tensor multipliers differently, so the distinction is kept).
    pub fn weights(&mut self, index: i32, axis: usize) -> Result<(TensorId, Vec<f32>)> {
        self.check_plain(index)?;
        let t = self.tensor(index)?;
        ensure!(
            t.dtype == TensorType::Int8,
            "weights {:?} are {}, mote takes int8 weights",
            t.name,
            t.dtype.name()
        );
        let shape = self.shape(index)?;
        let channels = *shape
            .get(axis)
            .ok_or_else(|| anyhow!("weights {:?} have rank {}", t.name, shape.len()))?;
        let data = self.data(index)?;
        ensure!(
            !data.is_empty(),
            "weights {:?} are not constant (mote needs constant weights)",
            t.name
        );
        ensure!(
            data.len() == shape.iter().product::<usize>(),
            "weights {:?}: {} bytes for shape {shape:?}",
            t.name,
            data.len()
        );
        let q = t
            .quantization
            .as_ref()
            .filter(|q| !q.scale.is_empty())
            .ok_or_else(|| anyhow!("weights {:?} are not quantized", t.name))?;
        ensure!(
            !q.has_details,
            "weights {:?} use custom quantization",
            t.name
        );
        ensure!(
            q.zero_point.iter().all(|&z| z == 0),
            "weights {:?} have nonzero zero points (int8 weights must be symmetric)",
            t.name
        );
        let scales = if q.scale.len() == 1 {
            q.scale.clone()
        } else {
            ensure!(
                q.quantized_dimension == axis as i32,
                "weights {:?} are quantized per channel along axis {}, expected axis {axis}",
                t.name,
                q.quantized_dimension
            );
            ensure!(
                q.scale.len() == channels,
                "weights {:?} have {} scales for {channels} channels",
                t.name,
                q.scale.len()
            );
            q.scale.clone()
        };
        ensure!(
            scales.iter().all(|s| s.is_finite() && *s > 0.0),
            "weights {:?} have a non-positive or non-finite scale",
            t.name
        );
        // One scale for one channel is per-channel and per-tensor at once
        // (TFLite does not tell them apart); it is kept per-channel, as the
        // training exporter makes such weights, so its graphs survive a
        // round trip through `.tflite` unchanged.
        let quant = if q.scale.len() == 1 && channels != 1 {
            Quantization::PerTensor {
                scale: q.scale[0],
                zero_point: 0,
            }
        } else {
            Quantization::PerChannel {
                axis,
                scales: scales.clone(),
            }
        };
        let i = usize::try_from(index)?;
        let id = match self.ids[i] {
            Some(id) => id,
            None => {
                let id =
                    self.graph
                        .add_constant(&t.name, &shape, DType::Int8, quant, data.to_vec());
                self.ids[i] = Some(id);
                id
            }
        };
        Ok((id, scales))
    }

    /// An optional int32 bias of `channels` values (`-1` means absent).
    pub fn bias(&mut self, index: Option<&i32>, channels: usize) -> Result<Option<TensorId>> {
        let Some(&index) = index.filter(|&&i| i >= 0) else {
            return Ok(None);
        };
        self.check_plain(index)?;
        let t = self.tensor(index)?;
        ensure!(
            t.dtype == TensorType::Int32,
            "bias {:?} is {}, mote takes int32 bias",
            t.name,
            t.dtype.name()
        );
        let data = self.data(index)?;
        ensure!(!data.is_empty(), "bias {:?} is not constant", t.name);
        ensure!(
            data.len() == channels * 4,
            "bias {:?} has {} bytes for {channels} channels",
            t.name,
            data.len()
        );
        let shape = self.shape(index)?;
        ensure!(
            shape.iter().product::<usize>() == channels,
            "bias {:?} has shape {shape:?} for {channels} channels",
            t.name
        );
        let i = usize::try_from(index)?;
        if let Some(id) = self.ids[i] {
            return Ok(Some(id));
        }
        let id = self.graph.add_constant(
            &t.name,
            &[channels],
            DType::Int32,
            Quantization::None,
            data.to_vec(),
        );
        self.ids[i] = Some(id);
        Ok(Some(id))
    }

    /// The values of a constant int32 (or int64) tensor, folded into an op's
    /// parameters (PAD's paddings, RESHAPE's shape, MEAN's axes, resize size).
    pub fn const_ints(&self, index: i32) -> Result<Vec<i64>> {
        let t = self.tensor(index)?;
        let data = self.data(index)?;
        let n: usize = self.shape(index)?.iter().product();
        ensure!(
            !data.is_empty() || n == 0,
            "{:?} must be a constant (mote folds it into the op's parameters)",
            t.name
        );
        let values: Vec<i64> = match t.dtype {
            TensorType::Int32 => data
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            TensorType::Int64 => data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
            other => bail!("constant {:?} is {}, expected int32", t.name, other.name()),
        };
        ensure!(
            values.len() == n && data.len() == n * if t.dtype == TensorType::Int32 { 4 } else { 8 },
            "constant {:?}: {} bytes for shape {:?}",
            t.name,
            data.len(),
            t.shape
        );
        Ok(values)
    }

    /// The `k`-th input index of an op, which must be present.
    pub fn input(op: &Operator, k: usize) -> Result<i32> {
        op.inputs
            .get(k)
            .copied()
            .filter(|&i| i >= 0)
            .ok_or_else(|| anyhow!("missing input {k} (op has {} inputs)", op.inputs.len()))
    }

    /// The single output index of an op.
    pub fn output(op: &Operator) -> Result<i32> {
        match op.outputs.as_slice() {
            [o] => Ok(*o),
            other => bail!("expected one output, found {}", other.len()),
        }
    }
}
