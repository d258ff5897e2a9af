//! The fast conv's inner tile: 2 output channels x 2 output pixels, the
//! multiply-accumulates and the requantization in one pass.
//!
//! Each channel pair of a filter chunk is one [`block_len`]-word block of
//! scratch, read front to back:
//! `[bias(c0), bias(c0), bias(c1), bias(c1), weights..., record(c0),
//! record(c1)]` (each bias once per accumulator, for one LDM), with the
//! weights in the conv's group layout (`kernels::fast::conv`) and a
//! record of 4 words `[mult, round, rsh, sign]` per channel.
//!
//! Two things are folded into the block once per call so that the
//! per-output work is four instructions before the clamp:
//! - [`Requant`]'s left shift `lsh` (its own left shift plus SMMULR's
//!   doubling) is applied to the weights and the bias rather than to each
//!   accumulator: `(b + sum(x * w)) << lsh = (b << lsh) + sum(x * (w << lsh))`
//!   modulo `2^32`, and `w << lsh` still fits a halfword (`lsh <= 8`,
//!   `|w| <= 128`). [`Requant::new`] has checked that the shifted
//!   accumulator fits `i32`, so the modular sum is the exact one.
//! - The round-half-away-from-zero correction of [`Requant::apply`] reads
//!   the sign of `h = smmulr(v, mult)`; here it reads the sign of `v` (the
//!   accumulator), which lets SMMLAR add the rounding term and the
//!   correction in the same instruction as the multiply. Since
//!   `mult >= 0`, `v >= 0` gives `h >= 0`, and `v < 0` gives `h <= 0`;
//!   they differ only for `h = 0, v < 0`, where the correction is `-1`
//!   instead of `0` in `floor((h + 2^(rsh-1) + zo * 2^rsh - corr) / 2^rsh)`,
//!   which is `zo` either way for `rsh >= 1` (and `sign = 0`, no
//!   correction, when `rsh = 0`).

use super::dsp::{smlad, smmlar};
use super::Requant;

/// Words of a block besides the weights: four biases, two 4-word records.
const EXTRA: usize = 12;

/// Words of one channel pair's block for a reduction of `groups` groups of
/// 4 values.
pub(crate) fn block_len(groups: usize) -> usize {
    4 * groups + EXTRA
}

/// Writes channel `lane` (0 or 1) of a block's bias and record from its
/// requantization; `block` is [`block_len`] words long.
pub(crate) fn set_channel(block: &mut [u32], lane: usize, r: &Requant) {
    if let Some(b) = block.get_mut(2 * lane..2 * lane + 2) {
        b.fill(r.bias.wrapping_shl(r.lsh) as u32);
    }
    let at = block.len().wrapping_sub(8 - 4 * lane);
    if let Some(rec) = block.get_mut(at..at + 4) {
        rec.copy_from_slice(&[r.mult as u32, r.round as u32, r.rsh, r.sign as u32]);
    }
}

/// The weight slots of a block (between the biases and the records).
pub(crate) fn weights_mut(block: &mut [u32]) -> &mut [u32] {
    let end = block.len().saturating_sub(8);
    block.get_mut(4..end).unwrap_or(&mut [])
}

/// A halfword-pair word of weights with both lanes shifted left by `lsh`
/// (at most 8, so int8 values still fit a halfword).
#[inline]
pub(crate) fn scaled(pair: u32, lsh: u32) -> u32 {
    let lo = (i32::from(pair as u16 as i16) << lsh) as u16;
    let hi = (i32::from((pair >> 16) as u16 as i16) << lsh) as u16;
    u32::from(lo) | (u32::from(hi) << 16)
}

/// The tile's four outputs `[(c0, A), (c0, B), (c1, A), (c1, B)]`,
/// requantized with the output offset added, not yet clamped: `xw` is the
/// pixel pair's patch (groups of 4 words), `block` the channel pair's block
/// for that many groups.
#[cfg(not(mote_dsp))]
#[inline(always)]
pub(crate) fn mac_requant(xw: &[u32], block: &[u32]) -> [i32; 4] {
    plain(xw, block, false)
}

/// One group of the MAC loop: 4 patch words from `r4` (pixels A, B of
/// both halves) times 4 weight words from `r5` (channels 0, 1), into the
/// accumulators `r0..r3` = `(c0, A), (c0, B), (c1, A), (c1, B)`.
#[cfg(mote_dsp)]
macro_rules! mac_group {
    () => {
        concat!(
            "ldrd r10, r11, [r4], #8\n",
            "ldrd r12, lr, [r5], #8\n",
            "smlad r0, r10, r12, r0\n",
            "smlad r1, r11, r12, r1\n",
            "smlad r2, r10, lr, r2\n",
            "smlad r3, r11, lr, r3\n",
            "ldrd r10, r11, [r4], #8\n",
            "ldrd r12, lr, [r5], #8\n",
            "smlad r0, r10, r12, r0\n",
            "smlad r1, r11, r12, r1\n",
            "smlad r2, r10, lr, r2\n",
            "smlad r3, r11, lr, r3\n",
        )
    };
}

/// The MAC loop over `r8 >= 1` groups, two per round (one loop branch per
/// 16 SMLADs): an odd count does one group first, and skips the loop
/// when that was all. LSRS leaves the odd bit in C and `groups / 2 == 0`
/// in Z; LDRD and SMLAD leave both alone.
#[cfg(mote_dsp)]
macro_rules! mac_loop {
    () => {
        concat!(
            "lsrs r8, r8, #1\n",
            "bcc 2f\n",
            mac_group!(),
            "beq 5f\n",
            "2:\n",
            mac_group!(),
            mac_group!(),
            "subs r8, r8, #1\n",
            "bne 2b\n",
            "5:\n",
        )
    };
}

/// [`mac_requant`] in assembly, one block for the whole tile: LLVM spills
/// around the four accumulators and the records, and this is where nearly
/// all instructions go. The MAC loop (`mac_loop!`) does two groups (four
/// LDRD pairs, sixteen SMLADs) per round; the records are read with one
/// LDM each. Same
/// arithmetic as [`plain`], in the same order.
#[cfg(mote_dsp)]
#[inline(always)]
pub(crate) fn mac_requant(xw: &[u32], block: &[u32]) -> [i32; 4] {
    let groups = xw.len() / 4;
    if groups == 0 || xw.len() % 4 != 0 || block.len() < xw.len() + EXTRA {
        return plain(xw, block, false);
    }
    let (a0, b0, a1, b1): (i32, i32, i32, i32);
    // SAFETY: `xw` holds `4 * groups` words and `block` at least
    // `4 * groups + 12` (checked above); the code reads exactly that: 4
    // biases, `groups` groups of 4 words from each pointer (`mac_loop!`: an
    // odd one, then `groups / 2` rounds of two, none when that is zero), 2
    // records of 4 words, all post-incremented. `u32` slices are 4-aligned,
    // as LDRD and LDM need. `groups >= 1`, so the loop's count does not
    // wrap. No stack,
    // no writes to memory; registers are declared (the LDM lists must be
    // ascending, hence the explicit registers).
    unsafe {
        core::arch::asm!(
            "ldm r5!, {{r0, r1, r2, r3}}",
            mac_loop!(),
            // Channel 0: r10 = mult, r11 = round, r12 = rsh, lr = sign.
            "ldm r5!, {{r10, r11, r12, lr}}",
            "and r8, lr, r0, asr #31",
            "add r8, r8, r11",
            "smmlar r0, r0, r10, r8",
            "asr r0, r0, r12",
            "and r8, lr, r1, asr #31",
            "add r8, r8, r11",
            "smmlar r1, r1, r10, r8",
            "asr r1, r1, r12",
            // Channel 1.
            "ldm r5!, {{r10, r11, r12, lr}}",
            "and r8, lr, r2, asr #31",
            "add r8, r8, r11",
            "smmlar r2, r2, r10, r8",
            "asr r2, r2, r12",
            "and r8, lr, r3, asr #31",
            "add r8, r8, r11",
            "smmlar r3, r3, r10, r8",
            "asr r3, r3, r12",
            out("r0") a0,
            out("r1") b0,
            out("r2") a1,
            out("r3") b1,
            inout("r4") xw.as_ptr() => _,
            inout("r5") block.as_ptr() => _,
            inout("r8") groups => _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("lr") _,
            options(nostack, readonly),
        );
    }
    [a0, b0, a1, b1]
}

/// The clamp of [`store_pairs`]: the fused activation's bounds within int8,
/// each replicated into the four bytes of a word (for SSUB8/SEL).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    lo: i8,
    hi: i8,
}

impl Bounds {
    /// `[lo, hi]` (any `i32`s; clamping an int8 to them is clamping to their
    /// intersection with int8, in that order: `max` then `min`).
    pub fn new(lo: i32, hi: i32) -> Self {
        Self {
            lo: lo.clamp(-128, 127) as i8,
            hi: hi.clamp(-128, 127) as i8,
        }
    }

    #[cfg(mote_dsp)]
    fn words(self) -> (u32, u32) {
        (
            u32::from_le_bytes([self.lo as u8; 4]),
            u32::from_le_bytes([self.hi as u8; 4]),
        )
    }

    /// `v` saturated to int8, then clamped (nothing more when `FULL`).
    #[cfg(not(mote_dsp))]
    fn apply<const FULL: bool>(self, v: i32) -> i8 {
        let s = v.clamp(-128, 127) as i8;
        if FULL {
            s
        } else {
            s.max(self.lo).min(self.hi)
        }
    }
}

/// Every whole channel pair of a pixel pair, stored: the tile
/// ([`mac_requant`]) of each block of `blocks` ([`block_len`] words each),
/// saturated to int8, clamped to `bounds` (unless `FULL`, where the
/// bounds are all of int8), written to `row_a` (pixel A) and `row_b`
/// (pixel B) two channels per block. Returns how many channel pairs it
/// wrote: `min(blocks, row_a.len() / 2, row_b.len() / 2)`, the caller does
/// the rest (an odd last channel). `rounds` says every record of `blocks`
/// has `rsh >= 1` (`sign` all ones), which the device's loop then assumes
/// (and the host's too, so the tests hold the caller to it).
#[cfg(not(mote_dsp))]
pub(crate) fn store_pairs<const FULL: bool>(
    xw: &[u32],
    blocks: &[u32],
    rounds: bool,
    bounds: Bounds,
    row_a: &mut [i8],
    row_b: &mut [i8],
) -> usize {
    let blks = blocks.chunks_exact(xw.len() + EXTRA);
    let outs = row_a.chunks_exact_mut(2).zip(row_b.chunks_exact_mut(2));
    let mut done = 0;
    for (blk, (a, b)) in blks.zip(outs) {
        let v = plain(xw, blk, rounds).map(|v| bounds.apply::<FULL>(v));
        a.copy_from_slice(&[v[0], v[2]]);
        b.copy_from_slice(&[v[1], v[3]]);
        done += 1;
    }
    done
}

/// What [`store_pairs`]'s loop reads besides the blocks, at fixed offsets
/// (the first three words with one LDM).
#[cfg(mote_dsp)]
#[repr(C)]
struct Ctx {
    /// Pixel A's next output pair (advanced by the loop).
    pa: *mut i8,
    /// Pixel B's next output pair (advanced by the loop).
    pb: *mut i8,
    /// `pa` after the last pair.
    pa_end: *mut i8,
    /// The patch.
    xw: *const u32,
    /// Groups of 4 words in the patch (at least 1).
    groups: usize,
    /// The lower bound in every byte.
    lo4: u32,
    /// The upper bound in every byte.
    hi4: u32,
}

/// One channel pair's tile over `r5` (its block, advanced past it) and the
/// patch at `[r9, #12]`, requantized, saturated and packed: `r0` = pixel
/// A's pair `(c0, A) | (c1, A) << 8`, `r1` = B's (the asm of
/// [`mac_requant`]). `sign` takes the round-half-away correction from the
/// record; `round` assumes every record's `sign` is all ones (`rsh >= 1`)
/// and adds the accumulator's sign bit straight to `round`, one
/// instruction instead of two.
#[cfg(mote_dsp)]
macro_rules! tile_asm {
    (@fix sign, $acc:literal) => {
        concat!(
            "and r8, lr, ", $acc, ", asr #31\n",
            "add r8, r8, r11\n",
        )
    };
    (@fix round, $acc:literal) => {
        concat!("add r8, r11, ", $acc, ", asr #31\n")
    };
    ($fix:ident) => {
        concat!(
            "ldrd r4, r8, [r9, #12]\n",
            "ldm r5!, {{r0, r1, r2, r3}}\n",
            mac_loop!(),
            // Channel 0: r10 = mult, r11 = round, r12 = rsh, lr = sign.
            "ldm r5!, {{r10, r11, r12, lr}}\n",
            tile_asm!(@fix $fix, "r0"),
            "smmlar r0, r0, r10, r8\n",
            "asr r0, r0, r12\n",
            tile_asm!(@fix $fix, "r1"),
            "smmlar r1, r1, r10, r8\n",
            "asr r1, r1, r12\n",
            "ldm r5!, {{r10, r11, r12, lr}}\n",
            tile_asm!(@fix $fix, "r2"),
            "smmlar r2, r2, r10, r8\n",
            "asr r2, r2, r12\n",
            tile_asm!(@fix $fix, "r3"),
            "smmlar r3, r3, r10, r8\n",
            "asr r3, r3, r12\n",
            "ssat r0, #8, r0\n",
            "ssat r1, #8, r1\n",
            "ssat r2, #8, r2\n",
            "ssat r3, #8, r3\n",
            "bfi r0, r2, #8, #8\n",
            "bfi r1, r3, #8, #8\n",
        )
    };
}

/// The clamp of the non-full variants: `r0`/`r1` become one word of four
/// bytes (A's pair below, B's above), clamped (SSUB8 sets a byte's GE flag
/// where it is at least the bound, SEL keeps it or takes the bound: `max`
/// then `min`), split again.
#[cfg(mote_dsp)]
macro_rules! clamp_asm {
    () => {
        concat!(
            "bfi r0, r1, #16, #16\n",
            "ldrd r10, r11, [r9, #20]\n",
            "ssub8 r12, r0, r10\n",
            "sel r0, r0, r10\n",
            "ssub8 r12, r11, r0\n",
            "sel r0, r0, r11\n",
            "lsr r1, r0, #16\n",
        )
    };
}

/// Stores `r0`/`r1` (pixel A's and B's pair) through `[r9]`'s pointers,
/// advances them, and loops to `3:` until `pa` reaches its end.
#[cfg(mote_dsp)]
macro_rules! store_asm {
    () => {
        concat!(
            "ldm r9, {{r10, r11, r12}}\n",
            "strh r0, [r10], #2\n",
            "strh r1, [r11], #2\n",
            "strd r10, r11, [r9]\n",
            "cmp r10, r12\n",
            "bne 3b\n",
        )
    };
}

/// [`store_pairs`] as one asm loop over the blocks: the tile, SSAT, the
/// clamp on all four bytes at once (SSUB8 sets a byte's GE flag where it is
/// at least the bound, SEL keeps it or takes the bound: `max` then `min`),
/// two halfword stores. Besides the tile's registers it needs only the
/// context pointer; pointers and counts live in [`Ctx`]. Takes the plain
/// per-tile path when the outputs are not halfword-aligned (odd channel
/// counts), where STRH would be an unaligned store.
#[cfg(mote_dsp)]
pub(crate) fn store_pairs<const FULL: bool>(
    xw: &[u32],
    blocks: &[u32],
    rounds: bool,
    bounds: Bounds,
    row_a: &mut [i8],
    row_b: &mut [i8],
) -> usize {
    let groups = xw.len() / 4;
    let block = xw.len() + EXTRA;
    let pairs = (blocks.len() / block)
        .min(row_a.len() / 2)
        .min(row_b.len() / 2);
    let aligned = (row_a.as_ptr() as usize | row_b.as_ptr() as usize) & 1 == 0;
    if pairs == 0 || groups == 0 || xw.len() % 4 != 0 || !aligned {
        // (`mac_requant` reads each record's `sign`, whatever `rounds` says.)
        return store_pairs_plain::<FULL>(xw, blocks, bounds, row_a, row_b);
    }
    let (lo4, hi4) = bounds.words();
    let pa = row_a.as_mut_ptr();
    let mut ctx = Ctx {
        pa,
        pb: row_b.as_mut_ptr(),
        pa_end: pa.wrapping_add(2 * pairs),
        xw: xw.as_ptr(),
        groups,
        lo4,
        hi4,
    };
    // SAFETY: each round reads one block (`4 * groups + 12` words, see
    // `mac_requant`) from `r5`, `pairs >= 1` rounds, and `blocks` holds
    // `pairs` blocks; it reads the patch's `4 * groups` words (`groups >= 1`,
    // checked) and the context; it writes two bytes at `pa + 2i` and
    // `pb + 2i` for `i < pairs`, within `row_a` and `row_b` (each at least
    // `2 * pairs` long), halfword-aligned (checked), and the context's two
    // pointers. The rows are exclusively borrowed, the context is a local
    // that outlives the block; `u32` slices and `Ctx` are 4-aligned, as
    // LDRD/LDM/STRD need. No stack; registers declared.
    macro_rules! run {
        ($($part:expr),*) => {
            core::arch::asm!(
                "3:",
                $($part,)*
                store_asm!(),
                inout("r5") blocks.as_ptr() => _,
                in("r9") &mut ctx as *mut Ctx,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                out("r4") _, out("r8") _, out("r10") _, out("r11") _,
                out("r12") _, out("lr") _,
                options(nostack),
            )
        };
    }
    unsafe {
        match (FULL, rounds) {
            (true, true) => run!(tile_asm!(round)),
            (true, false) => run!(tile_asm!(sign)),
            (false, true) => run!(tile_asm!(round), clamp_asm!()),
            (false, false) => run!(tile_asm!(sign), clamp_asm!()),
        }
    }
    pairs
}

/// [`store_pairs`] tile by tile in Rust (the device's path for unaligned
/// outputs).
#[cfg(mote_dsp)]
fn store_pairs_plain<const FULL: bool>(
    xw: &[u32],
    blocks: &[u32],
    bounds: Bounds,
    row_a: &mut [i8],
    row_b: &mut [i8],
) -> usize {
    let clamp = super::Clamp::new(i32::from(bounds.lo), i32::from(bounds.hi));
    let blks = blocks.chunks_exact(xw.len() + EXTRA);
    let outs = row_a.chunks_exact_mut(2).zip(row_b.chunks_exact_mut(2));
    let mut done = 0;
    for (blk, (a, b)) in blks.zip(outs) {
        let v = mac_requant(xw, blk).map(|v| clamp.apply::<FULL>(v));
        a.copy_from_slice(&[v[0], v[2]]);
        b.copy_from_slice(&[v[1], v[3]]);
        done += 1;
    }
    done
}

/// Channel 0 of the tile alone, `[(c0, A), (c0, B)]` as [`mac_requant`]
/// gives them: the last block of an odd channel count, whose channel 1 is
/// a phantom (zero weights, outputs discarded) not worth its MACs.
#[cfg(not(mote_dsp))]
#[inline(always)]
pub(crate) fn mac_requant_one(xw: &[u32], block: &[u32]) -> [i32; 2] {
    let [a0, b0, _, _] = plain(xw, block, false);
    [a0, b0]
}

/// [`mac_requant_one`] in assembly: per half group one LDRD of patch
/// words, one LDR of channel 0's weights (stepping over channel 1's), two
/// SMLADs; then channel 0's record.
#[cfg(mote_dsp)]
#[inline(always)]
pub(crate) fn mac_requant_one(xw: &[u32], block: &[u32]) -> [i32; 2] {
    let groups = xw.len() / 4;
    if groups == 0 || xw.len() % 4 != 0 || block.len() < xw.len() + EXTRA {
        let [a0, b0, _, _] = plain(xw, block, false);
        return [a0, b0];
    }
    let (a0, b0): (i32, i32);
    // SAFETY: as for `mac_requant`: `xw` holds `4 * groups` words and
    // `block` at least `4 * groups + 12` (checked above); this reads the
    // first 2 biases (stepping over the next 2), one word of every 2 of the
    // `4 * groups` weight words, the patch's `4 * groups` words and the
    // first record, all within those lengths. `groups >= 1`; 4-aligned
    // `u32` slices; no stack, no writes to memory; registers declared.
    unsafe {
        core::arch::asm!(
            "ldrd r0, r1, [r5], #16",
            "2:",
            "ldrd r10, r11, [r4], #8",
            "ldr r12, [r5], #8",
            "smlad r0, r10, r12, r0",
            "smlad r1, r11, r12, r1",
            "ldrd r10, r11, [r4], #8",
            "ldr r12, [r5], #8",
            "smlad r0, r10, r12, r0",
            "smlad r1, r11, r12, r1",
            "subs r8, r8, #1",
            "bne 2b",
            "ldm r5, {{r10, r11, r12, lr}}",
            "and r8, lr, r0, asr #31",
            "add r8, r8, r11",
            "smmlar r0, r0, r10, r8",
            "asr r0, r0, r12",
            "and r8, lr, r1, asr #31",
            "add r8, r8, r11",
            "smmlar r1, r1, r10, r8",
            "asr r1, r1, r12",
            out("r0") a0,
            out("r1") b0,
            inout("r4") xw.as_ptr() => _,
            inout("r5") block.as_ptr() => _,
            inout("r8") groups => _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("lr") _,
            options(nostack, readonly),
        );
    }
    [a0, b0]
}

/// The tile in plain Rust over the DSP helpers: the host's version, and
/// the device's for blocks the assembly does not take (none in practice).
/// With `rounds` every record's `sign` is taken to be all ones.
#[inline(always)]
fn plain(xw: &[u32], block: &[u32], rounds: bool) -> [i32; 4] {
    let (head, rest) = block.split_at(block.len().min(4));
    let (ww, recs) = rest.split_at(rest.len().min(xw.len()));
    let bias = |i: usize| head.get(i).map_or(0, |&b| b as i32);
    let (mut a0, mut b0, mut a1, mut b1) = (bias(0), bias(1), bias(2), bias(3));
    for (x, w) in xw.chunks_exact(2).zip(ww.chunks_exact(2)) {
        a0 = smlad(x[0], w[0], a0);
        b0 = smlad(x[1], w[0], b0);
        a1 = smlad(x[0], w[1], a1);
        b1 = smlad(x[1], w[1], b1);
    }
    let mut recs = recs.chunks_exact(4);
    let (r0, r1) = (recs.next(), recs.next());
    [
        finish(a0, r0, rounds),
        finish(b0, r0, rounds),
        finish(a1, r1, rounds),
        finish(b1, r1, rounds),
    ]
}

/// One accumulator through a record `[mult, round, rsh, sign]` (see the
/// module doc; `sign` all ones with `rounds`); `0` without a record.
#[inline(always)]
fn finish(acc: i32, rec: Option<&[u32]>, rounds: bool) -> i32 {
    let Some(&[mult, round, rsh, sign]) = rec else {
        return 0;
    };
    let sign = if rounds { -1 } else { sign as i32 };
    let t = (round as i32).wrapping_add((acc >> 31) & sign);
    smmlar(acc, mult as i32, t) >> (rsh & 31)
}

#[cfg(test)]
mod tests {
    use super::super::super::testutil::*;
    use super::super::dsp::pair;
    use super::*;
    use crate::quant::multiply_by_quantized_multiplier;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// One channel through a block (weights and bias pre-shifted,
        /// SMMLAR with the accumulator's sign) equals the portable
        /// requantization of the plain sum, wherever `Requant::new`
        /// accepts the channel.
        #[test]
        fn tile_matches_portable_requantization(
            x in proptest::collection::vec(any::<i8>(), 8),
            w in proptest::collection::vec(any::<i8>(), 8),
            bias in -(1i32 << 20)..(1 << 20),
            input_offset in -127i32..=128,
            m in multiplier(),
            s in shift(),
            zo in -128i32..=127,
        ) {
            let (sum, sum_abs) = super::super::weight_sums(w.iter().copied());
            let Some(r) = Requant::new(bias, sum, sum_abs, input_offset, m, s, zo) else {
                return Ok(());
            };
            let acc = x.iter().zip(&w).fold(bias, |a, (&x, &w)| {
                a + (i32::from(x) + input_offset) * i32::from(w)
            });
            let want = multiply_by_quantized_multiplier(acc, m, s).wrapping_add(zo);
            // Both pixels are `x`, both channels `w`.
            let h = |v: &[i8], i: usize| i16::from(v[i]);
            let mut xw = vec![];
            let mut block = vec![0u32; block_len(2)];
            set_channel(&mut block, 0, &r);
            set_channel(&mut block, 1, &r);
            for g in 0..2 {
                let k = 4 * g;
                for (lo, hi) in [(k, k + 2), (k + 1, k + 3)] {
                    xw.push(pair(h(&x, lo), h(&x, hi)));
                    xw.push(pair(h(&x, lo), h(&x, hi)));
                    let ws = scaled(pair(h(&w, lo), h(&w, hi)), r.lsh);
                    weights_mut(&mut block)[xw.len() - 2] = ws;
                    weights_mut(&mut block)[xw.len() - 1] = ws;
                }
            }
            prop_assert_eq!(mac_requant(&xw, &block), [want; 4]);
            if r.rsh >= 1 {
                prop_assert_eq!(plain(&xw, &block, true), [want; 4]);
            }
        }
    }

    #[test]
    fn scaled_shifts_both_lanes() {
        assert_eq!(scaled(pair(-128, 127), 8), pair(-32768, 32512));
        assert_eq!(scaled(pair(-1, 3), 1), pair(-2, 6));
    }
}
