//! RESIZE_NEAREST_NEIGHBOR, int8 (TFLM `reference_ops::ResizeNearestNeighbor`).
//!
//! Each output pixel copies the input pixel at
//! `min(floor((o + offset) * scale), in - 1)` (or `round(...)` with
//! `align_corners`), `offset = 0.5` with `half_pixel_centers` (then also
//! `max(0, .)`), `scale = in / out` (or `(in - 1) / (out - 1)` with
//! `align_corners` and `out > 1`). This is `f32` arithmetic in TFLM; it is
//! done the same way here (IEEE `f32` is exact and identical on the host and
//! on a Cortex-M4F), so indices match bit for bit.

use super::{check_len, KernelError, Shape4, View, ViewMut, Words};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 2;

/// Run-time parameters of RESIZE_NEAREST_NEIGHBOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params {
    /// TFLite `align_corners`.
    pub align_corners: bool,
    /// TFLite `half_pixel_centers`.
    pub half_pixel_centers: bool,
}

/// Host-side prepare from TFLite's options.
pub fn prepare(align_corners: bool, half_pixel_centers: bool) -> Params {
    Params {
        align_corners,
        half_pixel_centers,
    }
}

/// TFLM `GetNearestNeighbor`: the source index of output index `o`.
pub fn nearest(
    o: usize,
    in_size: usize,
    out_size: usize,
    align_corners: bool,
    half_pixel_centers: bool,
) -> usize {
    let scale = if align_corners && out_size > 1 {
        (in_size as i32 - 1) as f32 / (out_size as i32 - 1) as f32
    } else {
        in_size as f32 / out_size as f32
    };
    let offset = if half_pixel_centers { 0.5f32 } else { 0.0 };
    let v = (o as i32 as f32 + offset) * scale;
    let idx = if align_corners {
        crate::quant::f32_to_i32(crate::quant::round_f32(v))
    } else {
        crate::quant::f32_to_i32(libm::floorf(v))
    };
    let idx = idx.min(in_size as i32 - 1);
    let idx = if half_pixel_centers { idx.max(0) } else { idx };
    // A negative index can only come from an empty input, rejected by validate.
    idx.max(0) as usize
}

impl Params {
    /// Writes the [`WORDS`] words: align_corners, half_pixel_centers (0 or 1).
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        out(i32::from(self.align_corners));
        out(i32::from(self.half_pixel_centers));
    }

    /// Reads the words written by [`Params::encode`]; each must be 0 or 1.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        Ok(Self {
            align_corners: w.flag()?,
            half_pixel_centers: w.flag()?,
        })
    }

    /// Batch and channels must match; the input must not be empty.
    pub fn validate(&self, input: Shape4, output: Shape4) -> Result<(), KernelError> {
        input.check()?;
        output.check()?;
        if input.n != output.n || input.c != output.c || input.h == 0 || input.w == 0 {
            return Err(KernelError::Shape);
        }
        Ok(())
    }

    /// No arithmetic.
    pub fn macs(&self) -> u64 {
        0
    }
}

/// Runs RESIZE_NEAREST_NEIGHBOR.
pub fn eval(p: &Params, input: View<'_>, output: ViewMut<'_>) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    let (i, o) = (input.shape, output.shape);
    if o.c == 0 {
        return Ok(());
    }
    let mut outs = output.data.chunks_exact_mut(o.c);
    for n in 0..o.n {
        for y in 0..o.h {
            let iy = nearest(y, i.h, o.h, p.align_corners, p.half_pixel_centers);
            for x in 0..o.w {
                let ix = nearest(x, i.w, o.w, p.align_corners, p.half_pixel_centers);
                let base = ((n * i.h + iy) * i.w + ix) * i.c;
                let src = input
                    .data
                    .get(base..base + i.c)
                    .ok_or(KernelError::Length)?;
                outs.next().ok_or(KernelError::Length)?.copy_from_slice(src);
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

    #[test]
    fn known_indices() {
        // 2 -> 4, plain: floor(o * 0.5) = 0, 0, 1, 1.
        let idx: Vec<usize> = (0..4).map(|o| nearest(o, 2, 4, false, false)).collect();
        assert_eq!(idx, [0, 0, 1, 1]);
        // half-pixel: floor((o + .5) * .5) = 0, 0, 1, 1.
        let idx: Vec<usize> = (0..4).map(|o| nearest(o, 2, 4, false, true)).collect();
        assert_eq!(idx, [0, 0, 1, 1]);
        // 3 -> 5 align corners: round(o * 0.5) = 0, 1, 1, 2, 2 (ties away from zero).
        let idx: Vec<usize> = (0..5).map(|o| nearest(o, 3, 5, true, false)).collect();
        assert_eq!(idx, [0, 1, 1, 2, 2]);
        // 5 -> 2 downscale: floor(o * 2.5) = 0, 2.
        let idx: Vec<usize> = (0..2).map(|o| nearest(o, 5, 2, false, false)).collect();
        assert_eq!(idx, [0, 2]);
        // 6 -> 7 align corners: 3 * f32(5/6) rounds to exactly 2.5 in f32, so 3.
        assert_eq!(nearest(3, 6, 7, true, false), 3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn matches_reference(
            dims in (1usize..=2, 1usize..=6, 1usize..=6, 1usize..=4),
            out_hw in (1usize..=13, 1usize..=13),
            ac: bool, hp: bool, seed: u64,
        ) {
            let i = Shape4::new(dims.0, dims.1, dims.2, dims.3);
            let o = Shape4::new(dims.0, out_hw.0, out_hw.1, dims.3);
            let p = prepare(ac, hp);
            let x: Vec<i8> = (0..i.elements().unwrap()).map(|k| ((k as u64 * 131 + seed) % 256) as u8 as i8).collect();
            let mut out = vec![0i8; o.elements().unwrap()];
            eval(&p, View::new(i, &x), ViewMut::new(o, &mut out)).unwrap();
            // Reference with TFLM's f32 arithmetic (an f64 product would round
            // differently near ties, e.g. 3 * (5/6) is 2.5 in f32).
            let src = |o_: usize, in_: usize, out_: usize| -> usize {
                let scale = if ac && out_ > 1 { (in_ - 1) as f32 / (out_ - 1) as f32 } else { in_ as f32 / out_ as f32 };
                let v = (o_ as f32 + if hp { 0.5 } else { 0.0 }) * scale;
                let r = if ac { v.round() } else { v.floor() } as i64;
                r.min(in_ as i64 - 1).max(0) as usize
            };
            for n in 0..o.n { for y in 0..o.h { for xx in 0..o.w { for c in 0..o.c {
                let (iy, ix) = (src(y, i.h, o.h), src(xx, i.w, o.w));
                prop_assert_eq!(out[((n * o.h + y) * o.w + xx) * o.c + c], x[((n * i.h + iy) * i.w + ix) * i.c + c]);
            }}}}
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }
    }

    #[test]
    fn rejects_bad() {
        assert!(Params::decode(&[2, 0]).is_err());
        let p = prepare(false, false);
        assert_eq!(
            p.validate(Shape4::new(1, 2, 2, 3), Shape4::new(1, 4, 4, 2)),
            Err(KernelError::Shape)
        );
        assert_eq!(
            p.validate(Shape4::new(1, 0, 2, 3), Shape4::new(1, 4, 4, 3)),
            Err(KernelError::Shape)
        );
    }
}
