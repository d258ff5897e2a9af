//! Per-channel ops with hand-written backward passes: depthwise
//! convolution, batch norm (training statistics) and bias addition.
//!
//! Why: every one of them needs a gradient summed over N, H and W for each
//! channel, and candle's CPU reduction over non-trailing axes does a
//! division per element; composed from candle primitives these ops
//! dominated training time. Here each forward and backward is one loop.
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use super::im2col::Window;

fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("channel op: input must be contiguous"),
    }
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// Depthwise k x k convolution (no bias): x (N, C, H, W), w (C, 1, k, k).
pub struct Depthwise(pub Window);

impl Depthwise {
    /// Calls `f(out_index, in_index, weight_index)` for every in-image tap.
    fn for_each(&self, n: usize, c: usize, mut f: impl FnMut(usize, usize, usize)) {
        let w = self.0;
        let kk = w.k * w.k;
        for b in 0..n {
            for ch in 0..c {
                let in_base = (b * c + ch) * w.h * w.w;
                let out_base = (b * c + ch) * w.oh * w.ow;
                for oy in 0..w.oh {
                    for ky in 0..w.k {
                        let iy = (oy * w.stride + ky) as isize - w.top as isize;
                        if iy < 0 || iy as usize >= w.h {
                            continue;
                        }
                        let row = in_base + iy as usize * w.w;
                        for kx in 0..w.k {
                            let wi = ch * kk + ky * w.k + kx;
                            for ox in 0..w.ow {
                                let ix = (ox * w.stride + kx) as isize - w.left as isize;
                                if ix < 0 || ix as usize >= w.w {
                                    continue;
                                }
                                f(out_base + oy * w.ow + ox, row + ix as usize, wi);
                            }
                        }
                    }
                }
            }
        }
    }
}

impl CustomOp2 for Depthwise {
    fn name(&self) -> &'static str {
        "mote-depthwise"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let win = self.0;
        if (h, w) != (win.h, win.w) || l2.shape().elem_count() != c * win.k * win.k {
            candle_core::bail!("depthwise: shapes do not match the window");
        }
        let (x, k) = (slice(s1, l1)?, slice(s2, l2)?);
        let mut y = vec![0f32; n * c * win.oh * win.ow];
        self.for_each(n, c, |o, i, wi| y[o] += x[i] * k[wi]);
        Ok((CpuStorage::F32(y), Shape::from((n, c, win.oh, win.ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        k: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, c, _, _) = x.dims4()?;
        let (xv, kv, gv) = (values(x)?, values(k)?, values(g)?);
        let mut gx = vec![0f32; xv.len()];
        let mut gk = vec![0f32; kv.len()];
        self.for_each(n, c, |o, i, wi| {
            gx[i] += kv[wi] * gv[o];
            gk[wi] += xv[i] * gv[o];
        });
        Ok((
            Some(Tensor::from_vec(gx, x.dims(), x.device())?),
            Some(Tensor::from_vec(gk, k.dims(), k.device())?),
        ))
    }
}

/// `x + b[c]` for x (N, C, H, W).
pub struct ChannelBias;

impl CustomOp2 for ChannelBias {
    fn name(&self) -> &'static str {
        "mote-channel-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, h, w) = l1.shape().dims4()?;
        let (x, b) = (slice(s1, l1)?, slice(s2, l2)?);
        if b.len() != c {
            candle_core::bail!("bias has {} channels, input {c}", b.len());
        }
        let hw = h * w;
        let y = x
            .iter()
            .enumerate()
            .map(|(i, v)| v + b[(i / hw) % c])
            .collect();
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, c, h, w) = x.dims4()?;
        let gv = values(g)?;
        let hw = h * w;
        let mut gb = vec![0f32; c];
        for (i, v) in gv.iter().enumerate() {
            gb[(i / hw) % c] += v;
        }
        Ok((
            Some(g.clone()),
            Some(Tensor::from_vec(gb, b.dims(), b.device())?),
        ))
    }
}

/// Per-channel mean and biased variance of (N, C, H, W).
pub fn channel_stats(x: &Tensor) -> Result<(Vec<f32>, Vec<f32>)> {
    let (n, c, h, w) = x.dims4()?;
    let v = values(x)?;
    let hw = h * w;
    let (mut s, mut s2) = (vec![0f64; c], vec![0f64; c]);
    for b in 0..n {
        for ch in 0..c {
            let base = (b * c + ch) * hw;
            let (mut a, mut q) = (0f64, 0f64);
            for &e in &v[base..base + hw] {
                a += e as f64;
                q += (e as f64) * (e as f64);
            }
            s[ch] += a;
            s2[ch] += q;
        }
    }
    let m = (n * hw).max(1) as f64;
    let mean: Vec<f32> = s.iter().map(|a| (a / m) as f32).collect();
    let var: Vec<f32> = s2
        .iter()
        .zip(&s)
        .map(|(q, a)| ((q / m) - (a / m).powi(2)).max(0.0) as f32)
        .collect();
    Ok((mean, var))
}

/// Batch norm with the batch's own statistics (training mode):
/// `gamma * (x - mean) / sqrt(var + eps) + beta`, inputs (x, gamma, beta).
/// The backward pass includes the statistics' dependence on x.
pub struct BatchNormTrain {
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub eps: f32,
}

impl BatchNormTrain {
    fn inv_std(&self) -> Vec<f32> {
        self.var
            .iter()
            .map(|v| 1.0 / (v + self.eps).sqrt())
            .collect()
    }
}

impl CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "mote-batch-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, h, w) = l1.shape().dims4()?;
        let (x, g, b) = (slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?);
        if g.len() != c || b.len() != c || self.mean.len() != c {
            candle_core::bail!("batch norm: channel counts differ");
        }
        let inv = self.inv_std();
        let hw = h * w;
        let y = x
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let ch = (i / hw) % c;
                (v - self.mean[ch]) * inv[ch] * g[ch] + b[ch]
            })
            .collect();
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, c, h, w) = x.dims4()?;
        let (xv, gv, gam) = (values(x)?, values(grad)?, values(gamma)?);
        let inv = self.inv_std();
        let hw = h * w;
        let m = (n * hw) as f32;
        // Per channel: sum g and sum g * xhat.
        let (mut sg, mut sgx) = (vec![0f32; c], vec![0f32; c]);
        for (i, (&xe, &ge)) in xv.iter().zip(&gv).enumerate() {
            let ch = (i / hw) % c;
            sg[ch] += ge;
            sgx[ch] += ge * (xe - self.mean[ch]) * inv[ch];
        }
        let gx: Vec<f32> = xv
            .iter()
            .zip(&gv)
            .enumerate()
            .map(|(i, (&xe, &ge))| {
                let ch = (i / hw) % c;
                let xhat = (xe - self.mean[ch]) * inv[ch];
                gam[ch] * inv[ch] * (ge - sg[ch] / m - xhat * sgx[ch] / m)
            })
            .collect();
        Ok((
            Some(Tensor::from_vec(gx, x.dims(), x.device())?),
            Some(Tensor::from_vec(sgx, gamma.dims(), gamma.device())?),
            Some(Tensor::from_vec(sg, beta.dims(), beta.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn rand(shape: &[usize]) -> Var {
        Var::from_tensor(&Tensor::rand(-1f32, 1f32, shape, &Device::Cpu).unwrap()).unwrap()
    }

    fn close(a: &Tensor, b: &Tensor, tol: f32) {
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d < tol, "max difference {d}");
    }

    /// Forward and gradients against the same function composed from candle ops.
    #[test]
    fn batch_norm_matches_composed_reference() {
        let (x, g, b) = (rand(&[3, 4, 5, 6]), rand(&[4]), rand(&[4]));
        let (mean, var) = channel_stats(x.as_tensor()).unwrap();
        let op = BatchNormTrain {
            mean,
            var,
            eps: 1e-5,
        };
        let y = x
            .as_tensor()
            .apply_op3(g.as_tensor(), b.as_tensor(), op)
            .unwrap();
        let xt = x.as_tensor();
        let mu = xt.mean_keepdim((0, 2, 3)).unwrap();
        let var = xt
            .broadcast_sub(&mu)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_keepdim((0, 2, 3))
            .unwrap();
        let r = xt
            .broadcast_sub(&mu)
            .unwrap()
            .broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
            .unwrap()
            .broadcast_mul(&g.as_tensor().reshape((1, 4, 1, 1)).unwrap())
            .unwrap()
            .broadcast_add(&b.as_tensor().reshape((1, 4, 1, 1)).unwrap())
            .unwrap();
        close(&y, &r, 1e-4);
        // A loss that weights outputs unevenly so every gradient term matters.
        let wts = Tensor::rand(0f32, 2f32, y.dims(), &Device::Cpu).unwrap();
        let g1 = (&y * &wts)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g2 = (&r * &wts)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&x, &g, &b] {
            close(
                g1.get(v.as_tensor()).unwrap(),
                g2.get(v.as_tensor()).unwrap(),
                1e-3,
            );
        }
    }

    #[test]
    fn depthwise_and_bias_gradients_match_composed_reference() {
        for stride in [1, 2] {
            let (x, k, b) = (rand(&[2, 3, 7, 6]), rand(&[3, 1, 3, 3]), rand(&[3]));
            let (_, _, h, w) = x.as_tensor().dims4().unwrap();
            let (oh, top) = super::super::arch::same_padding(h, 3, stride);
            let (ow, left) = super::super::arch::same_padding(w, 3, stride);
            let win = Window {
                k: 3,
                stride,
                top,
                left,
                h,
                w,
                oh,
                ow,
            };
            let y = x
                .as_tensor()
                .apply_op2(k.as_tensor(), Depthwise(win))
                .unwrap();
            let y = y.apply_op2(b.as_tensor(), ChannelBias).unwrap();
            // Reference: candle's grouped conv on explicitly padded input.
            let xp = x
                .as_tensor()
                .pad_with_zeros(2, top, (oh - 1) * stride + 3 - h - top)
                .unwrap()
                .pad_with_zeros(3, left, (ow - 1) * stride + 3 - w - left)
                .unwrap();
            let r = xp
                .conv2d(k.as_tensor(), 0, stride, 1, 3)
                .unwrap()
                .broadcast_add(&b.as_tensor().reshape((1, 3, 1, 1)).unwrap())
                .unwrap();
            close(&y, &r, 1e-5);
            let wts = Tensor::rand(0f32, 2f32, y.dims(), &Device::Cpu).unwrap();
            let g1 = (&y * &wts).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (&r * &wts).unwrap().sum_all().unwrap().backward().unwrap();
            for v in [&x, &k, &b] {
                close(
                    g1.get(v.as_tensor()).unwrap(),
                    g2.get(v.as_tensor()).unwrap(),
                    1e-4,
                );
            }
        }
    }
}
