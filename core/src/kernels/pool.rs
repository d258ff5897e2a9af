//! Parameters shared by MAX_POOL_2D and AVERAGE_POOL_2D (TFLM
//! `CalculateOpDataPooling`): window, stride, padding and activation clamp.

use super::{
    activation_range, check_extent, compute_out_size, compute_padding, word, Activation,
    KernelError, Padding, Quant, Shape4, Words, MAX_DIM,
};

/// Number of `i32` words in encoded [`Params`].
pub const WORDS: usize = 8;

/// Run-time parameters of a 2-D pooling op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Vertical stride, `>= 1`.
    pub stride_h: usize,
    /// Horizontal stride, `>= 1`.
    pub stride_w: usize,
    /// Window height, `>= 1`.
    pub filter_h: usize,
    /// Window width, `>= 1`.
    pub filter_w: usize,
    /// Rows of implicit padding above the image (never read, only skipped).
    pub pad_h: usize,
    /// Columns of implicit padding left of the image.
    pub pad_w: usize,
    /// Fused activation clamp, low end.
    pub act_min: i32,
    /// Fused activation clamp, high end.
    pub act_max: i32,
}

/// TFLite's pooling options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// SAME or VALID.
    pub padding: Padding,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Window height.
    pub filter_h: usize,
    /// Window width.
    pub filter_w: usize,
    /// Fused activation.
    pub activation: Activation,
}

/// Host-side prepare: output shape, padding and clamp for `input` (NHWC).
/// TFLM pools int8 without requantizing (input and output share their
/// quantization); `output_q` gives the activation clamp.
pub fn prepare(
    opts: &Options,
    input: Shape4,
    output_q: Quant,
) -> Result<(Params, Shape4), KernelError> {
    output_q.check_int8()?;
    let out_h = compute_out_size(opts.padding, input.h, opts.filter_h, opts.stride_h, 1)
        .ok_or(KernelError::Shape)?;
    let out_w = compute_out_size(opts.padding, input.w, opts.filter_w, opts.stride_w, 1)
        .ok_or(KernelError::Shape)?;
    let pad_h = compute_padding(opts.stride_h, 1, input.h, opts.filter_h, out_h)
        .ok_or(KernelError::Shape)?;
    let pad_w = compute_padding(opts.stride_w, 1, input.w, opts.filter_w, out_w)
        .ok_or(KernelError::Shape)?;
    let (act_min, act_max) = activation_range(opts.activation, output_q);
    let p = Params {
        stride_h: opts.stride_h,
        stride_w: opts.stride_w,
        filter_h: opts.filter_h,
        filter_w: opts.filter_w,
        pad_h,
        pad_w,
        act_min,
        act_max,
    };
    let output = Shape4::new(input.n, out_h, out_w, input.c);
    p.validate(input, output)?;
    Ok((p, output))
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        let sizes = [self.stride_h, self.stride_w, self.filter_h, self.filter_w];
        if sizes.iter().any(|&s| s == 0 || s > MAX_DIM)
            || self.pad_h > MAX_DIM
            || self.pad_w > MAX_DIM
            || !(-128..=127).contains(&self.act_min)
            || !(self.act_min..=127).contains(&self.act_max)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// Writes the [`WORDS`] words: stride_h, stride_w, filter_h, filter_w,
    /// pad_h, pad_w, act_min, act_max.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for v in [
            self.stride_h,
            self.stride_w,
            self.filter_h,
            self.filter_w,
            self.pad_h,
            self.pad_w,
        ] {
            out(word(v));
        }
        out(self.act_min);
        out(self.act_max);
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        let stride_h = w.size(1)?;
        let stride_w = w.size(1)?;
        let filter_h = w.size(1)?;
        let filter_w = w.size(1)?;
        let pad_h = w.size(0)?;
        let pad_w = w.size(0)?;
        let (act_min, act_max) = w.clamp()?;
        Ok(Self {
            stride_h,
            stride_w,
            filter_h,
            filter_w,
            pad_h,
            pad_w,
            act_min,
            act_max,
        })
    }

    /// Input and output must agree on batch and channels.
    pub fn validate(&self, input: Shape4, output: Shape4) -> Result<(), KernelError> {
        self.check()?;
        input.check()?;
        output.check()?;
        if input.n != output.n || input.c != output.c {
            return Err(KernelError::Shape);
        }
        check_extent(
            input.h,
            self.filter_h,
            self.stride_h,
            1,
            self.pad_h,
            output.h,
        )?;
        check_extent(
            input.w,
            self.filter_w,
            self.stride_w,
            1,
            self.pad_w,
            output.w,
        )?;
        Ok(())
    }

    /// One operation per output element and window tap.
    pub fn macs(&self, output: Shape4) -> u64 {
        output.elements().map_or(0, |n| n as u64) * (self.filter_h as u64) * (self.filter_w as u64)
    }

    /// The clipped window for output position `(oy, ox)` in an `in_h x in_w`
    /// image: `(y0, y1, x0, x1)` input ranges (`y0..y1`, possibly empty), as
    /// TFLM's `filter_*_start` / `filter_*_end`.
    pub(crate) fn window(
        &self,
        oy: usize,
        ox: usize,
        in_h: usize,
        in_w: usize,
    ) -> (usize, usize, usize, usize) {
        let range = |o: usize, stride: usize, pad: usize, filter: usize, size: usize| {
            let origin = (o * stride) as i64 - pad as i64;
            let start = origin.max(0);
            let end = (origin + filter as i64).min(size as i64);
            (start as usize, end.max(start) as usize)
        };
        let (y0, y1) = range(oy, self.stride_h, self.pad_h, self.filter_h, in_h);
        let (x0, x1) = range(ox, self.stride_w, self.pad_w, self.filter_w, in_w);
        (y0, y1, x0, x1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_same_and_valid() {
        let opts = Options {
            padding: Padding::Same,
            stride_h: 2,
            stride_w: 2,
            filter_h: 3,
            filter_w: 3,
            activation: Activation::None,
        };
        let (p, out) = prepare(&opts, Shape4::new(1, 7, 6, 3), Quant::new(0.1, 0)).unwrap();
        assert_eq!(out, Shape4::new(1, 4, 3, 3));
        assert_eq!((p.pad_h, p.pad_w), (1, 0));
        assert_eq!(p.window(0, 0, 7, 6), (0, 2, 0, 3));
        assert_eq!(p.window(3, 2, 7, 6), (5, 7, 4, 6));
        let opts = Options {
            padding: Padding::Valid,
            ..opts
        };
        let (p, out) = prepare(&opts, Shape4::new(1, 7, 6, 3), Quant::new(0.1, 0)).unwrap();
        assert_eq!(out, Shape4::new(1, 3, 2, 3));
        assert_eq!((p.pad_h, p.pad_w), (0, 0));
        let mut words = std::vec::Vec::new();
        p.encode(&mut |w| words.push(w));
        assert_eq!(Params::decode(&words), Ok(p));
        words[2] = 0;
        assert!(Params::decode(&words).is_err());
    }

    extern crate std;
}
