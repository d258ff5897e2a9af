//! The fast conv's inner tile: 2 output channels x 2 output pixels, the
//! multiply-accumulates and the requantization in one pass.
//!
//! Each channel pair of a filter chunk is one [`block_len`]-word block of
//! scratch, read front to back:
//! `[bias(c0), bias(c1), weights..., record(c0), record(c1)]`, with the
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

/// Words of a block besides the weights: two biases, two 4-word records.
const EXTRA: usize = 10;

/// Words of one channel pair's block for a reduction of `groups` groups of
/// 4 values.
pub(crate) fn block_len(groups: usize) -> usize {
    4 * groups + EXTRA
}

/// Writes channel `lane` (0 or 1) of a block's bias and record from its
/// requantization; `block` is [`block_len`] words long.
pub(crate) fn set_channel(block: &mut [u32], lane: usize, r: &Requant) {
    if let Some(b) = block.get_mut(lane) {
        *b = r.bias.wrapping_shl(r.lsh) as u32;
    }
    let at = block.len().wrapping_sub(EXTRA - 2 - 4 * lane);
    if let Some(rec) = block.get_mut(at..at + 4) {
        rec.copy_from_slice(&[r.mult as u32, r.round as u32, r.rsh, r.sign as u32]);
    }
}

/// The weight slots of a block (after the two biases).
pub(crate) fn weights_mut(block: &mut [u32]) -> &mut [u32] {
    let end = block.len().saturating_sub(EXTRA - 2);
    block.get_mut(2..end).unwrap_or(&mut [])
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
    plain(xw, block)
}

/// [`mac_requant`] in assembly, one block for the whole tile: LLVM spills
/// around the four accumulators and the records, and this is where nearly
/// all instructions go. The MAC loop does a group (two LDRD pairs, eight
/// SMLADs) per round; the records are read with one LDM each. Same
/// arithmetic as [`plain`], in the same order.
#[cfg(mote_dsp)]
#[inline(always)]
pub(crate) fn mac_requant(xw: &[u32], block: &[u32]) -> [i32; 4] {
    let groups = xw.len() / 4;
    if groups == 0 || xw.len() % 4 != 0 || block.len() < xw.len() + EXTRA {
        return plain(xw, block);
    }
    let (a0, b0, a1, b1): (i32, i32, i32, i32);
    // SAFETY: `xw` holds `4 * groups` words and `block` at least
    // `4 * groups + 10` (checked above); the code reads exactly that: 2
    // biases, `groups` rounds of 4 words from each pointer, 2 records of 4
    // words, all post-incremented. `u32` slices are 4-aligned, as LDRD and
    // LDM need. `groups >= 1`, so the loop's count does not wrap. No stack,
    // no writes to memory; registers are declared (the LDM lists must be
    // ascending, hence the explicit registers).
    unsafe {
        core::arch::asm!(
            "ldrd r0, r2, [r5], #8",
            "mov r1, r0",
            "mov r3, r2",
            "2:",
            "ldrd r10, r11, [r4], #8",
            "ldrd r12, lr, [r5], #8",
            "smlad r0, r10, r12, r0",
            "smlad r1, r11, r12, r1",
            "smlad r2, r10, lr, r2",
            "smlad r3, r11, lr, r3",
            "ldrd r10, r11, [r4], #8",
            "ldrd r12, lr, [r5], #8",
            "smlad r0, r10, r12, r0",
            "smlad r1, r11, r12, r1",
            "smlad r2, r10, lr, r2",
            "smlad r3, r11, lr, r3",
            "subs r8, r8, #1",
            "bne 2b",
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

/// The tile in plain Rust over the DSP helpers: the host's version, and
/// the device's for blocks the assembly does not take (none in practice).
#[inline(always)]
fn plain(xw: &[u32], block: &[u32]) -> [i32; 4] {
    let (head, rest) = block.split_at(block.len().min(2));
    let (ww, recs) = rest.split_at(rest.len().min(xw.len()));
    let bias = |i: usize| head.get(i).map_or(0, |&b| b as i32);
    let (mut a0, mut b0, mut a1, mut b1) = (bias(0), bias(0), bias(1), bias(1));
    for (x, w) in xw.chunks_exact(2).zip(ww.chunks_exact(2)) {
        a0 = smlad(x[0], w[0], a0);
        b0 = smlad(x[1], w[0], b0);
        a1 = smlad(x[0], w[1], a1);
        b1 = smlad(x[1], w[1], b1);
    }
    let mut recs = recs.chunks_exact(4);
    let (r0, r1) = (recs.next(), recs.next());
    [
        finish(a0, r0),
        finish(b0, r0),
        finish(a1, r1),
        finish(b1, r1),
    ]
}

/// One accumulator through a record `[mult, round, rsh, sign]` (see the
/// module doc); `0` without a record.
#[inline(always)]
fn finish(acc: i32, rec: Option<&[u32]>) -> i32 {
    let Some(&[mult, round, rsh, sign]) = rec else {
        return 0;
    };
    let t = (round as i32).wrapping_add((acc >> 31) & sign as i32);
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
        }
    }

    #[test]
    fn scaled_shifts_both_lanes() {
        assert_eq!(scaled(pair(-128, 127), 8), pair(-32768, 32512));
        assert_eq!(scaled(pair(-1, 3), 1), pair(-2, 6));
    }
}
