//! Drawing one person: legs, torso, arms, neck and head as shaded capsules
//! and ellipses placed at projected 3D joints, so size and foreshortening
//! follow the camera.
use super::layout::Person;
use super::view::View;
use super::Light;
use crate::synth::math::{clamp01, mix3, smoothstep, v3, value_noise, V3};
use crate::synth::raster::{capsule, ellipse, Canvas};

/// Id written into the visibility buffer by non-person objects.
pub const PROP_ID: u16 = u16::MAX;

/// A visible-head candidate: image point, head radius (px), person id.
#[derive(Clone, Copy, Debug)]
pub struct HeadMark {
    pub x: f32,
    pub y: f32,
    pub radius: f32,
    pub id: u16,
}

/// Cylinder shading from the across-capsule offset and the light.
fn shade(l: &Light, albedo: V3, side: f32) -> V3 {
    let nz = (1.0 - side * side).max(0.0).sqrt();
    let lam = clamp01(side * l.screen.0 + nz * l.screen.1 * 0.7 + 0.3);
    albedo.cmul(l.ambient + l.key * lam)
}

/// Sphere shading of a head from its ellipse coordinates (`u` right, `v`
/// down): lit from the sun's screen direction and from above, darker at the
/// rim, so heads read as round rather than as flat discs.
fn shade_head(l: &Light, albedo: V3, u: f32, v: f32) -> V3 {
    let nz = (1.0 - u * u - v * v).max(0.0).sqrt();
    let lam = clamp01(u * l.screen.0 + nz * l.screen.1 * 0.7 - v * l.sun.y * 0.6 + 0.25);
    albedo.cmul(l.ambient * (0.6 + 0.4 * nz) + l.key * lam)
}

/// Fabric: folds and creases as a brightness factor around 1, in metres on
/// the figure (`x`, `y` in pixels, `ppm` pixels per metre), so close people
/// show wrinkles and distant ones stay plain.
fn fabric(seed: u32, x: f32, y: f32, ppm: f32) -> f32 {
    if ppm < 25.0 {
        return 1.0;
    }
    let k = 1.0 / ppm;
    let folds = value_noise(seed, x * k * 14.0, y * k * 5.0);
    let weave = value_noise(seed ^ 0x2b, x * k * 60.0, y * k * 60.0);
    let amp = smoothstep(25.0, 80.0, ppm);
    1.0 + amp * (0.3 * (folds - 0.5) + 0.08 * (weave - 0.5))
}

/// Paint `p` (id `id`) and return its head mark.
pub fn draw(
    c: &mut Canvas,
    ids: &mut [u16],
    view: &View,
    l: &Light,
    p: &Person,
    id: u16,
) -> Option<HeadMark> {
    let (w, h) = (c.w, c.h);
    let (fs, fc) = (libm::sinf(p.facing), libm::cosf(p.facing));
    let fw = v3(fs, 0.0, fc);
    let rt = v3(fc, 0.0, -fs);
    let base = v3(p.x, 0.0, p.z);
    let hgt = p.height;
    let (_, _, depth) = view.project(base + v3(0.0, hgt * 0.5, 0.0));
    if depth <= 0.1 {
        return None;
    }
    let ppm = view.px_per_m(depth);
    let haze = l.haze_at(depth);
    let fin = |col: V3| mix3(col, l.haze, haze);
    let pr = |q: V3| {
        let (x, y, _) = view.project(q);
        (x, y)
    };
    let seed = u32::from(id).wrapping_mul(0x9e37_79b9) ^ 0x5eed;
    let xy = |i: usize| ((i % w) as f32, (i / w) as f32);
    let mut put = |c: &mut Canvas, i: usize, col: V3, cov: f32| {
        c.blend(i, fin(col), cov);
        if cov >= 0.5 {
            ids[i] = id;
        }
    };
    // Legs, swinging with the stride.
    let hip = base + v3(0.0, hgt * 0.5, 0.0);
    for s in [-1.0f32, 1.0] {
        let foot = base + fw * (s * p.stride * 0.5) + rt * (s * 0.1);
        let top = hip + rt * (s * 0.09);
        capsule(
            w,
            h,
            pr(top),
            pr(foot),
            0.075 * ppm,
            0.0,
            |i, cov, t, side| {
                // Legs darken toward the feet: neighbours and the ground
                // occlude the sky there. Dark shoes at the bottom.
                let (x, y) = xy(i);
                let shoe = smoothstep(0.86, 0.9, t);
                let albedo = mix3(
                    p.bottom * fabric(seed, x, y, ppm),
                    v3(0.02, 0.018, 0.016),
                    shoe,
                );
                put(c, i, shade(l, albedo, side) * (1.0 - 0.35 * t), cov);
            },
        );
    }
    // Arms behind the torso first (simplification: both, before the torso).
    let sh_h = hgt * 0.8;
    let sw = 0.2 + 0.02 * (hgt - 1.7);
    for s in [-1.0f32, 1.0] {
        let sh = base + v3(0.0, sh_h, 0.0) + rt * (s * sw);
        let hand =
            base + v3(0.0, hgt * 0.45, 0.0) + rt * (s * (sw + 0.05)) - fw * (s * p.stride * 0.35);
        let col = if p.short_sleeves { p.skin } else { p.top };
        capsule(
            w,
            h,
            pr(sh),
            pr(hand),
            0.05 * ppm,
            0.0,
            |i, cov, t, side| {
                let albedo = if p.short_sleeves && t < 0.35 {
                    p.top
                } else {
                    col
                };
                let (x, y) = xy(i);
                put(c, i, shade(l, albedo * fabric(seed, x, y, ppm), side), cov);
            },
        );
    }
    // Torso.
    let tr = 0.17 * (hgt / 1.75);
    let t0 = base + v3(0.0, hgt * 0.5 + tr * 0.6, 0.0);
    let t1 = base + v3(0.0, sh_h - tr * 0.5, 0.0);
    capsule(w, h, pr(t0), pr(t1), tr * ppm, 0.0, |i, cov, t, side| {
        // Shoulders face the sky; folds gather toward the waist.
        let (x, y) = xy(i);
        let col = p.top * ((0.8 + 0.25 * t) * fabric(seed ^ 0x70, x, y, ppm));
        put(c, i, shade(l, col, side), cov);
    });
    if let Some(bag) = p.bag {
        let b = base + v3(0.0, hgt * 0.62, 0.0) - fw * 0.18 + rt * 0.05;
        capsule(
            w,
            h,
            pr(b),
            pr(b + v3(0.0, 0.15, 0.0)),
            0.12 * ppm,
            0.0,
            |i, cov, _, side| {
                put(c, i, shade(l, bag, side), cov);
            },
        );
    }
    // Neck and head.
    let head_c = base + v3(0.0, hgt * 0.925, 0.0);
    let hr = 0.105 * (0.8 + 0.2 * hgt / 1.75);
    capsule(
        w,
        h,
        pr(base + v3(0.0, sh_h, 0.0)),
        pr(head_c),
        0.05 * ppm,
        0.0,
        |i, cov, _, side| put(c, i, shade(l, p.skin, side), cov),
    );
    let (hx, hy) = pr(head_c);
    let rpx = hr * ppm;
    // Toward the camera? Then the face shows, otherwise the back of the head.
    let to_cam = v3(-p.x, view.height - head_c.y, -p.z).norm();
    let front = fw.dot(to_cam);
    let from_above = clamp01(to_cam.y);
    ellipse(
        w,
        h,
        (hx, hy),
        rpx * 0.92,
        rpx * 1.1,
        (1.0, 0.0),
        0.0,
        |i, cov, u, v| {
            // Hair cap on top (and all over when seen from behind).
            let hair_line = -0.1 + 0.9 * front.max(0.0) - 0.9 * from_above;
            let hair = if p.bald {
                0.0
            } else {
                clamp01((hair_line - v) * 4.0)
            };
            let (u, v) = (u.clamp(-1.0, 1.0), v.clamp(-1.0, 1.0));
            // Eye sockets and the shadow under the nose on faces turned
            // to the camera and large enough to show them.
            let feat = if rpx > 3.0 && front > 0.3 {
                let eyes = smoothstep(0.3, 0.1, (v + 0.05).abs()) * smoothstep(0.7, 0.45, u.abs());
                let mouth = smoothstep(0.12, 0.0, (v - 0.5).abs()) * smoothstep(0.35, 0.2, u.abs());
                1.0 - (0.35 * eyes + 0.3 * mouth) * front
            } else {
                1.0
            };
            let skin = shade_head(l, p.skin * feat, u, v);
            // Hair strands (vertical streaks) only where hair shows.
            let hair_c = match p.hat {
                Some(hat) => shade_head(l, hat, u, v),
                None if hair > 0.0 => {
                    let (x, y) = xy(i);
                    let k = 6.0 / rpx.max(1.0);
                    let strands = 0.75 + 0.5 * value_noise(seed ^ 0x4a, x * 1.3 * k, y * 0.3 * k);
                    shade_head(l, p.hair * strands, u, v)
                }
                None => V3::default(),
            };
            put(c, i, mix3(skin, hair_c, hair), cov);
        },
    );
    if let Some(i) = pixel(w, h, hx, hy) {
        ids[i] = id;
    }
    Some(HeadMark {
        x: hx,
        y: hy,
        radius: rpx,
        id,
    })
}

/// Index of the pixel containing `(x, y)`, if inside.
pub fn pixel(w: usize, h: usize, x: f32, y: f32) -> Option<usize> {
    if !(x >= 0.0 && y >= 0.0 && x < w as f32 && y < h as f32) {
        return None;
    }
    Some(y as usize * w + x as usize)
}

/// Ground shadow of a standing figure: a blurred capsule from the feet toward
/// the shadow direction, returned as occupancy.
#[allow(clippy::too_many_arguments)]
pub fn shadow(
    occ: &mut [f32],
    w: usize,
    h: usize,
    view: &View,
    l: &Light,
    x: f32,
    z: f32,
    height: f32,
    radius: f32,
) {
    let base = v3(x, 0.0, z);
    let tip = base + l.shadow_dir * height;
    let (ax, ay, d) = view.project(base);
    let (bx, by, _) = view.project(tip);
    if d <= 0.1 || !ax.is_finite() || !bx.is_finite() {
        return;
    }
    let r = radius * view.px_per_m(d);
    capsule(
        w,
        h,
        (ax, ay),
        (bx, by),
        r,
        0.5 + r * 0.3,
        |i, cov, _, _| {
            occ[i] = occ[i].max(cov);
        },
    );
}
