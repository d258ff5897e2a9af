//! Density maps for crowd counting: one Gaussian per head, each normalised to
//! mass 1, so the map sums to the head count.
//!
//! The counter predicts at a fraction of the input resolution (`stride` 4 or
//! 8), so maps are built directly on that grid: cell `(i, j)` covers input
//! pixels `[j*stride, (j+1)*stride) x [i*stride, (i+1)*stride)`. Each kernel is
//! truncated at 3 sigma and at the map border, then renormalised over the
//! cells it kept, which keeps the sum exact for heads near the edges too.
use super::crowds::Head;

/// A row-major `width x height` density map.
#[derive(Clone, Debug, PartialEq)]
pub struct DensityMap {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl DensityMap {
    /// Sum of all cells (accumulated in f64): the count.
    pub fn sum(&self) -> f64 {
        self.data.iter().map(|v| *v as f64).sum()
    }
}

/// Smallest kernel sigma on the output grid, in cells: narrower kernels would
/// put all mass into one cell depending on sub-cell position.
pub const MIN_SIGMA_CELLS: f32 = 0.5;

/// Density map of `heads` (input-pixel coordinates, sigma in input pixels)
/// for an input of `width x height` at output `stride` (>= 1). Heads outside
/// the image are clamped onto its border cells.
pub fn density_map(heads: &[Head], width: u32, height: u32, stride: u32) -> DensityMap {
    let s = stride.max(1) as f32;
    let w = (width as usize).div_ceil(stride.max(1) as usize).max(1);
    let h = (height as usize).div_ceil(stride.max(1) as usize).max(1);
    let mut data = vec![0.0f32; w * h];
    let mut weights: Vec<f64> = Vec::new();
    for hd in heads {
        let (u, v) = (hd.x / s, hd.y / s);
        let sig = (hd.sigma / s).max(MIN_SIGMA_CELLS);
        let r = (3.0 * sig).ceil() as i64;
        let (cu, cv) = (u.floor() as i64, v.floor() as i64);
        let (j0, j1) = ((cu - r).max(0), (cu + r).min(w as i64 - 1));
        let (i0, i1) = ((cv - r).max(0), (cv + r).min(h as i64 - 1));
        weights.clear();
        let inv = 1.0 / (2.0 * sig as f64 * sig as f64);
        let mut total = 0.0f64;
        if j0 <= j1 && i0 <= i1 {
            for i in i0..=i1 {
                for j in j0..=j1 {
                    let (dx, dy) = (j as f64 + 0.5 - u as f64, i as f64 + 0.5 - v as f64);
                    let wgt = libm::exp(-(dx * dx + dy * dy) * inv);
                    weights.push(wgt);
                    total += wgt;
                }
            }
        }
        if total > 0.0 {
            let mut k = 0;
            for i in i0..=i1 {
                for j in j0..=j1 {
                    data[i as usize * w + j as usize] += (weights[k] / total) as f32;
                    k += 1;
                }
            }
        } else {
            // Entirely off the map: all mass on the nearest border cell.
            let j = (cu.clamp(0, w as i64 - 1)) as usize;
            let i = (cv.clamp(0, h as i64 - 1)) as usize;
            data[i * w + j] += 1.0;
        }
    }
    DensityMap {
        width: w,
        height: h,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(x: f32, y: f32, sigma: f32) -> Head {
        Head { x, y, sigma }
    }

    #[test]
    fn sums_to_count_even_at_borders() {
        let heads = [
            head(0.2, 0.1, 6.0),
            head(127.9, 127.9, 10.0),
            head(64.0, 0.5, 3.0),
            head(30.0, 70.0, 1.0),
            head(200.0, -5.0, 2.0),
        ];
        for stride in [1, 4, 8] {
            let m = density_map(&heads, 128, 128, stride);
            assert_eq!(m.width, 128 / stride as usize);
            assert!(
                (m.sum() - heads.len() as f64).abs() < 1e-4,
                "stride {stride}: {}",
                m.sum()
            );
            assert!(m.data.iter().all(|v| *v >= 0.0));
        }
    }

    #[test]
    fn mass_is_centred_on_the_head() {
        let m = density_map(&[head(40.0, 24.0, 4.0)], 64, 64, 4);
        let (mut mx, mut my) = (0.0, 0.0);
        for (k, v) in m.data.iter().enumerate() {
            mx += ((k % m.width) as f64 + 0.5) * *v as f64;
            my += ((k / m.width) as f64 + 0.5) * *v as f64;
        }
        assert!(
            (mx - 10.0).abs() < 0.05 && (my - 6.0).abs() < 0.05,
            "{mx},{my}"
        );
    }

    #[test]
    fn empty_scene_gives_an_empty_map() {
        let m = density_map(&[], 128, 96, 8);
        assert_eq!((m.width, m.height), (16, 12));
        assert_eq!(m.sum(), 0.0);
    }
}
