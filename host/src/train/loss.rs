//! Training losses.
use candle_core::{DType, Device, Result, Tensor};

use super::ops::log_softmax_channels;

/// Class-weighted pixel cross-entropy: `-sum w[y] log p[y] / sum w[y]`.
/// Glasses and shadow pixels are rare; without weights the network learns
/// to predict background everywhere.
pub fn segmentation(logits: &Tensor, classes: &[u8], weights: &[f32]) -> Result<Tensor> {
    let (n, c, h, w) = logits.dims4()?;
    if classes.len() != n * h * w || weights.len() != c {
        candle_core::bail!("segmentation loss: target/weights do not match logits");
    }
    // Weighted one-hot target, (N, C, H, W).
    let mut t = vec![0f32; n * c * h * w];
    let mut total = 0f32;
    for (i, &k) in classes.iter().enumerate() {
        let k = k as usize;
        if k >= c {
            candle_core::bail!("class id {k} ≥ {c}");
        }
        let (b, p) = (i / (h * w), i % (h * w));
        t[(b * c + k) * h * w + p] = weights[k];
        total += weights[k];
    }
    let t = Tensor::from_vec(t, (n, c, h, w), &Device::Cpu)?;
    let lp = log_softmax_channels(logits)?;
    (lp * t)?.sum_all()? * (-1.0 / total.max(1e-6) as f64)
}

/// Soft Dice loss averaged over the foreground classes (1..C): `1 - (2
/// sum(p t) + 1) / (sum(p) + sum(t) + 1)` per class over the whole batch,
/// with `p` the softmax probabilities and `t` the one-hot truth.
///
/// Cross-entropy alone optimises per-pixel likelihood; the quality bar is
/// IoU of thin structures (frames and their shadows are 1-2 px wide), and a
/// weighted cross-entropy trades IoU for recall by smearing rare classes
/// over their neighbours. Dice is a differentiable stand-in for IoU that
/// penalises exactly that smearing.
pub fn soft_dice(logits: &Tensor, classes: &[u8]) -> Result<Tensor> {
    let (n, c, h, w) = logits.dims4()?;
    if classes.len() != n * h * w || c < 2 {
        candle_core::bail!("dice loss: target does not match logits");
    }
    let mut t = vec![0f32; n * c * h * w];
    for (i, &k) in classes.iter().enumerate() {
        let k = k as usize;
        if k >= c {
            candle_core::bail!("class id {k} ≥ {c}");
        }
        let (b, p) = (i / (h * w), i % (h * w));
        t[(b * c + k) * h * w + p] = 1.0;
    }
    let t = Tensor::from_vec(t, (n, c, h, w), &Device::Cpu)?;
    let p = log_softmax_channels(logits)?.exp()?;
    // Per-class sums over batch and pixels: (C,).
    let inter = (&p * &t)?.sum((0, 2, 3))?;
    let total = (p.sum((0, 2, 3))? + t.sum((0, 2, 3))?)?;
    let dice = ((inter * 2.0)? + 1.0)?.div(&(total + 1.0)?)?;
    let fg = dice.narrow(0, 1, c - 1)?.mean_all()?;
    fg.affine(-1.0, 1.0)
}

/// Counting loss: mean squared error of the (scaled) density map plus
/// `count_weight` times the mean absolute count error.
pub fn density(
    pred: &Tensor,
    target: &Tensor,
    counts: &[f32],
    scale: f32,
    count_weight: f64,
) -> Result<Tensor> {
    let mse = (pred - target)?.sqr()?.mean_all()?;
    let n = pred.dim(0)?;
    let pc = (pred.sum((1, 2, 3))? * (1.0 / scale as f64))?;
    let tc = Tensor::from_slice(counts, n, &Device::Cpu)?;
    let l1 = (pc - tc)?.abs()?.mean_all()?;
    mse + (l1 * count_weight)?
}

/// Cross-entropy of (N, K) logits against class ids (pre-training).
pub fn classification(logits: &Tensor, labels: &[u32]) -> Result<Tensor> {
    let t = Tensor::from_slice(labels, labels.len(), &Device::Cpu)?;
    candle_nn::loss::cross_entropy(logits, &t.to_dtype(DType::U32)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_cross_entropy_by_hand() {
        // One image, 2 classes, 2 pixels: logits make p = (0.5, 0.5) at
        // pixel 0 and p(class 1) = sigmoid(2) at pixel 1.
        let l = Tensor::from_vec(vec![0f32, 0.0, 0.0, 2.0], (1, 2, 1, 2), &Device::Cpu).unwrap();
        let loss = segmentation(&l, &[0, 1], &[1.0, 3.0])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let p1 = 1.0 / (1.0 + (-2f32).exp());
        let want = (1.0 * -(0.5f32.ln()) + 3.0 * -(p1.ln())) / 4.0;
        assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
    }

    #[test]
    fn dice_is_zero_for_a_perfect_prediction_and_high_for_a_wrong_one() {
        // Two pixels, classes (1, 2); logits strongly favour the truth...
        let good = Tensor::from_vec(
            vec![-20f32, -20.0, 20.0, -20.0, -20.0, 20.0],
            (1, 3, 1, 2),
            &Device::Cpu,
        )
        .unwrap();
        let d = soft_dice(&good, &[1, 2])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d < 1e-3, "{d}");
        // ...or the background: Dice = 1 - 1 / (1 + 1 + 1) per class.
        let bad = Tensor::from_vec(
            vec![20f32, 20.0, -20.0, -20.0, -20.0, -20.0],
            (1, 3, 1, 2),
            &Device::Cpu,
        )
        .unwrap();
        let d = soft_dice(&bad, &[1, 2])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((d - 0.5).abs() < 1e-3, "{d}");
    }

    #[test]
    fn density_loss_by_hand() {
        let p = Tensor::from_vec(vec![2f32, 0.0, 0.0, 0.0], (1, 1, 2, 2), &Device::Cpu).unwrap();
        let t = Tensor::from_vec(vec![1f32, 1.0, 0.0, 0.0], (1, 1, 2, 2), &Device::Cpu).unwrap();
        // mse = (1 + 1) / 4; counts: pred 2/10, true 0.3 → |diff| 0.1.
        let l = density(&p, &t, &[0.3], 10.0, 2.0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - (0.5 + 0.2)).abs() < 1e-5, "{l}");
    }
}
