//! Non-person clutter standing on the ground: lamp posts, trees, benches,
//! cars, signs and bins. They occlude people and cast shadows like them.
use super::figures::PROP_ID;
use super::view::View;
use super::Light;
use crate::synth::math::{clamp01, mix3, v3, value_noise, V3};
use crate::synth::raster::{capsule, ellipse, lin, polygon, Canvas};
use crate::synth::rng::Rng;

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Lamp,
    Tree,
    Bench,
    Car,
    Sign,
    Bin,
}

#[derive(Clone, Debug)]
pub struct Prop {
    pub kind: Kind,
    pub x: f32,
    pub z: f32,
    pub yaw: f32,
    pub color: V3,
    pub size: f32,
    pub seed: u32,
}

impl Prop {
    pub fn sample(rng: &mut Rng, x: f32, z: f32) -> Prop {
        let kind = [
            Kind::Lamp,
            Kind::Tree,
            Kind::Bench,
            Kind::Car,
            Kind::Sign,
            Kind::Bin,
        ][rng.weighted(&[0.2, 0.2, 0.15, 0.2, 0.12, 0.13])];
        let color = match kind {
            Kind::Lamp => lin(60, 62, 65),
            Kind::Tree => lin(45, rng.range(70.0, 110.0) as u8, 35),
            Kind::Bench => *rng.pick(&[lin(110, 80, 50), lin(60, 70, 60), lin(140, 140, 140)]),
            Kind::Car => *rng.pick(&[
                lin(200, 200, 205),
                lin(20, 20, 25),
                lin(130, 20, 25),
                lin(30, 50, 110),
                lin(120, 125, 130),
                lin(220, 220, 220),
                lin(60, 70, 60),
            ]),
            Kind::Sign => *rng.pick(&[
                lin(30, 80, 160),
                lin(200, 40, 40),
                lin(240, 200, 40),
                lin(30, 120, 60),
            ]),
            Kind::Bin => *rng.pick(&[lin(40, 60, 40), lin(70, 70, 70), lin(30, 40, 80)]),
        };
        Prop {
            kind,
            x,
            z,
            yaw: rng.range(0.0, core::f32::consts::TAU),
            color,
            size: rng.range(0.8, 1.25),
            seed: rng.next_u64() as u32,
        }
    }

    /// Footprint radius (m) and height (m), for ground shadows.
    pub fn extent(&self) -> (f32, f32) {
        match self.kind {
            Kind::Lamp => (0.1, 4.5 * self.size),
            Kind::Tree => (1.2 * self.size, 5.0 * self.size),
            Kind::Bench => (0.5, 0.8),
            Kind::Car => (1.0, 1.45),
            Kind::Sign => (0.3, 2.4),
            Kind::Bin => (0.3, 0.9),
        }
    }

    pub fn draw(&self, c: &mut Canvas, ids: &mut [u16], view: &View, l: &Light) {
        let base = v3(self.x, 0.0, self.z);
        let (_, _, depth) = view.project(base + v3(0.0, 1.0, 0.0));
        if depth <= 0.2 {
            return;
        }
        let ppm = view.px_per_m(depth);
        let haze = l.haze_at(depth);
        let (w, h) = (c.w, c.h);
        let pr = |q: V3| {
            let (x, y, _) = view.project(q);
            (x, y)
        };
        let put = |c: &mut Canvas, ids: &mut [u16], i: usize, col: V3, cov: f32| {
            c.blend(i, mix3(col, l.haze, haze), cov);
            if cov >= 0.5 {
                ids[i] = PROP_ID;
            }
        };
        let cyl = |col: V3, side: f32| {
            let nz = (1.0 - side * side).max(0.0).sqrt();
            col.cmul(l.ambient + l.key * clamp01(side * l.screen.0 + nz * l.screen.1 * 0.7 + 0.3))
        };
        match self.kind {
            Kind::Lamp => {
                let top = base + v3(0.0, 4.5 * self.size, 0.0);
                capsule(w, h, pr(base), pr(top), 0.07 * ppm, 0.0, |i, cov, _, s| {
                    put(c, ids, i, cyl(self.color, s), cov)
                });
                capsule(
                    w,
                    h,
                    pr(top),
                    pr(top + v3(0.5, -0.1, 0.0)),
                    0.09 * ppm,
                    0.0,
                    |i, cov, _, s| put(c, ids, i, cyl(self.color, s), cov),
                );
            }
            Kind::Sign => {
                let top = base + v3(0.0, 2.4, 0.0);
                capsule(w, h, pr(base), pr(top), 0.04 * ppm, 0.0, |i, cov, _, s| {
                    put(c, ids, i, cyl(lin(120, 120, 120), s), cov)
                });
                let q = [
                    top + v3(-0.35, 0.0, 0.0),
                    top + v3(0.35, 0.0, 0.0),
                    top + v3(0.35, -0.55, 0.0),
                    top + v3(-0.35, -0.55, 0.0),
                ];
                let pts: Vec<(f32, f32)> = q.iter().map(|p| pr(*p)).collect();
                let col = self.color.cmul(l.ambient + l.key * 0.6);
                polygon(w, h, &pts, 0.0, |i, cov| put(c, ids, i, col, cov));
            }
            Kind::Tree => {
                let crown_y = 3.2 * self.size;
                capsule(
                    w,
                    h,
                    pr(base),
                    pr(base + v3(0.0, crown_y, 0.0)),
                    0.16 * self.size * ppm,
                    0.0,
                    |i, cov, _, s| put(c, ids, i, cyl(lin(70, 50, 35), s), cov),
                );
                let (cx, cy) = pr(base + v3(0.0, crown_y + 1.0 * self.size, 0.0));
                let r = 1.8 * self.size * ppm;
                let seed = self.seed;
                ellipse(
                    w,
                    h,
                    (cx, cy),
                    r,
                    r * 1.1,
                    (1.0, 0.0),
                    0.0,
                    |i, cov, u, v| {
                        let (x, y) = ((i % w) as f32, (i / w) as f32);
                        let leaves = value_noise(seed, x * 0.7, y * 0.7);
                        let edge = clamp01((1.0 - (u * u + v * v).sqrt()) * 4.0 + leaves - 0.5);
                        let lam = clamp01(0.5 - 0.5 * v + 0.4 * u * l.screen.0);
                        let col = self.color.cmul(l.ambient + l.key * lam) * (0.6 + 0.7 * leaves);
                        put(c, ids, i, col, cov * edge);
                    },
                );
            }
            Kind::Bench => {
                self.draw_box(c, ids, view, l, haze, (1.7, 0.45), (0.4, 0.48), self.color);
                self.draw_box(
                    c,
                    ids,
                    view,
                    l,
                    haze,
                    (1.7, 0.06),
                    (0.5, 0.85),
                    self.color * 0.9,
                );
            }
            Kind::Bin => {
                self.draw_box(c, ids, view, l, haze, (0.5, 0.5), (0.0, 0.9), self.color);
            }
            Kind::Car => {
                self.draw_box(c, ids, view, l, haze, (4.3, 1.8), (0.2, 0.9), self.color);
                self.draw_box(
                    c,
                    ids,
                    view,
                    l,
                    haze,
                    (2.3, 1.6),
                    (0.9, 1.42),
                    mix3(self.color, lin(25, 30, 40), 0.7),
                );
                // Wheels as dark blobs at the four corners.
                let (s, co) = (libm::sinf(self.yaw), libm::cosf(self.yaw));
                for (a, b) in [(1.4, 0.9), (-1.4, 0.9), (1.4, -0.9), (-1.4, -0.9)] {
                    let p = base + v3(a * co + b * s, 0.32, -a * s + b * co);
                    let (px, py) = pr(p);
                    let r = 0.32 * ppm;
                    ellipse(
                        w,
                        h,
                        (px, py),
                        r * 0.8,
                        r,
                        (1.0, 0.0),
                        0.0,
                        |i, cov, _, _| put(c, ids, i, lin(15, 15, 15), cov * 0.9),
                    );
                }
            }
        }
    }

    /// A box of `len x wid` footprint (rotated by yaw) between two heights;
    /// only faces toward the camera are drawn, lit by their normals.
    #[allow(clippy::too_many_arguments)]
    fn draw_box(
        &self,
        c: &mut Canvas,
        ids: &mut [u16],
        view: &View,
        l: &Light,
        haze: f32,
        dims: (f32, f32),
        ys: (f32, f32),
        col: V3,
    ) {
        let (w, h) = (c.w, c.h);
        let (s, co) = (libm::sinf(self.yaw), libm::cosf(self.yaw));
        let ax = v3(co, 0.0, -s) * (dims.0 * 0.5);
        let az = v3(s, 0.0, co) * (dims.1 * 0.5);
        let base = v3(self.x, 0.0, self.z);
        let cam = v3(0.0, view.height, 0.0);
        let corner = |i: f32, k: f32, y: f32| base + ax * i + az * k + v3(0.0, y, 0.0);
        let mut faces: Vec<([V3; 4], V3)> = Vec::new();
        let (y0, y1) = ys;
        faces.push((
            [
                corner(-1.0, -1.0, y1),
                corner(1.0, -1.0, y1),
                corner(1.0, 1.0, y1),
                corner(-1.0, 1.0, y1),
            ],
            v3(0.0, 1.0, 0.0),
        ));
        for (i, k, n) in [
            (1.0, 0.0, ax.norm()),
            (-1.0, 0.0, -ax.norm()),
            (0.0, 1.0, az.norm()),
            (0.0, -1.0, -az.norm()),
        ] {
            let (a, b) = if i != 0.0 {
                ((i, -1.0), (i, 1.0))
            } else {
                ((-1.0, k), (1.0, k))
            };
            faces.push((
                [
                    corner(a.0, a.1, y0),
                    corner(b.0, b.1, y0),
                    corner(b.0, b.1, y1),
                    corner(a.0, a.1, y1),
                ],
                n,
            ));
        }
        let sun = l.sun;
        for (q, n) in faces {
            let centre = (q[0] + q[1] + q[2] + q[3]) * 0.25;
            if n.dot(cam - centre) <= 0.0 {
                continue;
            }
            let pts: Vec<(f32, f32)> = q
                .iter()
                .map(|p| {
                    let (x, y, _) = view.project(*p);
                    (x, y)
                })
                .collect();
            if pts.iter().any(|p| !p.0.is_finite()) {
                continue;
            }
            let lit = col.cmul(l.ambient + l.key * clamp01(n.dot(sun)));
            let fin = mix3(lit, l.haze, haze);
            polygon(w, h, &pts, 0.0, |i, cov| {
                c.blend(i, fin, cov);
                if cov >= 0.5 {
                    ids[i] = PROP_ID;
                }
            });
        }
    }
}
