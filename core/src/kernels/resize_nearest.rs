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

/// Output columns whose source columns are computed at a time (on the
/// stack: 64 `usize`, 256 bytes on a 32-bit target). Shipped models are at
/// most 48 wide, so the column map is computed once per op.
const COLUMNS: usize = 64;

/// Runs RESIZE_NEAREST_NEIGHBOR.
///
/// Works on blocks of up to [`COLUMNS`] output columns: their source columns
/// are computed once for the block, then each output row segment is either
/// a copy of the previous row's segment (when both rows read the same input
/// row, as every other row does when upscaling by 2) or gathered from the
/// input pixel by pixel, one `copy_from_slice` per run of consecutive
/// source pixels.
pub fn eval(p: &Params, input: View<'_>, output: ViewMut<'_>) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    let (i, o) = (input.shape, output.shape);
    let c = o.c;
    if c == 0 {
        return Ok(());
    }
    let near = |o_: usize, in_: usize, out_: usize| {
        nearest(o_, in_, out_, p.align_corners, p.half_pixel_centers)
    };
    let mut src_x = [0usize; COLUMNS];
    for x0 in (0..o.w).step_by(COLUMNS) {
        let cols = (o.w - x0).min(COLUMNS);
        let src_x = src_x.get_mut(..cols).ok_or(KernelError::Length)?;
        for (k, s) in src_x.iter_mut().enumerate() {
            *s = near(x0 + k, i.w, o.w);
        }
        let seg = cols * c;
        for n in 0..o.n {
            let mut prev: Option<(usize, usize)> = None;
            for y in 0..o.h {
                let iy = near(y, i.h, o.h);
                let start = ((n * o.h + y) * o.w + x0) * c;
                match prev {
                    Some((prev_iy, prev_start)) if prev_iy == iy => {
                        copy_segment(output.data, prev_start, start, seg)?;
                    }
                    _ => {
                        let in_row = (n * i.h + iy) * i.w;
                        let dst = output
                            .data
                            .get_mut(start..start + seg)
                            .ok_or(KernelError::Length)?;
                        gather_row(dst, input.data, in_row, src_x, c)?;
                    }
                }
                prev = Some((iy, start));
            }
        }
    }
    Ok(())
}

/// Copies `len` bytes of `data` at `from` to `to` (`from < to`, not
/// overlapping).
fn copy_segment(data: &mut [i8], from: usize, to: usize, len: usize) -> Result<(), KernelError> {
    let (head, tail) = data.split_at_mut_checked(to).ok_or(KernelError::Length)?;
    let src = head.get(from..from + len).ok_or(KernelError::Length)?;
    tail.get_mut(..len)
        .ok_or(KernelError::Length)?
        .copy_from_slice(src);
    Ok(())
}

/// Fills `dst` (`src_x.len()` pixels of `c` bytes) with the input pixels
/// `in_row + src_x[k]`, copying each run of consecutive source pixels at
/// once.
fn gather_row(
    dst: &mut [i8],
    input: &[i8],
    in_row: usize,
    src_x: &[usize],
    c: usize,
) -> Result<(), KernelError> {
    let mut k = 0;
    let mut dst = dst;
    while let Some(&first) = src_x.get(k) {
        let mut run = 1;
        while src_x.get(k + run) == Some(&(first + run)) {
            run += 1;
        }
        let base = (in_row + first) * c;
        let src = input.get(base..base + run * c).ok_or(KernelError::Length)?;
        let (head, rest) = dst
            .split_at_mut_checked(run * c)
            .ok_or(KernelError::Length)?;
        head.copy_from_slice(src);
        dst = rest;
        k += run;
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

    /// The per-pixel kernel this one replaced: one `nearest` pair and one
    /// channel copy per output pixel.
    fn eval_per_pixel(p: &Params, input: View<'_>, output: ViewMut<'_>) {
        let (i, o) = (input.shape, output.shape);
        for (k, px) in output.data.chunks_exact_mut(o.c).enumerate() {
            let (x, y, n) = (k % o.w, (k / o.w) % o.h, k / (o.w * o.h));
            let iy = nearest(y, i.h, o.h, p.align_corners, p.half_pixel_centers);
            let ix = nearest(x, i.w, o.w, p.align_corners, p.half_pixel_centers);
            let base = ((n * i.h + iy) * i.w + ix) * i.c;
            px.copy_from_slice(&input.data[base..base + i.c]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Wide outputs (several column blocks), down- and upscaling, runs
        /// of consecutive source pixels and repeated rows.
        #[test]
        fn matches_per_pixel_kernel(
            n in 1usize..=2, ih in 1usize..=9, iw in 1usize..=90, c in 1usize..=5,
            oh in 1usize..=20, ow in 1usize..=150,
            ac: bool, hp: bool, seed: u64,
        ) {
            let i = Shape4::new(n, ih, iw, c);
            let o = Shape4::new(n, oh, ow, c);
            let p = prepare(ac, hp);
            let x: Vec<i8> = (0..i.elements().unwrap())
                .map(|k| ((k as u64).wrapping_mul(2654435761).wrapping_add(seed) >> 3) as u8 as i8)
                .collect();
            let mut got = vec![0x55i8; o.elements().unwrap()];
            let mut want = vec![-0x56i8; o.elements().unwrap()];
            eval(&p, View::new(i, &x), ViewMut::new(o, &mut got)).unwrap();
            eval_per_pixel(&p, View::new(i, &x), ViewMut::new(o, &mut want));
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn upscale_2x_48_wide() {
        // The shipped segmenter's last resize: 24x24x8 -> 48x48x8.
        let (i, o) = (Shape4::new(1, 24, 24, 8), Shape4::new(1, 48, 48, 8));
        let x: Vec<i8> = (0..i.elements().unwrap())
            .map(|k| (k * 7 % 251) as u8 as i8)
            .collect();
        for (ac, hp) in [(false, false), (false, true), (true, false)] {
            let p = prepare(ac, hp);
            let mut got = vec![0i8; o.elements().unwrap()];
            let mut want = vec![1i8; o.elements().unwrap()];
            eval(&p, View::new(i, &x), ViewMut::new(o, &mut got)).unwrap();
            eval_per_pixel(&p, View::new(i, &x), ViewMut::new(o, &mut want));
            assert_eq!(got, want);
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
