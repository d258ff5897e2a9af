//! The Cortex-M DSP instructions the fast kernels are built on.
//!
//! With `cfg(mote_dsp)` (set by `core/build.rs` for thumbv7em and for targets
//! built with `+dsp`) each helper is one instruction in `asm!` (the DSP
//! extension's SXTB16, SMLAD, SMLABB/SMLATT, SMMULR and SSAT); elsewhere,
//! Cortex-M0+/M3 included, it is plain Rust with the
//! instruction's exact semantics, so the host's tests run the very algorithm
//! the device runs. `tests` below pins the plain versions to the
//! architecture manual's definitions; the golden/device tests compare the
//! real instructions' outputs with the host's, byte for byte.
//!
//! Halfword-pair words (`u32` holding two `i16`) are what SXTB16 produces
//! and SMLAD consumes: bits 0..16 are the "bottom" lane, 16..32 the "top".

#[cfg(mote_dsp)]
use core::arch::asm;

/// SXTB16: sign-extends bytes 0 and 2 of `x` into the bottom and top
/// halfwords.
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    #[cfg(mote_dsp)]
    {
        let r: u32;
        // SAFETY: a register-only instruction: no memory, no flags, no stack.
        unsafe {
            asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(mote_dsp))]
    {
        let lo = u32::from(x as u8 as i8 as i16 as u16);
        let hi = u32::from((x >> 16) as u8 as i8 as i16 as u16);
        lo | (hi << 16)
    }
}

/// SXTB16 with ROR #8: sign-extends bytes 1 and 3 of `x` into the bottom and
/// top halfwords.
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    #[cfg(mote_dsp)]
    {
        let r: u32;
        // SAFETY: a register-only instruction: no memory, no flags, no stack.
        unsafe {
            asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(mote_dsp))]
    {
        sxtb16(x.rotate_right(8))
    }
}

/// SMLAD: `acc + bottom(a) * bottom(b) + top(a) * top(b)`, wrapping (the
/// instruction only sets the Q flag on overflow; the result is modular).
#[inline(always)]
pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(mote_dsp)]
    {
        let r: i32;
        // SAFETY: a register-only instruction; it may set Q (sticky
        // saturation flag), which no code here reads, so flags are not
        // declared preserved.
        unsafe {
            asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a,
                 b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(mote_dsp))]
    {
        acc.wrapping_add(i32::from(bottom(a)) * i32::from(bottom(b)))
            .wrapping_add(i32::from(top(a)) * i32::from(top(b)))
    }
}

/// SMLABB: `acc + bottom(a) * bottom(b)`, wrapping.
#[inline(always)]
pub fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(mote_dsp)]
    {
        let r: i32;
        // SAFETY: register-only; may set Q, which nothing reads.
        unsafe {
            asm!("smlabb {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a,
                 b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(mote_dsp))]
    {
        acc.wrapping_add(i32::from(bottom(a)) * i32::from(bottom(b)))
    }
}

/// SMLATT: `acc + top(a) * top(b)`, wrapping.
#[inline(always)]
pub fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(mote_dsp)]
    {
        let r: i32;
        // SAFETY: register-only; may set Q, which nothing reads.
        unsafe {
            asm!("smlatt {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a,
                 b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(mote_dsp))]
    {
        acc.wrapping_add(i32::from(top(a)) * i32::from(top(b)))
    }
}

/// SMMULR: the high word of `a * b`, rounded: `(a * b + 2^31) >> 32`.
#[inline(always)]
pub fn smmulr(a: i32, b: i32) -> i32 {
    #[cfg(mote_dsp)]
    {
        let r: i32;
        // SAFETY: a register-only instruction: no memory, no flags, no stack.
        unsafe {
            asm!("smmulr {r}, {a}, {b}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(mote_dsp))]
    {
        ((i64::from(a) * i64::from(b) + (1i64 << 31)) >> 32) as i32
    }
}

/// SMMLAR: `acc` plus the high word of `a * b`, rounded:
/// `acc + ((a * b + 2^31) >> 32)`, wrapping (the instruction adds `acc << 32`
/// to the 64-bit product before taking the high word).
#[inline(always)]
pub fn smmlar(a: i32, b: i32, acc: i32) -> i32 {
    #[cfg(mote_dsp)]
    {
        let r: i32;
        // SAFETY: a register-only instruction: no memory, no flags, no stack.
        unsafe {
            asm!("smmlar {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a,
                 b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(mote_dsp))]
    {
        acc.wrapping_add(smmulr(a, b))
    }
}

/// SSAT #8: `x` saturated to `[-128, 127]`.
#[inline(always)]
pub fn ssat8(x: i32) -> i32 {
    #[cfg(mote_dsp)]
    {
        let r: i32;
        // SAFETY: register-only; may set Q, which nothing reads.
        unsafe {
            asm!("ssat {r}, #8, {x}", r = lateout(reg) r, x = in(reg) x,
                 options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(mote_dsp))]
    {
        x.clamp(-128, 127)
    }
}

/// The bottom halfword of a pair word, signed.
#[cfg(any(test, not(mote_dsp)))]
fn bottom(x: u32) -> i16 {
    x as u16 as i16
}

/// The top halfword of a pair word, signed.
#[cfg(any(test, not(mote_dsp)))]
fn top(x: u32) -> i16 {
    (x >> 16) as u16 as i16
}

/// Packs two `i16` into a pair word (bottom, top).
#[inline]
pub fn pair(bottom: i16, top: i16) -> u32 {
    u32::from(bottom as u16) | (u32::from(top as u16) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn match_the_architecture_definitions(x: u32, y: u32, acc: i32) {
            let b = x.to_le_bytes().map(|v| i16::from(v as i8));
            prop_assert_eq!(sxtb16(x), pair(b[0], b[2]));
            prop_assert_eq!(sxtb16_ror8(x), pair(b[1], b[3]));
            let (xb, xt, yb, yt) = (
                i64::from(bottom(x)), i64::from(top(x)), i64::from(bottom(y)), i64::from(top(y)),
            );
            let wrap = |v: i64| v as i32; // two's complement truncation
            prop_assert_eq!(smlad(x, y, acc), wrap(i64::from(acc) + xb * yb + xt * yt));
            prop_assert_eq!(smlabb(x, y, acc), wrap(i64::from(acc) + xb * yb));
            prop_assert_eq!(smlatt(x, y, acc), wrap(i64::from(acc) + xt * yt));
            let (a, c) = (x as i32, y as i32);
            let prod = i128::from(a) * i128::from(c);
            prop_assert_eq!(i128::from(smmulr(a, c)), (prod + (1i128 << 31)) >> 32);
            let high = (prod + (1i128 << 31) + (i128::from(acc) << 32)) >> 32;
            prop_assert_eq!(smmlar(a, c, acc), high as i32);
            prop_assert_eq!(ssat8(acc), acc.clamp(-128, 127));
        }
    }

    #[test]
    fn pair_round_trips() {
        let w = pair(-2, 300);
        assert_eq!((bottom(w), top(w)), (-2, 300));
    }
}
