//! Ground-truth density maps for the counter.
//!
//! The trainer takes any [`DensityMap`]. The synthetic-data module will
//! provide the real one (a Gaussian per head whose sigma follows the
//! perspective depth); until it is merged, [`FixedSigmaDensity`] stands in:
//! the same Gaussian for every head. Both keep `sum(map) == count`.

/// Renders head points into a density map whose sum is the number of heads.
pub trait DensityMap: Send + Sync {
    /// `points` are in input pixels of an `in_w x in_h` image; the map is
    /// `out_w x out_h`, row-major.
    fn render(
        &self,
        points: &[(f32, f32)],
        in_w: usize,
        in_h: usize,
        out_w: usize,
        out_h: usize,
    ) -> Vec<f32>;

    /// One line naming the renderer and its parameters (run.txt, cards).
    fn describe(&self) -> String;
}

/// Placeholder density: one Gaussian of fixed `sigma` (output pixels) per
/// head, truncated at 3 sigma and renormalised over the pixels inside the
/// map, so every head inside the image adds exactly 1 to the sum.
#[derive(Debug, Clone, Copy)]
pub struct FixedSigmaDensity {
    pub sigma: f32,
}

impl Default for FixedSigmaDensity {
    fn default() -> Self {
        FixedSigmaDensity { sigma: 1.0 }
    }
}

impl DensityMap for FixedSigmaDensity {
    fn describe(&self) -> String {
        format!("gaussian sigma={} cells", self.sigma)
    }

    fn render(
        &self,
        points: &[(f32, f32)],
        in_w: usize,
        in_h: usize,
        out_w: usize,
        out_h: usize,
    ) -> Vec<f32> {
        let mut map = vec![0f32; out_w * out_h];
        if in_w == 0 || in_h == 0 || out_w == 0 || out_h == 0 {
            return map;
        }
        let sx = out_w as f32 / in_w as f32;
        let sy = out_h as f32 / in_h as f32;
        let s = self.sigma.max(1e-3);
        let r = (3.0 * s).ceil() as isize;
        let mut weights = Vec::new();
        for &(px, py) in points {
            if !(px >= 0.0 && py >= 0.0 && px < in_w as f32 && py < in_h as f32) {
                continue;
            }
            // Pixel centres: output pixel j covers input [j/sx, (j+1)/sx).
            let cx = px * sx - 0.5;
            let cy = py * sy - 0.5;
            let (ix, iy) = (cx.round() as isize, cy.round() as isize);
            weights.clear();
            let mut total = 0f32;
            for y in (iy - r).max(0)..=(iy + r).min(out_h as isize - 1) {
                for x in (ix - r).max(0)..=(ix + r).min(out_w as isize - 1) {
                    let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                    let v = (-d2 / (2.0 * s * s)).exp();
                    weights.push((y as usize * out_w + x as usize, v));
                    total += v;
                }
            }
            if total > 0.0 {
                for &(i, v) in &weights {
                    map[i] += v / total;
                }
            }
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_sums_to_the_count_even_at_borders() {
        let pts = [(0.2, 0.2), (127.9, 64.0), (64.0, 64.0), (200.0, 5.0)];
        let m = FixedSigmaDensity { sigma: 1.5 }.render(&pts, 128, 128, 32, 32);
        let sum: f32 = m.iter().sum();
        // The point outside the image does not count.
        assert!((sum - 3.0).abs() < 1e-4, "sum {sum}");
        // A head at input (64, 64) sits at output (15.5, 15.5): the four
        // pixels around it get the same, largest share.
        let c = FixedSigmaDensity { sigma: 1.5 }.render(&[(64.0, 64.0)], 128, 128, 32, 32);
        let peak = c.iter().cloned().fold(0f32, f32::max);
        for (y, x) in [(15, 15), (15, 16), (16, 15), (16, 16)] {
            assert!((c[y * 32 + x] - peak).abs() < 1e-6);
        }
        assert!((c.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
