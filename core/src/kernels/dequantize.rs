//! DEQUANTIZE: int8 to `f32` (TFLM `reference_ops::Dequantize`).
//!
//! TFLM computes `float(double(scale) * (x - zero_point))`. The `f64`
//! product of an `f32` scale (24-bit significand) and an integer of at most
//! 9 bits is exact, so rounding it to `f32` once equals the correctly
//! rounded `f32` product `scale * (x - zero_point) as f32`: this kernel uses
//! the `f32` form (no soft-float `f64` on a Cortex-M4F) and the tests check
//! it against the `f64` form.
//!
//! The output is written as little-endian `f32` bytes (arena memory has no
//! alignment guarantee).

use super::{check_len, KernelError, Quant, Shape4, View, Words};
use crate::le::write_f32;

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 2;

/// Run-time parameters of DEQUANTIZE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Input scale (positive, finite).
    pub scale: f32,
    /// Input zero point.
    pub zero_point: i32,
}

/// Host-side prepare from the input's quantization.
pub fn prepare(input_q: Quant) -> Result<Params, KernelError> {
    input_q.check_int8()?;
    Ok(Params {
        scale: input_q.scale,
        zero_point: input_q.zero_point,
    })
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        if self.scale.is_finite() && self.scale > 0.0 && (-128..=127).contains(&self.zero_point) {
            Ok(())
        } else {
            Err(KernelError::Param)
        }
    }

    /// Writes the [`WORDS`] words: scale (IEEE bits), zero_point.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        out(self.scale.to_bits() as i32);
        out(self.zero_point);
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        let p = Self {
            scale: f32::from_bits(w.int(i32::MIN, i32::MAX)? as u32),
            zero_point: w.int(-128, 127)?,
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

    /// One multiply per element.
    pub fn macs(&self, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| n as u64)
    }

    /// The op on one value.
    #[inline]
    pub fn apply(&self, x: i8) -> f32 {
        self.scale * (i32::from(x) - self.zero_point) as f32
    }
}

/// Runs DEQUANTIZE into `output` (`4 * n` bytes of little-endian `f32`) of
/// shape `output_shape`.
pub fn eval(
    p: &Params,
    input: View<'_>,
    output: &mut [u8],
    output_shape: Shape4,
) -> Result<(), KernelError> {
    p.validate(input.shape, output_shape)?;
    check_len(input.shape, input.data.len())?;
    let n = output_shape.check()?;
    if n.checked_mul(4) != Some(output.len()) {
        return Err(KernelError::Length);
    }
    for (i, &x) in input.data.iter().enumerate() {
        write_f32(output, i, p.apply(x)).ok_or(KernelError::Length)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::le::F32s;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn f32_product_equals_tflm_f64_form(scale in prop_oneof![1e-30f32..1e-20, 1e-6f32..10.0, Just(f32::MIN_POSITIVE)], zp in zero_point()) {
            let p = prepare(Quant::new(scale, zp)).unwrap();
            let x: Vec<i8> = (-128i32..=127).map(|v| v as i8).collect();
            let s = Shape4::new(1, 1, 1, 256);
            let mut bytes = vec![0u8; 1024];
            eval(&p, View::new(s, &x), &mut bytes, s).unwrap();
            let got = F32s::new(&bytes).unwrap();
            for (i, &v) in x.iter().enumerate() {
                let want = (f64::from(scale) * f64::from(i32::from(v) - zp)) as f32;
                prop_assert_eq!(got.get(i).unwrap().to_bits(), want.to_bits());
            }
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }
    }

    #[test]
    fn errors() {
        let p = prepare(Quant::new(0.5, 1)).unwrap();
        let s = Shape4::new(1, 1, 1, 2);
        let mut bytes = [0u8; 8];
        eval(&p, View::new(s, &[3, -1]), &mut bytes, s).unwrap();
        assert_eq!(F32s::new(&bytes).unwrap().get(0), Some(1.0));
        assert_eq!(F32s::new(&bytes).unwrap().get(1), Some(-1.0));
        assert_eq!(
            eval(&p, View::new(s, &[3, -1]), &mut bytes[..7], s),
            Err(KernelError::Length)
        );
        assert!(Params::decode(&[0, 0]).is_err()); // zero scale
    }
}
