//! RESIZE_BILINEAR, int8 (TFLM `reference_ops::ResizeBilinearInteger`).
//!
//! Integer-only: source coordinates in 1/1024 steps,
//! `scale_10 = (1024 * in + out / 2) / out` (or with `in - 1`, `out - 1` for
//! `align_corners`), `y_10 = y * scale_10 (+ scale_10 / 2 - 512` with
//! `half_pixel_centers)`, `y0 = max(y_10 / 1024, 0)`,
//! `y1 = min(ceil(y_10 / 1024), in - 1)`; the four neighbours are weighted in
//! 1/2^20 units in `i64` and the sum is divided by 2^20 rounding half away
//! from zero (TFLite's default, non-single-rounding build).

use super::{check_len, KernelError, Shape4, View, ViewMut, Words};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 2;

/// Run-time parameters of RESIZE_BILINEAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params {
    /// TFLite `align_corners`.
    pub align_corners: bool,
    /// TFLite `half_pixel_centers` (exclusive with `align_corners`).
    pub half_pixel_centers: bool,
}

/// Host-side prepare from TFLite's options; both set at once is an error,
/// as in TFLite.
pub fn prepare(align_corners: bool, half_pixel_centers: bool) -> Result<Params, KernelError> {
    if align_corners && half_pixel_centers {
        return Err(KernelError::Unsupported);
    }
    Ok(Params {
        align_corners,
        half_pixel_centers,
    })
}

/// `scale_10` for one axis.
pub(crate) fn scale_10(in_size: i32, out_size: i32, align_corners: bool) -> i32 {
    if align_corners && out_size > 1 {
        ((1 << 10) * (in_size - 1) + (out_size - 1) / 2) / (out_size - 1)
    } else {
        ((1 << 10) * in_size + out_size / 2) / out_size
    }
}

/// TFLM `ComputeInterpolationValuesInteger`: `(scaled, lower, upper)`.
pub(crate) fn interpolation(
    value: i32,
    scale_10: i32,
    half_pixel_centers: bool,
    in_size: i32,
) -> (i32, i32, i32) {
    let scaled = if half_pixel_centers {
        value * scale_10 + scale_10 / 2 - (1 << 9)
    } else {
        value * scale_10
    };
    let lower = (scaled / (1 << 10)).max(0);
    let upper = ((scaled + (1 << 10) - 1) / (1 << 10)).min(in_size - 1);
    (scaled, lower, upper)
}

impl Params {
    /// Writes the [`WORDS`] words: align_corners, half_pixel_centers (0 or 1).
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        out(i32::from(self.align_corners));
        out(i32::from(self.half_pixel_centers));
    }

    /// Reads the words written by [`Params::encode`]; each must be 0 or 1 and
    /// not both 1.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        prepare(w.flag()?, w.flag()?).map_err(|_| KernelError::Param)
    }

    /// Batch and channels must match, sizes non-empty, and every
    /// interpolation index inside the input (which TFLM assumes).
    pub fn validate(&self, input: Shape4, output: Shape4) -> Result<(), KernelError> {
        input.check()?;
        output.check()?;
        if self.align_corners && self.half_pixel_centers {
            return Err(KernelError::Param);
        }
        if input.n != output.n || input.c != output.c || input.h == 0 || input.w == 0 {
            return Err(KernelError::Shape);
        }
        // Dimensions are <= 2^15, so 1024 * in and out * scale_10 fit in i32.
        for (i, o) in [(input.h, output.h), (input.w, output.w)] {
            if o == 0 {
                continue;
            }
            let s = scale_10(i as i32, o as i32, self.align_corners);
            let (_, lower, _) = interpolation(o as i32 - 1, s, self.half_pixel_centers, i as i32);
            if lower >= i as i32
                || (o as i64 - 1) * i64::from(s) + i64::from(s) > i64::from(i32::MAX)
            {
                return Err(KernelError::Shape);
            }
        }
        Ok(())
    }

    /// Four multiply-adds per output element.
    pub fn macs(&self, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| 4 * n as u64)
    }
}

/// Runs RESIZE_BILINEAR.
pub fn eval(p: &Params, input: View<'_>, output: ViewMut<'_>) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    let (i, o) = (input.shape, output.shape);
    let (in_h, in_w) = (i.h as i32, i.w as i32);
    let sh = scale_10(in_h, o.h as i32, p.align_corners);
    let sw = scale_10(in_w, o.w as i32, p.align_corners);
    let row_len = i.w * i.c;
    let row = |n: usize, y: i32| -> Result<&[i8], KernelError> {
        let base = (n * i.h + y as usize) * row_len;
        input
            .data
            .get(base..base + row_len)
            .ok_or(KernelError::Length)
    };
    let c = i.c;
    if output.data.is_empty() {
        return Ok(());
    }
    let mut pixels = output.data.chunks_exact_mut(i.c.max(1));
    for n in 0..o.n {
        for y in 0..o.h {
            let (iy, y0, y1) = interpolation(y as i32, sh, p.half_pixel_centers, in_h);
            let fy = iy - (1 << 10) * y0;
            // Rows y0 and y1 (TFLM's "lower" and "upper" y).
            let (row0, row1) = (row(n, y0)?, row(n, y1)?);
            for x in 0..o.w {
                let (ix, x0, x1) = interpolation(x as i32, sw, p.half_pixel_centers, in_w);
                let fx = ix - (1 << 10) * x0;
                // TFLM sums in 64 bits; 32 are exact here. `scaled >= -512`,
                // so each fraction is in [-512, 1024): the four weights'
                // magnitudes add up to at most 2048^2 = 2^22, the sum of
                // int8 values times them stays within 2^29, and the
                // rounding term keeps it below 2^31.
                let w = [
                    ((1 << 10) - fy) * ((1 << 10) - fx),
                    fy * ((1 << 10) - fx),
                    ((1 << 10) - fy) * fx,
                    fy * fx,
                ];
                let (ll, lu, rl, ru) = (
                    pixel(row0, x0, c)?,
                    pixel(row1, x0, c)?,
                    pixel(row0, x1, c)?,
                    pixel(row1, x1, c)?,
                );
                let out = pixels.next().ok_or(KernelError::Length)?;
                let corners = ll.iter().zip(lu).zip(rl).zip(ru);
                for (o, (((&v_ll, &v_lu), &v_rl), &v_ru)) in out.iter_mut().zip(corners) {
                    let sum = i32::from(v_ll) * w[0]
                        + i32::from(v_lu) * w[1]
                        + i32::from(v_rl) * w[2]
                        + i32::from(v_ru) * w[3];
                    let round = if sum > 0 { 1 << 19 } else { -(1 << 19) };
                    *o = ((sum + round) / (1 << 20)) as i8;
                }
            }
        }
    }
    Ok(())
}

/// Pixel `x` (of `c` channels) of an image row.
fn pixel(row: &[i8], x: i32, c: usize) -> Result<&[i8], KernelError> {
    let base = x as usize * c;
    row.get(base..base + c).ok_or(KernelError::Length)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    /// TFLM's formula as written there: 64-bit sums, per element.
    fn reference(p: &Params, i: Shape4, o: Shape4, x: &[i8]) -> Vec<i8> {
        let sh = scale_10(i.h as i32, o.h as i32, p.align_corners);
        let sw = scale_10(i.w as i32, o.w as i32, p.align_corners);
        let mut out = Vec::new();
        for n in 0..o.n {
            for y in 0..o.h {
                let (iy, y0, y1) = interpolation(y as i32, sh, p.half_pixel_centers, i.h as i32);
                for xx in 0..o.w {
                    let (ix, x0, x1) =
                        interpolation(xx as i32, sw, p.half_pixel_centers, i.w as i32);
                    for c in 0..o.c {
                        let g = |yy: i32, xq: i32| {
                            i64::from(x[((n * i.h + yy as usize) * i.w + xq as usize) * i.c + c])
                        };
                        let (fy, fx) = (i64::from(iy - 1024 * y0), i64::from(ix - 1024 * x0));
                        let sum = g(y0, x0) * (1024 - fy) * (1024 - fx)
                            + g(y1, x0) * fy * (1024 - fx)
                            + g(y0, x1) * (1024 - fy) * fx
                            + g(y1, x1) * fy * fx;
                        let round = if sum > 0 { 1 << 19 } else { -(1 << 19) };
                        out.push(((sum + round) / (1 << 20)) as i8);
                    }
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The 32-bit sums equal TFLM's 64-bit ones on any sizes (up and
        /// down), every mode and extreme int8 values.
        #[test]
        fn equals_the_64_bit_formula(
            ih in 1usize..=9, iw in 1usize..=9, oh in 1usize..=12, ow in 1usize..=12,
            c in 1usize..=3, mode in 0u8..3,
            x in proptest::collection::vec(prop_oneof![Just(-128i8), Just(127i8), any::<i8>()], 9 * 9 * 3),
        ) {
            let (ac, hp) = [(false, false), (true, false), (false, true)][mode as usize];
            let p = prepare(ac, hp).unwrap();
            let (i, o) = (Shape4::new(1, ih, iw, c), Shape4::new(1, oh, ow, c));
            let x = &x[..i.elements().unwrap()];
            if p.validate(i, o).is_err() {
                return Ok(());
            }
            let mut out = vec![0i8; o.elements().unwrap()];
            eval(&p, View::new(i, x), ViewMut::new(o, &mut out)).unwrap();
            prop_assert_eq!(out, reference(&p, i, o, x));
        }

        #[test]
        fn close_to_float_bilinear_and_exact_on_copies(
            dims in (1usize..=2, 1usize..=6, 1usize..=6, 1usize..=4),
            factor in 1usize..=3,
            mode in 0u8..3,
            seed: u64,
        ) {
            let (ac, hp) = [(false, false), (true, false), (false, true)][mode as usize];
            let p = prepare(ac, hp).unwrap();
            let i = Shape4::new(dims.0, dims.1, dims.2, dims.3);
            let o = Shape4::new(dims.0, dims.1 * factor, dims.2 * factor, dims.3);
            let x: Vec<i8> = (0..i.elements().unwrap()).map(|k| ((k as u64 * 97 + seed) % 256) as u8 as i8).collect();
            let mut out = vec![0i8; o.elements().unwrap()];
            eval(&p, View::new(i, &x), ViewMut::new(o, &mut out)).unwrap();
            // Float bilinear with TFLite's coordinate conventions.
            let coord = |v: usize, in_: usize, out_: usize| -> (usize, usize, f64) {
                let scale = if ac && out_ > 1 { (in_ - 1) as f64 / (out_ - 1) as f64 } else { in_ as f64 / out_ as f64 };
                let s = if hp { (v as f64 + 0.5) * scale - 0.5 } else { v as f64 * scale };
                let lo = s.floor().max(0.0) as usize;
                let hi = (s.ceil() as usize).min(in_ - 1);
                (lo.min(in_ - 1), hi, s - s.floor())
            };
            for n in 0..o.n { for y in 0..o.h { for xx in 0..o.w { for c in 0..o.c {
                let (y0, y1, fy) = coord(y, i.h, o.h);
                let (x0, x1, fx) = coord(xx, i.w, o.w);
                let g = |yy: usize, xq: usize| x[((n * i.h + yy) * i.w + xq) * i.c + c] as f64;
                let v = g(y0, x0) * (1.0 - fy) * (1.0 - fx) + g(y1, x0) * fy * (1.0 - fx) + g(y0, x1) * (1.0 - fy) * fx + g(y1, x1) * fy * fx;
                let got = out[((n * o.h + y) * o.w + xx) * o.c + c] as f64;
                // 10-bit coordinates: within a couple of steps of the float value.
                prop_assert!((got - v).abs() <= 2.5, "got {} want {}", got, v);
                if factor == 1 && !hp {
                    prop_assert_eq!(got, g(y, xx));
                }
            }}}}
        }
    }

    /// TFLite's published expectations for `ResizeBilinearInteger`, 2x2 to
    /// 4x6 (its `TestResizeBilinearHalfPixelCenters_2x2to4x6` test data).
    #[test]
    fn tflite_2x2_to_4x6_expectations() {
        let input = [127i8, -128, 64, 0];
        let (si, so) = (Shape4::new(1, 2, 2, 1), Shape4::new(1, 4, 6, 1));
        let mut out = [3i8; 24];
        eval(
            &prepare(false, false).unwrap(),
            View::new(si, &input),
            ViewMut::new(so, &mut out),
        )
        .unwrap();
        assert_eq!(
            out,
            [
                127, 42, -43, -128, -128, -128, 96, 42, -11, -64, -64, -64, 64, 43, 21, 0, 0, 0,
                64, 43, 21, 0, 0, 0
            ]
        );
        eval(
            &prepare(false, true).unwrap(),
            View::new(si, &input),
            ViewMut::new(so, &mut out),
        )
        .unwrap();
        assert_eq!(
            out,
            [
                127, 127, 42, -43, -128, -128, 111, 111, 42, -27, -96, -96, 80, 80, 43, 5, -32,
                -32, 64, 64, 43, 21, 0, 0
            ]
        );
    }

    #[test]
    fn known_values() {
        // 1x2 -> 1x4, plain: scale_10 = 512; x = 0, .5, 1, 1.5 (clamped).
        let p = prepare(false, false).unwrap();
        let mut out = [0i8; 4];
        eval(
            &p,
            View::new(Shape4::new(1, 1, 2, 1), &[10, 21]),
            ViewMut::new(Shape4::new(1, 1, 4, 1), &mut out),
        )
        .unwrap();
        // 10, (10 + 21) / 2 = 15.5 -> 16, 21, 21.
        assert_eq!(out, [10, 16, 21, 21]);
        // Negative ties round away from zero: (-10 + -21) / 2 = -15.5 -> -16.
        eval(
            &p,
            View::new(Shape4::new(1, 1, 2, 1), &[-10, -21]),
            ViewMut::new(Shape4::new(1, 1, 4, 1), &mut out),
        )
        .unwrap();
        assert_eq!(out, [-10, -16, -21, -21]);
        assert!(prepare(true, true).is_err());
        assert!(Params::decode(&[1, 1]).is_err());
        assert_eq!(
            p.validate(Shape4::new(1, 2, 2, 1), Shape4::new(2, 4, 4, 1)),
            Err(KernelError::Shape)
        );
    }
}
