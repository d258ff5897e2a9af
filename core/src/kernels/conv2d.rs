//! CONV_2D, int8 with per-channel int8 weights (TFLM `ConvPerChannel`).
//!
//! `out[b, y, x, oc] = clamp(output_offset + MBQM(bias[oc] +
//!   sum_{fy, fx, ic} filter[oc, fy, fx, ic] * (in[b, iy, ix, g*fc + ic] + input_offset),
//!   multiplier[oc], shift[oc]))`
//! with `iy = y*stride_h - pad_h + fy*dilation_h` (points outside the image
//! are skipped: zero padding in real terms), `fc` the filter's input depth and
//! `g = oc / (out_c / groups)` the group (`groups = in_c / fc`, 1 for an
//! ordinary convolution). The filter is OHWI, its zero point is 0.

use super::fast::epilogue::Store;
use super::{
    activation_range, check_band_extent, check_bias, check_extent, check_len, compute_out_size,
    compute_padding, word, Activation, Extent, KernelError, Padding, PerChannel, Quant, Shape4,
    View, ViewMut, Words, MAX_DIM,
};
use crate::le::I32s;
use crate::quant::multiply_by_quantized_multiplier;

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 10;

/// Run-time parameters of CONV_2D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Vertical stride, `>= 1`.
    pub stride_h: usize,
    /// Horizontal stride, `>= 1`.
    pub stride_w: usize,
    /// Vertical dilation, `>= 1`.
    pub dilation_h: usize,
    /// Horizontal dilation, `>= 1`.
    pub dilation_w: usize,
    /// Rows of implicit padding above the image.
    pub pad_h: usize,
    /// Columns of implicit padding left of the image.
    pub pad_w: usize,
    /// `-input_zero_point`, in `[-127, 128]`.
    pub input_offset: i32,
    /// `output_zero_point`, in `[-128, 127]`.
    pub output_offset: i32,
    /// Fused activation clamp, low end.
    pub act_min: i32,
    /// Fused activation clamp, high end.
    pub act_max: i32,
}

/// TFLite's CONV_2D options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// SAME or VALID.
    pub padding: Padding,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Vertical dilation.
    pub dilation_h: usize,
    /// Horizontal dilation.
    pub dilation_w: usize,
    /// Fused activation.
    pub activation: Activation,
}

/// Host-side prepare, as TFLM's conv `Prepare`: computes the output shape and
/// the padding for `input` (NHWC) and `filter` (OHWI), the offsets and the
/// activation clamp. Per-channel multipliers come from
/// [`crate::quant::per_channel_multipliers`] with the filter's scales.
pub fn prepare(
    opts: &Options,
    input: Shape4,
    filter: Shape4,
    input_q: Quant,
    output_q: Quant,
) -> Result<(Params, Shape4), KernelError> {
    input_q.check_int8()?;
    output_q.check_int8()?;
    let out_h = compute_out_size(
        opts.padding,
        input.h,
        filter.h,
        opts.stride_h,
        opts.dilation_h,
    )
    .ok_or(KernelError::Shape)?;
    let out_w = compute_out_size(
        opts.padding,
        input.w,
        filter.w,
        opts.stride_w,
        opts.dilation_w,
    )
    .ok_or(KernelError::Shape)?;
    let pad_h = compute_padding(opts.stride_h, opts.dilation_h, input.h, filter.h, out_h)
        .ok_or(KernelError::Shape)?;
    let pad_w = compute_padding(opts.stride_w, opts.dilation_w, input.w, filter.w, out_w)
        .ok_or(KernelError::Shape)?;
    let (act_min, act_max) = activation_range(opts.activation, output_q);
    let params = Params {
        stride_h: opts.stride_h,
        stride_w: opts.stride_w,
        dilation_h: opts.dilation_h,
        dilation_w: opts.dilation_w,
        pad_h,
        pad_w,
        input_offset: -input_q.zero_point,
        output_offset: output_q.zero_point,
        act_min,
        act_max,
    };
    let output = Shape4::new(input.n, out_h, out_w, filter.n);
    params.validate(input, filter, output)?;
    Ok((params, output))
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        let sizes = [
            self.stride_h,
            self.stride_w,
            self.dilation_h,
            self.dilation_w,
        ];
        if sizes.iter().any(|&s| s == 0 || s > MAX_DIM)
            || self.pad_h > MAX_DIM
            || self.pad_w > MAX_DIM
            || !(-127..=128).contains(&self.input_offset)
            || !(-128..=127).contains(&self.output_offset)
            || !(-128..=127).contains(&self.act_min)
            || !(self.act_min..=127).contains(&self.act_max)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words: stride_h, stride_w, dilation_h,
    /// dilation_w, pad_h, pad_w, input_offset, output_offset, act_min, act_max.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for v in [
            self.stride_h,
            self.stride_w,
            self.dilation_h,
            self.dilation_w,
            self.pad_h,
            self.pad_w,
        ] {
            out(word(v));
        }
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
        let p = Self {
            stride_h: w.size(1)?,
            stride_w: w.size(1)?,
            dilation_h: w.size(1)?,
            dilation_w: w.size(1)?,
            pad_h: w.size(0)?,
            pad_w: w.size(0)?,
            input_offset: w.int(-127, 128)?,
            output_offset: w.int(-128, 127)?,
            act_min: 0,
            act_max: 0,
        };
        let (act_min, act_max) = w.clamp()?;
        let p = Self {
            act_min,
            act_max,
            ..p
        };
        p.check()?;
        Ok(p)
    }

    /// Checks the params against input (NHWC), filter (OHWI) and output
    /// (NHWC) shapes: batch and channel counts must agree (the input depth
    /// a multiple of the filter depth, for grouped convolution).
    pub fn validate(
        &self,
        input: Shape4,
        filter: Shape4,
        output: Shape4,
    ) -> Result<(), KernelError> {
        self.validate_with(input, filter, output, check_extent)
    }

    /// [`Params::validate`] with the vertical extent checked by
    /// [`check_band_extent`]: what the kernel computes, a band of rows of a
    /// taller image included ([`crate::bands`]).
    pub fn validate_rows(
        &self,
        input: Shape4,
        filter: Shape4,
        output: Shape4,
    ) -> Result<(), KernelError> {
        self.validate_with(input, filter, output, check_band_extent)
    }

    fn validate_with(
        &self,
        input: Shape4,
        filter: Shape4,
        output: Shape4,
        vertical: Extent,
    ) -> Result<(), KernelError> {
        self.check()?;
        input.check()?;
        filter.check()?;
        output.check()?;
        if filter.c == 0 || filter.h == 0 || filter.w == 0 || filter.n == 0 {
            return Err(KernelError::Shape);
        }
        let groups = input.c / filter.c;
        if input.c % filter.c != 0
            || groups == 0
            || filter.n != output.c
            || output.c % groups != 0
            || input.n != output.n
        {
            return Err(KernelError::Shape);
        }
        vertical(
            input.h,
            filter.h,
            self.stride_h,
            self.dilation_h,
            self.pad_h,
            output.h,
        )?;
        check_extent(
            input.w,
            filter.w,
            self.stride_w,
            self.dilation_w,
            self.pad_w,
            output.w,
        )?;
        Ok(())
    }

    /// Multiply-accumulates: one per output element and filter tap (taps
    /// falling in the padding included, as a layer's nominal cost).
    pub fn macs(&self, filter: Shape4, output: Shape4) -> u64 {
        let per_out = (filter.h as u64) * (filter.w as u64) * (filter.c as u64);
        output.elements().map_or(0, |n| n as u64) * per_out
    }
}

/// Runs CONV_2D. `bias` (one `i32` per output channel) is optional.
///
/// Takes the DSP fast path ([`super::fast`]) where it applies, the portable
/// loop ([`eval_portable`]) otherwise; both give the same bytes.
pub fn eval(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    check_operands(
        p,
        input,
        filter,
        bias,
        quant,
        output.shape,
        output.data.len(),
    )?;
    let out = ViewMut::new(output.shape, &mut *output.data);
    if super::fast::conv::eval(p, input, filter, bias, quant, out, &Store)? {
        return Ok(());
    }
    portable(p, input, filter, bias, quant, output)
}

/// Runs CONV_2D with the portable loop nest only (TFLM's reference order):
/// the specification the fast path is tested against.
pub fn eval_portable(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    check_operands(
        p,
        input,
        filter,
        bias,
        quant,
        output.shape,
        output.data.len(),
    )?;
    portable(p, input, filter, bias, quant, output)
}

/// Every check a kernel needs before touching data.
fn check_operands(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: Shape4,
    output_len: usize,
) -> Result<(), KernelError> {
    p.validate_rows(input.shape, filter.shape, output)?;
    check_len(input.shape, input.data.len())?;
    check_len(filter.shape, filter.data.len())?;
    check_len(output, output_len)?;
    check_bias(bias, output.c)?;
    quant.validate(output.c)
}

fn portable(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    let out_c = output.shape.c;

    let (in_h, in_w, in_c) = (input.shape.h as i64, input.shape.w as i64, input.shape.c);
    let (kh, kw, fc) = (filter.shape.h, filter.shape.w, filter.shape.c);
    let oc_per_group = out_c / (in_c / fc);
    let (out_h, out_w) = (output.shape.h, output.shape.w);
    let in_off = p.input_offset;

    let mut pixels = output.data.chunks_exact_mut(out_c.max(1));
    for b in 0..output.shape.n {
        let batch_base = b * input.shape.h;
        for oy in 0..out_h {
            let iy0 = (oy * p.stride_h) as i64 - p.pad_h as i64;
            for ox in 0..out_w {
                let ix0 = (ox * p.stride_w) as i64 - p.pad_w as i64;
                let out_px = pixels.next().ok_or(KernelError::Length)?;
                for (oc, out) in out_px.iter_mut().enumerate() {
                    let group_base = (oc / oc_per_group) * fc;
                    let mut acc: i32 = 0;
                    for fy in 0..kh {
                        let iy = iy0 + (fy * p.dilation_h) as i64;
                        if iy < 0 || iy >= in_h {
                            continue;
                        }
                        let row = (batch_base + iy as usize) * input.shape.w;
                        for fx in 0..kw {
                            let ix = ix0 + (fx * p.dilation_w) as i64;
                            if ix < 0 || ix >= in_w {
                                continue;
                            }
                            let in_base = (row + ix as usize) * in_c + group_base;
                            let xs = input
                                .data
                                .get(in_base..in_base + fc)
                                .ok_or(KernelError::Length)?;
                            let f_base = ((oc * kh + fy) * kw + fx) * fc;
                            let ws = filter
                                .data
                                .get(f_base..f_base + fc)
                                .ok_or(KernelError::Length)?;
                            for (&x, &w) in xs.iter().zip(ws) {
                                acc = acc.wrapping_add((i32::from(x) + in_off) * i32::from(w));
                            }
                        }
                    }
                    if let Some(bias) = bias {
                        acc = acc.wrapping_add(bias.get(oc).ok_or(KernelError::Length)?);
                    }
                    let m = quant.multiplier.get(oc).ok_or(KernelError::Length)?;
                    let s = quant.shift.get(oc).ok_or(KernelError::Length)?;
                    let v =
                        multiply_by_quantized_multiplier(acc, m, s).wrapping_add(p.output_offset);
                    *out = super::clamp_i8(v, p.act_min, p.act_max);
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

    #[derive(Debug, Clone)]
    struct Case {
        input: Shape4,
        filter: Shape4,
        output: Shape4,
        p: Params,
        x: Vec<i8>,
        w: Vec<i8>,
        bias: Option<Vec<i32>>,
        mult: Vec<i32>,
        shift: Vec<i32>,
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            (1usize..=2, 1usize..=9, 1usize..=9, 1usize..=6),
            (1usize..=6, 1usize..=4, 1usize..=4, 1usize..=2),
            (
                1usize..=3,
                1usize..=3,
                1usize..=2,
                1usize..=2,
                any::<bool>(),
            ),
            (zero_point(), zero_point(), clamp_range()),
        )
            .prop_filter_map(
                "valid geometry",
                |(
                    (n, h, w, fc),
                    (oc_per_group, kh, kw, groups),
                    (sh, sw, dh, dw, same),
                    (zi, zo, act),
                )| {
                    let input = Shape4::new(n, h, w, fc * groups);
                    let filter = Shape4::new(oc_per_group * groups, kh, kw, fc);
                    let opts = Options {
                        padding: if same { Padding::Same } else { Padding::Valid },
                        stride_h: sh,
                        stride_w: sw,
                        dilation_h: dh,
                        dilation_w: dw,
                        activation: Activation::None,
                    };
                    let (mut p, output) = prepare(
                        &opts,
                        input,
                        filter,
                        Quant::new(0.1, zi),
                        Quant::new(0.1, zo),
                    )
                    .ok()?;
                    if output.h == 0 || output.w == 0 {
                        return None;
                    }
                    p.act_min = act.0;
                    p.act_max = act.1;
                    Some((input, filter, output, p))
                },
            )
            .prop_flat_map(|(input, filter, output, p)| {
                let oc = filter.n;
                (
                    data(input.elements().unwrap()),
                    data(filter.elements().unwrap()),
                    proptest::option::of(proptest::collection::vec(-(1i32 << 20)..(1 << 20), oc)),
                    proptest::collection::vec(multiplier(), oc),
                    proptest::collection::vec(shift(), oc),
                )
                    .prop_map(move |(x, w, bias, mult, shift)| Case {
                        input,
                        filter,
                        output,
                        p,
                        x,
                        w,
                        bias,
                        mult,
                        shift,
                    })
            })
    }

    /// Plain reference: TFLM's loop nest, `i64` accumulation.
    fn reference(c: &Case) -> Vec<i8> {
        let (i, f, o, p) = (c.input, c.filter, c.output, c.p);
        let groups = i.c / f.c;
        let mut out = vec![0i8; o.elements().unwrap()];
        for b in 0..o.n {
            for oy in 0..o.h {
                for ox in 0..o.w {
                    for oc in 0..o.c {
                        let g = oc / (o.c / groups);
                        let mut acc: i64 = 0;
                        for fy in 0..f.h {
                            for fx in 0..f.w {
                                let iy =
                                    (oy * p.stride_h + fy * p.dilation_h) as i64 - p.pad_h as i64;
                                let ix =
                                    (ox * p.stride_w + fx * p.dilation_w) as i64 - p.pad_w as i64;
                                if iy < 0 || ix < 0 || iy >= i.h as i64 || ix >= i.w as i64 {
                                    continue;
                                }
                                for ic in 0..f.c {
                                    let xv = c.x[((b * i.h + iy as usize) * i.w + ix as usize)
                                        * i.c
                                        + g * f.c
                                        + ic] as i64;
                                    let wv = c.w[((oc * f.h + fy) * f.w + fx) * f.c + ic] as i64;
                                    acc += wv * (xv + p.input_offset as i64);
                                }
                            }
                        }
                        if let Some(bias) = &c.bias {
                            acc += bias[oc] as i64;
                        }
                        let v = ref_mbqm(acc, c.mult[oc], c.shift[oc]) + p.output_offset as i64;
                        out[((b * o.h + oy) * o.w + ox) * o.c + oc] =
                            ref_clamp(v, p.act_min, p.act_max);
                    }
                }
            }
        }
        out
    }

    fn run(c: &Case) -> Result<Vec<i8>, KernelError> {
        let (bm, bs) = (bytes_of(&c.mult), bytes_of(&c.shift));
        let bb = c.bias.as_ref().map(|b| bytes_of(b));
        let mut out = vec![0i8; c.output.elements().unwrap()];
        eval(
            &c.p,
            View::new(c.input, &c.x),
            View::new(c.filter, &c.w),
            bb.as_deref().map(view),
            PerChannel {
                multiplier: view(&bm),
                shift: view(&bs),
            },
            ViewMut::new(c.output, &mut out),
        )?;
        Ok(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]
        #[test]
        fn matches_reference(c in case()) {
            prop_assert_eq!(run(&c).unwrap(), reference(&c));
        }

        #[test]
        fn encode_decode_round_trip(c in case()) {
            let mut words = Vec::new();
            c.p.encode(&mut |w| words.push(w));
            prop_assert_eq!(words.len(), WORDS);
            prop_assert_eq!(Params::decode(&words).unwrap(), c.p);
        }
    }

    #[test]
    fn prepare_same_stride2() {
        let opts = Options {
            padding: Padding::Same,
            stride_h: 2,
            stride_w: 2,
            dilation_h: 1,
            dilation_w: 1,
            activation: Activation::Relu6,
        };
        let (p, out) = prepare(
            &opts,
            Shape4::new(1, 7, 8, 3),
            Shape4::new(5, 3, 3, 3),
            Quant::new(0.02, 4),
            Quant::new(0.05, -3),
        )
        .unwrap();
        assert_eq!(out, Shape4::new(1, 4, 4, 5));
        assert_eq!((p.pad_h, p.pad_w), (1, 0));
        assert_eq!((p.input_offset, p.output_offset), (-4, -3));
        assert_eq!((p.act_min, p.act_max), (-3, 117));
        assert_eq!(p.macs(Shape4::new(5, 3, 3, 3), out), 80 * 27);
    }

    #[test]
    fn rejects_inconsistent_shapes_and_params() {
        let c = Case {
            input: Shape4::new(1, 3, 3, 2),
            filter: Shape4::new(2, 1, 1, 2),
            output: Shape4::new(1, 3, 3, 2),
            p: Params {
                stride_h: 1,
                stride_w: 1,
                dilation_h: 1,
                dilation_w: 1,
                pad_h: 0,
                pad_w: 0,
                input_offset: 0,
                output_offset: 0,
                act_min: -128,
                act_max: 127,
            },
            x: vec![1; 18],
            w: vec![1; 4],
            bias: None,
            mult: vec![1 << 30; 2],
            shift: vec![0; 2],
        };
        assert!(run(&c).is_ok());
        let mut bad = c.clone();
        bad.x.pop();
        assert_eq!(run(&bad), Err(KernelError::Length));
        let mut bad = c.clone();
        bad.filter = Shape4::new(3, 1, 1, 2);
        bad.w = vec![1; 6];
        assert_eq!(run(&bad), Err(KernelError::Shape));
        let mut bad = c.clone();
        bad.mult.pop();
        assert_eq!(run(&bad), Err(KernelError::Length));
        let mut bad = c.clone();
        bad.shift[0] = 32;
        assert_eq!(run(&bad), Err(KernelError::Param));
        let mut bad = c.clone();
        bad.bias = Some(vec![0; 3]);
        assert_eq!(run(&bad), Err(KernelError::Length));
        let mut bad = c.clone();
        bad.p.stride_h = 0;
        assert_eq!(run(&bad), Err(KernelError::Param));
        // Decode rejects bad words.
        let mut words = Vec::new();
        c.p.encode(&mut |w| words.push(w));
        assert!(Params::decode(&words[..9]).is_err());
        let mut w2 = words.clone();
        w2[0] = 0;
        assert!(Params::decode(&w2).is_err());
        let mut w2 = words.clone();
        w2[8] = 100;
        w2[9] = 99; // min > max
        assert!(Params::decode(&w2).is_err());
        let mut w2 = words;
        w2[6] = -128; // input offset out of range
        assert!(Params::decode(&w2).is_err());
    }
}
