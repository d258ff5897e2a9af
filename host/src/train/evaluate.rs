//! Held-out metrics of a model, float or int8, computed one way for every
//! caller: the trainer's validation, `mote export`'s model card and
//! `mote eval` all score through [`score_float`] / [`score_int8`], so the
//! numbers a card states are the numbers `mote eval` prints.
//!
//! Ground truth is taken at the model's input resolution: images are
//! resized to the input ([`Image::resized`]), class masks with
//! [`resize_mask`]; the true count is the number of head points inside the
//! image (what the density targets sum to). The int8 path feeds
//! `q = round(255 x) - 128` (exactly `pixel - 128` for an image already at
//! the input size), runs the blob through `mote-core`, and takes the argmax
//! of the int8 logits or the sum of the dequantized density.
use anyhow::{bail, ensure, Context, Result};
use candle_core::{Device, Tensor};
use mote_core::format::Head;
use mote_core::Model;
use rayon::prelude::*;

use super::arch::{Shape, Task, SEG_CLASSES};
use super::data::{resize_mask, DataSource, Label, Sample};
use super::metrics::{argmax_classes, CountScore, Score, SegScore};
use super::net::Net;
use crate::npy::{Array, Dtype};

/// What a sample's prediction is scored against.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    /// Class ids at the model input size.
    Mask(Vec<u8>),
    /// Number of heads inside the image.
    Count(f64),
}

/// A sample prepared for a model with input `input`: HWC pixels in `[0, 1]`
/// at the input size, and the truth.
pub fn prepare(sample: &Sample, input: Shape, task: Task) -> Result<(Vec<f32>, Truth)> {
    let (sw, sh) = (sample.image.w, sample.image.h);
    let img = sample.image.resized(input.w, input.h);
    let truth = match (&sample.label, task) {
        (Label::Mask(m), Task::Segmenter) => {
            ensure!(m.len() == sw * sh, "mask size differs from the image");
            Truth::Mask(resize_mask(m, sw, sh, input.w, input.h))
        }
        (Label::Points(p), Task::Counter) => {
            let inside = p
                .iter()
                .filter(|&&(x, y)| x >= 0.0 && y >= 0.0 && x < sw as f32 && y < sh as f32)
                .count();
            Truth::Count(inside as f64)
        }
        _ => bail!("the data's labels do not fit a {}", task.name()),
    };
    Ok((img.rgb, truth))
}

/// Pixels in `[0, 1]` → the int8 model input (`round(255 x) - 128`).
pub fn int8_input(rgb: &[f32]) -> Vec<u8> {
    rgb.iter()
        .map(|&v| ((v * 255.0).round().clamp(0.0, 255.0) as i32 - 128) as i8 as u8)
        .collect()
}

fn add_truth(seg: &mut SegScore, cnt: &mut CountScore, pred: Prediction, truth: &Truth) {
    match (pred, truth) {
        (Prediction::Classes(p), Truth::Mask(t)) => seg.update(&p, t),
        (Prediction::Count(p), Truth::Count(t)) => cnt.update(p, *t),
        _ => {}
    }
}

fn finish(task: Task, seg: SegScore, cnt: CountScore) -> Score {
    match task {
        Task::Segmenter => Score::Seg(seg),
        Task::Counter => Score::Count(cnt),
    }
}

enum Prediction {
    Classes(Vec<u8>),
    Count(f64),
}

/// Scores a float network on `data`. The network's output is divided by
/// `output_divisor` (the counter's `DENSITY_SCALE` for a trained network,
/// 1 for a deploy network whose last layer is already divided).
pub fn score_float(
    net: &Net,
    task: Task,
    data: &dyn DataSource,
    output_divisor: f32,
    batch: usize,
) -> Result<Score> {
    let input = net.arch.input;
    let mut seg = SegScore::new(SEG_CLASSES);
    let mut cnt = CountScore::default();
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(batch.max(1)) {
        let mut pixels = Vec::with_capacity(chunk.len() * input.len());
        let mut truths = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let (rgb, t) = prepare(&data.get(i)?, input, task)?;
            for c in 0..3 {
                pixels.extend((0..input.h * input.w).map(|p| rgb[p * 3 + c]));
            }
            truths.push(t);
        }
        let x = Tensor::from_vec(pixels, (chunk.len(), 3, input.h, input.w), &Device::Cpu)?;
        let y = net.forward(&x, false)?;
        match task {
            Task::Segmenter => {
                let classes = argmax_classes(&y)?;
                let per = classes.len() / chunk.len();
                for (k, t) in truths.iter().enumerate() {
                    let p = classes[k * per..(k + 1) * per].to_vec();
                    add_truth(&mut seg, &mut cnt, Prediction::Classes(p), t);
                }
            }
            Task::Counter => {
                let sums = y.sum((1, 2, 3))?.to_vec1::<f32>()?;
                for (s, t) in sums.iter().zip(&truths) {
                    let p = Prediction::Count((*s / output_divisor) as f64);
                    add_truth(&mut seg, &mut cnt, p, t);
                }
            }
        }
    }
    Ok(finish(task, seg, cnt))
}

/// Which task an int8 model performs: its declared head, or for a blob
/// without one, its output shape (class logits at the input size for the
/// segmenter, a one-channel map for the counter).
pub fn task_of(model: &Model<'_>) -> Result<Task> {
    match model.head() {
        Head::Segmentation => return Ok(Task::Segmenter),
        Head::Density => return Ok(Task::Counter),
        Head::None => {}
    }
    let err = |e: mote_core::Error| anyhow::anyhow!("{e}");
    let i = model.input(0).map_err(err)?;
    let o = model.output(0).map_err(err)?;
    let (id, od) = (i.shape.dims(), o.shape.dims());
    match (id, od) {
        ([1, ih, iw, 3], [1, oh, ow, c]) if oh == ih && ow == iw && *c as usize == SEG_CLASSES => {
            Ok(Task::Segmenter)
        }
        ([1, _, _, 3], [1, _, _, 1]) => Ok(Task::Counter),
        _ => bail!("cannot tell the model's task from input {id:?} and output {od:?}"),
    }
}

/// The model's input shape (NHWC, batch 1, 3 channels).
pub fn input_shape(model: &Model<'_>) -> Result<Shape> {
    let i = model.input(0).map_err(|e| anyhow::anyhow!("{e}"))?;
    match i.shape.dims() {
        [1, h, w, 3] => Ok(Shape::new(*h as usize, *w as usize, 3)),
        d => bail!("model input {d:?} is not 1xHxWx3"),
    }
}

/// Runs one prepared image through the int8 model and returns the raw
/// int8 output (NHWC).
pub fn run_int8(model: &Model<'_>, rgb: &[f32], input: Shape) -> Result<Vec<i8>> {
    let array = Array {
        shape: vec![1, input.h, input.w, 3],
        dtype: Dtype::I8,
        data: int8_input(rgb),
    };
    let out = crate::infer::run(model, &[array])?;
    let first = out.into_iter().next().context("the model has no output")?;
    Ok(first.data.into_iter().map(|b| b as i8).collect())
}

fn predict_int8(model: &Model<'_>, task: Task, out: &[i8]) -> Result<Prediction> {
    let o = model.output(0).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(match task {
        Task::Segmenter => {
            let c = match o.shape.dims() {
                [.., c] if *c > 0 => *c as usize,
                d => bail!("output {d:?} has no channels"),
            };
            let classes = out
                .chunks(c)
                .map(|px| {
                    let mut best = 0;
                    for (k, &v) in px.iter().enumerate() {
                        if v > px[best] {
                            best = k;
                        }
                    }
                    best as u8
                })
                .collect();
            Prediction::Classes(classes)
        }
        Task::Counter => {
            // The device's count (core's density head), so cards, `mote eval`
            // and the board report the same number.
            let bytes: Vec<u8> = out.iter().map(|&q| q as u8).collect();
            let c = mote_core::heads::density::count(&bytes, o.scale(), o.zero_point());
            Prediction::Count(f64::from(c.value()))
        }
    })
}

/// Scores an int8 model (a parsed blob) on `data`, running every image
/// through `mote-core` (images in parallel).
pub fn score_int8(model: &Model<'_>, task: Task, data: &dyn DataSource) -> Result<Score> {
    let input = input_shape(model)?;
    let results: Vec<(Prediction, Truth)> = (0..data.len())
        .into_par_iter()
        .map(|i| {
            let (rgb, t) = prepare(&data.get(i)?, input, task)?;
            let out = run_int8(model, &rgb, input)?;
            Ok((predict_int8(model, task, &out)?, t))
        })
        .collect::<Result<_>>()?;
    let mut seg = SegScore::new(SEG_CLASSES);
    let mut cnt = CountScore::default();
    for (p, t) in results {
        add_truth(&mut seg, &mut cnt, p, &t);
    }
    Ok(finish(task, seg, cnt))
}

/// [`score_int8`] of blob bytes, the task read from the model.
pub fn score_blob(blob: &[u8], data: &dyn DataSource) -> Result<Score> {
    let model = Model::parse(blob).map_err(|e| anyhow::anyhow!("parsing the blob: {e}"))?;
    let task = task_of(&model)?;
    score_int8(&model, task, data)
}
