//! Eyeglasses as a 3D frame in head coordinates.
//!
//! Head frame: x to the subject's left on screen (image right), y up, z toward
//! the camera; the head ellipsoid has half-width about 1. The frame is a set of
//! polylines (two rims, a bridge, two temples) plus two nose pads; it is placed
//! on four anchor points (two on the temples, two floating on the nose) and is
//! later transformed with the head pose and projected, both for the image and
//! for the shadow it casts.
use super::math::{v3, V3};
use super::raster::lin;
use super::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Round,
    Rectangular,
    CatEye,
    Aviator,
    Rimless,
    HalfRim,
}

pub const STYLES: [Style; 6] = [
    Style::Round,
    Style::Rectangular,
    Style::CatEye,
    Style::Aviator,
    Style::Rimless,
    Style::HalfRim,
];

/// Points per rim polyline.
pub const RIM_POINTS: usize = 40;

#[derive(Clone, Debug)]
pub struct Frame {
    pub style: Style,
    /// Closed rim polylines (left on screen, right on screen), head frame.
    pub rims: [Vec<V3>; 2],
    /// Whether the segment starting at each rim point carries a rim stroke.
    pub rim_drawn: [Vec<bool>; 2],
    pub bridge: Vec<V3>,
    pub temples: [Vec<V3>; 2],
    pub pads: [V3; 2],
    /// Anchor points: temple contacts (2) then nose contacts (2).
    pub anchors: [V3; 4],
    /// Stroke radius of rims, head units.
    pub rim_radius: f32,
    /// Stroke radius of bridge and temples.
    pub wire_radius: f32,
    /// Linear frame colour.
    pub color: V3,
    pub metal: bool,
    /// Lens transmission colour (linear): 1 = clear.
    pub lens_transmit: V3,
    /// Fraction of light the lens blocks, used for its cast shadow.
    pub lens_opacity: f32,
    /// Strength of the reflection highlight on the lenses.
    pub reflection: f32,
}

/// Where the frame sits on a head: eye positions and the surface they are on.
#[derive(Clone, Copy, Debug)]
pub struct Fit {
    /// Eye centre half-distance (x) and height (y).
    pub eye_x: f32,
    pub eye_y: f32,
    /// z of the face surface in front of the eyes.
    pub eye_z: f32,
    /// Head half-width at eye height (side surface x).
    pub side_x: f32,
    /// z of the ear contact (behind the face).
    pub ear_z: f32,
}

impl Frame {
    pub fn sample(rng: &mut Rng, fit: &Fit) -> Frame {
        let style = *rng.pick(&STYLES);
        let metal = match style {
            Style::Rimless | Style::Aviator => true,
            Style::HalfRim => rng.chance(0.6),
            Style::Round => rng.chance(0.5),
            _ => rng.chance(0.25),
        };
        let (hw, hh, expo) = match style {
            Style::Round => {
                let r = rng.range(0.2, 0.27);
                (r, r * rng.range(0.9, 1.0), 2.0)
            }
            Style::Rectangular => (
                rng.range(0.26, 0.33),
                rng.range(0.14, 0.2),
                rng.range(3.5, 7.0),
            ),
            Style::CatEye => (
                rng.range(0.26, 0.32),
                rng.range(0.16, 0.21),
                rng.range(2.5, 4.0),
            ),
            Style::Aviator => (rng.range(0.27, 0.32), rng.range(0.22, 0.27), 2.6),
            Style::Rimless | Style::HalfRim => (
                rng.range(0.24, 0.31),
                rng.range(0.15, 0.2),
                rng.range(2.5, 5.0),
            ),
        };
        let bridge_half = rng.range(0.07, 0.12);
        let cx = bridge_half + hw;
        let cy = fit.eye_y + rng.range(-0.04, 0.03);
        let standoff = rng.range(0.12, 0.2);
        let zg = fit.eye_z + standoff;
        let wrap = rng.range(0.05, 0.25);
        let tilt = rng.range(0.03, 0.15); // pantoscopic tilt: bottom closer to the face
        let z_at = |x: f32, y: f32| zg - wrap * x * x - tilt * (cy - y);

        let mut rims: [Vec<V3>; 2] = [Vec::new(), Vec::new()];
        let mut rim_drawn: [Vec<bool>; 2] = [Vec::new(), Vec::new()];
        for (side, sx) in [(0usize, -1.0f32), (1, 1.0)] {
            for k in 0..RIM_POINTS {
                let th = k as f32 / RIM_POINTS as f32 * core::f32::consts::TAU;
                let (c, s) = (libm::cosf(th), libm::sinf(th));
                // Superellipse in lens coordinates (u outward from the nose).
                let e = 2.0 / expo;
                let mut u = c.signum() * libm::powf(c.abs(), e) * hw;
                let mut w = s.signum() * libm::powf(s.abs(), e) * hh;
                match style {
                    Style::CatEye => {
                        // Upper outer corner swept up.
                        let t = (u / hw).max(0.0) * (w / hh).max(0.0);
                        w += 0.35 * hh * t * t;
                        u += 0.1 * hw * t;
                    }
                    Style::Aviator if w < 0.0 => {
                        // Teardrop: the lower half bulges toward the nose and down.
                        let t = -w / hh;
                        u -= 0.25 * hw * t * (1.0 - (u / hw).max(0.0));
                        w *= 1.0 + 0.2 * (1.0 - u / hw).min(1.0);
                    }
                    _ => {}
                }
                let x = sx * (cx + u);
                let y = cy + w;
                rims[side].push(v3(x, y, z_at(x, y)));
                rim_drawn[side].push(match style {
                    Style::Rimless => false,
                    Style::HalfRim => w > -0.2 * hh,
                    _ => true,
                });
            }
        }
        // Bridge: an arch between the inner tops of the rims.
        let by = cy + hh * rng.range(0.1, 0.5);
        let arch = rng.range(0.0, 0.05);
        let mut bridge = Vec::new();
        for k in 0..=8 {
            let t = k as f32 / 8.0;
            let x = (t * 2.0 - 1.0) * (bridge_half + 0.02);
            let y = by + arch * (1.0 - (2.0 * t - 1.0) * (2.0 * t - 1.0));
            bridge.push(v3(x, y, z_at(x, y) + 0.01));
        }
        // Temples: hinge at the outer rim edge, along the side of the head to the ear.
        let hinge_y = cy + hh * 0.45;
        let temple_anchor_z = fit.eye_z * 0.35;
        let mut temples: [Vec<V3>; 2] = [Vec::new(), Vec::new()];
        let mut anchors = [V3::default(); 4];
        for (side, sx) in [(0usize, -1.0f32), (1, 1.0)] {
            let hx = sx * (cx + hw * 1.04);
            let hinge = v3(hx, hinge_y, z_at(hx, hinge_y) - 0.02);
            let anchor = v3(sx * (fit.side_x + 0.03), hinge_y - 0.02, temple_anchor_z);
            let ear = v3(sx * (fit.side_x + 0.02), hinge_y - 0.08, fit.ear_z);
            anchors[side] = anchor;
            let pts = &mut temples[side];
            for k in 0..=5 {
                let t = k as f32 / 5.0;
                pts.push(hinge + (anchor - hinge) * t);
            }
            for k in 1..=5 {
                let t = k as f32 / 5.0;
                pts.push(anchor + (ear - anchor) * t);
            }
        }
        let pads = [
            v3(-bridge_half * 0.9, cy - hh * 0.25, fit.eye_z + 0.04),
            v3(bridge_half * 0.9, cy - hh * 0.25, fit.eye_z + 0.04),
        ];
        anchors[2] = pads[0];
        anchors[3] = pads[1];

        let color = if metal {
            *rng.pick(&[
                lin(200, 190, 150),
                lin(170, 170, 175),
                lin(60, 60, 65),
                lin(150, 110, 70),
                lin(210, 210, 215),
            ])
        } else {
            *rng.pick(&[
                lin(20, 18, 18),
                lin(35, 25, 20),
                lin(90, 55, 30),
                lin(120, 30, 35),
                lin(30, 45, 90),
                lin(150, 120, 90),
                lin(60, 60, 60),
                lin(180, 170, 160),
            ])
        };
        let (rim_radius, wire_radius) = if metal {
            let r = rng.range(0.012, 0.022);
            (r, r * rng.range(0.9, 1.2))
        } else {
            let r = rng.range(0.03, 0.06);
            (r, r * rng.range(0.8, 1.0))
        };
        let dark = if rng.chance(0.25) {
            rng.range(0.4, 0.9)
        } else {
            rng.range(0.0, 0.12)
        };
        let tint = *rng.pick(&[
            v3(1.0, 1.0, 1.0),
            v3(0.8, 0.7, 0.5),
            v3(0.5, 0.6, 0.5),
            v3(0.6, 0.6, 0.7),
            v3(0.9, 0.6, 0.4),
        ]);
        let lens_transmit = v3(1.0, 1.0, 1.0) * (1.0 - dark) + tint * (dark * 0.15);
        Frame {
            style,
            rims,
            rim_drawn,
            bridge,
            temples,
            pads,
            anchors,
            rim_radius,
            wire_radius,
            color,
            metal,
            lens_transmit,
            lens_opacity: dark,
            reflection: rng.range(0.0, 0.5),
        }
    }

    /// Every stroke of the frame as 3D segments with their radius.
    pub fn segments(&self) -> Vec<(V3, V3, f32)> {
        let mut out = Vec::new();
        for s in 0..2 {
            let rim = &self.rims[s];
            for k in 0..rim.len() {
                if self.rim_drawn[s][k] {
                    out.push((rim[k], rim[(k + 1) % rim.len()], self.rim_radius));
                }
            }
            for w in self.temples[s].windows(2) {
                out.push((w[0], w[1], self.wire_radius));
            }
        }
        for w in self.bridge.windows(2) {
            out.push((w[0], w[1], self.wire_radius));
        }
        if self.metal {
            for p in self.pads {
                let d = v3(0.0, 0.03, 0.0);
                out.push((p - d, p + d, self.wire_radius * 1.4));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_symmetric_and_in_front_of_the_eyes() {
        let fit = Fit {
            eye_x: 0.4,
            eye_y: 0.05,
            eye_z: 0.85,
            side_x: 0.98,
            ear_z: -0.1,
        };
        for i in 0..50 {
            let f = Frame::sample(&mut Rng::for_item(1, 9, i), &fit);
            for (a, b) in f.rims[0].iter().zip(&f.rims[1]) {
                assert!((a.x + b.x).abs() < 1e-5 && (a.y - b.y).abs() < 1e-5);
            }
            assert!(f.rims[0]
                .iter()
                .filter(|p| p.x.abs() < 0.5)
                .all(|p| p.z > fit.eye_z));
            assert!(f.temples[0].last().is_some_and(|p| p.z < 0.0));
            assert!(!f.segments().is_empty());
        }
    }
}
