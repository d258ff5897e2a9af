//! CONV_2D_FUSED: a CONV_2D that reads its input through an [`InputView`]
//! (resizes and a channel concatenation that are never materialized) and
//! optionally applies an ADD to its result before storing it.
//!
//! The host's fusion pass (`mote-host`'s `fuse` module) replaces
//! `RESIZE_* / CONCATENATION -> CONV_2D [-> ADD]` chains by this op when the
//! result is bit-identical to running them one by one: the view computes the
//! int8 values the resize and concatenation kernels would have written, the
//! convolution requantizes and clamps exactly as CONV_2D (the intermediate
//! int8 value is what CONV_2D would have stored), and the ADD epilogue is
//! `add::Params::apply` on that value and the addend's element at the same
//! index (no broadcasting). The conv result is always ADD's first operand
//! (the host swaps the ADD's input parameters if needed; the ADD's sum is
//! symmetric, so this changes nothing).
//!
//! Because every output element depends on the addend only at its own
//! index, the output may be written in place over the addend: each element
//! is read before it is overwritten. This is what saves the memory of
//! encoder-decoder skip connections.
//!
//! Accumulation order differs from `conv2d::eval` (the view is gathered in
//! channel chunks and output channels are handled in blocks), which does not
//! change results: the accumulator wraps like CONV_2D's, and wrapping `i32`
//! addition is associative and commutative.

use super::fast::{self, epilogue::Store};
use super::input_view::{InputView, Part, Resample, MAX_PARTS};
use super::{
    add, check_bias, check_len, conv2d, KernelError, PerChannel, Shape4, View, ViewMut, Words,
};
use crate::le::I32s;
use crate::quant::multiply_by_quantized_multiplier;

/// Words without any part or epilogue: CONV_2D's, view height and width,
/// part count, epilogue flag.
pub const BASE_WORDS: usize = conv2d::WORDS + 4;
/// Words per part.
pub const PART_WORDS: usize = 3;

/// Input channels gathered from the view at a time.
const CHANNEL_CHUNK: usize = 64;
/// Output channels accumulated at a time.
const OUTPUT_BLOCK: usize = 32;

/// Run-time parameters of CONV_2D_FUSED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// The convolution (its input offset is the view's, its output offset and
    /// clamp the conv result's).
    pub conv: conv2d::Params,
    /// Height of the view the convolution reads.
    pub view_h: usize,
    /// Width of the view the convolution reads.
    pub view_w: usize,
    /// Resampling of each part (the first `part_count` are used).
    pub parts: [Resample; MAX_PARTS],
    /// Number of parts, `1..=MAX_PARTS`.
    pub part_count: usize,
    /// ADD epilogue with the conv result as its first operand.
    pub add: Option<add::Params>,
}

impl Params {
    /// The used parts' resampling.
    pub fn parts(&self) -> &[Resample] {
        self.parts.get(..self.part_count).unwrap_or(&[])
    }

    /// Number of words [`Params::encode`] writes.
    pub fn word_count(&self) -> usize {
        BASE_WORDS + PART_WORDS * self.part_count + self.add.map_or(0, |_| add::WORDS)
    }

    /// Writes the words: CONV_2D's 10, `view_h`, `view_w`, `part_count`,
    /// three per part ([`Resample::encode`]), the epilogue flag (0 none, 1
    /// ADD) and, with ADD, its 12 words.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        self.conv.encode(out);
        out(super::word(self.view_h));
        out(super::word(self.view_w));
        out(super::word(self.part_count));
        for r in self.parts() {
            r.encode(out);
        }
        out(i32::from(self.add.is_some()));
        if let Some(a) = &self.add {
            a.encode(out);
        }
    }

    /// Reads the words written by [`Params::encode`], range-checking each;
    /// the word count must be exactly what the part count and flag imply.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let conv = conv2d::Params::decode(words.get(..conv2d::WORDS).ok_or(KernelError::Param)?)?;
        let rest = words.get(conv2d::WORDS..).ok_or(KernelError::Param)?;
        let head = rest.get(..3).ok_or(KernelError::Param)?;
        let mut w = Words::new(head, 3)?;
        let view_h = w.size(1)?;
        let view_w = w.size(1)?;
        let part_count = w.int(1, MAX_PARTS as i32)? as usize;
        let part_words = rest
            .get(3..3 + PART_WORDS * part_count)
            .ok_or(KernelError::Param)?;
        let mut parts = [Resample::Direct; MAX_PARTS];
        for (slot, ws) in parts.iter_mut().zip(part_words.chunks_exact(PART_WORDS)) {
            *slot = Resample::decode(ws)?;
        }
        let tail = rest
            .get(3 + PART_WORDS * part_count..)
            .ok_or(KernelError::Param)?;
        let (&flag, add_words) = tail.split_first().ok_or(KernelError::Param)?;
        let add = match flag {
            0 if add_words.is_empty() => None,
            1 => Some(add::Params::decode(add_words)?),
            _ => return Err(KernelError::Param),
        };
        let p = Params {
            conv,
            view_h,
            view_w,
            parts,
            part_count,
            add,
        };
        p.check()?;
        Ok(p)
    }

    /// Field ranges and the one cross-field rule: the ADD's first operand is
    /// the conv result, so its offset is minus the conv's output zero point.
    pub fn check(&self) -> Result<(), KernelError> {
        self.conv.check()?;
        if !(1..=MAX_PARTS).contains(&self.part_count)
            || !(1..=super::MAX_DIM).contains(&self.view_h)
            || !(1..=super::MAX_DIM).contains(&self.view_w)
        {
            return Err(KernelError::Param);
        }
        if let Some(a) = &self.add {
            a.check()?;
            if a.input1_offset != -self.conv.output_offset {
                return Err(KernelError::Param);
            }
        }
        Ok(())
    }

    /// The view's shape for parts of shapes `parts` and an output of `n`
    /// batches; checks each part against its resampling.
    pub fn view_shape(
        &self,
        parts: impl IntoIterator<Item = Shape4>,
        n: usize,
    ) -> Result<Shape4, KernelError> {
        let mut count = 0usize;
        let mut channels = 0usize;
        for (s, r) in parts.into_iter().zip(self.parts.iter()) {
            count += 1;
            r.validate(s, Shape4::new(n, self.view_h, self.view_w, s.c))?;
            channels = channels.checked_add(s.c).ok_or(KernelError::Shape)?;
        }
        if count != self.part_count {
            return Err(KernelError::Shape);
        }
        let v = Shape4::new(n, self.view_h, self.view_w, channels);
        v.check()?;
        Ok(v)
    }

    /// Checks the params against the parts', filter's (OHWI, not grouped),
    /// addend's and output's shapes. The addend, present exactly when the
    /// ADD epilogue is, has the output's shape.
    pub fn validate(
        &self,
        parts: impl IntoIterator<Item = Shape4>,
        filter: Shape4,
        addend: Option<Shape4>,
        output: Shape4,
    ) -> Result<(), KernelError> {
        self.check()?;
        let view = self.view_shape(parts, output.n)?;
        self.conv.validate(view, filter, output)?;
        if filter.c != view.c {
            return Err(KernelError::Shape);
        }
        match (self.add, addend) {
            (None, None) => Ok(()),
            (Some(_), Some(a)) if a == output => Ok(()),
            _ => Err(KernelError::Shape),
        }
    }

    /// The MACs the separate ops would report: the convolution's, the
    /// bilinear resizes' and the ADD's.
    pub fn macs(&self, filter: Shape4, output: Shape4, view_channels: &[usize]) -> u64 {
        let resize: u64 = self
            .parts()
            .iter()
            .zip(view_channels)
            .map(|(r, &c)| r.macs(Shape4::new(output.n, self.view_h, self.view_w, c)))
            .sum();
        let add = self.add.map_or(0, |a| a.macs(output));
        self.conv.macs(filter, output) + resize + add
    }
}

/// Runs CONV_2D_FUSED. `parts` are the view's sources (their resampling is
/// taken from `p`). With the ADD epilogue, the addend is `addend`, or, when
/// `addend` is `None`, the output buffer's own contents (in place).
///
/// A view that is one part read directly (no resize, no concatenation) is
/// the convolution's input itself: that case runs the DSP convolution
/// ([`super::fast::conv`]) with the ADD (its lookup tables, built once per
/// call) as its store epilogue. Other views, and cases the fast kernel
/// declines, run the portable loop ([`eval_portable`]); both give the same
/// bytes.
#[allow(clippy::too_many_arguments)]
pub fn eval(
    p: &Params,
    parts: &[View<'_>],
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    addend: Option<View<'_>>,
    mut output: ViewMut<'_>,
) -> Result<(), KernelError> {
    load_operands(p, parts, filter, bias, quant, addend, &mut output)?;
    let out = ViewMut::new(output.shape, &mut *output.data);
    if fast_direct(p, parts, filter, bias, quant, out)? {
        return Ok(());
    }
    portable(p, parts, filter, bias, quant, output)
}

/// Runs CONV_2D_FUSED with the portable loop only: the specification the
/// fast path is tested against.
#[allow(clippy::too_many_arguments)]
pub fn eval_portable(
    p: &Params,
    parts: &[View<'_>],
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    addend: Option<View<'_>>,
    mut output: ViewMut<'_>,
) -> Result<(), KernelError> {
    load_operands(p, parts, filter, bias, quant, addend, &mut output)?;
    portable(p, parts, filter, bias, quant, output)
}

/// Runs only the fast path, `Ok(false)` when it does not apply (tests
/// check it is taken where it should be).
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
fn eval_fast(
    p: &Params,
    parts: &[View<'_>],
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    addend: Option<View<'_>>,
    mut output: ViewMut<'_>,
) -> Result<bool, KernelError> {
    load_operands(p, parts, filter, bias, quant, addend, &mut output)?;
    fast_direct(p, parts, filter, bias, quant, output)
}

/// Every check a kernel needs before touching data; then a separate addend
/// is copied into the output, where the epilogue reads it (in place).
#[allow(clippy::too_many_arguments)]
fn load_operands(
    p: &Params,
    parts: &[View<'_>],
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    addend: Option<View<'_>>,
    output: &mut ViewMut<'_>,
) -> Result<(), KernelError> {
    let addend_shape = match (p.add, addend) {
        (Some(_), Some(a)) => Some(a.shape),
        (Some(_), None) => Some(output.shape),
        (None, Some(_)) => return Err(KernelError::Shape),
        (None, None) => None,
    };
    p.validate(
        parts.iter().map(|v| v.shape),
        filter.shape,
        addend_shape,
        output.shape,
    )?;
    for v in parts {
        check_len(v.shape, v.data.len())?;
    }
    check_len(filter.shape, filter.data.len())?;
    check_len(output.shape, output.data.len())?;
    let out_c = output.shape.c;
    check_bias(bias, out_c)?;
    quant.validate(out_c)?;
    if let Some(a) = addend {
        check_len(a.shape, a.data.len())?;
        output.data.copy_from_slice(a.data);
    }
    Ok(())
}

/// The fast path for a view of one directly read part, `Ok(false)` (and
/// nothing written) for any other view or a case the fast kernel declines.
/// The output holds the addend when `p` has the ADD epilogue.
fn fast_direct(
    p: &Params,
    parts: &[View<'_>],
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<bool, KernelError> {
    let (&[input], &[Resample::Direct]) = (parts, p.parts()) else {
        return Ok(false);
    };
    match &p.add {
        Some(add) => {
            let tables = add.tables();
            fast::conv::eval(&p.conv, input, filter, bias, quant, output, &tables)
        }
        None => fast::conv::eval(&p.conv, input, filter, bias, quant, output, &Store),
    }
}

/// The portable loop nest over the view (the output already holds the
/// addend, see [`load_operands`]).
fn portable(
    p: &Params,
    parts: &[View<'_>],
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    let out_c = output.shape.c;
    let mut list = [Part {
        source: View::new(Shape4::default(), &[]),
        resample: Resample::Direct,
    }; MAX_PARTS];
    for ((slot, v), r) in list.iter_mut().zip(parts).zip(p.parts()) {
        *slot = Part {
            source: *v,
            resample: *r,
        };
    }
    let parts = list.get(..p.part_count).ok_or(KernelError::Param)?;
    let view = InputView::new(parts, output.shape.n, p.view_h, p.view_w)?;
    let in_c = view.shape().c;
    let c = &p.conv;
    let (in_h, in_w) = (p.view_h as i64, p.view_w as i64);
    let (kh, kw) = (filter.shape.h, filter.shape.w);

    let mut pixels = output.data.chunks_exact_mut(out_c.max(1));
    let mut chunk = [0i8; CHANNEL_CHUNK];
    for b in 0..output.shape.n {
        for oy in 0..output.shape.h {
            let iy0 = (oy * c.stride_h) as i64 - c.pad_h as i64;
            for ox in 0..output.shape.w {
                let ix0 = (ox * c.stride_w) as i64 - c.pad_w as i64;
                let out_px = pixels.next().ok_or(KernelError::Length)?;
                for (block, outs) in out_px.chunks_mut(OUTPUT_BLOCK).enumerate() {
                    let oc0 = block * OUTPUT_BLOCK;
                    let mut acc = [0i32; OUTPUT_BLOCK];
                    for fy in 0..kh {
                        let iy = iy0 + (fy * c.dilation_h) as i64;
                        if iy < 0 || iy >= in_h {
                            continue;
                        }
                        for fx in 0..kw {
                            let ix = ix0 + (fx * c.dilation_w) as i64;
                            if ix < 0 || ix >= in_w {
                                continue;
                            }
                            let mut ic0 = 0;
                            while ic0 < in_c {
                                let len = (in_c - ic0).min(CHANNEL_CHUNK);
                                let xs = chunk.get_mut(..len).ok_or(KernelError::Length)?;
                                view.gather(b, iy as usize, ix as usize, ic0, xs)?;
                                for (j, a) in acc.iter_mut().enumerate().take(outs.len()) {
                                    let f = (((oc0 + j) * kh + fy) * kw + fx) * in_c + ic0;
                                    let ws =
                                        filter.data.get(f..f + len).ok_or(KernelError::Length)?;
                                    for (&x, &w) in xs.iter().zip(ws) {
                                        *a = a.wrapping_add(
                                            (i32::from(x) + c.input_offset) * i32::from(w),
                                        );
                                    }
                                }
                                ic0 += len;
                            }
                        }
                    }
                    for (j, (out, &a)) in outs.iter_mut().zip(&acc).enumerate() {
                        let oc = oc0 + j;
                        let mut a = a;
                        if let Some(bias) = bias {
                            a = a.wrapping_add(bias.get(oc).ok_or(KernelError::Length)?);
                        }
                        let m = quant.multiplier.get(oc).ok_or(KernelError::Length)?;
                        let s = quant.shift.get(oc).ok_or(KernelError::Length)?;
                        let v =
                            multiply_by_quantized_multiplier(a, m, s).wrapping_add(c.output_offset);
                        let v = super::clamp_i8(v, c.act_min, c.act_max);
                        *out = match &p.add {
                            Some(add) => add.apply(v, *out),
                            None => v,
                        };
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{vec, Vec};
    use super::super::{concatenation, resize_bilinear, resize_nearest};
    use super::*;
    use proptest::prelude::*;

    fn ints(len: usize, lo: i32, hi: i32) -> impl Strategy<Value = Vec<i32>> {
        proptest::collection::vec(lo..=hi, len)
    }

    fn i8s(len: usize) -> impl Strategy<Value = Vec<i8>> {
        proptest::collection::vec(any::<i8>(), len)
    }

    fn le(v: &[i32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[derive(Debug, Clone)]
    struct Case {
        n: usize,
        vh: usize,
        vw: usize,
        /// Per part: source height, width, channels and kind (0..3).
        parts: Vec<(usize, usize, usize, u8, bool)>,
        data: Vec<Vec<i8>>,
        kh: usize,
        kw: usize,
        stride: usize,
        pad: bool,
        out_c: usize,
        weights: Vec<i8>,
        bias: Vec<i32>,
        mult: Vec<i32>,
        shift: Vec<i32>,
        in_off: i32,
        out_off: i32,
        add: Option<(add::Params, Vec<i8>, bool)>,
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            1usize..=2,
            2usize..=6,
            2usize..=6,
            proptest::collection::vec(
                (1usize..=4, 1usize..=4, 1usize..=40, 0u8..3, any::<bool>()),
                1..=3,
            ),
            (
                1usize..=3,
                1usize..=3,
                1usize..=2,
                any::<bool>(),
                1usize..=40,
            ),
        )
            .prop_flat_map(|(n, vh, vw, parts, (kh, kw, stride, pad, out_c))| {
                // Direct parts take the view's size.
                let parts: Vec<_> = parts
                    .into_iter()
                    .map(|(h, w, c, k, hp)| {
                        if k == 0 {
                            (vh, vw, c, k, hp)
                        } else {
                            (h, w, c, k, hp)
                        }
                    })
                    .collect();
                let in_c: usize = parts.iter().map(|p| p.2).sum();
                let data = parts
                    .iter()
                    .map(|&(h, w, c, _, _)| i8s(n * h * w * c))
                    .collect::<Vec<_>>();
                let (kh, kw) = (kh.min(vh), kw.min(vw));
                (
                    Just((n, vh, vw, parts, kh, kw, stride, pad, out_c)),
                    data,
                    i8s(out_c * kh * kw * in_c),
                    ints(out_c, -5000, 5000),
                    ints(out_c, 1 << 30, i32::MAX),
                    ints(out_c, -12, 0),
                    (-127i32..=128, -128i32..=127),
                    any::<Option<bool>>(),
                    any::<[u32; 4]>(),
                )
            })
            .prop_flat_map(
                |(shape, data, weights, bias, mult, shift, (in_off, out_off), add, seeds)| {
                    let (n, vh, vw, _, kh, kw, stride, pad, out_c) = shape.clone();
                    let out_h = if pad {
                        vh.div_ceil(stride)
                    } else {
                        (vh - kh) / stride + 1
                    };
                    let out_w = if pad {
                        vw.div_ceil(stride)
                    } else {
                        (vw - kw) / stride + 1
                    };
                    let len = n * out_h * out_w * out_c;
                    (
                        Just((
                            shape, data, weights, bias, mult, shift, in_off, out_off, add, seeds,
                        )),
                        i8s(len),
                        -127i32..=128,
                    )
                },
            )
            .prop_map(
                |(
                    (shape, data, weights, bias, mult, shift, in_off, out_off, add, seeds),
                    addend,
                    a_off,
                )| {
                    let (n, vh, vw, parts, kh, kw, stride, pad, out_c) = shape;
                    let add = add.map(|in_place| {
                        let p = add::Params {
                            left_shift: 20,
                            input1_offset: -out_off,
                            input1_multiplier: (1 << 30) + (seeds[0] >> 2) as i32,
                            input1_shift: -((seeds[1] % 3) as i32),
                            input2_offset: a_off,
                            input2_multiplier: (1 << 30) + (seeds[2] >> 2) as i32,
                            input2_shift: -((seeds[3] % 3) as i32),
                            output_offset: (seeds[0] % 50) as i32 - 25,
                            output_multiplier: 1 << 30,
                            output_shift: -18,
                            act_min: -128,
                            act_max: 127,
                        };
                        (p, addend, in_place)
                    });
                    Case {
                        n,
                        vh,
                        vw,
                        parts,
                        data,
                        kh,
                        kw,
                        stride,
                        pad,
                        out_c,
                        weights,
                        bias,
                        mult,
                        shift,
                        in_off,
                        out_off,
                        add,
                    }
                },
            )
    }

    fn resample(kind: u8, half: bool) -> Resample {
        match kind {
            0 => Resample::Direct,
            1 => Resample::Nearest(resize_nearest::prepare(false, half)),
            _ => Resample::Bilinear(resize_bilinear::prepare(!half, false).unwrap()),
        }
    }

    /// The fused op equals RESIZE_* + CONCATENATION + CONV_2D (+ ADD) run
    /// one by one with the real kernels.
    fn check(c: &Case) {
        let in_c: usize = c.parts.iter().map(|p| p.2).sum();
        let filter = Shape4::new(c.out_c, c.kh, c.kw, in_c);
        let pad_h = if c.pad {
            super::super::compute_padding(c.stride, 1, c.vh, c.kh, c.vh.div_ceil(c.stride)).unwrap()
        } else {
            0
        };
        let pad_w = if c.pad {
            super::super::compute_padding(c.stride, 1, c.vw, c.kw, c.vw.div_ceil(c.stride)).unwrap()
        } else {
            0
        };
        let out_h = if c.pad {
            c.vh.div_ceil(c.stride)
        } else {
            (c.vh - c.kh) / c.stride + 1
        };
        let out_w = if c.pad {
            c.vw.div_ceil(c.stride)
        } else {
            (c.vw - c.kw) / c.stride + 1
        };
        let out_shape = Shape4::new(c.n, out_h, out_w, c.out_c);
        let conv = conv2d::Params {
            stride_h: c.stride,
            stride_w: c.stride,
            dilation_h: 1,
            dilation_w: 1,
            pad_h,
            pad_w,
            input_offset: c.in_off,
            output_offset: c.out_off,
            act_min: -100,
            act_max: 120,
        };
        let mut rs = [Resample::Direct; MAX_PARTS];
        for (slot, p) in rs.iter_mut().zip(&c.parts) {
            *slot = resample(p.3, p.4);
        }
        let p = Params {
            conv,
            view_h: c.vh,
            view_w: c.vw,
            parts: rs,
            part_count: c.parts.len(),
            add: c.add.as_ref().map(|a| a.0),
        };
        // Words round-trip.
        let mut words = Vec::new();
        p.encode(&mut |w| words.push(w));
        assert_eq!(words.len(), p.word_count());
        assert_eq!(Params::decode(&words), Ok(p));

        // Reference: materialize every step.
        let mut resized = Vec::new();
        for (i, part) in c.parts.iter().enumerate() {
            let src = Shape4::new(c.n, part.0, part.1, part.2);
            let dst = Shape4::new(c.n, c.vh, c.vw, part.2);
            let mut out = vec![0i8; dst.elements().unwrap()];
            match rs[i] {
                Resample::Direct => out.copy_from_slice(&c.data[i]),
                Resample::Nearest(q) => resize_nearest::eval(
                    &q,
                    View::new(src, &c.data[i]),
                    ViewMut::new(dst, &mut out),
                )
                .unwrap(),
                Resample::Bilinear(q) => {
                    if q.validate(src, dst).is_err() {
                        return;
                    }
                    resize_bilinear::eval(
                        &q,
                        View::new(src, &c.data[i]),
                        ViewMut::new(dst, &mut out),
                    )
                    .unwrap()
                }
            }
            resized.push((dst, out));
        }
        let view_shape = Shape4::new(c.n, c.vh, c.vw, in_c);
        let mut cat = vec![0i8; view_shape.elements().unwrap()];
        concatenation::eval(
            &concatenation::Params { axis: 3 },
            resized.iter().map(|(s, d)| View::new(*s, d)),
            ViewMut::new(view_shape, &mut cat),
        )
        .unwrap();
        let (b, m, s) = (le(&c.bias), le(&c.mult), le(&c.shift));
        let quant = PerChannel {
            multiplier: I32s::new(&m).unwrap(),
            shift: I32s::new(&s).unwrap(),
        };
        let bias = I32s::new(&b).unwrap();
        let mut want = vec![0i8; out_shape.elements().unwrap()];
        conv2d::eval(
            &conv,
            View::new(view_shape, &cat),
            View::new(filter, &c.weights),
            Some(bias),
            quant,
            ViewMut::new(out_shape, &mut want),
        )
        .unwrap();
        if let Some((a, addend, _)) = &c.add {
            let conv_out = want.clone();
            add::eval(
                a,
                View::new(out_shape, &conv_out),
                View::new(out_shape, addend),
                ViewMut::new(out_shape, &mut want),
            )
            .unwrap();
        }

        // Fused.
        let sources: Vec<View<'_>> = c
            .parts
            .iter()
            .zip(&c.data)
            .map(|(p, d)| View::new(Shape4::new(c.n, p.0, p.1, p.2), d))
            .collect();
        let mut got = vec![0i8; want.len()];
        let addend = match &c.add {
            Some((_, a, true)) => {
                got.copy_from_slice(a);
                None
            }
            Some((_, a, false)) => Some(View::new(out_shape, a)),
            None => None,
        };
        eval(
            &p,
            &sources,
            View::new(filter, &c.weights),
            Some(bias),
            quant,
            addend,
            ViewMut::new(out_shape, &mut got),
        )
        .unwrap();
        assert_eq!(got, want);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn fused_equals_separate_ops(c in case()) {
            check(&c);
        }
    }

    mod fast_path {
        use super::super::super::testutil::{
            conv_case, data, run_fast_and_portable, shifts_within, zero_point, ConvCase,
        };
        use super::super::super::{conv2d, Activation, Padding, Quant};
        use super::*;

        /// The fused op's parameters and, with the ADD epilogue, its addend
        /// and whether it is passed in place (already in the output).
        #[derive(Debug, Clone)]
        struct Fused {
            p: Params,
            addend: Option<(Vec<i8>, bool)>,
        }

        type Case = ConvCase<Fused>;

        type FusedEval<R> = fn(
            &Params,
            &[View<'_>],
            View<'_>,
            Option<I32s<'_>>,
            PerChannel<'_>,
            Option<View<'_>>,
            ViewMut<'_>,
        ) -> Result<R, KernelError>;

        /// Runs `k` on a one-part direct view over `input`, with the addend
        /// copied into the output (in place) or passed separately.
        fn call<R>(
            f: &Fused,
            input: View<'_>,
            filter: View<'_>,
            bias: Option<I32s<'_>>,
            quant: PerChannel<'_>,
            output: ViewMut<'_>,
            k: FusedEval<R>,
        ) -> Result<R, KernelError> {
            let parts = [input];
            match &f.addend {
                Some((a, true)) => {
                    output.data.copy_from_slice(a);
                    k(&f.p, &parts, filter, bias, quant, None, output)
                }
                Some((a, false)) => {
                    let addend = Some(View::new(output.shape, a));
                    k(&f.p, &parts, filter, bias, quant, addend, output)
                }
                None => k(&f.p, &parts, filter, bias, quant, None, output),
            }
        }

        fn fast_only(
            f: &Fused,
            input: View<'_>,
            filter: View<'_>,
            bias: Option<I32s<'_>>,
            quant: PerChannel<'_>,
            output: ViewMut<'_>,
        ) -> Result<bool, KernelError> {
            call(f, input, filter, bias, quant, output, eval_fast)
        }

        /// The public entry point (fast path or fallback): always a result.
        fn public(
            f: &Fused,
            input: View<'_>,
            filter: View<'_>,
            bias: Option<I32s<'_>>,
            quant: PerChannel<'_>,
            output: ViewMut<'_>,
        ) -> Result<bool, KernelError> {
            call(f, input, filter, bias, quant, output, eval).map(|()| true)
        }

        fn reference(
            f: &Fused,
            input: View<'_>,
            filter: View<'_>,
            bias: Option<I32s<'_>>,
            quant: PerChannel<'_>,
            output: ViewMut<'_>,
        ) -> Result<(), KernelError> {
            call(f, input, filter, bias, quant, output, eval_portable)
        }

        /// Geometry as the fast conv's own test (1x1 to 3x3 filters,
        /// strides and dilations 1 and 2, SAME/VALID, channel counts with
        /// and without a multiple of 4, odd output channels), an ADD
        /// prepared from random scales (or none), and its addend.
        fn case() -> impl Strategy<Value = Case> {
            (
                crate::kernels::fast::conv::tests::geometry(2),
                proptest::option::of((
                    any::<bool>(),
                    zero_point(),
                    zero_point(),
                    (0.01f32..0.2, 0.01f32..0.2, 0.01f32..0.2),
                    any::<bool>(),
                )),
            )
                .prop_filter_map("valid ADD", |((input, filter, output, conv), add)| {
                    let add = match add {
                        Some((in_place, za, zsum, (s1, s2, s3), relu)) => {
                            let a = add::prepare(
                                if relu {
                                    Activation::Relu
                                } else {
                                    Activation::None
                                },
                                Quant::new(s1, conv.output_offset),
                                Quant::new(s2, za),
                                Quant::new(s3, zsum),
                            )
                            .ok()?;
                            Some((a, in_place))
                        }
                        None => None,
                    };
                    let p = Params {
                        conv,
                        view_h: input.h,
                        view_w: input.w,
                        parts: [Resample::Direct; MAX_PARTS],
                        part_count: 1,
                        add: add.map(|a| a.0),
                    };
                    Some((input, filter, output, p, add.map(|a| a.1)))
                })
                .prop_flat_map(|(input, filter, output, p, in_place)| {
                    let len = output.elements().unwrap();
                    (Just((input, filter, output, p, in_place)), data(len))
                })
                .prop_flat_map(|((input, filter, output, p, in_place), addend)| {
                    let f = Fused {
                        p,
                        addend: in_place.map(|i| (addend, i)),
                    };
                    conv_case(input, filter, output, f, filter.n)
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]
            /// The fast path equals the portable loop wherever it runs, runs
            /// wherever the fast conv handles the reduction and the
            /// requantization, and the public entry point (fast or
            /// fallback) always equals the portable loop.
            #[test]
            fn fused_fast_path_is_bit_exact(c in case()) {
                let k = c.filter.h * c.filter.w * c.filter.c;
                let (fast, slow) = run_fast_and_portable(&c, fast_only, reference);
                // As the fast conv's test: left shifts up to 6 fit `k <= 256`.
                if k <= 256 && shifts_within(&c.shift, 6) {
                    prop_assert!(fast.is_some(), "declined");
                }
                if let Some(fast) = fast {
                    prop_assert_eq!(fast, slow.clone());
                }
                let (any, slow2) = run_fast_and_portable(&c, public, reference);
                prop_assert_eq!(slow2, slow.clone());
                prop_assert_eq!(any, Some(slow));
            }
        }

        /// The shipped models' fused shapes (smaller spatially): 3x3 over 4
        /// channels to 3, 1x1 over 16/32/64 channels, each with an in-place
        /// ADD, take the fast path and match; a resampled view does not.
        #[test]
        fn shipped_shapes_take_the_fast_path() {
            for (c, oc, k) in [(4, 3, 3), (16, 16, 1), (32, 32, 1), (64, 64, 1)] {
                let input = Shape4::new(1, 7, 9, c);
                let filter = Shape4::new(oc, k, k, c);
                let opts = conv2d::Options {
                    padding: Padding::Same,
                    stride_h: 1,
                    stride_w: 1,
                    dilation_h: 1,
                    dilation_w: 1,
                    activation: Activation::None,
                };
                let (conv, output) = conv2d::prepare(
                    &opts,
                    input,
                    filter,
                    Quant::new(0.02, -3),
                    Quant::new(0.05, 5),
                )
                .unwrap();
                let a = add::prepare(
                    Activation::None,
                    Quant::new(0.05, 5),
                    Quant::new(0.04, -7),
                    Quant::new(0.06, 2),
                )
                .unwrap();
                let mut p = Params {
                    conv,
                    view_h: 7,
                    view_w: 9,
                    parts: [Resample::Direct; MAX_PARTS],
                    part_count: 1,
                    add: Some(a),
                };
                let n = |s: Shape4| s.elements().unwrap();
                let mut case = Case {
                    input,
                    filter,
                    output,
                    p: Fused {
                        p,
                        addend: Some((
                            (0..n(output)).map(|i| (i * 53 % 256) as u8 as i8).collect(),
                            true,
                        )),
                    },
                    x: (0..n(input)).map(|i| (i * 37 % 256) as u8 as i8).collect(),
                    w: (0..n(filter)).map(|i| (i * 91 % 255) as u8 as i8).collect(),
                    bias: Some((0..oc).map(|i| i as i32 * 1000 - 7000).collect()),
                    mult: (0..oc).map(|i| (1 << 30) + i as i32 * 12345).collect(),
                    shift: (0..oc).map(|i| -(i as i32 % 9) - 1).collect(),
                };
                let (fast, slow) = run_fast_and_portable(&case, fast_only, reference);
                assert_eq!(fast.as_ref(), Some(&slow));
                assert!(slow.iter().any(|&v| v != slow[0]), "degenerate output");
                // A nearest-neighbour view of the same size is not direct.
                p.parts[0] =
                    Resample::Nearest(super::super::super::resize_nearest::prepare(false, false));
                case.p.p = p;
                let (fast, _) = run_fast_and_portable(&case, fast_only, reference);
                assert_eq!(fast, None);
            }
        }
    }

    #[test]
    fn malformed_words_are_errors() {
        let conv = [1, 1, 1, 1, 0, 0, 0, 0, -128, 127];
        let mut ok = conv.to_vec();
        ok.extend([4, 4, 1, 0, 0, 0, 0]);
        assert!(Params::decode(&ok).is_ok());
        for (i, bad) in [
            (10, 0), // view height 0
            (12, 0), // no parts
            (12, 9), // too many parts
            (13, 3), // unknown resampling
            (16, 2), // unknown epilogue
        ] {
            let mut w = ok.clone();
            w[i] = bad;
            assert_eq!(Params::decode(&w), Err(KernelError::Param), "word {i}");
        }
        // Missing and extra words.
        assert!(Params::decode(&ok[..16]).is_err());
        let mut long = ok.clone();
        long.push(0);
        assert!(Params::decode(&long).is_err());
        // ADD flag without its words, and an ADD whose first offset is not
        // minus the conv's output zero point.
        let mut w = ok.clone();
        w[16] = 1;
        assert!(Params::decode(&w).is_err());
        w.extend([20, 5, 1 << 30, 0, 0, 1 << 30, 0, 0, 1 << 30, -18, -128, 127]);
        assert_eq!(Params::decode(&w), Err(KernelError::Param));
        w[17 + 1] = 0;
        assert!(Params::decode(&w).is_ok());
    }
}
