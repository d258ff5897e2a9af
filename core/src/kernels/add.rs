//! ADD, int8 (TFLM `reference_integer_ops::Add` / `BroadcastAdd`).
//!
//! Both inputs are brought to a common scale (twice the larger input scale)
//! with 20 bits of headroom, summed, and rescaled to the output:
//! `s_i = MBQM_smaller_than_one((in_i + offset_i) << 20, mult_i, shift_i)`,
//! `out = clamp(output_offset + MBQM_smaller_than_one(s_1 + s_2, out_mult, out_shift))`.
//! Inputs broadcast against each other (each dimension equal to the
//! output's or 1).

use super::{
    activation_range, broadcast_binary, broadcast_strides, check_len, Activation, KernelError,
    Quant, Shape4, View, ViewMut, Words,
};
use crate::quant::{
    multiply_by_quantized_multiplier_smaller_than_one_exp as mbqm_lt1, pow2,
    quantize_multiplier_smaller_than_one_exp,
};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 12;

/// Run-time parameters of ADD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Headroom shift applied to both inputs (TFLite uses 20 for int8).
    pub left_shift: i32,
    /// `-input1_zero_point`.
    pub input1_offset: i32,
    /// Input 1 multiplier (Q0.31).
    pub input1_multiplier: i32,
    /// Input 1 shift (`<= 0`).
    pub input1_shift: i32,
    /// `-input2_zero_point`.
    pub input2_offset: i32,
    /// Input 2 multiplier (Q0.31).
    pub input2_multiplier: i32,
    /// Input 2 shift (`<= 0`).
    pub input2_shift: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Output multiplier (Q0.31).
    pub output_multiplier: i32,
    /// Output shift (`<= 0`).
    pub output_shift: i32,
    /// Fused activation clamp, low end.
    pub act_min: i32,
    /// Fused activation clamp, high end.
    pub act_max: i32,
}

/// Host-side prepare, as TFLM's `CalculateOpDataAdd` for int8.
pub fn prepare(
    activation: Activation,
    input1_q: Quant,
    input2_q: Quant,
    output_q: Quant,
) -> Result<Params, KernelError> {
    input1_q.check_int8()?;
    input2_q.check_int8()?;
    output_q.check_int8()?;
    let left_shift = 20;
    let twice_max_input_scale = 2.0 * f64::from(input1_q.scale.max(input2_q.scale));
    let real_input1 = f64::from(input1_q.scale) / twice_max_input_scale;
    let real_input2 = f64::from(input2_q.scale) / twice_max_input_scale;
    let real_output =
        twice_max_input_scale / ((1i64 << left_shift) as f64 * f64::from(output_q.scale));
    let (input1_multiplier, input1_shift) = quantize_multiplier_smaller_than_one_exp(real_input1)?;
    let (input2_multiplier, input2_shift) = quantize_multiplier_smaller_than_one_exp(real_input2)?;
    let (output_multiplier, output_shift) = quantize_multiplier_smaller_than_one_exp(real_output)?;
    let (act_min, act_max) = activation_range(activation, output_q);
    Ok(Params {
        left_shift,
        input1_offset: -input1_q.zero_point,
        input1_multiplier,
        input1_shift,
        input2_offset: -input2_q.zero_point,
        input2_multiplier,
        input2_shift,
        output_offset: output_q.zero_point,
        output_multiplier,
        output_shift,
        act_min,
        act_max,
    })
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        let offsets_ok = (-127..=128).contains(&self.input1_offset)
            && (-127..=128).contains(&self.input2_offset)
            && (-128..=127).contains(&self.output_offset);
        let mults_ok = [
            self.input1_multiplier,
            self.input2_multiplier,
            self.output_multiplier,
        ]
        .iter()
        .all(|&m| m >= 0);
        let shifts_ok = [self.input1_shift, self.input2_shift, self.output_shift]
            .iter()
            .all(|s| (-31..=0).contains(s));
        if !offsets_ok
            || !mults_ok
            || !shifts_ok
            || !(0..=22).contains(&self.left_shift)
            || !(-128..=127).contains(&self.act_min)
            || !(self.act_min..=127).contains(&self.act_max)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words in field order: left_shift, input1_offset,
    /// input1_multiplier, input1_shift, input2_offset, input2_multiplier,
    /// input2_shift, output_offset, output_multiplier, output_shift, act_min,
    /// act_max.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for v in [
            self.left_shift,
            self.input1_offset,
            self.input1_multiplier,
            self.input1_shift,
            self.input2_offset,
            self.input2_multiplier,
            self.input2_shift,
            self.output_offset,
            self.output_multiplier,
            self.output_shift,
            self.act_min,
            self.act_max,
        ] {
            out(v);
        }
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        let left_shift = w.int(0, 22)?;
        let input1_offset = w.int(-127, 128)?;
        let input1_multiplier = w.int(0, i32::MAX)?;
        let input1_shift = w.int(-31, 0)?;
        let input2_offset = w.int(-127, 128)?;
        let input2_multiplier = w.int(0, i32::MAX)?;
        let input2_shift = w.int(-31, 0)?;
        let output_offset = w.int(-128, 127)?;
        let output_multiplier = w.int(0, i32::MAX)?;
        let output_shift = w.int(-31, 0)?;
        let (act_min, act_max) = w.clamp()?;
        Ok(Self {
            left_shift,
            input1_offset,
            input1_multiplier,
            input1_shift,
            input2_offset,
            input2_multiplier,
            input2_shift,
            output_offset,
            output_multiplier,
            output_shift,
            act_min,
            act_max,
        })
    }

    /// Checks the params and that both inputs broadcast to the output shape.
    pub fn validate(
        &self,
        input1: Shape4,
        input2: Shape4,
        output: Shape4,
    ) -> Result<(), KernelError> {
        self.check()?;
        output.check()?;
        broadcast_strides(input1, output)?;
        broadcast_strides(input2, output)?;
        Ok(())
    }

    /// One operation per output element.
    pub fn macs(&self, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| n as u64)
    }

    /// The op on one pair of values.
    #[inline]
    pub fn apply(&self, a: i8, b: i8) -> i8 {
        let scale = pow2(self.left_shift);
        let a = (i32::from(a) + self.input1_offset).wrapping_mul(scale);
        let b = (i32::from(b) + self.input2_offset).wrapping_mul(scale);
        let sa = mbqm_lt1(a, self.input1_multiplier, self.input1_shift);
        let sb = mbqm_lt1(b, self.input2_multiplier, self.input2_shift);
        let raw = mbqm_lt1(
            sa.wrapping_add(sb),
            self.output_multiplier,
            self.output_shift,
        )
        .wrapping_add(self.output_offset);
        super::clamp_i8(raw, self.act_min, self.act_max)
    }
}

impl Params {
    /// Builds the lookup tables of [`Tables`] (512 input rescalings); build
    /// them once per op run, not per element.
    pub fn tables(&self) -> Tables {
        Tables::new(self)
    }
}

/// ADD prepared for many elements: [`Params::apply`] with the two input
/// rescalings looked up instead of computed.
///
/// Each input's rescaling `MBQM_smaller_than_one((in + offset) << left_shift,
/// mult, shift)` depends only on the int8 value, so it is tabulated for all
/// 256 values (the same integer arithmetic, so the tables are exact). What
/// is left per element is two loads, an add and the output rescaling.
///
/// The output rescaling `clamp(RDBP(SRDHM(s, m), e) + offset)` is done in a
/// fused form when the tables' value range allows it (it does for every ADD
/// that [`prepare`] makes whose output scale is at most 8x its larger input
/// scale; `fused_rescale_fits` has the conditions):
/// - `SRDHM(s, m)` is `(s * m + 2^30) >> 31` (ties toward +infinity, for any
///   `m >= 0`), which equals `y = (2s * m + 2^31) >> 32`: one `SMMULR` on a
///   Cortex-M4. The tables hold `2 * value`, so their sum is `2s` already.
/// - `RDBP(y, e)` (ties away from zero) for `e >= 1` is
///   `(y + 2^(e-1) - [y < 0]) >> e`, and adding `offset << e` before the
///   shift adds `offset` after it, so `bias = 2^(e-1) + (offset << e)` is
///   one constant (folded into the multiply: `SMMLAR`).
/// - `[y < 0]` may be replaced by `[s < 0]`: they differ only when `s < 0`
///   and `y = 0`, and `(bias - 1) >> e == bias >> e` because `bias`'s low
///   `e` bits are `2^(e-1)`, not 0.
/// - Without an activation the clamp to `[-128, 127]` is one `SSAT`.
///
/// Otherwise (an output shift of 0, or values too large to double) it runs
/// the reference arithmetic on the looked-up values. Either way
/// [`Tables::apply`] equals [`Params::apply`] for every pair of inputs.
///
/// 2 KiB (two 256-entry `i32` tables) plus a few words: build it on the
/// stack once per op run.
#[derive(Debug, Clone)]
pub struct Tables {
    /// Input 1's rescaled value per `u8` bit pattern (doubled when fused).
    input1: [i32; 256],
    /// Input 2's rescaled value per `u8` bit pattern (doubled when fused).
    input2: [i32; 256],
    /// How the output is rescaled.
    rescale: Rescale,
    /// Output multiplier (Q0.31).
    multiplier: i32,
    /// Fused: right shift `e = -output_shift` (`1..=30`).
    shift: u32,
    /// Fused: `2^(e-1) + (output_offset << e)`.
    bias: i32,
    /// Reference path: as in [`Params`].
    output_shift: i32,
    output_offset: i32,
    act_min: i32,
    act_max: i32,
}

/// The output rescaling a [`Tables`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rescale {
    /// Fused, no activation: saturate to int8.
    Saturate,
    /// Fused, then clamp to `[act_min, act_max]` (inside int8).
    Clamp,
    /// [`Params::apply`]'s arithmetic on the looked-up sum.
    Reference,
}

impl Tables {
    /// Builds the tables for `p` (512 input rescalings). Fields outside
    /// [`Params::check`]'s ranges give [`Params::apply`]'s results too (on
    /// the reference path).
    pub fn new(p: &Params) -> Self {
        let in1 = InputRescale::new(
            p.left_shift,
            p.input1_offset,
            p.input1_multiplier,
            p.input1_shift,
        );
        let in2 = InputRescale::new(
            p.left_shift,
            p.input2_offset,
            p.input2_multiplier,
            p.input2_shift,
        );
        let shift = p.output_shift.unsigned_abs();
        let act_ok = (-128..=127).contains(&p.act_min) && (p.act_min..=127).contains(&p.act_max);
        let fused = p.output_shift <= 0
            && act_ok
            && fused_rescale_fits(
                in1.max_abs(),
                in2.max_abs(),
                p.output_multiplier,
                shift,
                p.output_offset,
            );
        // Fused tables hold doubled values (no wrapping: fused_rescale_fits).
        let factor = if fused { 2 } else { 1 };
        let mut input1 = [0i32; 256];
        let mut input2 = [0i32; 256];
        in1.fill(&mut input1, factor);
        in2.fill(&mut input2, factor);
        let mut bias = 0;
        let rescale = if fused {
            // fused_rescale_fits checked 1 <= shift <= 30 and that this fits.
            bias = (1i32 << (shift - 1)).wrapping_add(p.output_offset.wrapping_shl(shift));
            if p.act_min == -128 && p.act_max == 127 {
                Rescale::Saturate
            } else {
                Rescale::Clamp
            }
        } else {
            Rescale::Reference
        };
        Self {
            input1,
            input2,
            rescale,
            multiplier: p.output_multiplier,
            shift,
            bias,
            output_shift: p.output_shift,
            output_offset: p.output_offset,
            act_min: p.act_min,
            act_max: p.act_max,
        }
    }

    /// The op on one pair of values; equals [`Params::apply`].
    #[inline]
    pub fn apply(&self, a: i8, b: i8) -> i8 {
        let s = lookup(&self.input1, a).wrapping_add(lookup(&self.input2, b));
        match self.rescale {
            Rescale::Saturate => saturate(self.fused(s)),
            Rescale::Clamp => self.clamp(self.fused(s)),
            Rescale::Reference => self.reference(s),
        }
    }

    /// [`Tables::apply`] as one shared function (the broadcasting path,
    /// rare in practice, keeps no inlined copy of all three rescalings).
    #[inline(never)]
    fn apply_out_of_line(&self, a: i8, b: i8) -> i8 {
        self.apply(a, b)
    }

    /// `out[i] = apply(a[i], b[i])` over the shortest of the three slices
    /// (copies `a` to `out`, then runs [`Tables::apply_in_place`]).
    pub fn apply_slices(&self, a: &[i8], b: &[i8], out: &mut [i8]) {
        let n = out.len().min(a.len()).min(b.len());
        if let (Some(out), Some(a), Some(b)) = (out.get_mut(..n), a.get(..n), b.get(..n)) {
            out.copy_from_slice(a);
            self.apply_in_place(out, b, true);
        }
    }

    /// In place: `buf[i] = apply(buf[i], other[i])` when `buf` holds input 1,
    /// `apply(other[i], buf[i])` otherwise, over the shorter slice. Each
    /// element is read before it is written, so no copy is needed.
    pub fn apply_in_place(&self, buf: &mut [i8], other: &[i8], buf_is_input1: bool) {
        // The sum commutes: swapping the tables swaps the operands.
        let (own, theirs) = if buf_is_input1 {
            (&self.input1, &self.input2)
        } else {
            (&self.input2, &self.input1)
        };
        let pairs = buf.iter_mut().zip(other);
        let sum = |o: i8, y: i8| lookup(own, o).wrapping_add(lookup(theirs, y));
        match self.rescale {
            Rescale::Saturate => {
                for (o, &y) in pairs {
                    *o = saturate(self.fused(sum(*o, y)));
                }
            }
            Rescale::Clamp => {
                for (o, &y) in pairs {
                    *o = self.clamp(self.fused(sum(*o, y)));
                }
            }
            Rescale::Reference => {
                for (o, &y) in pairs {
                    *o = self.reference(sum(*o, y));
                }
            }
        }
    }

    /// Fused output rescaling of the doubled sum `s2`, before the clamp
    /// (see the type's documentation). `fused_rescale_fits` bounded the
    /// intermediate values, so the wrapping operations never wrap.
    #[inline(always)]
    fn fused(&self, s2: i32) -> i32 {
        let y = ((i64::from(s2) * i64::from(self.multiplier) + (1i64 << 31)) >> 32) as i32;
        y.wrapping_add(self.bias).wrapping_add(s2 >> 31) >> self.shift
    }

    /// The activation clamp (inside int8, checked by [`Tables::new`]).
    #[inline(always)]
    fn clamp(&self, z: i32) -> i8 {
        z.max(self.act_min).min(self.act_max) as i8
    }

    /// The reference output rescaling on the looked-up sum; out of line,
    /// since only unusual parameters take it.
    #[inline(never)]
    fn reference(&self, s: i32) -> i8 {
        let raw = mbqm_lt1(s, self.multiplier, self.output_shift).wrapping_add(self.output_offset);
        super::clamp_i8(raw, self.act_min, self.act_max)
    }

    /// Whether the fused output rescaling is used (tests).
    #[cfg(test)]
    fn is_fused(&self) -> bool {
        self.rescale != Rescale::Reference
    }
}

/// A table entry by the value's `u8` bit pattern (always in bounds).
#[inline(always)]
fn lookup(table: &[i32; 256], v: i8) -> i32 {
    table[usize::from(v as u8)]
}

/// Saturates to int8 (`SSAT #8` on a Cortex-M4).
#[inline(always)]
fn saturate(z: i32) -> i8 {
    z.clamp(-128, 127) as i8
}

/// One input's rescaling `MBQM_smaller_than_one((v + offset) << left_shift,
/// multiplier, shift)` for the 256 int8 values `v`.
struct InputRescale {
    left_shift: i32,
    offset: i32,
    multiplier: i32,
    shift: i32,
}

impl InputRescale {
    fn new(left_shift: i32, offset: i32, multiplier: i32, shift: i32) -> Self {
        Self {
            left_shift,
            offset,
            multiplier,
            shift,
        }
    }

    /// The reference arithmetic for one value (as [`Params::apply`]); out
    /// of line, it only runs a few times per table in range.
    #[inline(never)]
    fn one(&self, v: i32) -> i32 {
        let x = v
            .wrapping_add(self.offset)
            .wrapping_mul(pow2(self.left_shift));
        mbqm_lt1(x, self.multiplier, self.shift)
    }

    /// Whether the parameters are in [`Params::check`]'s ranges, where the
    /// products below fit an `i64` and the rescaling is non-decreasing in
    /// `v` (`multiplier >= 0`).
    fn in_range(&self) -> bool {
        self.multiplier >= 0
            && (-31..=0).contains(&self.shift)
            && (0..=22).contains(&self.left_shift)
            && (-255..=255).contains(&self.offset)
    }

    /// The largest `|value|` over all 256 inputs, `None` if unknown
    /// (parameters out of range). The rescaling is monotone, so it is at
    /// one of the ends.
    fn max_abs(&self) -> Option<i64> {
        self.in_range().then(|| {
            let (lo, hi) = (self.one(-128), self.one(127));
            i64::from(lo).abs().max(i64::from(hi).abs())
        })
    }

    /// Fills `table` (by `u8` bit pattern) with `factor * value`.
    ///
    /// In range, without per-value multiplies: `x * m` grows by
    /// `m << left_shift` per step of `v` (|x * m| < 2^61), `SRDHM(x, m)` is
    /// `(x * m + 2^30) >> 31` for `m >= 0` (see [`Tables`]) and
    /// `RDBP(y, e)` is `(y + 2^(e-1) - [y < 0]) >> e` for `e >= 1`. The unit
    /// tests check every entry against the reference arithmetic.
    fn fill(&self, table: &mut [i32; 256], factor: i32) {
        // Bit patterns 128..=255 are the values -128..=-1, 0..=127 the rest.
        let (non_negative, negative) = table.split_at_mut(128);
        // (A shift of -31 is left to the reference: y + 2^30 could overflow.)
        if !self.in_range() || self.shift < -30 {
            for (v, t) in (-128..0).zip(negative.iter_mut()) {
                *t = self.one(v).wrapping_mul(factor);
            }
            for (v, t) in (0..128).zip(non_negative.iter_mut()) {
                *t = self.one(v).wrapping_mul(factor);
            }
            return;
        }
        let step = i64::from(self.multiplier) << self.left_shift;
        let e = self.shift.unsigned_abs();
        // |y| <= |x| <= 383 * 2^22 and round <= 2^29: the i32 sums fit.
        let (round, neg) = if e == 0 {
            (0, 0)
        } else {
            (1i32 << (e - 1), -1)
        };
        let mut prod = i64::from(self.offset - 128) * step;
        let mut entry = |t: &mut i32| {
            let y = ((prod + (1 << 30)) >> 31) as i32;
            let v = y.wrapping_add(round).wrapping_add(neg & (y >> 31)) >> e;
            *t = v.wrapping_mul(factor);
            prod += step;
        };
        negative.iter_mut().for_each(&mut entry);
        non_negative.iter_mut().for_each(&mut entry);
    }
}

/// Whether the fused output rescaling is exact for tables whose (undoubled)
/// values are at most `max1` and `max2` in magnitude: `1 <= shift <= 30`,
/// `multiplier >= 0`, the doubled sum fits an `i32` (so does the undoubled
/// one: no wrapping in the reference either), and `y + bias + (s >> 31)`
/// cannot overflow for any `y` the multiply can give.
fn fused_rescale_fits(
    max1: Option<i64>,
    max2: Option<i64>,
    mult: i32,
    shift: u32,
    offset: i32,
) -> bool {
    let (Some(max1), Some(max2)) = (max1, max2) else {
        return false;
    };
    if !(1..=30).contains(&shift) || mult < 0 {
        return false;
    }
    let sum_max = 2 * (max1 + max2);
    if sum_max > i64::from(i32::MAX) {
        return false;
    }
    // |y| <= |2s| * m / 2^32 + 1.
    let y_max = ((sum_max * i64::from(mult)) >> 32) + 1;
    let bias = (1i64 << (shift - 1)) + (i64::from(offset) << shift);
    let lo = -y_max + bias - 1;
    let hi = y_max + bias;
    lo >= i64::from(i32::MIN) && hi <= i64::from(i32::MAX)
}

/// Runs ADD with broadcasting.
pub fn eval(
    p: &Params,
    input1: View<'_>,
    input2: View<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    p.validate(input1.shape, input2.shape, output.shape)?;
    eval_with(&p.tables(), input1, input2, output)
}

/// [`eval`] with tables already built (shapes validated by the caller with
/// [`Params::validate`]; lengths are checked here).
pub fn eval_with(
    t: &Tables,
    input1: View<'_>,
    input2: View<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    if input1.shape == output.shape && input2.shape == output.shape {
        check_len(output.shape, input1.data.len())?;
        check_len(output.shape, input2.data.len())?;
        check_len(output.shape, output.data.len())?;
        t.apply_slices(input1.data, input2.data, output.data);
        return Ok(());
    }
    broadcast_binary(input1, input2, output, |a, b| t.apply_out_of_line(a, b))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    fn ref_lt1(x: i64, m: i32, s: i32) -> i64 {
        // MBQM with a non-positive shift is exactly SmallerThanOneExp.
        ref_mbqm(x, m, s)
    }

    fn reference(p: &Params, a: i8, b: i8) -> i8 {
        let a = (a as i64 + p.input1_offset as i64) * (1 << p.left_shift);
        let b = (b as i64 + p.input2_offset as i64) * (1 << p.left_shift);
        let s = ref_lt1(a, p.input1_multiplier, p.input1_shift)
            + ref_lt1(b, p.input2_multiplier, p.input2_shift);
        let v = ref_lt1(s, p.output_multiplier, p.output_shift) + p.output_offset as i64;
        ref_clamp(v, p.act_min, p.act_max)
    }

    fn shape_pair() -> impl Strategy<Value = (Shape4, Shape4, Shape4)> {
        (
            1usize..=2,
            1usize..=5,
            1usize..=5,
            1usize..=6,
            0u8..16,
            0u8..16,
        )
            .prop_map(|(n, h, w, c, ma, mb)| {
                let out = Shape4::new(n, h, w, c);
                let pick = |m: u8| {
                    let d = out.dims();
                    let f = |i: usize| if m & (1 << i) != 0 { 1 } else { d[i] };
                    Shape4::new(f(0), f(1), f(2), f(3))
                };
                // Mostly equal shapes; the masks broadcast some dimensions.
                let (a, b) = if ma % 3 == 0 {
                    (out, out)
                } else {
                    (pick(ma), pick(mb))
                };
                (a, b, out)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn matches_reference(
            (sa, sb, so) in shape_pair(),
            s1 in 0.001f32..1.0, s2 in 0.001f32..1.0, so_scale in 0.001f32..1.0,
            z1 in zero_point(), z2 in zero_point(), zo in zero_point(),
            act in 0i32..4,
            seed in any::<u64>(),
        ) {
            let p = prepare(
                Activation::from_tflite(act).unwrap(),
                Quant::new(s1, z1), Quant::new(s2, z2), Quant::new(so_scale, zo),
            ).unwrap();
            let mk = |s: Shape4, k: u64| -> Vec<i8> {
                let len = s.elements().unwrap();
                let mut st = seed ^ k;
                (0..len).map(|_| { st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (st >> 56) as i8 }).collect()
            };
            let (a, b) = (mk(sa, 1), mk(sb, 2));
            let mut out = vec![0i8; so.elements().unwrap()];
            eval(&p, View::new(sa, &a), View::new(sb, &b), ViewMut::new(so, &mut out)).unwrap();
            let (ta, tb) = (broadcast_strides(sa, so).unwrap(), broadcast_strides(sb, so).unwrap());
            let mut i = 0;
            for n in 0..so.n { for h in 0..so.h { for w in 0..so.w { for c in 0..so.c {
                let x = a[n * ta[0] + h * ta[1] + w * ta[2] + c * ta[3]];
                let y = b[n * tb[0] + h * tb[1] + w * tb[2] + c * tb[3]];
                prop_assert_eq!(out[i], reference(&p, x, y));
                i += 1;
            }}}}
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }

        #[test]
        fn extremes_match_reference(s1 in 0.001f32..1.0, s2 in 0.001f32..1.0, so in 0.01f32..1.0,
                                    z1 in zero_point(), z2 in zero_point(), zo in zero_point()) {
            let p = prepare(Activation::None, Quant::new(s1, z1), Quant::new(s2, z2), Quant::new(so, zo)).unwrap();
            for a in [-128i8, -1, 0, 1, 127] {
                for b in [-128i8, -1, 0, 1, 127] {
                    prop_assert_eq!(p.apply(a, b), reference(&p, a, b));
                }
            }
        }
    }

    /// Every one of the 65,536 input pairs through [`Tables::apply`],
    /// [`Tables::apply_slices`] and [`Tables::apply_in_place`] (both operand
    /// orders) against [`Params::apply`].
    fn assert_tables_exact(p: &Params) {
        let t = p.tables();
        let a: Vec<i8> = (0..=u16::MAX).map(|k| (k >> 8) as u8 as i8).collect();
        let b: Vec<i8> = (0..=u16::MAX).map(|k| k as u8 as i8).collect();
        let want: Vec<i8> = a.iter().zip(&b).map(|(&x, &y)| p.apply(x, y)).collect();
        for (k, (&x, &y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(t.apply(x, y), want[k], "a={x} b={y} {p:?}");
        }
        let mut out = vec![0i8; a.len()];
        t.apply_slices(&a, &b, &mut out);
        assert_eq!(out, want);
        let mut buf = a.clone();
        t.apply_in_place(&mut buf, &b, true);
        assert_eq!(buf, want);
        let mut buf = b.clone();
        t.apply_in_place(&mut buf, &a, false);
        assert_eq!(buf, want);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn tables_exact_for_prepared_params(
            s1 in 0.0001f32..1.0, s2 in 0.0001f32..1.0, so in 0.0001f32..1.0,
            z1 in zero_point(), z2 in zero_point(), zo in zero_point(),
            act in 0i32..4,
        ) {
            let p = prepare(
                Activation::from_tflite(act).unwrap(),
                Quant::new(s1, z1), Quant::new(s2, z2), Quant::new(so, zo),
            ).unwrap();
            // Every ADD whose output scale is at most 8x its larger input
            // scale (any real ADD: the output spans the sum's range) takes
            // the fused path. Past that the output rescale needs a right
            // shift over 22, the zero point shifted that far overflows i32,
            // and the reference path runs instead (1 run in about 25 drew
            // one, e.g. input scales 1e-4, output 0.83): exact either way.
            if s1.max(s2) * 8.0 >= so {
                prop_assert!(p.tables().is_fused(), "{:?}", p);
            }
            assert_tables_exact(&p);
        }
    }

    /// An output scale thousands of times the inputs' (the case the
    /// property test once drew) takes the reference rescale, still exact.
    #[test]
    fn tiny_input_scales_take_the_reference_rescale() {
        let p = prepare(
            Activation::None,
            Quant::new(1e-4, 5),
            Quant::new(1e-4, -3),
            Quant::new(0.83, 100),
        )
        .unwrap();
        assert!(!p.tables().is_fused(), "{p:?}");
        assert_tables_exact(&p);
    }

    /// Every table entry, built without per-value multiplies, against the
    /// reference arithmetic, over the parameter ranges `check` accepts
    /// (and some beyond, where `fill` takes the reference path).
    #[test]
    fn input_tables_match_reference_arithmetic() {
        let mut st = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            st = st
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (st >> 32) as u32
        };
        let mut cases = Vec::new();
        for ls in [0, 1, 20, 22, 23] {
            for m in [0, 1, 1 << 30, i32::MAX, -5] {
                for shift in [0, -1, -2, -17, -30, -31, 1] {
                    for off in [-255, -127, 0, 128, 255, 300] {
                        cases.push((ls, off, m, shift));
                    }
                }
            }
        }
        for _ in 0..2000 {
            let ls = (next() % 23) as i32;
            let off = (next() % 511) as i32 - 255;
            let m = (next() >> 1) as i32;
            let shift = -((next() % 32) as i32);
            cases.push((ls, off, m, shift));
        }
        for (ls, off, m, shift) in cases {
            let r = InputRescale::new(ls, off, m, shift);
            for factor in [1, 2] {
                let mut t = [0i32; 256];
                r.fill(&mut t, factor);
                for v in -128..=127i32 {
                    let want = r.one(v).wrapping_mul(factor);
                    assert_eq!(
                        t[usize::from(v as i8 as u8)],
                        want,
                        "{ls} {off} {m} {shift} v={v}"
                    );
                }
            }
            if let Some(max) = r.max_abs() {
                let real = (-128..=127).map(|v| i64::from(r.one(v)).abs()).max();
                assert_eq!(Some(max), real);
            }
        }
    }

    #[test]
    fn tables_exact_at_extremes() {
        let base = prepare(
            Activation::None,
            Quant::new(0.02, 3),
            Quant::new(0.05, -7),
            Quant::new(0.04, 11),
        )
        .unwrap();
        assert!(base.tables().is_fused());
        let mut cases = vec![base];
        // Output shifts 0 and -31 (reference path), -30 and -1 (fused edges).
        // (An offset << 30 must fit an i32 for the fused form.)
        for (shift, offset) in [(0, 11), (-31, 11), (-30, 0), (-1, 11)] {
            cases.push(Params {
                output_shift: shift,
                output_offset: offset,
                ..base
            });
        }
        // Largest headroom and multipliers: doubled sums overflow, reference path.
        cases.push(Params {
            left_shift: 22,
            input1_multiplier: i32::MAX,
            input1_shift: 0,
            input2_multiplier: i32::MAX,
            input2_shift: 0,
            output_multiplier: i32::MAX,
            ..base
        });
        // Zero and tiny multipliers, extreme offsets, narrow clamps.
        cases.push(Params {
            input1_offset: 128,
            input2_offset: -127,
            input1_multiplier: 0,
            input2_multiplier: 1,
            output_offset: -128,
            act_min: -5,
            act_max: 9,
            ..base
        });
        cases.push(Params {
            input1_offset: -127,
            input2_offset: 128,
            input1_multiplier: i32::MAX,
            input1_shift: -1,
            input2_multiplier: 1 << 30,
            input2_shift: -31,
            output_multiplier: i32::MAX,
            output_shift: -1,
            output_offset: 127,
            act_min: 0,
            act_max: 127,
            ..base
        });
        cases.push(Params {
            output_multiplier: 0,
            act_min: 3,
            act_max: 3,
            ..base
        });
        // The plain-addition case from known_values_and_errors.
        cases.push(
            prepare(
                Activation::Relu6,
                Quant::new(0.1, 0),
                Quant::new(0.1, 0),
                Quant::new(0.1, 0),
            )
            .unwrap(),
        );
        for p in &cases {
            p.check().unwrap();
            assert_tables_exact(p);
        }
        assert!(
            !cases[1].tables().is_fused(),
            "shift 0 uses the reference path"
        );
        assert!(
            !cases[2].tables().is_fused(),
            "shift 31 uses the reference path"
        );
        assert!(cases[3].tables().is_fused() && cases[4].tables().is_fused());
        assert!(!cases[5].tables().is_fused(), "doubled sums would overflow");
    }

    #[test]
    fn known_values_and_errors() {
        // Same scales, zero points 0: plain saturating addition.
        let p = prepare(
            Activation::None,
            Quant::new(0.1, 0),
            Quant::new(0.1, 0),
            Quant::new(0.1, 0),
        )
        .unwrap();
        assert_eq!(p.input1_multiplier, 1 << 30);
        assert_eq!(p.input1_shift, 0);
        assert_eq!(p.apply(3, 4), 7);
        assert_eq!(p.apply(-5, 2), -3);
        assert_eq!(p.apply(100, 100), 127);
        assert_eq!(p.apply(-100, -100), -128);
        let s = Shape4::new(1, 2, 2, 3);
        let mut out = [0i8; 12];
        assert_eq!(
            eval(
                &p,
                View::new(s, &[0; 12]),
                View::new(Shape4::new(1, 2, 1, 3), &[0; 6]),
                ViewMut::new(s, &mut out)
            ),
            Ok(())
        );
        assert_eq!(
            eval(
                &p,
                View::new(s, &[0; 12]),
                View::new(Shape4::new(1, 2, 2, 2), &[0; 8]),
                ViewMut::new(s, &mut out)
            ),
            Err(KernelError::Shape)
        );
        assert_eq!(
            eval(
                &p,
                View::new(s, &[0; 11]),
                View::new(s, &[0; 12]),
                ViewMut::new(s, &mut out)
            ),
            Err(KernelError::Length)
        );
        let mut words = Vec::new();
        p.encode(&mut |w| words.push(w));
        words[3] = 1; // positive input shift
        assert!(Params::decode(&words).is_err());
    }
}
