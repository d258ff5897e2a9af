//! The candle network built from an [`Arch`]: one parameter set per layer,
//! a forward pass that interprets the layer list, batch norm with running
//! statistics, and named tensors for checkpoints.
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use candle_core::{DType, Device, Result, Tensor, Var};

use super::arch::{Act, Arch, Op, Resize, TensorId};
use super::chanops;
use super::fakequant::{
    fake_quant_add, fake_quant_bias, fake_quant_bilinear, fake_quant_weights, offset_ints,
    requantize_conv, weight_ints, with_gradient_of, ActQuant, Activation,
};
use super::ops;
use super::rng::Rng;

/// Batch-norm epsilon (added to the variance).
pub const BN_EPS: f64 = 1e-5;
/// Weight of the current batch in the running statistics.
pub const BN_MOMENTUM: f64 = 0.1;

/// How a forward pass treats batch norm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Running statistics (validation, calibration, export).
    Infer,
    /// Batch statistics, blended into the running ones.
    Train,
    /// Batch statistics, running ones left alone. Data-parallel training
    /// runs shards of one batch at once; only the first shard records its
    /// statistics, so the running ones do not depend on thread timing.
    TrainShard,
    /// Batch statistics, also added to each batch norm's census (see
    /// [`Net::recompute_bn_stats`]); running ones left alone.
    Census,
}

impl From<bool> for Pass {
    fn from(train: bool) -> Pass {
        if train {
            Pass::Train
        } else {
            Pass::Infer
        }
    }
}

/// Batch norm over the channel axis; `mean`/`var` are running statistics,
/// updated in training passes and not touched by the optimizer.
pub struct BatchNorm {
    pub gamma: Var,
    pub beta: Var,
    pub mean: Var,
    pub var: Var,
    /// Sums of batch means and mean squares while a census runs.
    census: Mutex<Census>,
}

/// Per-channel sums over the batches of a statistics census.
#[derive(Default)]
struct Census {
    mean: Vec<f64>,
    square: Vec<f64>,
    batches: usize,
}

impl BatchNorm {
    fn new(c: usize, dev: &Device) -> Result<BatchNorm> {
        Ok(BatchNorm {
            gamma: Var::ones(c, DType::F32, dev)?,
            beta: Var::zeros(c, DType::F32, dev)?,
            mean: Var::zeros(c, DType::F32, dev)?,
            var: Var::ones(c, DType::F32, dev)?,
            census: Mutex::new(Census::default()),
        })
    }

    fn census(&self) -> Result<MutexGuard<'_, Census>> {
        self.census
            .lock()
            .map_err(|_| candle_core::Error::Msg("batch-norm census poisoned".into()))
    }

    /// Adds one batch's per-channel statistics to the census.
    fn count(&self, mean: &[f32], var: &[f32]) -> Result<()> {
        let mut c = self.census()?;
        if c.batches == 0 {
            c.mean = vec![0.0; mean.len()];
            c.square = vec![0.0; mean.len()];
        }
        for (k, (&m, &v)) in mean.iter().zip(var).enumerate() {
            c.mean[k] += m as f64;
            c.square[k] += v as f64 + (m as f64) * (m as f64);
        }
        c.batches += 1;
        Ok(())
    }

    /// Running statistics from the census (population mean, and variance as
    /// mean square minus squared mean); the census is cleared. Without a
    /// counted batch the running statistics stay as they are.
    fn settle(&self) -> Result<()> {
        let mut c = self.census()?;
        let taken = std::mem::take(&mut *c);
        if taken.batches == 0 {
            return Ok(());
        }
        let n = taken.batches as f64;
        let mean: Vec<f32> = taken.mean.iter().map(|m| (m / n) as f32).collect();
        let var: Vec<f32> = taken
            .square
            .iter()
            .zip(&mean)
            .map(|(q, &m)| ((q / n) - (m as f64) * (m as f64)).max(0.0) as f32)
            .collect();
        let dev = self.mean.as_tensor().device().clone();
        let c = mean.len();
        self.mean.set(&Tensor::from_vec(mean, c, &dev)?)?;
        self.var.set(&Tensor::from_vec(var, c, &dev)?)
    }

    fn forward(&self, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let c = x.dim(1)?;
        if pass != Pass::Infer {
            let (mean, var) = chanops::channel_stats(x)?;
            let m = BN_MOMENTUM as f32;
            let blend = |run: &Var, batch: &[f32]| -> Result<()> {
                let old = run.as_tensor().to_vec1::<f32>()?;
                let new: Vec<f32> = old
                    .iter()
                    .zip(batch)
                    .map(|(o, b)| (1.0 - m) * o + m * b)
                    .collect();
                run.set(&Tensor::from_vec(new, c, x.device())?)
            };
            match pass {
                Pass::Train => {
                    blend(&self.mean, &mean)?;
                    blend(&self.var, &var)?;
                }
                Pass::Census => self.count(&mean, &var)?,
                Pass::Infer | Pass::TrainShard => {}
            }
            let op = chanops::BatchNormTrain {
                mean,
                var,
                eps: BN_EPS as f32,
            };
            return x
                .contiguous()?
                .apply_op3(self.gamma.as_tensor(), self.beta.as_tensor(), op);
        }
        let mean = self.mean.as_tensor().reshape((1, c, 1, 1))?;
        let var = self.var.as_tensor().reshape((1, c, 1, 1))?;
        let inv = (var + BN_EPS)?.sqrt()?.recip()?;
        let g = self.gamma.as_tensor().reshape((1, c, 1, 1))?;
        let b = self.beta.as_tensor().reshape((1, c, 1, 1))?;
        x.broadcast_sub(&mean)?
            .broadcast_mul(&inv)?
            .broadcast_mul(&g)?
            .broadcast_add(&b)
    }
}

/// A fused activation in the runtime kernels' terms.
fn kernel_act(a: Act) -> Activation {
    match a {
        Act::None => Activation::None,
        Act::Relu => Activation::Relu,
        Act::Relu6 => Activation::Relu6,
    }
}

/// Parameters of a convolution layer. `weight` is (Cout, Cin, k, k) for a
/// full convolution and (C, 1, k, k) for a depthwise one.
pub struct ConvParams {
    pub weight: Var,
    pub bias: Var,
    pub bn: Option<BatchNorm>,
}

/// A trainable network for one [`Arch`].
pub struct Net {
    pub arch: Arch,
    /// One entry per layer; `None` for layers without weights.
    pub layers: Vec<Option<ConvParams>>,
    pub device: Device,
    /// Quantization-aware mode: when set, weights are fake-quantized per
    /// channel and every tensor with an entry (by [`TensorId`]) is
    /// fake-quantized, so the forward pass sees the values the int8
    /// runtime holds while gradients pass straight through.
    pub fake_quant: Option<Vec<Option<ActQuant>>>,
}

fn randn(rng: &mut Rng, n: usize, std: f32) -> Vec<f32> {
    (0..n).map(|_| rng.normal() * std).collect()
}

impl Net {
    /// Fresh network with He-normal weights drawn from `seed`. Output layers
    /// (no batch norm) start small so initial logits/densities are near 0.
    pub fn new(arch: Arch, seed: u64) -> Result<Net> {
        let device = Device::Cpu;
        let mut rng = Rng::new(seed);
        let mut layers = Vec::with_capacity(arch.layers.len());
        for (i, l) in arch.layers.iter().enumerate() {
            let cin = arch.in_channels(i).unwrap_or(0);
            let p = match l.op {
                Op::Conv {
                    kernel,
                    out_channels,
                    bn,
                    ..
                } => {
                    let fan_in = (cin * kernel * kernel) as f32;
                    let std = if bn {
                        (2.0 / fan_in).sqrt()
                    } else {
                        0.1 / fan_in.sqrt()
                    };
                    let w = randn(&mut rng, out_channels * cin * kernel * kernel, std);
                    let w = Tensor::from_vec(w, (out_channels, cin, kernel, kernel), &device)?;
                    Some(ConvParams {
                        weight: Var::from_tensor(&w)?,
                        bias: Var::zeros(out_channels, DType::F32, &device)?,
                        bn: if bn {
                            Some(BatchNorm::new(out_channels, &device)?)
                        } else {
                            None
                        },
                    })
                }
                Op::Depthwise { kernel, bn, .. } => {
                    let c = l.out.c;
                    let std = (2.0 / (kernel * kernel) as f32).sqrt();
                    let w = randn(&mut rng, c * kernel * kernel, std);
                    let w = Tensor::from_vec(w, (c, 1, kernel, kernel), &device)?;
                    Some(ConvParams {
                        weight: Var::from_tensor(&w)?,
                        bias: Var::zeros(c, DType::F32, &device)?,
                        bn: if bn {
                            Some(BatchNorm::new(c, &device)?)
                        } else {
                            None
                        },
                    })
                }
                _ => None,
            };
            layers.push(p);
        }
        Ok(Net {
            arch,
            layers,
            device,
            fake_quant: None,
        })
    }

    /// Layers needed to compute tensor `target` (its ancestors).
    fn needed(&self, target: TensorId) -> Vec<bool> {
        let n = self.arch.tensor_count();
        let mut need = vec![false; n];
        if target < n {
            need[target] = true;
        }
        for i in (0..self.arch.layers.len()).rev() {
            if need[i + 1] {
                for &t in &self.arch.layers[i].inputs {
                    need[t] = true;
                }
            }
        }
        need
    }

    /// Runs the network on `x` (N, 3, H, W) and returns every tensor it
    /// computed on the way to `target` (index = [`TensorId`]).
    pub fn forward_all(
        &self,
        x: &Tensor,
        target: TensorId,
        pass: impl Into<Pass>,
    ) -> Result<Vec<Option<Tensor>>> {
        let pass = pass.into();
        let need = self.needed(target);
        let mut ts: Vec<Option<Tensor>> = vec![None; self.arch.tensor_count()];
        ts[0] = Some(self.quantize_tensor(0, x.clone())?);
        for (i, l) in self.arch.layers.iter().enumerate() {
            if !need[i + 1] {
                continue;
            }
            let input = |k: usize| -> Result<&Tensor> {
                let id = l.inputs.get(k).copied().unwrap_or(usize::MAX);
                match ts.get(id).and_then(|t| t.as_ref()) {
                    Some(t) => Ok(t),
                    None => candle_core::bail!("{}: input {k} not computed", l.name),
                }
            };
            let y = match (l.op, self.layers[i].as_ref()) {
                (Op::Conv { stride, act, .. } | Op::Depthwise { stride, act, .. }, Some(p)) => {
                    let depthwise = matches!(l.op, Op::Depthwise { .. });
                    let conv = |x: &Tensor, w: &Tensor, b: &Tensor| {
                        if depthwise {
                            ops::depthwise(x, w, b, stride)
                        } else {
                            ops::conv2d(x, w, b, stride)
                        }
                    };
                    let input_id = l.inputs.first().copied();
                    let b = self.bias(p, input_id)?;
                    let y = conv(input(0)?, &self.weight(p)?, &b)?;
                    let y = match &p.bn {
                        Some(bn) => bn.forward(&y, pass)?,
                        None => y,
                    };
                    let y = ops::activate(&y, act)?;
                    match (self.act_quant(input_id), self.act_quant(Some(i + 1)), &p.bn) {
                        // Quantization-aware: the value the int8 runtime
                        // computes, the gradient of the float path.
                        (Some(qi), Some(qo), None) => {
                            let (w_int, w_scales) = weight_ints(p.weight.as_tensor())?;
                            let x_int = offset_ints(input(0)?, &qi)?;
                            let zeros = p.bias.as_tensor().zeros_like()?;
                            let acc = conv(&x_int, &w_int, &zeros)?;
                            let bias = p.bias.as_tensor().to_vec1::<f32>()?;
                            let exact =
                                requantize_conv(&acc, &bias, &w_scales, &qi, &qo, kernel_act(act))?;
                            with_gradient_of(&y, &exact)?
                        }
                        _ => y,
                    }
                }
                (Op::Add { act }, _) => {
                    let (a, b) = (input(0)?, input(1)?);
                    let y = ops::activate(&(a + b)?, act)?;
                    let q = |k: usize| self.act_quant(l.inputs.get(k).copied());
                    match (q(0), q(1), self.act_quant(Some(i + 1))) {
                        (Some(qa), Some(qb), Some(qo)) => {
                            fake_quant_add(a, b, &qa, &qb, &qo, kernel_act(act), &y)?
                        }
                        _ => y,
                    }
                }
                (Op::Concat, _) => {
                    let parts: Vec<&Tensor> =
                        (0..l.inputs.len()).map(input).collect::<Result<_>>()?;
                    Tensor::cat(&parts, 1)?
                }
                (Op::Upsample { factor, mode }, _) => match mode {
                    Resize::Nearest => ops::upsample_nearest(input(0)?, factor)?,
                    Resize::Bilinear => match self.act_quant(l.inputs.first().copied()) {
                        Some(q) => fake_quant_bilinear(input(0)?, &q, ops::upsample_bilinear2)?,
                        None => ops::upsample_bilinear2(input(0)?)?,
                    },
                },
                (_, None) => candle_core::bail!("{}: missing parameters", l.name),
            };
            ts[i + 1] = Some(self.quantize_tensor(i + 1, y)?);
        }
        Ok(ts)
    }

    /// A layer's weights as the forward pass uses them (fake-quantized in
    /// quantization-aware mode).
    fn weight(&self, p: &ConvParams) -> Result<Tensor> {
        if self.fake_quant.is_some() {
            fake_quant_weights(p.weight.as_tensor())
        } else {
            Ok(p.weight.as_tensor().clone())
        }
    }

    /// A layer's bias as the forward pass uses it: in quantization-aware
    /// mode, rounded onto the int32 grid of `input scale * weight scale`
    /// that the runtime's accumulator uses (when the input is quantized).
    fn bias(&self, p: &ConvParams, input: Option<TensorId>) -> Result<Tensor> {
        match self.act_quant(input) {
            Some(q) => fake_quant_bias(p.bias.as_tensor(), p.weight.as_tensor(), q.scale),
            None => Ok(p.bias.as_tensor().clone()),
        }
    }

    /// The fake quantization of tensor `id`, if quantization-aware mode
    /// quantizes it.
    fn act_quant(&self, id: Option<TensorId>) -> Option<ActQuant> {
        let id = id?;
        self.fake_quant.as_ref()?.get(id).copied().flatten()
    }

    fn quantize_tensor(&self, id: TensorId, t: Tensor) -> Result<Tensor> {
        match self.act_quant(Some(id)) {
            Some(q) => q.fake_quant(&t),
            None => Ok(t),
        }
    }

    /// Replaces every batch norm's running statistics by their average over
    /// `batches` (images as the forward pass takes them), run as training
    /// runs them, with batch statistics. Returns the number of batches.
    ///
    /// Training blends each step's statistics into the running ones with a
    /// momentum of [`BN_MOMENTUM`], from one shard of 8 images: the running
    /// figures are then an average of the last few dozen images. Crowd
    /// scenes range from empty to hundreds of heads, so those few images
    /// decide the scale of the counter's density map at validation and
    /// export, which jumped by over 10 points of count error between
    /// epochs. A census over a few hundred images fixes that estimate
    /// without touching a weight (precise batch norm, as Wu and Johnson's
    /// "Rethinking batch in BatchNorm" calls it).
    pub fn recompute_bn_stats(
        &self,
        batches: impl IntoIterator<Item = Result<Tensor>>,
    ) -> Result<usize> {
        let mut n = 0;
        for x in batches {
            let x = x?;
            self.forward_all(&x, self.arch.output, Pass::Census)?;
            n += 1;
        }
        for bn in self.layers.iter().flatten().filter_map(|p| p.bn.as_ref()) {
            bn.settle()?;
        }
        Ok(n)
    }

    /// Output of tensor `target`.
    pub fn forward_to(
        &self,
        x: &Tensor,
        target: TensorId,
        pass: impl Into<Pass>,
    ) -> Result<Tensor> {
        let mut ts = self.forward_all(x, target, pass)?;
        match ts.get_mut(target).and_then(|t| t.take()) {
            Some(t) => Ok(t),
            None => candle_core::bail!("tensor {target} was not computed"),
        }
    }

    /// Model output: (N, classes, H, W) logits or (N, 1, h, w) density.
    pub fn forward(&self, x: &Tensor, pass: impl Into<Pass>) -> Result<Tensor> {
        self.forward_to(x, self.arch.output, pass)
    }

    /// Encoder features for pre-training.
    pub fn encode(&self, x: &Tensor, pass: impl Into<Pass>) -> Result<Tensor> {
        self.forward_to(x, self.arch.encoder, pass)
    }

    /// Variables the optimizer updates (weights, biases, BN gamma/beta);
    /// with `encoder_only`, those of the encoder layers only.
    pub fn trainable(&self, encoder_only: bool) -> Vec<Var> {
        let enc = self.arch.encoder_layers();
        let mut v = Vec::new();
        for (i, p) in self.layers.iter().enumerate() {
            if encoder_only && !enc.contains(&i) {
                continue;
            }
            if let Some(p) = p {
                v.push(p.weight.clone());
                v.push(p.bias.clone());
                if let Some(bn) = &p.bn {
                    v.push(bn.gamma.clone());
                    v.push(bn.beta.clone());
                }
            }
        }
        v
    }

    /// Every variable by checkpoint name: `LAYER.weight`, `LAYER.bias`,
    /// `LAYER.bn.{gamma,beta,mean,var}`.
    pub fn named_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (l, p) in self.arch.layers.iter().zip(&self.layers) {
            if let Some(p) = p {
                out.push((format!("{}.weight", l.name), p.weight.clone()));
                out.push((format!("{}.bias", l.name), p.bias.clone()));
                if let Some(bn) = &p.bn {
                    out.push((format!("{}.bn.gamma", l.name), bn.gamma.clone()));
                    out.push((format!("{}.bn.beta", l.name), bn.beta.clone()));
                    out.push((format!("{}.bn.mean", l.name), bn.mean.clone()));
                    out.push((format!("{}.bn.var", l.name), bn.var.clone()));
                }
            }
        }
        out
    }

    /// Sets variables from named tensors. Every variable must be present
    /// with its shape unless `partial` (then missing ones are kept, and the
    /// names set are returned).
    pub fn load_named(&self, map: &HashMap<String, Tensor>, partial: bool) -> Result<Vec<String>> {
        let mut set = Vec::new();
        for (name, var) in self.named_vars() {
            match map.get(&name) {
                Some(t) => {
                    if t.dims() != var.dims() {
                        candle_core::bail!(
                            "{name}: checkpoint shape {:?}, model {:?}",
                            t.dims(),
                            var.dims()
                        );
                    }
                    var.set(&t.to_dtype(DType::F32)?)?;
                    set.push(name);
                }
                None if partial => {}
                None => candle_core::bail!("checkpoint lacks {name}"),
            }
        }
        Ok(set)
    }

    /// Trainable parameter count (BN running statistics excluded).
    pub fn param_count(&self) -> usize {
        self.trainable(false).iter().map(|v| v.elem_count()).sum()
    }
}
