//! ADD, int8 (TFLM `reference_integer_ops::Add` / `BroadcastAdd`).
//!
//! Both inputs are brought to a common scale (twice the larger input scale)
//! with 20 bits of headroom, summed, and rescaled to the output:
//! `s_i = MBQM_smaller_than_one((in_i + offset_i) << 20, mult_i, shift_i)`,
//! `out = clamp(output_offset + MBQM_smaller_than_one(s_1 + s_2, out_mult, out_shift))`.
//! Inputs broadcast against each other (each dimension equal to the
//! output's or 1).

use super::{
    activation_range, broadcast_binary, broadcast_strides, Activation, KernelError, Quant, Shape4,
    View, ViewMut, Words,
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

/// Runs ADD with broadcasting.
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
