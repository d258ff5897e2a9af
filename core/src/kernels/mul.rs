//! MUL, int8 (TFLM `reference_integer_ops::Mul` / `BroadcastMul`).
//!
//! `out = clamp(output_offset + MBQM((in1 + offset1) * (in2 + offset2),
//!   multiplier, shift))` with `multiplier * 2^shift ~ s1 * s2 / s_out`.
//! Inputs broadcast against each other.

use super::{
    activation_range, broadcast_binary, broadcast_strides, clamp_i8, Activation, KernelError,
    Quant, Shape4, View, ViewMut, Words,
};
use crate::quant::{multiply_by_quantized_multiplier, quantize_multiplier};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 7;

/// Run-time parameters of MUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// `-input1_zero_point`.
    pub input1_offset: i32,
    /// `-input2_zero_point`.
    pub input2_offset: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Output multiplier (Q0.31).
    pub output_multiplier: i32,
    /// Output shift, `[-31, 31]`.
    pub output_shift: i32,
    /// Fused activation clamp, low end.
    pub act_min: i32,
    /// Fused activation clamp, high end.
    pub act_max: i32,
}

/// Host-side prepare, as TFLM's `CalculateOpDataMul` for int8:
/// `double(s1) * double(s2) / double(s_out)`.
pub fn prepare(
    activation: Activation,
    input1_q: Quant,
    input2_q: Quant,
    output_q: Quant,
) -> Result<Params, KernelError> {
    input1_q.check_int8()?;
    input2_q.check_int8()?;
    output_q.check_int8()?;
    let real = f64::from(input1_q.scale) * f64::from(input2_q.scale) / f64::from(output_q.scale);
    let (output_multiplier, output_shift) = quantize_multiplier(real)?;
    let (act_min, act_max) = activation_range(activation, output_q);
    Ok(Params {
        input1_offset: -input1_q.zero_point,
        input2_offset: -input2_q.zero_point,
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
        if !(-127..=128).contains(&self.input1_offset)
            || !(-127..=128).contains(&self.input2_offset)
            || !(-128..=127).contains(&self.output_offset)
            || self.output_multiplier < 0
            || !(-31..=31).contains(&self.output_shift)
            || !(-128..=127).contains(&self.act_min)
            || !(self.act_min..=127).contains(&self.act_max)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words in field order: input1_offset,
    /// input2_offset, output_offset, output_multiplier, output_shift,
    /// act_min, act_max.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for v in [
            self.input1_offset,
            self.input2_offset,
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
        let input1_offset = w.int(-127, 128)?;
        let input2_offset = w.int(-127, 128)?;
        let output_offset = w.int(-128, 127)?;
        let output_multiplier = w.int(0, i32::MAX)?;
        let output_shift = w.int(-31, 31)?;
        let (act_min, act_max) = w.clamp()?;
        Ok(Self {
            input1_offset,
            input2_offset,
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

    /// One multiply per output element.
    pub fn macs(&self, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| n as u64)
    }

    /// The op on one pair of values.
    #[inline]
    pub fn apply(&self, a: i8, b: i8) -> i8 {
        let prod = (i32::from(a) + self.input1_offset) * (i32::from(b) + self.input2_offset);
        let v = multiply_by_quantized_multiplier(prod, self.output_multiplier, self.output_shift)
            .wrapping_add(self.output_offset);
        clamp_i8(v, self.act_min, self.act_max)
    }
}

/// Runs MUL with broadcasting.
pub fn eval(
    p: &Params,
    input1: View<'_>,
    input2: View<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    p.validate(input1.shape, input2.shape, output.shape)?;
    broadcast_binary(input1, input2, output, |a, b| p.apply(a, b))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    fn reference(p: &Params, a: i8, b: i8) -> i8 {
        let prod = (a as i64 + p.input1_offset as i64) * (b as i64 + p.input2_offset as i64);
        let v = ref_mbqm(prod, p.output_multiplier, p.output_shift) + p.output_offset as i64;
        ref_clamp(v, p.act_min, p.act_max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn every_pair_matches_reference(
            s1 in 0.0005f32..2.0, s2 in 0.0005f32..2.0, so in 0.0005f32..2.0,
            z1 in zero_point(), z2 in zero_point(), zo in zero_point(), act in 0i32..4,
        ) {
            let p = prepare(Activation::from_tflite(act).unwrap(), Quant::new(s1, z1), Quant::new(s2, z2), Quant::new(so, zo)).unwrap();
            for a in (-128i32..=127).step_by(5).chain([127]) {
                for b in (-128i32..=127).step_by(7).chain([127]) {
                    prop_assert_eq!(p.apply(a as i8, b as i8), reference(&p, a as i8, b as i8));
                }
            }
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }

        #[test]
        fn random_params_match_reference(m in multiplier(), s in -31i32..=8, z1 in zero_point(), z2 in zero_point(), zo in zero_point(), a: i8, b: i8) {
            let p = Params { input1_offset: -z1, input2_offset: -z2, output_offset: zo, output_multiplier: m, output_shift: s, act_min: -128, act_max: 127 };
            prop_assert_eq!(p.apply(a, b), reference(&p, a, b));
        }
    }

    #[test]
    fn broadcast_scalar() {
        let p = prepare(
            Activation::None,
            Quant::new(0.5, 0),
            Quant::new(0.5, 0),
            Quant::new(0.25, 0),
        )
        .unwrap();
        let s = Shape4::new(1, 1, 2, 2);
        let mut out = [0i8; 4];
        eval(
            &p,
            View::new(s, &[1, 2, 3, -4]),
            View::new(Shape4::new(1, 1, 1, 1), &[3]),
            ViewMut::new(s, &mut out),
        )
        .unwrap();
        assert_eq!(out, [3, 6, 9, -12]);
    }
}
