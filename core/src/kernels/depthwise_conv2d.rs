//! DEPTHWISE_CONV_2D, int8 with per-channel int8 weights (TFLM
//! `DepthwiseConvPerChannel`).
//!
//! Output channel `oc = ic * depth_multiplier + m` sees only input channel
//! `ic`: `out[b, y, x, oc] = clamp(output_offset + MBQM(bias[oc] +
//!   sum_{fy, fx} filter[0, fy, fx, oc] * (in[b, iy, ix, ic] + input_offset),
//!   multiplier[oc], shift[oc]))`, with the same geometry as CONV_2D
//! (padding points skipped). The filter is `[1, kh, kw, in_c * multiplier]`.

use super::{
    activation_range, check_band_extent, check_bias, check_extent, check_len, clamp_i8,
    compute_out_size, compute_padding, word, Activation, Extent, KernelError, Padding, PerChannel,
    Quant, Shape4, View, ViewMut, Words, MAX_DIM,
};
use crate::le::I32s;
use crate::quant::multiply_by_quantized_multiplier;

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 11;

/// Run-time parameters of DEPTHWISE_CONV_2D.
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
    /// Output channels per input channel, `>= 1`.
    pub depth_multiplier: usize,
    /// `-input_zero_point`, in `[-127, 128]`.
    pub input_offset: i32,
    /// `output_zero_point`, in `[-128, 127]`.
    pub output_offset: i32,
    /// Fused activation clamp, low end.
    pub act_min: i32,
    /// Fused activation clamp, high end.
    pub act_max: i32,
}

/// TFLite's DEPTHWISE_CONV_2D options.
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

/// Host-side prepare, as TFLM's depthwise `Prepare`. The depth multiplier is
/// taken from the shapes (`filter.c / input.c`), which TFLite requires to
/// agree with the option. Per-channel multipliers come from
/// [`crate::quant::per_channel_multipliers`].
pub fn prepare(
    opts: &Options,
    input: Shape4,
    filter: Shape4,
    input_q: Quant,
    output_q: Quant,
) -> Result<(Params, Shape4), KernelError> {
    input_q.check_int8()?;
    output_q.check_int8()?;
    if input.c == 0 || filter.c % input.c != 0 {
        return Err(KernelError::Shape);
    }
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
        depth_multiplier: filter.c / input.c,
        input_offset: -input_q.zero_point,
        output_offset: output_q.zero_point,
        act_min,
        act_max,
    };
    let output = Shape4::new(input.n, out_h, out_w, filter.c);
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
            self.depth_multiplier,
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
    /// dilation_w, pad_h, pad_w, depth_multiplier, input_offset,
    /// output_offset, act_min, act_max.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for v in [
            self.stride_h,
            self.stride_w,
            self.dilation_h,
            self.dilation_w,
            self.pad_h,
            self.pad_w,
            self.depth_multiplier,
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
        let stride_h = w.size(1)?;
        let stride_w = w.size(1)?;
        let dilation_h = w.size(1)?;
        let dilation_w = w.size(1)?;
        let pad_h = w.size(0)?;
        let pad_w = w.size(0)?;
        let depth_multiplier = w.size(1)?;
        let input_offset = w.int(-127, 128)?;
        let output_offset = w.int(-128, 127)?;
        let (act_min, act_max) = w.clamp()?;
        let p = Self {
            stride_h,
            stride_w,
            dilation_h,
            dilation_w,
            pad_h,
            pad_w,
            depth_multiplier,
            input_offset,
            output_offset,
            act_min,
            act_max,
        };
        p.check()?;
        Ok(p)
    }

    /// Checks the params against input (NHWC), filter (`[1, kh, kw, oc]`)
    /// and output (NHWC) shapes.
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
        let out_c = input
            .c
            .checked_mul(self.depth_multiplier)
            .ok_or(KernelError::Shape)?;
        if filter.n != 1
            || filter.h == 0
            || filter.w == 0
            || filter.c != out_c
            || output.c != out_c
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

    /// Multiply-accumulates: one per output element and filter tap.
    pub fn macs(&self, filter: Shape4, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| n as u64) * (filter.h as u64) * (filter.w as u64)
    }
}

/// Runs DEPTHWISE_CONV_2D. `bias` (one `i32` per output channel) is optional.
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
    if super::fast::depthwise::eval(p, input, filter, bias, quant, out)? {
        return Ok(());
    }
    portable(p, input, filter, bias, quant, output)
}

/// Runs DEPTHWISE_CONV_2D with the portable loop nest only (TFLM's
/// reference order): the specification the fast path is tested against.
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

/// Not inlined: its loops then compile the same whichever fast paths its
/// caller links (inlined, their code changed its register allocation).
#[inline(never)]
fn portable(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    let out_c = output.shape.c;
    if out_c == 0 {
        return Ok(());
    }

    let (in_h, in_w, in_c) = (input.shape.h as i64, input.shape.w as i64, input.shape.c);
    let (kh, kw) = (filter.shape.h, filter.shape.w);
    let dm = p.depth_multiplier;
    let in_off = p.input_offset;

    let mut pixels = output.data.chunks_exact_mut(out_c);
    for b in 0..output.shape.n {
        for oy in 0..output.shape.h {
            let iy0 = (oy * p.stride_h) as i64 - p.pad_h as i64;
            let fys = inside_taps(iy0, kh, p.dilation_h, in_h);
            for ox in 0..output.shape.w {
                let ix0 = (ox * p.stride_w) as i64 - p.pad_w as i64;
                let fxs = inside_taps(ix0, kw, p.dilation_w, in_w);
                let out_px = pixels.next().ok_or(KernelError::Length)?;
                for (oc, out) in out_px.iter_mut().enumerate() {
                    let ic = oc / dm;
                    let mut acc: i32 = 0;
                    for fy in fys.clone() {
                        let iy = (iy0 + (fy * p.dilation_h) as i64) as usize;
                        let row = (b * input.shape.h + iy) * input.shape.w;
                        for fx in fxs.clone() {
                            let ix = (ix0 + (fx * p.dilation_w) as i64) as usize;
                            let x = *input
                                .data
                                .get((row + ix) * in_c + ic)
                                .ok_or(KernelError::Length)?;
                            let w = *filter
                                .data
                                .get((fy * kw + fx) * out_c + oc)
                                .ok_or(KernelError::Length)?;
                            acc = acc.wrapping_add((i32::from(x) + in_off) * i32::from(w));
                        }
                    }
                    if let Some(bias) = bias {
                        acc = acc.wrapping_add(bias.get(oc).ok_or(KernelError::Length)?);
                    }
                    let m = quant.multiplier.get(oc).ok_or(KernelError::Length)?;
                    let s = quant.shift.get(oc).ok_or(KernelError::Length)?;
                    let v =
                        multiply_by_quantized_multiplier(acc, m, s).wrapping_add(p.output_offset);
                    *out = clamp_i8(v, p.act_min, p.act_max);
                }
            }
        }
    }
    Ok(())
}

/// The taps `t` in `0..n` whose coordinate `start + t * dilation` lies in
/// `[0, len)` (the rest are padding, which the reference skips): computed
/// once per output row or pixel rather than tested per tap.
fn inside_taps(start: i64, n: usize, dilation: usize, len: i64) -> core::ops::Range<usize> {
    let d = dilation.max(1) as i64;
    // First t with start + t d >= 0, and one past the last with
    // start + t d <= len - 1.
    let lo = if start >= 0 { 0 } else { (-start + d - 1) / d };
    let hi = if len - 1 - start < 0 {
        0
    } else {
        (len - 1 - start) / d + 1
    };
    let hi = hi.min(n as i64).max(0) as usize;
    (lo.max(0) as usize).min(hi)..hi
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// The prepared parameters and output shape of a depthwise layer with
    /// scales 0.1, these zero points and clamp range, or `None` when the
    /// geometry is invalid or has an empty output (shared with the fast paths'
    /// tests).
    pub(crate) fn geometry(
        input: Shape4,
        filter: Shape4,
        (stride_h, stride_w): (usize, usize),
        (dilation_h, dilation_w): (usize, usize),
        same: bool,
        (zi, zo): (i32, i32),
        act: (i32, i32),
    ) -> Option<(Shape4, Shape4, Shape4, Params)> {
        let opts = Options {
            padding: if same { Padding::Same } else { Padding::Valid },
            stride_h,
            stride_w,
            dilation_h,
            dilation_w,
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
        (p.act_min, p.act_max) = act;
        Some((input, filter, output, p))
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            (1usize..=2, 1usize..=9, 1usize..=9, 1usize..=7),
            (1usize..=4, 1usize..=4, 1usize..=3),
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
                |((n, h, w, c), (kh, kw, dm), (sh, sw, dh, dw, same), (zi, zo, act))| {
                    let input = Shape4::new(n, h, w, c);
                    let filter = Shape4::new(1, kh, kw, c * dm);
                    geometry(input, filter, (sh, sw), (dh, dw), same, (zi, zo), act)
                },
            )
            .prop_flat_map(|(input, filter, output, p)| {
                let oc = filter.c;
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

    fn reference(c: &Case) -> Vec<i8> {
        let (i, f, o, p) = (c.input, c.filter, c.output, c.p);
        let mut out = vec![0i8; o.elements().unwrap()];
        for b in 0..o.n {
            for oy in 0..o.h {
                for ox in 0..o.w {
                    for ic in 0..i.c {
                        for m in 0..p.depth_multiplier {
                            let oc = m + ic * p.depth_multiplier;
                            let mut acc: i64 = 0;
                            for fy in 0..f.h {
                                for fx in 0..f.w {
                                    let iy = (oy * p.stride_h + fy * p.dilation_h) as i64
                                        - p.pad_h as i64;
                                    let ix = (ox * p.stride_w + fx * p.dilation_w) as i64
                                        - p.pad_w as i64;
                                    if iy < 0 || ix < 0 || iy >= i.h as i64 || ix >= i.w as i64 {
                                        continue;
                                    }
                                    let xv = c.x
                                        [((b * i.h + iy as usize) * i.w + ix as usize) * i.c + ic]
                                        as i64;
                                    let wv = c.w[(fy * f.w + fx) * f.c + oc] as i64;
                                    acc += wv * (xv + p.input_offset as i64);
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
    fn inside_taps_are_the_taps_inside() {
        for start in -9i64..=9 {
            for n in 0..=5usize {
                for d in 1..=3usize {
                    for len in 0..=6i64 {
                        let want: Vec<usize> = (0..n)
                            .filter(|&t| (0..len).contains(&(start + (t * d) as i64)))
                            .collect();
                        let got: Vec<usize> = inside_taps(start, n, d, len).collect();
                        assert_eq!(got, want, "start {start} n {n} d {d} len {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_inconsistent_shapes() {
        let p = Params {
            stride_h: 1,
            stride_w: 1,
            dilation_h: 1,
            dilation_w: 1,
            pad_h: 0,
            pad_w: 0,
            depth_multiplier: 2,
            input_offset: 0,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
        };
        let i = Shape4::new(1, 2, 2, 3);
        assert!(p
            .validate(i, Shape4::new(1, 1, 1, 6), Shape4::new(1, 2, 2, 6))
            .is_ok());
        assert_eq!(
            p.validate(i, Shape4::new(1, 1, 1, 5), Shape4::new(1, 2, 2, 6)),
            Err(KernelError::Shape)
        );
        assert_eq!(
            p.validate(i, Shape4::new(2, 1, 1, 6), Shape4::new(1, 2, 2, 6)),
            Err(KernelError::Shape)
        );
        assert_eq!(
            p.macs(Shape4::new(1, 3, 3, 6), Shape4::new(1, 2, 2, 6)),
            24 * 9
        );
        let mut words = Vec::new();
        p.encode(&mut |w| words.push(w));
        words[6] = 0;
        assert!(Params::decode(&words).is_err());
    }
}
