//! From a trained network to the float model the device approximates and
//! the int8 parameters of each of its activations.
//!
//! 1. [`deploy_net`]: batch norm folded into the convolutions, and (for the
//!    counter) the last layer divided by the training-time density scale,
//!    so the deployed output is the real density (count = sum).
//! 2. [`calibrate`]: `[min, max]` of every tensor over calibration images.
//! 3. [`activation_params`]: per-tensor int8 parameters, with the ties the
//!    runtime needs: the model input is fixed ([`INPUT_QUANT`]), and the
//!    ops that copy int8 values (resizes, concatenation) share one
//!    quantization between their inputs and output.
use anyhow::{bail, ensure, Context, Result};
use candle_core::Tensor;

use crate::train::arch::Op;
use crate::train::fakequant::{ActQuant, Calibration};
use crate::train::fold::folded_net;
use crate::train::net::Net;

/// The model input: pixel `p` in 0..=255 is fed as `q = p - 128`, which is
/// exactly the training input `p / 255` (scale 1/255, zero point -128).
pub const INPUT_QUANT: ActQuant = ActQuant {
    scale: 1.0 / 255.0,
    zero_point: -128,
};

/// The network the device approximates: `net` with batch norms folded and
/// the output layer's weights and bias divided by `output_divisor` (the
/// counter's `DENSITY_SCALE`; 1 for the segmenter). The result has no batch
/// norm, so it is also what quantization-aware fine-tuning trains.
pub fn deploy_net(net: &Net, output_divisor: f32) -> Result<Net> {
    ensure!(
        output_divisor.is_finite() && output_divisor > 0.0,
        "output divisor {output_divisor}"
    );
    let plain = folded_net(net)?;
    if output_divisor != 1.0 {
        let out = plain.arch.output;
        let p = out
            .checked_sub(1)
            .and_then(|l| plain.layers.get(l))
            .and_then(|p| p.as_ref())
            .context("the output is not produced by a convolution; cannot rescale it")?;
        let d = output_divisor as f64;
        p.weight.set(&(p.weight.as_tensor() / d)?)?;
        p.bias.set(&(p.bias.as_tensor() / d)?)?;
    }
    Ok(plain)
}

/// Observes every tensor's range on `batches` of (N, 3, H, W) images in
/// `[0, 1]`, running `net` in inference mode.
pub fn calibrate<'a>(
    net: &Net,
    batches: impl IntoIterator<Item = &'a Tensor>,
) -> Result<Calibration> {
    let mut cal = Calibration::default();
    let mut seen = 0usize;
    for b in batches {
        cal.observe(net, b)?;
        seen += b.dim(0)?;
    }
    ensure!(seen > 0, "no calibration images");
    Ok(cal)
}

/// Minimal union-find over tensor ids.
struct Groups(Vec<usize>);

impl Groups {
    fn root(&mut self, mut a: usize) -> usize {
        while self.0[a] != a {
            self.0[a] = self.0[self.0[a]];
            a = self.0[a];
        }
        a
    }

    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            self.0[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// Int8 parameters of every tensor of `net.arch` (index = [`TensorId`])
/// from the calibrated ranges. Resize inputs/outputs and concatenation
/// inputs/output form groups that get one quantization from the union of
/// their ranges; a group containing the model input takes [`INPUT_QUANT`].
pub fn activation_params(net: &Net, cal: &Calibration) -> Result<Vec<ActQuant>> {
    let arch = &net.arch;
    let n = arch.tensor_count();
    let mut groups = Groups((0..n).collect());
    for (i, l) in arch.layers.iter().enumerate() {
        if matches!(l.op, Op::Upsample { .. } | Op::Concat) {
            for &t in &l.inputs {
                ensure!(t < n, "{}: input {t} out of range", l.name);
                groups.join(t, i + 1);
            }
        }
    }
    let mut ranges: Vec<Option<(f32, f32)>> = vec![None; n];
    for t in 0..n {
        let Some(r) = cal.ranges.get(t).copied().flatten() else {
            continue;
        };
        let g = groups.root(t);
        ranges[g] = Some(match ranges[g] {
            None => r,
            Some((a, b)) => (a.min(r.0), b.max(r.1)),
        });
    }
    let input_group = groups.root(0);
    (0..n)
        .map(|t| {
            let g = groups.root(t);
            if g == input_group {
                return Ok(INPUT_QUANT);
            }
            match ranges[g] {
                Some((lo, hi)) => Ok(ActQuant::from_range(lo, hi)),
                None => bail!("tensor {t} was never observed in calibration"),
            }
        })
        .collect()
}

/// The per-tensor parameters as [`Net::fake_quant`] takes them.
pub fn fake_quant_table(params: &[ActQuant]) -> Vec<Option<ActQuant>> {
    params.iter().copied().map(Some).collect()
}
