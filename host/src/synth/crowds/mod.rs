//! Crowds seen from a camera above a ground plane.
//!
//! `render(seed, index, size)` returns the image and the visible heads (image
//! point and a perspective-derived Gaussian sigma for density maps). A head
//! counts as visible when the pixel at its centre shows that person after
//! painting everything far to near.
mod figures;
mod ground;
mod layout;
mod props;
mod view;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::camera::Effects;
use super::math::{mix3, v3, V3};
use super::raster::{blur_scalar, lin, Canvas};
use super::rng::Rng;
use figures::HeadMark;
use layout::Person;
use props::Prop;
pub use view::View;

const STREAM: u64 = 0xC20D;

/// Scene lighting shared by ground, people and props.
#[derive(Clone, Debug)]
pub struct Light {
    /// Direction toward the sun (world).
    pub sun: V3,
    pub key: V3,
    pub ambient: V3,
    /// Sun direction as seen on screen: (right, toward-camera) components.
    pub screen: (f32, f32),
    pub haze: V3,
    pub sky: V3,
    pub visibility: f32,
    /// Ground offset of a shadow per metre of height.
    pub shadow_dir: V3,
    pub shadow_strength: f32,
}

impl Light {
    fn sample(rng: &mut Rng) -> Light {
        let weather = rng.weighted(&[0.55, 0.35, 0.1]);
        let el = match weather {
            0 => rng.range(0.3, 1.3),
            1 => rng.range(0.6, 1.4),
            _ => rng.range(0.08, 0.3),
        };
        let az = rng.range(0.0, core::f32::consts::TAU);
        let sun = v3(
            libm::cosf(el) * libm::sinf(az),
            libm::sinf(el),
            libm::cosf(el) * libm::cosf(az),
        );
        let (key, ambient, strength) = match weather {
            0 => (
                v3(1.0, 0.95, 0.85) * rng.range(1.0, 1.6),
                v3(0.32, 0.36, 0.45) * rng.range(0.6, 1.0),
                rng.range(0.45, 0.65),
            ),
            1 => (
                v3(1.0, 1.0, 1.0) * rng.range(0.15, 0.3),
                v3(0.8, 0.82, 0.85) * rng.range(0.7, 1.0),
                rng.range(0.1, 0.2),
            ),
            _ => (
                v3(1.0, 0.6, 0.35) * rng.range(0.6, 1.0),
                v3(0.3, 0.3, 0.42) * rng.range(0.5, 0.8),
                rng.range(0.3, 0.5),
            ),
        };
        let sky = match weather {
            0 => lin(120, 165, 225),
            1 => lin(190, 195, 200),
            _ => lin(230, 160, 120),
        };
        let len = (libm::cosf(el) / libm::sinf(el)).min(3.0);
        let ground_dir = v3(-sun.x, 0.0, -sun.z).norm();
        Light {
            sun,
            key,
            ambient,
            screen: (sun.x, -sun.z),
            haze: mix3(sky, v3(0.8, 0.8, 0.8), 0.5),
            sky,
            visibility: libm::expf(rng.range(libm::logf(150.0), libm::logf(2500.0))),
            shadow_dir: ground_dir * len,
            shadow_strength: strength,
        }
    }

    /// Fraction of haze over an object at distance `d` (m).
    pub fn haze_at(&self, d: f32) -> f32 {
        // exp(-x) from a table with linear interpolation: this runs per
        // ground pixel, and the table keeps it exact across machines too.
        let x = (d / self.visibility).max(0.0) * (HAZE_LUT_N as f32 / HAZE_LUT_MAX);
        let i = x as usize;
        let t = haze_lut();
        if i + 1 >= HAZE_LUT_N {
            return 1.0 - t[HAZE_LUT_N - 1];
        }
        let f = x - i as f32;
        1.0 - (t[i] + (t[i + 1] - t[i]) * f)
    }
}

const HAZE_LUT_N: usize = 512;
const HAZE_LUT_MAX: f32 = 8.0;

fn haze_lut() -> &'static [f32; HAZE_LUT_N] {
    static T: std::sync::OnceLock<[f32; HAZE_LUT_N]> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t = [0.0f32; HAZE_LUT_N];
        for (i, v) in t.iter_mut().enumerate() {
            *v = libm::expf(-(i as f32) * HAZE_LUT_MAX / HAZE_LUT_N as f32);
        }
        t
    })
}

/// One annotated head: image point (pixels, origin at the top-left corner of
/// the image) and the density-map sigma (pixels) from its perspective size.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Head {
    pub x: f32,
    pub y: f32,
    pub sigma: f32,
}

/// Camera of one crowd image, for the per-image annotation file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CameraInfo {
    pub height_m: f32,
    pub tilt_rad: f32,
    pub focal_px: f32,
    pub horizon_y: f32,
}

pub struct CrowdSample {
    pub image: RgbImage,
    /// Visible heads; `heads.len()` is the count.
    pub heads: Vec<Head>,
    pub camera: CameraInfo,
    /// People placed, including hidden ones.
    pub placed: usize,
}

/// Density sigma (pixels) for a head of radius `r` pixels: heads spread over
/// about their own size, never sharper than one pixel.
pub fn sigma_for_radius(r: f32) -> f32 {
    (0.8 * r).clamp(1.0, 16.0)
}

enum Item {
    Person(usize),
    Prop(usize),
}

/// Render crowd image `index` of the data set with `seed`, `size` x `size`.
pub fn render(seed: u64, index: u64, size: u32) -> CrowdSample {
    let n = size.max(8) as usize;
    let mut rng = Rng::for_item(seed, STREAM, index);
    let view = View::sample(&mut rng.fork(), n);
    let light = Light::sample(&mut rng.fork());
    let ground = ground::Ground::sample(&mut rng.fork());
    let fx = Effects::sample(&mut rng.fork());
    let mut prng = rng.fork();
    let count = layout::sample_count(&mut prng);
    let mut people = layout::people(&mut prng, &view, count);
    // Clutter: a few objects, kept clear of people.
    let mut krng = rng.fork();
    let n_props = if krng.chance(0.2) {
        0
    } else {
        krng.below(12) + 1
    };
    let zmax = layout::far_limit(&view);
    let mut props_v: Vec<Prop> = Vec::new();
    for _ in 0..n_props {
        if let Some((x, z)) = layout::ground_point(&mut krng, &view, zmax * 0.8) {
            let q = Prop::sample(&mut krng, x, z);
            // Keep clutter from filling the frame: at most ~60% of its height.
            let d = view.project(v3(x, 1.0, z)).2;
            if d > 0.0 && q.extent().1 * view.px_per_m(d) < 0.6 * n as f32 {
                props_v.push(q);
            }
        }
    }
    people.retain(|p: &Person| {
        props_v.iter().all(|q| {
            let (r, _) = q.extent();
            let r = r.min(1.2) + 0.3;
            (p.x - q.x) * (p.x - q.x) + (p.z - q.z) * (p.z - q.z) > r * r
        })
    });

    let mut canvas = Canvas::new(n, n, v3(0.0, 0.0, 0.0));
    ground.paint(&mut canvas, &view, &light);
    // Ground shadows.
    let mut occ = vec![0.0f32; n * n];
    for p in &people {
        figures::shadow(&mut occ, n, n, &view, &light, p.x, p.z, p.height, 0.22);
    }
    for q in &props_v {
        let (r, h) = q.extent();
        figures::shadow(&mut occ, n, n, &view, &light, q.x, q.z, h, r.max(0.08));
    }
    blur_scalar(&mut occ, n, n, 1, 1);
    ground::apply_shadows(&mut canvas, &occ, light.shadow_strength);

    // Painter's order: far to near by camera depth.
    let depth_of = |x: f32, z: f32| view.project(v3(x, 1.0, z)).2;
    let mut items: Vec<(f32, Item)> = Vec::with_capacity(people.len() + props_v.len());
    for (i, p) in people.iter().enumerate() {
        items.push((depth_of(p.x, p.z), Item::Person(i)));
    }
    for (i, q) in props_v.iter().enumerate() {
        items.push((depth_of(q.x, q.z), Item::Prop(i)));
    }
    items.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut ids = vec![0u16; n * n];
    let mut marks: Vec<HeadMark> = Vec::new();
    for (_, it) in &items {
        match it {
            Item::Person(i) => {
                let id = (*i + 1) as u16;
                if let Some(m) =
                    figures::draw(&mut canvas, &mut ids, &view, &light, &people[*i], id)
                {
                    marks.push(m);
                }
            }
            Item::Prop(i) => props_v[*i].draw(&mut canvas, &mut ids, &view, &light),
        }
    }
    let mut heads: Vec<Head> = marks
        .iter()
        .filter(|m| figures::pixel(n, n, m.x, m.y).is_some_and(|i| ids[i] == m.id))
        .map(|m| Head {
            x: m.x,
            y: m.y,
            sigma: sigma_for_radius(m.radius),
        })
        .collect();
    // Stable order: top to bottom, left to right.
    heads.sort_by(|a, b| a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x)));
    let bytes = fx.apply(&canvas);
    let image = RgbImage::from_raw(n as u32, n as u32, bytes)
        .unwrap_or_else(|| RgbImage::new(n as u32, n as u32));
    CrowdSample {
        image,
        heads,
        camera: CameraInfo {
            height_m: view.height,
            tilt_rad: view.tilt,
            focal_px: view.focal,
            horizon_y: view.horizon_y(),
        },
        placed: people.len(),
    }
}
