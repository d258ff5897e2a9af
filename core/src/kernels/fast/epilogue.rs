//! What a fast kernel does with each requantized, clamped output value on
//! its way to memory: store it ([`Store`], plain CONV_2D), or combine it
//! with the value already there (an in-place ADD, CONV_2D_FUSED's
//! epilogue).
//!
//! The kernels are generic over [`Epilogue`] so each use is monomorphized:
//! with [`Store`] the read of the old value is dead and disappears, and the
//! plain convolution compiles to the same stores as without the hook.

use crate::kernels::add;

/// The last step of every output element: `out[i] = apply(value, out[i])`.
///
/// Kernels call it exactly once per output element, so an epilogue that
/// reads `old` sees the buffer's contents from before the call (the addend
/// of an in-place ADD).
pub(crate) trait Epilogue {
    /// Whether [`Epilogue::apply`] reads `old`. A kernel whose epilogue
    /// does must not decline (fall back to the portable kernel) after it
    /// has written anything: the portable kernel would read clobbered
    /// addends.
    const READS_OUTPUT: bool;

    /// Whether [`Epilogue::apply`] is `value` itself ([`Store`]): a kernel
    /// may then write the values by its own means (several at once).
    const STORES_VALUE: bool = false;

    /// The value stored for the kernel's result `value` over `old`.
    fn apply(&self, value: i8, old: i8) -> i8;
}

/// Stores the kernel's value as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Store;

impl Epilogue for Store {
    const READS_OUTPUT: bool = false;
    const STORES_VALUE: bool = true;

    #[inline(always)]
    fn apply(&self, value: i8, _old: i8) -> i8 {
        value
    }
}

/// ADD with the kernel's value as the first operand and the output's
/// previous contents as the second, through the ADD's lookup tables
/// ([`add::Tables::apply`], equal to `add::Params::apply`); the caller
/// builds the tables once per op.
impl Epilogue for add::Tables {
    const READS_OUTPUT: bool = true;

    #[inline(always)]
    fn apply(&self, value: i8, old: i8) -> i8 {
        add::Tables::apply(self, value, old)
    }
}
