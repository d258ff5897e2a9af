//! QUANTIZE: `f32` to int8 (TFLM `AffineQuantize`) and int8 to int8
//! requantization (TFLM `Requantize`).
//!
//! - From `f32`: `clamp(zero_point + (int)round(x / scale))`, `f32` division,
//!   ties away from zero. (Where C++ is undefined, a huge or NaN `x`, the
//!   Rust cast saturates or gives 0.)
//! - Requantize: `clamp(output_zp + MBQM(x - input_zp, multiplier, shift))`
//!   with `(multiplier, shift)` quantizing `input_scale / output_scale`.
//!
//! The `f32` input lives in arena bytes, read through [`F32s`].

use super::{check_len, clamp_i8, KernelError, Quant, Shape4, View, ViewMut, Words};
use crate::le::F32s;
use crate::quant::{multiply_by_quantized_multiplier, quantize_f32_to_i8, quantize_multiplier};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 5;

/// Run-time parameters of QUANTIZE: which conversion, and its constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Params {
    /// `f32` input.
    FromF32 {
        /// Output scale (positive, finite).
        scale: f32,
        /// Output zero point.
        zero_point: i32,
    },
    /// int8 input with another quantization.
    Requantize {
        /// Input zero point.
        input_zero_point: i32,
        /// Output zero point.
        output_zero_point: i32,
        /// Multiplier of `input_scale / output_scale`.
        multiplier: i32,
        /// Its shift, `[-31, 31]`.
        shift: i32,
    },
}

/// Host-side prepare for an `f32` input.
pub fn prepare_from_f32(output_q: Quant) -> Result<Params, KernelError> {
    output_q.check_int8()?;
    Ok(Params::FromF32 {
        scale: output_q.scale,
        zero_point: output_q.zero_point,
    })
}

/// Host-side prepare for an int8 input, as TFLM's quantize `Prepare`:
/// `QuantizeMultiplier(double(input_scale) / double(output_scale))`.
pub fn prepare_requantize(input_q: Quant, output_q: Quant) -> Result<Params, KernelError> {
    input_q.check_int8()?;
    output_q.check_int8()?;
    let (multiplier, shift) =
        quantize_multiplier(f64::from(input_q.scale) / f64::from(output_q.scale))?;
    Ok(Params::Requantize {
        input_zero_point: input_q.zero_point,
        output_zero_point: output_q.zero_point,
        multiplier,
        shift,
    })
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        let ok = match *self {
            Params::FromF32 { scale, zero_point } => {
                scale.is_finite() && scale > 0.0 && (-128..=127).contains(&zero_point)
            }
            Params::Requantize {
                input_zero_point,
                output_zero_point,
                multiplier,
                shift,
            } => {
                (-128..=127).contains(&input_zero_point)
                    && (-128..=127).contains(&output_zero_point)
                    && multiplier >= 0
                    && (-31..=31).contains(&shift)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(KernelError::Param)
        }
    }

    /// Writes the [`WORDS`] words: kind (0 = from `f32`, 1 = requantize),
    /// then `scale` (IEEE bits), `zero_point`, 0, 0 for kind 0, or
    /// `input_zero_point`, `output_zero_point`, `multiplier`, `shift` for
    /// kind 1.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        let words = match *self {
            Params::FromF32 { scale, zero_point } => [0, scale.to_bits() as i32, zero_point, 0, 0],
            Params::Requantize {
                input_zero_point,
                output_zero_point,
                multiplier,
                shift,
            } => [1, input_zero_point, output_zero_point, multiplier, shift],
        };
        for w in words {
            out(w);
        }
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        let p = match w.int(0, 1)? {
            0 => {
                let scale = f32::from_bits(w.int(i32::MIN, i32::MAX)? as u32);
                let zero_point = w.int(-128, 127)?;
                w.int(0, 0)?;
                w.int(0, 0)?;
                Params::FromF32 { scale, zero_point }
            }
            _ => Params::Requantize {
                input_zero_point: w.int(-128, 127)?,
                output_zero_point: w.int(-128, 127)?,
                multiplier: w.int(0, i32::MAX)?,
                shift: w.int(-31, 31)?,
            },
        };
        p.check()?;
        Ok(p)
    }

    /// Input and output hold the same number of elements.
    pub fn validate(&self, input: Shape4, output: Shape4) -> Result<(), KernelError> {
        self.check()?;
        if input.check()? != output.check()? {
            return Err(KernelError::Shape);
        }
        Ok(())
    }

    /// One conversion per element.
    pub fn macs(&self, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| n as u64)
    }
}

/// Runs QUANTIZE from an `f32` tensor (little-endian bytes) of shape
/// `input_shape`. `p` must be [`Params::FromF32`].
pub fn eval_from_f32(
    p: &Params,
    input: F32s<'_>,
    input_shape: Shape4,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    p.validate(input_shape, output.shape)?;
    let Params::FromF32 { scale, zero_point } = *p else {
        return Err(KernelError::Param);
    };
    check_len(input_shape, input.len())?;
    check_len(output.shape, output.data.len())?;
    for (o, x) in output.data.iter_mut().zip(input.iter()) {
        *o = quantize_f32_to_i8(x, scale, zero_point);
    }
    Ok(())
}

/// Runs QUANTIZE from an int8 tensor. `p` must be [`Params::Requantize`].
pub fn eval_requantize(
    p: &Params,
    input: View<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    let Params::Requantize {
        input_zero_point,
        output_zero_point,
        multiplier,
        shift,
    } = *p
    else {
        return Err(KernelError::Param);
    };
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    for (o, &x) in output.data.iter_mut().zip(input.data) {
        let v =
            multiply_by_quantized_multiplier(i32::from(x) - input_zero_point, multiplier, shift)
                .wrapping_add(output_zero_point);
        *o = clamp_i8(v, -128, 127);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::le::encode_f32s;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn from_f32_matches_reference(scale in 0.0001f32..2.0, zp in zero_point(), xs in proptest::collection::vec(-300.0f32..300.0, 1..40)) {
            let p = prepare_from_f32(Quant::new(scale, zp)).unwrap();
            let mut bytes = vec![0u8; xs.len() * 4];
            encode_f32s(&xs, &mut bytes).unwrap();
            let s = Shape4::new(1, 1, 1, xs.len());
            let mut out = vec![0i8; xs.len()];
            eval_from_f32(&p, F32s::new(&bytes).unwrap(), s, ViewMut::new(s, &mut out)).unwrap();
            for (o, x) in out.iter().zip(&xs) {
                // f32 division, then ties away from zero (f64 `round` does that).
                let q = ((x / scale) as f64).round() + zp as f64;
                prop_assert_eq!(*o as f64, q.clamp(-128.0, 127.0));
            }
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }

        #[test]
        fn requantize_matches_reference(si in 0.001f32..1.0, so in 0.001f32..1.0, zi in zero_point(), zo in zero_point()) {
            let p = prepare_requantize(Quant::new(si, zi), Quant::new(so, zo)).unwrap();
            let Params::Requantize { multiplier, shift, .. } = p else { unreachable!() };
            let x: Vec<i8> = (-128i32..=127).map(|v| v as i8).collect();
            let s = Shape4::new(1, 1, 16, 16);
            let mut out = vec![0i8; 256];
            eval_requantize(&p, View::new(s, &x), ViewMut::new(s, &mut out)).unwrap();
            for (o, &v) in out.iter().zip(&x) {
                prop_assert_eq!(*o, ref_clamp(ref_mbqm(v as i64 - zi as i64, multiplier, shift) + zo as i64, -128, 127));
            }
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }
    }

    #[test]
    fn ties_and_errors() {
        let p = prepare_from_f32(Quant::new(0.5, 0)).unwrap();
        let xs = [0.25f32, -0.25, 0.75, 1000.0, f32::NAN];
        let mut bytes = [0u8; 20];
        encode_f32s(&xs, &mut bytes).unwrap();
        let s = Shape4::new(1, 1, 1, 5);
        let mut out = [0i8; 5];
        eval_from_f32(&p, F32s::new(&bytes).unwrap(), s, ViewMut::new(s, &mut out)).unwrap();
        assert_eq!(out, [1, -1, 2, 127, 0]);
        // Wrong kind for the entry point.
        let r = prepare_requantize(Quant::new(0.5, 0), Quant::new(0.5, 0)).unwrap();
        assert_eq!(
            eval_from_f32(&r, F32s::new(&bytes).unwrap(), s, ViewMut::new(s, &mut out)),
            Err(KernelError::Param)
        );
        assert_eq!(
            eval_from_f32(
                &p,
                F32s::new(&bytes[..16]).unwrap(),
                s,
                ViewMut::new(s, &mut out)
            ),
            Err(KernelError::Length)
        );
        // Bad scale bits (negative, NaN) and a bad kind are rejected.
        assert!(Params::decode(&[0, (-1.0f32).to_bits() as i32, 0, 0, 0]).is_err());
        assert!(Params::decode(&[0, f32::NAN.to_bits() as i32, 0, 0, 0]).is_err());
        assert!(Params::decode(&[2, 0, 0, 0, 0]).is_err());
    }
}
