//! The stage: sky, a skyline of buildings or trees at the horizon, and a
//! textured ground (tiles, asphalt with markings, grass, stone slabs) whose
//! pattern lives in world coordinates and fades as it gets finer than a pixel.
use super::view::View;
use super::Light;
use crate::synth::math::{clamp01, fbm, mix3, smoothstep, value_noise, V3};
use crate::synth::raster::{lin, Canvas};
use crate::synth::rng::{hash2, Rng};

pub struct Ground {
    kind: usize,
    base: V3,
    alt: V3,
    tile: f32,
    seed: u32,
    skyline: V3,
    trees: bool,
    stripe_dir: f32,
}

impl Ground {
    pub fn sample(rng: &mut Rng) -> Ground {
        let kind = rng.weighted(&[0.35, 0.25, 0.15, 0.25]);
        // Paving is grey to beige: a grey level with a small warm or cool tint.
        let mut paving = |lo: f32, hi: f32| {
            let g = rng.range(lo, hi);
            let t = rng.range(-0.06, 0.08);
            lin(
                (g * (1.0 + t)).min(255.0) as u8,
                g as u8,
                (g * (1.0 - t)).max(0.0) as u8,
            )
        };
        let (base, alt) = match kind {
            0 => (paving(120.0, 190.0), paving(90.0, 170.0)),
            1 => (lin(70, 72, 75) * rng.range(0.7, 1.3), lin(220, 220, 215)),
            2 => (lin(70, 105, 50) * rng.range(0.7, 1.2), lin(150, 130, 100)),
            _ => (paving(140.0, 200.0), lin(100, 95, 90)),
        };
        Ground {
            kind,
            base,
            alt,
            tile: rng.range(0.4, 1.2) * if kind == 3 { 2.5 } else { 1.0 },
            seed: rng.next_u64() as u32,
            skyline: lin(
                rng.range(80.0, 200.0) as u8,
                rng.range(80.0, 190.0) as u8,
                rng.range(80.0, 190.0) as u8,
            ),
            trees: rng.chance(0.3),
            stripe_dir: rng.range(0.0, core::f32::consts::PI),
        }
    }

    /// Albedo of the ground at world (x, z), with `fp` metres per pixel.
    fn albedo(&self, x: f32, z: f32, fp: f32) -> V3 {
        let big = fbm(self.seed, x * 0.08, z * 0.08, 2);
        let fine = value_noise(self.seed ^ 3, x * 6.0, z * 6.0);
        let fine_w = 1.0 - smoothstep(0.05, 0.3, fp);
        let mut col = self.base * (0.8 + 0.4 * big) * (1.0 + 0.15 * (fine - 0.5) * fine_w);
        let pattern_w = 1.0 - smoothstep(self.tile * 0.12, self.tile * 0.45, fp);
        match self.kind {
            0 | 3 => {
                // Tiles with grout lines; alternate tiles slightly different.
                let (u, v) = (x / self.tile, z / self.tile);
                let (fu, fv) = (u - u.floor(), v - v.floor());
                let d = fu.min(1.0 - fu).min(fv.min(1.0 - fv)) * self.tile;
                let grout = 1.0 - smoothstep(0.0, 0.02 + fp * 0.5, d);
                let t = hash2(self.seed, u.floor() as i32, v.floor() as i32);
                col = mix3(col, self.alt * (0.8 + 0.4 * big), (t * 0.5) * pattern_w);
                col = col * (1.0 - 0.35 * grout * pattern_w);
            }
            1 => {
                // Asphalt with a few painted stripes.
                let (s, c) = (libm::sinf(self.stripe_dir), libm::cosf(self.stripe_dir));
                let a = x * c + z * s;
                let fa = (a / 1.0) - (a / 1.0).floor();
                let stripe = smoothstep(0.55, 0.55 + fp.min(0.3), fa)
                    * (1.0 - smoothstep(0.95, 0.95 + fp.min(0.3), fa));
                let band = ((x * -s + z * c) / 6.0).floor() as i32 % 5 == 0;
                if band {
                    col = mix3(
                        col,
                        self.alt * 0.7,
                        stripe * 0.6 * (1.0 - smoothstep(0.3, 1.5, fp)),
                    );
                }
            }
            _ => {
                // Grass with worn sandy paths.
                let path = smoothstep(0.55, 0.6, fbm(self.seed ^ 77, x * 0.1, z * 0.1, 2));
                let blades = value_noise(self.seed ^ 5, x * 20.0, z * 20.0);
                col = col * (0.85 + 0.3 * blades * fine_w);
                col = mix3(col, self.alt, path);
            }
        }
        col
    }

    /// Paint sky, skyline and ground; fills `dist` with each ground pixel's
    /// distance (0 for sky).
    pub fn paint(&self, c: &mut Canvas, view: &View, l: &Light) {
        let (w, h) = (c.w, c.h);
        let hy = view.horizon_y();
        let sky_top = l.sky * 0.8;
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                match view.ground_at(fx, fy) {
                    Some((gx, gz, dist)) if fy > hy + 0.5 => {
                        // Metres per pixel: grows with distance and grazing angle.
                        let fp = dist / view.focal * (dist / view.height).min(20.0);
                        let alb = self.albedo(gx, gz, fp);
                        let col = alb.cmul(l.ambient + l.key * l.sun.y.max(0.0));
                        c.px[i] = mix3(col, l.haze, l.haze_at(dist));
                    }
                    _ => {
                        let t = clamp01((hy - fy) / (h as f32 * 0.8));
                        c.px[i] = mix3(l.haze, sky_top, t);
                    }
                }
            }
        }
        // Skyline above the horizon: buildings with windows, or tree lines.
        if hy > 1.0 {
            let far_haze = 0.35;
            for x in 0..w {
                let fx = x as f32;
                let bw = 6.0 + 10.0 * hash2(self.seed ^ 11, (fx / 9.0) as i32, 0);
                let col_id = (fx / bw) as i32;
                let bh = if self.trees {
                    (4.0 + 6.0 * value_noise(self.seed ^ 13, fx * 0.15, 0.0)) * (h as f32 / 128.0)
                } else {
                    (6.0 + 40.0 * hash2(self.seed ^ 12, col_id, 1)) * (h as f32 / 128.0)
                };
                let facade = if self.trees {
                    lin(50, 80, 45)
                } else {
                    self.skyline * (0.6 + 0.6 * hash2(self.seed ^ 14, col_id, 2))
                };
                let top = hy - bh;
                for y in 0..h {
                    let fy = y as f32 + 0.5;
                    if fy > hy + 0.5 || fy < top {
                        continue;
                    }
                    let i = y * w + x;
                    let mut col = facade.cmul(l.ambient + l.key * 0.5);
                    if !self.trees && (x % 3 == 1) && (y % 3 == 1) {
                        col = col * 0.55;
                    }
                    let a = clamp01(fy - top);
                    c.blend(i, mix3(col, l.haze, far_haze), a);
                }
            }
        }
    }
}

/// Darken the ground by shadow occupancy (already blurred), once per pixel.
pub fn apply_shadows(c: &mut Canvas, occ: &[f32], strength: f32) {
    for (p, o) in c.px.iter_mut().zip(occ) {
        *p = *p * (1.0 - strength * o);
    }
}
