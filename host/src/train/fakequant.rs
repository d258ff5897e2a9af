//! Int8 quantization rules as the runtime applies them, for post-training
//! quantization (calibration) and quantization-aware fine-tuning.
//!
//! - Weights: per output channel, symmetric, `scale = max|w| / 127`,
//!   zero point 0, values in `[-127, 127]`.
//! - Activations: per tensor, asymmetric over `[-128, 127]`, from a
//!   calibrated `[min, max]` widened to include 0; the zero point is nudged
//!   to an integer as TFLite's `ChooseQuantizationParams` does.
//! - Float → int8: `round(x / scale) + zero_point` in f32 with ties away
//!   from zero (C's `round`, Rust's `f32::round`), then clamped; a division,
//!   not a multiplication by `1 / scale`, because the two differ at ties.
use candle_core::{Result, Tensor};

use super::net::Net;

/// Per-tensor affine int8 quantization: `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActQuant {
    pub scale: f32,
    pub zero_point: i32,
}

impl ActQuant {
    /// TFLite's parameters for an observed `[min, max]` range.
    pub fn from_range(min: f32, max: f32) -> ActQuant {
        let (qmin, qmax) = (-128f64, 127f64);
        let rmin = (min as f64).min(0.0);
        let rmax = (max as f64).max(0.0);
        if rmax - rmin <= 0.0 || !(rmax - rmin).is_finite() {
            // A constant-zero tensor: any scale represents it exactly.
            return ActQuant {
                scale: 1.0 / 256.0,
                zero_point: 0,
            };
        }
        let scale = (rmax - rmin) / (qmax - qmin);
        // Pick the zero point candidate with the smaller rounding error, as
        // TFLite does, then nudge it onto an integer inside the range.
        let from_min = qmin - rmin / scale;
        let from_max = qmax - rmax / scale;
        let err_min = qmin.abs() + (rmin / scale).abs();
        let err_max = qmax.abs() + (rmax / scale).abs();
        let zp = if err_min < err_max {
            from_min
        } else {
            from_max
        };
        let zero_point = if zp < qmin {
            qmin
        } else if zp > qmax {
            qmax
        } else {
            zp.round()
        } as i32;
        ActQuant {
            scale: scale as f32,
            zero_point,
        }
    }

    /// Float → int8, ties away from zero, saturating.
    pub fn quantize(&self, x: f32) -> i8 {
        quantize_value(x, self.scale, self.zero_point, -128, 127) as i8
    }

    /// Int8 → float.
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (q as i32 - self.zero_point) as f32
    }

    /// Quantize-dequantize of a tensor with a straight-through gradient:
    /// the forward value is exactly what the runtime would hold, the
    /// backward pass treats the rounding as the identity.
    pub fn fake_quant(&self, x: &Tensor) -> Result<Tensor> {
        fake_quant_tensor(x, self.scale, self.zero_point, -128, 127)
    }
}

/// `clamp(round(x / scale) + zero_point, lo, hi)` with ties away from zero.
pub fn quantize_value(x: f32, scale: f32, zero_point: i32, lo: i32, hi: i32) -> i32 {
    let q = (x / scale).round();
    // Saturate in float first so huge values cannot overflow the cast.
    let q = q.clamp(i32::MIN as f32 / 2.0, i32::MAX as f32 / 2.0) as i32;
    q.saturating_add(zero_point).clamp(lo, hi)
}

fn fake_quant_tensor(x: &Tensor, scale: f32, zp: i32, lo: i32, hi: i32) -> Result<Tensor> {
    let s = Tensor::new(scale, x.device())?;
    let q = x
        .broadcast_div(&s)?
        .round()?
        .affine(1.0, zp as f64)?
        .clamp(lo as f32, hi as f32)?
        .affine(1.0, -(zp as f64))?
        .broadcast_mul(&s)?;
    straight_through(x, &q)
}

/// Value `q` exactly, gradient of `x`: `q + (x - x.detach())`. (The usual
/// `x + (q - x).detach()` is off by a rounding error, which would break
/// exactness with the runtime.)
fn straight_through(x: &Tensor, q: &Tensor) -> Result<Tensor> {
    q.detach() + (x - x.detach())?
}

/// Per-output-channel symmetric int8 weights.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelQuant {
    /// One scale per output channel.
    pub scales: Vec<f32>,
    /// Quantized weights, same layout as the input (output channel outermost).
    pub values: Vec<i8>,
}

/// Scale of one channel: `max|w| / 127`, or 1 for an all-zero channel
/// (any positive scale represents zeros exactly).
pub fn channel_scale(w: &[f32]) -> f32 {
    let m = w.iter().fold(0f32, |a, v| a.max(v.abs()));
    if m > 0.0 {
        m / 127.0
    } else {
        1.0
    }
}

/// Quantizes weights laid out with the output channel outermost
/// (`weights.len() = channels * per_channel`).
pub fn quantize_per_channel(weights: &[f32], channels: usize) -> ChannelQuant {
    let per = weights.len() / channels.max(1);
    let mut scales = Vec::with_capacity(channels);
    let mut values = Vec::with_capacity(weights.len());
    for ch in weights.chunks(per.max(1)).take(channels) {
        let s = channel_scale(ch);
        scales.push(s);
        values.extend(ch.iter().map(|&w| quantize_value(w, s, 0, -127, 127) as i8));
    }
    ChannelQuant { scales, values }
}

/// Scale of an int32 bias: the product of the input scale and the
/// channel's weight scale (in f32, as TFLite's converter computes it), so
/// the bias adds straight onto the int32 accumulator.
pub fn bias_scale(input_scale: f32, weight_scale: f32) -> f32 {
    input_scale * weight_scale
}

/// Float bias → int32 with ties away from zero, saturating.
pub fn quantize_bias(b: f32, scale: f32) -> i32 {
    let q = (b / scale).round();
    if q >= i32::MAX as f32 {
        i32::MAX
    } else if q <= i32::MIN as f32 {
        i32::MIN
    } else {
        q as i32
    }
}

/// Per-channel weight scales of a weight tensor whose first axis is the
/// output channel, shaped `(O, 1)` and detached: `max|w| / 127` (a true
/// division, as [`channel_scale`]; candle's `tensor / f64` multiplies by
/// the reciprocal, which can differ in the last bit), 1 for zero channels.
fn weight_scales(w: &Tensor) -> Result<Tensor> {
    let o = w.dim(0)?;
    let flat = w.reshape((o, ()))?;
    let m = flat.abs()?.max_keepdim(1)?.detach();
    let scale = m.broadcast_div(&Tensor::new(127f32, w.device())?)?;
    let zero = scale.eq(0f32)?.to_dtype(candle_core::DType::F32)?;
    scale + zero
}

/// Per-channel fake quantization of a weight tensor whose first axis is the
/// output channel, with a straight-through gradient (for QAT).
pub fn fake_quant_weights(w: &Tensor) -> Result<Tensor> {
    let o = w.dim(0)?;
    let flat = w.reshape((o, ()))?;
    let scale = weight_scales(w)?;
    let q = flat
        .broadcast_div(&scale)?
        .round()?
        .clamp(-127f32, 127f32)?
        .broadcast_mul(&scale)?;
    let q = q.reshape(w.dims())?;
    straight_through(w, &q)
}

/// Fake quantization of a bias `b` (O) onto the int32 grid the runtime
/// adds to its accumulator: per channel `scale = input_scale * w_scale`
/// ([`bias_scale`], [`quantize_bias`]), straight-through gradient.
pub fn fake_quant_bias(b: &Tensor, w: &Tensor, input_scale: f32) -> Result<Tensor> {
    let s = weight_scales(w)?.flatten_all()?;
    let s = s.broadcast_mul(&Tensor::new(input_scale, b.device())?)?;
    let q = b.broadcast_div(&s)?.round()?.broadcast_mul(&s)?;
    straight_through(b, &q)
}

/// RESIZE_BILINEAR x2 (half-pixel centres) as the int8 runtime computes
/// it: the interpolation runs on the stored integers (zero point
/// included) and rounds half away from zero on them, which is not the
/// same as interpolating real values and quantizing (ties on either side
/// of the zero point go different ways). `x` must already lie on the grid
/// of `q` (it is the fake-quantized input); `upsample` is the float
/// bilinear interpolation, whose 3/4-1/4 weights are exact in f32 on
/// integers. Straight-through gradient.
pub fn fake_quant_bilinear(
    x: &Tensor,
    q: &ActQuant,
    upsample: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let s = Tensor::new(q.scale, x.device())?;
    let zp = q.zero_point as f64;
    let ints = x.detach().broadcast_div(&s)?.round()?.affine(1.0, zp)?;
    let up = upsample(&ints)?.round()?.clamp(-128f32, 127f32)?;
    let real = up.affine(1.0, -zp)?.broadcast_mul(&s)?;
    straight_through(&upsample(x)?, &real)
}

/// Integer weights of a layer (as f32 values, same layout) and their
/// per-channel scales: exactly what the exporter stores.
pub fn weight_ints(w: &Tensor) -> Result<(Tensor, Vec<f32>)> {
    let o = w.dim(0)?;
    let scale = weight_scales(w)?;
    let q = w
        .detach()
        .reshape((o, ()))?
        .broadcast_div(&scale)?
        .round()?
        .clamp(-127f32, 127f32)?
        .reshape(w.dims())?;
    Ok((q, scale.flatten_all()?.to_vec1::<f32>()?))
}

/// Stored integers `q - zero_point` of a tensor already on the grid of `q`
/// (the input offset the runtime adds before multiplying).
pub fn offset_ints(x: &Tensor, q: &ActQuant) -> Result<Tensor> {
    x.detach()
        .broadcast_div(&Tensor::new(q.scale, x.device())?)?
        .round()
}

fn kernel_error(e: mote_core::kernels::KernelError) -> candle_core::Error {
    candle_core::Error::Msg(format!("requantization: {e:?}"))
}

/// The runtime's activation clamp, as `mote_core::kernels` computes it.
pub fn act_range(act: Activation, out: &ActQuant) -> (i32, i32) {
    mote_core::kernels::activation_range(
        act,
        mote_core::kernels::Quant::new(out.scale, out.zero_point),
    )
}

/// Fused activation of a layer in the runtime's terms.
pub use mote_core::kernels::Activation;

/// Finishes a convolution the way the int8 runtime does: `acc` (N, C, H, W)
/// holds the exact integer accumulators `sum (q_in - zp_in) * q_w` (as f32;
/// exact while below 2^24), to which the int32 bias is added before the
/// per-channel double-rounding `MultiplyByQuantizedMultiplier`, the output
/// zero point and the activation clamp. Returns the dequantized output.
pub fn requantize_conv(
    acc: &Tensor,
    bias: &[f32],
    w_scales: &[f32],
    input: &ActQuant,
    output: &ActQuant,
    act: Activation,
) -> Result<Tensor> {
    let (n, c, h, w) = acc.dims4()?;
    if bias.len() != c || w_scales.len() != c {
        candle_core::bail!("requantization: {c} channels, {} biases", bias.len());
    }
    let mut mults = vec![0i32; c];
    let mut shifts = vec![0i32; c];
    mote_core::quant::per_channel_multipliers(
        input.scale,
        w_scales,
        output.scale,
        &mut mults,
        &mut shifts,
    )
    .map_err(kernel_error)?;
    let bias: Vec<i64> = bias
        .iter()
        .zip(w_scales)
        .map(|(&b, &ws)| i64::from(quantize_bias(b, bias_scale(input.scale, ws))))
        .collect();
    let (lo, hi) = act_range(act, output);
    let per = (h * w).max(1);
    let v = acc.flatten_all()?.to_vec1::<f32>()?;
    let out: Vec<f32> = v
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let ch = (i / per) % c;
            let total = (a as i64 + bias[ch]).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
            let q =
                mote_core::quant::multiply_by_quantized_multiplier(total, mults[ch], shifts[ch])
                    .saturating_add(output.zero_point)
                    .clamp(lo, hi);
            output.scale * (q - output.zero_point) as f32
        })
        .collect();
    Tensor::from_vec(out, (n, c, h, w), acc.device())
}

/// ADD the way the int8 runtime does (`mote_core::kernels::add`), on
/// tensors already on the grids of `qa` and `qb`; returns the dequantized
/// output. Straight-through gradient of `a + b` with activation `float`.
pub fn fake_quant_add(
    a: &Tensor,
    b: &Tensor,
    qa: &ActQuant,
    qb: &ActQuant,
    out: &ActQuant,
    act: Activation,
    float: &Tensor,
) -> Result<Tensor> {
    use mote_core::kernels::{add, Quant};
    let p = add::prepare(
        act,
        Quant::new(qa.scale, qa.zero_point),
        Quant::new(qb.scale, qb.zero_point),
        Quant::new(out.scale, out.zero_point),
    )
    .map_err(kernel_error)?;
    let ints = |x: &Tensor, q: &ActQuant| -> Result<Vec<i8>> {
        let v = offset_ints(x, q)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(v.iter()
            .map(|&d| (d as i32 + q.zero_point).clamp(-128, 127) as i8)
            .collect())
    };
    let (va, vb) = (ints(a, qa)?, ints(b, qb)?);
    if va.len() != vb.len() {
        candle_core::bail!("ADD of differently sized tensors");
    }
    let y: Vec<f32> = va
        .iter()
        .zip(&vb)
        .map(|(&x, &y)| out.dequantize(p.apply(x, y)))
        .collect();
    let y = Tensor::from_vec(y, a.dims(), a.device())?;
    straight_through(float, &y)
}

/// Straight-through combination for callers outside this module: value
/// `q`, gradient of `x`.
pub fn with_gradient_of(x: &Tensor, q: &Tensor) -> Result<Tensor> {
    straight_through(x, q)
}

/// Running `[min, max]` of every tensor of a network over calibration batches.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    /// Per [`super::arch::TensorId`]; `None` until observed.
    pub ranges: Vec<Option<(f32, f32)>>,
}

impl Calibration {
    /// Runs `net` (inference mode) on a batch and widens every tensor's range.
    pub fn observe(&mut self, net: &Net, images: &Tensor) -> Result<()> {
        let ts = net.forward_all(images, net.arch.output, false)?;
        if self.ranges.len() < ts.len() {
            self.ranges.resize(ts.len(), None);
        }
        for (r, t) in self.ranges.iter_mut().zip(&ts) {
            let Some(t) = t else { continue };
            let lo = t.flatten_all()?.min(0)?.to_scalar::<f32>()?;
            let hi = t.flatten_all()?.max(0)?.to_scalar::<f32>()?;
            *r = Some(match *r {
                None => (lo, hi),
                Some((a, b)) => (a.min(lo), b.max(hi)),
            });
        }
        Ok(())
    }

    /// Activation quantization of every observed tensor.
    pub fn params(&self) -> Vec<Option<ActQuant>> {
        self.ranges
            .iter()
            .map(|r| r.map(|(a, b)| ActQuant::from_range(a, b)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn range_includes_zero_and_zero_point_is_exact() {
        let q = ActQuant::from_range(0.5, 6.0);
        // Range widened to [0, 6]: zero maps to -128 exactly.
        assert_eq!(q.zero_point, -128);
        assert!((q.scale - 6.0 / 255.0).abs() < 1e-9);
        assert_eq!(q.quantize(0.0), -128);
        assert_eq!(q.dequantize(q.quantize(0.0)), 0.0);
        assert_eq!(q.quantize(6.0), 127);
        assert_eq!(q.quantize(100.0), 127);
        let q = ActQuant::from_range(-1.0, 1.0);
        // 2/255 per step: the real zero point is -0.5, nudged to an integer.
        assert!(q.zero_point == -1 || q.zero_point == 0, "{q:?}");
        assert_eq!(q.quantize(0.0) as i32, q.zero_point);
        let q = ActQuant::from_range(-3.0, -1.0);
        assert_eq!(q.zero_point, 127);
    }

    #[test]
    fn rounding_ties_go_away_from_zero() {
        assert_eq!(quantize_value(2.5, 1.0, 0, -128, 127), 3);
        assert_eq!(quantize_value(-2.5, 1.0, 0, -128, 127), -3);
        assert_eq!(quantize_value(0.5, 1.0, 10, -128, 127), 11);
        assert_eq!(quantize_value(-0.5, 1.0, 10, -128, 127), 9);
        assert_eq!(quantize_value(1e30, 1.0, 0, -128, 127), 127);
        assert_eq!(quantize_value(-1e30, 1.0, 0, -128, 127), -128);
    }

    #[test]
    fn per_channel_weights() {
        let w = [0.5, -1.0, 0.25, 2.0, 1.0, -0.03, 0.0, 0.0, 0.0];
        let q = quantize_per_channel(&w, 3);
        assert_eq!(q.scales, vec![1.0 / 127.0, 2.0 / 127.0, 1.0]);
        // 0.5 * 127 = 63.5 → 64 (tie away from zero); -0.03*63.5 = -1.905 → -2.
        assert_eq!(q.values, vec![64, -127, 32, 127, 64, -2, 0, 0, 0]);
        assert!(q.values.iter().all(|&v| v >= -127));
    }

    #[test]
    fn tensor_fake_quant_matches_scalar_rules() {
        let q = ActQuant::from_range(-0.7, 2.3);
        let xs: Vec<f32> = (-40..60).map(|i| i as f32 * 0.05 + 0.001).collect();
        let t = Tensor::new(xs.as_slice(), &Device::Cpu).unwrap();
        let got: Vec<f32> = q.fake_quant(&t).unwrap().to_vec1().unwrap();
        for (x, g) in xs.iter().zip(&got) {
            assert_eq!(*g, q.dequantize(q.quantize(*x)), "x = {x}");
        }
        let w = Tensor::new(&[[0.5f32, -1.0, 0.25], [0.0, 0.0, 0.0]], &Device::Cpu).unwrap();
        let fq: Vec<Vec<f32>> = fake_quant_weights(&w).unwrap().to_vec2().unwrap();
        let s = 1.0f32 / 127.0;
        assert_eq!(fq[0], vec![64.0 * s, -127.0 * s, 32.0 * s]);
        assert_eq!(fq[1], vec![0.0; 3]);
    }

    /// The fake-quantized bilinear x2 resize gives exactly the runtime
    /// kernel's bytes, ties on both sides of the zero point included.
    #[test]
    fn fake_bilinear_matches_the_runtime_kernel() {
        use mote_core::kernels::{resize_bilinear, Shape4, View, ViewMut};
        let (h, w, c) = (5, 4, 3);
        let q = ActQuant {
            scale: 0.05,
            zero_point: -7,
        };
        let mut rng = super::super::rng::Rng::new(3);
        let ints: Vec<i8> = (0..h * w * c)
            .map(|_| (rng.below(256) as i32 - 128) as i8)
            .collect();
        // NHWC ints → NCHW reals on the grid.
        let mut real = vec![0f32; h * w * c];
        for (i, &v) in ints.iter().enumerate() {
            let (p, ch) = (i / c, i % c);
            real[ch * h * w + p] = q.dequantize(v);
        }
        let x = Tensor::from_vec(real, (1, c, h, w), &Device::Cpu).unwrap();
        let y = fake_quant_bilinear(&x, &q, super::super::ops::upsample_bilinear2).unwrap();
        let y: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        let params = resize_bilinear::prepare(false, true).unwrap();
        let mut out = vec![0i8; 4 * h * w * c];
        resize_bilinear::eval(
            &params,
            View {
                shape: Shape4 { n: 1, h, w, c },
                data: &ints,
            },
            ViewMut {
                shape: Shape4 {
                    n: 1,
                    h: 2 * h,
                    w: 2 * w,
                    c,
                },
                data: &mut out,
            },
        )
        .unwrap();
        // The unrounded interpolation of the integers, to count ties.
        let xi = x
            .affine(1.0 / q.scale as f64, q.zero_point as f64)
            .unwrap()
            .round()
            .unwrap();
        let pre: Vec<f32> = super::super::ops::upsample_bilinear2(&xi)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let (oh, ow) = (2 * h, 2 * w);
        let mut negative_ties = 0;
        for (i, &want) in out.iter().enumerate() {
            let (p, ch) = (i / c, i % c);
            let got = y[ch * oh * ow + p];
            assert_eq!(q.quantize(got), want, "element {i}");
            let v = pre[ch * oh * ow + p];
            negative_ties += usize::from(v < 0.0 && (v - v.floor() - 0.5).abs() < 1e-6);
        }
        assert!(negative_ties > 0, "no negative rounding ties exercised");
    }

    #[test]
    fn fake_quant_passes_gradients_straight_through() {
        let x = candle_core::Var::new(&[0.3f32, -0.2, 5.0], &Device::Cpu).unwrap();
        let q = ActQuant::from_range(-1.0, 1.0);
        let y = q.fake_quant(x.as_tensor()).unwrap().sum_all().unwrap();
        let g = y.backward().unwrap();
        let gx: Vec<f32> = g.get(x.as_tensor()).unwrap().to_vec1().unwrap();
        assert_eq!(gx, vec![1.0, 1.0, 1.0]);
    }

    /// With calibrated fake quantization on, every tensor the network
    /// produces lies on its int8 grid, and training still gets gradients.
    #[test]
    fn quantization_aware_forward_lands_on_the_int8_grid() {
        use super::super::arch::counter;
        let mut net = Net::new(counter().unwrap(), 1).unwrap();
        let x = Tensor::rand(0f32, 1f32, (2, 3, 128, 128), &Device::Cpu).unwrap();
        net.forward(&x, true).unwrap();
        let mut cal = Calibration::default();
        cal.observe(&net, &x).unwrap();
        let params = cal.params();
        assert_eq!(params.len(), net.arch.tensor_count());
        net.fake_quant = Some(params.clone());
        let ts = net.forward_all(&x, net.arch.output, false).unwrap();
        for (id, t) in ts.iter().enumerate() {
            let (Some(t), Some(q)) = (t, params[id]) else {
                continue;
            };
            for v in t
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .step_by(97)
            {
                let steps = v / q.scale + q.zero_point as f32;
                assert!(
                    (steps - steps.round()).abs() < 1e-2,
                    "tensor {id}: {v} off grid"
                );
            }
        }
        let y = net.forward(&x, true).unwrap().sum_all().unwrap();
        let grads = y.backward().unwrap();
        let w = net.layers[0].as_ref().unwrap().weight.as_tensor();
        assert!(grads.get(w).is_some());
    }
}
