//! Shared helpers for the kernel property tests: plain references of the
//! fixed-point primitives (written with `i128` arithmetic, independent of
//! `crate::quant`) and proptest strategies.

extern crate std;

pub use std::vec;
pub use std::vec::Vec;

use proptest::prelude::*;

use crate::le::{encode_i32s, I32s};

/// Little-endian bytes of `values`, to build `I32s` views in tests.
pub fn bytes_of(values: &[i32]) -> Vec<u8> {
    let mut out = vec![0u8; values.len() * 4];
    encode_i32s(values, &mut out).unwrap();
    out
}

/// An `I32s` view over bytes produced by [`bytes_of`].
pub fn view(bytes: &[u8]) -> I32s<'_> {
    I32s::new(bytes).unwrap()
}

/// Reference `MultiplyByQuantizedMultiplier` (double rounding), exact math:
/// `h = floor(x * 2^left * m / 2^31 + 1/2)` saturated to i32, then
/// `h / 2^right` rounded half away from zero. `x * 2^left` must fit in i32.
pub fn ref_mbqm(x: i64, m: i32, shift: i32) -> i64 {
    let left = shift.max(0);
    let right = (-shift).max(0);
    let xl = i128::from(x) << left;
    assert!(xl >= i128::from(i32::MIN) && xl <= i128::from(i32::MAX));
    let prod = xl * i128::from(m);
    let hi = ((prod + (1i128 << 30)) >> 31).clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    let d = 1i128 << right;
    let r = (2 * hi.abs() + d) / (2 * d) * hi.signum();
    r as i64
}

/// Clamp to `[lo, hi]` then to int8.
pub fn ref_clamp(v: i64, lo: i32, hi: i32) -> i8 {
    v.clamp(i64::from(lo), i64::from(hi)).clamp(-128, 127) as i8
}

/// int8 data of length `len`: random, or (one case in four each) all -128 or
/// all 127.
pub fn data(len: usize) -> impl Strategy<Value = Vec<i8>> {
    prop_oneof![
        2 => proptest::collection::vec(any::<i8>(), len),
        1 => Just(vec![-128i8; len]),
        1 => Just(vec![127i8; len]),
    ]
}

/// A requantization multiplier in `[2^30, 2^31)` (or the extremes).
pub fn multiplier() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => (1i32 << 30)..=i32::MAX,
        1 => Just(1i32 << 30),
        1 => Just(i32::MAX),
    ]
}

/// A shift: mostly the typical `[-12, 0]`, sometimes large right shifts or a
/// small left shift.
pub fn shift() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => -12i32..=0,
        1 => -31i32..=-13,
        1 => 1i32..=3,
    ]
}

/// An int8 zero point.
pub fn zero_point() -> impl Strategy<Value = i32> {
    prop_oneof![4 => -128i32..=127, 1 => Just(-128), 1 => Just(127), 1 => Just(0)]
}

/// A clamp range within int8 (`min <= max`).
pub fn clamp_range() -> impl Strategy<Value = (i32, i32)> {
    prop_oneof![
        2 => Just((-128, 127)),
        1 => (-128i32..=127, -128i32..=127).prop_map(|(a, b)| (a.min(b), a.max(b))),
    ]
}
