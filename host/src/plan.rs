//! Memory planning: tensor lifetimes → arena offsets.
//!
//! Time steps are the blob's (core/FORMAT.md §6): 0 is the caller writing the
//! inputs, `k + 1` is op `k`, `ops + 1` is the caller reading the outputs.
//! Buffers are placed greedily, largest first, each at the lowest aligned
//! offset that no already-placed buffer alive at the same time uses. A
//! RESHAPE whose data input is an activation of the same byte size writes in
//! place: both tensors are one buffer with the union of their lifetimes.
use anyhow::{ensure, Result};

use crate::graph::{Graph, OpCode, TensorId};

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
    let mut root: Vec<TensorId> = (0..n).collect();
    for op in &graph.ops {
        for &o in &op.outputs {
            if let Some(src) = reshape_source(graph, o) {
                root[o] = root[src];
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
