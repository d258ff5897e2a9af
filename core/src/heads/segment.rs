//! Segmentation head: int8 per-pixel class logits `H×W×C` → a class map,
//! and each class's pixel area and bounding box.
//!
//! All channels of one tensor share its scale and zero point, so the argmax
//! of the int8 values is the argmax of the real logits: no dequantization.
//! Ties go to the lowest class, which makes the result a pure function of the
//! bytes (host and device agree).
use super::{check_len, HeadError, MapShape};
use crate::format::TensorInfo;

/// Classes a [`Segmentation`] has room for unless told otherwise.
pub const MAX_CLASSES: usize = 8;

/// An axis-aligned box in output pixels, both corners inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BBox {
    pub x_min: u16,
    pub y_min: u16,
    pub x_max: u16,
    pub y_max: u16,
}

impl BBox {
    /// Width in pixels (`x_max - x_min + 1`).
    pub fn width(&self) -> u16 {
        self.x_max.saturating_sub(self.x_min).saturating_add(1)
    }

    /// Height in pixels (`y_max - y_min + 1`).
    pub fn height(&self) -> u16 {
        self.y_max.saturating_sub(self.y_min).saturating_add(1)
    }

    fn include(&mut self, x: u16, y: u16) {
        self.x_min = self.x_min.min(x);
        self.y_min = self.y_min.min(y);
        self.x_max = self.x_max.max(x);
        self.y_max = self.y_max.max(y);
    }
}

/// One class's share of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClassStats {
    /// Pixels assigned to the class.
    pub area: u32,
    /// The smallest box holding all of them; `None` when the area is 0.
    pub bbox: Option<BBox>,
}

/// What [`segment`] found: per-class statistics for the first `classes`
/// entries of `stats` (the rest stay zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Segmentation<const N: usize = MAX_CLASSES> {
    pub height: u16,
    pub width: u16,
    /// Number of classes (the logits' channel count).
    pub classes: u8,
    pub stats: [ClassStats; N],
}

impl<const N: usize> Segmentation<N> {
    /// Statistics of class `k`, `None` past the class count.
    pub fn class(&self, k: usize) -> Option<&ClassStats> {
        self.classes().get(k)
    }

    /// Statistics of every class, in class order.
    pub fn classes(&self) -> &[ClassStats] {
        self.stats.get(..usize::from(self.classes)).unwrap_or(&[])
    }
}

/// Argmax over the channels of each pixel of `logits` (int8 bytes, `H×W×C`
/// row-major, as the session's output slice holds them) into `class_map`
/// (`H×W` bytes, row-major), and per-class area and bounding box.
///
/// Errors: no channels or more than `N` (or 255) of them, a dimension above
/// `u16::MAX`, or either buffer not matching `shape`.
pub fn segment<const N: usize>(
    logits: &[u8],
    shape: MapShape,
    class_map: &mut [u8],
) -> Result<Segmentation<N>, HeadError> {
    let too_many = HeadError::TooManyClasses {
        classes: super::len_u32(shape.channels),
        max: super::len_u32(N.min(255)),
    };
    let classes = u8::try_from(shape.channels).map_err(|_| too_many)?;
    if classes == 0 {
        return Err(HeadError::UnsupportedOutput);
    }
    if usize::from(classes) > N {
        return Err(too_many);
    }
    let height = u16::try_from(shape.height).map_err(|_| HeadError::UnsupportedOutput)?;
    let width = u16::try_from(shape.width).map_err(|_| HeadError::UnsupportedOutput)?;
    check_len(shape.elements(), logits.len())?;
    check_len(shape.pixels(), class_map.len())?;

    let mut stats = [ClassStats::default(); N];
    let (mut x, mut y) = (0u16, 0u16);
    for (pixel, class) in logits
        .chunks_exact(usize::from(classes))
        .zip(class_map.iter_mut())
    {
        let best = argmax(pixel);
        *class = best;
        if let Some(s) = stats.get_mut(usize::from(best)) {
            s.area = s.area.saturating_add(1);
            match &mut s.bbox {
                Some(b) => b.include(x, y),
                None => {
                    s.bbox = Some(BBox {
                        x_min: x,
                        y_min: y,
                        x_max: x,
                        y_max: y,
                    })
                }
            }
        }
        x = x.saturating_add(1);
        if x == width {
            x = 0;
            y = y.saturating_add(1);
        }
    }
    Ok(Segmentation {
        height,
        width,
        classes,
        stats,
    })
}

/// [`segment`] on a model output: reads the shape from its tensor record
/// (see [`MapShape::of_tensor`]).
pub fn segment_output<const N: usize>(
    tensor: &TensorInfo,
    logits: &[u8],
    class_map: &mut [u8],
) -> Result<Segmentation<N>, HeadError> {
    let (shape, _, _) = MapShape::of_tensor(tensor)?;
    segment(logits, shape, class_map)
}

/// Index of the largest int8 value in `pixel` (its bytes), the lowest index
/// among equals. `pixel` has at most 255 entries.
fn argmax(pixel: &[u8]) -> u8 {
    let mut best = 0u8;
    let mut best_v = i8::MIN;
    for (k, &b) in pixel.iter().enumerate() {
        let v = b as i8;
        if k == 0 || v > best_v {
            best = k as u8;
            best_v = v;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shape(height: usize, width: usize, channels: usize) -> MapShape {
        MapShape {
            height,
            width,
            channels,
        }
    }

    #[test]
    fn argmax_areas_and_boxes() {
        // 2x3 pixels, 3 classes. Row-major logits per pixel.
        #[rustfmt::skip]
        let logits: [i8; 18] = [
            5, 1, 1,    -3, 7, 0,    0, 0, 0,   // class 0, 1, tie→0
            -128, -128, -127,   2, 9, 9,   1, 3, 2, // class 2, tie 1/2→1, 1
        ];
        let bytes = logits.map(|v| v as u8);
        let mut map = [0xAAu8; 6];
        let s: Segmentation = segment(&bytes, shape(2, 3, 3), &mut map).unwrap();
        assert_eq!(map, [0, 1, 0, 2, 1, 1]);
        assert_eq!((s.height, s.width, s.classes), (2, 3, 3));
        assert_eq!(s.classes().len(), 3);
        let c0 = s.class(0).unwrap();
        assert_eq!(c0.area, 2);
        let b0 = c0.bbox.unwrap();
        assert_eq!((b0.x_min, b0.y_min, b0.x_max, b0.y_max), (0, 0, 2, 0));
        assert_eq!((b0.width(), b0.height()), (3, 1));
        let c1 = s.class(1).unwrap();
        assert_eq!(c1.area, 3);
        let b1 = c1.bbox.unwrap();
        assert_eq!((b1.x_min, b1.y_min, b1.x_max, b1.y_max), (1, 0, 2, 1));
        let c2 = s.class(2).unwrap();
        assert_eq!(c2.area, 1);
        let b2 = c2.bbox.unwrap();
        assert_eq!((b2.x_min, b2.y_min, b2.x_max, b2.y_max), (0, 1, 0, 1));
        assert_eq!(s.class(3), None);
        assert_eq!(s.stats[3], ClassStats::default());
    }

    #[test]
    fn an_absent_class_has_no_box() {
        let bytes = [3u8, 1, 3, 1]; // two pixels, both class 0 of 2
        let mut map = [9u8; 2];
        let s: Segmentation<2> = segment(&bytes, shape(1, 2, 2), &mut map).unwrap();
        assert_eq!(s.class(1), Some(&ClassStats::default()));
        assert_eq!(s.class(0).unwrap().area, 2);
    }

    #[test]
    fn wrong_sizes_are_typed_errors() {
        let bytes = [0u8; 12];
        let mut map = [0u8; 4];
        assert_eq!(
            segment::<8>(&bytes[..11], shape(2, 2, 3), &mut map).err(),
            Some(HeadError::BufferLen {
                expected: 12,
                len: 11
            })
        );
        assert_eq!(
            segment::<8>(&bytes, shape(2, 2, 3), &mut map[..3]).err(),
            Some(HeadError::BufferLen {
                expected: 4,
                len: 3
            })
        );
        assert_eq!(
            segment::<2>(&bytes, shape(2, 2, 3), &mut map).err(),
            Some(HeadError::TooManyClasses { classes: 3, max: 2 })
        );
        assert_eq!(
            segment::<8>(&[], shape(2, 2, 0), &mut map).err(),
            Some(HeadError::UnsupportedOutput)
        );
        assert_eq!(
            segment::<8>(&bytes, shape(usize::MAX, 2, 3), &mut map).err(),
            Some(HeadError::UnsupportedOutput)
        );
        assert!(segment::<300>(&bytes, shape(1, 1, 256), &mut map).is_err());
    }

    proptest! {
        /// The class map matches a direct argmax, and the statistics match
        /// a recount from the class map.
        #[test]
        fn matches_a_direct_recount(
            h in 1usize..6, w in 1usize..6, c in 1usize..5,
            seed in proptest::collection::vec(any::<i8>(), 100),
        ) {
            let n = h * w * c;
            let logits: [u8; 100] = core::array::from_fn(|i| seed[i % seed.len()] as u8 & 0x83);
            let logits = &logits[..n];
            let mut map = [0u8; 25];
            let s: Segmentation = segment(logits, shape(h, w, c), &mut map[..h * w]).unwrap();
            for p in 0..h * w {
                let px = &logits[p * c..(p + 1) * c];
                let max = px.iter().map(|&b| b as i8).max().unwrap();
                let first = px.iter().position(|&b| b as i8 == max).unwrap();
                prop_assert_eq!(usize::from(map[p]), first);
            }
            for k in 0..c {
                let pix: [(usize, usize); 25] = core::array::from_fn(|p| (p % w, p / w));
                let mine = pix[..h * w].iter().enumerate().filter(|(p, _)| usize::from(map[*p]) == k);
                let area = mine.clone().count();
                let st = s.class(k).unwrap();
                prop_assert_eq!(st.area as usize, area);
                if area == 0 {
                    prop_assert_eq!(st.bbox, None);
                } else {
                    let b = st.bbox.unwrap();
                    prop_assert_eq!(usize::from(b.x_min), mine.clone().map(|(_, q)| q.0).min().unwrap());
                    prop_assert_eq!(usize::from(b.x_max), mine.clone().map(|(_, q)| q.0).max().unwrap());
                    prop_assert_eq!(usize::from(b.y_min), mine.clone().map(|(_, q)| q.1).min().unwrap());
                    prop_assert_eq!(usize::from(b.y_max), mine.map(|(_, q)| q.1).max().unwrap());
                }
            }
        }
    }
}
