//! RESHAPE: a copy (the element order is unchanged; only the shape differs).
//!
//! Kept as an op so the memory plan stays simple; a planner may alias the
//! input and output instead, in which case the session skips it.

use super::{check_len, KernelError, Shape4, View, ViewMut, Words};

/// Number of `i32` words in an encoded [`Params`].
pub const WORDS: usize = 0;

/// RESHAPE has no run-time parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params;

/// Host-side prepare: nothing to compute.
pub fn prepare() -> Params {
    Params
}

impl Params {
    /// Writes nothing.
    pub fn encode(&self, _out: &mut impl FnMut(i32)) {}

    /// Accepts only an empty word list.
    pub fn decode(words: &[i32]) -> Result<Self, KernelError> {
        Words::new(words, WORDS)?;
        Ok(Self)
    }

    /// Input and output must hold the same number of elements.
    pub fn validate(&self, input: Shape4, output: Shape4) -> Result<(), KernelError> {
        if input.check()? == output.check()? {
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

/// Runs RESHAPE.
pub fn eval(p: &Params, input: View<'_>, output: ViewMut<'_>) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    output.data.copy_from_slice(input.data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_checks() {
        let x: [i8; 6] = [1, -2, 3, -4, 5, 127];
        let mut out = [0i8; 6];
        eval(
            &Params,
            View::new(Shape4::new(1, 2, 3, 1), &x),
            ViewMut::new(Shape4::new(1, 1, 1, 6), &mut out),
        )
        .unwrap();
        assert_eq!(out, x);
        assert_eq!(
            eval(
                &Params,
                View::new(Shape4::new(1, 2, 3, 1), &x),
                ViewMut::new(Shape4::new(1, 1, 1, 5), &mut out[..5])
            ),
            Err(KernelError::Shape)
        );
        assert_eq!(
            eval(
                &Params,
                View::new(Shape4::new(1, 2, 3, 1), &x[..5]),
                ViewMut::new(Shape4::new(1, 1, 1, 6), &mut out)
            ),
            Err(KernelError::Length)
        );
        assert!(Params::decode(&[0]).is_err());
        assert_eq!(Params::decode(&[]), Ok(Params));
    }
}
