//! Where training samples come from: a [`DataSource`] yields one [`Sample`]
//! (an RGB image and its label) by index. Folder readers are here; the
//! synthetic generators can implement the same trait to generate samples on
//! the fly (index → seed), and the trainer does not care which it gets.
//!
//! Folder layouts:
//! - faces: `DIR/00000.png` + `DIR/00000.mask.png` (8-bit class ids 0..3),
//! - crowds: `DIR/00000.png` + `DIR/00000.points.csv` (header `x,y`, head
//!   centres in image pixels),
//! - classes (fractal pre-training): `DIR/<class>/*.png`, classes sorted by name.
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};

/// An RGB image, HWC, values in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<f32>,
}

impl Image {
    pub fn new(w: usize, h: usize, rgb: Vec<f32>) -> Result<Image> {
        ensure!(rgb.len() == w * h * 3, "image buffer is not {w}x{h}x3");
        Ok(Image { w, h, rgb })
    }

    /// Reads a PNG (any colour type) as RGB.
    pub fn load(path: &Path) -> Result<Image> {
        let img = image::open(path)
            .with_context(|| format!("reading {}", path.display()))?
            .to_rgb8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let rgb = img
            .into_raw()
            .into_iter()
            .map(|v| v as f32 / 255.0)
            .collect();
        Image::new(w, h, rgb)
    }

    /// Bilinear resize (half-pixel centres), for matching the model input.
    pub fn resized(&self, w: usize, h: usize) -> Image {
        if w == self.w && h == self.h {
            return self.clone();
        }
        if self.w == 0 || self.h == 0 {
            return Image {
                w,
                h,
                rgb: vec![0.0; w * h * 3],
            };
        }
        let mut rgb = vec![0f32; w * h * 3];
        let sx = self.w as f32 / w as f32;
        let sy = self.h as f32 / h as f32;
        for y in 0..h {
            let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (self.h - 1) as f32);
            let y0 = fy.floor() as usize;
            let y1 = (y0 + 1).min(self.h - 1);
            let ty = fy - y0 as f32;
            for x in 0..w {
                let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (self.w - 1) as f32);
                let x0 = fx.floor() as usize;
                let x1 = (x0 + 1).min(self.w - 1);
                let tx = fx - x0 as f32;
                for c in 0..3 {
                    let p = |yy: usize, xx: usize| self.rgb[(yy * self.w + xx) * 3 + c];
                    let top = p(y0, x0) * (1.0 - tx) + p(y0, x1) * tx;
                    let bot = p(y1, x0) * (1.0 - tx) + p(y1, x1) * tx;
                    rgb[(y * w + x) * 3 + c] = top * (1.0 - ty) + bot * ty;
                }
            }
        }
        Image { w, h, rgb }
    }
}

/// Nearest-neighbour resize of a class map (`src` is `sw x sh`), sampling
/// at pixel centres like [`Image::resized`] so masks stay aligned.
pub fn resize_mask(src: &[u8], sw: usize, sh: usize, w: usize, h: usize) -> Vec<u8> {
    let mut out = vec![0u8; w * h];
    if sw == 0 || sh == 0 || src.len() < sw * sh {
        return out;
    }
    for y in 0..h {
        let yy = (((2 * y + 1) * sh) / (2 * h)).min(sh - 1);
        for x in 0..w {
            let xx = (((2 * x + 1) * sw) / (2 * w)).min(sw - 1);
            out[y * w + x] = src[yy * sw + xx];
        }
    }
    out
}

/// What a sample is labelled with.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// Class id per pixel, same size as the image.
    Mask(Vec<u8>),
    /// Head centres in image pixel coordinates.
    Points(Vec<(f32, f32)>),
    /// One class for the whole image (pre-training).
    Class(usize),
}

/// One training example.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub image: Image,
    pub label: Label,
}

/// Anything that can hand out samples by index.
pub trait DataSource: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index` (`index < len()`).
    fn get(&self, index: usize) -> Result<Sample>;

    /// Number of image classes, for classification sources (0 otherwise).
    fn classes(&self) -> usize {
        0
    }
}

/// Samples held in memory (tests, caches, generated sets).
pub struct InMemory {
    pub samples: Vec<Sample>,
    pub classes: usize,
}

impl DataSource for InMemory {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        match self.samples.get(index) {
            Some(s) => Ok(s.clone()),
            None => bail!(
                "sample {index} out of range ({} samples)",
                self.samples.len()
            ),
        }
    }

    fn classes(&self) -> usize {
        self.classes
    }
}

/// The `*.png` images of a folder that are not label images, sorted.
fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".png") && !name.ends_with(".mask.png") && !name.ends_with(".density.png")
        {
            out.push(p);
        }
    }
    out.sort();
    ensure!(!out.is_empty(), "no images in {}", dir.display());
    Ok(out)
}

/// `DIR/NAME.png` → `DIR/NAME<suffix>`.
fn sibling(image: &Path, suffix: &str) -> PathBuf {
    let stem = image.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    image.with_file_name(format!("{stem}{suffix}"))
}

/// Face crops with class masks: `NAME.png` + `NAME.mask.png`.
pub struct FaceFolder {
    images: Vec<PathBuf>,
    classes: usize,
}

impl FaceFolder {
    /// Lists the folder; every image must have its mask.
    pub fn open(dir: &Path, classes: usize) -> Result<FaceFolder> {
        let images = list_images(dir)?;
        for p in &images {
            let m = sibling(p, ".mask.png");
            ensure!(m.exists(), "{} has no mask {}", p.display(), m.display());
        }
        Ok(FaceFolder { images, classes })
    }
}

impl DataSource for FaceFolder {
    fn len(&self) -> usize {
        self.images.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let Some(p) = self.images.get(index) else {
            bail!("sample {index} out of range");
        };
        let image = Image::load(p)?;
        let mp = sibling(p, ".mask.png");
        let mask = image::open(&mp)
            .with_context(|| format!("reading {}", mp.display()))?
            .to_luma8();
        ensure!(
            (mask.width() as usize, mask.height() as usize) == (image.w, image.h),
            "{}: mask size differs from the image",
            mp.display()
        );
        let mask = mask.into_raw();
        if let Some(bad) = mask.iter().find(|&&v| v as usize >= self.classes) {
            bail!("{}: class id {bad} ≥ {}", mp.display(), self.classes);
        }
        Ok(Sample {
            image,
            label: Label::Mask(mask),
        })
    }
}

/// Parses a `x,y` CSV of head points (header required).
pub fn parse_points(text: &str) -> Result<Vec<(f32, f32)>> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").trim();
    ensure!(
        header == "x,y",
        "points file header is {header:?}, expected \"x,y\""
    );
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut it = line.split(',');
        let (Some(x), Some(y), None) = (it.next(), it.next(), it.next()) else {
            bail!("points line {}: {line:?}", n + 2);
        };
        let x: f32 = x
            .trim()
            .parse()
            .with_context(|| format!("points line {}", n + 2))?;
        let y: f32 = y
            .trim()
            .parse()
            .with_context(|| format!("points line {}", n + 2))?;
        ensure!(
            x.is_finite() && y.is_finite(),
            "points line {}: not finite",
            n + 2
        );
        out.push((x, y));
    }
    Ok(out)
}

/// Crowd frames with head points: `NAME.png` + `NAME.points.csv`.
pub struct CrowdFolder {
    images: Vec<PathBuf>,
}

impl CrowdFolder {
    pub fn open(dir: &Path) -> Result<CrowdFolder> {
        let images = list_images(dir)?;
        for p in &images {
            let m = sibling(p, ".points.csv");
            ensure!(m.exists(), "{} has no points {}", p.display(), m.display());
        }
        Ok(CrowdFolder { images })
    }
}

impl DataSource for CrowdFolder {
    fn len(&self) -> usize {
        self.images.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let Some(p) = self.images.get(index) else {
            bail!("sample {index} out of range");
        };
        let image = Image::load(p)?;
        let cp = sibling(p, ".points.csv");
        let text =
            std::fs::read_to_string(&cp).with_context(|| format!("reading {}", cp.display()))?;
        let points = parse_points(&text).with_context(|| cp.display().to_string())?;
        Ok(Sample {
            image,
            label: Label::Points(points),
        })
    }
}

/// Classification images: `DIR/<class>/*.png`, one sub-folder per class.
pub struct ClassFolder {
    items: Vec<(PathBuf, usize)>,
    pub class_names: Vec<String>,
}

impl ClassFolder {
    pub fn open(dir: &Path) -> Result<ClassFolder> {
        let mut classes: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        classes.sort();
        ensure!(
            classes.len() >= 2,
            "{}: need at least 2 class folders",
            dir.display()
        );
        let mut items = Vec::new();
        let mut class_names = Vec::new();
        for (k, c) in classes.iter().enumerate() {
            class_names.push(
                c.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("?")
                    .to_string(),
            );
            for p in list_images(c)? {
                items.push((p, k));
            }
        }
        Ok(ClassFolder { items, class_names })
    }
}

impl DataSource for ClassFolder {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let Some((p, k)) = self.items.get(index) else {
            bail!("sample {index} out of range");
        };
        Ok(Sample {
            image: Image::load(p)?,
            label: Label::Class(*k),
        })
    }

    fn classes(&self) -> usize {
        self.class_names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_csv() {
        assert_eq!(
            parse_points("x,y\n1.5,2\n 3 , 4.25\n\n").unwrap(),
            vec![(1.5, 2.0), (3.0, 4.25)]
        );
        assert!(parse_points("a,b\n1,2\n").is_err());
        assert!(parse_points("x,y\n1\n").is_err());
        assert!(parse_points("x,y\n1,2,3\n").is_err());
        assert!(parse_points("x,y\nnan,2\n").is_err());
        assert!(parse_points("x,y\n").unwrap().is_empty());
    }

    #[test]
    fn resize_keeps_constant_images_and_masks() {
        let img = Image::new(4, 2, vec![0.25; 24]).unwrap();
        let r = img.resized(8, 8);
        assert_eq!((r.w, r.h), (8, 8));
        assert!(r.rgb.iter().all(|&v| (v - 0.25).abs() < 1e-6));
        assert_eq!(resize_mask(&[0, 1, 2, 1], 2, 2, 4, 4)[..4], [0, 0, 1, 1]);
    }
}
