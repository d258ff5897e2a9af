//! LOGISTIC, int8 (TFLM `reference_integer_ops::Logistic`).
//!
//! The input minus its zero point is compared with a radius beyond which the
//! result saturates; otherwise it is rescaled to Q4.27 with
//! `MBQM(x, input_multiplier, input_left_shift)`, fed to gemmlowp's
//! fixed-point `logistic`, and the Q0.31 result is divided by 2^23 (rounding)
//! and offset by the output zero point -128 (the output scale is 1/256).

use super::{check_len, KernelError, Quant, Shape4, View, ViewMut, Words};
use crate::quant::{
    calculate_input_radius, logistic, multiply_by_quantized_multiplier, rounding_divide_by_pot,
};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 4;

/// Integer bits of the fixed-point input of the logistic function.
const INPUT_INTEGER_BITS: i32 = 4;

/// Run-time parameters of LOGISTIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Inputs (minus zero point) at or beyond +-radius saturate.
    pub input_range_radius: i32,
    /// Q0.31 multiplier of `input_scale * 2^27`.
    pub input_multiplier: i32,
    /// Its exponent, `[0, 31]`.
    pub input_left_shift: i32,
}

/// Host-side prepare, as TFLM's `CalculateArithmeticOpData` for int8: the
/// multiplier is `round(q * 2^31)` of `frexp(input_scale * 2^27)` (no
/// renormalization, unlike `QuantizeMultiplier`). The output must have zero
/// point -128 (scale 1/256).
pub fn prepare(input_q: Quant, output_q: Quant) -> Result<Params, KernelError> {
    input_q.check_int8()?;
    output_q.check_int8()?;
    if output_q.zero_point != -128 {
        return Err(KernelError::Quantization);
    }
    let real = f64::from(input_q.scale) * (1i64 << (31 - INPUT_INTEGER_BITS)) as f64;
    let (q, left_shift) = libm::frexp(real);
    let m = crate::quant::round_f64(q * (1i64 << 31) as f64) as i64;
    if !(0..=i64::from(i32::MAX)).contains(&m) || !(0..=31).contains(&left_shift) {
        return Err(KernelError::Quantization);
    }
    let radius = calculate_input_radius(INPUT_INTEGER_BITS, left_shift, 31)?;
    Ok(Params {
        input_zero_point: input_q.zero_point,
        input_range_radius: radius,
        input_multiplier: m as i32,
        input_left_shift: left_shift,
    })
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        if !(-128..=127).contains(&self.input_zero_point)
            || self.input_range_radius < 0
            || self.input_multiplier < 0
            || !(0..=31).contains(&self.input_left_shift)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words: input_zero_point, input_range_radius,
    /// input_multiplier, input_left_shift.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for v in [
            self.input_zero_point,
            self.input_range_radius,
            self.input_multiplier,
            self.input_left_shift,
        ] {
            out(v);
        }
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        Ok(Self {
            input_zero_point: w.int(-128, 127)?,
            input_range_radius: w.int(0, i32::MAX)?,
            input_multiplier: w.int(0, i32::MAX)?,
            input_left_shift: w.int(0, 31)?,
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
        let input = i32::from(x) - self.input_zero_point;
        if input <= -self.input_range_radius {
            -128
        } else if input >= self.input_range_radius {
            127
        } else {
            let q4 = multiply_by_quantized_multiplier(
                input,
                self.input_multiplier,
                self.input_left_shift,
            );
            let q0 = logistic(q4, INPUT_INTEGER_BITS);
            let out = rounding_divide_by_pot(q0, 31 - 8) - 128;
            out.clamp(-128, 127) as i8
        }
    }
}

/// Runs LOGISTIC.
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
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn all_inputs_close_to_float_sigmoid(scale in 0.001f32..0.5, zp in zero_point()) {
            let p = prepare(Quant::new(scale, zp), Quant::new(1.0 / 256.0, -128)).unwrap();
            let mut prev = -128i8;
            for x in -128i32..=127 {
                let got = p.apply(x as i8);
                let real = (x - zp) as f64 * scale as f64;
                let want = (256.0 / (1.0 + libm::exp(-real)) - 128.0).round().clamp(-128.0, 127.0);
                // The gemmlowp approximation is within one step of the exact value.
                prop_assert!((got as f64 - want).abs() <= 1.0, "x={} got {} want {}", x, got, want);
                prop_assert!(got >= prev, "monotonic");
                prev = got;
            }
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }
    }

    #[test]
    fn known_values() {
        let p = prepare(Quant::new(0.125, 0), Quant::new(1.0 / 256.0, -128)).unwrap();
        // frexp(0.125 * 2^27 = 2^24) = (0.5, 25).
        assert_eq!(p.input_multiplier, 1 << 30);
        assert_eq!(p.input_left_shift, 25);
        // radius = floor(15 * 2^27 / 2^25) = 60.
        assert_eq!(p.input_range_radius, 60);
        // f32 0.1 is 0.100000001490116: q * 2^31 = 1717986944.
        let p = prepare(Quant::new(0.1, 0), Quant::new(1.0 / 256.0, -128)).unwrap();
        assert_eq!(
            (p.input_multiplier, p.input_left_shift),
            (1_717_986_944, 24)
        );
        assert_eq!(p.apply(0), 0); // sigmoid(0) = 0.5 -> 128 - 128
        assert_eq!(p.apply(127), 127);
        assert_eq!(p.apply(-128), -128);
        assert!(prepare(Quant::new(0.1, 0), Quant::new(1.0 / 256.0, 0)).is_err());
        let mut out = [0i8; 2];
        assert_eq!(
            eval(
                &p,
                View::new(Shape4::new(1, 1, 1, 3), &[0, 1, 2]),
                ViewMut::new(Shape4::new(1, 1, 1, 2), &mut out)
            ),
            Err(KernelError::Shape)
        );
    }
}
