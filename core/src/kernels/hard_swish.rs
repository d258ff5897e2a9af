//! HARD_SWISH, int8 (TFLite `reference_ops::HardSwish`, quantized).
//!
//! `x * relu6(x + 3) / 6` in 16-bit fixed point: the input (minus zero
//! point) is scaled up by 2^7; one int16 multiplier takes it to the output
//! scale, another to a "reluish" value where 3.0 maps to 32768 (saturating),
//! which is mapped to [0, 1] and multiplied in (truncating
//! `SaturatingDoublingHighMul`); a final rounding shift gives the output.

use super::{check_len, KernelError, Quant, Shape4, View, ViewMut, Words};
use crate::quant::quantize_multiplier;

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 6;

/// Run-time parameters of HARD_SWISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Q0.15 multiplier to the reluish scale.
    pub reluish_multiplier_fixedpoint_int16: i32,
    /// Its exponent, `[-31, 31]`.
    pub reluish_multiplier_exponent: i32,
    /// Q0.15 multiplier to the output scale.
    pub output_multiplier_fixedpoint_int16: i32,
    /// Its exponent, `[-31, 0]`.
    pub output_multiplier_exponent: i32,
}

/// TFLite `DownScaleInt32ToInt16Multiplier`: rounds a Q0.31 multiplier to
/// Q0.15, saturating at `i16::MAX`.
pub fn down_scale_int32_to_int16_multiplier(multiplier: i32) -> i32 {
    const ROUNDING_OFFSET: i32 = 1 << 15;
    if multiplier >= i32::MAX - ROUNDING_OFFSET {
        return i32::from(i16::MAX);
    }
    (multiplier + ROUNDING_OFFSET) >> 16
}

/// Host-side prepare, as TFLM's `HardSwishPrepare`. The scale ratios are
/// computed in `f32` as TFLite does: `hires = input_scale / 128`,
/// `output = hires / output_scale`, `reluish = hires / (3 / 32768)`.
pub fn prepare(input_q: Quant, output_q: Quant) -> Result<Params, KernelError> {
    input_q.check_int8()?;
    output_q.check_int8()?;
    let hires_input_scale = (1.0f32 / 128.0) * input_q.scale;
    let reluish_scale = 3.0f32 / 32768.0;
    let output_multiplier = hires_input_scale / output_q.scale;
    let (om, oe) = quantize_multiplier(f64::from(output_multiplier))?;
    if oe > 0 {
        return Err(KernelError::Quantization);
    }
    let reluish_multiplier = hires_input_scale / reluish_scale;
    let (rm, re) = quantize_multiplier(f64::from(reluish_multiplier))?;
    Ok(Params {
        input_zero_point: input_q.zero_point,
        output_zero_point: output_q.zero_point,
        reluish_multiplier_fixedpoint_int16: down_scale_int32_to_int16_multiplier(rm),
        reluish_multiplier_exponent: re,
        output_multiplier_fixedpoint_int16: down_scale_int32_to_int16_multiplier(om),
        output_multiplier_exponent: oe,
    })
}

/// gemmlowp `SaturatingRoundingDoublingHighMul` on int16.
fn srdhm16(a: i16, b: i16) -> i16 {
    if a == b && a == i16::MIN {
        return i16::MAX;
    }
    let ab = i32::from(a) * i32::from(b);
    let nudge: i32 = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    ((ab + nudge) / (1 << 15)) as i16
}

/// TFLite `SaturatingDoublingHighMul` on int16 (truncating, no rounding).
fn sdhm16(a: i16, b: i16) -> i16 {
    if a == b && a == i16::MIN {
        return i16::MAX;
    }
    ((i32::from(a) * i32::from(b)) / (1 << 15)) as i16
}

/// TFLite's int16 `SaturatingLeftShift`.
fn saturating_left_shift16(value: i16, amount: i32) -> i16 {
    let r = i64::from(value) * (1i64 << amount.clamp(0, 62));
    r.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

/// gemmlowp `RoundingDivideByPOT` instantiated on int16, as the C++ compiles
/// it: the mask `(1 << e) - 1` is truncated to int16 (so it is -1 for
/// `e >= 16`), while the shift itself happens on the promoted `int`.
fn rdbp16(x: i16, exponent: i32) -> i16 {
    let e = exponent.clamp(0, 31);
    let mask = ((1i64 << e) - 1) as i16;
    let remainder = x & mask;
    let threshold = (mask >> 1).wrapping_add(i16::from(x < 0));
    let shifted = (i32::from(x) >> e) as i16;
    shifted.wrapping_add(i16::from(remainder > threshold))
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        let m16 = 0..=i32::from(i16::MAX);
        if !(-128..=127).contains(&self.input_zero_point)
            || !(-128..=127).contains(&self.output_zero_point)
            || !m16.contains(&self.reluish_multiplier_fixedpoint_int16)
            || !m16.contains(&self.output_multiplier_fixedpoint_int16)
            || !(-31..=31).contains(&self.reluish_multiplier_exponent)
            || !(-31..=0).contains(&self.output_multiplier_exponent)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words in field order: input_zero_point,
    /// output_zero_point, reluish_multiplier_fixedpoint_int16,
    /// reluish_multiplier_exponent, output_multiplier_fixedpoint_int16,
    /// output_multiplier_exponent.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for v in [
            self.input_zero_point,
            self.output_zero_point,
            self.reluish_multiplier_fixedpoint_int16,
            self.reluish_multiplier_exponent,
            self.output_multiplier_fixedpoint_int16,
            self.output_multiplier_exponent,
        ] {
            out(v);
        }
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        let m16 = i32::from(i16::MAX);
        Ok(Self {
            input_zero_point: w.int(-128, 127)?,
            output_zero_point: w.int(-128, 127)?,
            reluish_multiplier_fixedpoint_int16: w.int(0, m16)?,
            reluish_multiplier_exponent: w.int(-31, 31)?,
            output_multiplier_fixedpoint_int16: w.int(0, m16)?,
            output_multiplier_exponent: w.int(-31, 0)?,
        })
    }

    /// Input and output hold the same number of elements.
    pub fn validate(&self, input: Shape4, output: Shape4) -> Result<(), KernelError> {
        self.check()?;
        if input.check()? != output.check()? {
            return Err(KernelError::Shape);
        }
        Ok(())
    }

    /// One evaluation per element.
    pub fn macs(&self, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| n as u64)
    }

    /// The op on one value.
    pub fn apply(&self, x: i8) -> i8 {
        let input_value = (i32::from(x) - self.input_zero_point) as i16; // [-255, 255]
        let hires = input_value.wrapping_mul(1 << 7); // fits: |v| * 128 <= 32640
        let m_out = self.output_multiplier_fixedpoint_int16 as i16;
        let m_rel = self.reluish_multiplier_fixedpoint_int16 as i16;
        let preshift_output_scale = srdhm16(hires, m_out);
        let exp = self.reluish_multiplier_exponent;
        let mut reluish = hires;
        if exp > 0 {
            reluish = saturating_left_shift16(reluish, exp - 1);
        }
        reluish = srdhm16(reluish, m_rel);
        if exp > 0 {
            reluish = saturating_left_shift16(reluish, 1);
        }
        if exp < 0 {
            reluish = rdbp16(reluish, -exp);
        }
        // [-1, 1] in Q0.15 to [0, 1].
        let reluish = ((i32::from(reluish) + (1 << 15)) >> 1) as i16;
        let preshift_output = sdhm16(reluish, preshift_output_scale);
        let out = rdbp16(preshift_output, -self.output_multiplier_exponent);
        // `output_value += zero_point` happens on an int16 in TFLite.
        let out = (i32::from(out) + self.output_zero_point) as i16;
        out.clamp(-128, 127) as i8
    }
}

/// Runs HARD_SWISH.
pub fn eval(p: &Params, input: View<'_>, output: ViewMut<'_>) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    for (o, &x) in output.data.iter_mut().zip(input.data) {
        *o = p.apply(x);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn close_to_float_hard_swish(si in 0.01f32..0.2, zi in zero_point(), so_ratio in 0.3f32..1.5, zo in -128i32..=-60) {
            // Output range covers [-0.375, max]: hard swish's minimum is -3/8.
            let so = si * so_ratio;
            let p = prepare(Quant::new(si, zi), Quant::new(so, zo)).unwrap();
            for x in -128i32..=127 {
                let real = (x - zi) as f64 * si as f64;
                let hs = real * (real + 3.0).clamp(0.0, 6.0) / 6.0;
                let want = (hs / so as f64 + zo as f64).round().clamp(-128.0, 127.0);
                let got = p.apply(x as i8) as f64;
                // 16-bit intermediate precision: within 2 steps.
                prop_assert!((got - want).abs() <= 2.0, "x={} got {} want {}", x, got, want);
            }
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }

        #[test]
        fn rdbp16_matches_wide_for_small_exponents(x: i16, e in 0i32..15) {
            let got = rdbp16(x, e);
            let d = 1i64 << e;
            let want = (2 * (x as i64).abs() + d) / (2 * d) * (x as i64).signum();
            prop_assert_eq!(got as i64, want);
        }
    }

    #[test]
    fn fixed_point_helpers() {
        assert_eq!(down_scale_int32_to_int16_multiplier(1 << 30), 1 << 14);
        assert_eq!(down_scale_int32_to_int16_multiplier(i32::MAX), 32767);
        assert_eq!(srdhm16(i16::MIN, i16::MIN), i16::MAX);
        assert_eq!(sdhm16(-3, 1 << 14), -1); // -1.5 truncates to -1
        assert_eq!(srdhm16(-3, 1 << 14), -1); // ties toward +inf
        assert_eq!(srdhm16(3, 1 << 14), 2);
        assert_eq!(saturating_left_shift16(20000, 1), i16::MAX);
        assert_eq!(saturating_left_shift16(-20000, 1), i16::MIN);
        // int16 quirk: exponent >= 16 makes the mask -1 (see rdbp16).
        assert_eq!(rdbp16(5, 16), 1);
        assert_eq!(rdbp16(-5, 16), -1);
    }

    #[test]
    fn zero_maps_to_zero_point() {
        let p = prepare(Quant::new(0.05, 10), Quant::new(0.04, -20)).unwrap();
        assert_eq!(p.apply(10), -20);
        let s = Shape4::new(1, 1, 1, 3);
        let mut out = [0i8; 2];
        assert_eq!(
            eval(
                &p,
                View::new(s, &[0; 3]),
                ViewMut::new(Shape4::new(1, 1, 1, 2), &mut out)
            ),
            Err(KernelError::Shape)
        );
    }
}
