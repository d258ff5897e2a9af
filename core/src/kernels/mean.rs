//! MEAN, int8 (TFLM `reference_ops::QuantizedMeanOrSum`, integer path).
//!
//! TFLM sums the raw int8 values over the reduced axes, then folds the
//! division by the element count `n` into the requantization multiplier:
//! `k = min(floor(log2 n), 32, 31 + shift)`,
//! `multiplier' = (multiplier << k) / n` (truncating), `shift' = shift - k`,
//! `out = clamp(output_zp + MBQM(sum - input_zp * n, multiplier', shift'))`,
//! where `(multiplier, shift)` quantize `input_scale / output_scale`.
//! The output holds the non-reduced dimensions in order (with or without
//! `keep_dims`, the flat layout is the same).

use super::{check_len, clamp_i8, KernelError, Quant, Shape4, View, ViewMut, Words};
use crate::quant::{multiply_by_quantized_multiplier, quantize_multiplier};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 5;

/// Run-time parameters of MEAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Reduced axes of the 4-D shape: bit 0 = N, 1 = H, 2 = W, 3 = C.
    pub axis_mask: u8,
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Multiplier of `input_scale / output_scale` (before folding in `1/n`).
    pub multiplier: i32,
    /// Shift of `input_scale / output_scale`, `[-31, 31]`.
    pub shift: i32,
}

/// Host-side prepare: `axes` are TFLite's (possibly negative, possibly
/// repeated) axes of a tensor of rank `rank`.
pub fn prepare(
    axes: &[i32],
    rank: usize,
    input_q: Quant,
    output_q: Quant,
) -> Result<Params, KernelError> {
    input_q.check_int8()?;
    output_q.check_int8()?;
    if rank > 4 {
        return Err(KernelError::Shape);
    }
    let rank_i = rank as i32;
    let mut axis_mask = 0u8;
    for &a in axes {
        let a = if a < 0 { a + rank_i } else { a };
        if !(0..rank_i).contains(&a) {
            return Err(KernelError::Param);
        }
        axis_mask |= 1 << (a + 4 - rank_i);
    }
    let (multiplier, shift) =
        quantize_multiplier(f64::from(input_q.scale) / f64::from(output_q.scale))?;
    Ok(Params {
        axis_mask,
        input_zero_point: input_q.zero_point,
        output_zero_point: output_q.zero_point,
        multiplier,
        shift,
    })
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        if self.axis_mask > 15
            || !(-128..=127).contains(&self.input_zero_point)
            || !(-128..=127).contains(&self.output_zero_point)
            || self.multiplier < 0
            || !(-31..=31).contains(&self.shift)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words: axis_mask, input_zero_point,
    /// output_zero_point, multiplier, shift.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        out(i32::from(self.axis_mask));
        out(self.input_zero_point);
        out(self.output_zero_point);
        out(self.multiplier);
        out(self.shift);
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        Ok(Self {
            axis_mask: w.int(0, 15)? as u8,
            input_zero_point: w.int(-128, 127)?,
            output_zero_point: w.int(-128, 127)?,
            multiplier: w.int(0, i32::MAX)?,
            shift: w.int(-31, 31)?,
        })
    }

    fn reduced(&self, axis: usize) -> bool {
        self.axis_mask & (1 << axis) != 0
    }

    /// The output shape with `keep_dims` (reduced axes become 1).
    pub fn kept_shape(&self, input: Shape4) -> Shape4 {
        let d = input.dims();
        let k = |i: usize| {
            if self.reduced(i) {
                1
            } else {
                d.get(i).copied().unwrap_or(1)
            }
        };
        Shape4::new(k(0), k(1), k(2), k(3))
    }

    /// The output must hold the product of the non-reduced input dimensions.
    pub fn validate(&self, input: Shape4, output: Shape4) -> Result<(), KernelError> {
        self.check()?;
        input.check()?;
        if self.kept_shape(input).check()? != output.check()? {
            return Err(KernelError::Shape);
        }
        Ok(())
    }

    /// One addition per input element.
    pub fn macs(&self, input: Shape4) -> u64 {
        input.elements().map_or(0, |n| n as u64)
    }
}

/// Runs MEAN.
pub fn eval(p: &Params, input: View<'_>, output: ViewMut<'_>) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    let i = input.shape;
    let d = i.dims();
    let count: usize = d
        .iter()
        .enumerate()
        .filter(|&(a, _)| p.reduced(a))
        .map(|(_, &v)| v)
        .product();
    if count == 0 || i.elements() == Some(0) {
        output.data.fill(0);
        return Ok(());
    }
    // Fold 1/count into the multiplier, as TFLM does.
    let n = count as i64;
    let k = (63 - (n as u64).leading_zeros() as i32)
        .min(32)
        .min(31 + p.shift);
    let multiplier = ((i64::from(p.multiplier) << k) / n) as i32;
    let shift = p.shift - k;
    let zp_times_n = i64::from(p.input_zero_point) * n;

    let o = p.kept_shape(i);
    let span = |axis: usize, at: usize| {
        if p.reduced(axis) {
            0..d.get(axis).copied().unwrap_or(0)
        } else {
            at..at + 1
        }
    };
    let mut outs = output.data.iter_mut();
    for on in 0..o.n {
        for oh in 0..o.h {
            for ow in 0..o.w {
                for oc in 0..o.c {
                    let mut sum: i32 = 0;
                    for n_ in span(0, on) {
                        for h in span(1, oh) {
                            for w in span(2, ow) {
                                let base = ((n_ * i.h + h) * i.w + w) * i.c;
                                for c in span(3, oc) {
                                    let v = *input.data.get(base + c).ok_or(KernelError::Length)?;
                                    sum = sum.wrapping_add(i32::from(v));
                                }
                            }
                        }
                    }
                    let shifted = (i64::from(sum) - zp_times_n) as i32;
                    let v = multiply_by_quantized_multiplier(shifted, multiplier, shift)
                        .wrapping_add(p.output_zero_point);
                    *outs.next().ok_or(KernelError::Length)? = clamp_i8(v, -128, 127);
                }
            }
        }
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
            dims in (1usize..=2, 1usize..=7, 1usize..=7, 1usize..=6),
            mask in 0u8..16,
            si in 0.001f32..1.0, so in 0.001f32..1.0,
            zi in zero_point(), zo in zero_point(),
            x_seed: u64, extreme in 0u8..4,
        ) {
            let i = Shape4::new(dims.0, dims.1, dims.2, dims.3);
            let axes: Vec<i32> = (0..4).filter(|a| mask & (1 << a) != 0).collect();
            let p = prepare(&axes, 4, Quant::new(si, zi), Quant::new(so, zo)).unwrap();
            let x: Vec<i8> = (0..i.elements().unwrap()).map(|k| match extreme {
                0 => -128,
                1 => 127,
                _ => ((k as u64).wrapping_mul(0x9E3779B97F4A7C15).wrapping_add(x_seed) >> 56) as u8 as i8,
            }).collect();
            let o = p.kept_shape(i);
            let mut out = vec![0i8; o.elements().unwrap()];
            eval(&p, View::new(i, &x), ViewMut::new(o, &mut out)).unwrap();

            // Reference: i64 sums, the folded multiplier recomputed with i128.
            let d = i.dims();
            let n: i64 = (0..4).filter(|a| mask & (1 << a) != 0).map(|a| d[a] as i64).product();
            let log2 = 63 - (n as u64).leading_zeros() as i32;
            let k = log2.min(32).min(31 + p.shift);
            let m2 = ((p.multiplier as i128 * (1i128 << k)) / n as i128) as i32;
            let s2 = p.shift - k;
            let od = o.dims();
            let mut idx = 0;
            for a in 0..od[0] { for b in 0..od[1] { for c in 0..od[2] { for e in 0..od[3] {
                let mut sum = 0i64;
                for a2 in 0..d[0] { for b2 in 0..d[1] { for c2 in 0..d[2] { for e2 in 0..d[3] {
                    let coord = [a2, b2, c2, e2];
                    let ocoord = [a, b, c, e];
                    if (0..4).all(|t| mask & (1 << t) != 0 || coord[t] == ocoord[t]) {
                        sum += x[((a2 * d[1] + b2) * d[2] + c2) * d[3] + e2] as i64;
                    }
                }}}}
                let v = ref_mbqm(sum - zi as i64 * n, m2, s2) + zo as i64;
                prop_assert_eq!(out[idx], ref_clamp(v, -128, 127));
                // And the result is the float mean to within one step (plus
                // multiplier truncation).
                let real_mean = (sum as f64 / n as f64 - zi as f64) * si as f64 / so as f64 + zo as f64;
                let clamped = real_mean.clamp(-128.0, 127.0);
                prop_assert!((out[idx] as f64 - clamped).abs() <= 1.01, "{} vs {}", out[idx], real_mean);
                idx += 1;
            }}}}
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }
    }

    #[test]
    fn prepare_resolves_axes() {
        let q = Quant::new(0.1, 0);
        assert_eq!(prepare(&[1, 2], 4, q, q).unwrap().axis_mask, 0b0110);
        assert_eq!(prepare(&[-1], 3, q, q).unwrap().axis_mask, 0b1000);
        assert_eq!(prepare(&[0, 0], 2, q, q).unwrap().axis_mask, 0b0100);
        assert!(prepare(&[4], 4, q, q).is_err());
        let p = prepare(&[1, 2], 4, q, q).unwrap();
        assert_eq!(
            p.validate(Shape4::new(1, 5, 5, 8), Shape4::new(1, 1, 1, 8)),
            Ok(())
        );
        assert_eq!(
            p.validate(Shape4::new(1, 5, 5, 8), Shape4::new(1, 1, 5, 8)),
            Err(KernelError::Shape)
        );
    }
}
