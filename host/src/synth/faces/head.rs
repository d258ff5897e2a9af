//! The head: ray-cast ellipsoids (skull, jaw, ears, hair shell) under an
//! orthographic camera, facial features painted in head coordinates on the
//! hit point (so they foreshorten with the pose), normals bumped for the nose,
//! lips and eye sockets, and lit with a wrapped Lambert key light plus ambient.
use super::scene::{Ellipsoid, HairStyle, Scene};
use crate::synth::camera::luma;
use crate::synth::math::{clamp01, fbm, mix3, seg_dist, smoothstep, v3, value_noise, V3};
use crate::synth::raster::Canvas;

/// What the camera ray of one pixel sees on the head.
#[derive(Clone, Copy, Debug, Default)]
pub struct Surface {
    /// Anti-aliased coverage of the head (skull ∪ jaw ∪ ears).
    pub cov: f32,
    /// Hit point and normal in head coordinates.
    pub p: V3,
    pub n: V3,
    /// Camera depth of the hit (larger is nearer).
    pub depth: f32,
    pub ear: bool,
    /// Hair in front of the skin: coverage and depth.
    pub hair_front: f32,
    pub hair_front_p: V3,
    pub hair_front_depth: f32,
    /// Inside of the hair behind the head (framing the face).
    pub hair_back: f32,
    pub hair_back_p: V3,
}

const FAR: f32 = 10.0;

/// Ray hit of an ellipsoid: (t near, t far, closest approach in unit-sphere
/// radii). Rays miss when the closest approach exceeds 1.
pub fn hit(e: &Ellipsoid, o: V3, d: V3) -> (f32, f32, f32) {
    let inv = v3(1.0 / e.axes.x, 1.0 / e.axes.y, 1.0 / e.axes.z);
    let oo = (o - e.c).cmul(inv);
    let dd = d.cmul(inv);
    let qa = dd.dot(dd);
    let qb = oo.dot(dd);
    let tc = -qb / qa;
    let closest = oo + dd * tc;
    let r2 = closest.dot(closest);
    let half = ((1.0 - r2).max(0.0) / qa).sqrt();
    (tc - half, tc + half, r2.sqrt())
}

fn normal(e: &Ellipsoid, p: V3) -> V3 {
    let q = p - e.c;
    v3(
        q.x / (e.axes.x * e.axes.x),
        q.y / (e.axes.y * e.axes.y),
        q.z / (e.axes.z * e.axes.z),
    )
    .norm()
}

/// Width factor of the head at height `y`: 1 at the cheekbones, narrowing
/// toward the chin.
fn taper(s: &Scene, y: f32) -> f32 {
    1.0 - s.taper * smoothstep(0.1, -1.0, y / s.chin)
}

/// Ray hit of the head: an ellipsoid whose half-width shrinks toward the chin
/// and whose lower half is taller. The width depends on the hit height, so
/// the hit is found by a few fixed-point steps on plain ellipsoids.
/// Returns (t, closest approach in unit radii, point, normal, edge radius).
pub fn head_hit(s: &Scene, o: V3, d: V3) -> (f32, f32, V3, V3, f32) {
    let (a, b, c) = (s.skull.axes.x, s.skull.axes.y, s.skull.axes.z);
    let mut y = 0.0f32;
    let mut res = (f32::MAX, f32::MAX, V3::default());
    for _ in 0..3 {
        let e = Ellipsoid {
            c: v3(0.0, 0.0, 0.0),
            axes: v3(a * taper(s, y), if y >= 0.0 { b } else { s.chin }, c),
        };
        let (t0, _, r) = hit(&e, o, d);
        let p = o + d * t0;
        y = p.y;
        res = (t0, r, p);
    }
    let (t0, r, p) = res;
    let f = taper(s, p.y);
    let df = (taper(s, p.y + 0.01) - taper(s, p.y - 0.01)) / 0.02;
    let bb = if p.y >= 0.0 { b } else { s.chin };
    let aa = a * f;
    let n = v3(
        p.x / (aa * aa),
        p.y / (bb * bb) - p.x * p.x * df / (a * a * f * f * f),
        p.z / (c * c),
    )
    .norm();
    (t0, r, p, n, aa.min(bb))
}

/// Hair coverage of a point on the hair shell (unit-sphere coordinates).
fn hair_region(s: &Scene, u: V3) -> f32 {
    if s.hair_style == HairStyle::Bald {
        return 0.0;
    }
    let front = s.hair_front + 0.3 * u.x * u.x;
    let line = front + (s.hair_side - front) * smoothstep(0.35, 0.05, u.z);
    let wisp = 0.07 * value_noise(s.noise_seed ^ 0x33, u.x * 18.0, u.z * 18.0)
        + 0.05 * value_noise(s.noise_seed ^ 0x34, u.x * 60.0, u.z * 10.0);
    smoothstep(line - 0.03, line + 0.07, u.y + wisp)
}

/// Cast every pixel's ray against the head.
pub fn cast(s: &Scene) -> Vec<Surface> {
    let n = s.size;
    let rt = s.rot.transpose();
    let dir = rt.apply(v3(0.0, 0.0, -1.0));
    let bound = Ellipsoid {
        c: v3(0.0, 0.0, 0.0),
        axes: v3(s.skull.axes.x, s.skull.axes.y.max(s.chin), s.skull.axes.z),
    };
    let mut out = vec![Surface::default(); n * n];
    for y in 0..n {
        for x in 0..n {
            let cx = (x as f32 + 0.5 - s.tx) / s.scale;
            let cy = -(y as f32 + 0.5 - s.ty) / s.scale;
            if cx * cx + cy * cy > 2.4 {
                continue;
            }
            let o = rt.apply(v3(cx, cy, FAR));
            let sf = &mut out[y * n + x];
            let mut best_t = f32::MAX;
            // The tapered head lies inside this plain ellipsoid: skip the
            // iterative hit where even that one is clearly missed.
            let (_, _, rb) = hit(&bound, o, dir);
            let (t0, r, p, nrm, radius) = if rb < 1.0 + 2.0 / (s.scale * s.skull.axes.x) {
                head_hit(s, o, dir)
            } else {
                (0.0, f32::MAX, V3::default(), V3::default(), 1.0)
            };
            let cov = clamp01(0.5 - (r - 1.0) * radius * s.scale);
            if cov > 0.0 {
                sf.cov = cov;
                best_t = t0;
                sf.p = p;
                sf.n = nrm;
                sf.depth = FAR - t0;
            }
            for e in &s.ears {
                let (t0, _, r) = hit(e, o, dir);
                let cov = clamp01(0.5 - (r - 1.0) * e.axes.x.min(e.axes.y) * s.scale);
                if cov <= 0.0 {
                    continue;
                }
                sf.cov = sf.cov.max(cov);
                if t0 < best_t {
                    best_t = t0;
                    let p = o + dir * t0;
                    sf.p = p;
                    sf.n = normal(e, p);
                    sf.depth = FAR - t0;
                    sf.ear = true;
                }
            }
            let hs = &s.hair_shell;
            let (t0, t1, r) = hit(hs, o, dir);
            if r > 1.2 || s.hair_style == HairStyle::Bald {
                continue;
            }
            // Loose strands break the outline of the hair.
            let fray = 0.05 * value_noise(s.noise_seed ^ 0x77, cx * 9.0, cy * 9.0)
                + 0.03 * value_noise(s.noise_seed ^ 0x78, cx * 25.0, cy * 25.0);
            let hcov = clamp01(0.5 - (r - 1.0 + fray - 0.03) * hs.axes.x * s.scale);
            if hcov > 0.0 && s.hair_style != HairStyle::Bald {
                let inv = v3(1.0 / hs.axes.x, 1.0 / hs.axes.y, 1.0 / hs.axes.z);
                let pn = o + dir * t0;
                let a = hair_region(s, (pn - hs.c).cmul(inv)) * hcov;
                if sf.cov <= 0.0 || t0 < best_t {
                    sf.hair_front = a;
                    sf.hair_front_p = pn;
                    sf.hair_front_depth = FAR - t0;
                }
                let pf = o + dir * t1;
                sf.hair_back = hair_region(s, (pf - hs.c).cmul(inv)) * hcov;
                sf.hair_back_p = pf;
            }
        }
    }
    out
}

/// Height bump `(1 - r^2)^2` for r < 1, with its gradient. Adding the
/// gradient to a normal makes a dent (sockets); subtracting it, a bump.
fn bump(dx: f32, dy: f32, rx: f32, ry: f32) -> (f32, f32, f32) {
    let (u, v) = (dx / rx, dy / ry);
    let r2 = u * u + v * v;
    if r2 >= 1.0 {
        return (0.0, 0.0, 0.0);
    }
    let k = 1.0 - r2;
    // d/dx (1 - r2)^2 = -4 k u / rx
    (k * k, -4.0 * k * u / rx, -4.0 * k * v / ry)
}

/// What face painting gives a shading point.
struct FacePaint {
    albedo: V3,
    /// Normal offset (head frame) from the nose, lips, cheekbones, sockets.
    dn: V3,
    /// Ambient occlusion (1 = open).
    ao: f32,
    /// Specular strength: oily T-zone, nose tip, lower lip.
    gloss: f32,
    /// Catch-light in the eye: coverage of a mirror-like spot.
    glint: f32,
    /// Key light blocked by the nose (its cast shadow on the cheek), 0..1.
    nose_shadow: f32,
}

/// Albedo of the face at head point `p`, plus a normal offset (head frame)
/// from the nose, lips and sockets, an ambient-occlusion factor, gloss and
/// eye catch-lights.
fn face_albedo(s: &Scene, p: V3) -> FacePaint {
    let mut col = s.skin;
    let mut dn = V3::default();
    let mut ao = 1.0;
    let px = s.scale; // pixels per unit, for anti-aliasing feature edges
    let seed = s.noise_seed;
    // Skin texture: large blotches, mid-scale mottling in the red channel
    // (blood under the skin) and pixel-scale pores.
    let tex = fbm(seed, p.x * 6.0, p.y * 6.0, 2);
    let pores = value_noise(seed ^ 0x3c, p.x * 31.0, p.y * 31.0) - 0.5;
    let mottle = value_noise(seed ^ 0x51, p.x * 11.0, p.y * 11.0) - 0.5;
    col = col * (0.93 + 0.14 * tex + 0.09 * pores);
    col = v3(
        col.x * (1.0 + 0.06 * mottle),
        col.y * (1.0 - 0.05 * mottle),
        col.z * (1.0 - 0.04 * mottle),
    );
    // Skin under the hairline is shaded by the hair just above it.
    let hs = &s.hair_shell;
    let u = (p - hs.c).cmul(v3(1.0 / hs.axes.x, 1.0 / hs.axes.y, 1.0 / hs.axes.z));
    // Only along the front hairline: at the sides the hair is behind the
    // face and casts nothing on it.
    let front = smoothstep(0.45, 0.75, u.z);
    if front > 0.0 {
        ao *= 1.0 - 0.35 * (hair_region(s, v3(u.x, u.y + 0.08, u.z)) * front);
    }
    let mut gloss = 0.25;
    let mut glint = 0.0;
    if p.z < 0.2 {
        return FacePaint {
            albedo: col,
            dn,
            ao,
            gloss,
            glint,
            nose_shadow: 0.0,
        };
    }
    let nose_shadow = nose_shadow(s, p);
    // Oily T-zone: forehead and down the nose.
    let tzone = smoothstep(s.brow_y, s.brow_y + 0.25, p.y)
        + (1.0 - smoothstep(0.06, 0.14, p.x.abs())) * smoothstep(-0.7, s.eye_y, p.y);
    gloss += 0.75 * tzone.min(1.0);
    // Cheeks: a little warmer.
    for sx in [-1.0f32, 1.0] {
        let (b, _, _) = bump(p.x - sx * 0.45, p.y + 0.3, 0.25, 0.2);
        col = mix3(col, v3(col.x * 1.08, col.y * 0.9, col.z * 0.9), b * 0.6);
    }
    // Cheekbones catch light; the hollows below them less.
    for sx in [-1.0f32, 1.0] {
        let (_, gx, gy) = bump(p.x - sx * 0.5, p.y + 0.12, 0.3, 0.22);
        dn = dn - v3(gx, gy, 0.0) * 0.025;
        let (hb, _, _) = bump(p.x - sx * 0.45, p.y + 0.5, 0.2, 0.2);
        ao *= 1.0 - 0.08 * hb;
    }
    // Beard / stubble on the lower face.
    if s.beard > 0.0 && p.y < -0.35 {
        let m = smoothstep(-0.4, -0.75, p.y)
            * (1.0 - smoothstep(0.1, 0.0, (p.y - s.mouth_y).abs() - 0.02 - s.lip_h));
        let grain = value_noise(seed ^ 0x99, p.x * 60.0, p.y * 60.0);
        col = mix3(col, s.hair * 0.8, m * s.beard * (0.5 + 0.5 * grain));
    }
    let side = if p.x < 0.0 { -1.0 } else { 1.0 };
    // Eye sockets: slightly concave and darker.
    let (sb, sgx, sgy) = bump(p.x - side * s.eye_x, p.y - s.eye_y - 0.02, 0.28, 0.2);
    ao *= 1.0 - 0.32 * sb;
    dn = dn + v3(sgx, sgy, 0.0) * 0.03;
    // Brows.
    let lx = (p.x - side * s.eye_x) * side;
    let bw = s.eye_w * 1.35;
    if lx.abs() < bw + 0.03 {
        let t = lx / bw;
        let curve = s.brow_y + 0.04 * (1.0 - t * t) - 0.02 * t;
        let thick = s.brow_thick * (1.0 - 0.45 * (t + 0.2).max(0.0));
        let d = ((p.y - curve).abs() - thick).max(lx.abs() - bw);
        let cov = clamp01(0.5 - d * px) * 0.85;
        let grain = value_noise(seed ^ 0x12, p.x * 70.0, p.y * 25.0);
        col = mix3(col, s.hair * 0.7, cov * (0.6 + 0.4 * grain));
    }
    // Eyes: almond opening with sclera, iris, pupil, lid line, glint.
    let ly = p.y - s.eye_y;
    if lx.abs() < s.eye_w + 0.05 && ly.abs() < s.eye_h + 0.06 {
        let t = lx / s.eye_w;
        let shape = (1.0 - t * t).max(0.0);
        let top = s.eye_h * shape + 0.01 * t;
        let bot = -s.eye_h * 0.75 * shape;
        let d = (ly - top).max(bot - ly).max(lx.abs() - s.eye_w);
        let open = clamp01(0.5 - d * px);
        if open > 0.0 {
            let (ix, iy) = (lx - s.gaze.0 * side, ly - s.gaze.1);
            let ir = s.eye_h * 1.05;
            let rd = (ix * ix + iy * iy).sqrt();
            // Sclera: off-white, pinker and darker toward the corners.
            let mut eye = mix3(
                v3(0.55, 0.52, 0.49),
                v3(0.45, 0.28, 0.25),
                smoothstep(0.55, 1.0, t.abs()),
            ) * (0.7 + 0.3 * (1.0 - t.abs()));
            let iris_cov = clamp01(0.5 - (rd - ir) * px);
            let fleck = 0.7 + 0.5 * value_noise(seed ^ 0x45, ix * 80.0, iy * 80.0);
            eye = mix3(eye, s.iris * fleck, iris_cov);
            let pupil = clamp01(0.5 - (rd - ir * 0.45) * px);
            eye = mix3(eye, v3(0.01, 0.01, 0.01), pupil);
            // Upper lid casts a soft shadow onto the eyeball.
            eye = eye * (0.55 + 0.45 * smoothstep(0.0, s.eye_h * 0.9, top - ly));
            col = mix3(col, eye, open);
            // The key light mirrored in the cornea: where the half vector
            // meets the eyeball, up and toward the light.
            let (gx, gy) = (
                ix - s.light.x * ir * 0.55 * side * side,
                iy - (0.35 + 0.4 * s.light.y) * ir,
            );
            let gd = (gx * gx + gy * gy).sqrt();
            glint = clamp01(0.5 - (gd - 0.022) * px) * open * iris_cov;
        }
        // Lash line along the upper lid, heavier at the outer corner.
        let dl = (ly - top).abs() - 0.022 - 0.012 * (t.max(0.0));
        let lash = clamp01(0.5 - dl * px) * (lx.abs() < s.eye_w * 1.05) as u8 as f32;
        col = mix3(
            col,
            s.hair.cmul(v3(0.3, 0.3, 0.3)) + v3(0.01, 0.008, 0.006),
            lash * 0.85,
        );
        // Lid crease.
        let dc = (ly - top - 0.045).abs() - 0.006;
        col = col * (1.0 - 0.25 * clamp01(0.5 - dc * px) * shape);
        // The upper lid between lashes and crease is a little shaded.
        let lid = smoothstep(0.0, 0.01, ly - top) * (1.0 - smoothstep(0.035, 0.05, ly - top));
        col = col * (1.0 - 0.12 * lid * shape);
    }
    // Nose: ridge, tip and wings as normal bumps; nostrils as dark spots.
    let ridge_t = clamp01((s.eye_y - p.y) / s.nose_len);
    if p.y < s.eye_y && p.y > s.eye_y - s.nose_len - 0.12 {
        let width = 0.08 + s.nose_width * 0.6 * ridge_t;
        let (b, gx, _) = bump(p.x, 0.0, width, 1.0);
        let hgt = 0.045 * ridge_t;
        dn = dn - v3(gx * hgt, 0.06 * b, 0.0);
        let tip_y = s.eye_y - s.nose_len;
        let (tb, tgx, tgy) = bump(p.x, p.y - tip_y, s.nose_width * 0.9, 0.09);
        dn = dn - v3(tgx, tgy, 0.0) * 0.05;
        for sx in [-1.0f32, 1.0] {
            let (_, wgx, wgy) = bump(p.x - sx * s.nose_width, p.y - tip_y + 0.02, 0.07, 0.06);
            dn = dn - v3(wgx, wgy, 0.0) * 0.03;
            let nd = {
                let (u, v) = (
                    (p.x - sx * s.nose_width * 0.6) / 0.035,
                    (p.y - tip_y + 0.05) / 0.02,
                );
                ((u * u + v * v).sqrt() - 1.0) * 0.02
            };
            col = col * (1.0 - 0.65 * clamp01(0.5 - nd * px));
        }
        col = col * (1.0 + 0.08 * tb);
        // The nose tip and wings are redder (thin skin, more blood).
        col = mix3(col, v3(col.x * 1.06, col.y * 0.88, col.z * 0.88), tb);
        gloss += 0.6 * tb;
    }
    // Nasolabial folds: soft creases from the nose wings to the mouth corners.
    {
        let tip_y = s.eye_y - s.nose_len;
        let (d, _) = seg_dist(
            p.x.abs(),
            p.y,
            s.nose_width + 0.05,
            tip_y - 0.02,
            s.mouth_w + 0.06,
            s.mouth_y - 0.02,
        );
        ao *= 1.0 - 0.14 * clamp01(1.0 - d / 0.035);
    }
    // Mouth: lips with a cupid's bow, the dark line between them.
    let mx = p.x / s.mouth_w;
    if mx.abs() < 1.15 {
        let my = p.y - s.mouth_y - s.smile * mx * mx;
        let shape = (1.0 - mx * mx).max(0.0);
        let up = s.lip_h * shape.sqrt() * (1.0 - 0.25 * (1.0 - (mx * 4.0).abs().min(1.0)));
        let dn_l = -s.lip_h * 1.25 * shape.sqrt();
        let d = (my - up).max(dn_l - my);
        let lip = clamp01(0.5 - d * px);
        // The upper lip faces down and is darker; the lower lip is glossy.
        let upper = smoothstep(-0.004, 0.004, my);
        col = mix3(
            col,
            s.lip * ((0.9 + 0.2 * tex) * (1.0 - 0.2 * upper)),
            lip * 0.9,
        );
        gloss += 0.9 * lip * (1.0 - upper);
        let (lb, lgx, lgy) = bump(p.x, my + s.lip_h * 0.6, s.mouth_w * 0.8, s.lip_h * 1.2);
        dn = dn - v3(lgx, lgy, 0.0) * 0.012 * lb.signum();
        let line = clamp01(0.5 - (my.abs() - 0.006) * px) * shape.sqrt();
        col = col * (1.0 - 0.6 * line);
        // Shadow under the lower lip.
        let (cb, _, _) = bump(p.x, my - dn_l + 0.04, s.mouth_w * 0.7, 0.03);
        ao *= 1.0 - 0.2 * cb;
    }
    FacePaint {
        albedo: col,
        dn,
        ao,
        gloss,
        glint,
        nose_shadow,
    }
}

/// Shadow the nose casts on the face from the key light. The nose is a ridge
/// along the midline whose height grows from the bridge to the tip; a face
/// point is shadowed when the point of the ridge toward the light, lifted by
/// that height, lies inside the nose's footprint (the same half-width the
/// normal bumps use), and the point itself is not on the nose.
fn nose_shadow(s: &Scene, p: V3) -> f32 {
    let l = s.light_head;
    if l.z < 0.15 {
        return 0.0;
    }
    let tip_y = s.eye_y - s.nose_len;
    if p.y > s.eye_y || p.y < tip_y - 0.25 || p.x.abs() > 0.45 {
        return 0.0;
    }
    // Height of the ridge (head units) at a height along the nose.
    let height = |y: f32| 0.16 * clamp01((s.eye_y - y) / s.nose_len).sqrt();
    let (sx, sy) = (l.x / l.z, l.y / l.z);
    // One fixed-point step: find the ridge height where the light ray from
    // p crosses the midline.
    let h0 = height(p.y);
    let qy = p.y + sy * h0;
    let h = height(qy.clamp(tip_y, s.eye_y));
    let (qx, qy) = (p.x + sx * h, p.y + sy * h);
    if qy > s.eye_y || qy < tip_y - 0.02 {
        return 0.0;
    }
    let t = clamp01((s.eye_y - qy) / s.nose_len);
    let half = 0.03 + s.nose_width * 0.55 * t;
    let own = 0.03 + s.nose_width * 0.55 * clamp01((s.eye_y - p.y) / s.nose_len);
    let inside = smoothstep(half + 0.03, half - 0.02, qx.abs());
    let off_nose = smoothstep(own - 0.01, own + 0.04, p.x.abs());
    // Softer and weaker near the bridge, where the nose is low.
    inside * off_nose * (0.35 + 0.5 * t)
}

/// Lit colour of a surface with normal `n` (camera space) and albedo.
/// Returns (colour, direct part, ambient part) so callers can measure how
/// much a cast shadow darkens it.
///
/// `self_shadow` is the key light blocked by the face itself (the nose);
/// `shadow` the part blocked by the glasses, the only one `darkening`
/// reports.
pub fn light(
    s: &Scene,
    albedo: V3,
    n: V3,
    ao: f32,
    shadow: f32,
    self_shadow: f32,
    gloss: f32,
) -> (V3, f32) {
    let ndl = n.dot(s.light);
    // Wide wrap: light bleeds past the terminator through the skin, so the
    // shading ends softly instead of in a hard line.
    let w = clamp01((ndl + 0.5) / 1.5);
    let wrap = (w * w * (3.0 - 2.0 * w) * 0.35 + w * 0.65) * (1.0 - self_shadow);
    let sky = 0.6 + 0.4 * n.y;
    let direct = wrap * (1.0 - shadow);
    // Surfaces turning away from the camera get darker (self-occlusion and
    // less light reaching grazing skin), which rounds the head off.
    let edge = 0.55 + 0.45 * (n.z * 1.6).clamp(0.0, 1.0);
    // Light scattered under the skin warms the terminator a little.
    let scatter = v3(0.06, 0.015, 0.0) * (wrap * (1.0 - wrap) * 4.0);
    // Fill light (plain Lambert) and a rim light on the grazing edges.
    let fill = s.fill * (clamp01(n.dot(s.fill_dir)) * ao);
    let grazing = clamp01(1.0 - n.z);
    let rim = s.rim * (grazing * grazing * grazing * clamp01(0.3 + n.y));
    let lit = (s.key * direct + s.ambient * (sky * ao) + s.key.cmul(scatter) + fill) * edge + rim;
    // Skin sheen toward the half vector: a broad lobe plus a tight one
    // (oily highlights on the forehead, nose tip, lower lip).
    let hv = (s.light + v3(0.0, 0.0, 1.0)).norm();
    let mut sp = clamp01(n.dot(hv));
    sp *= sp;
    sp *= sp;
    sp *= sp;
    sp *= sp;
    let tight = sp * sp * sp;
    let spec = s.key
        * ((0.06 * sp + 0.18 * tight) * s.gloss * gloss * (1.0 - shadow) * (1.0 - self_shadow));
    let (k, a) = (luma(s.key), luma(s.ambient) * sky * ao + luma(fill));
    let lum0 = k * wrap + a;
    let lum1 = k * direct + a;
    let darkening = if lum0 > 0.0 { 1.0 - lum1 / lum0 } else { 0.0 };
    (albedo.cmul(lit) * ao + spec, darkening)
}

/// Shade the head into the canvas. `shadow` is the glasses' cast-shadow
/// occupancy per pixel. Returns, per pixel, whether the pixel is visible
/// face skin and how much the cast shadow darkened it (0..1).
pub fn shade(
    c: &mut Canvas,
    s: &Scene,
    surf: &[Surface],
    shadow: &[f32],
    apply_shadow: bool,
) -> (Vec<bool>, Vec<f32>) {
    let n = s.size;
    let mut skin = vec![false; n * n];
    let mut dark = vec![0.0f32; n * n];
    let hair_seed = s.noise_seed ^ 0x5a5a;
    let hair_col = |p: V3, depth_shade: f32, inside: bool| -> V3 {
        let hs = &s.hair_shell;
        let u = (p - hs.c).cmul(v3(1.0 / hs.axes.x, 1.0 / hs.axes.y, 1.0 / hs.axes.z));
        let mut nrm = s.rot.apply(u.norm());
        if inside {
            // The inside of the hair framing the face is seen from the
            // front: shade it as hair turned toward the camera, not away.
            nrm = v3(-nrm.x, nrm.y, nrm.z.abs()).norm();
        }
        let strands = value_noise(
            hair_seed,
            u.x * 45.0 / (1.2 - u.y.abs().min(0.9)),
            u.y * 5.0,
        );
        let fine = value_noise(hair_seed ^ 7, u.x * 120.0, u.y * 12.0);
        // Clumps: broad locks, darker in the gaps between them.
        let clump = value_noise(
            hair_seed ^ 11,
            u.x * 16.0 / (1.2 - u.y.abs().min(0.9)),
            u.y * 2.5,
        );
        let band = smoothstep(0.72, 0.95, nrm.dot((s.light + v3(0.0, 0.0, 1.0)).norm()));
        let mut albedo = s.hair * ((0.45 + 0.5 * strands + 0.3 * fine) * (0.65 + 0.55 * clump));
        // At the hairline the hair thins out and the scalp shows through.
        let below = hair_region(s, v3(u.x, u.y - 0.1, u.z));
        albedo = mix3(albedo, s.skin * 0.55, 0.4 * (1.0 - below));
        let (col, _) = light(s, albedo, nrm, depth_shade, 0.0, 0.0, 0.3);
        // Anisotropic sheen: a broken band along the strands.
        col + s.key * (0.12 * band * strands * (0.4 + clump) * (0.3 + s.hair.y.min(0.5)))
    };
    for i in 0..n * n {
        let sf = &surf[i];
        if sf.hair_back > 0.0 && sf.cov < 1.0 {
            let hc = hair_col(sf.hair_back_p, 0.7, true);
            c.blend(i, hc, sf.hair_back);
        }
        if sf.cov > 0.0 {
            let f = if sf.ear {
                // Ears: redder (light shines through them) and occluded.
                FacePaint {
                    albedo: v3(s.skin.x * 1.0, s.skin.y * 0.86, s.skin.z * 0.84),
                    dn: V3::default(),
                    ao: 0.8,
                    gloss: 0.3,
                    glint: 0.0,
                    nose_shadow: 0.0,
                }
            } else {
                face_albedo(s, sf.p)
            };
            let nh = (sf.n + f.dn).norm();
            let ncam = s.rot.apply(nh);
            let occ = shadow.get(i).copied().unwrap_or(0.0);
            let (mut col, d) = light(s, f.albedo, ncam, f.ao, occ, f.nose_shadow, f.gloss);
            if !apply_shadow {
                col = light(s, f.albedo, ncam, f.ao, 0.0, f.nose_shadow, f.gloss).0;
            }
            if f.glint > 0.0 {
                let lamp = (s.key * (1.0 - occ) + s.ambient * 2.0) * 0.9;
                col = mix3(col, lamp, f.glint * 0.85);
            }
            c.blend(i, col, sf.cov);
            if sf.cov >= 0.5 && sf.hair_front < 0.5 {
                skin[i] = true;
                dark[i] = d;
            }
        }
        if sf.hair_front > 0.0 {
            let hc = hair_col(sf.hair_front_p, 1.0, false);
            c.blend(i, hc, sf.hair_front);
        }
    }
    (skin, dark)
}
