//! Memory planning: tensor lifetimes → arena offsets.
//!
//! Time steps are the blob's (core/FORMAT.md §6): 0 is the caller writing the
//! inputs, `k + 1` is op `k`, `ops + 1` is the caller reading the outputs.
//! Buffers are placed greedily, largest first, each at the lowest aligned
//! offset that no already-placed buffer alive at the same time uses. A
//! RESHAPE whose data input is an activation of the same byte size writes in
//! place: both tensors are one buffer with the union of their lifetimes. So
//! does an element-wise op (ADD, MUL, LOGISTIC, LEAKY_RELU, HARD_SWISH, int8
//! QUANTIZE; the addend of a fused conv + ADD) over an input of its shape
//! whose buffer dies at that op (core/FORMAT.md §6).
//!
//! A CONV_2D or DEPTHWISE_CONV_2D whose input dies at it may also write its
//! output over the input's top rows, starting a small gap before it
//! (`mote_core::bands`): the two become pieces of one buffer, so the pair
//! costs little more than the larger tensor. Each such join is kept only
//! where it shrinks the arena, since the runtime then calls the kernel once
//! per band of rows.
use anyhow::{ensure, Result};

use crate::graph::{Graph, Op, OpCode, TensorId};
use mote_core::kernels::Shape4;

/// Arena alignment of every activation offset (and of the arena itself).
pub const ARENA_ALIGN: usize = 16;

/// Where each activation lives and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Arena offset per tensor (`None` for constants).
    pub offsets: Vec<Option<usize>>,
    /// `(first, last)` time step per tensor (`None` for constants).
    pub lifetimes: Vec<Option<(u16, u16)>>,
    /// Bytes of arena needed.
    pub arena_size: usize,
}

/// Lifetimes of every activation: written at `first`, last read at `last`.
pub fn lifetimes(graph: &Graph) -> Result<Vec<Option<(u16, u16)>>> {
    let n_ops = graph.ops.len();
    ensure!(n_ops < u16::MAX as usize - 1, "too many ops: {n_ops}");
    let end = (n_ops + 1) as u16;
    let mut life: Vec<Option<(u16, u16)>> = vec![None; graph.tensors.len()];
    for &i in &graph.inputs {
        life[i] = Some((0, 0));
    }
    for (k, op) in graph.ops.iter().enumerate() {
        let time = (k + 1) as u16;
        for &i in &op.inputs {
            if let Some((_, last)) = life.get_mut(i).and_then(|l| l.as_mut()) {
                *last = (*last).max(time);
            }
        }
        for &o in &op.outputs {
            life[o] = Some((time, time));
        }
    }
    for &o in &graph.outputs {
        if let Some((_, last)) = life[o].as_mut() {
            *last = end;
        }
    }
    for (id, t) in graph.tensors.iter().enumerate() {
        if t.is_constant() {
            life[id] = None;
        } else {
            ensure!(
                life[id].is_some(),
                "activation {id} {:?} is never written (prune the graph first)",
                t.name
            );
        }
    }
    Ok(life)
}

/// The tensor whose bytes a RESHAPE output can share: its data input, when
/// that is an activation of the same byte size.
fn reshape_source(graph: &Graph, tensor: TensorId) -> Option<TensorId> {
    let op = graph.ops.get(graph.producer(tensor)?)?;
    if op.code != OpCode::Reshape {
        return None;
    }
    let src = *op.inputs.first()?;
    let s = graph.tensors.get(src)?;
    (!s.is_constant() && s.byte_len() == graph.tensors[tensor].byte_len()).then_some(src)
}

/// One tensor's bytes inside a buffer: `(offset in the buffer, size,
/// first, last)`.
type Piece = (usize, usize, u16, u16);

/// A sort key giving a placement order, from a buffer's pieces.
type OrderKey = fn(&[Piece]) -> (i64, i64);

/// A buffer's total bytes and its time span.
fn extent(pieces: &[Piece]) -> (usize, u16, u16) {
    let size = pieces.iter().map(|p| p.0 + p.1).max().unwrap_or(0);
    let first = pieces.iter().map(|p| p.2).min().unwrap_or(0);
    let last = pieces.iter().map(|p| p.3).max().unwrap_or(0);
    (size, first, last)
}

/// First-fit placement of buffers in `order`: each at the lowest aligned
/// offset where none of its pieces shares a byte with a piece of an
/// already-placed buffer alive at the same time. A buffer is usually one
/// piece; a convolution written over its input's top rows adds its output
/// as a second piece `gap` bytes before the input ([`row_gap`]). Returns the
/// arena size and each buffer's offset.
fn place(buffers: &[Vec<Piece>], order: &[usize]) -> (usize, Vec<usize>) {
    let mut offsets: Vec<Option<usize>> = vec![None; buffers.len()];
    let mut arena_size = 0;
    for &b in order {
        // Offsets `off` with off + rel < q_end and q_start < off + rel + size
        // for some live piece q are taken: the open interval (lo, hi).
        let mut taken: Vec<(i64, i64)> = Vec::new();
        for &(rel, size, first, last) in &buffers[b] {
            for (other, off) in buffers.iter().zip(&offsets) {
                let Some(off) = off else { continue };
                for &(q_rel, q_size, q_first, q_last) in other {
                    if q_first <= last && first <= q_last {
                        let q0 = (off + q_rel) as i64;
                        taken.push((q0 - (rel + size) as i64, q0 + q_size as i64 - rel as i64));
                    }
                }
            }
        }
        taken.sort_unstable();
        let mut offset = 0i64;
        for (lo, hi) in taken {
            if offset <= lo {
                break;
            }
            offset = offset.max(align_up(hi.max(0) as usize) as i64);
        }
        let offset = offset as usize;
        offsets[b] = Some(offset);
        arena_size = arena_size.max(offset + extent(&buffers[b]).0);
    }
    (
        arena_size,
        offsets.into_iter().map(|o| o.unwrap_or(0)).collect(),
    )
}

/// Output rows each band of a row-overwriting convolution holds at least
/// (`mote_core::bands`): every band is one call of the kernel, whose fixed
/// cost this amortises; each row more costs one output row of arena while
/// the layer runs.
pub const BAND_ROWS: usize = 4;

/// The vertical geometry of CONV_2D or DEPTHWISE_CONV_2D op `op` (batch 1)
/// as `mote_core::bands` computes it, or `None` for other ops.
fn row_geometry(graph: &Graph, op: &Op) -> Option<mote_core::bands::Rows> {
    let depthwise = match op.code {
        OpCode::Conv2d => false,
        OpCode::DepthwiseConv2d => true,
        _ => return None,
    };
    let shape = |t: TensorId| -> Option<Shape4> {
        match graph.tensors.get(t)?.shape[..] {
            [n, h, w, c] => Some(Shape4::new(n, h, w, c)),
            _ => None,
        }
    };
    // OHWI (CONV_2D) or 1HWC (DEPTHWISE_CONV_2D): the height is dims[1].
    let filter = shape(*op.inputs.get(1)?)?;
    let (input, output) = (shape(*op.inputs.first()?)?, shape(*op.outputs.first()?)?);
    mote_core::bands::Rows::of_conv(depthwise, &op.params, input, filter.h, output)
}

/// The gap at which `op`'s output may sit before its input, computed in
/// bands of at least [`BAND_ROWS`] rows; `None` if `op` cannot run so.
pub fn row_gap(graph: &Graph, op: &Op) -> Option<usize> {
    row_geometry(graph, op)?.gap_for(BAND_ROWS, ARENA_ALIGN)
}

/// The inputs `op` may write its output over: mirrors mote-core's
/// `dispatch::may_overwrite` (element-wise ops, and the addend of a fused
/// conv + ADD).
pub fn overwritable(op: &Op) -> Vec<usize> {
    match op.code {
        OpCode::Add | OpCode::Mul => vec![0, 1],
        OpCode::Logistic | OpCode::LeakyRelu | OpCode::HardSwish | OpCode::Quantize => vec![0],
        OpCode::Conv2dFused => {
            let fused = mote_core::kernels::conv2d_fused::Params::decode(&op.params);
            if fused.is_ok_and(|p| p.add.is_some()) && !op.inputs.is_empty() {
                vec![op.inputs.len() - 1]
            } else {
                vec![]
            }
        }
        _ => vec![],
    }
}

/// Whether `op` (running at `time`) may write `out` over its input `src`:
/// same type and shape, `src` read by no other operand of the op, not a
/// graph input (the caller's data), and nothing in `src`'s buffer used
/// after this op.
fn can_overwrite(
    graph: &Graph,
    op: &Op,
    src: TensorId,
    out: TensorId,
    root: &[TensorId],
    buffer_last: &[u16],
    time: u16,
) -> bool {
    let (s, o) = (&graph.tensors[src], &graph.tensors[out]);
    let r = root[src];
    !s.is_constant()
        && s.dtype == o.dtype
        && s.shape == o.shape
        // The runtime's in-place ADD/MUL does not broadcast the other operand.
        && op
            .inputs
            .iter()
            .all(|&i| graph.tensors[i].shape == o.shape || !matches!(op.code, OpCode::Add | OpCode::Mul))
        && op.inputs.iter().filter(|&&i| root[i] == r).count() == 1
        && !graph.inputs.iter().any(|&i| root[i] == r)
        && buffer_last[r] == time
}

fn align_up(x: usize) -> usize {
    x.div_ceil(ARENA_ALIGN) * ARENA_ALIGN
}

/// Plans the arena for `graph` (which should pass [`Graph::check`]).
pub fn plan(graph: &Graph) -> Result<Plan> {
    plan_with(graph, true)
}

/// [`plan`], with or without letting convolutions write over the top rows
/// of their dying input (`row_overwrite`, `mote_core::bands`).
pub fn plan_with(graph: &Graph, row_overwrite: bool) -> Result<Plan> {
    graph.check()?;
    let life = lifetimes(graph)?;
    let n = graph.tensors.len();

    // Group in-place reshape chains into buffers. Ops run in order, so a
    // reshape's source has its root before the reshape output is visited.
    // Then let element-wise ops (and fused conv + ADD) write over an input
    // whose whole buffer dies at that op.
    let mut root: Vec<TensorId> = (0..n).collect();
    let mut buffer_last: Vec<u16> = life.iter().map(|l| l.map_or(0, |l| l.1)).collect();
    for (k, op) in graph.ops.iter().enumerate() {
        let time = (k + 1) as u16;
        for &o in &op.outputs {
            let src = reshape_source(graph, o).or_else(|| {
                overwritable(op)
                    .into_iter()
                    .filter_map(|i| op.inputs.get(i).copied())
                    .find(|&src| can_overwrite(graph, op, src, o, &root, &buffer_last, time))
            });
            if let Some(src) = src {
                let r = root[src];
                root[o] = r;
                buffer_last[r] = buffer_last[r].max(buffer_last[o]);
            }
        }
    }
    // Buffers: the tensors of one in-place root, all at its offset.
    let mut buffer_of: Vec<Option<usize>> = vec![None; n];
    let mut buffers: Vec<Vec<TensorId>> = Vec::new();
    for id in 0..n {
        if life[id].is_none() {
            continue;
        }
        let r = root[id];
        let b = match buffer_of[r] {
            Some(b) => b,
            None => {
                buffers.push(Vec::new());
                buffers.len() - 1
            }
        };
        buffer_of[r] = Some(b);
        buffer_of[id] = Some(b);
        buffers[b].push(id);
    }

    // Convolutions that may write over the top rows of their dying input
    // (mote_core::bands): each would join its output's buffer to the
    // input's, `gap` bytes before it.
    let mut rows: Vec<(TensorId, TensorId, usize)> = Vec::new(); // (input, output, gap)
    for (k, op) in graph.ops.iter().enumerate() {
        let time = (k + 1) as u16;
        let (Some(&src), Some(&out)) = (op.inputs.first(), op.outputs.first()) else {
            continue;
        };
        let (Some(bs), Some(bo)) = (buffer_of[src], buffer_of[out]) else {
            continue;
        };
        if row_overwrite
            && bs != bo
            && buffer_last[root[src]] == time
            && !graph.tensors[src].is_constant()
        {
            if let Some(gap) = row_gap(graph, op) {
                rows.push((src, out, gap));
            }
        }
    }

    // Greedy first-fit placement depends on the order buffers are placed
    // in, and no single order wins on every graph (largest-first can strand
    // a small long-lived buffer above the big ones). Try a few classic
    // orders and keep the smallest arena; ties keep the earlier order.
    // Joining a convolution's output to its input usually saves the
    // smaller of the two, but it pins the pair together, so each join is
    // kept only if the arena does not grow.
    let orders: [OrderKey; 3] = [
        // Largest first, then earliest.
        |p| {
            let (size, first, _) = extent(p);
            (-(size as i64), i64::from(first))
        },
        // In order of first use (linear scan), larger first on ties.
        |p| {
            let (size, first, _) = extent(p);
            (i64::from(first), -(size as i64))
        },
        // Largest size x lifetime first.
        |p| {
            let (size, first, last) = extent(p);
            (
                -((size as i64) * (i64::from(last - first) + 1)),
                i64::from(first),
            )
        },
    ];
    let layout = |joined: &[bool]| -> (usize, Vec<(usize, usize)>, Vec<usize>) {
        // Per tensor: (placed buffer, offset in it); buffers merged by joins.
        let mut at: Vec<(usize, i64)> = (0..n).map(|id| (buffer_of[id].unwrap_or(0), 0)).collect();
        let mut members = buffers.clone();
        for (&(src, out, gap), _) in rows.iter().zip(joined).filter(|(_, &j)| j) {
            let (into, from) = (at[src].0, at[out].0);
            if into == from {
                continue;
            }
            // The output's buffer moves to `gap` bytes before the input.
            let shift = at[src].1 - gap as i64 - at[out].1;
            let moved = std::mem::take(&mut members[from]);
            for &id in &moved {
                at[id] = (into, at[id].1 + shift);
            }
            members[into].extend(moved);
            let low = members[into].iter().map(|&id| at[id].1).min().unwrap_or(0);
            for &id in &members[into] {
                at[id].1 -= low;
            }
        }
        let live: Vec<usize> = (0..members.len())
            .filter(|&b| !members[b].is_empty())
            .collect();
        let pieces: Vec<Vec<Piece>> = live
            .iter()
            .map(|&b| {
                members[b]
                    .iter()
                    .filter_map(|&id| {
                        let (first, last) = life[id]?;
                        Some((at[id].1 as usize, graph.tensors[id].byte_len(), first, last))
                    })
                    .collect()
            })
            .collect();
        let mut best: Option<(usize, Vec<usize>)> = None;
        for key in orders {
            let mut order: Vec<usize> = (0..pieces.len()).collect();
            order.sort_by_key(|&b| key(&pieces[b]));
            let (size, offsets) = place(&pieces, &order);
            if best.as_ref().is_none_or(|(s, _)| size < *s) {
                best = Some((size, offsets));
            }
        }
        let (size, placed) = best.unwrap_or((0, Vec::new()));
        let mut buffer_offset = vec![0usize; members.len()];
        for (&b, off) in live.iter().zip(placed) {
            buffer_offset[b] = off;
        }
        let tensor_at = (0..n).map(|id| (at[id].0, at[id].1 as usize)).collect();
        (size, tensor_at, buffer_offset)
    };
    let mut joined = vec![false; rows.len()];
    let mut best = layout(&joined);
    for j in 0..rows.len() {
        joined[j] = true;
        let candidate = layout(&joined);
        if candidate.0 < best.0 {
            best = candidate;
        } else {
            joined[j] = false;
        }
    }
    let (arena_size, at, buffer_offset) = best;
    let offsets = (0..n)
        .map(|id| life[id].map(|_| buffer_offset[at[id].0] + at[id].1))
        .collect();
    Ok(Plan {
        offsets,
        lifetimes: life,
        arena_size,
    })
}

#[cfg(test)]
mod in_place_tests {
    use super::*;
    use crate::graph::{DType, Quantization};

    fn q(zp: i32) -> Quantization {
        Quantization::PerTensor {
            scale: 1.0 / 256.0,
            zero_point: zp,
        }
    }

    /// x → LEAKY_RELU → y → LOGISTIC → z: y may not overwrite the graph
    /// input x, but z overwrites y (which dies there).
    #[test]
    fn element_wise_op_writes_over_a_dying_input() {
        let mut g = Graph::new();
        let x = g.add_activation("x", &[1, 4, 4, 8], DType::Int8, q(0));
        let y = g.add_activation("y", &[1, 4, 4, 8], DType::Int8, q(0));
        let z = g.add_activation("z", &[1, 4, 4, 8], DType::Int8, q(-128));
        let w = g.add_activation("w", &[1, 4, 4, 8], DType::Int8, q(0));
        g.inputs = vec![x];
        g.outputs = vec![z, w];
        g.add_op(OpCode::LeakyRelu, &[x], &[y], vec![0; 6]);
        g.add_op(OpCode::Logistic, &[y], &[z], vec![0; 4]);
        g.add_op(OpCode::LeakyRelu, &[x], &[w], vec![0; 6]);
        let p = plan(&g).unwrap();
        assert_eq!(p.offsets[z], p.offsets[y], "{p:?}");
        assert_ne!(p.offsets[y], p.offsets[x]);
        // x lives to op 2, so nothing may be written over it before.
        assert_ne!(p.offsets[w], p.offsets[x]);
        assert_eq!(p.arena_size, 3 * 128);
    }

    /// An input that is still needed later is never overwritten.
    #[test]
    fn live_input_is_not_overwritten() {
        let mut g = Graph::new();
        let x = g.add_activation("x", &[1, 16], DType::Int8, q(0));
        let y = g.add_activation("y", &[1, 16], DType::Int8, q(0));
        let z = g.add_activation("z", &[1, 16], DType::Int8, q(-128));
        let s = g.add_activation("s", &[1, 16], DType::Int8, q(0));
        g.inputs = vec![x];
        g.outputs = vec![s];
        g.add_op(OpCode::LeakyRelu, &[x], &[y], vec![0; 6]);
        g.add_op(OpCode::Logistic, &[y], &[z], vec![0; 4]);
        g.add_op(OpCode::Add, &[y, z], &[s], vec![0; 12]);
        let p = plan(&g).unwrap();
        assert_ne!(p.offsets[z], p.offsets[y]);
        // ADD overwrites one of its dying inputs.
        assert!(p.offsets[s] == p.offsets[y] || p.offsets[s] == p.offsets[z]);
    }
}

#[cfg(test)]
mod row_tests {
    use super::*;
    use mote_core::{Error, Model, PlanError};

    fn counter() -> Graph {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/counter.tflite");
        let g = crate::tflite::import(&std::fs::read(path).unwrap()).unwrap();
        crate::fuse::fuse(&g).unwrap().graph
    }

    /// The counter's stem writes over its 48 KB input and the next layer
    /// over the stem: the arena shrinks by most of the stem, and the output
    /// bytes stay those of the plan without it.
    #[test]
    fn row_overwrite_shrinks_the_counter_and_changes_no_output() {
        let g = counter();
        let (with, without) = (plan_with(&g, true).unwrap(), plan_with(&g, false).unwrap());
        assert!(
            with.arena_size + 24 * 1024 < without.arena_size,
            "{} vs {}",
            with.arena_size,
            without.arena_size
        );
        let stem = &g.ops[0];
        let (x, y) = (stem.inputs[0], stem.outputs[0]);
        let (ox, oy) = (with.offsets[x].unwrap(), with.offsets[y].unwrap());
        assert!(oy < ox && ox < oy + g.tensors[y].byte_len(), "{oy} {ox}");
        let blob_with = crate::blob::write(&g, &with).unwrap();
        let blob_without = crate::blob::write(&g, &without).unwrap();
        let len = g.tensors[g.inputs[0]].byte_len();
        for seed in 0..3u32 {
            let input: Vec<u8> = (0..len as u32)
                .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 977) >> 13) as u8)
                .collect();
            assert_eq!(
                crate::fuse::tests::run(&blob_with, &input),
                crate::fuse::tests::run(&blob_without, &input)
            );
        }
    }

    /// A blob whose convolution output starts too close to its input (or
    /// after it) is refused when parsed, naming the overlap.
    #[test]
    fn a_row_overwrite_without_room_is_refused() {
        let g = counter();
        let good = plan(&g).unwrap();
        let stem = &g.ops[0];
        let (x, y) = (stem.inputs[0], stem.outputs[0]);
        let ox = good.offsets[x].unwrap();
        for bad_offset in [ox, ox + ARENA_ALIGN, ox - ARENA_ALIGN] {
            let mut bad = good.clone();
            bad.offsets[y] = Some(bad_offset);
            bad.arena_size = bad
                .arena_size
                .max(align_up(bad_offset + g.tensors[y].byte_len()));
            let blob = crate::blob::write(&g, &bad).unwrap();
            match Model::parse(&blob) {
                Err(Error::Plan(PlanError::Overlap { .. })) => {}
                other => panic!("offset {bad_offset}: {other:?}"),
            }
        }
    }
}
