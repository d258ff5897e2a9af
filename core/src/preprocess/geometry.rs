//! Where each model pixel comes from in a camera frame, and back.
//!
//! The frame is centre-cropped to the model's aspect ratio (the largest such
//! window), then each model pixel averages the block of crop pixels it
//! covers. Block edges are `floor(i · crop / out)`, so blocks tile the crop
//! exactly when downscaling (blocks of ⌊crop/out⌋ or ⌈crop/out⌉ pixels);
//! when upscaling a model pixel takes the one crop pixel under its centre.
//! Everything is integer arithmetic, so the host and the device agree.
use super::PreprocessError;

/// A rectangle of frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

/// The mapping between a `frame_width × frame_height` frame and a
/// `out_width × out_height` model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Geometry {
    pub frame_width: usize,
    pub frame_height: usize,
    /// The centred window with the model's aspect ratio.
    pub crop: Rect,
    pub out_width: usize,
    pub out_height: usize,
}

/// Largest block a model pixel may average: the sum of its 8-bit values
/// must fit in a `u32`.
const MAX_BLOCK: usize = (u32::MAX / 255) as usize;

impl Geometry {
    /// The crop and scale for a frame and a model input size. Errors: a zero
    /// size, sizes whose products overflow, or blocks too large to sum in 32
    /// bits (a frame more than ~4000 times the model's size in both axes).
    pub fn new(
        frame_width: usize,
        frame_height: usize,
        out_width: usize,
        out_height: usize,
    ) -> Result<Geometry, PreprocessError> {
        if frame_width == 0 || frame_height == 0 || out_width == 0 || out_height == 0 {
            return Err(PreprocessError::ZeroSize);
        }
        let big = PreprocessError::TooLarge;
        // Frame wider than the model (w/h > ow/oh): keep the full height.
        let wide = frame_width.checked_mul(out_height).ok_or(big)?
            > frame_height.checked_mul(out_width).ok_or(big)?;
        let (width, height) = if wide {
            let w = frame_height.checked_mul(out_width).ok_or(big)? / out_height;
            (w.max(1), frame_height)
        } else {
            let h = frame_width.checked_mul(out_height).ok_or(big)? / out_width;
            (frame_width, h.max(1))
        };
        let crop = Rect {
            x: (frame_width - width) / 2,
            y: (frame_height - height) / 2,
            width,
            height,
        };
        let g = Geometry {
            frame_width,
            frame_height,
            crop,
            out_width,
            out_height,
        };
        // Products used by `span` and `to_model` must not overflow.
        crop.width.checked_mul(out_width).ok_or(big)?;
        crop.height.checked_mul(out_height).ok_or(big)?;
        let block = width
            .div_ceil(out_width)
            .checked_mul(height.div_ceil(out_height))
            .ok_or(big)?;
        if block > MAX_BLOCK {
            return Err(big);
        }
        Ok(g)
    }

    /// Frame columns `[start, end)` averaged into model column `ox`.
    pub fn span_x(&self, ox: usize) -> (usize, usize) {
        let (s, e) = span(ox, self.crop.width, self.out_width);
        (self.crop.x + s, self.crop.x + e)
    }

    /// Frame rows `[start, end)` averaged into model row `oy`.
    pub fn span_y(&self, oy: usize) -> (usize, usize) {
        let (s, e) = span(oy, self.crop.height, self.out_height);
        (self.crop.y + s, self.crop.y + e)
    }

    /// The model column whose span holds frame column `fx` (nearest, for
    /// mapping results back); `None` outside the crop.
    pub fn model_x(&self, fx: usize) -> Option<usize> {
        to_model(
            fx.checked_sub(self.crop.x)?,
            self.crop.width,
            self.out_width,
        )
    }

    /// The model row whose span holds frame row `fy`; `None` outside the crop.
    pub fn model_y(&self, fy: usize) -> Option<usize> {
        to_model(
            fy.checked_sub(self.crop.y)?,
            self.crop.height,
            self.out_height,
        )
    }
}

/// Block `[floor(i·n/out), floor((i+1)·n/out))` of `n` source pixels for
/// output `i`; when that is empty (upscaling), the one pixel under the
/// output pixel's centre. `Geometry::new` checked `n · out` fits.
fn span(i: usize, n: usize, out: usize) -> (usize, usize) {
    let start = i.saturating_mul(n) / out;
    let end = i.saturating_add(1).saturating_mul(n) / out;
    if end > start {
        (start, end)
    } else {
        let c = i.saturating_mul(2).saturating_add(1).saturating_mul(n) / out.saturating_mul(2);
        let c = c.min(n.saturating_sub(1));
        (c, c + 1)
    }
}

/// Inverse of [`span`] for downscaling: the output index whose block holds
/// source pixel `s` is `ceil((s+1)·out/n) − 1`; for upscaling the nearest.
fn to_model(s: usize, n: usize, out: usize) -> Option<usize> {
    if s >= n {
        return None;
    }
    let i = if n >= out {
        (s.saturating_add(1).saturating_mul(out)).div_ceil(n) - 1
    } else {
        // Output pixels whose centre falls in source pixel s; take the middle one.
        s.saturating_mul(2).saturating_add(1).saturating_mul(out) / n.saturating_mul(2)
    };
    Some(i.min(out - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crops_to_the_model_aspect_ratio() {
        let g = Geometry::new(160, 120, 96, 96).unwrap();
        assert_eq!(
            g.crop,
            Rect {
                x: 20,
                y: 0,
                width: 120,
                height: 120
            }
        );
        let g = Geometry::new(320, 240, 128, 128).unwrap();
        assert_eq!((g.crop.x, g.crop.width), (40, 240));
        let g = Geometry::new(100, 300, 50, 50).unwrap();
        assert_eq!((g.crop.y, g.crop.height, g.crop.width), (100, 100, 100));
        // Same size: identity.
        let g = Geometry::new(96, 96, 96, 96).unwrap();
        for i in 0..96 {
            assert_eq!(g.span_x(i), (i, i + 1));
            assert_eq!(g.model_x(i), Some(i));
        }
        assert_eq!(Geometry::new(0, 5, 5, 5), Err(PreprocessError::ZeroSize));
        assert_eq!(
            Geometry::new(usize::MAX, 5, 5, 5),
            Err(PreprocessError::TooLarge)
        );
    }

    #[test]
    fn upscaling_takes_the_pixel_under_the_centre() {
        let g = Geometry::new(2, 2, 4, 4).unwrap();
        let cols: [usize; 4] = core::array::from_fn(|i| g.span_x(i).0);
        assert_eq!(cols, [0, 0, 1, 1]);
        assert_eq!(g.model_x(0), Some(1));
        assert_eq!(g.model_x(1), Some(3));
    }

    proptest! {
        /// Downscaling: spans tile the crop, and `model_x` inverts them.
        #[test]
        fn spans_tile_the_crop(fw in 1usize..400, fh in 1usize..400, ow in 1usize..100, oh in 1usize..100) {
            let g = Geometry::new(fw, fh, ow, oh).unwrap();
            prop_assert!(g.crop.x + g.crop.width <= fw && g.crop.y + g.crop.height <= fh);
            if g.crop.width >= ow {
                let mut next = g.crop.x;
                for ox in 0..ow {
                    let (s, e) = g.span_x(ox);
                    prop_assert_eq!(s, next);
                    prop_assert!(e > s);
                    for fx in s..e {
                        prop_assert_eq!(g.model_x(fx), Some(ox));
                    }
                    next = e;
                }
                prop_assert_eq!(next, g.crop.x + g.crop.width);
            } else {
                for ox in 0..ow {
                    let (s, e) = g.span_x(ox);
                    prop_assert!(e == s + 1 && s >= g.crop.x && e <= g.crop.x + g.crop.width);
                }
            }
            prop_assert_eq!(g.model_x(g.crop.x + g.crop.width), None);
            if g.crop.x > 0 {
                prop_assert_eq!(g.model_x(g.crop.x - 1), None);
            }
        }
    }
}
