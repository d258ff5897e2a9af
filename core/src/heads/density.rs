//! Density head: an int8 density map `H×W` (one channel) → a count and the
//! local peaks.
//!
//! The count is `scale · Σ (q − zero_point)`: the sum is exact in integers
//! (`i64`, no rounding, independent of summation order) and scaled once by
//! one `f32` multiply, so the host and every device give the same bits.
//! Peaks are pixels above a threshold that no 3x3 neighbour beats
//! (non-maximum suppression); they locate the counted objects.
use super::{check_len, HeadError, MapShape};
use crate::format::TensorInfo;
use crate::quant::quantize_f32_to_i8;

/// The exact integer sum of a density map and its scale.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Count {
    /// `Σ (q − zero_point)` over the map.
    pub sum_q: i64,
    /// The map's quantization scale.
    pub scale: f32,
}

impl Count {
    /// `scale · sum_q`: the sum of the dequantized map.
    pub fn value(&self) -> f32 {
        self.sum_q as f32 * self.scale
    }
}

/// A local maximum of the map, in map pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Peak {
    pub x: u16,
    pub y: u16,
    /// The map's int8 value there.
    pub q: i8,
}

impl Peak {
    /// The dequantized density at the peak.
    pub fn value(&self, scale: f32, zero_point: i32) -> f32 {
        (i32::from(self.q) - zero_point) as f32 * scale
    }
}

/// Count and peaks of one map (see [`analyze`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Density {
    pub count: Count,
    /// Peaks written to the caller's buffer (strongest first).
    pub peaks: usize,
    /// Peaks found in the map; more than `peaks` when the buffer was full.
    pub peaks_found: u32,
}

/// `scale · Σ (q − zero_point)` over `map` (int8 bytes).
pub fn count(map: &[u8], scale: f32, zero_point: i32) -> Count {
    let zp = i64::from(zero_point);
    let sum_q = map.iter().map(|&b| i64::from(b as i8) - zp).sum();
    Count { sum_q, scale }
}

/// The int8 threshold for a real density `value` in a map quantized with
/// `scale` and `zero_point` (the core rounding rule, saturated).
pub fn threshold_q(value: f32, scale: f32, zero_point: i32) -> i8 {
    quantize_f32_to_i8(value, scale, zero_point)
}

/// Local maxima of `map` (int8 bytes, `H×W` row-major) whose value is above
/// `threshold` and not beaten by any of its (up to) 8 neighbours. On a
/// plateau of equal values only the pixel first in row-major order counts.
///
/// The strongest `out.len()` peaks are written to `out`, strongest first
/// (equal values in row-major order). Returns `(written, found)`.
pub fn peaks(
    map: &[u8],
    height: usize,
    width: usize,
    threshold: i8,
    out: &mut [Peak],
) -> Result<(usize, u32), HeadError> {
    check_len(height.checked_mul(width), map.len())?;
    if u16::try_from(height).is_err() || u16::try_from(width).is_err() {
        return Err(HeadError::UnsupportedOutput);
    }
    let at = |x: usize, y: usize| map.get(y * width + x).map(|&b| b as i8);
    let mut kept = 0usize;
    let mut found = 0u32;
    for y in 0..height {
        for x in 0..width {
            let Some(v) = at(x, y) else { continue };
            if v <= threshold || !is_peak(&at, x, y, width, height, v) {
                continue;
            }
            found = found.saturating_add(1);
            let peak = Peak {
                x: x as u16,
                y: y as u16,
                q: v,
            };
            kept = insert_strongest(out, kept, peak);
        }
    }
    Ok((kept, found))
}

/// Whether no neighbour of `(x, y)` is larger, and none earlier in row-major
/// order is equal.
fn is_peak(
    at: &impl Fn(usize, usize) -> Option<i8>,
    x: usize,
    y: usize,
    width: usize,
    height: usize,
    v: i8,
) -> bool {
    for ny in y.saturating_sub(1)..=(y + 1).min(height.saturating_sub(1)) {
        for nx in x.saturating_sub(1)..=(x + 1).min(width.saturating_sub(1)) {
            if (nx, ny) == (x, y) {
                continue;
            }
            let Some(n) = at(nx, ny) else { continue };
            let earlier = (ny, nx) < (y, x);
            if n > v || (n == v && earlier) {
                return false;
            }
        }
    }
    true
}

/// Inserts `peak` into `out[..kept]` (sorted strongest first, ties in arrival
/// order), dropping the weakest when full. Returns the new `kept`.
fn insert_strongest(out: &mut [Peak], kept: usize, peak: Peak) -> usize {
    let pos = out
        .get(..kept)
        .and_then(|s| s.iter().position(|p| p.q < peak.q))
        .unwrap_or(kept);
    if pos >= out.len() {
        return kept;
    }
    let end = kept.saturating_add(1).min(out.len());
    if let Some(window) = out.get_mut(pos..end) {
        window.rotate_right(1);
        if let Some(first) = window.first_mut() {
            *first = peak;
        }
    }
    end
}

/// Count and peaks of a model's density output (`[1, H, W, 1]`, `[1, H, W]`,
/// `[H, W, 1]` or `[H, W]`, int8 per-tensor): peaks above the real density
/// `threshold` go to `peaks_out`.
pub fn analyze(
    tensor: &TensorInfo,
    map: &[u8],
    threshold: f32,
    peaks_out: &mut [Peak],
) -> Result<Density, HeadError> {
    let (shape, scale, zero_point) = MapShape::of_tensor(tensor)?;
    if shape.channels != 1 {
        return Err(HeadError::UnsupportedOutput);
    }
    check_len(shape.pixels(), map.len())?;
    let t = threshold_q(threshold, scale, zero_point);
    let (peaks, peaks_found) = peaks(map, shape.height, shape.width, t, peaks_out)?;
    Ok(Density {
        count: count(map, scale, zero_point),
        peaks,
        peaks_found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn count_is_the_exact_sum_scaled_once() {
        let map = [-128i8, -127, 0, 127].map(|v| v as u8);
        let c = count(&map, 0.5, -128);
        assert_eq!(c.sum_q, 1 + 128 + 255);
        assert_eq!(c.value(), 192.0);
        // Negative contributions below the zero point count too.
        let c = count(&[0u8, 0xFF], 0.25, 1); // q = 0, -1
        assert_eq!(c.sum_q, -1 + -2);
        assert_eq!(c.value(), -0.75);
        assert_eq!(count(&[], 1.0, 0).sum_q, 0);
    }

    #[test]
    fn peaks_suppress_neighbours_and_keep_the_strongest() {
        #[rustfmt::skip]
        let map: [i8; 20] = [
            0, 0, 0, 0, 0,
            0, 9, 8, 0, 3,
            0, 0, 0, 0, 0,
            5, 0, 0, 7, 7,
        ];
        let bytes = map.map(|v| v as u8);
        let mut out = [Peak::default(); 8];
        let (n, found) = peaks(&bytes, 4, 5, 0, &mut out).unwrap();
        assert_eq!((n, found), (4, 4));
        let xyq: [(u16, u16, i8); 4] = core::array::from_fn(|i| (out[i].x, out[i].y, out[i].q));
        // 8 at (2,1) is beaten by 9; the 7-7 plateau keeps its first pixel.
        assert_eq!(xyq, [(1, 1, 9), (3, 3, 7), (0, 3, 5), (4, 1, 3)]);

        // A threshold of 4 drops the 3; a buffer of 2 keeps the strongest two.
        let mut two = [Peak::default(); 2];
        assert_eq!(peaks(&bytes, 4, 5, 4, &mut two).unwrap(), (2, 3));
        assert_eq!((two[0].q, two[1].q), (9, 7));
        assert_eq!(peaks(&bytes, 4, 5, 0, &mut []).unwrap(), (0, 4));
        assert_eq!(
            peaks(&bytes, 5, 5, 0, &mut out).err(),
            Some(HeadError::BufferLen {
                expected: 25,
                len: 20
            })
        );
    }

    proptest! {
        /// Every reported peak is a local maximum above the threshold, the
        /// list is sorted strongest first, and the found count matches a
        /// brute-force scan.
        #[test]
        fn peaks_match_a_brute_force_scan(
            h in 1usize..7, w in 1usize..7, t in -3i8..3,
            vals in proptest::collection::vec(-4i8..5, 36),
        ) {
            let bytes: [u8; 36] = core::array::from_fn(|i| vals[i] as u8);
            let map = &bytes[..h * w];
            let mut out = [Peak::default(); 4];
            let (n, found) = peaks(map, h, w, t, &mut out).unwrap();
            let v = |x: usize, y: usize| vals[y * w + x];
            let mut brute = 0u32;
            for y in 0..h {
                for x in 0..w {
                    let mut ok = v(x, y) > t;
                    for ny in y.saturating_sub(1)..(y + 2).min(h) {
                        for nx in x.saturating_sub(1)..(x + 2).min(w) {
                            let before = ny * w + nx < y * w + x;
                            if v(nx, ny) > v(x, y) || (before && v(nx, ny) == v(x, y)) {
                                ok = false;
                            }
                        }
                    }
                    brute += u32::from(ok);
                }
            }
            prop_assert_eq!(found, brute);
            prop_assert_eq!(n, (brute as usize).min(4));
            for p in &out[..n] {
                prop_assert_eq!(v(usize::from(p.x), usize::from(p.y)), p.q);
            }
            for pair in out[..n].windows(2) {
                prop_assert!(pair[0].q >= pair[1].q);
            }
        }
    }
}
