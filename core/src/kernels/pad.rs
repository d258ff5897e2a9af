//! PAD / PADV2, int8 (TFLM `reference_ops::Pad`).
//!
//! Copies the input into the middle of the output and fills the border with
//! `pad_value`: the output zero point for PAD (real 0), or the constant of
//! PADV2 (which TFLite requires to share the output's quantization).

use super::{check_len, word, KernelError, Shape4, View, ViewMut, Words, MAX_DIM};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 9;

/// Run-time parameters of PAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// `[before, after]` padding for each of N, H, W, C.
    pub paddings: [[usize; 2]; 4],
    /// Value written into the padding, `[-128, 127]`.
    pub pad_value: i32,
}

/// Host-side prepare: `paddings` are TFLite's `[rank, 2]` pairs for a tensor
/// of rank `paddings.len()` (extended to 4-D with zero padding in front);
/// `constant` is PADV2's quantized constant (PAD: `None`, the output zero
/// point is used).
pub fn prepare(
    paddings: &[[i32; 2]],
    output_zero_point: i32,
    constant: Option<i8>,
) -> Result<Params, KernelError> {
    if paddings.len() > 4 || !(-128..=127).contains(&output_zero_point) {
        return Err(KernelError::Param);
    }
    let mut out = [[0usize; 2]; 4];
    let skip = 4 - paddings.len();
    for (slot, pair) in out.iter_mut().skip(skip).zip(paddings) {
        for (s, &v) in slot.iter_mut().zip(pair) {
            *s = usize::try_from(v).map_err(|_| KernelError::Unsupported)?;
        }
    }
    let p = Params {
        paddings: out,
        pad_value: constant.map_or(output_zero_point, i32::from),
    };
    p.check()?;
    Ok(p)
}

impl Params {
    /// Checks every field's range (what `decode` accepts).
    pub fn check(&self) -> Result<(), KernelError> {
        if self.paddings.iter().flatten().any(|&v| v > MAX_DIM)
            || !(-128..=127).contains(&self.pad_value)
        {
            return Err(KernelError::Param);
        }
        Ok(())
    }

    /// The output shape for `input`.
    pub fn output_shape(&self, input: Shape4) -> Option<Shape4> {
        let d = input.dims();
        let mut o = [0usize; 4];
        for ((slot, &x), pad) in o.iter_mut().zip(&d).zip(&self.paddings) {
            *slot = x.checked_add(pad[0])?.checked_add(pad[1])?;
        }
        Some(Shape4::new(o[0], o[1], o[2], o[3]))
    }

    /// Writes the [`WORDS`] words: n_before, n_after, h_before, h_after,
    /// w_before, w_after, c_before, c_after, pad_value.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        for &v in self.paddings.iter().flatten() {
            out(word(v));
        }
        out(self.pad_value);
    }

    /// Reads the words written by [`Params::encode`], range-checking each.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        let mut paddings = [[0usize; 2]; 4];
        for v in paddings.iter_mut().flatten() {
            *v = w.size(0)?;
        }
        let pad_value = w.int(-128, 127)?;
        Ok(Self {
            paddings,
            pad_value,
        })
    }

    /// The output must be the input grown by the paddings.
    pub fn validate(&self, input: Shape4, output: Shape4) -> Result<(), KernelError> {
        self.check()?;
        input.check()?;
        output.check()?;
        if self.output_shape(input) == Some(output) {
            Ok(())
        } else {
            Err(KernelError::Shape)
        }
    }

    /// No arithmetic.
    pub fn macs(&self) -> u64 {
        0
    }
}

/// Runs PAD.
pub fn eval(p: &Params, input: View<'_>, output: ViewMut<'_>) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    let pad = p.pad_value as i8;
    let (i, o) = (input.shape, output.shape);
    let [pn, ph, pw, pc] = p.paddings;
    let inside = |v: usize, before: usize, extent: usize| v >= before && v - before < extent;
    let mut rows = output.data.chunks_exact_mut(o.c.max(1));
    for n in 0..o.n {
        for y in 0..o.h {
            for x in 0..o.w {
                let Some(row) = rows.next() else {
                    return Ok(()); // zero channels: nothing to write
                };
                if !(inside(n, pn[0], i.n) && inside(y, ph[0], i.h) && inside(x, pw[0], i.w)) {
                    row.fill(pad);
                    continue;
                }
                let src_start = (((n - pn[0]) * i.h + (y - ph[0])) * i.w + (x - pw[0])) * i.c;
                let src = input
                    .data
                    .get(src_start..src_start + i.c)
                    .ok_or(KernelError::Length)?;
                let (front, rest) = row.split_at_mut(pc[0].min(row.len()));
                front.fill(pad);
                let (mid, back) = rest.split_at_mut(i.c.min(rest.len()));
                mid.copy_from_slice(src.get(..mid.len()).ok_or(KernelError::Length)?);
                back.fill(pad);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn matches_reference(
            dims in (1usize..=2, 1usize..=4, 1usize..=4, 1usize..=5),
            pads in proptest::collection::vec(0i32..=2, 8),
            zp in zero_point(),
            seed: u64,
        ) {
            let i = Shape4::new(dims.0, dims.1, dims.2, dims.3);
            let pairs: Vec<[i32; 2]> = pads.chunks(2).map(|c| [c[0], c[1]]).collect();
            let p = prepare(&pairs, zp, None).unwrap();
            let o = p.output_shape(i).unwrap();
            let x: Vec<i8> = (0..i.elements().unwrap()).map(|k| ((k as u64 * 37 + seed) % 256) as u8 as i8).collect();
            let mut out = vec![0i8; o.elements().unwrap()];
            eval(&p, View::new(i, &x), ViewMut::new(o, &mut out)).unwrap();
            let b = |d: usize| p.paddings[d][0];
            for n in 0..o.n { for y in 0..o.h { for w in 0..o.w { for c in 0..o.c {
                let coords = [n as i64 - b(0) as i64, y as i64 - b(1) as i64, w as i64 - b(2) as i64, c as i64 - b(3) as i64];
                let dims_i = i.dims();
                let inside = coords.iter().zip(dims_i.iter()).all(|(&v, &d)| v >= 0 && (v as usize) < d);
                let expect = if inside {
                    x[((coords[0] as usize * i.h + coords[1] as usize) * i.w + coords[2] as usize) * i.c + coords[3] as usize]
                } else { zp as i8 };
                prop_assert_eq!(out[((n * o.h + y) * o.w + w) * o.c + c], expect);
            }}}}
            let mut words = Vec::new();
            p.encode(&mut |w| words.push(w));
            prop_assert_eq!(Params::decode(&words).unwrap(), p);
        }
    }

    #[test]
    fn prepare_extends_rank_and_rejects_bad() {
        let p = prepare(&[[1, 2], [0, 1]], 5, Some(-3)).unwrap();
        assert_eq!(p.paddings, [[0, 0], [0, 0], [1, 2], [0, 1]]);
        assert_eq!(p.pad_value, -3);
        assert!(prepare(&[[-1, 0]], 0, None).is_err());
        assert!(prepare(&[[0, 0]; 5], 0, None).is_err());
        assert_eq!(
            p.validate(Shape4::new(1, 1, 2, 2), Shape4::new(1, 1, 5, 3)),
            Ok(())
        );
        assert_eq!(
            p.validate(Shape4::new(1, 1, 2, 2), Shape4::new(1, 1, 5, 4)),
            Err(KernelError::Shape)
        );
        let mut words = Vec::new();
        p.encode(&mut |w| words.push(w));
        words[8] = 128;
        assert!(Params::decode(&words).is_err());
    }
}
