//! Batch-norm folding and weight layouts for export.
//!
//! At inference a batch norm is an affine map per output channel,
//! `y = gamma * (z - mean) / sqrt(var + eps) + beta`, so it folds into the
//! convolution before it: each output channel's weights scale by
//! `s = gamma / sqrt(var + eps)` and the bias becomes `beta + s * (b - mean)`.
//! The deployed model then has only CONV_2D / DEPTHWISE_CONV_2D with bias.
use anyhow::{ensure, Result};

use candle_core::Tensor;

use super::arch::{Arch, Op};
use super::net::{Net, BN_EPS};

/// Batch-norm parameters of one layer, per output channel.
#[derive(Debug, Clone, PartialEq)]
pub struct BnParams {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub eps: f32,
}

/// Folds `bn` into a convolution whose weight is laid out with the output
/// channel outermost (candle's (O, I, kh, kw) or depthwise (C, 1, kh, kw)).
/// Returns the folded `(weight, bias)`.
pub fn fold_bn(weight: &[f32], bias: &[f32], bn: &BnParams) -> Result<(Vec<f32>, Vec<f32>)> {
    let o = bias.len();
    ensure!(o > 0 && weight.len() % o == 0, "weight/bias sizes disagree");
    for v in [&bn.gamma, &bn.beta, &bn.mean, &bn.var] {
        ensure!(
            v.len() == o,
            "batch norm has {} channels, conv {o}",
            v.len()
        );
    }
    let per = weight.len() / o;
    let mut w = weight.to_vec();
    let mut b = vec![0f32; o];
    for c in 0..o {
        let s = bn.gamma[c] / (bn.var[c] + bn.eps).sqrt();
        for x in &mut w[c * per..(c + 1) * per] {
            *x *= s;
        }
        b[c] = bn.beta[c] + s * (bias[c] - bn.mean[c]);
    }
    Ok((w, b))
}

/// A convolution layer ready for export: batch norm folded away.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedLayer {
    /// Index into [`super::arch::Arch::layers`].
    pub layer: usize,
    pub name: String,
    pub depthwise: bool,
    /// Candle layout (O, I, kh, kw); depthwise (C, 1, kh, kw).
    pub shape: [usize; 4],
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl FoldedLayer {
    /// Weights in TFLite's layout: CONV_2D `[O][kh][kw][I]`,
    /// DEPTHWISE_CONV_2D `[1][kh][kw][C]`.
    pub fn tflite_weight(&self) -> Vec<f32> {
        self.tflite_order(&self.weight)
    }

    /// Any per-weight values (e.g. the quantized int8 weights) laid out in
    /// [`Self::weight`]'s order, reordered as [`Self::tflite_weight`] does.
    pub fn tflite_order<T: Copy + Default>(&self, values: &[T]) -> Vec<T> {
        let [o, i, kh, kw] = self.shape;
        let mut out = vec![T::default(); values.len()];
        for oc in 0..o {
            for ic in 0..i {
                for y in 0..kh {
                    for x in 0..kw {
                        let src = ((oc * i + ic) * kh + y) * kw + x;
                        let dst = if self.depthwise {
                            (y * kw + x) * o + oc
                        } else {
                            ((oc * kh + y) * kw + x) * i + ic
                        };
                        if let (Some(d), Some(&v)) = (out.get_mut(dst), values.get(src)) {
                            *d = v;
                        }
                    }
                }
            }
        }
        out
    }

    /// TFLite weight shape for [`Self::tflite_weight`].
    pub fn tflite_shape(&self) -> [usize; 4] {
        let [o, i, kh, kw] = self.shape;
        if self.depthwise {
            [1, kh, kw, o]
        } else {
            [o, kh, kw, i]
        }
    }
}

fn to_vec(v: &candle_core::Var) -> Result<Vec<f32>> {
    Ok(v.as_tensor().flatten_all()?.to_vec1::<f32>()?)
}

/// Every convolution of `net` with its batch norm (inference statistics) folded.
pub fn fold_net(net: &Net) -> Result<Vec<FoldedLayer>> {
    let mut out = Vec::new();
    for (i, (l, p)) in net.arch.layers.iter().zip(&net.layers).enumerate() {
        let Some(p) = p else { continue };
        let dims = p.weight.dims();
        ensure!(dims.len() == 4, "{}: weight is not 4-D", l.name);
        let shape = [dims[0], dims[1], dims[2], dims[3]];
        let (weight, bias) = (to_vec(&p.weight)?, to_vec(&p.bias)?);
        let (weight, bias) = match &p.bn {
            Some(bn) => {
                let bn = BnParams {
                    gamma: to_vec(&bn.gamma)?,
                    beta: to_vec(&bn.beta)?,
                    mean: to_vec(&bn.mean)?,
                    var: to_vec(&bn.var)?,
                    eps: BN_EPS as f32,
                };
                fold_bn(&weight, &bias, &bn)?
            }
            None => (weight, bias),
        };
        out.push(FoldedLayer {
            layer: i,
            name: l.name.clone(),
            depthwise: matches!(l.op, Op::Depthwise { .. }),
            shape,
            weight,
            bias,
        });
    }
    Ok(out)
}

/// The architecture with every batch norm removed (what the device runs).
pub fn without_bn(arch: &Arch) -> Arch {
    let mut a = arch.clone();
    for l in &mut a.layers {
        match &mut l.op {
            Op::Conv { bn, .. } | Op::Depthwise { bn, .. } => *bn = false,
            _ => {}
        }
    }
    a
}

/// A copy of `net` with batch norms folded into the convolutions: the same
/// function in inference mode, and the starting point of
/// quantization-aware fine-tuning (which trains the folded weights).
pub fn folded_net(net: &Net) -> Result<Net> {
    let plain = Net::new(without_bn(&net.arch), 0)?;
    for f in fold_net(net)? {
        let Some(p) = plain.layers.get(f.layer).and_then(|p| p.as_ref()) else {
            anyhow::bail!("{}: no parameters in the folded net", f.name);
        };
        p.weight
            .set(&Tensor::from_vec(f.weight, f.shape.to_vec(), &net.device)?)?;
        p.bias.set(&Tensor::from_vec(
            f.bias.clone(),
            f.bias.len(),
            &net.device,
        )?)?;
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::super::arch::{Act, ArchBuilder, Shape};
    use super::super::net::Net;
    use super::super::rng::Rng;
    use super::*;
    use candle_core::Device;

    /// A net whose batch norms have non-trivial statistics, run in inference
    /// mode, against the same layers with the folded weights and no BN.
    #[test]
    fn folded_convs_match_conv_plus_bn() {
        let mut b = ArchBuilder::new("t", Shape::new(9, 9, 3));
        let a = b.conv("a", 0, 3, 2, 5, Act::None).unwrap();
        let d = b.depthwise_with("d", a, 1, Act::None, true).unwrap();
        let p = b.conv("p", d, 1, 1, 4, Act::None).unwrap();
        let with_bn = Net::new(b.finish(p, p).unwrap(), 1).unwrap();
        // Random weights and BN parameters/statistics (variances positive).
        let mut rng = Rng::new(7);
        for (_, p) in with_bn.named_vars() {
            let n = p.elem_count();
            let v: Vec<f32> = (0..n).map(|_| rng.range(0.3, 1.7)).collect();
            let t = Tensor::from_vec(v, p.dims(), &Device::Cpu).unwrap();
            // Signs on weights and biases so it is not all positive.
            let t = if p.dims().len() == 4 {
                (t - 1.0).unwrap()
            } else {
                t
            };
            p.set(&t).unwrap();
        }
        let plain = folded_net(&with_bn).unwrap();
        assert!(plain.layers.iter().flatten().all(|p| p.bn.is_none()));
        let x: Vec<f32> = (0..3 * 81).map(|_| rng.range(-1.0, 1.0)).collect();
        let x = Tensor::from_vec(x, (1, 3, 9, 9), &Device::Cpu).unwrap();
        let a: Vec<f32> = with_bn
            .forward(&x, false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let b: Vec<f32> = plain
            .forward(&x, false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(a.len(), 4 * 5 * 5);
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "max difference {worst}");
        assert!(
            a.iter().any(|v| v.abs() > 0.1),
            "outputs are trivially small"
        );
    }

    #[test]
    fn tflite_layouts() {
        let f = FoldedLayer {
            layer: 0,
            name: "c".into(),
            depthwise: false,
            shape: [2, 3, 1, 2],
            weight: (0..12).map(|v| v as f32).collect(),
            bias: vec![0.0; 2],
        };
        // [o][i][y][x] = o*6 + i*2 + x → [o][y][x][i].
        assert_eq!(
            f.tflite_weight(),
            vec![0., 2., 4., 1., 3., 5., 6., 8., 10., 7., 9., 11.]
        );
        assert_eq!(f.tflite_shape(), [2, 1, 2, 3]);
        let d = FoldedLayer {
            depthwise: true,
            shape: [2, 1, 1, 2],
            weight: vec![0., 1., 2., 3.],
            ..f
        };
        assert_eq!(d.tflite_weight(), vec![0., 2., 1., 3.]);
        assert_eq!(d.tflite_shape(), [1, 1, 2, 2]);
    }

    #[test]
    fn fold_rejects_mismatched_channels() {
        let bn = BnParams {
            gamma: vec![1.0],
            beta: vec![0.0],
            mean: vec![0.0],
            var: vec![1.0],
            eps: 1e-5,
        };
        assert!(fold_bn(&[1.0, 2.0], &[0.0, 0.0], &bn).is_err());
    }
}
