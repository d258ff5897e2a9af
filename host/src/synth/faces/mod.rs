//! Portraits with eyeglasses and the shadows they cast.
//!
//! `render(seed, index, size)` draws one portrait and its class mask:
//! [`CLASS_OTHER`] (background, skin, anything else), [`CLASS_GLASSES`]
//! (frame and lenses) and [`CLASS_SHADOW`] (the glasses' cast shadow, only on
//! visible face skin and never under the glasses' own pixels).
mod backdrop;
mod eyewear;
mod head;
mod scene;

use image::{GrayImage, RgbImage};

pub use scene::HairStyle;

use super::camera::Effects;
use super::glasses::Style;
use super::math::v3;
use super::raster::Canvas;
use super::rng::Rng;

pub const CLASS_OTHER: u8 = 0;
pub const CLASS_GLASSES: u8 = 1;
pub const CLASS_SHADOW: u8 = 2;

/// A cast shadow is labelled where it removes at least this fraction of the
/// light a skin pixel would otherwise get: fainter ones are not visible.
pub const SHADOW_LABEL_DARKENING: f32 = 0.2;

/// Random stream id of the face generator (see `Rng::for_item`).
const STREAM: u64 = 0xFACE;

/// One rendered portrait.
pub struct FaceSample {
    pub image: RgbImage,
    /// Class id per pixel (0, 1, 2).
    pub mask: GrayImage,
    /// Frame style, or `None` for a face without glasses.
    pub glasses: Option<Style>,
    /// Per pixel: visible face skin (head surface not covered by hair),
    /// the only place a shadow label may appear.
    pub skin: Vec<bool>,
}

impl FaceSample {
    /// Pixel count per class.
    pub fn class_counts(&self) -> [usize; 3] {
        let mut c = [0usize; 3];
        for p in self.mask.as_raw() {
            if let Some(slot) = c.get_mut(*p as usize) {
                *slot += 1;
            }
        }
        c
    }
}

/// Switches for ablations and tests; the data set uses the defaults.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Darken the skin under the glasses' cast shadow (labels are unchanged).
    pub cast_shadow: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { cast_shadow: true }
    }
}

/// Render portrait `index` of the data set with `seed`, `size` x `size` pixels.
pub fn render(seed: u64, index: u64, size: u32) -> FaceSample {
    render_with(seed, index, size, Options::default())
}

/// [`render`] with explicit options.
pub fn render_with(seed: u64, index: u64, size: u32, opts: Options) -> FaceSample {
    let n = size.max(8) as usize;
    let mut rng = Rng::for_item(seed, STREAM, index);
    let s = scene::Scene::sample(&mut rng.fork(), n);
    let fx = Effects::sample(&mut rng.fork());
    let mut canvas = Canvas::new(n, n, v3(0.0, 0.0, 0.0));
    backdrop::background(&mut canvas, &mut rng.fork());
    // Background brightness follows the key light a little.
    let lvl = 0.5 + 0.3 * (s.key.y + s.ambient.y);
    for p in canvas.px.iter_mut() {
        *p = *p * lvl;
    }
    backdrop::back_hair(&mut canvas, &s);
    backdrop::body(&mut canvas, &s);
    let surf = head::cast(&s);
    let shadow = match &s.glasses {
        Some(f) => eyewear::shadow(&s, f, &surf),
        None => vec![0.0; n * n],
    };
    // Labels always come from the shadow geometry, whether drawn or not.
    let (skin, dark) = head::shade(&mut canvas, &s, &surf, &shadow, opts.cast_shadow);
    let cover = match &s.glasses {
        Some(f) => eyewear::draw(&mut canvas, &s, f, &surf),
        None => vec![0.0; n * n],
    };
    let mut mask = vec![CLASS_OTHER; n * n];
    for i in 0..n * n {
        if cover[i] >= 0.5 {
            mask[i] = CLASS_GLASSES;
        } else if skin[i] && shadow[i] > 0.0 && dark[i] >= SHADOW_LABEL_DARKENING {
            mask[i] = CLASS_SHADOW;
        }
    }
    let bytes = fx.apply(&canvas);
    let image = RgbImage::from_raw(n as u32, n as u32, bytes)
        .unwrap_or_else(|| RgbImage::new(n as u32, n as u32));
    let mask = GrayImage::from_raw(n as u32, n as u32, mask)
        .unwrap_or_else(|| GrayImage::new(n as u32, n as u32));
    FaceSample {
        image,
        mask,
        glasses: s.glasses.as_ref().map(|f| f.style),
        skin,
    }
}
