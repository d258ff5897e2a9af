//! CONCATENATION, int8 (TFLM's int8 path is a plain copy).
//!
//! TFLM concatenates int8 tensors without requantizing (the converter gives
//! all inputs the output's scale and zero point), so this is a copy of each
//! input into its slot along `axis`. The axis is an index into the 4-D
//! extended shape (`axis + 4 - rank` for a TFLite axis, negatives resolved).

use super::{check_len, KernelError, Shape4, View, ViewMut, Words};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 1;

/// Run-time parameters of CONCATENATION.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Axis of the 4-D NHWC shape, `0..=3`.
    pub axis: usize,
}

/// Host-side prepare: maps a TFLite axis (possibly negative) of a tensor of
/// rank `rank` to the 4-D axis. TFLite requires the fused activation to be
/// NONE; anything else is unsupported.
pub fn prepare(axis: i32, rank: usize, activation_is_none: bool) -> Result<Params, KernelError> {
    if !activation_is_none {
        return Err(KernelError::Unsupported);
    }
    if rank == 0 || rank > 4 {
        return Err(KernelError::Shape);
    }
    let rank_i = rank as i32;
    let a = if axis < 0 { axis + rank_i } else { axis };
    if !(0..rank_i).contains(&a) {
        return Err(KernelError::Param);
    }
    Ok(Params {
        axis: (a + 4 - rank_i) as usize,
    })
}

impl Params {
    /// Writes the single word: axis.
    pub fn encode(&self, out: &mut impl FnMut(i32)) {
        out(super::word(self.axis));
    }

    /// Reads the word written by [`Params::encode`]; the axis must be `0..=3`.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        let mut w = Words::new(words, WORDS)?;
        Ok(Self {
            axis: w.int(0, 3)? as usize,
        })
    }

    /// Checks that every input matches the output outside the axis and that
    /// the inputs' extents along the axis add up to the output's.
    pub fn validate(
        &self,
        inputs: impl IntoIterator<Item = Shape4>,
        output: Shape4,
    ) -> Result<(), KernelError> {
        if self.axis > 3 {
            return Err(KernelError::Param);
        }
        output.check()?;
        let od = output.dims();
        let mut total = 0usize;
        let mut count = 0usize;
        for s in inputs {
            s.check()?;
            let d = s.dims();
            for (i, (&a, &b)) in d.iter().zip(od.iter()).enumerate() {
                if i != self.axis && a != b {
                    return Err(KernelError::Shape);
                }
            }
            total = total
                .checked_add(d.get(self.axis).copied().unwrap_or(0))
                .ok_or(KernelError::Shape)?;
            count += 1;
        }
        if count == 0 || od.get(self.axis) != Some(&total) {
            return Err(KernelError::Shape);
        }
        Ok(())
    }

    /// No arithmetic.
    pub fn macs(&self) -> u64 {
        0
    }
}

/// `(outer, inner)`: the number of slices before the axis, and the element
/// count of one index along the axis (the product of dimensions after it).
fn split(shape: Shape4, axis: usize) -> (usize, usize) {
    let d = shape.dims();
    let outer = d.iter().take(axis).product();
    let inner = d.iter().skip(axis + 1).product();
    (outer, inner)
}

/// Runs CONCATENATION of `inputs` (in order) into `output`.
pub fn eval<'a>(
    p: &Params,
    inputs: impl IntoIterator<Item = View<'a>> + Clone,
    output: ViewMut<'_>,
) -> Result<(), KernelError> {
    p.validate(inputs.clone().into_iter().map(|v| v.shape), output.shape)?;
    check_len(output.shape, output.data.len())?;
    let (outer, inner) = split(output.shape, p.axis);
    let out_extent = output.shape.dims().get(p.axis).copied().unwrap_or(0);
    let out_chunk = out_extent * inner;
    let mut offset = 0usize;
    for input in inputs {
        check_len(input.shape, input.data.len())?;
        let extent = input.shape.dims().get(p.axis).copied().unwrap_or(0);
        let chunk = extent * inner;
        if chunk > 0 {
            for (o, src) in input.data.chunks_exact(chunk).enumerate().take(outer) {
                let start = o * out_chunk + offset;
                output
                    .data
                    .get_mut(start..start + chunk)
                    .ok_or(KernelError::Length)?
                    .copy_from_slice(src);
            }
        }
        offset += chunk;
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
            base in (1usize..=2, 1usize..=4, 1usize..=4, 1usize..=5),
            axis in 0usize..4,
            extents in proptest::collection::vec(1usize..=4, 1..=3),
            seed: u64,
        ) {
            let d = [base.0, base.1, base.2, base.3];
            let shapes: Vec<Shape4> = extents.iter().map(|&e| {
                let mut x = d;
                x[axis] = e;
                Shape4::new(x[0], x[1], x[2], x[3])
            }).collect();
            let mut od = d;
            od[axis] = extents.iter().sum();
            let out_shape = Shape4::new(od[0], od[1], od[2], od[3]);
            let datas: Vec<Vec<i8>> = shapes.iter().enumerate().map(|(k, s)| {
                (0..s.elements().unwrap()).map(|i| ((i as u64 * 31 + k as u64 * 7 + seed) % 256) as u8 as i8).collect()
            }).collect();
            let views: Vec<View> = shapes.iter().zip(&datas).map(|(s, x)| View::new(*s, x)).collect();
            let mut out = vec![0i8; out_shape.elements().unwrap()];
            let p = Params { axis };
            eval(&p, views.iter().copied(), ViewMut::new(out_shape, &mut out)).unwrap();
            // Reference: index by 4-D coordinates.
            for n in 0..od[0] { for h in 0..od[1] { for w in 0..od[2] { for c in 0..od[3] {
                let mut coord = [n, h, w, c];
                let mut k = 0;
                while coord[axis] >= shapes[k].dims()[axis] { coord[axis] -= shapes[k].dims()[axis]; k += 1; }
                let s = shapes[k];
                let src = datas[k][((coord[0] * s.h + coord[1]) * s.w + coord[2]) * s.c + coord[3]];
                prop_assert_eq!(out[((n * od[1] + h) * od[2] + w) * od[3] + c], src);
            }}}}
        }
    }

    #[test]
    fn prepare_and_errors() {
        assert_eq!(prepare(-1, 4, true), Ok(Params { axis: 3 }));
        assert_eq!(prepare(1, 2, true), Ok(Params { axis: 3 }));
        assert_eq!(prepare(0, 2, true), Ok(Params { axis: 2 }));
        assert!(prepare(4, 4, true).is_err());
        assert!(prepare(0, 4, false).is_err());
        let p = Params { axis: 3 };
        let a = Shape4::new(1, 2, 2, 3);
        let b = Shape4::new(1, 2, 2, 1);
        assert!(p.validate([a, b], Shape4::new(1, 2, 2, 4)).is_ok());
        assert_eq!(
            p.validate([a, b], Shape4::new(1, 2, 2, 5)),
            Err(KernelError::Shape)
        );
        assert_eq!(
            p.validate([a, Shape4::new(1, 2, 3, 1)], Shape4::new(1, 2, 2, 4)),
            Err(KernelError::Shape)
        );
        assert_eq!(
            p.validate([], Shape4::new(1, 2, 2, 4)),
            Err(KernelError::Shape)
        );
        let mut out = [0i8; 16];
        let short = [0i8; 11];
        assert_eq!(
            eval(
                &p,
                [View::new(a, &short), View::new(b, &[0; 4])],
                ViewMut::new(Shape4::new(1, 2, 2, 4), &mut out)
            ),
            Err(KernelError::Length)
        );
        assert!(Params::decode(&[4]).is_err());
        assert_eq!(Params::decode(&[2]), Ok(Params { axis: 2 }));
    }
}
