//! LEAKY_RELU, int8 (TFLM `reference_ops::QuantizeLeakyRelu`).
//!
//! `d = x - input_zero_point`; `out = clamp(output_zero_point + MBQM(d, m, s))`
//! with the identity multiplier (`input_scale / output_scale`) for `d >= 0`
//! and the alpha multiplier (`input_scale * alpha / output_scale`) otherwise.

use super::{check_len, clamp_i8, KernelError, Quant, Shape4, View, ViewMut, Words};
use crate::quant::{multiply_by_quantized_multiplier, quantize_multiplier};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 6;

/// Run-time parameters of LEAKY_RELU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Multiplier for negative inputs.
    pub multiplier_alpha: i32,
    /// Shift for negative inputs, `[-31, 31]`.
    pub shift_alpha: i32,
    /// Multiplier for non-negative inputs.
    pub multiplier_identity: i32,
    /// Shift for non-negative inputs, `[-31, 31]`.
    pub shift_identity: i32,
}

/// Host-side prepare, as TFLM's `CalculateOpDataLeakyRelu`: the ratios are
/// computed in `f32` (`input_scale * alpha / output_scale` and
/// `input_scale / output_scale`) and then quantized in `f64`.
pub fn prepare(alpha: f32, input_q: Quant, output_q: Quant) -> Result<Params, KernelError> {
    input_q.check_int8()?;
    output_q.check_int8()?;
    let alpha_multiplier = input_q.scale * alpha / output_q.scale;
    let identity_multiplier = input_q.scale / output_q.scale;
    let (multiplier_alpha, shift_alpha) = quantize_multiplier(f64::from(alpha_multiplier))?;
    let (multiplier_identity, shift_identity) =
        quantize_multiplier(f64::from(identity_multiplier))?;
    Ok(Params {
        input_zero_point: input_q.zero_point,
        output_zero_point: output_q.zero_point,
        multiplier_alpha,
        shift_alpha,
        multiplier_identity,
        shift_identity,
    })
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        if !(-128..=127).contains(&self.input_zero_point)
            || !(-128..=127).contains(&self.output_zero_point)
            || self.multiplier_alpha < 0
            || self.multiplier_identity < 0
            || !(-31..=31).contains(&self.shift_alpha)
            || !(-31..=31).contains(&self.shift_identity)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words in field order: input_zero_point,
    /// output_zero_point, multiplier_alpha, shift_alpha,
    /// multiplier_identity, shift_identity.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for v in [
            self.input_zero_point,
            self.output_zero_point,
            self.multiplier_alpha,
            self.shift_alpha,
            self.multiplier_identity,
            self.shift_identity,
        ] {
            out(v);
        }
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        Ok(Self {
            input_zero_point: w.int(-128, 127)?,
            output_zero_point: w.int(-128, 127)?,
            multiplier_alpha: w.int(0, i32::MAX)?,
            shift_alpha: w.int(-31, 31)?,
            multiplier_identity: w.int(0, i32::MAX)?,
            shift_identity: w.int(-31, 31)?,
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

    /// One multiply per element.
    pub fn macs(&self, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| n as u64)
    }

    /// The op on one value.
    #[inline]
    pub fn apply(&self, x: i8) -> i8 {
        let d = i32::from(x) - self.input_zero_point;
        let (m, s) = if d >= 0 {
            (self.multiplier_identity, self.shift_identity)
        } else {
            (self.multiplier_alpha, self.shift_alpha)
        };
        clamp_i8(
            multiply_by_quantized_multiplier(d, m, s).wrapping_add(self.output_zero_point),
            -128,
            127,
        )
    }
}

/// Runs LEAKY_RELU.
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
        fn matches_reference(
            alpha in prop_oneof![Just(0.2f32), 0.01f32..0.9],
            si in 0.001f32..1.0, so in 0.001f32..1.0,
            zi in zero_point(), zo in zero_point(),
        ) {
            let p = prepare(alpha, Quant::new(si, zi), Quant::new(so, zo)).unwrap();
            for x in -128i32..=127 {
                let d = (x - zi) as i64;
                let (m, s) = if d >= 0 { (p.multiplier_identity, p.shift_identity) } else { (p.multiplier_alpha, p.shift_alpha) };
                let want = ref_clamp(ref_mbqm(d, m, s) + zo as i64, -128, 127);
                prop_assert_eq!(p.apply(x as i8), want);
                // And close to the real function.
                let real = if d >= 0 { d as f64 } else { d as f64 * alpha as f64 } * si as f64 / so as f64 + zo as f64;
                prop_assert!((p.apply(x as i8) as f64 - real.clamp(-128.0, 127.0)).abs() <= 1.0);
            }
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }
    }

    #[test]
    fn identity_and_alpha() {
        let p = prepare(0.5, Quant::new(0.1, 0), Quant::new(0.1, 0)).unwrap();
        assert_eq!(p.apply(10), 10);
        assert_eq!(p.apply(-10), -5);
        // -2.5: with shift 0 the rounding happens in the high multiply, whose
        // ties go toward +infinity.
        assert_eq!(p.apply(-5), -2);
        assert!(Params::decode(&[0, 0, 1, 32, 1, 0]).is_err());
    }
}
