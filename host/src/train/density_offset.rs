//! A counter's density offset: one constant added before the ReLU of the
//! convolution that writes the density map, tuned on validation data for
//! count MAE and folded into that convolution's bias.
//!
//! Why: the counter leaves a faint positive density on every cell of
//! ground, clutter and sky (about 9 heads over an empty scene's 1,024
//! cells, against a true count of 0), and sparse scenes, the most common
//! ones, are over-counted by it. Moving the ReLU's threshold cuts that floor
//! and costs nothing on the device. The offset is chosen on the run's
//! validation set, never on the held-out set the card reports.
use anyhow::{bail, ensure, Result};
use candle_core::{Device, Tensor};

use super::arch::{Act, Op, Task};
use super::data::DataSource;
use super::evaluate::{prepare, Truth};
use super::net::Net;
use super::ops;

/// Offsets tried, in the network's own (scaled) density units.
const STEPS: i32 = 120;
const STEP: f32 = 0.025;

/// Pre-activation density maps of a data set and the true counts.
pub struct PreActivation {
    /// One map per image (cells of the output), before the ReLU.
    pub maps: Vec<Vec<f32>>,
    pub counts: Vec<f64>,
    /// What the network's output is divided by to give heads per cell.
    pub divisor: f32,
}

/// The output layer, which must be a convolution without batch norm
/// followed by ReLU (or nothing).
fn density_layer(net: &Net) -> Result<usize> {
    let i = net.arch.output.checked_sub(1);
    match i.map(|i| (i, net.arch.layers[i].op)) {
        Some((
            i,
            Op::Conv {
                bn: false,
                act: Act::Relu | Act::None,
                ..
            },
        )) => Ok(i),
        _ => bail!("the density map does not come from a plain convolution"),
    }
}

impl PreActivation {
    /// Runs `net` (inference mode) over `data`; `divisor` is the scale the
    /// network learned the density at.
    pub fn of(net: &Net, data: &dyn DataSource, divisor: f32) -> Result<PreActivation> {
        let layer = density_layer(net)?;
        let Some(p) = net.layers[layer].as_ref() else {
            bail!("density layer without parameters");
        };
        let Some(&feature) = net.arch.layers[layer].inputs.first() else {
            bail!("density layer without input");
        };
        let stride = match net.arch.layers[layer].op {
            Op::Conv { stride, .. } => stride,
            _ => 1,
        };
        let input = net.arch.input;
        let (mut maps, mut counts) = (Vec::new(), Vec::new());
        let idx: Vec<usize> = (0..data.len()).collect();
        for chunk in idx.chunks(16) {
            let mut x = Vec::with_capacity(chunk.len() * input.len());
            for &i in chunk {
                let (rgb, t) = prepare(&data.get(i)?, input, Task::Counter)?;
                for c in 0..3 {
                    x.extend((0..input.h * input.w).map(|q| rgb[q * 3 + c]));
                }
                match t {
                    Truth::Count(n) => counts.push(n),
                    Truth::Mask(_) => bail!("counting data expected"),
                }
            }
            let x = Tensor::from_vec(x, (chunk.len(), 3, input.h, input.w), &Device::Cpu)?;
            let f = net.forward_to(&x, feature, false)?;
            let z = ops::conv2d(&f, p.weight.as_tensor(), p.bias.as_tensor(), stride)?;
            for k in 0..chunk.len() {
                maps.push(z.get(k)?.flatten_all()?.to_vec1::<f32>()?);
            }
        }
        Ok(PreActivation {
            maps,
            counts,
            divisor,
        })
    }

    /// Count MAE with `offset` added before the ReLU.
    pub fn mae(&self, offset: f32) -> f64 {
        let n = self.maps.len().max(1) as f64;
        let total: f64 = self
            .maps
            .iter()
            .zip(&self.counts)
            .map(|(m, &t)| {
                let s: f32 = m.iter().map(|&z| (z + offset).max(0.0)).sum();
                (s as f64 / self.divisor as f64 - t).abs()
            })
            .sum();
        total / n
    }

    /// The offset on the grid with the lowest MAE; ties keep the smaller
    /// change.
    pub fn tune(&self) -> f32 {
        let mut best = (self.mae(0.0), 0f32);
        for s in 1..=STEPS {
            for o in [-(s as f32) * STEP, s as f32 * STEP] {
                let m = self.mae(o);
                if m < best.0 {
                    best = (m, o);
                }
            }
        }
        best.1
    }
}

/// Adds `offset` to the density convolution's bias.
pub fn fold(net: &Net, offset: f32) -> Result<()> {
    let layer = density_layer(net)?;
    let Some(p) = net.layers[layer].as_ref() else {
        bail!("density layer without parameters");
    };
    let bias = p.bias.as_tensor().to_vec1::<f32>()?;
    ensure!(bias.len() == 1, "a density map has one channel");
    let moved: Vec<f32> = bias.iter().map(|b| b + offset).collect();
    p.bias
        .set(&Tensor::from_vec(moved, bias.len(), &Device::Cpu)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_removes_a_floor_of_false_density() {
        // Empty scenes with a floor of 0.2 per cell, and scenes with one
        // head of 10 in one cell plus the same floor.
        let floor = vec![0.2f32; 100];
        let mut head = floor.clone();
        head[5] = 10.0;
        let p = PreActivation {
            maps: vec![floor.clone(), floor, head.clone(), head],
            counts: vec![0.0, 0.0, 0.1, 0.1],
            divisor: 100.0,
        };
        let o = p.tune();
        assert!((-0.3..=-0.15).contains(&o), "offset {o}");
        assert!(p.mae(o) < 0.2 * p.mae(0.0));
    }

    #[test]
    fn pre_activation_counts_are_the_network_counts() {
        use crate::train::data::InMemory;
        use crate::train::evaluate::score_float;
        use crate::train::metrics::Score;
        let net = Net::new(crate::train::arch::counter().unwrap(), 3).unwrap();
        let mut rng = crate::train::rng::Rng::new(2);
        let data = InMemory {
            samples: (0..3)
                .map(|_| crate::train::toy::crowd(128, 10, &mut rng))
                .collect(),
            classes: 0,
        };
        let pre = PreActivation::of(&net, &data, 1.0).unwrap();
        let Score::Count(c) = score_float(&net, Task::Counter, &data, 1.0, 16).unwrap() else {
            panic!("a counter scores counts");
        };
        assert!(c.mae() > 0.0);
        assert!(
            (c.mae() - pre.mae(0.0)).abs() <= 1e-4 * c.mae(),
            "{} vs {}",
            c.mae(),
            pre.mae(0.0)
        );
    }

    #[test]
    fn fold_moves_the_counter_pre_activation() {
        let net = Net::new(crate::train::arch::counter().unwrap(), 3).unwrap();
        let layer = density_layer(&net).unwrap();
        let b0 = net.layers[layer]
            .as_ref()
            .unwrap()
            .bias
            .as_tensor()
            .to_vec1::<f32>()
            .unwrap();
        fold(&net, -0.5).unwrap();
        let b1 = net.layers[layer]
            .as_ref()
            .unwrap()
            .bias
            .as_tensor()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(b1, vec![b0[0] - 0.5]);
    }
}
