//! DEPTHWISE_CONV_2D (depth multiplier 1, channels a multiple of 4), row
//! by row over a small ring of sign-extended input rows.
//!
//! Each input row a window needs is sign-extended once into the ring (with
//! the padding columns and rows set to `-input_offset`, so the window loop
//! has no bounds tests), and then read by every output row whose window
//! covers it. Per output pixel, 4 channels at a time: a tap is one pair of
//! input words and one pair of filter words feeding SMLABB/SMLATT into four
//! accumulators (channels `c, c+2` in one word, `c+1, c+3` in the other,
//! as SXTB16 leaves them).

#[cfg(not(mote_dsp))]
use super::dsp::{smlabb, smlatt};
use super::dsp::{sxtb16, sxtb16_ror8};
use super::{weight_sums, Clamp, Requant};
use crate::kernels::depthwise_conv2d::Params;
use crate::kernels::{KernelError, PerChannel, View, ViewMut};
use crate::le::I32s;

/// Ring of input rows, in pair words (5 KiB).
const RING_WORDS: usize = 1280;
/// Most rows in the ring (`(kh - 1) * dilation_h + 1`).
const MAX_ROWS: usize = 8;
/// Filter scratch, in pair words.
const W_WORDS: usize = 576;
/// Most channels.
const MAX_C: usize = 64;

/// Runs DEPTHWISE_CONV_2D on the fast path ([`super::depthwise3x3`] for
/// 3x3 filters at stride 1 or 2, the ring of 4-channel groups below for
/// the rest), or returns `Ok(false)` for a case it does not handle (depth
/// multiplier over 1, channels not a multiple of 4 or over [`MAX_C`],
/// scratch too small, requantization outside [`Requant`]'s range). The
/// caller has validated every operand.
pub(crate) fn eval(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<bool, KernelError> {
    let out = ViewMut::new(output.shape, &mut *output.data);
    if super::depthwise3x3::eval(p, input, filter, bias, quant, out)? {
        return Ok(true);
    }
    general(p, input, filter, bias, quant, output)
}

/// Any filter size, stride and dilation (what [`super::depthwise3x3`]
/// declines). Not inlined, like that path: each keeps its scratch in its
/// own frame, so the stack holds one of them at a time.
#[inline(never)]
fn general(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<bool, KernelError> {
    let (fs, os) = (filter.shape, output.shape);
    let c = os.c;
    let (kh, kw) = (fs.h, fs.w);
    let taps = kh * kw;
    let rows = (kh - 1) * p.dilation_h + 1;
    let wp = os.w.saturating_sub(1) * p.stride_w + (kw - 1) * p.dilation_w + 1;
    let half = c / 2;
    let row_words = wp * half;
    if p.depth_multiplier != 1
        || c % 4 != 0
        || c == 0
        || c > MAX_C
        || taps * half > W_WORDS
        || rows > MAX_ROWS
        || rows * row_words > RING_WORDS
        || os.w == 0
    {
        return Ok(false);
    }

    // Filter -> pair words [tap][group]{(c, c+2), (c+1, c+3)}; requant.
    let mut wbuf = [0u32; W_WORDS];
    let mut reqs = [Requant::default(); MAX_C];
    for (ch, r) in reqs.iter_mut().enumerate().take(c) {
        let ws = (0..taps).filter_map(|t| filter.data.get(t * c + ch).copied());
        let (sum, sum_abs) = weight_sums(ws);
        let b = match bias {
            Some(b) => b.get(ch).ok_or(KernelError::Length)?,
            None => 0,
        };
        let m = quant.multiplier.get(ch).ok_or(KernelError::Length)?;
        let s = quant.shift.get(ch).ok_or(KernelError::Length)?;
        match Requant::new(b, sum, sum_abs, p.input_offset, m, s, p.output_offset) {
            Some(q) => *r = q,
            None => return Ok(false),
        }
    }
    // Filter pairs per group of 4 channels, all taps of a group in a row
    // (the tap loop walks them with one post-incremented pointer).
    let wwords = wbuf.get_mut(..taps * half).ok_or(KernelError::Length)?;
    for (gt, dst) in wwords.chunks_exact_mut(2).enumerate() {
        let (g, t) = (gt / taps, gt % taps);
        let src = filter
            .data
            .get(t * c + 4 * g..t * c + 4 * g + 4)
            .ok_or(KernelError::Length)?;
        unpack(src, dst);
    }
    let wwords = &*wwords;

    let pad = (-p.input_offset) as i8 as u8;
    let pad_word = u32::from_le_bytes([pad; 4]);
    let pad_pair = [sxtb16(pad_word), sxtb16_ror8(pad_word)];
    let clamp = Clamp::new(p.act_min, p.act_max);
    let mut ring = [0u32; RING_WORDS];
    let ring = ring
        .get_mut(..rows * row_words)
        .ok_or(KernelError::Length)?;
    let mut pixels = output.data.chunks_exact_mut(c);

    for b in 0..os.n {
        let mut tags = [i64::MIN; MAX_ROWS];
        for oy in 0..os.h {
            let iy0 = (oy * p.stride_h) as i64 - p.pad_h as i64;
            let mut bases = [0usize; MAX_ROWS];
            for (fy, base) in bases.iter_mut().enumerate().take(kh) {
                let iy = iy0 + (fy * p.dilation_h) as i64;
                let slot = iy.rem_euclid(rows as i64) as usize;
                let tag = tags.get_mut(slot).ok_or(KernelError::Length)?;
                let dst = ring
                    .get_mut(slot * row_words..(slot + 1) * row_words)
                    .ok_or(KernelError::Length)?;
                if *tag != iy {
                    fill_row(input, b, iy, p.pad_w, dst, pad_pair)?;
                    *tag = iy;
                }
                *base = slot * row_words;
            }
            let ring = &*ring;
            for ox in 0..os.w {
                let out_px = pixels.next().ok_or(KernelError::Length)?;
                let col0 = ox * p.stride_w;
                let mut outs = out_px.chunks_exact_mut(4);
                for (g, (out4, rq)) in outs.by_ref().zip(reqs.chunks_exact(4)).enumerate() {
                    let (mut a0, mut a1, mut a2, mut a3) =
                        (rq[0].bias, rq[1].bias, rq[2].bias, rq[3].bias);
                    let mut wi = 2 * g * taps;
                    for &base in bases.iter().take(kh) {
                        let xi = base + col0 * half + 2 * g;
                        [a0, a1, a2, a3] = row_taps(
                            ring,
                            xi,
                            p.dilation_w * half,
                            wwords,
                            wi,
                            kw,
                            [a0, a1, a2, a3],
                        )?;
                        wi += 2 * kw;
                    }
                    out4[0] = clamp.apply::<false>(rq[0].apply(a0));
                    out4[1] = clamp.apply::<false>(rq[1].apply(a1));
                    out4[2] = clamp.apply::<false>(rq[2].apply(a2));
                    out4[3] = clamp.apply::<false>(rq[3].apply(a3));
                }
            }
        }
    }
    Ok(true)
}

/// One window row of 4 channels: `kw` taps, input pairs at `ring[xi..]`
/// every `xstep` words, filter pairs at `w[wi..]` every 2 words. Checks the
/// whole extent first, then runs unchecked (in assembly on arm).
#[inline(always)]
fn row_taps(
    ring: &[u32],
    xi: usize,
    xstep: usize,
    w: &[u32],
    wi: usize,
    kw: usize,
    acc: [i32; 4],
) -> Result<[i32; 4], KernelError> {
    let x_end = xi + (kw - 1) * xstep + 2;
    let w_end = wi + 2 * kw;
    if kw == 0 || x_end > ring.len() || w_end > w.len() {
        return Err(KernelError::Length);
    }
    Ok(row_taps_checked(ring, xi, xstep, w, wi, kw, acc))
}

/// [`row_taps`] after its check, portable version.
#[cfg(not(mote_dsp))]
#[inline(always)]
fn row_taps_checked(
    ring: &[u32],
    xi: usize,
    xstep: usize,
    w: &[u32],
    wi: usize,
    kw: usize,
    [mut a0, mut a1, mut a2, mut a3]: [i32; 4],
) -> [i32; 4] {
    for fx in 0..kw {
        let x = xi + fx * xstep;
        // In range by `row_taps`'s check; `get` keeps a slip from panicking.
        let at = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
        let (x0, x1) = (at(ring, x), at(ring, x + 1));
        let (w0, w1) = (at(w, wi + 2 * fx), at(w, wi + 2 * fx + 1));
        a0 = smlabb(x0, w0, a0);
        a2 = smlatt(x0, w0, a2);
        a1 = smlabb(x1, w1, a1);
        a3 = smlatt(x1, w1, a3);
    }
    [a0, a1, a2, a3]
}

/// [`row_taps`] after its check, in assembly: per tap one LDRD of input,
/// two LDRs of filter, four SMLAxy (same arithmetic and order as above).
#[cfg(mote_dsp)]
#[inline(always)]
fn row_taps_checked(
    ring: &[u32],
    xi: usize,
    xstep: usize,
    w: &[u32],
    wi: usize,
    kw: usize,
    [mut a0, mut a1, mut a2, mut a3]: [i32; 4],
) -> [i32; 4] {
    // SAFETY: `row_taps` checked `kw >= 1`, that the last input pair
    // (`xi + (kw-1) * xstep`, 2 words) lies in `ring` and the last filter
    // pair (`wi + 2 * kw` words) in `w`; the loop reads exactly those
    // `kw` pairs of each. `u32` slices are 4-aligned, as LDRD needs.
    unsafe {
        core::arch::asm!(
            "2:",
            "ldrd {x0}, {x1}, [{xp}]",
            "add {xp}, {xp}, {xs}",
            "ldr {w}, [{wp}], #4",
            "smlabb {a0}, {x0}, {w}, {a0}",
            "smlatt {a2}, {x0}, {w}, {a2}",
            "ldr {w}, [{wp}], #4",
            "smlabb {a1}, {x1}, {w}, {a1}",
            "smlatt {a3}, {x1}, {w}, {a3}",
            "subs {n}, {n}, #1",
            "bne 2b",
            xp = inout(reg) ring.as_ptr().add(xi) => _,
            xs = in(reg) xstep * 4,
            wp = inout(reg) w.as_ptr().add(wi) => _,
            n = inout(reg) kw => _,
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            x0 = out(reg) _,
            x1 = out(reg) _,
            w = out(reg) _,
            options(nostack, readonly),
        );
    }
    [a0, a1, a2, a3]
}

/// Sign-extends int8 `src` (a multiple of 4 long) into pair words.
fn unpack(src: &[i8], dst: &mut [u32]) {
    for (q, d) in src.chunks_exact(4).zip(dst.chunks_exact_mut(2)) {
        let w = u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]);
        d[0] = sxtb16(w);
        d[1] = sxtb16_ror8(w);
    }
}

/// Fills one ring row with input row `iy` of batch `b`, from column
/// `-pad_w` on: padding rows and columns get `pad`.
fn fill_row(
    input: View<'_>,
    b: usize,
    iy: i64,
    pad_w: usize,
    dst: &mut [u32],
    pad: [u32; 2],
) -> Result<(), KernelError> {
    let s = input.shape;
    let half = s.c / 2;
    let row = usize::try_from(iy).ok().filter(|&y| y < s.h);
    for (col, d) in dst.chunks_exact_mut(half).enumerate() {
        let ix = col.checked_sub(pad_w).filter(|&x| x < s.w);
        match (row, ix) {
            (Some(y), Some(x)) => {
                let at = ((b * s.h + y) * s.w + x) * s.c;
                let src = input.data.get(at..at + s.c).ok_or(KernelError::Length)?;
                unpack(src, d);
            }
            _ => {
                for pair in d.chunks_exact_mut(2) {
                    pair[0] = pad[0];
                    pair[1] = pad[1];
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::testutil::*;
    use super::*;
    use crate::kernels::depthwise_conv2d::tests::geometry;
    use crate::kernels::depthwise_conv2d::{eval_portable, prepare, Options};
    use crate::kernels::{Activation, Padding, Quant, Shape4};
    use proptest::prelude::*;

    type Case = ConvCase<Params>;

    /// Shapes around what the fast path distinguishes: channel counts
    /// (multiples of 4 and not), depth multipliers, filter sizes, strides,
    /// dilations, SAME/VALID, batches (the ring restarts per image).
    fn case() -> impl Strategy<Value = Case> {
        (
            (1usize..=2, 1usize..=11, 1usize..=11),
            prop_oneof![Just(4usize), Just(8), Just(16), 1usize..=24],
            (1usize..=2, 1usize..=4, 1usize..=4),
            (
                1usize..=3,
                1usize..=3,
                1usize..=2,
                1usize..=2,
                any::<bool>(),
            ),
            (zero_point(), zero_point(), clamp_range()),
        )
            .prop_filter_map(
                "valid geometry",
                |((n, h, w), c, (dm, kh, kw), (sh, sw, dh, dw, same), (zi, zo, act))| {
                    let input = Shape4::new(n, h, w, c);
                    let filter = Shape4::new(1, kh, kw, c * dm);
                    geometry(input, filter, (sh, sw), (dh, dw), same, (zi, zo), act)
                },
            )
            .prop_flat_map(|(input, filter, output, p)| {
                conv_case(input, filter, output, p, filter.c)
            })
    }

    /// Runs the fast path (`None` when it declines) and the portable one.
    fn run(c: &Case) -> (Option<Vec<i8>>, Vec<i8>) {
        run_fast_and_portable(c, eval, eval_portable)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn fast_depthwise_is_bit_exact(c in case()) {
            let (fast, slow) = run(&c);
            let eligible = c.p.depth_multiplier == 1
                && c.input.c % 4 == 0
                // At most 16 taps: every left shift up to 7 fits.
                && shifts_within(&c.shift, 7);
            if eligible {
                prop_assert!(fast.is_some(), "declined");
            }
            if let Some(fast) = fast {
                prop_assert_eq!(fast, slow);
            }
        }
    }

    /// The issue's depthwise shape (smaller spatially) takes the fast path.
    #[test]
    fn issue_shape_takes_the_fast_path() {
        let input = Shape4::new(1, 9, 13, 16);
        let filter = Shape4::new(1, 3, 3, 16);
        let opts = Options {
            padding: Padding::Same,
            stride_h: 1,
            stride_w: 1,
            dilation_h: 1,
            dilation_w: 1,
            activation: Activation::Relu6,
        };
        let (p, output) = prepare(
            &opts,
            input,
            filter,
            Quant::new(0.02, 7),
            Quant::new(0.03, -9),
        )
        .unwrap();
        let n = |s: Shape4| s.elements().unwrap();
        let case = Case {
            input,
            filter,
            output,
            p,
            x: (0..n(input)).map(|i| (i * 37 % 256) as u8 as i8).collect(),
            w: (0..n(filter)).map(|i| (i * 91 % 255) as u8 as i8).collect(),
            bias: Some((0..16).map(|i| i * 700 - 5000).collect()),
            mult: (0..16).map(|i| (1 << 30) + i * 54321).collect(),
            shift: (0..16).map(|i| -(i % 7) - 2).collect(),
        };
        let (fast, slow) = run(&case);
        assert_eq!(fast.as_ref(), Some(&slow));
        assert!(slow.iter().any(|&v| v != slow[0]), "degenerate output");
    }
}
