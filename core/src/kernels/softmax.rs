//! SOFTMAX, int8 in and out (TFLM `reference_ops::Softmax`, quantized).
//!
//! Along the innermost dimension: `d = x - max(row)`; entries with
//! `d < diff_min` get -128; the others are rescaled to Q5.26 by
//! `MultiplyByQuantizedMultiplierGreaterThanOne`, exponentiated with
//! gemmlowp's `exp_on_negative_values`, summed in Q12.19, and each output is
//! `exp * reciprocal(sum)` rounded to 1/256 and offset by -128 (the output
//! zero point; scale 1/256).

use super::{check_len, KernelError, Quant, Shape4, View, ViewMut, Words};
use crate::quant::{
    calculate_input_radius, exp_on_negative_values, get_reciprocal,
    multiply_by_quantized_multiplier_greater_than_one, preprocess_softmax_scaling, rescale,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul,
};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 3;

/// Integer bits of the scaled input differences (Q5.26).
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (Q12.19).
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// Run-time parameters of SOFTMAX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Q0.31 multiplier of `beta * input_scale * 2^26`.
    pub input_multiplier: i32,
    /// Its left shift, `[0, 31]`.
    pub input_left_shift: i32,
    /// Differences below this (`<= 0`) contribute nothing and output -128.
    pub diff_min: i32,
}

/// Host-side prepare, as TFLM's `CalculateSoftmaxParams` for int8: the output
/// must be zero point -128, scale 1/256 (within 0.1%).
pub fn prepare(beta: f32, input_q: Quant, output_q: Quant) -> Result<Params, KernelError> {
    input_q.check_int8()?;
    output_q.check_int8()?;
    if output_q.zero_point != -128 || (output_q.scale - 1.0 / 256.0).abs() > 0.001 / 256.0 {
        return Err(KernelError::Quantization);
    }
    let (input_multiplier, input_left_shift) = preprocess_softmax_scaling(
        f64::from(beta),
        f64::from(input_q.scale),
        SCALED_DIFF_INTEGER_BITS,
    )?;
    let radius = calculate_input_radius(SCALED_DIFF_INTEGER_BITS, input_left_shift, 31)?;
    Ok(Params {
        input_multiplier,
        input_left_shift,
        diff_min: -radius,
    })
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        if self.input_multiplier < 0
            || !(0..=31).contains(&self.input_left_shift)
            || self.diff_min > 0
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words: input_multiplier, input_left_shift, diff_min.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        out(self.input_multiplier);
        out(self.input_left_shift);
        out(self.diff_min);
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        Ok(Self {
            input_multiplier: w.int(0, i32::MAX)?,
            input_left_shift: w.int(0, 31)?,
            diff_min: w.int(i32::MIN, 0)?,
        })
    }

    /// Input and output shapes are equal (softmax runs along `c`).
    pub fn validate(&self, input: Shape4, output: Shape4) -> Result<(), KernelError> {
        self.check()?;
        input.check()?;
        if input != output {
            return Err(KernelError::Shape);
        }
        Ok(())
    }

    /// Two exponentials per element.
    pub fn macs(&self, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| 2 * n as u64)
    }

    /// `exp(beta * scale * d)` in Q0.31 for a difference `d` in range.
    fn exp_of_diff(&self, diff: i32) -> i32 {
        let rescaled = multiply_by_quantized_multiplier_greater_than_one(
            diff,
            self.input_multiplier,
            self.input_left_shift,
        );
        exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
    }

    /// Softmax of one row.
    pub fn apply_row(&self, row: &[i8], out: &mut [i8]) -> Result<(), KernelError> {
        if row.len() != out.len() {
            return Err(KernelError::Length);
        }
        let Some(max) = row.iter().copied().max() else {
            return Ok(());
        };
        let max = i32::from(max);
        let mut sum: i32 = 0;
        for &x in row {
            let diff = i32::from(x) - max;
            if diff >= self.diff_min {
                sum = sum.wrapping_add(rescale(
                    self.exp_of_diff(diff),
                    0,
                    ACCUMULATION_INTEGER_BITS,
                ));
            }
        }
        // The row maximum contributes exp(0) = 1.0, so the sum is positive
        // unless it wrapped (more than 4096 entries).
        let (shifted_scale, bits_over_unit) =
            get_reciprocal(sum, ACCUMULATION_INTEGER_BITS).ok_or(KernelError::Shape)?;
        for (o, &x) in out.iter_mut().zip(row) {
            let diff = i32::from(x) - max;
            *o = if diff >= self.diff_min {
                let prod =
                    saturating_rounding_doubling_high_mul(shifted_scale, self.exp_of_diff(diff));
                let unsat = rounding_divide_by_pot(prod, bits_over_unit + 31 - 8);
                (unsat - 128).clamp(-128, 127) as i8
            } else {
                -128
            };
        }
        Ok(())
    }
}

/// Runs SOFTMAX along the innermost dimension.
pub fn eval(p: &Params, input: View<'_>, output: ViewMut<'_>) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    let depth = input.shape.c;
    if depth == 0 {
        return Ok(());
    }
    for (row, out) in input
        .data
        .chunks_exact(depth)
        .zip(output.data.chunks_exact_mut(depth))
    {
        p.apply_row(row, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    fn float_softmax(row: &[i8], beta: f64, scale: f64) -> Vec<f64> {
        let max = *row.iter().max().unwrap() as f64;
        let e: Vec<f64> = row
            .iter()
            .map(|&x| libm::exp(beta * scale * (x as f64 - max)))
            .collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn close_to_float_softmax(
            row_len in 1usize..=40,
            scale in 0.005f32..0.5,
            beta in prop_oneof![Just(1.0f32), 0.2f32..3.0],
            seed: u64, extreme in 0u8..4,
        ) {
            let p = prepare(beta, Quant::new(scale, 3), Quant::new(1.0 / 256.0, -128)).unwrap();
            let row: Vec<i8> = (0..row_len).map(|k| match extreme {
                0 => -128,
                1 => 127,
                _ => ((k as u64).wrapping_mul(0x9E3779B97F4A7C15).wrapping_add(seed) >> 56) as u8 as i8,
            }).collect();
            let s = Shape4::new(1, 1, 1, row_len);
            let mut out = vec![0i8; row_len];
            eval(&p, View::new(s, &row), ViewMut::new(s, &mut out)).unwrap();
            let f = float_softmax(&row, beta as f64, scale as f64);
            for (o, pr) in out.iter().zip(&f) {
                let want = (pr * 256.0 - 128.0).round().clamp(-128.0, 127.0);
                prop_assert!((*o as f64 - want).abs() <= 1.0, "got {} want {}", o, want);
            }
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }
    }

    #[test]
    fn known_values_and_errors() {
        // Two equal entries: 0.5 each -> 128 - 128 = 0.
        let p = prepare(1.0, Quant::new(0.1, 0), Quant::new(1.0 / 256.0, -128)).unwrap();
        let s = Shape4::new(1, 1, 2, 2);
        let mut out = [9i8; 4];
        eval(
            &p,
            View::new(s, &[5, 5, -128, 127]),
            ViewMut::new(s, &mut out),
        )
        .unwrap();
        assert_eq!(out[..2], [0, 0]);
        // 25.5 apart at scale 0.1: the small one is ~0 (-128), the big one ~1 (127).
        assert_eq!(out[2..], [-128, 127]);
        assert!(prepare(1.0, Quant::new(0.1, 0), Quant::new(1.0 / 256.0, 0)).is_err());
        assert!(prepare(1.0, Quant::new(0.1, 0), Quant::new(1.0 / 128.0, -128)).is_err());
        assert_eq!(
            eval(
                &p,
                View::new(s, &[0; 4]),
                ViewMut::new(Shape4::new(1, 1, 1, 4), &mut out)
            ),
            Err(KernelError::Shape)
        );
        assert!(Params::decode(&[1, 32, 0]).is_err());
        assert!(Params::decode(&[1, 3, 1]).is_err());
    }
}
