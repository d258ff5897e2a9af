//! Formula-driven images for pre-training: iterated function systems (IFS).
//!
//! A category is a random IFS of 2 to 4 contractive affine maps, each chosen
//! with probability proportional to its |determinant|. Categories are kept
//! only when their attractor fills enough of the image (the filling-rate rule
//! of FractalDB), so degenerate systems that collapse to a line or a point
//! are rejected. Instances of a category jitter one affine parameter by a
//! weight in 0.8..1.2 and may be mirrored, so a class has visible
//! intra-class variation while staying recognisably itself. Images are drawn
//! with the chaos game at twice the resolution and box-filtered down.
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::math::v3;
use super::raster::{lin, Canvas};
use super::rng::Rng;

const STREAM: u64 = 0xF2AC;

/// Default minimum fraction of pixels an attractor must cover.
pub const FILL_THRESHOLD: f32 = 0.2;

/// `(x, y) -> (a x + b y + e, c x + d y + f)`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub e: f32,
    pub f: f32,
}

impl Affine {
    fn det(&self) -> f32 {
        self.a * self.d - self.b * self.c
    }

    /// Largest singular value of the linear part (< 1 means contractive).
    fn spectral_norm(&self) -> f32 {
        let (a, b, c, d) = (self.a, self.b, self.c, self.d);
        let s = a * a + b * b + c * c + d * d;
        let det = self.det();
        let disc = (s * s - 4.0 * det * det).max(0.0).sqrt();
        ((s + disc) * 0.5).sqrt()
    }

    fn params_mut(&mut self) -> [&mut f32; 6] {
        [
            &mut self.a,
            &mut self.b,
            &mut self.c,
            &mut self.d,
            &mut self.e,
            &mut self.f,
        ]
    }
}

/// One iterated function system with its map probabilities.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Ifs {
    pub maps: Vec<Affine>,
    pub probs: Vec<f32>,
}

impl Ifs {
    /// Random contractive system of 2..=4 maps with parameters in [-1, 1].
    pub fn sample(rng: &mut Rng) -> Ifs {
        let n = 2 + rng.below(3);
        let mut maps = Vec::with_capacity(n);
        while maps.len() < n {
            let m = Affine {
                a: rng.range(-1.0, 1.0),
                b: rng.range(-1.0, 1.0),
                c: rng.range(-1.0, 1.0),
                d: rng.range(-1.0, 1.0),
                e: rng.range(-1.0, 1.0),
                f: rng.range(-1.0, 1.0),
            };
            if m.det().abs() > 0.02 && m.spectral_norm() < 0.95 {
                maps.push(m);
            }
        }
        Self::with_probs(maps)
    }

    fn with_probs(maps: Vec<Affine>) -> Ifs {
        let dets: Vec<f32> = maps.iter().map(|m| m.det().abs()).collect();
        let total: f32 = dets.iter().sum();
        let probs = dets.iter().map(|d| d / total.max(1e-9)).collect();
        Ifs { maps, probs }
    }

    /// Chaos-game points (after a short warm-up), `n` of them, with the index
    /// of the map that produced each.
    pub fn points(&self, rng: &mut Rng, n: usize) -> Vec<(f32, f32, u8)> {
        let (mut x, mut y) = (0.0f32, 0.0f32);
        let mut out = Vec::with_capacity(n);
        for k in 0..n + 32 {
            let i = rng.weighted(&self.probs);
            let m = &self.maps[i];
            let nx = m.a * x + m.b * y + m.e;
            let ny = m.c * x + m.d * y + m.f;
            x = nx;
            y = ny;
            if k >= 32 {
                out.push((x, y, i as u8));
            }
        }
        out
    }

    /// Fraction of a `res` x `res` grid covered by the attractor.
    pub fn fill_rate(&self, res: usize) -> f32 {
        let pts = self.points(&mut Rng::for_item(0, STREAM, 1), res * res * 4);
        let Some((x0, y0, sx, sy)) = frame(&pts) else {
            return 0.0;
        };
        let mut hit = vec![false; res * res];
        for (x, y, _) in &pts {
            let (u, v) = (
                ((x - x0) * sx * res as f32) as usize,
                ((y - y0) * sy * res as f32) as usize,
            );
            if u < res && v < res {
                hit[v * res + u] = true;
            }
        }
        hit.iter().filter(|h| **h).count() as f32 / (res * res) as f32
    }
}

/// Bounding box of points → (x0, y0, 1/width, 1/height), or None if degenerate.
fn frame(pts: &[(f32, f32, u8)]) -> Option<(f32, f32, f32, f32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (x, y, _) in pts {
        if !x.is_finite() || !y.is_finite() {
            return None;
        }
        x0 = x0.min(*x);
        y0 = y0.min(*y);
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    let (w, h) = (x1 - x0, y1 - y0);
    if !(w > 1e-6 && h > 1e-6) {
        return None;
    }
    // Keep the aspect ratio: scale both axes by the larger extent, centred.
    let s = w.max(h) * 1.0001;
    Some((x0 - (s - w) * 0.5, y0 - (s - h) * 0.5, 1.0 / s, 1.0 / s))
}

/// The IFS of category `class`: the first random system (in a stream fixed by
/// `seed` and `class`) whose filling rate reaches `threshold`.
pub fn category(seed: u64, class: u64, threshold: f32) -> Ifs {
    let mut rng = Rng::for_item(seed, STREAM, class);
    let mut best: Option<(f32, Ifs)> = None;
    for _ in 0..400 {
        let ifs = Ifs::sample(&mut rng);
        let fill = ifs.fill_rate(32);
        if fill >= threshold {
            return ifs;
        }
        if best.as_ref().is_none_or(|(f, _)| fill > *f) {
            best = Some((fill, ifs));
        }
    }
    // Extremely unlikely: fall back to the fullest system seen.
    best.map(|(_, i)| i)
        .unwrap_or_else(|| Ifs::sample(&mut rng))
}

/// Instance `index` of a category: one parameter of one map scaled by a
/// weight in 0.8..=1.2 (index 0 is the category itself), re-drawn while it
/// stops being contractive.
pub fn instance(cat: &Ifs, rng: &mut Rng, index: u64) -> Ifs {
    if index == 0 {
        return cat.clone();
    }
    for _ in 0..16 {
        let mut maps = cat.maps.clone();
        let mi = rng.below(maps.len());
        let pi = rng.below(6);
        let weight = 0.8 + 0.05 * rng.below(9) as f32;
        if let (Some(m), true) = (maps.get_mut(mi), pi < 6) {
            *m.params_mut()[pi] *= weight;
            if m.spectral_norm() < 0.98 && m.det().abs() > 0.01 {
                return Ifs::with_probs(maps);
            }
        }
    }
    cat.clone()
}

/// One rendered instance with the IFS that made it.
pub struct FractalSample {
    pub image: RgbImage,
    pub ifs: Ifs,
}

/// Render instance `index` of category `class` at `size` x `size`.
pub fn render(seed: u64, class: u64, index: u64, size: u32, threshold: f32) -> FractalSample {
    let cat = category(seed, class, threshold);
    let (image, ifs) = render_with(&cat, seed, class, index, size);
    FractalSample { image, ifs }
}

/// Render instance `index` of an already-chosen category (see [`category`]).
pub fn render_instance(cat: &Ifs, seed: u64, class: u64, index: u64, size: u32) -> RgbImage {
    render_with(cat, seed, class, index, size).0
}

fn render_with(cat: &Ifs, seed: u64, class: u64, index: u64, size: u32) -> (RgbImage, Ifs) {
    let mut rng = Rng::for_item(
        seed ^ 0x1F1F,
        STREAM,
        class.wrapping_mul(1_000_003).wrapping_add(index),
    );
    let ifs = instance(cat, &mut rng, index);
    let image = draw(&ifs, &mut rng, size.max(8) as usize);
    (image, ifs)
}

/// Chaos game at 2x resolution, log-density tone mapping, colour per map.
fn draw(ifs: &Ifs, rng: &mut Rng, n: usize) -> RgbImage {
    let hi = n * 2;
    let pts = ifs.points(rng, hi * hi * 3);
    let palette: Vec<_> = (0..ifs.maps.len())
        .map(|_| {
            lin(
                rng.range(60.0, 255.0) as u8,
                rng.range(60.0, 255.0) as u8,
                rng.range(60.0, 255.0) as u8,
            )
        })
        .collect();
    let flip = (rng.chance(0.5), rng.chance(0.5));
    let mut count = vec![0.0f32; hi * hi];
    let mut col = vec![v3(0.0, 0.0, 0.0); hi * hi];
    if let Some((x0, y0, sx, sy)) = frame(&pts) {
        let margin = 0.06;
        let span = (1.0 - 2.0 * margin) * hi as f32;
        for (x, y, m) in &pts {
            let mut u = (x - x0) * sx;
            let mut v = (y - y0) * sy;
            if flip.0 {
                u = 1.0 - u;
            }
            if !flip.1 {
                v = 1.0 - v; // y up in the IFS plane
            }
            let (px, py) = (
                (margin * hi as f32 + u * span) as usize,
                (margin * hi as f32 + v * span) as usize,
            );
            if px < hi && py < hi {
                let i = py * hi + px;
                count[i] += 1.0;
                col[i] = col[i] + palette[*m as usize % palette.len()];
            }
        }
    }
    let max = count.iter().copied().fold(1.0f32, f32::max);
    let lmax = libm::log1pf(max);
    let mut c = Canvas::new(n, n, v3(0.0, 0.0, 0.0));
    for y in 0..n {
        for x in 0..n {
            let mut acc = v3(0.0, 0.0, 0.0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let i = (2 * y + dy) * hi + 2 * x + dx;
                if count[i] > 0.0 {
                    let tone = libm::log1pf(count[i]) / lmax;
                    acc = acc + col[i] * (1.0 / count[i]) * (0.25 + 0.75 * tone);
                }
            }
            c.px[y * n + x] = acc * 0.25;
        }
    }
    RgbImage::from_raw(n as u32, n as u32, c.to_srgb8())
        .unwrap_or_else(|| RgbImage::new(n as u32, n as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_pass_the_fill_rule_and_are_contractive() {
        for class in 0..6 {
            let ifs = category(3, class, FILL_THRESHOLD);
            assert!(ifs.fill_rate(32) >= FILL_THRESHOLD);
            assert!(ifs.maps.iter().all(|m| m.spectral_norm() < 0.95));
            let p: f32 = ifs.probs.iter().sum();
            assert!((p - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn instances_differ_but_share_the_category() {
        let a = render(3, 1, 1, 32, FILL_THRESHOLD);
        let b = render(3, 1, 2, 32, FILL_THRESHOLD);
        assert_eq!(a.ifs.maps.len(), b.ifs.maps.len());
        assert_ne!(a.image.as_raw(), b.image.as_raw());
    }
}
