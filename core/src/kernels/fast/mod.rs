//! Fast int8 convolution kernels for Cortex-M DSP (issue 7), bit-exact with
//! the portable kernels in `conv2d` / `depthwise_conv2d`.
//!
//! The portable kernels state the maths; these reorganise it so the inner
//! loops are pure multiply-accumulates on halfword pairs ([`dsp::smlad`]):
//! - the input offset is folded into the bias once per output channel
//!   (`bias + input_offset * sum(w)`), and padding taps read the value
//!   `-input_offset`, so they still contribute nothing;
//! - int8 operands are sign-extended to halfword pairs once (SXTB16) and
//!   reused for many outputs: the filter once per call, an input patch once
//!   per pair of output pixels;
//! - requantization is four instructions plus the clamp ([`Requant`]).
//!
//! Every kernel returns `Ok(false)` when a case is outside what it handles
//! (shapes over its scratch sizes, requantization that could overflow its
//! shortcut); the caller then runs the portable kernel. Results never
//! depend on which path ran: `tests` check that on random shapes.
//!
//! `unsafe` here is only the `asm!` in [`dsp`]; indexing is checked or
//! structured (`chunks_exact`) so the checks fold away.

pub(crate) mod conv;
pub(crate) mod depthwise;
pub(crate) mod depthwise3x3;
pub mod dsp;
pub(crate) mod epilogue;
pub(crate) mod tile;

#[cfg(not(mote_dsp))]
use dsp::smmulr;
use dsp::ssat8;

/// `|x + input_offset|` is at most this for int8 `x` and an offset in
/// `[-127, 128]`.
const MAX_ABS_INPUT: i64 = 255;

/// Largest right shift [`Requant`] takes (keeps `round + offset << shift`
/// and the sum in `i32`).
const MAX_RIGHT_SHIFT: i32 = 22;

/// One output channel's requantization, precomputed so the per-output work
/// is `smmulr(acc << lsh, mult)` then a rounding shift with the output
/// offset folded in:
///
/// `MultiplyByQuantizedMultiplier(acc, m, s) + zo` equals
/// `(h + (h >> 31 & sign) + round) >> rsh` with `h = smmulr(acc << (left + 1), m)`,
/// `rsh = max(-s, 0)`, `round = 2^(rsh-1) + zo << rsh` and `sign` all ones
/// when `rsh > 0`, provided `|acc| << (left + 1)` fits in `i32`
/// ([`Requant::new`] checks a bound of `|acc|`):
/// - `smmulr(2v, m) = floor((2vm + 2^31) / 2^32) = floor((vm + 2^30) / 2^31)`,
///   which is gemmlowp's `SaturatingRoundingDoublingHighMul(v, m)` (its
///   sign-dependent nudge with truncating division is the same floor);
/// - `RoundingDivideByPOT(h, e)` rounds half away from zero, i.e.
///   `floor((h + 2^(e-1) - [h < 0]) / 2^e)`, and adding `zo * 2^e` inside
///   the floor adds `zo` outside.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Requant {
    /// `bias + input_offset * sum(w)` (wrapping, as the portable kernel).
    pub bias: i32,
    /// `left + 1`: the left shift and SMMULR's doubling.
    pub lsh: u32,
    /// Q0.31 multiplier.
    pub mult: i32,
    /// Right shift.
    pub rsh: u32,
    /// `2^(rsh-1) + output_offset << rsh` (`output_offset` when `rsh = 0`).
    pub round: i32,
    /// All ones when `rsh > 0` (the round-half-away-from-zero correction).
    pub sign: i32,
}

impl Requant {
    /// The channel's requantization, or `None` when the accumulator bound
    /// `|bias| + 255 * sum|w|` shifted left by `left + 1` might not fit in
    /// `i32`, or the right shift is over [`MAX_RIGHT_SHIFT`]: the caller
    /// then takes the portable path.
    pub fn new(
        bias: i32,
        sum_w: i32,
        sum_abs_w: u32,
        input_offset: i32,
        mult: i32,
        shift: i32,
        output_offset: i32,
    ) -> Option<Self> {
        let left = shift.max(0);
        let right = shift.saturating_neg().max(0);
        let bound = i64::from(bias).abs() + MAX_ABS_INPUT * i64::from(sum_abs_w);
        if left > 7 || right > MAX_RIGHT_SHIFT || mult < 0 {
            return None;
        }
        if bound.checked_shl(left as u32 + 1)? > i64::from(i32::MAX) {
            return None;
        }
        let half = if right > 0 { 1i32 << (right - 1) } else { 0 };
        Some(Self {
            bias: bias.wrapping_add(input_offset.wrapping_mul(sum_w)),
            lsh: left as u32 + 1,
            mult,
            rsh: right as u32,
            round: half + (output_offset << right),
            sign: if right > 0 { -1 } else { 0 },
        })
    }

    /// Requantizes one accumulator (offset added, not yet clamped).
    #[cfg(not(mote_dsp))]
    #[inline(always)]
    pub fn apply(&self, acc: i32) -> i32 {
        let h = smmulr(acc.wrapping_shl(self.lsh), self.mult);
        (h.wrapping_add((h >> 31) & self.sign)
            .wrapping_add(self.round))
            >> self.rsh
    }

    /// [`Requant::apply`] as six instructions: written out because LLVM
    /// masks the shift counts and turns the sign correction into a
    /// compare and a conditional add. Shift counts are below 32
    /// ([`Requant::new`]), where register shifts and Rust's agree.
    #[cfg(mote_dsp)]
    #[inline(always)]
    pub fn apply(&self, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: register-only instructions; no memory, no stack, no flags.
        unsafe {
            core::arch::asm!(
                "lsl {r}, {acc}, {lsh}",
                "smmulr {r}, {r}, {mult}",
                "and {t}, {sign}, {r}, asr #31",
                "add {r}, {r}, {t}",
                "add {r}, {r}, {round}",
                "asr {r}, {r}, {rsh}",
                r = out(reg) r,
                t = out(reg) _,
                acc = in(reg) acc,
                lsh = in(reg) self.lsh,
                mult = in(reg) self.mult,
                sign = in(reg) self.sign,
                round = in(reg) self.round,
                rsh = in(reg) self.rsh,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        r
    }
}

/// The fused activation's clamp; SSAT alone when it spans all of int8.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clamp {
    lo: i32,
    hi: i32,
    full: bool,
}

impl Clamp {
    pub fn new(lo: i32, hi: i32) -> Self {
        Self {
            lo,
            hi,
            full: lo <= -128 && hi >= 127,
        }
    }

    /// The lower bound.
    pub fn lo(&self) -> i32 {
        self.lo
    }

    /// The upper bound.
    pub fn hi(&self) -> i32 {
        self.hi
    }

    /// Whether the clamp is SSAT alone (callers pick a monomorphized loop
    /// with it, so the choice is not made per output).
    pub fn full(&self) -> bool {
        self.full
    }

    /// `v` clamped to `[lo, hi]` (which lies within int8); `FULL` must be
    /// [`Clamp::full`].
    #[inline(always)]
    pub fn apply<const FULL: bool>(&self, v: i32) -> i8 {
        let s = ssat8(v);
        if FULL {
            s as i8
        } else {
            s.max(self.lo).min(self.hi) as i8
        }
    }
}

/// Sum and sum of absolute values of int8 weights.
pub(crate) fn weight_sums(ws: impl Iterator<Item = i8>) -> (i32, u32) {
    ws.fold((0i32, 0u32), |(s, a), w| {
        (
            s.wrapping_add(i32::from(w)),
            a.wrapping_add(u32::from(w.unsigned_abs())),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::quant::multiply_by_quantized_multiplier;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The shortcut equals the portable requantization wherever `new`
        /// accepts the channel (and `new` accepts the usual ranges).
        #[test]
        fn requant_matches_portable(
            acc_frac in -1.0f64..=1.0,
            sum_abs in 0u32..=(1 << 14),
            bias in -(1i32 << 20)..(1 << 20),
            m in multiplier(),
            s in shift(),
            zo in -128i32..=127,
        ) {
            let bound = i64::from(bias).abs() + 255 * i64::from(sum_abs);
            let acc = (acc_frac * bound as f64) as i32;
            let r = Requant::new(bias, 0, sum_abs, 0, m, s, zo);
            if (-MAX_RIGHT_SHIFT..=0).contains(&s) && bound < (1 << 29) {
                prop_assert!(r.is_some());
            }
            if let Some(r) = r {
                let want = multiply_by_quantized_multiplier(acc, m, s).wrapping_add(zo);
                prop_assert_eq!(r.apply(acc), want);
            }
        }
    }

    /// The property tests' strategies draw right shifts around this bound.
    #[test]
    fn testutil_knows_the_largest_right_shift() {
        assert_eq!(FAST_MAX_RIGHT_SHIFT, MAX_RIGHT_SHIFT);
    }

    #[test]
    fn requant_rejects_what_could_overflow() {
        assert!(Requant::new(0, 0, 1 << 23, 0, 1 << 30, 0, 0).is_none());
        assert!(Requant::new(0, 0, 100, 0, 1 << 30, -23, 0).is_none());
        assert!(Requant::new(0, 0, 100, 0, 1 << 30, 8, 0).is_none());
        assert!(Requant::new(0, 0, 100, 0, 1 << 30, -22, 0).is_some());
    }

    #[test]
    fn clamp_matches_portable() {
        for (lo, hi) in [(-128, 127), (-5, 127), (-128, 6), (3, 3)] {
            let c = Clamp::new(lo, hi);
            for v in [-1000, -129, -128, -6, -5, 0, 3, 6, 7, 127, 128, 1000] {
                let want = crate::kernels::clamp_i8(v, lo, hi);
                assert_eq!(c.apply::<false>(v), want);
                if c.full() {
                    assert_eq!(c.apply::<true>(v), want);
                }
            }
        }
    }
}
