//! The firmware's two big buffers: where a model blob is loaded (our
//! simulated flash) and the arena models run in.
//!
//! They are statics so their size is part of the link map (and fails the link
//! if RAM is too small), and each is handed out once as `&'static mut`.
use core::sync::atomic::{AtomicBool, Ordering};

/// Bytes reserved for a model blob loaded at run time (simulated board only).
pub const MODEL_CAPACITY: usize = 1024 * 1024;
/// Bytes of arena. Every model the firmware runs, one after the other, shares it.
pub const ARENA_CAPACITY: usize = 1024 * 1024;

/// 16-byte alignment: the blob format aligns weights to 16 bytes relative to
/// the blob start, and the arena's alignment requirement is at most 16.
#[repr(C, align(16))]
pub struct Aligned<const N: usize>(pub [u8; N]);

static mut MODEL: Aligned<MODEL_CAPACITY> = Aligned([0; MODEL_CAPACITY]);
static mut ARENA: Aligned<ARENA_CAPACITY> = Aligned([0; ARENA_CAPACITY]);
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The model buffer and the arena, the first time this is called.
pub fn take() -> Option<(&'static mut [u8], &'static mut [u8])> {
    if TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: the flag above lets exactly one caller through, so these are the
    // only references to the two statics for the rest of the program.
    unsafe {
        let model = &mut (*core::ptr::addr_of_mut!(MODEL)).0;
        let arena = &mut (*core::ptr::addr_of_mut!(ARENA)).0;
        Some((model.as_mut_slice(), arena.as_mut_slice()))
    }
}
