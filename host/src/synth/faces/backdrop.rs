//! Everything behind the face: background, shoulders and clothing, neck, and
//! long hair hanging behind the head.
use super::scene::{HairStyle, Scene};
use crate::synth::math::{clamp01, fbm, mix3, smoothstep, v3, value_noise, V3};
use crate::synth::raster::{blur_canvas, capsule, ellipse, lin, polygon, Canvas};
use crate::synth::rng::Rng;

/// Paint an out-of-focus background: studio gradient, indoor wall with
/// furniture and windows, or outdoor greenery and sky.
pub fn background(c: &mut Canvas, rng: &mut Rng) {
    let (w, h) = (c.w, c.h);
    let seed = rng.next_u64() as u32;
    let kind = rng.weighted(&[0.3, 0.4, 0.3]);
    let base = lin(
        rng.range(60.0, 230.0) as u8,
        rng.range(60.0, 230.0) as u8,
        rng.range(60.0, 230.0) as u8,
    );
    let base2 = base * rng.range(0.4, 1.3);
    let gdir = rng.range(-1.0, 1.0);
    let level = rng.range(0.35, 1.0);
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
            let t = clamp01(v + gdir * (u - 0.5));
            let n = fbm(seed, u * 3.0, v * 3.0, 2);
            c.px[y * w + x] = mix3(base, base2, t) * (level * (0.8 + 0.4 * n));
        }
    }
    match kind {
        1 => {
            // Indoor: rectangles (shelves, frames, doors, windows) then blur.
            for _ in 0..rng.below(7) + 2 {
                let x0 = rng.range(-0.2, 1.0) * w as f32;
                let y0 = rng.range(-0.2, 1.0) * h as f32;
                let (rw, rh) = (
                    rng.range(0.08, 0.6) * w as f32,
                    rng.range(0.05, 0.7) * h as f32,
                );
                let window = rng.chance(0.2);
                let col = if window {
                    v3(1.0, 1.0, 1.0) * rng.range(0.8, 1.6)
                } else {
                    lin(
                        rng.range(20.0, 220.0) as u8,
                        rng.range(20.0, 200.0) as u8,
                        rng.range(20.0, 200.0) as u8,
                    ) * level
                };
                let a = rng.range(0.5, 1.0);
                // Room light falls off across each surface (one side and
                // downward), so objects are not flat colour cards.
                let tilt = rng.range(-0.6, 0.6);
                let pts = [(x0, y0), (x0 + rw, y0), (x0 + rw, y0 + rh), (x0, y0 + rh)];
                polygon(w, h, &pts, 0.0, |i, cov| {
                    let (x, y) = ((i % w) as f32, (i / w) as f32);
                    let (u, v) = ((x - x0) / rw, (y - y0) / rh);
                    let fall = 1.0 + tilt * (u - 0.5) - 0.25 * v;
                    c.blend(i, col * fall.max(0.2), cov * a)
                });
            }
        }
        2 => {
            // Outdoor: sky at the top, foliage blobs, a ground band.
            let sky = lin(150, 185, 225) * rng.range(0.8, 1.5);
            let horizon = rng.range(0.2, 0.6) * h as f32;
            let green = lin(
                rng.range(40.0, 90.0) as u8,
                rng.range(70.0, 120.0) as u8,
                rng.range(30.0, 60.0) as u8,
            );
            let seed2 = seed ^ 0x5555;
            for y in 0..h {
                for x in 0..w {
                    let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
                    let i = y * w + x;
                    if (y as f32) < horizon {
                        c.px[i] = mix3(sky, sky * 0.8, v);
                    }
                    let f = fbm(seed2, u * 5.0, v * 5.0, 2);
                    let leaf = smoothstep(0.45, 0.55, f + 0.25 * (v - 0.5));
                    let shade = 0.6 + 0.8 * value_noise(seed2 ^ 9, u * 14.0, v * 14.0);
                    c.blend(i, green * shade, leaf);
                }
            }
        }
        _ => {}
    }
    // Depth of field: two box passes give a rounder, more lens-like blur.
    blur_canvas(c, rng.below(3) + 1, 2);
}

/// Long hair hanging behind the head and down to the shoulders.
pub fn back_hair(c: &mut Canvas, s: &Scene) {
    if !matches!(
        s.hair_style,
        HairStyle::Long | HairStyle::Medium | HairStyle::Bangs
    ) {
        return;
    }
    let (w, h) = (c.w, c.h);
    let len = if s.hair_style == HairStyle::Long {
        2.1
    } else {
        0.9
    };
    let (hx, hy, _) = s.project(v3(0.0, 0.1, -0.3));
    let half = s.scale * s.hair_shell.axes.x * 1.02;
    let ry = s.scale * (0.55 * len + 0.9);
    let cy = hy + ry - s.scale * 1.05;
    let seed = s.noise_seed ^ 0xabc;
    let key = s.key * 0.6 + s.ambient;
    ellipse(
        w,
        h,
        (hx, cy),
        half * 1.08,
        ry,
        (1.0, 0.0),
        0.8,
        |i, cov, u, v| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            // Frayed ends at the bottom and sides, vertical strands inside.
            let fray = value_noise(seed ^ 1, x * 0.7, y * 0.15);
            let edge = clamp01((1.0 - (u * u + v * v).sqrt()) * 6.0 + fray - 0.5);
            let strand = value_noise(seed, x * 0.9, y * 0.08);
            let shade = (0.35 + 0.35 * strand) * (0.7 + 0.3 * (1.0 - u.abs()));
            c.blend(i, s.hair.cmul(key) * shade, cov * edge);
        },
    );
}

/// Shoulders with clothing, then the neck.
pub fn body(c: &mut Canvas, s: &Scene) {
    let (w, h) = (c.w, c.h);
    let lit = |n: V3| clamp01(n.dot(s.light)) * 0.8 + 0.2;
    // Shoulders do not follow the head's yaw and roll fully.
    let (nx, ny, _) = s.project(v3(0.0, -1.4, -0.3));
    let bx = s.tx + (nx - s.tx) * 0.4;
    let sh_y = ny;
    let sw = s.scale * 2.5;
    let seed = s.noise_seed ^ 0x77;
    let light_x = s.light.x;
    ellipse(
        w,
        h,
        (bx, sh_y + s.scale * 1.7),
        sw,
        s.scale * 1.7,
        (1.0, 0.0),
        0.3,
        |i, cov, u, v| {
            let n = v3(u * 0.8, -v * 0.6, 0.5).norm();
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let folds = fbm(seed, x * 0.08, y * 0.05, 3);
            let crease = creases(s, seed, x - bx, y - sh_y);
            let col = mix3(
                s.clothes,
                s.clothes2,
                clamp01(u * 0.5 + 0.5 - 0.3 * light_x),
            );
            let shade = lit(n) * (0.75 + 0.5 * folds) * crease;
            c.blend(i, col.cmul(s.key * 0.8 + s.ambient) * shade, cov);
        },
    );
    // Neck: a shaded cylinder from under the jaw to the shoulders.
    let (ax, ay, _) = s.project(v3(0.0, -0.8, -0.25));
    let top = (ax, ay);
    let bot = (bx, sh_y + s.scale * 0.5);
    let r = s.scale * s.skull.axes.x * 0.62;
    // The jaw shades the top of the neck (deeper when the light is high);
    // the skin keeps the face's mottling.
    let jaw_shadow = 0.25 + 0.45 * clamp01(s.light.y + 0.2);
    capsule(w, h, top, bot, r, 0.3, |i, cov, t, side| {
        let n = v3(side, 0.0, (1.0 - side * side).max(0.0).sqrt());
        let under_jaw = 1.0 - jaw_shadow * (1.0 - smoothstep(0.15, 0.55, t));
        let shade = lit(n) * under_jaw * (0.45 + 0.4 * smoothstep(0.0, 0.6, t));
        let (x, y) = ((i % w) as f32, (i / w) as f32);
        let mottle = 0.92 + 0.16 * value_noise(seed ^ 0x4e, x * 0.3, y * 0.3);
        let round = 0.7 + 0.3 * (1.0 - side * side);
        let col = s.skin.cmul(s.key * shade + s.ambient * (0.7 * round)) * mottle;
        c.blend(i, col, cov);
    });
    // Neckline of the clothing over the bottom of the neck.
    let depth = s.scale * [0.25, 0.5, 0.8][s.neckline as usize % 3];
    let yb = bot.1;
    let pts = [
        (bx - sw * 0.9, yb - s.scale * 0.15),
        (bx - r * 1.3, yb - s.scale * 0.15),
        (bx, yb + depth),
        (bx + r * 1.3, yb - s.scale * 0.15),
        (bx + sw * 0.9, yb - s.scale * 0.15),
        (bx + sw * 0.9, h as f32 + 2.0),
        (bx - sw * 0.9, h as f32 + 2.0),
    ];
    polygon(w, h, &pts, 0.4, |i, cov| {
        let p = c.px[i];
        // Keep the shoulder shading already there, just recolour the neck area.
        let (x, y) = ((i % w) as f32, (i / w) as f32);
        let folds = fbm(seed, x * 0.08, y * 0.05, 3);
        let crease = creases(s, seed, x - bx, y - sh_y);
        let q = s.clothes.cmul(s.key * 0.6 + s.ambient) * ((0.45 + 0.4 * folds) * crease);
        let _ = p;
        c.blend(i, q, cov);
    });
}

/// Cloth folds as a brightness factor: ridges running down and outward from
/// the neck (where fabric hangs from the shoulders), each with a lit and a
/// shaded flank, broken up by noise. `dx`, `dy` are pixels from the base of
/// the neck; the pattern scales with the head.
fn creases(s: &Scene, seed: u32, dx: f32, dy: f32) -> f32 {
    let (u, v) = (dx / s.scale, dy / s.scale);
    // Slope from a point above the neck: folds fan out from it (a ratio
    // instead of an angle keeps this cheap; it runs on every clothing pixel).
    let ang = u / (v.max(0.05) + 0.6);
    let warp = value_noise(seed ^ 0x0f, u * 1.5, v * 1.5);
    let ridge = libm::sinf(ang * 9.0 + warp * 2.4);
    let depth = 0.4 + 0.6 * warp;
    1.0 + 0.14 * ridge * depth
}
