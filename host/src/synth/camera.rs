//! Camera effects: what separates a render from a photograph at this size.
//!
//! Lens blur, exposure and white balance, vignetting, sensor noise, and JPEG
//! block artifacts (an 8x8 DCT quantised with a frequency-dependent step, so
//! no codec dependency is needed and the bytes stay deterministic).
use std::sync::OnceLock;

use super::math::{clamp01, v3, V3};
use super::raster::{blur_canvas, Canvas};
use super::rng::{hash2u, Rng};

/// One draw of camera settings.
#[derive(Clone, Debug)]
pub struct Effects {
    /// 0 = sharp, 1 = a full 1-pixel box blur.
    pub blur: f32,
    /// Exposure gain in linear light.
    pub gain: f32,
    /// White-balance multipliers.
    pub white: V3,
    /// Corner darkening fraction.
    pub vignette: f32,
    /// Noise standard deviation in 8-bit display units.
    pub noise: f32,
    /// JPEG-like quality 10..95, or `None` for no compression.
    pub jpeg: Option<u32>,
    /// Seed for the per-pixel noise.
    pub noise_seed: u32,
    /// Lateral chromatic aberration: red and blue are magnified apart by
    /// this many pixels at the image corner (cheap lenses fringe edges).
    pub fringe: f32,
}

impl Effects {
    pub fn sample(rng: &mut Rng) -> Self {
        let temp = rng.range(-1.0, 1.0) * 0.08;
        Effects {
            blur: if rng.chance(0.6) {
                rng.range(0.0, 0.8)
            } else {
                0.0
            },
            gain: libm::exp2f(rng.range(-0.7, 0.6)),
            white: v3(1.0 + temp, 1.0 + rng.range(-0.03, 0.03), 1.0 - temp),
            vignette: rng.range(0.0, 0.35),
            noise: rng.range(0.5, 6.0) * if rng.chance(0.2) { 1.8 } else { 1.0 },
            jpeg: if rng.chance(0.65) {
                Some(rng.range(40.0, 92.0) as u32)
            } else {
                None
            },
            noise_seed: rng.next_u64() as u32,
            fringe: if rng.chance(0.5) {
                rng.range(0.2, 0.9)
            } else {
                0.0
            },
        }
    }

    /// Apply to a linear canvas and encode as 8-bit sRGB-like RGB.
    pub fn apply(&self, canvas: &Canvas) -> Vec<u8> {
        let (w, h) = (canvas.w, canvas.h);
        let mut c = canvas.clone();
        if self.blur > 0.0 {
            let mut b = c.clone();
            blur_canvas(&mut b, 1, 1);
            for (p, q) in c.px.iter_mut().zip(&b.px) {
                *p = *p + (*q - *p) * self.blur;
            }
        }
        let (cx, cy) = (w as f32 * 0.5, h as f32 * 0.5);
        let r2 = 1.0 / (cx * cx + cy * cy);
        if self.fringe > 0.0 {
            c = fringe(&c, self.fringe / (cx * cx + cy * cy).sqrt());
        }
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                let v = 1.0 - self.vignette * (dx * dx + dy * dy) * r2;
                let p = &mut c.px[y * w + x];
                *p = p.cmul(self.white) * (self.gain * v);
                // Soft highlight roll-off instead of hard clipping.
                for ch in [&mut p.x, &mut p.y, &mut p.z] {
                    if *ch > 0.8 {
                        *ch = 0.8 + 0.2 * (1.0 - 1.0 / (1.0 + 5.0 * (*ch - 0.8)));
                    }
                }
            }
        }
        let mut bytes: Vec<f32> = c.to_srgb8().into_iter().map(|b| b as f32).collect();
        // Sensor noise: luma-heavy, a little chroma. Each hash gives two
        // 16-bit uniforms whose sum is a cheap bell-shaped sample.
        let bell = |h: u32| {
            let (a, b) = ((h & 0xffff) as f32, (h >> 16) as f32);
            (a + b) * (1.0 / 65536.0) - 1.0
        };
        for (i, px) in bytes.chunks_exact_mut(3).enumerate() {
            let (x, y) = ((i % w) as i32, (i / w) as i32);
            let luma = bell(hash2u(self.noise_seed, x, y)) * self.noise * 1.7;
            for (k, ch) in px.iter_mut().enumerate() {
                let chroma = bell(hash2u(self.noise_seed.wrapping_add(1 + k as u32), x, y));
                let shot = 0.5 + 0.5 * (*ch / 255.0);
                *ch += (luma + chroma * self.noise * 0.6) * shot;
            }
        }
        if let Some(q) = self.jpeg {
            jpeg_like(&mut bytes, w, h, q);
        }
        bytes
            .into_iter()
            .map(|v| (v + 0.5).clamp(0.0, 255.0) as u8)
            .collect()
    }
}

/// Resample red magnified by `1 + k` and blue by `1 - k` about the centre
/// (bilinear), leaving green: colour fringes that grow toward the corners.
fn fringe(c: &Canvas, k: f32) -> Canvas {
    let (w, h) = (c.w, c.h);
    let (cx, cy) = (w as f32 * 0.5, h as f32 * 0.5);
    let sample = |x: f32, y: f32, ch: usize| -> f32 {
        let x = x.clamp(0.0, (w - 1) as f32);
        let y = y.clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let g = |xx: usize, yy: usize| {
            let p = c.px[yy * w + xx];
            [p.x, p.y, p.z][ch]
        };
        let top = g(x0, y0) + (g(x1, y0) - g(x0, y0)) * fx;
        let bot = g(x0, y1) + (g(x1, y1) - g(x0, y1)) * fx;
        top + (bot - top) * fy
    };
    let mut out = c.clone();
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let at = |s: f32| (cx + dx * s - 0.5, cy + dy * s - 0.5);
            let (rx, ry) = at(1.0 - k);
            let (bx, by) = at(1.0 + k);
            let p = &mut out.px[y * w + x];
            p.x = sample(rx, ry, 0);
            p.z = sample(bx, by, 2);
        }
    }
    out
}

fn dct_basis() -> &'static [[f32; 8]; 8] {
    static T: OnceLock<[[f32; 8]; 8]> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = [[0.0f32; 8]; 8];
        for (k, row) in t.iter_mut().enumerate() {
            let s = if k == 0 { (1.0f32 / 8.0).sqrt() } else { 0.5 };
            for (n, v) in row.iter_mut().enumerate() {
                *v = s * libm::cosf(core::f32::consts::PI * (2 * n + 1) as f32 * k as f32 / 16.0);
            }
        }
        t
    })
}

/// Quantise 8x8 DCT blocks of YCbCr planes (in place on interleaved RGB
/// floats in 0..255). Chroma gets coarser steps, as real encoders do.
fn jpeg_like(rgb: &mut [f32], w: usize, h: usize, quality: u32) {
    let q = quality.clamp(1, 100) as f32;
    let scale = if q < 50.0 {
        50.0 / q
    } else {
        (100.0 - q) / 50.0 + 0.02
    };
    let n = w * h;
    let mut planes = [vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]];
    for i in 0..n {
        let (r, g, b) = (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
        planes[0][i] = 0.299 * r + 0.587 * g + 0.114 * b - 128.0;
        planes[1][i] = -0.1687 * r - 0.3313 * g + 0.5 * b;
        planes[2][i] = 0.5 * r - 0.4187 * g - 0.0813 * b;
    }
    let t = dct_basis();
    for (pi, plane) in planes.iter_mut().enumerate() {
        let chroma = if pi == 0 { 1.0 } else { 1.8 };
        for by in (0..h).step_by(8) {
            for bx in (0..w).step_by(8) {
                let mut blk = [[0.0f32; 8]; 8];
                for (y, row) in blk.iter_mut().enumerate() {
                    for (x, v) in row.iter_mut().enumerate() {
                        let (xx, yy) = ((bx + x).min(w - 1), (by + y).min(h - 1));
                        *v = plane[yy * w + xx];
                    }
                }
                let mut coef = dct2(&blk, t, false);
                for (u, row) in coef.iter_mut().enumerate() {
                    for (v, c) in row.iter_mut().enumerate() {
                        let step = ((8.0 + 5.5 * (u + v) as f32) * scale * chroma).max(1.0);
                        *c = (*c / step).round() * step;
                    }
                }
                let out = dct2(&coef, t, true);
                for (y, row) in out.iter().enumerate() {
                    for (x, v) in row.iter().enumerate() {
                        let (xx, yy) = (bx + x, by + y);
                        if xx < w && yy < h {
                            plane[yy * w + xx] = *v;
                        }
                    }
                }
            }
        }
    }
    for i in 0..n {
        let (y, cb, cr) = (planes[0][i] + 128.0, planes[1][i], planes[2][i]);
        rgb[3 * i] = y + 1.402 * cr;
        rgb[3 * i + 1] = y - 0.344_14 * cb - 0.714_14 * cr;
        rgb[3 * i + 2] = y + 1.772 * cb;
    }
}

/// Separable 2D DCT-II (or its inverse) of an 8x8 block with the orthonormal basis `t`.
fn dct2(b: &[[f32; 8]; 8], t: &[[f32; 8]; 8], inverse: bool) -> [[f32; 8]; 8] {
    let mut tmp = [[0.0f32; 8]; 8];
    let mut out = [[0.0f32; 8]; 8];
    // Rows: tmp[y][k] = sum_x basis(k, x) * b[y][x].
    for y in 0..8 {
        for k in 0..8 {
            let mut s = 0.0;
            for x in 0..8 {
                s += if inverse { t[x][k] } else { t[k][x] } * b[y][x];
            }
            tmp[y][k] = s;
        }
    }
    for k in 0..8 {
        for j in 0..8 {
            let mut s = 0.0;
            for y in 0..8 {
                s += if inverse { t[y][j] } else { t[j][y] } * tmp[y][k];
            }
            out[j][k] = s;
        }
    }
    out
}

/// Luma of a linear colour.
pub fn luma(c: V3) -> f32 {
    clamp01(0.2126 * c.x + 0.7152 * c.y + 0.0722 * c.z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_like_keeps_flat_blocks_flat() {
        let mut buf = vec![100.0f32; 16 * 16 * 3];
        jpeg_like(&mut buf, 16, 16, 30);
        assert!(buf.iter().all(|v| (v - 100.0).abs() < 3.0));
    }
}
