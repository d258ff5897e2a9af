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
use anyhow::{ensure, Result};

use crate::graph::{Graph, Op, OpCode, TensorId};

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

/// A buffer's `(size, first, last)`: bytes and the time steps it is alive.
type Span = (usize, u16, u16);

/// A sort key giving a placement order.
type OrderKey = fn(&Span) -> (i64, i64);

/// First-fit placement of `(size, first, last)` buffers in `order`: each at
/// the lowest aligned offset free of every already-placed buffer alive at
/// the same time. Returns the arena size and each buffer's offset.
fn place(spans: &[Span], order: &[usize]) -> (usize, Vec<usize>) {
    let mut offsets: Vec<Option<usize>> = vec![None; spans.len()];
    let mut arena_size = 0;
    for &b in order {
        let (size, first, last) = spans[b];
        let mut busy: Vec<(usize, usize)> = spans
            .iter()
            .zip(&offsets)
            .filter(|((_, f, l), _)| *f <= last && first <= *l)
            .filter_map(|((s, _, _), off)| off.map(|o| (o, o + s)))
            .collect();
        busy.sort_unstable();
        let mut offset = 0;
        for (start, end) in busy {
            if offset + size <= start {
                break;
            }
            offset = offset.max(align_up(end));
        }
        offsets[b] = Some(offset);
        arena_size = arena_size.max(offset + size);
    }
    (
        arena_size,
        offsets.into_iter().map(|o| o.unwrap_or(0)).collect(),
    )
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
    struct Buffer {
        root: TensorId,
        size: usize,
        first: u16,
        last: u16,
        offset: Option<usize>,
    }
    let mut buffers: Vec<Buffer> = Vec::new();
    let mut buffer_of = vec![None; n];
    for id in 0..n {
        let Some((first, last)) = life[id] else {
            continue;
        };
        let r = root[id];
        let b = match buffers.iter().position(|b| b.root == r) {
            Some(b) => {
                buffers[b].first = buffers[b].first.min(first);
                buffers[b].last = buffers[b].last.max(last);
                b
            }
            None => {
                buffers.push(Buffer {
                    root: r,
                    size: graph.tensors[id].byte_len(),
                    first,
                    last,
                    offset: None,
                });
                buffers.len() - 1
            }
        };
        buffer_of[id] = Some(b);
    }

    // Greedy first-fit placement depends on the order buffers are placed
    // in, and no single order wins on every graph (largest-first can strand
    // a small long-lived buffer above the big ones). Try a few classic
    // orders and keep the smallest arena; ties keep the earlier order.
    let spans: Vec<Span> = buffers.iter().map(|b| (b.size, b.first, b.last)).collect();
    let orders: [OrderKey; 3] = [
        // Largest first, then earliest.
        |&(size, first, _)| (-(size as i64), i64::from(first)),
        // In order of first use (linear scan), larger first on ties.
        |&(size, first, _)| (i64::from(first), -(size as i64)),
        // Largest size x lifetime first.
        |&(size, first, last)| {
            (
                -((size as i64) * (i64::from(last - first) + 1)),
                i64::from(first),
            )
        },
    ];
    let mut best: Option<(usize, Vec<usize>)> = None;
    for key in orders {
        let mut order: Vec<usize> = (0..spans.len()).collect();
        order.sort_by_key(|&b| key(&spans[b]));
        let (size, offsets) = place(&spans, &order);
        if best.as_ref().is_none_or(|(s, _)| size < *s) {
            best = Some((size, offsets));
        }
    }
    let (arena_size, placed) = best.unwrap_or((0, Vec::new()));
    for (b, off) in buffers.iter_mut().zip(placed) {
        b.offset = Some(off);
    }

    let offsets = (0..n)
        .map(|id| buffer_of[id].and_then(|b: usize| buffers[b].offset))
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
