//! A pinhole camera above a flat ground plane (y = 0), pitched down.
use crate::synth::math::{v3, V3};
use crate::synth::rng::Rng;

#[derive(Clone, Debug)]
pub struct View {
    pub size: f32,
    /// Camera height (m), pitch below horizontal (rad), focal length (px).
    pub height: f32,
    pub tilt: f32,
    pub focal: f32,
    pub roll: f32,
    sin_roll: f32,
    cos_roll: f32,
    fwd: V3,
    up: V3,
}

impl View {
    pub fn sample(rng: &mut Rng, size: usize) -> View {
        let sz = size as f32;
        // Long-tailed height: street level to rooftop and drone views.
        let height = libm::expf(rng.range(libm::logf(2.5), libm::logf(40.0)));
        let tilt = rng.range(0.12, 1.05);
        let fov = rng.range(0.6, 1.25);
        let focal = sz * 0.5 / libm::tanf(fov * 0.5);
        Self::new(sz, height, tilt, focal, rng.range(-0.05, 0.05))
    }

    pub fn new(size: f32, height: f32, tilt: f32, focal: f32, roll: f32) -> View {
        let (s, c) = (libm::sinf(tilt), libm::cosf(tilt));
        View {
            size,
            height,
            tilt,
            focal,
            roll,
            sin_roll: libm::sinf(roll),
            cos_roll: libm::cosf(roll),
            fwd: v3(0.0, -s, c),
            up: v3(0.0, c, s),
        }
    }

    /// World point → (image x, image y, camera depth). Depth <= 0 is behind.
    pub fn project(&self, p: V3) -> (f32, f32, f32) {
        let d = p - v3(0.0, self.height, 0.0);
        let zc = d.dot(self.fwd);
        let xc = d.x;
        let yc = d.dot(self.up);
        if zc <= 1e-3 {
            return (f32::NAN, f32::NAN, zc);
        }
        let (u, v) = (self.focal * xc / zc, -self.focal * yc / zc);
        let (sr, cr) = (self.sin_roll, self.cos_roll);
        let c = self.size * 0.5;
        (c + u * cr - v * sr, c + u * sr + v * cr, zc)
    }

    /// Pixels per metre for an object at camera depth `zc`.
    pub fn px_per_m(&self, zc: f32) -> f32 {
        self.focal / zc.max(1e-3)
    }

    /// Ray through image point → ground point (x, z) and distance, if the
    /// ray goes down.
    pub fn ground_at(&self, x: f32, y: f32) -> Option<(f32, f32, f32)> {
        let c = self.size * 0.5;
        let (dx, dy) = (x - c, y - c);
        let (sr, cr) = (self.sin_roll, self.cos_roll);
        let (u, v) = (dx * cr + dy * sr, -dx * sr + dy * cr);
        let dir = self.fwd + v3(u / self.focal, 0.0, 0.0) - self.up * (v / self.focal);
        if dir.y >= -1e-4 {
            return None;
        }
        let t = self.height / -dir.y;
        let p = dir * t;
        Some((p.x, p.z, t * dir.len()))
    }

    /// Image row of the horizon (may lie above the image).
    pub fn horizon_y(&self) -> f32 {
        self.size * 0.5 - self.focal * libm::tanf(self.tilt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ground_back_projection_inverts_projection() {
        let v = View::new(128.0, 8.0, 0.5, 100.0, 0.02);
        for (x, y) in [(10.0, 100.0), (64.0, 64.0), (120.0, 127.0)] {
            let (gx, gz, _) = v.ground_at(x, y).expect("looks down");
            let (px, py, _) = v.project(v3(gx, 0.0, gz));
            assert!(
                (px - x).abs() < 0.5 && (py - y).abs() < 0.5,
                "{x},{y} -> {px},{py}"
            );
        }
    }
}
