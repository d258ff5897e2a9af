//! Where people stand: a long-tailed head count, spread over the visible
//! ground uniformly in the world (so far areas look dense), in groups, and in
//! queues, never closer than a shoulder width to each other.
use super::view::View;
use crate::synth::math::{fbm, mix3, V3};
use crate::synth::raster::lin;
use crate::synth::rng::Rng;

/// Largest number of people placed in one image.
pub const MAX_PEOPLE: usize = 900;

#[derive(Clone, Debug)]
pub struct Person {
    pub x: f32,
    pub z: f32,
    pub height: f32,
    /// Facing direction on the ground (rad), and walking stride (m).
    pub facing: f32,
    pub stride: f32,
    pub top: V3,
    pub bottom: V3,
    pub skin: V3,
    pub hair: V3,
    pub bald: bool,
    pub bag: Option<V3>,
    pub hat: Option<V3>,
    pub short_sleeves: bool,
}

/// Target count: none sometimes, otherwise log-uniform up to several hundred.
pub fn sample_count(rng: &mut Rng) -> usize {
    if rng.chance(0.06) {
        0
    } else {
        (libm::expf(rng.range(0.0, libm::logf(700.0))) as usize).min(MAX_PEOPLE)
    }
}

fn clothing(rng: &mut Rng) -> V3 {
    if rng.chance(0.55) {
        // Dark and neutral clothes dominate real crowds.
        let g = rng.range(15.0, 120.0) as u8;
        let t = rng.range(0.85, 1.15);
        lin(g, g, (g as f32 * t).min(255.0) as u8)
    } else {
        // Coloured but muted: real fabric is rarely fully saturated.
        let c = lin(
            rng.range(20.0, 230.0) as u8,
            rng.range(20.0, 230.0) as u8,
            rng.range(20.0, 230.0) as u8,
        );
        let g = (c.x + c.y + c.z) / 3.0;
        mix3(c, V3 { x: g, y: g, z: g }, rng.range(0.3, 0.7))
    }
}

fn person_at(rng: &mut Rng, x: f32, z: f32, facing: f32) -> Person {
    let child = rng.chance(0.07);
    let t = rng.f32();
    let skin = lin(236, 200, 175) * (1.0 - t) + lin(90, 58, 40) * t;
    Person {
        x,
        z,
        height: if child {
            rng.range(1.0, 1.45)
        } else {
            rng.range(1.55, 1.95)
        },
        facing,
        stride: if rng.chance(0.5) {
            rng.range(0.0, 0.7)
        } else {
            0.0
        },
        top: clothing(rng),
        bottom: clothing(rng) * 0.8,
        skin,
        hair: *rng.pick(&[
            lin(20, 16, 14),
            lin(50, 35, 25),
            lin(110, 80, 50),
            lin(160, 150, 140),
            lin(190, 160, 110),
        ]),
        bald: rng.chance(0.07),
        bag: rng.chance(0.2).then(|| clothing(rng)),
        hat: rng.chance(0.1).then(|| clothing(rng)),
        short_sleeves: rng.chance(0.3),
    }
}

/// Deepest horizontal distance worth placing people at: where a head is
/// still about half a pixel wide.
pub fn far_limit(view: &View) -> f32 {
    (0.11 * view.focal / 0.45).min(400.0)
}

/// Uniform-in-world random ground point visible in the image (or just
/// below its bottom edge, for people whose heads are still in view).
pub fn ground_point(rng: &mut Rng, view: &View, zmax: f32) -> Option<(f32, f32)> {
    let sz = view.size;
    let top = view.horizon_y().max(0.0) + 1.0;
    for _ in 0..64 {
        let (u, v) = (rng.range(0.0, sz), rng.range(top, sz * 1.15));
        let Some((x, z, dist)) = view.ground_at(u, v) else {
            continue;
        };
        if z > zmax || z <= 0.5 {
            continue;
        }
        // Ground area of a pixel grows with distance cubed; accept in
        // proportion to it so that the density is uniform on the ground.
        let a = (dist / zmax.max(1.0)).min(1.0);
        if rng.chance(0.15) || rng.f32() < a * a * a {
            return Some((x, z));
        }
    }
    None
}

pub fn people(rng: &mut Rng, view: &View, count: usize) -> Vec<Person> {
    let zmax = far_limit(view);
    let mut out: Vec<Person> = Vec::with_capacity(count);
    let cell = 0.5f32;
    let mut grid: std::collections::HashMap<(i32, i32), Vec<(f32, f32)>> = Default::default();
    let min_d2 = 0.42f32 * 0.42;
    let density_seed = rng.next_u64() as u32;
    let clumpy = rng.range(0.0, 1.0);
    let flow = rng.range(0.0, core::f32::consts::TAU);
    let mut try_add = |rng: &mut Rng, out: &mut Vec<Person>, x: f32, z: f32, facing: f32| -> bool {
        let (gx, gz) = ((x / cell).floor() as i32, (z / cell).floor() as i32);
        for dx in -1..=1 {
            for dz in -1..=1 {
                if let Some(v) = grid.get(&(gx + dx, gz + dz)) {
                    if v.iter()
                        .any(|(px, pz)| (px - x) * (px - x) + (pz - z) * (pz - z) < min_d2)
                    {
                        return false;
                    }
                }
            }
        }
        grid.entry((gx, gz)).or_default().push((x, z));
        out.push(person_at(rng, x, z, facing));
        true
    };
    let mut budget = count * 30 + 50;
    while out.len() < count && budget > 0 {
        budget -= 1;
        let mode = rng.weighted(&[0.6, 0.3, 0.1]);
        let Some((x, z)) = ground_point(rng, view, zmax) else {
            continue;
        };
        // Spatially varying density: some areas of the square are empty.
        let d = fbm(density_seed, x * 0.05, z * 0.05, 2);
        if rng.f32() > 1.0 - clumpy * (1.0 - (d * 2.0 - 0.4).clamp(0.0, 1.0)) {
            continue;
        }
        let facing = if rng.chance(0.6) {
            flow + rng.range(-0.4, 0.4)
        } else {
            rng.range(0.0, core::f32::consts::TAU)
        };
        match mode {
            0 => {
                try_add(rng, &mut out, x, z, facing);
            }
            1 => {
                // A group standing together, facing each other loosely.
                let n = 2 + rng.below(6);
                let spread = rng.range(0.5, 1.5);
                for _ in 0..n {
                    let (px, pz) = (x + rng.normal() * spread, z + rng.normal() * spread);
                    if out.len() < count {
                        let f = rng.range(0.0, core::f32::consts::TAU);
                        try_add(rng, &mut out, px, pz, f);
                    }
                }
            }
            _ => {
                // A queue: people one behind the other, facing along it.
                let n = 4 + rng.below(20);
                let dir = rng.range(0.0, core::f32::consts::TAU);
                let (dx, dz) = (libm::sinf(dir), libm::cosf(dir));
                let gap = rng.range(0.5, 0.85);
                for k in 0..n {
                    let t = k as f32 * gap;
                    let wob = rng.range(-0.12, 0.12);
                    if out.len() < count {
                        try_add(
                            rng,
                            &mut out,
                            x + dx * t + dz * wob,
                            z + dz * t - dx * wob,
                            dir + core::f32::consts::PI,
                        );
                    }
                }
            }
        }
    }
    out
}
