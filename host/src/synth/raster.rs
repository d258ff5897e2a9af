//! Anti-aliased 2D rasterization on a floating-point canvas.
//!
//! Shapes are drawn by visiting the pixels of their bounding box and computing
//! an analytic coverage from the signed distance to the edge, which gives soft,
//! photo-like edges at a fraction of the cost of supersampling. Callers receive
//! `(pixel index, coverage, extra)` and decide what to do with it, so the same
//! rasterizer writes colours, masks, depth tests and id buffers.
use std::sync::OnceLock;

use super::math::{clamp01, seg_dist, v3, V3};

/// A linear-light RGB image in `f32`, row-major.
#[derive(Clone)]
pub struct Canvas {
    pub w: usize,
    pub h: usize,
    pub px: Vec<V3>,
}

impl Canvas {
    pub fn new(w: usize, h: usize, fill: V3) -> Self {
        Canvas {
            w,
            h,
            px: vec![fill; w * h],
        }
    }

    /// Alpha-blend `c` over pixel `i`.
    #[inline]
    pub fn blend(&mut self, i: usize, c: V3, a: f32) {
        let p = &mut self.px[i];
        *p = *p + (c - *p) * a;
    }

    /// Encode to 8-bit sRGB, row-major RGB triples.
    pub fn to_srgb8(&self) -> Vec<u8> {
        let lut = srgb_lut();
        let mut out = Vec::with_capacity(self.w * self.h * 3);
        for p in &self.px {
            for c in [p.x, p.y, p.z] {
                let i = (clamp01(c) * (LUT_N - 1) as f32 + 0.5) as usize;
                out.push(lut[i.min(LUT_N - 1)]);
            }
        }
        out
    }
}

const LUT_N: usize = 4096;

/// Linear → sRGB-like (gamma 2.2) table, built once with `libm`.
fn srgb_lut() -> &'static [u8; LUT_N] {
    static LUT: OnceLock<[u8; LUT_N]> = OnceLock::new();
    LUT.get_or_init(|| {
        let mut t = [0u8; LUT_N];
        for (i, v) in t.iter_mut().enumerate() {
            let x = i as f32 / (LUT_N - 1) as f32;
            *v = (libm::powf(x, 1.0 / 2.2) * 255.0 + 0.5) as u8;
        }
        t
    })
}

/// sRGB-like 8-bit colour → linear light.
pub fn lin(r: u8, g: u8, b: u8) -> V3 {
    let f = |c: u8| libm::powf(c as f32 / 255.0, 2.2);
    v3(f(r), f(g), f(b))
}

/// Linear value of an sRGB-like component in `[0, 1]`.
pub fn lin1(c: f32) -> f32 {
    libm::powf(clamp01(c), 2.2)
}

/// Clipped integer bounding box `[x0, x1) x [y0, y1)` of a float box.
fn bbox(
    w: usize,
    h: usize,
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
) -> Option<(usize, usize, usize, usize)> {
    let fx0 = x0.floor().max(0.0);
    let fy0 = y0.floor().max(0.0);
    let fx1 = (x1.ceil() + 1.0).min(w as f32);
    let fy1 = (y1.ceil() + 1.0).min(h as f32);
    if !(fx1 > fx0 && fy1 > fy0) {
        return None;
    }
    Some((fx0 as usize, fy0 as usize, fx1 as usize, fy1 as usize))
}

/// A thick line with round caps: calls `f(index, coverage, t, offset)` where
/// `t` in [0,1] runs along the segment and `offset` in [-1,1] across it
/// (useful for cylinder shading). `soft` widens the edge ramp (blur, pixels).
#[allow(clippy::too_many_arguments)]
pub fn capsule(
    w: usize,
    h: usize,
    a: (f32, f32),
    b: (f32, f32),
    r: f32,
    soft: f32,
    mut f: impl FnMut(usize, f32, f32, f32),
) {
    let pad = r + soft + 1.0;
    let Some((x0, y0, x1, y1)) = bbox(
        w,
        h,
        a.0.min(b.0) - pad,
        a.1.min(b.1) - pad,
        a.0.max(b.0) + pad,
        a.1.max(b.1) + pad,
    ) else {
        return;
    };
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let l = (dx * dx + dy * dy).sqrt();
    let (nx, ny) = if l > 0.0 {
        (-dy / l, dx / l)
    } else {
        (1.0, 0.0)
    };
    let ramp = 1.0 + soft;
    for y in y0..y1 {
        for x in x0..x1 {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let (d, t) = seg_dist(px, py, a.0, a.1, b.0, b.1);
            let c = clamp01((r - d) / ramp + 0.5);
            if c > 0.0 {
                let side = ((px - a.0) * nx + (py - a.1) * ny) / r.max(1e-3);
                f(y * w + x, c, t, side.clamp(-1.0, 1.0));
            }
        }
    }
}

/// An ellipse with centre `c`, semi-axes `(rx, ry)` and rotation `angle`
/// (cos, sin given): calls `f(index, coverage, u, v)` with `(u, v)` the
/// normalised position inside (unit circle at the edge).
#[allow(clippy::too_many_arguments)]
pub fn ellipse(
    w: usize,
    h: usize,
    c: (f32, f32),
    rx: f32,
    ry: f32,
    rot: (f32, f32),
    soft: f32,
    mut f: impl FnMut(usize, f32, f32, f32),
) {
    let rmax = rx.max(ry) + soft + 1.0;
    let Some((x0, y0, x1, y1)) = bbox(w, h, c.0 - rmax, c.1 - rmax, c.0 + rmax, c.1 + rmax) else {
        return;
    };
    let (co, si) = rot;
    let rmin = rx.min(ry).max(1e-3);
    let ramp = 1.0 + soft;
    for y in y0..y1 {
        for x in x0..x1 {
            let (dx, dy) = (x as f32 + 0.5 - c.0, y as f32 + 0.5 - c.1);
            let u = (dx * co + dy * si) / rx.max(1e-3);
            let v = (-dx * si + dy * co) / ry.max(1e-3);
            let q = (u * u + v * v).sqrt();
            // Approximate distance in pixels: radial error scaled by the minor axis.
            let sd = (q - 1.0) * rmin;
            let cov = clamp01(0.5 - sd / ramp);
            if cov > 0.0 {
                f(y * w + x, cov, u, v);
            }
        }
    }
}

/// A filled polygon (any winding, even-odd rule) with anti-aliased edges:
/// calls `f(index, coverage)`.
pub fn polygon(w: usize, h: usize, pts: &[(f32, f32)], soft: f32, mut f: impl FnMut(usize, f32)) {
    if pts.len() < 3 {
        return;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in pts {
        x0 = x0.min(p.0);
        y0 = y0.min(p.1);
        x1 = x1.max(p.0);
        y1 = y1.max(p.1);
    }
    let pad = soft + 1.0;
    let Some((bx0, by0, bx1, by1)) = bbox(w, h, x0 - pad, y0 - pad, x1 + pad, y1 + pad) else {
        return;
    };
    let ramp = 1.0 + soft;
    for y in by0..by1 {
        let py = y as f32 + 0.5;
        for x in bx0..bx1 {
            let px = x as f32 + 0.5;
            let mut inside = false;
            let mut dmin = f32::MAX;
            let mut j = pts.len() - 1;
            for i in 0..pts.len() {
                let (a, b) = (pts[j], pts[i]);
                if (b.1 > py) != (a.1 > py) && px < (a.0 - b.0) * (py - b.1) / (a.1 - b.1) + b.0 {
                    inside = !inside;
                }
                dmin = dmin.min(seg_dist(px, py, a.0, a.1, b.0, b.1).0);
                j = i;
            }
            let sd = if inside { -dmin } else { dmin };
            let cov = clamp01(0.5 - sd / ramp);
            if cov > 0.0 {
                f(y * w + x, cov);
            }
        }
    }
}

/// Separable box blur of radius `r` (pixels) on a scalar field, repeated
/// `passes` times (three passes approximate a Gaussian).
pub fn blur_scalar(buf: &mut [f32], w: usize, h: usize, r: usize, passes: usize) {
    if r == 0 || w == 0 || h == 0 {
        return;
    }
    let mut tmp = vec![0.0f32; buf.len()];
    for _ in 0..passes {
        box_pass(buf, &mut tmp, w, h, r, 1, w);
        box_pass(&tmp, buf, h, w, r, w, 1);
    }
}

/// One 1D box pass along lines of length `n` (element step `step`), with
/// `lines` lines separated by `line_step`; edges clamp.
fn box_pass(
    src: &[f32],
    dst: &mut [f32],
    n: usize,
    lines: usize,
    r: usize,
    step: usize,
    line_step: usize,
) {
    let norm = 1.0 / (2 * r + 1) as f32;
    let last = n - 1;
    for l in 0..lines {
        let base = l * line_step;
        let at = |i: usize| src[base + i * step];
        // Window sum at position 0 with the left edge clamped.
        let mut acc = at(0) * r as f32;
        for i in 0..=r {
            acc += at(i.min(last));
        }
        for i in 0..n {
            dst[base + i * step] = acc * norm;
            let add = (i + r + 1).min(last);
            let sub = i.saturating_sub(r);
            acc += at(add) - at(sub);
        }
    }
}

/// Blur a colour canvas (each channel separately).
pub fn blur_canvas(c: &mut Canvas, r: usize, passes: usize) {
    if r == 0 {
        return;
    }
    let n = c.px.len();
    let mut ch = vec![0.0f32; n];
    for k in 0..3 {
        for (o, p) in ch.iter_mut().zip(&c.px) {
            *o = [p.x, p.y, p.z][k];
        }
        blur_scalar(&mut ch, c.w, c.h, r, passes);
        for (p, v) in c.px.iter_mut().zip(&ch) {
            match k {
                0 => p.x = *v,
                1 => p.y = *v,
                _ => p.z = *v,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_area_matches_coverage_sum() {
        let sq = [(2.0, 2.0), (12.0, 2.0), (12.0, 10.0), (2.0, 10.0)];
        let mut sum = 0.0;
        polygon(16, 16, &sq, 0.0, |_, c| sum += c);
        assert!((sum - 80.0).abs() < 1.0, "sum {sum}");
    }

    #[test]
    fn blur_preserves_mass_away_from_edges() {
        let mut b = vec![0.0f32; 32 * 32];
        b[16 * 32 + 16] = 1.0;
        blur_scalar(&mut b, 32, 32, 2, 3);
        let s: f32 = b.iter().sum();
        assert!((s - 1.0).abs() < 1e-4);
    }
}
