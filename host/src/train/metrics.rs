//! Validation metrics: IoU per class for the segmenter, count errors for the counter.
use std::fmt;

use candle_core::{Result, Tensor};

/// Accumulated intersection and union per class.
#[derive(Debug, Clone, PartialEq)]
pub struct SegScore {
    pub inter: Vec<u64>,
    pub union: Vec<u64>,
}

impl SegScore {
    pub fn new(classes: usize) -> SegScore {
        SegScore {
            inter: vec![0; classes],
            union: vec![0; classes],
        }
    }

    /// Adds predicted vs. true class maps of equal length.
    pub fn update(&mut self, pred: &[u8], truth: &[u8]) {
        for (&p, &t) in pred.iter().zip(truth) {
            let (p, t) = (p as usize, t as usize);
            if p == t {
                if let (Some(i), Some(u)) = (self.inter.get_mut(p), self.union.get_mut(p)) {
                    *i += 1;
                    *u += 1;
                }
            } else {
                for k in [p, t] {
                    if let Some(u) = self.union.get_mut(k) {
                        *u += 1;
                    }
                }
            }
        }
    }

    /// IoU of class `k` (1 when the class never occurs in either map).
    pub fn iou(&self, k: usize) -> f64 {
        match (self.inter.get(k), self.union.get(k)) {
            (Some(&i), Some(&u)) if u > 0 => i as f64 / u as f64,
            _ => 1.0,
        }
    }

    /// Mean IoU over all classes.
    pub fn miou(&self) -> f64 {
        let k = self.inter.len();
        (0..k).map(|c| self.iou(c)).sum::<f64>() / k.max(1) as f64
    }
}

/// Predicted and true counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CountScore {
    pub pairs: Vec<(f64, f64)>,
}

impl CountScore {
    pub fn update(&mut self, pred: f64, truth: f64) {
        self.pairs.push((pred, truth));
    }

    pub fn mae(&self) -> f64 {
        let n = self.pairs.len().max(1) as f64;
        self.pairs.iter().map(|(p, t)| (p - t).abs()).sum::<f64>() / n
    }

    pub fn rmse(&self) -> f64 {
        let n = self.pairs.len().max(1) as f64;
        (self.pairs.iter().map(|(p, t)| (p - t).powi(2)).sum::<f64>() / n).sqrt()
    }

    /// MAE relative to the mean true count.
    pub fn rel_mae(&self) -> f64 {
        let n = self.pairs.len().max(1) as f64;
        let mean = self.pairs.iter().map(|(_, t)| t).sum::<f64>() / n;
        if mean > 0.0 {
            self.mae() / mean
        } else {
            f64::INFINITY
        }
    }
}

/// Validation result of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum Score {
    Seg(SegScore),
    Count(CountScore),
    /// Classification accuracy (pre-training).
    Accuracy(f64),
}

impl Score {
    /// One number where higher is better, for picking the best checkpoint.
    pub fn figure_of_merit(&self) -> f64 {
        match self {
            Score::Seg(s) => s.miou(),
            Score::Count(c) => -c.mae(),
            Score::Accuracy(a) => *a,
        }
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Score::Seg(s) => {
                write!(f, "mIoU {:.3} (", s.miou())?;
                for k in 0..s.inter.len() {
                    write!(f, "{}{:.3}", if k > 0 { " " } else { "" }, s.iou(k))?;
                }
                write!(f, ")")
            }
            Score::Count(c) => write!(
                f,
                "MAE {:.2} RMSE {:.2} rel {:.1}%",
                c.mae(),
                c.rmse(),
                100.0 * c.rel_mae()
            ),
            Score::Accuracy(a) => write!(f, "acc {:.1}%", 100.0 * a),
        }
    }
}

/// Per-pixel argmax of (N, C, H, W) logits as `N * H * W` class ids.
pub fn argmax_classes(logits: &Tensor) -> Result<Vec<u8>> {
    let a = logits.argmax(1)?.flatten_all()?.to_vec1::<u32>()?;
    Ok(a.into_iter().map(|v| v as u8).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_by_hand() {
        let mut s = SegScore::new(3);
        s.update(&[0, 0, 1, 1, 2], &[0, 1, 1, 1, 0]);
        // class 0: inter 1, union {0,1,4} = 3; class 1: inter 2, union 3; class 2: 0/1.
        assert!((s.iou(0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.iou(1) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.iou(2), 0.0);
        assert!((s.miou() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn count_errors() {
        let mut c = CountScore::default();
        c.update(12.0, 10.0);
        c.update(6.0, 10.0);
        assert_eq!(c.mae(), 3.0);
        assert!((c.rmse() - 10f64.sqrt()).abs() < 1e-12);
        assert!((c.rel_mae() - 0.3).abs() < 1e-12);
    }
}
