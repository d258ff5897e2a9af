//! Row bands: running a convolution whose output the plan placed over the
//! top of its own input (FORMAT.md §6, "row-ordered overwrite").
//!
//! A convolution reads its input top to bottom: output row `y` reads input
//! rows from `y * stride - pad` on, and no later output row reads an earlier
//! one. So the output may grow over the input rows already used, the way a
//! line buffer works, and a layer whose input dies at it needs little more
//! than the larger of the two tensors instead of their sum. The plan puts
//! the output `gap` bytes before the input; the runtime cuts the output into
//! bands, each as many rows as end at or before the first input row the
//! band reads, and runs each band as a smaller convolution (top padding only
//! in the first band, bottom padding only in the last) with disjoint input
//! and output slices. No kernel sees aliased memory, and no kernel changed.
//! The host leaves some slack in `gap` so that bands hold several rows: each
//! kernel call has a fixed cost.
use crate::error::{Error, OpError, Result};
use crate::kernels::{conv2d, depthwise_conv2d, effective_size, Shape4};

/// The vertical geometry of a convolution whose rows are computed in bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rows {
    /// Input rows and bytes per input row.
    pub in_h: usize,
    pub in_row: usize,
    /// Output rows and bytes per output row.
    pub out_h: usize,
    pub out_row: usize,
    /// Vertical stride (≥ 1), top padding and window height (dilated).
    pub stride: usize,
    pub pad: usize,
    pub window: usize,
}

/// Output rows `[y0, y1)` of one band, which read input rows `[r0, r1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    pub y0: usize,
    pub y1: usize,
    pub r0: usize,
    pub r1: usize,
}

impl Band {
    /// The band's top padding: the full op's (`pad`, with vertical
    /// `stride`), less the rows above `y0`.
    pub fn pad(&self, pad: usize, stride: usize) -> usize {
        (pad + self.r0).saturating_sub(self.y0 * stride)
    }

    /// `input` and `output` cut to the band's rows.
    pub fn shapes(&self, input: Shape4, output: Shape4) -> (Shape4, Shape4) {
        (
            Shape4::new(input.n, self.r1 - self.r0, input.w, input.c),
            Shape4::new(output.n, self.y1 - self.y0, output.w, output.c),
        )
    }
}

impl Rows {
    /// The rows of a CONV_2D (or, `depthwise`, a DEPTHWISE_CONV_2D) with
    /// parameter words `words`, NHWC `input` and `output` and a filter
    /// `filter_h` taps high; `None` unless both are one image and the
    /// words decode. The runtime and the host's planner both take the
    /// geometry from here.
    pub fn of_conv(
        depthwise: bool,
        words: &[i32],
        input: Shape4,
        filter_h: usize,
        output: Shape4,
    ) -> Option<Rows> {
        let (stride, dilation, pad) = if depthwise {
            let p = depthwise_conv2d::Params::decode(words).ok()?;
            (p.stride_h, p.dilation_h, p.pad_h)
        } else {
            let p = conv2d::Params::decode(words).ok()?;
            (p.stride_h, p.dilation_h, p.pad_h)
        };
        if input.n != 1 || output.n != 1 {
            return None;
        }
        Some(Rows {
            in_h: input.h,
            in_row: input.w.checked_mul(input.c)?,
            out_h: output.h,
            out_row: output.w.checked_mul(output.c)?,
            stride,
            pad,
            window: effective_size(filter_h, dilation).ok()?,
        })
    }

    /// The first input row that output row `y` reads.
    fn first_read(&self, y: usize) -> usize {
        y.saturating_mul(self.stride).saturating_sub(self.pad)
    }

    /// One past the last input row that output rows before `y1` read.
    fn read_end(&self, y1: usize) -> usize {
        let last = y1.saturating_sub(1).saturating_mul(self.stride);
        last.saturating_add(self.window)
            .saturating_sub(self.pad)
            .min(self.in_h)
    }

    /// Whether an output placed `gap` bytes before its input can be computed
    /// this way: every output row ends at or before the first input row it
    /// reads (so one-row bands always exist).
    pub fn fits(&self, gap: usize) -> bool {
        self.out_row > 0
            && (0..self.out_h).all(|y| {
                let out_end = (y + 1).checked_mul(self.out_row);
                let in_start = self
                    .first_read(y)
                    .checked_mul(self.in_row)
                    .and_then(|s| s.checked_add(gap));
                matches!((out_end, in_start), (Some(e), Some(s)) if e <= s)
            })
    }

    /// The band that starts at output row `y0`: as many rows as end at or
    /// before the first input row `y0` reads.
    pub fn band(&self, gap: usize, y0: usize) -> Result<Band> {
        let room = self
            .first_read(y0)
            .checked_mul(self.in_row)
            .and_then(|s| s.checked_add(gap))
            .ok_or(Error::Internal)?;
        let y1 = (room / self.out_row.max(1)).min(self.out_h);
        if y1 <= y0 {
            // `fits` was checked at parse time; a band never comes up empty.
            return Err(Error::Internal);
        }
        Ok(Band {
            y0,
            y1,
            r0: self.first_read(y0).min(self.in_h),
            r1: self.read_end(y1),
        })
    }

    /// The smallest gap (a multiple of `align`) at which bands hold at least
    /// `rows` output rows (fewer only at the bottom): what the host's
    /// planner asks for.
    pub fn gap_for(&self, rows: usize, align: usize) -> Option<usize> {
        let rows = rows.max(1);
        let mut gap = 0usize;
        for y in 0..self.out_h {
            let end = (y + rows).min(self.out_h).checked_mul(self.out_row)?;
            let start = self.first_read(y).checked_mul(self.in_row)?;
            gap = gap.max(end.saturating_sub(start));
        }
        gap.checked_next_multiple_of(align.max(1))
    }
}

/// Runs `band_op` on every band of an output placed `gap` bytes before its
/// input in `arena` (`out` and `input` are the tensors' arena offsets):
/// each call gets the band's input rows and its output rows, disjoint.
pub(crate) fn run(
    rows: &Rows,
    arena: &mut [u8],
    out: usize,
    input: usize,
    mut band_op: impl FnMut(&Band, &[u8], &mut [u8]) -> core::result::Result<(), OpError>,
) -> core::result::Result<(), OpError> {
    let gap = input.checked_sub(out).ok_or(OpError::Tensors)?;
    let mut y0 = 0;
    while y0 < rows.out_h {
        let band = rows.band(gap, y0).map_err(|_| OpError::Tensors)?;
        let in_start = input + band.r0 * rows.in_row;
        let in_len = (band.r1 - band.r0) * rows.in_row;
        let (below, above) = arena
            .split_at_mut_checked(in_start)
            .ok_or(OpError::Tensors)?;
        let out_bytes = below
            .get_mut(out + band.y0 * rows.out_row..out + band.y1 * rows.out_row)
            .ok_or(OpError::Tensors)?;
        let in_bytes = above.get(..in_len).ok_or(OpError::Tensors)?;
        band_op(&band, in_bytes, out_bytes)?;
        y0 = band.y1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::{bytes_of, conv_case, vec, view, zero_point, ConvCase, Vec};
    use crate::kernels::{
        conv2d, depthwise_conv2d, Activation, Padding, PerChannel, Quant, View, ViewMut,
    };
    use proptest::prelude::*;

    /// Output placed `extra` rows' worth of slack past the smallest gap
    /// before its input in one arena, run band by band through
    /// [`run`] (so each band overwrites input rows the next ones no longer
    /// read), must equal the same op run on separate buffers.
    fn banded_equals_whole<P: Copy>(
        c: &ConvCase<P>,
        extra: usize,
        pad_h: impl Fn(&P) -> (usize, usize, usize),
        eval: impl Fn(
            &P,
            usize,
            View<'_>,
            View<'_>,
            Option<crate::le::I32s<'_>>,
            PerChannel<'_>,
            ViewMut<'_>,
        ),
    ) -> core::result::Result<(), TestCaseError> {
        let (bm, bs) = (bytes_of(&c.mult), bytes_of(&c.shift));
        let bb = c.bias.as_ref().map(|b| bytes_of(b));
        let quant = PerChannel {
            multiplier: view(&bm),
            shift: view(&bs),
        };
        let (pad, stride, dilation) = pad_h(&c.p);
        let mut whole = vec![0i8; c.output.elements().unwrap()];
        eval(
            &c.p,
            pad,
            View::new(c.input, &c.x),
            View::new(c.filter, &c.w),
            bb.as_deref().map(view),
            quant,
            ViewMut::new(c.output, &mut whole),
        );
        let rows = Rows {
            in_h: c.input.h,
            in_row: c.input.w * c.input.c,
            out_h: c.output.h,
            out_row: c.output.w * c.output.c,
            stride,
            pad,
            window: (c.filter.h - 1) * dilation + 1,
        };
        let gap = rows.gap_for(1 + extra, 1).unwrap();
        prop_assert!(rows.fits(gap));
        let in_len = c.x.len();
        let mut arena = vec![0x55u8; (gap + in_len).max(whole.len())];
        for (a, &x) in arena[gap..].iter_mut().zip(&c.x) {
            *a = x as u8;
        }
        run(&rows, &mut arena, 0, gap, |band, x, y| {
            let (xs, os) = band.shapes(c.input, c.output);
            let x: &[i8] = bytemuck::cast_slice(x);
            let y: &mut [i8] = bytemuck::cast_slice_mut(y);
            eval(
                &c.p,
                band.pad(pad, stride),
                View::new(xs, x),
                View::new(c.filter, &c.w),
                bb.as_deref().map(view),
                quant,
                ViewMut::new(os, y),
            );
            Ok(())
        })
        .unwrap();
        let got: Vec<i8> = arena[..whole.len()].iter().map(|&b| b as i8).collect();
        prop_assert_eq!(got, whole);
        Ok(())
    }

    /// An input shape, (channels or multiplier, kernel h, kernel w),
    /// (vertical stride, vertical dilation, SAME?) and the zero points.
    type Geometry = (
        Shape4,
        (usize, usize, usize),
        (usize, usize, bool),
        (i32, i32),
    );

    fn geometry() -> impl Strategy<Value = Geometry> {
        (
            (1usize..=12, 1usize..=5, 1usize..=4),
            (1usize..=3, 1usize..=3, 1usize..=3),
            (1usize..=3, 1usize..=2, any::<bool>()),
            (zero_point(), zero_point()),
        )
            .prop_map(|((h, w, c), k, s, z)| (Shape4::new(1, h, w, c), k, s, z))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn banded_conv_equals_whole(
            case in geometry().prop_filter_map("valid", |(input, (oc, kh, kw), (stride, dil, same), (zi, zo))| {
                let filter = Shape4::new(oc, kh, kw, input.c);
                let opts = conv2d::Options {
                    padding: if same { Padding::Same } else { Padding::Valid },
                    stride_h: stride, stride_w: 1, dilation_h: dil, dilation_w: 1,
                    activation: Activation::None,
                };
                let (p, out) = conv2d::prepare(&opts, input, filter, Quant::new(0.1, zi), Quant::new(0.1, zo)).ok()?;
                (out.h > 0 && out.w > 0).then_some((input, filter, out, p))
            }).prop_flat_map(|(i, f, o, p)| (conv_case(i, f, o, p, o.c), 0usize..3)),
        ) {
            let (c, extra) = case;
            banded_equals_whole(&c, extra, |p| (p.pad_h, p.stride_h, p.dilation_h), |p, pad_h, x, w, b, q, y| {
                conv2d::eval(&conv2d::Params { pad_h, ..*p }, x, w, b, q, y).unwrap()
            })?;
        }

        #[test]
        fn banded_depthwise_equals_whole(
            case in geometry().prop_filter_map("valid", |(input, (mult, kh, kw), (stride, dil, same), (zi, zo))| {
                let mult = mult.min(2);
                let filter = Shape4::new(1, kh, kw, input.c * mult);
                let opts = depthwise_conv2d::Options {
                    padding: if same { Padding::Same } else { Padding::Valid },
                    stride_h: stride, stride_w: 1, dilation_h: dil, dilation_w: 1,
                    activation: Activation::None,
                };
                let (p, out) = depthwise_conv2d::prepare(&opts, input, filter, Quant::new(0.1, zi), Quant::new(0.1, zo)).ok()?;
                (out.h > 0 && out.w > 0).then_some((input, filter, out, p))
            }).prop_flat_map(|(i, f, o, p)| (conv_case(i, f, o, p, o.c), 0usize..3)),
        ) {
            let (c, extra) = case;
            banded_equals_whole(&c, extra, |p| (p.pad_h, p.stride_h, p.dilation_h), |p, pad_h, x, w, b, q, y| {
                depthwise_conv2d::eval(&depthwise_conv2d::Params { pad_h, ..*p }, x, w, b, q, y).unwrap()
            })?;
        }
    }

    /// A 3x3 stride-1 SAME layer, 8 rows of 4 bytes in and 6 bytes out.
    fn widening() -> Rows {
        Rows {
            in_h: 8,
            in_row: 4,
            out_h: 8,
            out_row: 6,
            stride: 1,
            pad: 1,
            window: 3,
        }
    }

    #[test]
    fn the_smallest_gap_fits_and_one_less_does_not() {
        for rows in [
            widening(),
            Rows {
                stride: 2,
                out_h: 4,
                out_row: 8,
                in_row: 12,
                ..widening()
            },
        ] {
            for want in 1..4 {
                let gap = rows.gap_for(want, 1).unwrap();
                assert!(rows.fits(gap), "{rows:?} {want}");
                if want == 1 {
                    assert!(gap == 0 || !rows.fits(gap - 1), "{rows:?}");
                }
                let mut y0 = 0;
                while y0 < rows.out_h {
                    let b = rows.band(gap, y0).unwrap();
                    assert!(b.y1 - b.y0 >= want.min(rows.out_h - y0), "{b:?}");
                    // The band's output ends before its input starts.
                    assert!(b.y1 * rows.out_row <= gap + b.r0 * rows.in_row);
                    y0 = b.y1;
                }
            }
        }
    }

    #[test]
    fn bands_read_exactly_the_rows_their_windows_cover() {
        let rows = widening();
        let gap = rows.gap_for(3, 1).unwrap();
        let b = rows.band(gap, 0).unwrap();
        assert_eq!((b.r0, b.pad(rows.pad, rows.stride)), (0, 1));
        assert_eq!(b.r1, b.y1 + 1);
        let next = rows.band(gap, b.y1).unwrap();
        assert_eq!((next.r0, next.pad(rows.pad, rows.stride)), (b.y1 - 1, 0));
        let mut y0 = 0;
        let mut last = b;
        while y0 < rows.out_h {
            last = rows.band(gap, y0).unwrap();
            y0 = last.y1;
        }
        assert_eq!(last.r1, rows.in_h);
    }

    #[test]
    fn a_gap_too_small_is_refused() {
        let rows = widening();
        assert!(!rows.fits(0));
        assert!(rows.band(0, 0).is_err());
    }
}
