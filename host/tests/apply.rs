//! `mote run` / `mote eval` on hand-built models whose output is a known
//! function of the pixels: an identity RESHAPE, so the segmenter's logits
//! are the input's RGB codes (class = argmax of R, G, B) and the counter's
//! density is the grey level (count = Σ grey / 255).
use std::path::Path;

use image::{GrayImage, Luma, Rgb, RgbImage};
use mote_host::apply::run_to_dir;
use mote_host::blob;
use mote_host::evaluate::{evaluate, Evaluation};
use mote_host::graph::{DType, Graph, Head, OpCode, Quantization};

const PIXEL: Quantization = Quantization::PerTensor {
    scale: 1.0 / 255.0,
    zero_point: -128,
};

fn identity_model(channels: usize, head: Head) -> Vec<u8> {
    let mut g = Graph::new();
    let x = g.add_activation("x", &[1, 4, 4, channels], DType::Int8, PIXEL);
    let y = g.add_activation("y", &[1, 4, 4, channels], DType::Int8, PIXEL);
    g.add_op(OpCode::Reshape, &[x], &[y], vec![]);
    g.inputs = vec![x];
    g.outputs = vec![y];
    g.head = head;
    blob::export(&g).expect("export")
}

/// Argmax of a pixel's channels, ties to the lowest.
fn argmax(p: [u8; 3]) -> u8 {
    let mut best = 0u8;
    for (k, &v) in p.iter().enumerate() {
        if v > p[usize::from(best)] {
            best = k as u8;
        }
    }
    best
}

fn pixel(x: u32, y: u32) -> [u8; 3] {
    [
        (x * 37 + y * 11) as u8,
        (x * 5 + y * 71) as u8,
        ((x ^ y) * 29) as u8,
    ]
}

#[test]
fn segmenter_masks_map_back_through_the_crop() {
    let dir = tempfile::tempdir().unwrap();
    // 8x4: centre-cropped to columns 2..6, which map 1:1 onto the 4x4 model.
    let img = RgbImage::from_fn(8, 4, |x, y| Rgb(pixel(x, y)));
    let path = dir.path().join("wide.png");
    img.save(&path).unwrap();
    let out = dir.path().join("out");
    let blob = identity_model(3, Head::Segmentation);
    let r = run_to_dir(&blob, &[path], &out).unwrap();
    assert_eq!(r, vec![("wide".to_string(), None)]);
    let mask = image::open(out.join("wide.mask.png")).unwrap().to_luma8();
    assert_eq!(mask.dimensions(), (8, 4));
    for (x, y, m) in mask.enumerate_pixels() {
        let want = if (2..6).contains(&x) {
            argmax(pixel(x, y))
        } else {
            0
        };
        assert_eq!(m.0[0], want, "({x}, {y})");
    }
    let ov = image::open(out.join("wide.overlay.png")).unwrap().to_rgb8();
    assert_eq!(ov.dimensions(), (8, 4));
    // Background pixels are untouched, others tinted.
    for (x, y, p) in ov.enumerate_pixels() {
        let m = mask.get_pixel(x, y).0[0];
        assert_eq!(p.0 == pixel(x, y), m == 0, "({x}, {y})");
    }
    assert!(!out.join("counts.csv").exists());
}

fn write_gray_rgb(path: &Path, f: impl Fn(u32, u32) -> u8) -> u32 {
    let img = RgbImage::from_fn(4, 4, |x, y| {
        let v = f(x, y);
        Rgb([v, v, v])
    });
    img.save(path).unwrap();
    (0..16).map(|i| u32::from(f(i % 4, i / 4))).sum()
}

#[test]
fn counter_counts_and_eval_errors() {
    let dir = tempfile::tempdir().unwrap();
    let blob = identity_model(1, Head::Density);
    let mut paths = Vec::new();
    let mut sums = Vec::new();
    for (k, name) in ["a", "b", "c"].iter().enumerate() {
        let p = dir.path().join(format!("{name}.png"));
        sums.push(write_gray_rgb(&p, |x, y| {
            (x * 40 + y * 17 + k as u32 * 60) as u8
        }));
        paths.push(p);
    }
    let out = dir.path().join("out");
    let r = run_to_dir(&blob, &paths, &out).unwrap();
    let csv = std::fs::read_to_string(out.join("counts.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("name,count"));
    for ((name, count), sum) in r.iter().zip(&sums) {
        let want = f64::from(*sum) / 255.0;
        let c = count.unwrap();
        assert!((c - want).abs() < 1e-4, "{name}: {c} vs {want}");
        assert_eq!(lines.next(), Some(format!("{name},{c:.2}").as_str()));
        assert!(out.join(format!("{name}.density.png")).exists());
    }

    // Ground truth: 1, 4 and 9 heads inside the 4x4 images, plus one whose
    // centre lies outside (not counted, as in training and the cards).
    let truth = [1usize, 4, 9];
    for (name, n) in ["a", "b", "c"].iter().zip(truth) {
        let mut s = String::from("x,y\n");
        for i in 0..n {
            s.push_str(&format!("{}.5,{}.25\n", i % 4, i / 4));
        }
        s.push_str("4.5,1.0\n");
        std::fs::write(dir.path().join(format!("{name}.points.csv")), s).unwrap();
    }
    let Evaluation::Counting(e) = evaluate(&blob, dir.path()).unwrap() else {
        panic!("not a counting evaluation");
    };
    let errs: Vec<f64> = sums
        .iter()
        .zip(truth)
        .map(|(s, t)| f64::from(*s) / 255.0 - t as f64)
        .collect();
    let mae = errs.iter().map(|e| e.abs()).sum::<f64>() / 3.0;
    let rmse = (errs.iter().map(|e| e * e).sum::<f64>() / 3.0).sqrt();
    assert_eq!(e.images, 3);
    assert!((e.mae - mae).abs() < 1e-4, "{} vs {mae}", e.mae);
    assert!((e.rmse - rmse).abs() < 1e-4);
    assert!((e.mean_count - 14.0 / 3.0).abs() < 1e-9);
    assert!((e.relative_mae - mae / (14.0 / 3.0)).abs() < 1e-4);
}

#[test]
fn segmenter_eval_matches_a_hand_count() {
    let dir = tempfile::tempdir().unwrap();
    let blob = identity_model(3, Head::Segmentation);
    let (mut inter, mut union) = ([0u32; 3], [0u32; 3]);
    for k in 0..2u32 {
        let img = RgbImage::from_fn(4, 4, |x, y| Rgb(pixel(x + k, y)));
        img.save(dir.path().join(format!("{k}.png"))).unwrap();
        // Truth: class by row, so some pixels agree and some do not.
        let truth = GrayImage::from_fn(4, 4, |_, y| Luma([(y % 3) as u8]));
        truth
            .save(dir.path().join(format!("{k}.mask.png")))
            .unwrap();
        for (x, y, t) in truth.enumerate_pixels() {
            let p = argmax(pixel(x + k, y));
            let t = t.0[0];
            if p == t {
                inter[p as usize] += 1;
                union[p as usize] += 1;
            } else {
                union[p as usize] += 1;
                union[t as usize] += 1;
            }
        }
    }
    let Evaluation::Segmentation(e) = evaluate(&blob, dir.path()).unwrap() else {
        panic!("not a segmentation evaluation");
    };
    assert_eq!(e.images, 2);
    let iou: Vec<f64> = (0..3)
        .map(|c| {
            if union[c] == 0 {
                1.0
            } else {
                f64::from(inter[c]) / f64::from(union[c])
            }
        })
        .collect();
    assert_eq!(e.iou.len(), 3);
    for (c, (got, want)) in e.iou.iter().zip(&iou).enumerate() {
        assert!((got - want).abs() < 1e-12, "class {c}");
    }
    assert!((e.mean_iou - iou.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    // A model without a head is refused.
    assert!(evaluate(&identity_model(3, Head::None), dir.path()).is_err());
}
