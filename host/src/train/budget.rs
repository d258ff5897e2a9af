//! Device budgets computed from an [`Arch`]: MACs, weight bytes and the
//! activation arena, so tests can hold both models under the limits
//! (96 KB arena, 64 KB weights, 15 M MACs) before anything is trained.
//!
//! The arena figures here are of the plain layer list. The exporter fuses
//! ops (a conv or ADD reading a resized input through a view, an ADD as a
//! conv's epilogue), so mote's planned arena can be smaller; the 96 KB
//! limit applies to that plan, which `quantize::tests::
//! shipped_architectures_export_within_budget` and `tests/tests/models.rs`
//! hold.
use super::arch::{Arch, Op, TensorId};

/// Arena limit per model, bytes.
pub const ARENA_LIMIT: usize = 96 * 1024;
/// Constant-data limit per model, bytes.
pub const WEIGHT_LIMIT: usize = 64 * 1024;
/// Multiply-accumulate limit per inference.
pub const MAC_LIMIT: u64 = 15_000_000;
/// Alignment of every arena buffer (the runtime's planner aligns to 16).
pub const ALIGN: usize = 16;

/// Multiply-accumulates of one layer (convolutions only; ADD, resize and
/// concatenation are element-wise and counted as zero MACs).
pub fn layer_macs(arch: &Arch, layer: usize) -> u64 {
    let Some(l) = arch.layers.get(layer) else {
        return 0;
    };
    let cin = arch.in_channels(layer).unwrap_or(0) as u64;
    let outs = (l.out.h * l.out.w) as u64;
    match l.op {
        Op::Conv {
            kernel,
            out_channels,
            ..
        } => outs * out_channels as u64 * cin * (kernel * kernel) as u64,
        Op::Depthwise { kernel, .. } => outs * l.out.c as u64 * (kernel * kernel) as u64,
        _ => 0,
    }
}

/// MACs of one inference.
pub fn macs(arch: &Arch) -> u64 {
    (0..arch.layers.len()).map(|i| layer_macs(arch, i)).sum()
}

/// `(weights, biases)` element counts of one layer.
pub fn layer_params(arch: &Arch, layer: usize) -> (usize, usize) {
    let Some(l) = arch.layers.get(layer) else {
        return (0, 0);
    };
    let cin = arch.in_channels(layer).unwrap_or(0);
    match l.op {
        Op::Conv {
            kernel,
            out_channels,
            ..
        } => (out_channels * cin * kernel * kernel, out_channels),
        Op::Depthwise { kernel, .. } => (l.out.c * kernel * kernel, l.out.c),
        _ => (0, 0),
    }
}

/// Deployed parameter count (after batch-norm folding: weights + biases).
pub fn params(arch: &Arch) -> usize {
    (0..arch.layers.len())
        .map(|i| {
            let (w, b) = layer_params(arch, i);
            w + b
        })
        .sum()
}

/// Bytes of int8 weights plus int32 biases.
pub fn weight_bytes(arch: &Arch) -> usize {
    (0..arch.layers.len())
        .map(|i| {
            let (w, b) = layer_params(arch, i);
            w + 4 * b
        })
        .sum()
}

/// [`weight_bytes`] plus the per-channel int32 multiplier and shift the
/// runtime stores for every output channel of a convolution: all the
/// constant data the blob will carry for the layers.
pub fn constant_bytes(arch: &Arch) -> usize {
    let per_channel: usize = (0..arch.layers.len())
        .map(|i| 8 * layer_params(arch, i).1)
        .sum();
    weight_bytes(arch) + per_channel
}

fn aligned(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// `(first, last)` step of every tensor: the input is written at step 0,
/// layer `i` runs at step `i + 1`, and the output is read at the end.
pub fn lifetimes(arch: &Arch) -> Vec<(usize, usize)> {
    let end = arch.layers.len() + 1;
    let mut life: Vec<(usize, usize)> = (0..arch.tensor_count()).map(|t| (t, t)).collect();
    for (i, l) in arch.layers.iter().enumerate() {
        for &t in &l.inputs {
            if let Some(e) = life.get_mut(t) {
                e.1 = e.1.max(i + 1);
            }
        }
    }
    if let Some(e) = life.get_mut(arch.output) {
        e.1 = end;
    }
    life
}

/// Peak of live int8 activation bytes over the layer order (each buffer
/// rounded up to [`ALIGN`]): a lower bound of any arena plan.
pub fn activation_peak(arch: &Arch) -> usize {
    let life = lifetimes(arch);
    (0..=arch.layers.len() + 1)
        .map(|step| {
            life.iter()
                .enumerate()
                .filter(|(_, &(a, b))| a <= step && step <= b)
                .map(|(t, _)| aligned(arch.shape(t).map_or(0, |s| s.len())))
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0)
}

/// The layer step where [`activation_peak`] happens and the tensors alive there.
pub fn peak_step(arch: &Arch) -> (usize, Vec<TensorId>) {
    let life = lifetimes(arch);
    let mut best = (0, 0, Vec::new());
    for step in 0..=arch.layers.len() + 1 {
        let live: Vec<TensorId> = (0..life.len())
            .filter(|&t| life[t].0 <= step && step <= life[t].1)
            .collect();
        let bytes: usize = live
            .iter()
            .map(|&t| aligned(arch.shape(t).map_or(0, |s| s.len())))
            .sum();
        if bytes > best.0 {
            best = (bytes, step, live);
        }
    }
    (best.1, best.2)
}

/// Arena size of a greedy plan like the runtime's: buffers placed largest
/// first, each at the lowest aligned offset not overlapping any placed
/// buffer whose lifetime intersects its own. Fragmentation can make this
/// larger than [`activation_peak`]; the exporter's real plan is authoritative.
pub fn greedy_arena(arch: &Arch) -> usize {
    let life = lifetimes(arch);
    let size = |t: TensorId| aligned(arch.shape(t).map_or(0, |s| s.len()));
    let mut order: Vec<TensorId> = (0..arch.tensor_count()).collect();
    order.sort_by(|&a, &b| size(b).cmp(&size(a)).then(a.cmp(&b)));
    let mut placed: Vec<(TensorId, usize)> = Vec::new();
    let mut arena = 0;
    for t in order {
        let overlaps = |u: TensorId| life[t].0 <= life[u].1 && life[u].0 <= life[t].1;
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|(u, _)| overlaps(*u))
            .map(|&(u, off)| (off, off + size(u)))
            .collect();
        busy.sort_unstable();
        let mut off = 0;
        for (start, end) in busy {
            if off + size(t) <= start {
                break;
            }
            off = off.max(end);
        }
        placed.push((t, off));
        arena = arena.max(off + size(t));
    }
    arena
}

/// A plain-text table of the layers (name, op, output shape, MACs,
/// parameters), for model cards and `--help`-level reports.
pub fn layer_table(arch: &Arch) -> String {
    let mut out = format!(
        "{:<12} {:<22} {:>12} {:>9} {:>7}\n",
        "layer", "op", "output HxWxC", "MACs", "params"
    );
    for (i, l) in arch.layers.iter().enumerate() {
        let op = match l.op {
            Op::Conv { kernel, stride, .. } => format!("conv {kernel}x{kernel}/{stride}"),
            Op::Depthwise { kernel, stride, .. } => format!("depthwise {kernel}x{kernel}/{stride}"),
            Op::Add { .. } => "add".to_string(),
            Op::Concat => "concat".to_string(),
            Op::Upsample { factor, mode } => format!("resize x{factor} {mode:?}"),
        };
        let (w, b) = layer_params(arch, i);
        out.push_str(&format!(
            "{:<12} {:<22} {:>12} {:>9} {:>7}\n",
            l.name,
            op,
            format!("{}x{}x{}", l.out.h, l.out.w, l.out.c),
            layer_macs(arch, i),
            w + b
        ));
    }
    out
}

/// One model's budget figures, for reports and model cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub macs: u64,
    pub params: usize,
    pub weight_bytes: usize,
    pub constant_bytes: usize,
    pub activation_peak: usize,
    pub greedy_arena: usize,
}

impl Budget {
    pub fn of(arch: &Arch) -> Budget {
        Budget {
            macs: macs(arch),
            params: params(arch),
            weight_bytes: weight_bytes(arch),
            constant_bytes: constant_bytes(arch),
            activation_peak: activation_peak(arch),
            greedy_arena: greedy_arena(arch),
        }
    }

    /// Whether the MACs and constant bytes are within the device limits
    /// (the arena is checked on the exported plan, see the module doc).
    pub fn fits(&self) -> bool {
        self.macs <= MAC_LIMIT && self.constant_bytes <= WEIGHT_LIMIT
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} M MACs, {} params, {} B weights+bias ({} B with per-channel requant), \
             activation peak {} B, greedy arena {} B",
            self.macs as f64 / 1e6,
            self.params,
            self.weight_bytes,
            self.constant_bytes,
            self.activation_peak,
            self.greedy_arena
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::arch::{counter, segmenter, Act, ArchBuilder, Shape};
    use super::*;

    #[test]
    fn counts_of_a_hand_checked_net() {
        // 8x8x3 → conv3x3 s1 → 8x8x4 → dw s2 → 4x4x4.
        let mut b = ArchBuilder::new("t", Shape::new(8, 8, 3));
        let a = b.conv("a", 0, 3, 1, 4, Act::Relu).unwrap();
        let d = b.depthwise("d", a, 2).unwrap();
        let arch = b.finish(d, d).unwrap();
        assert_eq!(macs(&arch), 64 * 4 * 3 * 9 + 16 * 4 * 9);
        assert_eq!(params(&arch), (4 * 27 + 4) + (4 * 9 + 4));
        assert_eq!(weight_bytes(&arch), 108 + 16 + 36 + 16);
        // Step 1: input (192) + a (256); step 2: a (256) + d (64).
        assert_eq!(activation_peak(&arch), 192 + 256);
        assert_eq!(greedy_arena(&arch), 192 + 256);
    }

    #[test]
    fn skip_connections_extend_lifetimes() {
        let mut b = ArchBuilder::new("t", Shape::new(4, 4, 16));
        let a = b.conv_plain("a", 0, 1, 1, 16, Act::None).unwrap();
        let c = b.conv_plain("c", a, 1, 1, 16, Act::None).unwrap();
        let d = b.conv_plain("d", c, 1, 1, 16, Act::None).unwrap();
        let s = b.add("s", a, d, Act::None).unwrap();
        let arch = b.finish(s, s).unwrap();
        // At "d": a (kept for the add), c and d alive = 3 * 256.
        // At "s": a, d, s alive = 3 * 256.
        assert_eq!(activation_peak(&arch), 768);
        assert_eq!(lifetimes(&arch)[a], (1, 4));
    }

    #[test]
    fn both_models_fit_the_device_budgets() {
        for arch in [segmenter().unwrap(), counter().unwrap()] {
            let b = Budget::of(&arch);
            println!("{}: {b}\n{}", arch.name, layer_table(&arch));
            assert!(b.macs <= MAC_LIMIT, "{}: {b}", arch.name);
            assert!(b.constant_bytes <= WEIGHT_LIMIT, "{}: {b}", arch.name);
            // Unfused, the segmenter's layer list peaks at 101,376 B; its
            // exported plan is 96,768 B (the arena limit is checked there).
            assert!(b.greedy_arena >= b.activation_peak);
            assert!(b.fits());
        }
    }
}
