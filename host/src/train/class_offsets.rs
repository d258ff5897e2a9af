//! Per-class logit offsets for a segmenter, tuned on validation data and
//! folded into the bias of the convolution that writes the logits.
//!
//! Why: the class-weighted cross-entropy (glasses about 6x, shadow 10x the
//! weight of background, [`super::trainer::estimate_class_weights`]) buys
//! recall of the rare classes with precision, so the argmax paints their
//! masks wider than the truth. IoU, what the model is judged by, wants the
//! balance elsewhere. A constant added to one class's logits moves that
//! balance without retraining, and costs nothing on the device once it is
//! in a bias. The offsets are chosen on the run's validation set, never on
//! the held-out set the card reports.
use anyhow::{bail, ensure, Result};
use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::arch::{Act, Op, Task};
use super::data::DataSource;
use super::evaluate::{prepare, Truth};
use super::metrics::SegScore;
use super::net::Net;

/// Offsets tried for each class: -4 to +4 logits in steps of 1/8.
const STEPS: i32 = 32;
const STEP: f32 = 0.125;
/// Rounds of coordinate ascent over the foreground classes.
const ROUNDS: usize = 3;

/// Float logits of a whole data set, (image, class, pixel), and the truth.
pub struct Logits {
    pub classes: usize,
    pub pixels: usize,
    pub values: Vec<f32>,
    pub truth: Vec<u8>,
}

impl Logits {
    /// Runs `net` (inference mode) over `data`.
    pub fn of(net: &Net, data: &dyn DataSource) -> Result<Logits> {
        let input = net.arch.input;
        let out = net.arch.shape(net.arch.output);
        let Some(out) = out else {
            bail!("the network has no output shape");
        };
        ensure!(
            (out.h, out.w) == (input.h, input.w),
            "class offsets need logits at the input size"
        );
        let pixels = input.h * input.w;
        let mut values = Vec::with_capacity(data.len() * out.c * pixels);
        let mut truth = Vec::with_capacity(data.len() * pixels);
        let idx: Vec<usize> = (0..data.len()).collect();
        for chunk in idx.chunks(16) {
            let mut x = Vec::with_capacity(chunk.len() * input.len());
            for &i in chunk {
                let (rgb, t) = prepare(&data.get(i)?, input, Task::Segmenter)?;
                for c in 0..3 {
                    x.extend((0..pixels).map(|p| rgb[p * 3 + c]));
                }
                match t {
                    Truth::Mask(m) => truth.extend(m),
                    Truth::Count(_) => bail!("segmentation data expected"),
                }
            }
            let x = Tensor::from_vec(x, (chunk.len(), 3, input.h, input.w), &Device::Cpu)?;
            let y = net.forward(&x, false)?;
            values.extend(y.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(Logits {
            classes: out.c,
            pixels,
            values,
            truth,
        })
    }

    /// Scores the argmax of `logits + offsets`.
    pub fn score(&self, offsets: &[f32]) -> SegScore {
        let (c, p) = (self.classes, self.pixels);
        let images = self.truth.len() / p.max(1);
        let parts: Vec<SegScore> = (0..images)
            .into_par_iter()
            .map(|i| {
                let v = &self.values[i * c * p..(i + 1) * c * p];
                let pred: Vec<u8> = (0..p)
                    .map(|px| {
                        let mut best = (f32::NEG_INFINITY, 0u8);
                        for k in 0..c {
                            let l = v[k * p + px] + offsets.get(k).copied().unwrap_or(0.0);
                            if l > best.0 {
                                best = (l, k as u8);
                            }
                        }
                        best.1
                    })
                    .collect();
                let mut s = SegScore::new(c);
                s.update(&pred, &self.truth[i * p..(i + 1) * p]);
                s
            })
            .collect();
        let mut total = SegScore::new(c);
        for s in parts {
            for k in 0..c {
                total.inter[k] += s.inter[k];
                total.union[k] += s.union[k];
            }
        }
        total
    }

    /// Offsets (background's stays 0) that maximise the mean IoU, by
    /// coordinate ascent over a grid; ties keep the smaller change.
    pub fn tune(&self) -> Vec<f32> {
        let mut offsets = vec![0f32; self.classes];
        let mut best = self.score(&offsets).miou();
        for _ in 0..ROUNDS {
            let before = best;
            for k in 1..self.classes {
                let mut trial = offsets.clone();
                for s in -STEPS..=STEPS {
                    trial[k] = s as f32 * STEP;
                    let m = self.score(&trial).miou();
                    if m > best {
                        best = m;
                        offsets[k] = trial[k];
                    }
                }
            }
            if best <= before {
                break;
            }
        }
        offsets
    }
}

/// Adds `offsets` to the bias of the convolution whose output reaches the
/// logits through ADDs only (no activation anywhere on the way), so every
/// logit moves by exactly its class's offset.
pub fn fold(net: &Net, offsets: &[f32]) -> Result<()> {
    let arch = &net.arch;
    let mut t = arch.output;
    let layer = loop {
        let Some(i) = t.checked_sub(1) else {
            bail!("the logits come straight from the input");
        };
        let l = &arch.layers[i];
        match l.op {
            Op::Conv {
                bn: false,
                act: Act::None,
                ..
            } => break i,
            Op::Add { act: Act::None } => {
                // Follow the input produced by a plain convolution, if any.
                let next = l.inputs.iter().copied().find(|&x| {
                    x > 0
                        && matches!(
                            arch.layers[x - 1].op,
                            Op::Conv {
                                bn: false,
                                act: Act::None,
                                ..
                            } | Op::Add { act: Act::None }
                        )
                });
                match next {
                    Some(x) => t = x,
                    None => bail!("{}: no plain convolution feeds the logits", l.name),
                }
            }
            _ => bail!(
                "{}: the logits pass through an op offsets cannot cross",
                l.name
            ),
        }
    };
    let Some(p) = net.layers[layer].as_ref() else {
        bail!("{}: no parameters", arch.layers[layer].name);
    };
    let bias = p.bias.as_tensor().to_vec1::<f32>()?;
    ensure!(bias.len() == offsets.len(), "one offset per class expected");
    let moved: Vec<f32> = bias.iter().zip(offsets).map(|(b, o)| b + o).collect();
    p.bias
        .set(&Tensor::from_vec(moved, bias.len(), &Device::Cpu)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::rng::Rng;

    /// Logits of one image whose truth is `truth`; class 1 is scored
    /// `bias` higher than it deserves everywhere.
    fn biased(truth: &[u8], bias: f32, rng: &mut Rng) -> Logits {
        let (c, p) = (3, truth.len());
        let mut values = vec![0f32; c * p];
        for (px, &t) in truth.iter().enumerate() {
            for k in 0..c {
                let right = if k == t as usize { 1.0 } else { 0.0 };
                let extra = if k == 1 { bias } else { 0.0 };
                values[k * p + px] = right + extra + rng.range(-0.6, 0.6);
            }
        }
        Logits {
            classes: c,
            pixels: p,
            values,
            truth: truth.to_vec(),
        }
    }

    #[test]
    fn tuning_undoes_a_biased_class() {
        let mut rng = Rng::new(7);
        let truth: Vec<u8> = (0..4000).map(|i| [0, 0, 0, 1, 2][i % 5]).collect();
        let l = biased(&truth, 0.8, &mut rng);
        let zero = [0f32; 3];
        let offsets = l.tune();
        assert_eq!(offsets[0], 0.0, "background is the reference");
        assert!(
            (-1.2..=-0.4).contains(&offsets[1]),
            "class 1's bias of 0.8 should come back off: {offsets:?}"
        );
        assert!(l.score(&offsets).miou() > l.score(&zero).miou() + 0.05);
    }

    #[test]
    fn fold_moves_the_segmenter_logits_by_the_offsets() {
        let net = Net::new(crate::train::arch::segmenter().unwrap(), 3).unwrap();
        let mut rng = Rng::new(1);
        let x: Vec<f32> = (0..3 * 96 * 96).map(|_| rng.range(0.0, 1.0)).collect();
        let x = Tensor::from_vec(x, (1, 3, 96, 96), &Device::Cpu).unwrap();
        let before = net.forward(&x, false).unwrap();
        let offsets = [0.0, 0.5, -0.25];
        fold(&net, &offsets).unwrap();
        let after = net.forward(&x, false).unwrap();
        let d = (after - before).unwrap();
        for (k, &o) in offsets.iter().enumerate() {
            let m = d.narrow(1, k, 1).unwrap().flatten_all().unwrap();
            for v in m.to_vec1::<f32>().unwrap() {
                assert!((v - o).abs() < 1e-5, "class {k}: moved {v}, not {o}");
            }
        }
    }
}
