//! Writing a [`Graph`] as a model blob (core/FORMAT.md), and reading a blob
//! back into a `Graph` (through `mote-core`'s parser, so what the host reads
//! is exactly what the device accepts).
use anyhow::{anyhow, bail, ensure, Context, Result};
use mote_core::format::layout::{self, limits};
use mote_core::{Model, Quant, Storage};

use crate::fuse::{self, Fused};
use crate::graph::{Graph, Quantization, Tensor};
use crate::plan::{self, Plan, ARENA_ALIGN};

/// Fuses ops ([`crate::fuse`]), plans memory, writes the blob, and parses
/// it back with `mote-core` so a blob the device would reject is an error
/// here, on the host.
pub fn export(graph: &Graph) -> Result<Vec<u8>> {
    export_fused(graph).map(|(bytes, _)| bytes)
}

/// [`export`], also returning the fused graph the blob describes (its
/// tensor ids are the blob's) and the map from `graph`'s tensor ids.
///
/// Fusing an ADD into a convolution that runs earlier moves the convolution
/// to the ADD (`fuse::fuse_with`): both variants are planned, and the one
/// with the smaller arena is written (the moved one on a tie: it is faster).
pub fn export_fused(graph: &Graph) -> Result<(Vec<u8>, Fused)> {
    let deferred = fuse::fuse_with(graph, true)?;
    let in_order = fuse::fuse_with(graph, false)?;
    let (p_deferred, p_in_order) = (plan::plan(&deferred.graph)?, plan::plan(&in_order.graph)?);
    let (fused, plan) = if p_in_order.arena_size < p_deferred.arena_size {
        (in_order, p_in_order)
    } else {
        (deferred, p_deferred)
    };
    let bytes = write_checked(&fused.graph, &plan)?;
    Ok((bytes, fused))
}

/// [`export`] with every activation in a buffer of its own: no
/// convolution writes over its input's rows (`plan::plan_with`). The layer
/// benchmarks use it, so they measure the kernels alone, as CMSIS-NN's
/// figures do, without the per-band calls a row-overwriting plan adds.
pub fn export_whole_tensors(graph: &Graph) -> Result<Vec<u8>> {
    let fused = fuse::fuse(graph)?;
    write_checked(&fused.graph, &plan::plan_with(&fused.graph, false)?)
}

/// Plans and writes `graph` as it is, without fusing ops.
pub fn export_unfused(graph: &Graph) -> Result<Vec<u8>> {
    write_checked(graph, &plan::plan(graph)?)
}

/// [`write`], then parses the bytes as the device would.
fn write_checked(graph: &Graph, plan: &Plan) -> Result<Vec<u8>> {
    let bytes = write(graph, plan)?;
    Model::parse(&bytes).map_err(|e| anyhow!("the written blob does not parse: {e}"))?;
    Ok(bytes)
}

fn pad_to(out: &mut Vec<u8>, align: usize) {
    while out.len() % align != 0 {
        out.push(0);
    }
}

fn u16_of(x: usize, what: &str) -> Result<u16> {
    u16::try_from(x).map_err(|_| anyhow!("{what} {x} does not fit in 16 bits"))
}

fn u32_of(x: usize, what: &str) -> Result<u32> {
    u32::try_from(x).map_err(|_| anyhow!("{what} {x} does not fit in 32 bits"))
}

/// Writes `graph` with the memory plan `plan` (from [`plan::plan`]).
pub fn write(graph: &Graph, plan: &Plan) -> Result<Vec<u8>> {
    graph.check()?;
    let n_tensors = graph.tensors.len();
    let n_ops = graph.ops.len();
    ensure!(
        n_tensors <= limits::MAX_TENSORS,
        "{n_tensors} tensors, limit {}",
        limits::MAX_TENSORS
    );
    ensure!(
        n_ops <= limits::MAX_OPS,
        "{n_ops} ops, limit {}",
        limits::MAX_OPS
    );
    ensure!(
        (1..=limits::MAX_GRAPH_IO).contains(&graph.inputs.len())
            && (1..=limits::MAX_GRAPH_IO).contains(&graph.outputs.len()),
        "graph needs 1..={} inputs and outputs",
        limits::MAX_GRAPH_IO
    );

    // Pools.
    let mut index_pool: Vec<u16> = Vec::new();
    let mut word_pool: Vec<i32> = Vec::new();
    let mut op_records = Vec::with_capacity(n_ops * layout::OP_RECORD);
    for (k, op) in graph.ops.iter().enumerate() {
        ensure!(
            op.inputs.len() <= limits::MAX_OP_INPUTS && op.outputs.len() == 1,
            "op {k} {}: {} inputs, {} outputs",
            op.code.name(),
            op.inputs.len(),
            op.outputs.len()
        );
        ensure!(
            op.params.len() <= limits::MAX_OP_WORDS,
            "op {k} {}: {} parameter words",
            op.code.name(),
            op.params.len()
        );
        op_records.extend(op.code.code().to_le_bytes());
        op_records.push(op.inputs.len() as u8);
        op_records.push(op.outputs.len() as u8);
        op_records.extend(u32_of(index_pool.len(), "index")?.to_le_bytes());
        op_records.extend(u32_of(word_pool.len(), "word index")?.to_le_bytes());
        op_records.extend(u32_of(op.params.len(), "word count")?.to_le_bytes());
        for &t in op.inputs.iter().chain(&op.outputs) {
            index_pool.push(u16_of(t, "tensor index")?);
        }
        word_pool.extend(&op.params);
    }
    let graph_io = index_pool.len();
    for &t in graph.inputs.iter().chain(&graph.outputs) {
        index_pool.push(u16_of(t, "tensor index")?);
    }

    let mut scale_pool: Vec<f32> = Vec::new();
    let mut scale_index = vec![0u32; n_tensors];
    for (id, t) in graph.tensors.iter().enumerate() {
        if let Quantization::PerChannel { scales, .. } = &t.quant {
            scale_index[id] = u32_of(scale_pool.len(), "scale index")?;
            scale_pool.extend(scales);
        }
    }

    // Section offsets.
    let tensor_table = layout::HEADER_LEN;
    let op_table = tensor_table + n_tensors * layout::TENSOR_RECORD;
    let index_off = op_table + n_ops * layout::OP_RECORD;
    let word_off = (index_off + index_pool.len() * 2).next_multiple_of(4);
    let scale_off = word_off + word_pool.len() * 4;
    let const_off = (scale_off + scale_pool.len() * 4).next_multiple_of(layout::CONST_ALIGN);

    // Constants, each 16-byte aligned relative to the blob start.
    let mut constants: Vec<u8> = Vec::new();
    let mut const_at = vec![0usize; n_tensors];
    for (id, t) in graph.tensors.iter().enumerate() {
        if let Some(data) = &t.data {
            pad_to(&mut constants, layout::CONST_ALIGN);
            const_at[id] = const_off + constants.len();
            constants.extend(data);
        }
    }

    let mut tensor_records = Vec::with_capacity(n_tensors * layout::TENSOR_RECORD);
    for (id, t) in graph.tensors.iter().enumerate() {
        let location = if t.is_constant() {
            (const_at[id], (0, 0))
        } else {
            let offset = plan.offsets.get(id).copied().flatten();
            let life = plan.lifetimes.get(id).copied().flatten();
            match (offset, life) {
                (Some(o), Some(l)) => (o, l),
                _ => bail!("tensor {id} {:?} has no place in the plan", t.name),
            }
        };
        write_tensor(&mut tensor_records, t, scale_index[id], location)
            .with_context(|| format!("tensor {id} {:?}", t.name))?;
    }

    let mut out = Vec::with_capacity(const_off + constants.len());
    out.extend(layout::MAGIC);
    out.extend(layout::VERSION.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend([0u8; 8]); // body length and CRC, filled in below
    for v in [u32_of(plan.arena_size, "arena size")?, ARENA_ALIGN as u32] {
        out.extend(v.to_le_bytes());
    }
    for v in [n_tensors, n_ops, graph.inputs.len(), graph.outputs.len()] {
        out.extend(u16_of(v, "count")?.to_le_bytes());
    }
    for v in [
        tensor_table,
        op_table,
        index_off,
        index_pool.len(),
        word_off,
        word_pool.len(),
        scale_off,
        scale_pool.len(),
        const_off,
        constants.len(),
        graph_io,
        graph.head.code() as usize,
    ] {
        out.extend(u32_of(v, "directory field")?.to_le_bytes());
    }
    debug_assert_eq!(out.len(), layout::HEADER_LEN);
    out.extend(tensor_records);
    out.extend(op_records);
    for i in index_pool {
        out.extend(i.to_le_bytes());
    }
    pad_to(&mut out, 4);
    for w in word_pool {
        out.extend(w.to_le_bytes());
    }
    for s in scale_pool {
        out.extend(s.to_le_bytes());
    }
    pad_to(&mut out, layout::CONST_ALIGN);
    ensure!(
        out.len() == const_off,
        "internal: constant section misplaced"
    );
    out.extend(constants);

    let body_len = u32_of(out.len() - layout::PREFIX_LEN, "body length")?;
    let crc = mote_core::crc32::crc32(&out[layout::PREFIX_LEN..]);
    out[8..12].copy_from_slice(&body_len.to_le_bytes());
    out[12..16].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn write_tensor(
    out: &mut Vec<u8>,
    t: &Tensor,
    scale_index: u32,
    (offset, (first, last)): (usize, (u16, u16)),
) -> Result<()> {
    ensure!(
        t.shape.len() <= layout::MAX_RANK,
        "rank {} > 4",
        t.shape.len()
    );
    ensure!(
        t.shape.iter().all(|&d| d > 0),
        "empty dimension in {:?}",
        t.shape
    );
    let start = out.len();
    out.push(t.dtype.code());
    out.push(t.shape.len() as u8);
    out.push(if t.is_constant() {
        layout::STORAGE_CONSTANT
    } else {
        layout::STORAGE_ARENA
    });
    let (code, scale, zero_point, axis) = match &t.quant {
        Quantization::None => (layout::QUANT_NONE, 0.0f32, 0i32, 0u8),
        Quantization::PerTensor { scale, zero_point } => {
            (layout::QUANT_PER_TENSOR, *scale, *zero_point, 0)
        }
        Quantization::PerChannel { axis, .. } => (layout::QUANT_PER_CHANNEL, 0.0, 0, *axis as u8),
    };
    out.push(code);
    for i in 0..layout::MAX_RANK {
        let d = t.shape.get(i).copied().unwrap_or(0);
        out.extend(u32_of(d, "dimension")?.to_le_bytes());
    }
    out.extend(scale.to_le_bytes());
    out.extend(zero_point.to_le_bytes());
    out.extend([axis, 0, 0, 0]);
    let scale_index = if code == layout::QUANT_PER_CHANNEL {
        scale_index
    } else {
        0
    };
    out.extend(scale_index.to_le_bytes());
    out.extend(u32_of(offset, "offset")?.to_le_bytes());
    out.extend(u32_of(t.byte_len(), "byte length")?.to_le_bytes());
    out.extend(first.to_le_bytes());
    out.extend(last.to_le_bytes());
    debug_assert_eq!(out.len() - start, layout::TENSOR_RECORD);
    Ok(())
}

/// Reads a blob back into a graph (tensor names become `t<index>`).
pub fn read(bytes: &[u8]) -> Result<Graph> {
    let model = Model::parse(bytes).map_err(|e| anyhow!("invalid blob: {e}"))?;
    from_model(&model)
}

/// The graph a parsed model describes.
pub fn from_model(model: &Model<'_>) -> Result<Graph> {
    let e = |e: mote_core::Error| anyhow!("{e}");
    let mut g = Graph::new();
    g.head = model.head();
    for i in 0..model.tensor_count() {
        let info = model.tensor(i as u16).map_err(e)?;
        let quant = match info.quant {
            Quant::None => Quantization::None,
            Quant::PerTensor { scale, zero_point } => Quantization::PerTensor { scale, zero_point },
            Quant::PerChannel { axis, count, .. } => Quantization::PerChannel {
                axis: usize::from(axis),
                scales: (0..count)
                    .map(|c| model.channel_scale(&info, c))
                    .collect::<Result<_, _>>()
                    .map_err(e)?,
            },
        };
        let data = match info.storage {
            Storage::Constant { .. } => Some(model.constant(&info).map_err(e)?.to_vec()),
            Storage::Arena { .. } => None,
        };
        g.tensors.push(Tensor {
            name: format!("t{i}"),
            shape: info.shape.dims().iter().map(|&d| d as usize).collect(),
            dtype: info.dtype,
            quant,
            data,
        });
    }
    let mut words = [0i32; limits::MAX_OP_WORDS];
    for k in 0..model.op_count() {
        let op = model.op(k as u16).map_err(e)?;
        let inputs = (0..op.inputs)
            .map(|i| model.op_input(&op, i).map(usize::from))
            .collect::<Result<_, _>>()
            .map_err(e)?;
        let outputs = (0..op.outputs)
            .map(|i| model.op_output(&op, i).map(usize::from))
            .collect::<Result<_, _>>()
            .map_err(e)?;
        let params = model.op_words(&op, &mut words).map_err(e)?.to_vec();
        g.ops.push(crate::graph::Op {
            code: op.code,
            inputs,
            outputs,
            params,
        });
    }
    for k in 0..model.input_count() {
        g.inputs.push(usize::from(model.input_index(k).map_err(e)?));
    }
    for k in 0..model.output_count() {
        g.outputs
            .push(usize::from(model.output_index(k).map_err(e)?));
    }
    Ok(g)
}
