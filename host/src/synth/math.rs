//! Small vector math and noise shared by the generators.
//!
//! Only `+ - * /`, `sqrt` (IEEE-exact) and `libm` are used, so results are the
//! same on every machine.
use core::ops::{Add, Mul, Neg, Sub};

use super::rng::hash2;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct V3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

pub const fn v3(x: f32, y: f32, z: f32) -> V3 {
    V3 { x, y, z }
}

impl V3 {
    pub fn dot(self, o: V3) -> f32 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }
    pub fn cross(self, o: V3) -> V3 {
        v3(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }
    pub fn len(self) -> f32 {
        self.dot(self).sqrt()
    }
    pub fn norm(self) -> V3 {
        let l = self.len();
        if l > 0.0 {
            self * (1.0 / l)
        } else {
            self
        }
    }
    /// Component-wise product.
    pub fn cmul(self, o: V3) -> V3 {
        v3(self.x * o.x, self.y * o.y, self.z * o.z)
    }
}

impl Add for V3 {
    type Output = V3;
    fn add(self, o: V3) -> V3 {
        v3(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}
impl Sub for V3 {
    type Output = V3;
    fn sub(self, o: V3) -> V3 {
        v3(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}
impl Mul<f32> for V3 {
    type Output = V3;
    fn mul(self, s: f32) -> V3 {
        v3(self.x * s, self.y * s, self.z * s)
    }
}
impl Neg for V3 {
    type Output = V3;
    fn neg(self) -> V3 {
        v3(-self.x, -self.y, -self.z)
    }
}

/// A 3x3 rotation stored by rows.
#[derive(Clone, Copy, Debug)]
pub struct M3 {
    pub r: [V3; 3],
}

impl M3 {
    /// Head pose: yaw about y, then pitch about x, then roll about z (radians).
    pub fn from_ypr(yaw: f32, pitch: f32, roll: f32) -> M3 {
        let (sy, cy) = (libm::sinf(yaw), libm::cosf(yaw));
        let (sp, cp) = (libm::sinf(pitch), libm::cosf(pitch));
        let (sr, cr) = (libm::sinf(roll), libm::cosf(roll));
        let ry = M3 {
            r: [v3(cy, 0.0, sy), v3(0.0, 1.0, 0.0), v3(-sy, 0.0, cy)],
        };
        let rx = M3 {
            r: [v3(1.0, 0.0, 0.0), v3(0.0, cp, -sp), v3(0.0, sp, cp)],
        };
        let rz = M3 {
            r: [v3(cr, -sr, 0.0), v3(sr, cr, 0.0), v3(0.0, 0.0, 1.0)],
        };
        rz.compose(&rx.compose(&ry))
    }
    pub fn apply(&self, v: V3) -> V3 {
        v3(self.r[0].dot(v), self.r[1].dot(v), self.r[2].dot(v))
    }
    pub fn transpose(&self) -> M3 {
        let [a, b, c] = self.r;
        M3 {
            r: [v3(a.x, b.x, c.x), v3(a.y, b.y, c.y), v3(a.z, b.z, c.z)],
        }
    }
    pub fn compose(&self, o: &M3) -> M3 {
        let t = o.transpose();
        let row = |a: V3| v3(a.dot(t.r[0]), a.dot(t.r[1]), a.dot(t.r[2]));
        M3 {
            r: [row(self.r[0]), row(self.r[1]), row(self.r[2])],
        }
    }
}

pub fn clamp01(x: f32) -> f32 {
    x.clamp(0.0, 1.0)
}

pub fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

pub fn mix3(a: V3, b: V3, t: f32) -> V3 {
    a + (b - a) * t
}

/// Hermite step from 0 at `e0` to 1 at `e1`.
pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = clamp01((x - e0) / (e1 - e0));
    t * t * (3.0 - 2.0 * t)
}

/// Anti-aliased coverage of a shape from its signed distance in pixels
/// (negative inside): a one-pixel-wide linear ramp centred on the edge.
pub fn coverage(sd_px: f32) -> f32 {
    clamp01(0.5 - sd_px)
}

/// Floor to an integer without a libm call (exact for |x| < 2^31).
#[inline]
pub fn ifloor(x: f32) -> i32 {
    let i = x as i32;
    i - ((x < i as f32) as i32)
}

/// Smooth 2D value noise in `[0, 1)`.
pub fn value_noise(seed: u32, x: f32, y: f32) -> f32 {
    let (ix, iy) = (ifloor(x), ifloor(y));
    let (xf, yf) = (ix as f32, iy as f32);
    let (fx, fy) = (x - xf, y - yf);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let a = hash2(seed, ix, iy);
    let b = hash2(seed, ix + 1, iy);
    let c = hash2(seed, ix, iy + 1);
    let d = hash2(seed, ix + 1, iy + 1);
    lerp(lerp(a, b, sx), lerp(c, d, sx), sy)
}

/// Fractal sum of value noise, roughly in `[0, 1)`.
pub fn fbm(seed: u32, x: f32, y: f32, octaves: u32) -> f32 {
    let (mut sum, mut amp, mut freq, mut norm) = (0.0, 0.5, 1.0, 0.0);
    for o in 0..octaves {
        sum += amp * value_noise(seed.wrapping_add(o * 7919), x * freq, y * freq);
        norm += amp;
        amp *= 0.5;
        freq *= 2.03;
    }
    sum / norm
}

/// Distance from `p` to segment `ab` in 2D, and the parameter along it.
pub fn seg_dist(px: f32, py: f32, ax: f32, ay: f32, bx: f32, by: f32) -> (f32, f32) {
    let (dx, dy) = (bx - ax, by - ay);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 {
        clamp01(((px - ax) * dx + (py - ay) * dy) / l2)
    } else {
        0.0
    };
    let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
    ((qx * qx + qy * qy).sqrt(), t)
}

/// Colour from 0..255 sRGB components into linear-ish working space.
pub fn rgb(r: u8, g: u8, b: u8) -> V3 {
    v3(r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_is_orthonormal() {
        let m = M3::from_ypr(0.3, -0.2, 0.1);
        let p = m.compose(&m.transpose());
        for (i, row) in p.r.iter().enumerate() {
            let e = [row.x, row.y, row.z];
            for (j, v) in e.iter().enumerate() {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn noise_is_bounded() {
        for i in 0..500 {
            let v = fbm(3, i as f32 * 0.37, i as f32 * 0.11, 4);
            assert!((0.0..1.0).contains(&v));
        }
    }
}
