//! FULLY_CONNECTED, int8 (TFLM `FullyConnected` / `FullyConnectedPerChannel`).
//!
//! `out[b, o] = clamp(output_offset + MBQM(bias[o] +
//!   sum_d filter[o, d] * (in[b, d] + input_offset), multiplier[o], shift[o]))`.
//! The filter is `[out_depth, accum_depth]` with zero point 0. Per-channel
//! weights take their arrays from [`crate::quant::per_channel_multipliers`].
//! Per-tensor weights use the same arrays with every entry equal to
//! [`per_tensor_multiplier`]: TFLM's per-tensor path
//! (`GetQuantizedConvolutionMultipler`) multiplies the two scales in `f32`
//! before widening, unlike the per-channel path, so the two can differ in
//! the last bit.

use super::{
    activation_range, check_bias, check_len, clamp_i8, Activation, KernelError, PerChannel, Quant,
    Shape4, View, ViewMut, Words,
};
use crate::le::I32s;
use crate::quant::multiply_by_quantized_multiplier;

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 4;

/// Run-time parameters of FULLY_CONNECTED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// `-input_zero_point`, in `[-127, 128]`.
    pub input_offset: i32,
    /// `output_zero_point`, in `[-128, 127]`.
    pub output_offset: i32,
    /// Fused activation clamp, low end.
    pub act_min: i32,
    /// Fused activation clamp, high end.
    pub act_max: i32,
}

/// Host-side prepare, as TFLM's `CalculateOpDataFullyConnected`.
pub fn prepare(
    activation: Activation,
    input_q: Quant,
    output_q: Quant,
) -> Result<Params, KernelError> {
    input_q.check_int8()?;
    output_q.check_int8()?;
    let (act_min, act_max) = activation_range(activation, output_q);
    Ok(Params {
        input_offset: -input_q.zero_point,
        output_offset: output_q.zero_point,
        act_min,
        act_max,
    })
}

/// The per-tensor requantization `(multiplier, shift)`, as TFLM's
/// `GetQuantizedConvolutionMultipler`: `double(f32(input_scale *
/// filter_scale)) / double(output_scale)`.
pub fn per_tensor_multiplier(
    input_scale: f32,
    filter_scale: f32,
    output_scale: f32,
) -> Result<(i32, i32), KernelError> {
    let input_product_scale = f64::from(input_scale * filter_scale);
    crate::quant::quantize_multiplier(input_product_scale / f64::from(output_scale))
}

/// The FULLY_CONNECTED geometry: `(batches, out_depth, accum_depth)`.
fn geometry(
    input: Shape4,
    filter: Shape4,
    output: Shape4,
) -> Result<(usize, usize, usize), KernelError> {
    let accum = filter.c;
    let filter_len = filter.check()?;
    let out_len = output.check()?;
    let in_len = input.check()?;
    if accum == 0 || output.c == 0 {
        return Err(KernelError::Shape);
    }
    let out_depth = filter_len / accum;
    let batches = out_len / output.c;
    if out_depth != output.c || batches.checked_mul(accum) != Some(in_len) {
        return Err(KernelError::Shape);
    }
    Ok((batches, out_depth, accum))
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        if !(-127..=128).contains(&self.input_offset)
            || !(-128..=127).contains(&self.output_offset)
            || !(-128..=127).contains(&self.act_min)
            || !(self.act_min..=127).contains(&self.act_max)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words: input_offset, output_offset, act_min, act_max.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for v in [
            self.input_offset,
            self.output_offset,
            self.act_min,
            self.act_max,
        ] {
            out(v);
        }
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        let input_offset = w.int(-127, 128)?;
        let output_offset = w.int(-128, 127)?;
        let (act_min, act_max) = w.clamp()?;
        Ok(Self {
            input_offset,
            output_offset,
            act_min,
            act_max,
        })
    }

    /// Checks the shapes: the filter's last dimension is the accumulation
    /// depth, its other dimensions multiply to the output's last dimension,
    /// and the input holds `batches * accum_depth` values, where `batches` is
    /// the output's element count over its last dimension.
    pub fn validate(
        &self,
        input: Shape4,
        filter: Shape4,
        output: Shape4,
    ) -> Result<(), KernelError> {
        self.check()?;
        geometry(input, filter, output).map(|_| ())
    }

    /// Multiply-accumulates: `batches * out_depth * accum_depth`.
    pub fn macs(&self, filter: Shape4, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| n as u64) * filter.c as u64
    }
}

/// Runs FULLY_CONNECTED. `bias` (one `i32` per output unit) is optional.
pub fn eval(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    p.check()?;
    let (_, out_depth, accum) = geometry(input.shape, filter.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(filter.shape, filter.data.len())?;
    check_len(output.shape, output.data.len())?;
    check_bias(bias, out_depth)?;
    quant.validate(out_depth)?;
    let in_off = p.input_offset;
    for (row, out_row) in input
        .data
        .chunks_exact(accum)
        .zip(output.data.chunks_exact_mut(out_depth))
    {
        for ((o, out), ws) in out_row
            .iter_mut()
            .enumerate()
            .zip(filter.data.chunks_exact(accum))
        {
            let mut acc: i32 = 0;
            for (&x, &w) in row.iter().zip(ws) {
                acc = acc.wrapping_add((i32::from(x) + in_off) * i32::from(w));
            }
            if let Some(bias) = bias {
                acc = acc.wrapping_add(bias.get(o).ok_or(KernelError::Length)?);
            }
            let m = quant.multiplier.get(o).ok_or(KernelError::Length)?;
            let s = quant.shift.get(o).ok_or(KernelError::Length)?;
            let v = multiply_by_quantized_multiplier(acc, m, s).wrapping_add(p.output_offset);
            *out = clamp_i8(v, p.act_min, p.act_max);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Case {
        batches: usize,
        out_depth: usize,
        accum: usize,
        p: Params,
        x: Vec<i8>,
        w: Vec<i8>,
        bias: Option<Vec<i32>>,
        mult: Vec<i32>,
        shift: Vec<i32>,
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            1usize..=3,
            1usize..=9,
            1usize..=40,
            zero_point(),
            zero_point(),
            clamp_range(),
        )
            .prop_flat_map(|(batches, out_depth, accum, zi, zo, act)| {
                (
                    data(batches * accum),
                    data(out_depth * accum),
                    proptest::option::of(proptest::collection::vec(
                        -(1i32 << 20)..(1 << 20),
                        out_depth,
                    )),
                    proptest::collection::vec(multiplier(), out_depth),
                    proptest::collection::vec(shift(), out_depth),
                )
                    .prop_map(move |(x, w, bias, mult, shift)| Case {
                        batches,
                        out_depth,
                        accum,
                        p: Params {
                            input_offset: -zi,
                            output_offset: zo,
                            act_min: act.0,
                            act_max: act.1,
                        },
                        x,
                        w,
                        bias,
                        mult,
                        shift,
                    })
            })
    }

    fn reference(c: &Case) -> Vec<i8> {
        let mut out = vec![0i8; c.batches * c.out_depth];
        for b in 0..c.batches {
            for o in 0..c.out_depth {
                let mut acc: i64 = 0;
                for d in 0..c.accum {
                    acc += c.w[o * c.accum + d] as i64
                        * (c.x[b * c.accum + d] as i64 + c.p.input_offset as i64);
                }
                if let Some(bias) = &c.bias {
                    acc += bias[o] as i64;
                }
                let v = ref_mbqm(acc, c.mult[o], c.shift[o]) + c.p.output_offset as i64;
                out[b * c.out_depth + o] = ref_clamp(v, c.p.act_min, c.p.act_max);
            }
        }
        out
    }

    fn run(c: &Case, input: Shape4) -> Result<Vec<i8>, KernelError> {
        let (bm, bs) = (bytes_of(&c.mult), bytes_of(&c.shift));
        let bb = c.bias.as_ref().map(|b| bytes_of(b));
        let mut out = vec![0i8; c.batches * c.out_depth];
        eval(
            &c.p,
            View::new(input, &c.x),
            View::new(Shape4::new(1, 1, c.out_depth, c.accum), &c.w),
            bb.as_deref().map(view),
            PerChannel {
                multiplier: view(&bm),
                shift: view(&bs),
            },
            ViewMut::new(Shape4::new(1, 1, c.batches, c.out_depth), &mut out),
        )?;
        Ok(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn matches_reference(c in case()) {
            let input = Shape4::new(1, 1, c.batches, c.accum);
            prop_assert_eq!(run(&c, input).unwrap(), reference(&c));
            let mut words = Vec::new();
            c.p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), c.p);
        }
    }

    #[test]
    fn per_tensor_multiplier_uses_f32_product() {
        // 0.1f32 * 0.3f32 rounds in f32; the f64 product of the same values
        // does not, and here the two lead to different multipliers.
        let (a, b, o) = (0.1f32, 0.3f32, 0.7f32);
        let f32_path = per_tensor_multiplier(a, b, o).unwrap();
        let expected = crate::quant::quantize_multiplier(f64::from(a * b) / f64::from(o)).unwrap();
        assert_eq!(f32_path, expected);
        let mut m = [0i32; 1];
        let mut s = [0i32; 1];
        crate::quant::per_channel_multipliers(a, &[b], o, &mut m, &mut s).unwrap();
        let f64_path =
            crate::quant::quantize_multiplier(f64::from(a) * f64::from(b) / f64::from(o)).unwrap();
        assert_eq!((m[0], s[0]), f64_path);
        assert_eq!(f32_path, (1_472_560_299, -4));
        assert_eq!(f64_path, (1_472_560_321, -4));
    }

    #[test]
    fn flattened_4d_input_and_bad_shapes() {
        let c = Case {
            batches: 1,
            out_depth: 2,
            accum: 12,
            p: prepare(Activation::Relu, Quant::new(0.5, 3), Quant::new(0.25, -5)).unwrap(),
            x: (0..12).collect(),
            w: vec![1; 24],
            bias: Some(vec![10, -10]),
            mult: vec![1 << 30; 2],
            shift: vec![1; 2],
        };
        assert_eq!(c.p.act_min, -5);
        // A [1, 2, 2, 3] input flattens to one row of 12.
        let got = run(&c, Shape4::new(1, 2, 2, 3)).unwrap();
        assert_eq!(got, reference(&c));
        assert_eq!(run(&c, Shape4::new(1, 2, 2, 2)), Err(KernelError::Shape));
        let mut bad = c.clone();
        bad.w.pop();
        assert_eq!(
            run(&bad, Shape4::new(1, 1, 1, 12)),
            Err(KernelError::Length)
        );
        assert_eq!(
            c.p.macs(Shape4::new(1, 1, 2, 12), Shape4::new(1, 1, 1, 2)),
            24
        );
    }
}
