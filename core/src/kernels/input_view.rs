//! An "input view": the tensor a fused convolution reads, computed pixel by
//! pixel from the tensors that would have produced it, so that it never has
//! to exist in the arena.
//!
//! The view is a channel-wise concatenation of up to [`MAX_PARTS`] parts;
//! each part is a source tensor read as is, or resized (nearest-neighbour or
//! bilinear) to the view's height and width. Every value is computed exactly
//! as RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR and CONCATENATION compute it
//! (the same index and weight helpers), so a convolution over the view sees
//! the same int8 numbers as one over the materialized tensor.
//!
//! Not an op on its own: `conv2d_fused` uses it.

use super::resize_bilinear::{interpolation, scale_10};
use super::resize_nearest::nearest;
use super::{check_len, resize_bilinear, resize_nearest, KernelError, Shape4, View};

/// Most parts one view concatenates.
pub const MAX_PARTS: usize = 8;

/// How one part's source is brought to the view's height and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resample {
    /// The source already has the view's height and width.
    #[default]
    Direct,
    /// RESIZE_NEAREST_NEIGHBOR with these options.
    Nearest(resize_nearest::Params),
    /// RESIZE_BILINEAR with these options.
    Bilinear(resize_bilinear::Params),
}

impl Resample {
    /// The three parameter words: kind (0 direct, 1 nearest, 2 bilinear),
    /// align_corners, half_pixel_centers (both 0 for direct).
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        let (kind, a, h) = match self {
            Resample::Direct => (0, false, false),
            Resample::Nearest(p) => (1, p.align_corners, p.half_pixel_centers),
            Resample::Bilinear(p) => (2, p.align_corners, p.half_pixel_centers),
        };
        out(kind);
        out(i32::from(a));
        out(i32::from(h));
    }

    /// Reads three words written by [`Resample::encode`].
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        match words {
            [0, 0, 0] => Ok(Resample::Direct),
            [1, a, h] => resize_nearest::Params::decode(&[*a, *h]).map(Resample::Nearest),
            [2, a, h] => resize_bilinear::Params::decode(&[*a, *h]).map(Resample::Bilinear),
            _ => Err(KernelError::Param),
        }
    }

    /// Checks that a source of shape `source` resamples to `view`
    /// (`view.c` is the part's own channel count).
    pub fn validate(&self, source: Shape4, view: Shape4) -> Result<(), KernelError> {
        match self {
            Resample::Direct if source == view => Ok(()),
            Resample::Direct => Err(KernelError::Shape),
            Resample::Nearest(p) => p.validate(source, view),
            Resample::Bilinear(p) => p.validate(source, view),
        }
    }

    /// The multiply-accumulates the separate resize op would count.
    pub fn macs(&self, view: Shape4) -> u64 {
        match self {
            Resample::Bilinear(p) => p.macs(view),
            _ => 0,
        }
    }
}

/// One part: its source tensor and how it is resampled.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    pub source: View<'a>,
    pub resample: Resample,
}

/// The view: `parts` concatenated along channels, each `height x width`.
#[derive(Debug, Clone, Copy)]
pub struct InputView<'p, 'a> {
    parts: &'p [Part<'a>],
    shape: Shape4,
}

impl<'p, 'a> InputView<'p, 'a> {
    /// Checks every part (shape, length, resampling) and builds the view of
    /// shape `[n, height, width, sum of part channels]`.
    pub fn new(
        parts: &'p [Part<'a>],
        n: usize,
        height: usize,
        width: usize,
    ) -> Result<Self, KernelError> {
        if parts.is_empty() || parts.len() > MAX_PARTS {
            return Err(KernelError::Param);
        }
        let mut channels = 0usize;
        for part in parts {
            let s = part.source.shape;
            check_len(s, part.source.data.len())?;
            part.resample
                .validate(s, Shape4::new(n, height, width, s.c))?;
            channels = channels.checked_add(s.c).ok_or(KernelError::Shape)?;
        }
        let shape = Shape4::new(n, height, width, channels);
        shape.check()?;
        Ok(Self { parts, shape })
    }

    /// `[n, height, width, channels]`.
    pub fn shape(&self) -> Shape4 {
        self.shape
    }

    /// Writes channels `c0 .. c0 + dst.len()` of pixel `(b, y, x)` into `dst`.
    pub fn gather(
        &self,
        b: usize,
        y: usize,
        x: usize,
        c0: usize,
        dst: &mut [i8],
    ) -> Result<(), KernelError> {
        let end = c0.checked_add(dst.len()).ok_or(KernelError::Length)?;
        let v = self.shape;
        if b >= v.n || y >= v.h || x >= v.w || end > v.c {
            return Err(KernelError::Length);
        }
        let mut part_start = 0usize;
        for part in self.parts {
            let s = part.source.shape;
            let part_end = part_start + s.c;
            let lo = c0.max(part_start);
            let hi = end.min(part_end);
            if lo < hi {
                let out = dst.get_mut(lo - c0..hi - c0).ok_or(KernelError::Length)?;
                sample(part, self.shape, b, y, x, lo - part_start, out)?;
            }
            part_start = part_end;
        }
        Ok(())
    }
}

/// Channels `c0 .. c0 + out.len()` of `part` at view pixel `(b, y, x)`.
fn sample(
    part: &Part<'_>,
    view: Shape4,
    b: usize,
    y: usize,
    x: usize,
    c0: usize,
    out: &mut [i8],
) -> Result<(), KernelError> {
    let s = part.source.shape;
    let data = part.source.data;
    let px = |sy: usize, sx: usize| -> Result<&[i8], KernelError> {
        let base = ((b * s.h + sy) * s.w + sx) * s.c + c0;
        data.get(base..base + out.len()).ok_or(KernelError::Length)
    };
    match part.resample {
        Resample::Direct => out.copy_from_slice(px(y, x)?),
        Resample::Nearest(p) => {
            let sy = nearest(y, s.h, view.h, p.align_corners, p.half_pixel_centers);
            let sx = nearest(x, s.w, view.w, p.align_corners, p.half_pixel_centers);
            out.copy_from_slice(px(sy, sx)?);
        }
        Resample::Bilinear(p) => {
            // Same arithmetic as `resize_bilinear::eval` (validated ranges:
            // every index is inside the source).
            let (in_h, in_w) = (s.h as i32, s.w as i32);
            let sh = scale_10(in_h, view.h as i32, p.align_corners);
            let sw = scale_10(in_w, view.w as i32, p.align_corners);
            let (iy, y0, y1) = interpolation(y as i32, sh, p.half_pixel_centers, in_h);
            let (ix, x0, x1) = interpolation(x as i32, sw, p.half_pixel_centers, in_w);
            let fy = i64::from(iy - (1 << 10) * y0);
            let fx = i64::from(ix - (1 << 10) * x0);
            let idx = |v: i32| usize::try_from(v).map_err(|_| KernelError::Shape);
            let (y0, y1, x0, x1) = (idx(y0)?, idx(y1)?, idx(x0)?, idx(x1)?);
            let (ll, lu, rl, ru) = (px(y0, x0)?, px(y1, x0)?, px(y0, x1)?, px(y1, x1)?);
            for (c, o) in out.iter_mut().enumerate() {
                let at = |s: &[i8]| s.get(c).copied().map(i64::from).ok_or(KernelError::Length);
                let sum = at(ll)? * (1024 - fy) * (1024 - fx)
                    + at(lu)? * fy * (1024 - fx)
                    + at(rl)? * (1024 - fy) * fx
                    + at(ru)? * fy * fx;
                let round = if sum > 0 { 1 << 19 } else { -(1 << 19) };
                *o = ((sum + round) / (1 << 20)) as i8;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::{vec, Vec};
    use crate::kernels::{concatenation, ViewMut};

    fn data(len: usize, seed: u32) -> Vec<i8> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s as i8
            })
            .collect()
    }

    /// Every pixel of the view equals the materialized resize + concat.
    #[test]
    fn view_equals_resize_then_concat() {
        let configs = [(false, false), (true, false), (false, true)];
        for (k, &(align, half)) in configs.iter().enumerate() {
            let (n, h, w) = (2, 7, 9);
            let a_shape = Shape4::new(n, 3, 4, 5);
            let b_shape = Shape4::new(n, 4, 5, 3);
            let c_shape = Shape4::new(n, h, w, 2);
            let (a, b, c) = (
                data(a_shape.elements().unwrap(), k as u32),
                data(b_shape.elements().unwrap(), 10 + k as u32),
                data(c_shape.elements().unwrap(), 20 + k as u32),
            );
            let near = resize_nearest::prepare(align, half);
            let bil = resize_bilinear::prepare(align, half).unwrap();
            let parts = [
                Part {
                    source: View::new(a_shape, &a),
                    resample: Resample::Nearest(near),
                },
                Part {
                    source: View::new(b_shape, &b),
                    resample: Resample::Bilinear(bil),
                },
                Part {
                    source: View::new(c_shape, &c),
                    resample: Resample::Direct,
                },
            ];
            // Materialize with the real kernels.
            let ra_shape = Shape4::new(n, h, w, 5);
            let mut ra = vec![0i8; ra_shape.elements().unwrap()];
            resize_nearest::eval(
                &near,
                View::new(a_shape, &a),
                ViewMut::new(ra_shape, &mut ra),
            )
            .unwrap();
            let rb_shape = Shape4::new(n, h, w, 3);
            let mut rb = vec![0i8; rb_shape.elements().unwrap()];
            resize_bilinear::eval(
                &bil,
                View::new(b_shape, &b),
                ViewMut::new(rb_shape, &mut rb),
            )
            .unwrap();
            let cat_shape = Shape4::new(n, h, w, 10);
            let mut cat = vec![0i8; cat_shape.elements().unwrap()];
            let views = [
                View::new(ra_shape, &ra),
                View::new(rb_shape, &rb),
                View::new(c_shape, &c),
            ];
            concatenation::eval(
                &concatenation::Params { axis: 3 },
                views.iter().copied(),
                ViewMut::new(cat_shape, &mut cat),
            )
            .unwrap();

            let view = InputView::new(&parts, n, h, w).unwrap();
            assert_eq!(view.shape(), cat_shape);
            let mut got = vec![0i8; cat.len()];
            for (i, px) in got.chunks_exact_mut(10).enumerate() {
                let (bb, rest) = (i / (h * w), i % (h * w));
                // Gather in uneven chunks to cross part boundaries.
                let (lo, hi) = px.split_at_mut(4);
                view.gather(bb, rest / w, rest % w, 0, lo).unwrap();
                view.gather(bb, rest / w, rest % w, 4, hi).unwrap();
            }
            assert_eq!(got, cat, "align {align} half {half}");
        }
    }

    #[test]
    fn bad_views_are_errors() {
        let a = [0i8; 12];
        let direct = |shape| Part {
            source: View::new(shape, &a),
            resample: Resample::Direct,
        };
        // A direct part must already have the view's size.
        let parts = [direct(Shape4::new(1, 2, 2, 3))];
        assert!(InputView::new(&parts, 1, 2, 2).is_ok());
        assert_eq!(
            InputView::new(&parts, 1, 4, 2).unwrap_err(),
            KernelError::Shape
        );
        // Wrong data length.
        let parts = [direct(Shape4::new(1, 2, 2, 2))];
        assert_eq!(
            InputView::new(&parts, 1, 2, 2).unwrap_err(),
            KernelError::Length
        );
        assert_eq!(
            InputView::new(&[], 1, 2, 2).unwrap_err(),
            KernelError::Param
        );
        // Gathering past the channels is an error, not a panic.
        let parts = [direct(Shape4::new(1, 2, 2, 3))];
        let v = InputView::new(&parts, 1, 2, 2).unwrap();
        let mut dst = [0i8; 4];
        assert!(v.gather(0, 1, 1, 0, &mut dst[..3]).is_ok());
        assert!(v.gather(0, 5, 1, 0, &mut dst[..3]).is_err());
        assert_eq!(Resample::decode(&[0, 1, 0]), Err(KernelError::Param));
        assert_eq!(Resample::decode(&[2, 1, 1]), Err(KernelError::Param));
        assert_eq!(Resample::decode(&[3, 0, 0]), Err(KernelError::Param));
    }
}
