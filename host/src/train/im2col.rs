//! Patch extraction (im2col) as one candle custom op with a hand-written
//! backward pass (col2im). Both convolutions are built on it: a full
//! convolution is patches x weights (one matmul), a depthwise one is
//! patches * taps summed over the taps. Candle's element-wise ops on
//! strided views (and its conv2d backward) cost far more per element on a
//! CPU than these two tight loops.
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

/// Geometry of a SAME-padded k x k window with stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub k: usize,
    pub stride: usize,
    /// Padding rows above / columns left of the image.
    pub top: usize,
    pub left: usize,
    /// Input size.
    pub h: usize,
    pub w: usize,
    /// Output size.
    pub oh: usize,
    pub ow: usize,
}

impl Window {
    /// SAME-padded window over an `h x w` input.
    pub fn same(h: usize, w: usize, k: usize, stride: usize) -> Window {
        let (oh, top) = super::arch::same_padding(h, k, stride);
        let (ow, left) = super::arch::same_padding(w, k, stride);
        Window {
            k,
            stride,
            top,
            left,
            h,
            w,
            oh,
            ow,
        }
    }

    /// Calls `f(out_index, in_index)` for every in-image tap of an
    /// (N, C, H, W) → (N, k*k, C, oh*ow) patch extraction.
    fn for_each(&self, n: usize, c: usize, mut f: impl FnMut(usize, usize)) {
        let (kk, p) = (self.k * self.k, self.oh * self.ow);
        for b in 0..n {
            for ky in 0..self.k {
                for kx in 0..self.k {
                    let tap = ky * self.k + kx;
                    for ci in 0..c {
                        let out_base = ((b * kk + tap) * c + ci) * p;
                        let in_base = (b * c + ci) * self.h * self.w;
                        for oy in 0..self.oh {
                            let iy = (oy * self.stride + ky) as isize - self.top as isize;
                            if iy < 0 || iy as usize >= self.h {
                                continue;
                            }
                            let row = in_base + iy as usize * self.w;
                            for ox in 0..self.ow {
                                let ix = (ox * self.stride + kx) as isize - self.left as isize;
                                if ix < 0 || ix as usize >= self.w {
                                    continue;
                                }
                                f(out_base + oy * self.ow + ox, row + ix as usize);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("im2col: input must be contiguous"),
    }
}

/// (N, C, H, W) → (N, k*k, C, oh*ow) patches; padding reads as zero.
pub struct Im2col(pub Window);

impl CustomOp1 for Im2col {
    fn name(&self) -> &'static str {
        "mote-im2col"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        let win = self.0;
        if (h, w) != (win.h, win.w) {
            candle_core::bail!("im2col: input {h}x{w}, window for {}x{}", win.h, win.w);
        }
        let src = contiguous_f32(s, l)?;
        let mut out = vec![0f32; n * win.k * win.k * c * win.oh * win.ow];
        win.for_each(n, c, |o, i| out[o] = src[i]);
        let shape = Shape::from((n, win.k * win.k, c, win.oh * win.ow));
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (n, c, _, _) = arg.dims4()?;
        let g = grad
            .contiguous()?
            .apply_op1_no_bwd(&Col2im { win: self.0, n, c })?;
        Ok(Some(g))
    }
}

/// The adjoint of [`Im2col`]: sums patch gradients back onto the image.
struct Col2im {
    win: Window,
    n: usize,
    c: usize,
}

impl CustomOp1 for Col2im {
    fn name(&self) -> &'static str {
        "mote-col2im"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = contiguous_f32(s, l)?;
        let win = self.win;
        let mut out = vec![0f32; self.n * self.c * win.h * win.w];
        win.for_each(self.n, self.c, |o, i| out[i] += src[o]);
        Ok((
            CpuStorage::F32(out),
            Shape::from((self.n, self.c, win.h, win.w)),
        ))
    }
}

/// Patches of `x` for a SAME-padded k x k window: (N, k*k, C, oh*ow).
pub fn patches(x: &Tensor, k: usize, stride: usize) -> Result<(Tensor, usize, usize)> {
    let (_, _, h, w) = x.dims4()?;
    let win = Window::same(h, w, k, stride);
    Ok((x.contiguous()?.apply_op1(Im2col(win))?, win.oh, win.ow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The backward pass is the adjoint: <im2col(x), g> = <x, col2im(g)>.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let dev = Device::Cpu;
        for stride in [1, 2] {
            let x =
                Var::from_tensor(&Tensor::rand(-1f32, 1f32, (2, 3, 5, 6), &dev).unwrap()).unwrap();
            let (p, _, _) = patches(x.as_tensor(), 3, stride).unwrap();
            let g = Tensor::rand(-1f32, 1f32, p.dims(), &dev).unwrap();
            let lhs = (&p * &g).unwrap().sum_all().unwrap();
            let grads = lhs.backward().unwrap();
            let gx = grads.get(x.as_tensor()).unwrap();
            let rhs = (x.as_tensor() * gx).unwrap().sum_all().unwrap();
            let (a, b) = (
                lhs.to_scalar::<f32>().unwrap(),
                rhs.to_scalar::<f32>().unwrap(),
            );
            assert!((a - b).abs() < 1e-3, "stride {stride}: {a} vs {b}");
        }
    }
}
