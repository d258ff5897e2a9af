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

/// The largest right shift the fast paths' requantization takes
/// (`kernels::fast::MAX_RIGHT_SHIFT`).
pub const FAST_MAX_RIGHT_SHIFT: i32 = 22;

/// A channel's `(multiplier, shift)` with a right shift the fast paths
/// take (`-22..=-1`) and a multiplier in `[2^30, 2^31)`: the usual
/// requantization, the fast conv's rounding shortcut.
pub fn right_shifted() -> impl Strategy<Value = (i32, i32)> {
    (multiplier(), -FAST_MAX_RIGHT_SHIFT..=-1)
}

/// A channel's `(multiplier, shift)` with no right shift (`shift >= 0`,
/// mostly the left shifts `0..=3` and sometimes up to 7). The multiplier
/// is mostly one of [`multiplier`]'s scaled down by `2^4..2^18`, so that
/// accumulators of the tests' sizes (bias up to `2^20`) requantize to
/// values inside int8 rather than all saturating; one draw in five keeps
/// a multiplier in `[2^30, 2^31)`.
pub fn unshifted() -> impl Strategy<Value = (i32, i32)> {
    (
        multiplier(),
        prop_oneof![4 => 0i32..=3, 1 => 4i32..=7],
        prop_oneof![4 => 4u32..=18, 1 => Just(0u32)],
    )
        .prop_map(|(m, s, down)| (m >> down, s))
}

/// One channel's `(multiplier, shift)` for the requantization unit tests:
/// [`multiplier`] and [`shift`] (including shifts outside the fast paths'
/// range), [`right_shifted`] or [`unshifted`].
pub fn channel_requant() -> impl Strategy<Value = (i32, i32)> {
    prop_oneof![
        1 => (multiplier(), shift()),
        1 => right_shifted(),
        1 => unshifted(),
    ]
}

/// Per-channel `(multipliers, shifts)` of `channels` channels for the
/// fast-vs-portable property tests, mostly within the fast paths' range so
/// that a whole layer is taken (one out-of-range channel makes a layer
/// decline):
/// - 3 in 8: every channel [`right_shifted`] (the fast conv's chunks then
///   take the shortcut that assumes a right shift);
/// - 3 in 8: a third of the channels [`unshifted`], the rest
///   [`right_shifted`] (chunks with both);
/// - 1 in 8: as the previous, with one random channel's right shift over
///   22 (the layer declines, wherever that channel is);
/// - 1 in 8: [`multiplier`] and [`shift`] per channel (wide layers then
///   nearly always decline).
pub fn requant(channels: usize) -> impl Strategy<Value = (Vec<i32>, Vec<i32>)> {
    use proptest::collection::vec;
    let mixed = || {
        vec(
            prop_oneof![2 => right_shifted(), 1 => unshifted()],
            channels,
        )
    };
    prop_oneof![
        3 => vec(right_shifted(), channels),
        3 => mixed(),
        1 => (mixed(), 0..channels.max(1), -31i32..=-(FAST_MAX_RIGHT_SHIFT + 1)).prop_map(
            |(mut v, at, s)| {
                if let Some(c) = v.get_mut(at) {
                    c.1 = s;
                }
                v
            }
        ),
        1 => vec((multiplier(), shift()), channels),
    ]
    .prop_map(|v| v.into_iter().unzip())
}

/// Whether every shift is one the fast paths take for the property tests'
/// operands: right shifts up to [`FAST_MAX_RIGHT_SHIFT`], left shifts up
/// to `max_left` (the largest whose accumulator bound, shifted left by
/// `max_left + 1`, fits `i32` for the test's reduction lengths and biases).
pub fn shifts_within(shift: &[i32], max_left: i32) -> bool {
    shift
        .iter()
        .all(|&s| (-FAST_MAX_RIGHT_SHIFT..=max_left).contains(&s))
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

/// A fast-path property case for a convolution-like kernel: geometry, the
/// op's prepared parameters `P`, and random data with per-channel
/// requantization over `filter`'s output channels.
#[derive(Debug, Clone)]
pub struct ConvCase<P> {
    pub input: crate::kernels::Shape4,
    pub filter: crate::kernels::Shape4,
    pub output: crate::kernels::Shape4,
    pub p: P,
    pub x: Vec<i8>,
    pub w: Vec<i8>,
    pub bias: Option<Vec<i32>>,
    pub mult: Vec<i32>,
    pub shift: Vec<i32>,
}

/// Random data for a valid geometry with `channels` output channels, and
/// their requantization ([`requant`]).
pub fn conv_case<P: Clone + core::fmt::Debug>(
    input: crate::kernels::Shape4,
    filter: crate::kernels::Shape4,
    output: crate::kernels::Shape4,
    p: P,
    channels: usize,
) -> impl Strategy<Value = ConvCase<P>> {
    (
        data(input.elements().unwrap()),
        data(filter.elements().unwrap()),
        proptest::option::of(proptest::collection::vec(
            -(1i32 << 20)..(1 << 20),
            channels,
        )),
        requant(channels),
    )
        .prop_map(move |(x, w, bias, (mult, shift))| ConvCase {
            input,
            filter,
            output,
            p: p.clone(),
            x,
            w,
            bias,
            mult,
            shift,
        })
}

/// A kernel entry point with the conv/depthwise signature.
pub type ConvEval<P, R> = fn(
    &P,
    crate::kernels::View<'_>,
    crate::kernels::View<'_>,
    Option<I32s<'_>>,
    crate::kernels::PerChannel<'_>,
    crate::kernels::ViewMut<'_>,
) -> Result<R, crate::kernels::KernelError>;

/// Runs the fast path (`None` when it declines) and the portable kernel on
/// one case; the fast output starts as garbage so unwritten bytes show.
pub fn run_fast_and_portable<P>(
    c: &ConvCase<P>,
    fast: ConvEval<P, bool>,
    portable: ConvEval<P, ()>,
) -> (Option<Vec<i8>>, Vec<i8>) {
    use crate::kernels::{View, ViewMut};
    let (bm, bs) = (bytes_of(&c.mult), bytes_of(&c.shift));
    let bb = c.bias.as_ref().map(|b| bytes_of(b));
    let quant = crate::kernels::PerChannel {
        multiplier: view(&bm),
        shift: view(&bs),
    };
    let len = c.output.elements().unwrap();
    let mut out_fast = vec![0x55i8; len];
    let took = fast(
        &c.p,
        View::new(c.input, &c.x),
        View::new(c.filter, &c.w),
        bb.as_deref().map(view),
        quant,
        ViewMut::new(c.output, &mut out_fast),
    )
    .unwrap();
    let mut out_slow = vec![0i8; len];
    portable(
        &c.p,
        View::new(c.input, &c.x),
        View::new(c.filter, &c.w),
        bb.as_deref().map(view),
        quant,
        ViewMut::new(c.output, &mut out_slow),
    )
    .unwrap();
    (took.then_some(out_fast), out_slow)
}
