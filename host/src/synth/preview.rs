//! Contact sheets: a grid of samples with their ground truth overlaid, for
//! people to judge the generators by eye.
use image::{GrayImage, Rgb, RgbImage};

/// Tint class pixels: glasses red, shadow cyan, keeping the image visible.
pub fn overlay_mask(img: &RgbImage, mask: &GrayImage) -> RgbImage {
    let mut out = img.clone();
    for (p, m) in out.pixels_mut().zip(mask.pixels()) {
        let tint = match m.0[0] {
            1 => [255.0, 40.0, 40.0],
            2 => [40.0, 220.0, 255.0],
            _ => continue,
        };
        for (c, t) in p.0.iter_mut().zip(tint) {
            *c = (*c as f32 * 0.35 + t * 0.65) as u8;
        }
    }
    out
}

/// Mark head points with small red crosses.
pub fn overlay_points(img: &RgbImage, pts: &[(f32, f32)]) -> RgbImage {
    let mut out = img.clone();
    let (w, h) = (out.width() as i64, out.height() as i64);
    for &(x, y) in pts {
        let (cx, cy) = (x.floor() as i64, y.floor() as i64);
        for (dx, dy) in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)] {
            let (px, py) = (cx + dx, cy + dy);
            if px >= 0 && py >= 0 && px < w && py < h {
                out.put_pixel(px as u32, py as u32, Rgb([255, 0, 0]));
            }
        }
    }
    out
}

/// Lay tiles (all the same size) out in a grid with a 2-pixel gutter.
pub fn sheet(tiles: &[RgbImage], cols: usize) -> RgbImage {
    let Some(first) = tiles.first() else {
        return RgbImage::new(1, 1);
    };
    let (tw, th) = (first.width(), first.height());
    let cols = cols.clamp(1, tiles.len());
    let rows = tiles.len().div_ceil(cols);
    let g = 2u32;
    let mut out = RgbImage::from_pixel(
        cols as u32 * (tw + g) + g,
        rows as u32 * (th + g) + g,
        Rgb([255, 255, 255]),
    );
    for (k, t) in tiles.iter().enumerate() {
        let (c, r) = ((k % cols) as u32, (k / cols) as u32);
        let (ox, oy) = (g + c * (tw + g), g + r * (th + g));
        for (x, y, p) in t.enumerate_pixels() {
            if x < tw && y < th {
                out.put_pixel(ox + x, oy + y, *p);
            }
        }
    }
    out
}
