//! Operator fusion on the host graph, run by [`crate::blob::export`] before
//! memory planning.
//!
//! One fusion, CONV_2D_FUSED (`mote_core::kernels::conv2d_fused`): a
//! CONV_2D (not grouped) absorbs
//! - the ops that produce its input, when that tensor is used by nothing
//!   else: a RESIZE_NEAREST_NEIGHBOR or RESIZE_BILINEAR, or a CONCATENATION
//!   along channels whose inputs may in turn be such resizes (each also used
//!   only by the concatenation). The intermediate tensors never exist; the
//!   convolution reads through an input view;
//! - an ADD that is the only reader of its output, when the ADD's other
//!   operand has the output's shape (no broadcasting). The plan may then
//!   write the result over that operand when it dies there.
//!
//! Both are exact: resize and concatenation move int8 values without
//! requantizing (mote-core requires equal quantization, as TFLM does), the
//! view computes them with the same arithmetic, and the ADD sees the same
//! int8 conv result. A convolution neither form applies to is left alone.
use anyhow::{anyhow, Result};
use mote_core::kernels::conv2d_fused::{self, Params};
use mote_core::kernels::input_view::{Resample, MAX_PARTS};
use mote_core::kernels::{add, concatenation, conv2d, resize_bilinear, resize_nearest};

use crate::graph::{Graph, Op, OpCode, TensorId};

/// What [`fuse`] did: the new graph and, per old tensor id, its new id
/// (`None` for tensors fused away).
pub struct Fused {
    pub graph: Graph,
    pub tensor_map: Vec<Option<TensorId>>,
    /// Number of CONV_2D_FUSED ops made.
    pub fused_ops: usize,
}

/// How many ops read each tensor, graph outputs counted as readers.
fn readers(graph: &Graph) -> Vec<usize> {
    let mut n = vec![0; graph.tensors.len()];
    for op in &graph.ops {
        for &i in &op.inputs {
            n[i] += 1;
        }
    }
    for &o in &graph.outputs {
        n[o] += 1;
    }
    n
}

/// A tensor only op `reader` uses (not a graph output), written by an op.
fn private_producer(graph: &Graph, readers: &[usize], t: TensorId) -> Option<usize> {
    if readers[t] != 1 || graph.tensors[t].is_constant() {
        return None;
    }
    graph.producer(t)
}

/// The source and resampling of one view part read from tensor `t`.
fn part_of(
    graph: &Graph,
    readers: &[usize],
    t: TensorId,
    absorbed: &mut Vec<usize>,
) -> Option<(TensorId, Resample)> {
    if let Some(k) = private_producer(graph, readers, t) {
        let op = &graph.ops[k];
        let src = *op.inputs.first()?;
        let resample = match op.code {
            OpCode::ResizeNearestNeighbor => {
                Resample::Nearest(resize_nearest::Params::decode(&op.params).ok()?)
            }
            OpCode::ResizeBilinear => {
                Resample::Bilinear(resize_bilinear::Params::decode(&op.params).ok()?)
            }
            _ => return Some((t, Resample::Direct)),
        };
        if graph.tensors[src].is_constant() || graph.tensors[src].quant != graph.tensors[t].quant {
            return Some((t, Resample::Direct));
        }
        absorbed.push(k);
        return Some((src, resample));
    }
    Some((t, Resample::Direct))
}

/// The view parts of a conv's data input `t`, and the ops they absorb.
fn view_of(
    graph: &Graph,
    readers: &[usize],
    t: TensorId,
) -> (Vec<(TensorId, Resample)>, Vec<usize>) {
    let direct = (vec![(t, Resample::Direct)], Vec::new());
    let Some(k) = private_producer(graph, readers, t) else {
        return direct;
    };
    let op = &graph.ops[k];
    let mut absorbed = Vec::new();
    if op.code == OpCode::Concatenation {
        let along_channels = concatenation::Params::decode(&op.params).is_ok_and(|p| p.axis == 3);
        let activations = op.inputs.iter().all(|&i| {
            let x = &graph.tensors[i];
            !x.is_constant() && x.quant == graph.tensors[t].quant && x.shape.len() == 4
        });
        if !along_channels
            || !activations
            || op.inputs.len() > MAX_PARTS
            || graph.tensors[t].shape.len() != 4
        {
            return direct;
        }
        absorbed.push(k);
        let mut parts = Vec::new();
        for &i in &op.inputs {
            match part_of(graph, readers, i, &mut absorbed) {
                Some(p) => parts.push(p),
                None => return direct,
            }
        }
        return (parts, absorbed);
    }
    match part_of(graph, readers, t, &mut absorbed) {
        Some(p) if !absorbed.is_empty() && graph.tensors[t].shape.len() == 4 => (vec![p], absorbed),
        _ => direct,
    }
}

/// Fuses every CONV_2D it can (see the module doc). The input graph is not
/// changed; ops keep their order (a fused op takes the conv's place, or the
/// ADD's when the addend is written after the conv).
pub fn fuse(graph: &Graph) -> Result<Fused> {
    fuse_with(graph, true)
}

/// [`fuse`], with the choice of absorbing an ADD whose other operand is
/// made after the convolution (`defer`). The fused op then runs where the
/// ADD did, so the convolution's input lives until then: faster (no
/// separate ADD pass), but it can cost arena when that input is large (the
/// exporter plans both and keeps the smaller, see `blob::export_fused`).
pub fn fuse_with(graph: &Graph, defer: bool) -> Result<Fused> {
    graph.check()?;
    let readers = readers(graph);
    let mut removed = vec![false; graph.ops.len()];
    let mut replace: Vec<Option<Op>> = vec![None; graph.ops.len()];
    let mut fused_ops = 0;
    for (k, op) in graph.ops.iter().enumerate() {
        if op.code != OpCode::Conv2d || removed[k] || op.inputs.len() != 5 {
            continue;
        }
        let conv = conv2d::Params::decode(&op.params).map_err(|e| anyhow!("op {k}: {e:?}"))?;
        let x = op.inputs[0];
        let (filter, y) = (&graph.tensors[op.inputs[1]], op.outputs[0]);
        let x_shape = &graph.tensors[x].shape;
        if x_shape.len() != 4 || filter.shape.len() != 4 || filter.shape[3] != x_shape[3] {
            continue; // grouped or not 4-D
        }
        let (parts, absorbed) = view_of(graph, &readers, x);
        if absorbed.iter().any(|&a| removed[a]) {
            continue;
        }
        // ADD epilogue.
        let mut epilogue = None;
        if let Some(a) = private_producer_reader(graph, &readers, y) {
            let add_op = &graph.ops[a];
            let other_pos = if add_op.inputs[0] == y { 1 } else { 0 };
            let other = add_op.inputs[other_pos];
            let out = add_op.outputs[0];
            let shape = &graph.tensors[y].shape;
            let deferred = graph.producer(other).is_some_and(|p| p > k);
            if add_op.inputs[1 - other_pos] == y
                && other != y
                && (defer || !deferred)
                && graph.tensors[other].shape == *shape
                && graph.tensors[out].shape == *shape
            {
                let mut p =
                    add::Params::decode(&add_op.params).map_err(|e| anyhow!("op {a}: {e:?}"))?;
                if other_pos == 0 {
                    // Make the conv result the first operand; the sum is symmetric.
                    std::mem::swap(&mut p.input1_offset, &mut p.input2_offset);
                    std::mem::swap(&mut p.input1_multiplier, &mut p.input2_multiplier);
                    std::mem::swap(&mut p.input1_shift, &mut p.input2_shift);
                }
                epilogue = Some((a, p, other, out));
            }
        }
        if absorbed.is_empty() && epilogue.is_none() {
            continue;
        }
        let x4 = &graph.tensors[x].shape;
        let mut resample = [Resample::Direct; MAX_PARTS];
        for (slot, (_, r)) in resample.iter_mut().zip(&parts) {
            *slot = *r;
        }
        let params = Params {
            conv,
            view_h: x4[1],
            view_w: x4[2],
            parts: resample,
            part_count: parts.len(),
            add: epilogue.as_ref().map(|e| e.1),
        };
        let mut words = Vec::new();
        params.encode(&mut |w| words.push(w));
        let mut inputs: Vec<TensorId> = parts.iter().map(|p| p.0).collect();
        inputs.extend(&op.inputs[1..]);
        let mut output = y;
        let mut at = k;
        if let Some((a, _, other, out)) = epilogue {
            inputs.push(other);
            output = out;
            removed[a] = true;
            // The addend must exist when the fused op runs.
            if graph.producer(other).is_some_and(|p| p > k) {
                at = a;
            }
        }
        for &a in &absorbed {
            removed[a] = true;
        }
        removed[k] = true;
        replace[at] = Some(Op {
            code: OpCode::Conv2dFused,
            inputs,
            outputs: vec![output],
            params: words,
        });
        fused_ops += 1;
    }

    let mut g = graph.clone();
    g.ops = graph
        .ops
        .iter()
        .enumerate()
        .filter_map(|(k, op)| match (&replace[k], removed[k]) {
            (Some(new), _) => Some(new.clone()),
            (None, true) => None,
            (None, false) => Some(op.clone()),
        })
        .collect();
    let tensor_map = g.prune();
    g.check()?;
    debug_assert!(g.ops.iter().all(
        |op| op.code != OpCode::Conv2dFused || conv2d_fused::Params::decode(&op.params).is_ok()
    ));
    Ok(Fused {
        graph: g,
        tensor_map,
        fused_ops,
    })
}

/// The op that is the only reader of `t` (and `t` no graph output), if it
/// is an ADD.
fn private_producer_reader(graph: &Graph, readers: &[usize], t: TensorId) -> Option<usize> {
    if readers[t] != 1 {
        return None;
    }
    let k = graph.ops.iter().position(|op| op.inputs.contains(&t))?;
    (graph.ops[k].code == OpCode::Add && graph.ops[k].inputs.len() == 2).then_some(k)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::blob;
    use mote_core::{align_arena, Model, Session};

    fn encdec() -> Graph {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden/encdec.tflite");
        crate::tflite::import(&std::fs::read(path).unwrap()).unwrap()
    }

    /// Every output of `blob` run on `input`.
    pub(crate) fn run(blob: &[u8], input: &[u8]) -> Vec<Vec<u8>> {
        let model = Model::parse(blob).unwrap();
        let mut buf = vec![0u8; model.arena_size() + model.arena_align()];
        let arena = align_arena(&mut buf, model.arena_align());
        let mut s = Session::new(&model, arena).unwrap();
        s.set_input(0, input).unwrap();
        s.run().unwrap();
        (0..model.output_count())
            .map(|k| s.output(k).unwrap().to_vec())
            .collect()
    }

    /// The encoder-decoder's two skip joins fuse, the intermediate tensors
    /// disappear, the arena shrinks and the outputs stay bit-identical.
    #[test]
    fn encdec_fuses_exactly_and_saves_memory() {
        let g = encdec();
        let f = fuse(&g).unwrap();
        assert_eq!(f.fused_ops, 2);
        let codes: Vec<OpCode> = f.graph.ops.iter().map(|o| o.code).collect();
        for gone in [
            OpCode::ResizeNearestNeighbor,
            OpCode::ResizeBilinear,
            OpCode::Concatenation,
            OpCode::Add,
        ] {
            assert!(!codes.contains(&gone), "{codes:?}");
        }
        assert_eq!(g.ops.len() - f.graph.ops.len(), 4);
        // The resize, concat and conv-before-ADD outputs are gone, the rest mapped.
        let gone = f.tensor_map.iter().filter(|m| m.is_none()).count();
        assert_eq!(gone, 4);
        for (old, new) in f.tensor_map.iter().enumerate() {
            if let Some(new) = new {
                assert_eq!(g.tensors[old].name, f.graph.tensors[*new].name);
            }
        }
        // Fusion's own saving, with every tensor in a buffer of its own.
        let plain = blob::write(&g, &crate::plan::plan_with(&g, false).unwrap()).unwrap();
        let fused = blob::export_whole_tensors(&g).unwrap();
        let (a, b) = (
            Model::parse(&plain).unwrap().arena_size(),
            Model::parse(&fused).unwrap().arena_size(),
        );
        assert!(2 * b < a + a / 8, "fused arena {b} vs {a}");
        // What the exporter writes (fused, row bands where they help).
        let exported = blob::export(&g).unwrap();
        assert!(Model::parse(&exported).unwrap().arena_size() <= b);
        let len = g.tensors[g.inputs[0]].byte_len();
        for seed in 0..4u32 {
            let mut s = seed.wrapping_mul(747_796_405).wrapping_add(1);
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 17;
                    s ^= s << 5;
                    s as u8
                })
                .collect();
            assert_eq!(run(&plain, &input), run(&fused, &input), "seed {seed}");
            assert_eq!(run(&plain, &input), run(&exported, &input), "seed {seed}");
        }
    }

    /// A conv whose input is a graph input and whose output feeds nothing
    /// fusable is left alone; a conv result that is also a graph output is
    /// never fused into an ADD.
    #[test]
    fn nothing_fuses_without_a_private_producer_or_add() {
        let mut g = encdec();
        // Make the bilinear resize output a graph output: it must survive.
        let bil = g
            .ops
            .iter()
            .find(|o| o.code == OpCode::ResizeBilinear)
            .unwrap()
            .outputs[0];
        g.outputs.push(bil);
        let f = fuse(&g).unwrap();
        assert!(f.tensor_map[bil].is_some());
        assert!(f.graph.ops.iter().any(|o| o.code == OpCode::ResizeBilinear));
    }
}
