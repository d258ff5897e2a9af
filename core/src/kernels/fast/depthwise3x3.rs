//! DEPTHWISE_CONV_2D with a 3x3 filter, dilation 1 and horizontal stride 1
//! or 2 (every depthwise layer of the shipped models): one channel at a
//! time, two output pixels per step, the taps of a filter row paired so
//! that SMLAD does two of them at once.
//!
//! Why channel by channel: in NHWC a word holds four channels, and SMLAD
//! would add products of different channels. Here each input row is
//! stored *planar* in a ring (one plane of sign-extended halfwords per
//! channel, padding columns and rows set to `-input_offset`), so a word
//! holds two neighbouring columns of one channel. With a filter row's
//! pairs `F = (w0, w1)`, `G = (w1, w2)` and the row's words
//! `A = (x0, x1)`, `B = (x2, x3)`, `C = (x4, x5)`:
//! - stride 1: `out0 = x0 w0 + x1 w1 + x2 w2 = SMLAD(A, F) + SMLABT(B, G)`,
//!   `out1 = x1 w0 + x2 w1 + x3 w2 = SMLATB(A, F) + SMLAD(B, G)`;
//! - stride 2: `out0` as above, `out1 = x2 w0 + x3 w1 + x4 w2 =
//!   SMLAD(B, F) + SMLABT(C, G)`.
//!
//! That is 12 multiply instructions and 6 LDRDs for 18 MACs; a whole pair
//! (bias, taps, requantization, clamp, two stores) is one `asm!` of 32
//! instructions using all twelve allocatable registers, which is why two
//! pixels and not four: four would need five more. One channel per sweep
//! also means one channel's requantization for the whole sweep: its
//! constants sit in a small record ([`Chan`]) next to its filter words.
//!
//! The requantization's left shift (`lsh`, at most 8, see [`Requant`]) is
//! folded into the filter and the bias: `(w << lsh) * x` summed equals
//! `acc << lsh` modulo 2^32, which is what [`Requant::apply`] shifts (and
//! `w << 8` still fits an `i16` for int8 `w`). Per output that leaves
//! SMMLAR (high word, rounding constant and sign correction at once, see
//! [`Chan::out`]), the right shift and the clamp.
//!
//! Filling the ring is the other cost: per two columns of four channels,
//! two LDRs, four SXTB16, four PKHBT/PKHTB and four STRs ([`interior`]).
//! Channels are taken in blocks that fit the ring, so any channel count up
//! to [`MAX_C`] runs here; each input element is sign-extended once per
//! block pass, as in [`super::depthwise`]. The scratch (ring and records,
//! 8 KiB) is no larger than the general kernel's, and the two never
//! share a frame.

use super::dsp::{smlabt, smlad, smlatb, smmlar, ssat8, sxtb16, sxtb16_ror8};
use super::{weight_sums, Requant};
use crate::kernels::depthwise_conv2d::Params;
use crate::kernels::{KernelError, PerChannel, View, ViewMut};
use crate::le::I32s;

/// Ring of planar input rows, in halfword-pair words (5 KiB).
const RING_WORDS: usize = 1280;
/// Rows of a 3x3 window (dilation 1).
const ROWS: usize = 3;
/// Most channels: the channel records live on the stack (48 B each), and
/// the widest shipped depthwise layer has 96 channels.
const MAX_C: usize = 96;

/// One channel's filter and requantization, read by the assembly at fixed
/// offsets (hence `repr(C)`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct Chan {
    /// Per filter row `fy`: `w[2 fy] = (w0, w1)`, `w[2 fy + 1] = (w1, w2)`,
    /// each tap shifted left by `lsh`.
    w: [u32; 6],
    /// [`Requant::bias`] shifted left by `lsh` (wrapping).
    bias: i32,
    /// [`Requant::mult`].
    mult: i32,
    /// [`Requant::round`].
    round: i32,
    /// [`Requant::rsh`].
    rsh: u32,
    /// The activation clamp's low end.
    lo: i32,
    /// The activation clamp's high end.
    hi: i32,
}

impl Chan {
    /// An all-zero record (what unused slots of the scratch hold).
    const ZERO: Self = Self {
        w: [0; 6],
        bias: 0,
        mult: 0,
        round: 0,
        rsh: 0,
        lo: 0,
        hi: 0,
    };

    /// The record of a channel with taps `t` (row-major) and
    /// requantization `q` (whose `lsh` is at most 8).
    fn new(t: &[i8; 9], q: &Requant, lo: i32, hi: i32) -> Self {
        let tap = |i: usize| (i16::from(t[i])).wrapping_shl(q.lsh);
        let mut w = [0u32; 6];
        for (fy, pairs) in w.chunks_exact_mut(2).enumerate() {
            pairs[0] = super::dsp::pair(tap(3 * fy), tap(3 * fy + 1));
            pairs[1] = super::dsp::pair(tap(3 * fy + 1), tap(3 * fy + 2));
        }
        Self {
            w,
            bias: q.bias.wrapping_shl(q.lsh),
            mult: q.mult,
            round: q.round,
            rsh: q.rsh,
            lo,
            hi,
        }
    }

    /// Requantizes and clamps one accumulator (already shifted by `lsh`):
    /// [`Requant::apply`] after its left shift, then the clamp. `SHIFT`
    /// must be `rsh > 0`, `FULL` whether the clamp spans int8 (SSAT alone).
    ///
    /// SMMLAR adds `round` and the rounding's sign correction to the
    /// product's high word in one instruction. The correction is taken from
    /// the sign of `acc` instead of `h = smmulr(acc, mult)`: they differ
    /// only when `acc < 0` and `h = 0` (`mult >= 0`), and there
    /// `2^(rsh-1) - 1` and `2^(rsh-1)` floor to the same multiple of
    /// `2^rsh`, so the result is the same.
    #[inline(always)]
    fn out<const FULL: bool, const SHIFT: bool>(&self, acc: i32) -> i8 {
        let v = if SHIFT {
            smmlar(acc, self.mult, self.round.wrapping_add(acc >> 31)) >> self.rsh
        } else {
            smmlar(acc, self.mult, self.round)
        };
        if FULL {
            ssat8(v) as i8
        } else {
            // `lo <= hi` lie within int8 (checked params), so no SSAT.
            v.max(self.lo).min(self.hi) as i8
        }
    }
}

/// Runs DEPTHWISE_CONV_2D on this path, or returns `Ok(false)` when the
/// case is not one it handles (filter not 3x3, dilation, stride over 2,
/// depth multiplier over 1, channels not a multiple of 4 or over
/// [`MAX_C`], rows too wide for the ring, requantization outside
/// [`Requant`]'s range). The caller has validated every operand.
///
/// Not inlined: its scratch must not add to its caller's frame (the
/// general fast kernel's).
#[inline(never)]
pub(crate) fn eval(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<bool, KernelError> {
    let (fs, os) = (filter.shape, output.shape);
    let c = os.c;
    if p.depth_multiplier != 1
        || (fs.h, fs.w) != (3, 3)
        || (p.dilation_h, p.dilation_w) != (1, 1)
        || !(1..=2).contains(&p.stride_w)
        || c % 4 != 0
        || c == 0
        || c > MAX_C
        || os.w == 0
    {
        return Ok(false);
    }
    // Words per plane: the columns the last (possibly lone) pixel reads.
    let plane = if p.stride_w == 1 {
        os.w.div_ceil(2) + 1
    } else {
        os.w + 1
    };
    let block = (RING_WORDS / (ROWS * plane)) / 4 * 4;
    if block == 0 {
        return Ok(false);
    }
    let block = block.min(c);

    let mut chans = [Chan::ZERO; MAX_C];
    let chans = chans.get_mut(..c).ok_or(KernelError::Length)?;
    if !records(p, filter, bias, quant, chans)? {
        return Ok(false);
    }
    let chans = &*chans;
    let full = p.act_min <= -128 && p.act_max >= 127;
    let geo = Geometry {
        stride: p.stride_w,
        plane,
        c,
        ow: os.w,
    };

    let pad = (-p.input_offset) as i8 as u8;
    let pad_word = u32::from_le_bytes([pad; 4]);
    let mut ring = [0u32; RING_WORDS];
    let slot_words = block * plane;
    for c0 in (0..c).step_by(block) {
        let n = block.min(c - c0);
        for b in 0..os.n {
            let mut tags = [i64::MIN; ROWS];
            for oy in 0..os.h {
                let iy0 = (oy * p.stride_h) as i64 - p.pad_h as i64;
                let mut slots = [0usize; ROWS];
                for (fy, slot) in slots.iter_mut().enumerate() {
                    let iy = iy0 + fy as i64;
                    *slot = iy.rem_euclid(ROWS as i64) as usize;
                    let tag = tags.get_mut(*slot).ok_or(KernelError::Length)?;
                    if *tag != iy {
                        let dst = ring
                            .get_mut(*slot * slot_words..)
                            .and_then(|r| r.get_mut(..n * plane))
                            .ok_or(KernelError::Length)?;
                        fill_row(input, b, iy, p.pad_w, c0, plane, dst, pad_word)?;
                        *tag = iy;
                    }
                }
                let at = (b * os.h + oy) * os.w * c;
                let out_row = output
                    .data
                    .get_mut(at..at + os.w * c)
                    .ok_or(KernelError::Length)?;
                let [r0, r1, r2] = slots.map(|slot| {
                    ring.get(slot * slot_words..)
                        .and_then(|r| r.get(..n * plane))
                        .ok_or(KernelError::Length)
                });
                let rows = [r0?, r1?, r2?];
                let block_chans = chans.get(c0..c0 + n).ok_or(KernelError::Length)?;
                let out = out_row.get_mut(c0..).ok_or(KernelError::Length)?;
                match (geo.stride, full) {
                    (1, true) => block_row::<1, true>(&geo, rows, block_chans, out)?,
                    (1, false) => block_row::<1, false>(&geo, rows, block_chans, out)?,
                    (_, true) => block_row::<2, true>(&geo, rows, block_chans, out)?,
                    (_, false) => block_row::<2, false>(&geo, rows, block_chans, out)?,
                }
            }
        }
    }
    Ok(true)
}

/// Fills one [`Chan`] per output channel (`chans.len()` of them), or
/// returns `Ok(false)` when a channel's requantization is outside
/// [`Requant`]'s range.
fn records(
    p: &Params,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    chans: &mut [Chan],
) -> Result<bool, KernelError> {
    let c = chans.len();
    for (ch, rec) in chans.iter_mut().enumerate() {
        let mut taps = [0i8; 9];
        for (t, v) in taps.iter_mut().enumerate() {
            *v = *filter.data.get(t * c + ch).ok_or(KernelError::Length)?;
        }
        let (sum, sum_abs) = weight_sums(taps.iter().copied());
        let b = match bias {
            Some(b) => b.get(ch).ok_or(KernelError::Length)?,
            None => 0,
        };
        let m = quant.multiplier.get(ch).ok_or(KernelError::Length)?;
        let s = quant.shift.get(ch).ok_or(KernelError::Length)?;
        match Requant::new(b, sum, sum_abs, p.input_offset, m, s, p.output_offset) {
            Some(q) => *rec = Chan::new(&taps, &q, p.act_min, p.act_max),
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// What a sweep needs to know of the layer.
struct Geometry {
    /// Horizontal stride, 1 or 2.
    stride: usize,
    /// Words per ring plane.
    plane: usize,
    /// Channels (the output's pixel stride).
    c: usize,
    /// Output width.
    ow: usize,
}

/// One output row of a block of channels: `rows` are the block's three
/// window rows (channel `k`'s plane at `rows[fy][k * plane..]`), `out` the
/// output row from the block's first channel on (channel `k`, pixel `x` at
/// `out[k + x * c]`). Checks the whole block's extent once; pairs of pixels
/// go through [`pairs`], an odd width's last pixel through [`last_pixel`].
#[inline(always)]
fn block_row<const S: usize, const FULL: bool>(
    g: &Geometry,
    rows: [&[u32]; ROWS],
    chans: &[Chan],
    out: &mut [i8],
) -> Result<(), KernelError> {
    let n = chans.len();
    let np = g.ow / 2;
    // Words the pairs read: stride 1 `j, j + 1`, stride 2 `2j ..= 2j + 2`.
    let read = if S == 1 { np + 1 } else { 2 * np + 1 };
    if n == 0
        || g.ow == 0
        || g.plane < read
        || rows.iter().any(|r| r.len() < n * g.plane)
        || (g.ow - 1) * g.c + n > out.len()
    {
        return Err(KernelError::Length);
    }
    if np > 0 {
        pairs::<S, FULL>(rows, g.plane, chans, out, g.c, np);
    }
    if g.ow % 2 == 1 {
        last_pixel(g, S, FULL, rows, chans, out, np)?;
    }
    Ok(())
}

/// An odd width's last pixel (pixel `2 np`) of every channel of a block,
/// after [`block_row`]'s check. Rare enough to stay one function (the
/// stride and the clamp are arguments, not parameters).
#[inline(never)]
fn last_pixel(
    g: &Geometry,
    stride: usize,
    full: bool,
    rows: [&[u32]; ROWS],
    chans: &[Chan],
    out: &mut [i8],
    np: usize,
) -> Result<(), KernelError> {
    for (k, q) in chans.iter().enumerate() {
        let span = k * g.plane..(k + 1) * g.plane;
        let [r0, r1, r2] = rows.map(|r| r.get(span.clone()).ok_or(KernelError::Length));
        let acc = lone([r0?, r1?, r2?], q, stride * np)?;
        let v = match (full, q.rsh > 0) {
            (true, true) => q.out::<true, true>(acc),
            (true, false) => q.out::<true, false>(acc),
            (false, true) => q.out::<false, true>(acc),
            (false, false) => q.out::<false, false>(acc),
        };
        *out.get_mut(k + (g.ow - 1) * g.c)
            .ok_or(KernelError::Length)? = v;
    }
    Ok(())
}

/// The accumulator of a pixel whose window starts at word `i` of each row
/// (words `i`, `i + 1`: `SMLAD(A, F) + SMLABT(B, G)`).
fn lone(rows: [&[u32]; ROWS], q: &Chan, i: usize) -> Result<i32, KernelError> {
    let mut acc = q.bias;
    for (fy, r) in rows.iter().enumerate() {
        let (a, b) = (
            r.get(i).copied().ok_or(KernelError::Length)?,
            r.get(i + 1).copied().ok_or(KernelError::Length)?,
        );
        acc = smlabt(b, q.w[2 * fy + 1], smlad(a, q.w[2 * fy], acc));
    }
    Ok(acc)
}

/// `np` pixel pairs of every channel of a block, plain Rust (the
/// algorithm the assembly runs). [`block_row`] checked that every plane has
/// the words the pairs read and that `out` reaches every pixel written.
#[cfg(not(mote_dsp))]
fn pairs<const S: usize, const FULL: bool>(
    rows: [&[u32]; ROWS],
    plane: usize,
    chans: &[Chan],
    out: &mut [i8],
    c: usize,
    np: usize,
) {
    for (k, q) in chans.iter().enumerate() {
        let planes = rows.map(|r| r.get(k * plane..).unwrap_or(&[]));
        let out = out.get_mut(k..).unwrap_or(&mut []);
        if q.rsh > 0 {
            channel_pairs::<S, FULL, true>(planes, q, out, c, np);
        } else {
            channel_pairs::<S, FULL, false>(planes, q, out, c, np);
        }
    }
}

/// [`pairs`] for one channel.
#[cfg(not(mote_dsp))]
fn channel_pairs<const S: usize, const FULL: bool, const SHIFT: bool>(
    rows: [&[u32]; ROWS],
    q: &Chan,
    out: &mut [i8],
    c: usize,
    np: usize,
) {
    // In range by the caller's check; `unwrap_or` keeps a slip from panicking.
    let at = |r: &[u32], i: usize| r.get(i).copied().unwrap_or(0);
    for (k, px) in out.chunks_mut(2 * c).take(np).enumerate() {
        let (mut s0, mut s1) = (q.bias, q.bias);
        for (fy, r) in rows.iter().enumerate() {
            let (f, g) = (q.w[2 * fy], q.w[2 * fy + 1]);
            if S == 1 {
                let (a, b) = (at(r, k), at(r, k + 1));
                s0 = smlabt(b, g, smlad(a, f, s0));
                s1 = smlad(b, g, smlatb(a, f, s1));
            } else {
                let (a, b, cc) = (at(r, 2 * k), at(r, 2 * k + 1), at(r, 2 * k + 2));
                s0 = smlabt(b, g, smlad(a, f, s0));
                s1 = smlabt(cc, g, smlad(b, f, s1));
            }
        }
        if let Some(v) = px.first_mut() {
            *v = q.out::<FULL, SHIFT>(s0);
        }
        if let Some(v) = px.get_mut(c) {
            *v = q.out::<FULL, SHIFT>(s1);
        }
    }
}

/// One filter row of a stride-1 pair: LDRD of the row's words `A, B`
/// (post-incremented to the next pair), LDRD of `F, G` at `$w` bytes into
/// the record, four multiplies; `$a0`, `$a1` are the accumulators read.
#[cfg(mote_dsp)]
macro_rules! row_s1 {
    ($p:literal, $w:literal, $a0:literal, $a1:literal) => {
        concat!(
            "ldrd {a}, {b}, [{",
            $p,
            "}], #4\n",
            "ldrd {f}, {g}, [{q}, #",
            $w,
            "]\n",
            "smlad {s0}, {a}, {f}, {",
            $a0,
            "}\n",
            "smlatb {s1}, {a}, {f}, {",
            $a1,
            "}\n",
            "smlabt {s0}, {b}, {g}, {s0}\n",
            "smlad {s1}, {b}, {g}, {s1}\n",
        )
    };
}

/// [`row_s1!`] for stride 2: words `A, B` by LDRD (post-incremented by
/// two pairs' worth), `C` by LDR.
#[cfg(mote_dsp)]
macro_rules! row_s2 {
    ($p:literal, $w:literal, $a0:literal, $a1:literal) => {
        concat!(
            "ldrd {a}, {b}, [{",
            $p,
            "}], #8\n",
            "ldrd {f}, {g}, [{q}, #",
            $w,
            "]\n",
            "smlad {s0}, {a}, {f}, {",
            $a0,
            "}\n",
            "smlabt {s0}, {b}, {g}, {s0}\n",
            "smlad {s1}, {b}, {f}, {",
            $a1,
            "}\n",
            "ldr {a}, [{",
            $p,
            "}]\n",
            "smlabt {s1}, {a}, {g}, {s1}\n",
        )
    };
}

/// Requantization of both accumulators, as [`Chan::out`] before its
/// clamp: SMMLAR with `round` (plus `acc >> 31`, and the right shift, when
/// `rsh > 0`). Record offsets 28, 32, 36: mult, round, rsh.
#[cfg(mote_dsp)]
macro_rules! requant2 {
    (true) => {
        concat!(
            "ldrd {a}, {b}, [{q}, #28]\n",
            "ldr {g}, [{q}, #36]\n",
            "add {f}, {b}, {s0}, asr #31\n",
            "smmlar {s0}, {s0}, {a}, {f}\n",
            "add {f}, {b}, {s1}, asr #31\n",
            "smmlar {s1}, {s1}, {a}, {f}\n",
            "asr {s0}, {s0}, {g}\n",
            "asr {s1}, {s1}, {g}\n",
        )
    };
    (false) => {
        concat!(
            "ldrd {a}, {b}, [{q}, #28]\n",
            "smmlar {s0}, {s0}, {a}, {b}\n",
            "smmlar {s1}, {s1}, {a}, {b}\n",
        )
    };
}

/// The clamp of both values: SSAT when it spans int8, else against the
/// record's `lo`, `hi` (offsets 40, 44).
#[cfg(mote_dsp)]
macro_rules! clamp2 {
    (true) => {
        concat!("ssat {s0}, #8, {s0}\n", "ssat {s1}, #8, {s1}\n")
    };
    (false) => {
        concat!(
            "ldrd {a}, {b}, [{q}, #40]\n",
            "cmp {s0}, {a}\n",
            "it lt\n",
            "movlt {s0}, {a}\n",
            "cmp {s0}, {b}\n",
            "it gt\n",
            "movgt {s0}, {b}\n",
            "cmp {s1}, {a}\n",
            "it lt\n",
            "movlt {s1}, {a}\n",
            "cmp {s1}, {b}\n",
            "it gt\n",
            "movgt {s1}, {b}\n",
        )
    };
}

/// One pair step as a single `asm!`: bias, three filter rows, requant,
/// clamp, two byte stores `c` apart, output pointer advanced two pixels.
#[cfg(mote_dsp)]
macro_rules! pair_step {
    ($row:ident, $full:tt, $shift:tt, $p0:ident, $p1:ident, $p2:ident, $o:ident, $q:expr, $os:expr) => {
        core::arch::asm!(
            "ldr {s1}, [{q}, #24]",
            $row!("p0", "0", "s1", "s1"),
            $row!("p1", "8", "s0", "s1"),
            $row!("p2", "16", "s0", "s1"),
            requant2!($shift),
            clamp2!($full),
            "strb {s0}, [{o}]",
            "strb {s1}, [{o}, {os}]",
            "add {o}, {o}, {os}, lsl #1",
            p0 = inout(reg) $p0,
            p1 = inout(reg) $p1,
            p2 = inout(reg) $p2,
            o = inout(reg) $o,
            q = in(reg) $q,
            os = in(reg) $os,
            s0 = out(reg) _,
            s1 = out(reg) _,
            a = out(reg) _,
            b = out(reg) _,
            f = out(reg) _,
            g = out(reg) _,
            options(nostack),
        )
    };
}

/// `np` pixel pairs of every channel of a block in assembly, one `asm!`
/// per pair (the loop counter stays with the compiler: the step uses all
/// twelve allocatable registers). Channel `k`'s pointers are offsets from
/// the block's, computed with `wrapping_add` (plain arithmetic; the
/// accesses are the `asm!`'s).
#[cfg(mote_dsp)]
fn pairs<const S: usize, const FULL: bool>(
    rows: [&[u32]; ROWS],
    plane: usize,
    chans: &[Chan],
    out: &mut [i8],
    c: usize,
    np: usize,
) {
    let bases = rows.map(<[u32]>::as_ptr);
    let out = out.as_mut_ptr();
    for (k, q) in chans.iter().enumerate() {
        let [p0, p1, p2] = bases.map(|b| b.wrapping_add(k * plane));
        let o = out.wrapping_add(k);
        if q.rsh > 0 {
            channel_pairs::<S, FULL, true>([p0, p1, p2], q, o, c, np);
        } else {
            channel_pairs::<S, FULL, false>([p0, p1, p2], q, o, c, np);
        }
    }
}

/// [`pairs`] for one channel: planes at `rows`, pixel 0 at `o`.
#[cfg(mote_dsp)]
#[inline(always)]
fn channel_pairs<const S: usize, const FULL: bool, const SHIFT: bool>(
    rows: [*const u32; ROWS],
    q: &Chan,
    mut o: *mut i8,
    c: usize,
    np: usize,
) {
    const {
        assert!(core::mem::offset_of!(Chan, bias) == 24);
        assert!(core::mem::offset_of!(Chan, mult) == 28);
        assert!(core::mem::offset_of!(Chan, rsh) == 36);
        assert!(core::mem::offset_of!(Chan, lo) == 40);
    }
    let [mut p0, mut p1, mut p2] = rows;
    let q: *const Chan = q;
    for _ in 0..np {
        // SAFETY: `block_row` checked that each of the block's planes
        // (`plane` words from `rows[fy] + k * plane`, inside the row slice)
        // holds the words pair `j < np` reads (stride 1: `j, j + 1`;
        // stride 2: `2j ..= 2j + 2`; the pointers advance one pair per
        // step), and that `out` reaches channel `k`'s pixel `2 np - 1`
        // (`o` starts at `out + k`, advances `2c` bytes per step and
        // writes `o` and `o + c`); `q` is a whole record. Rows are `u32`
        // slices (4-aligned, as LDRD needs); the record is `repr(C)` with
        // the offsets the const block asserts. SMLAD/SSAT may set Q and
        // CMP sets the flags; neither is read outside the block.
        unsafe {
            match (S, FULL, SHIFT) {
                (1, true, true) => pair_step!(row_s1, true, true, p0, p1, p2, o, q, c),
                (1, true, false) => pair_step!(row_s1, true, false, p0, p1, p2, o, q, c),
                (1, false, true) => pair_step!(row_s1, false, true, p0, p1, p2, o, q, c),
                (1, false, false) => pair_step!(row_s1, false, false, p0, p1, p2, o, q, c),
                (_, true, true) => pair_step!(row_s2, true, true, p0, p1, p2, o, q, c),
                (_, true, false) => pair_step!(row_s2, true, false, p0, p1, p2, o, q, c),
                (_, false, true) => pair_step!(row_s2, false, true, p0, p1, p2, o, q, c),
                (_, false, false) => pair_step!(row_s2, false, false, p0, p1, p2, o, q, c),
            }
        }
    }
}

/// Fills one ring slot with input row `iy` of batch `b`, channels `c0..`
/// (`dst.len() / plane` of them, a multiple of 4): plane `k` holds channel
/// `c0 + k` over padded columns `-pad_w ..`, two columns per word (column
/// `2j` in the bottom half of word `j`). Padding rows and columns get the
/// bytes of `pad`, sign-extended.
///
/// Words with both columns inside the image go through [`interior`] (a
/// straight copy loop); the few at the edges through [`edge_word`].
#[allow(clippy::too_many_arguments)]
fn fill_row(
    input: View<'_>,
    b: usize,
    iy: i64,
    pad_w: usize,
    c0: usize,
    plane: usize,
    dst: &mut [u32],
    pad: u32,
) -> Result<(), KernelError> {
    let s = input.shape;
    let Some(y) = usize::try_from(iy).ok().filter(|&y| y < s.h) else {
        dst.fill(sxtb16(pad));
        return Ok(());
    };
    let at = (b * s.h + y) * s.w * s.c;
    let row = input
        .data
        .get(at..at + s.w * s.c)
        .ok_or(KernelError::Length)?;
    // Word `k` is inside when `2k - pad_w >= 0` and `2k + 1 - pad_w < w`.
    let k0 = pad_w.div_ceil(2).min(plane);
    let k1 = ((s.w + pad_w) / 2).clamp(k0, plane);
    if plane == 0 {
        return Err(KernelError::Length);
    }
    // The edge words, one at a time across the groups (their columns'
    // offsets computed once).
    for k in (0..k0).chain(k1..plane) {
        let cols = [2 * k, 2 * k + 1].map(|col| {
            let x = col.checked_sub(pad_w).filter(|&x| x < s.w);
            x.map(|x| x * s.c + c0)
        });
        for (g, planes) in dst.chunks_exact_mut(4 * plane).enumerate() {
            let at = cols.map(|col| col.map(|at| at + 4 * g));
            edge_word(row, at, pad, planes, plane, k)?;
        }
    }
    if k1 > k0 {
        let from = (2 * k0 - pad_w) * s.c + c0;
        for (g, planes) in dst.chunks_exact_mut(4 * plane).enumerate() {
            let src = row.get(from + 4 * g..).ok_or(KernelError::Length)?;
            let to = planes.get_mut(k0..).ok_or(KernelError::Length)?;
            interior(src, s.c, to, plane, k1 - k0)?;
        }
    }
    Ok(())
}

/// Word `k` of four planes (`planes`, `plane` words each) from the input
/// bytes at `row[at..at + 4]` for each of its two columns, or `pad` for a
/// column outside the image.
fn edge_word(
    row: &[i8],
    cols: [Option<usize>; 2],
    pad: u32,
    planes: &mut [u32],
    plane: usize,
    k: usize,
) -> Result<(), KernelError> {
    let [u, v] = cols.map(|at| match at {
        None => Ok(pad),
        Some(at) => row
            .get(at..at + 4)
            .map(|q| u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]))
            .ok_or(KernelError::Length),
    });
    let words = transpose(u?, v?);
    for (i, w) in words.into_iter().enumerate() {
        *planes.get_mut(i * plane + k).ok_or(KernelError::Length)? = w;
    }
    Ok(())
}

/// Two columns' words of 4 channels (`u`, then `v`) to the four channels'
/// pair words: SXTB16 puts channels 0 and 2 (ROR 8: 1 and 3) in the bottom
/// and top halves; each is paired with the next column's (PKHBT/PKHTB).
#[inline(always)]
fn transpose(u: u32, v: u32) -> [u32; 4] {
    let (ue, uo, ve, vo) = (sxtb16(u), sxtb16_ror8(u), sxtb16(v), sxtb16_ror8(v));
    [
        (ue & 0xffff) | (ve << 16),
        (uo & 0xffff) | (vo << 16),
        (ue >> 16) | (ve & 0xffff_0000),
        (uo >> 16) | (vo & 0xffff_0000),
    ]
}

/// `n` words of four planes from `n` column pairs: `src` starts at the
/// first column's 4 channels (columns `cs` bytes apart), `dst` at the first
/// plane's first word (planes `plane` words apart). Checks the extents,
/// then runs unchecked (in assembly on arm).
fn interior(
    src: &[i8],
    cs: usize,
    dst: &mut [u32],
    plane: usize,
    n: usize,
) -> Result<(), KernelError> {
    if n == 0 || (2 * n - 1) * cs + 4 > src.len() || 3 * plane + n > dst.len() {
        return Err(KernelError::Length);
    }
    interior_checked(src, cs, dst, plane, n);
    Ok(())
}

/// [`interior`] after its check, plain Rust.
#[cfg(not(mote_dsp))]
fn interior_checked(src: &[i8], cs: usize, dst: &mut [u32], plane: usize, n: usize) {
    let word = |at: usize| {
        src.get(at..at + 4).map_or(0, |q| {
            u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8])
        })
    };
    for j in 0..n {
        let words = transpose(word(2 * j * cs), word((2 * j + 1) * cs));
        for (i, w) in words.into_iter().enumerate() {
            if let Some(d) = dst.get_mut(i * plane + j) {
                *d = w;
            }
        }
    }
}

/// [`interior`] after its check, in assembly: per word pair two LDRs
/// (unaligned, as Armv7E-M allows), four SXTB16, four PKH, four STRs.
#[cfg(mote_dsp)]
fn interior_checked(src: &[i8], cs: usize, dst: &mut [u32], plane: usize, n: usize) {
    // SAFETY: `interior` checked `n >= 1`, that the last column's word
    // (`(2n - 1) cs .. + 4`) lies in `src` and the last plane's word
    // `3 plane + n - 1` in `dst`; step `j` reads columns `2j`, `2j + 1`
    // and writes word `j` of each plane. `dst` is `u32` (4-aligned);
    // `src` may be unaligned, which LDR allows on Armv7E-M. SUBS sets the
    // flags, which nothing outside reads.
    unsafe {
        core::arch::asm!(
            "2:",
            "ldr {u}, [{p}]",
            "ldr {v}, [{p}, {cs}]",
            "add {p}, {p}, {cs}, lsl #1",
            "sxtb16 {e}, {u}",
            "sxtb16 {u}, {u}, ror #8",
            "sxtb16 {f}, {v}",
            "sxtb16 {v}, {v}, ror #8",
            "pkhbt {t}, {e}, {f}, lsl #16",
            "str {t}, [{o}]",
            "pkhbt {t}, {u}, {v}, lsl #16",
            "str {t}, [{o}, {ps}]",
            "pkhtb {t}, {f}, {e}, asr #16",
            "str {t}, [{o}, {ps}, lsl #1]",
            "pkhtb {t}, {v}, {u}, asr #16",
            "str {t}, [{o}, {ps3}]",
            "add {o}, {o}, #4",
            "subs {n}, {n}, #1",
            "bne 2b",
            p = inout(reg) src.as_ptr() => _,
            cs = in(reg) cs,
            o = inout(reg) dst.as_mut_ptr() => _,
            ps = in(reg) plane * 4,
            ps3 = in(reg) plane * 12,
            n = inout(reg) n => _,
            u = out(reg) _,
            v = out(reg) _,
            e = out(reg) _,
            f = out(reg) _,
            t = out(reg) _,
            options(nostack),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testutil::*;
    use super::*;
    use crate::kernels::depthwise_conv2d::eval_portable;
    use crate::kernels::depthwise_conv2d::tests::geometry;
    use crate::kernels::Shape4;
    use proptest::prelude::*;

    type Case = ConvCase<Params>;

    /// 3x3 shapes around what this path distinguishes: strides 1 and 2
    /// (vertical up to 3), SAME/VALID, odd and even widths, widths that
    /// split the channels into several ring blocks, 4..96 channels,
    /// batches; and a few it must decline (dilation, 8 channels of which
    /// some not a multiple of 4 are drawn by the general test).
    fn case() -> impl Strategy<Value = Case> {
        (
            (
                1usize..=2,
                1usize..=7,
                prop_oneof![1usize..=13, 40usize..=90],
            ),
            prop_oneof![
                Just(4usize),
                Just(8),
                Just(16),
                Just(64),
                Just(96),
                (1usize..=24).prop_map(|g| 4 * g)
            ],
            (
                1usize..=3,
                1usize..=2,
                prop_oneof![4 => Just(1usize), 1 => Just(2)],
                any::<bool>(),
            ),
            (zero_point(), zero_point(), clamp_range()),
        )
            .prop_filter_map(
                "valid geometry",
                |((n, h, w), c, (sh, sw, dil, same), (zi, zo, act))| {
                    let input = Shape4::new(n, h, w, c);
                    let filter = Shape4::new(1, 3, 3, c);
                    geometry(input, filter, (sh, sw), (dil, 1), same, (zi, zo), act)
                },
            )
            .prop_flat_map(|(input, filter, output, p)| {
                conv_case(input, filter, output, p, filter.c)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Bit-exact with the portable kernel, and taken wherever it
        /// applies (every case here fits the ring).
        #[test]
        fn depthwise3x3_is_bit_exact(c in case()) {
            let (fast, slow) = run_fast_and_portable(&c, eval, eval_portable);
            // 9 taps: every left shift up to 7 fits.
            let eligible = c.p.dilation_h == 1 && shifts_within(&c.shift, 7);
            if eligible {
                prop_assert!(fast.is_some(), "declined");
            } else if c.p.dilation_h != 1 {
                prop_assert!(fast.is_none(), "took a dilated filter");
            }
            if let Some(fast) = fast {
                prop_assert_eq!(fast, slow);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// [`Chan::out`] (SMMLAR, the sign taken from `acc`) equals the
        /// portable requantization and clamp wherever [`Requant::new`]
        /// accepts the channel.
        #[test]
        fn chan_out_matches_portable(
            acc_frac in -1.0f64..=1.0,
            sum_abs in 0u32..=(1 << 14),
            bias in -(1i32 << 20)..(1 << 20),
            // Not only `multiplier()` and `shift()`: with a left shift, a
            // multiplier of at least 2^30 saturates nearly every `acc`.
            (m, s) in channel_requant(),
            zo in -128i32..=127,
            (lo, hi) in clamp_range(),
        ) {
            let bound = i64::from(bias).abs() + 255 * i64::from(sum_abs);
            let acc = (acc_frac * bound as f64) as i32;
            if let Some(r) = Requant::new(bias, 0, sum_abs, 0, m, s, zo) {
                let q = Chan::new(&[0; 9], &r, lo, hi);
                let v = crate::quant::multiply_by_quantized_multiplier(acc, m, s);
                let want = crate::kernels::clamp_i8(v.wrapping_add(zo), lo, hi);
                let a = acc.wrapping_shl(r.lsh);
                let got = match (r.rsh > 0, lo <= -128 && hi >= 127) {
                    (true, true) => q.out::<true, true>(a),
                    (true, false) => q.out::<false, true>(a),
                    (false, true) => q.out::<true, false>(a),
                    (false, false) => q.out::<false, false>(a),
                };
                prop_assert_eq!(got, want);
            }
        }
    }

    /// Widths past what one 4-channel block fits in the ring decline.
    #[test]
    fn declines_rows_wider_than_the_ring() {
        let input = Shape4::new(1, 3, 900, 4);
        let filter = Shape4::new(1, 3, 3, 4);
        let (input, filter, output, p) =
            geometry(input, filter, (1, 1), (1, 1), true, (0, 0), (-128, 127)).unwrap();
        let n = |s: Shape4| s.elements().unwrap();
        let case = Case {
            input,
            filter,
            output,
            p,
            x: vec![1; n(input)],
            w: vec![1; n(filter)],
            bias: None,
            mult: vec![1 << 30; 4],
            shift: vec![-1; 4],
        };
        let (fast, _) = run_fast_and_portable(&case, eval, eval_portable);
        assert!(fast.is_none());
    }
}
