//! Differentiable candle implementations of the runtime's ops, NCHW, with the
//! runtime's exact geometry (TFLite SAME padding with the odd pixel at the
//! bottom/right, nearest resize reading `floor(y / f)`, bilinear resize with
//! half-pixel centers). Depthwise and pointwise convolutions are written
//! with element-wise ops and matmuls because candle's grouped convolution
//! runs one convolution per channel, which is far slower on a CPU.
use candle_core::{Result, Tensor, D};

use super::arch::Act;
use super::chanops;
use super::im2col::{self, Window};

/// Full convolution: `x` (N, Cin, H, W), `w` (Cout, Cin, k, k), `b` (Cout).
///
/// Written as explicit patches and one matmul: candle's own conv2d
/// backward pass (transposed convolutions) is far slower on the CPU for
/// these few-channel, large-image layers.
pub fn conv2d(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize) -> Result<Tensor> {
    let (_, _, k, _) = w.dims4()?;
    let y = if k == 1 && stride == 1 {
        pointwise(x, w)?
    } else {
        patch_conv(x, w, stride)?
    };
    add_bias(&y, b)
}

/// Adds a per-channel bias to (N, C, H, W).
pub fn add_bias(x: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op2(&b.contiguous()?, chanops::ChannelBias)
}

/// Convolution as (Cout, k*k*Cin) x (N, k*k*Cin, Ho*Wo) over im2col patches
/// (row index `(ky*k + kx)*Cin + ci`).
fn patch_conv(x: &Tensor, w: &Tensor, stride: usize) -> Result<Tensor> {
    let (n, cin, _, _) = x.dims4()?;
    let (co, _, k, _) = w.dims4()?;
    let (p, oh, ow) = im2col::patches(x, k, stride)?;
    let p = p.reshape((n, k * k * cin, oh * ow))?;
    let wm = w.permute((0, 2, 3, 1))?.reshape((co, k * k * cin))?;
    wm.broadcast_matmul(&p)?.reshape((n, co, oh, ow))
}

/// 1x1 convolution as a batched matmul.
fn pointwise(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let co = w.dim(0)?;
    let w2 = w.reshape((co, c))?;
    let y = w2.broadcast_matmul(&x.reshape((n, c, h * wd))?)?;
    y.reshape((n, co, h, wd))
}

/// Depthwise convolution: `x` (N, C, H, W), `w` (C, 1, k, k), `b` (C).
pub fn depthwise(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize) -> Result<Tensor> {
    let (_, _, h, wd) = x.dims4()?;
    let (_, _, k, _) = w.dims4()?;
    let win = Window::same(h, wd, k, stride);
    let y = x
        .contiguous()?
        .apply_op2(&w.contiguous()?, chanops::Depthwise(win))?;
    add_bias(&y, b)
}

/// Applies a fused activation clamp.
pub fn activate(x: &Tensor, act: Act) -> Result<Tensor> {
    match act {
        Act::None => Ok(x.clone()),
        Act::Relu => x.relu(),
        Act::Relu6 => x.clamp(0f32, 6f32),
    }
}

/// Nearest-neighbour upsampling by an integer factor.
pub fn upsample_nearest(x: &Tensor, f: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    x.reshape((n, c, h, 1, w, 1))?
        .broadcast_as((n, c, h, f, w, f))?
        .contiguous()?
        .reshape((n, c, h * f, w * f))
}

/// Bilinear x2 upsampling with half-pixel centers along one axis (2 or 3):
/// output `2i` is `3/4 x[i] + 1/4 x[i-1]`, output `2i+1` is
/// `3/4 x[i] + 1/4 x[i+1]`, indices clamped at the edges.
fn bilinear2_axis(x: &Tensor, axis: usize) -> Result<Tensor> {
    let len = x.dim(axis)?;
    let first = x.narrow(axis, 0, 1)?;
    let last = x.narrow(axis, len - 1, 1)?;
    let (prev, next) = if len == 1 {
        (x.clone(), x.clone())
    } else {
        (
            Tensor::cat(&[&first, &x.narrow(axis, 0, len - 1)?], axis)?,
            Tensor::cat(&[&x.narrow(axis, 1, len - 1)?, &last], axis)?,
        )
    };
    let even = ((x * 0.75)? + (prev * 0.25)?)?;
    let odd = ((x * 0.75)? + (next * 0.25)?)?;
    // Interleave: stack after `axis`, then merge the two dims.
    let both = Tensor::stack(&[&even, &odd], axis + 1)?;
    let mut dims = x.dims().to_vec();
    dims[axis] *= 2;
    both.reshape(dims)
}

/// Bilinear x2 upsampling (RESIZE_BILINEAR, half-pixel centers).
pub fn upsample_bilinear2(x: &Tensor) -> Result<Tensor> {
    bilinear2_axis(&bilinear2_axis(x, 2)?, 3)
}

/// Log-softmax over the channel axis of (N, C, H, W) logits.
pub fn log_softmax_channels(x: &Tensor) -> Result<Tensor> {
    let m = x.max_keepdim(1)?.detach();
    let z = x.broadcast_sub(&m)?;
    let lse = z.exp()?.sum_keepdim(1)?.log()?;
    z.broadcast_sub(&lse)
}

/// Mean over every axis but the last (used for global average pooling).
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    // (N, C, H, W) → (N, C)
    x.mean(D::Minus1)?.mean(D::Minus1)
}

#[cfg(test)]
mod tests {
    use super::super::arch::same_padding;
    use super::*;
    use candle_core::Device;

    fn t(v: &[f32], shape: (usize, usize, usize, usize)) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    /// Direct SAME-padded convolution on plain arrays, the reference.
    fn reference_depthwise(
        x: &[f32],
        c: usize,
        h: usize,
        w: usize,
        k: &[f32],
        s: usize,
    ) -> Vec<f32> {
        let (oh, top) = same_padding(h, 3, s);
        let (ow, left) = same_padding(w, 3, s);
        let mut out = vec![0.0; c * oh * ow];
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0;
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let iy = (oy * s + ky) as isize - top as isize;
                            let ix = (ox * s + kx) as isize - left as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                acc += x[(ch * h + iy as usize) * w + ix as usize]
                                    * k[ch * 9 + ky * 3 + kx];
                            }
                        }
                    }
                    out[(ch * oh + oy) * ow + ox] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn depthwise_matches_direct_same_convolution() {
        let (c, h, w) = (2, 6, 5);
        let x: Vec<f32> = (0..c * h * w)
            .map(|i| ((i * 7) % 11) as f32 - 5.0)
            .collect();
        let k: Vec<f32> = (0..c * 9)
            .map(|i| ((i * 5) % 7) as f32 * 0.5 - 1.0)
            .collect();
        let zero = Tensor::zeros(c, candle_core::DType::F32, &Device::Cpu).unwrap();
        for s in [1, 2] {
            let y = depthwise(&t(&x, (1, c, h, w)), &t(&k, (c, 1, 3, 3)), &zero, s).unwrap();
            let got: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
            let want = reference_depthwise(&x, c, h, w, &k, s);
            assert_eq!(got.len(), want.len(), "stride {s}");
            for (g, e) in got.iter().zip(&want) {
                assert!((g - e).abs() < 1e-4, "stride {s}: {g} vs {e}");
            }
        }
    }

    #[test]
    fn patch_conv_matches_candle_conv2d() {
        let dev = Device::Cpu;
        let x = Tensor::rand(-1f32, 1f32, (2, 3, 7, 6), &dev).unwrap();
        let w = Tensor::rand(-1f32, 1f32, (4, 3, 3, 3), &dev).unwrap();
        for s in [1, 2] {
            let win = Window::same(7, 6, 3, s);
            let xp = x
                .pad_with_zeros(2, win.top, (win.oh - 1) * s + 3 - 7 - win.top)
                .unwrap()
                .pad_with_zeros(3, win.left, (win.ow - 1) * s + 3 - 6 - win.left)
                .unwrap();
            let want = xp.conv2d(&w, 0, s, 1, 1).unwrap();
            let got = patch_conv(&x, &w, s).unwrap();
            assert_eq!(got.dims(), want.dims());
            let d = (got - want).unwrap().abs().unwrap().max_all().unwrap();
            assert!(d.to_scalar::<f32>().unwrap() < 1e-5);
        }
    }

    #[test]
    fn full_conv_stride2_uses_bottom_right_padding() {
        // A single 1 at the top-left: with SAME stride 2 and no top padding,
        // output (0,0) sees input (0,0) through kernel tap (0,0).
        let mut x = vec![0.0f32; 16];
        x[0] = 1.0;
        let mut k = vec![0.0f32; 9];
        k[0] = 1.0; // tap (0,0)
        let b = Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).unwrap();
        let y = conv2d(&t(&x, (1, 1, 4, 4)), &t(&k, (1, 1, 3, 3)), &b, 2).unwrap();
        let v: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, vec![1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn bilinear_x2_weights_and_edges() {
        let x = t(&[0.0, 4.0, 8.0], (1, 1, 1, 3));
        let y = bilinear2_axis(&x, 3).unwrap();
        let v: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, vec![0.0, 1.0, 3.0, 5.0, 7.0, 8.0]);
    }

    #[test]
    fn nearest_repeats_pixels() {
        let x = t(&[1.0, 2.0, 3.0, 4.0], (1, 1, 2, 2));
        let v: Vec<f32> = upsample_nearest(&x, 2)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(
            v,
            vec![1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]
        );
    }
}
