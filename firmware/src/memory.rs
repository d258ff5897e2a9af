//! The firmware's big buffers: where a model blob is loaded (simulated board:
//! our simulated flash), the arena models run in, and a camera frame.
//!
//! They are statics so their size is part of the link map (and fails the link
//! if RAM is too small), and each is handed out once as `&'static mut`.
use core::sync::atomic::{AtomicBool, Ordering};

use crate::models;

/// Bytes reserved for a model blob loaded at run time. Only the simulated
/// board loads models; the real board's are in flash.
pub const MODEL_CAPACITY: usize = if cfg!(feature = "board-sim") {
    1024 * 1024
} else {
    0
};
/// Arena bytes the simulated board's `run` command offers a model loaded at
/// run time (one not known when the firmware was built).
const RUN_ARENA: usize = if cfg!(feature = "board-sim") {
    1024 * 1024
} else {
    0
};
/// Bytes of arena: every model the firmware runs, one after the other, shares
/// it. Sized at build time from the embedded models (`build.rs`), and on the
/// simulated board at least [`RUN_ARENA`] for models loaded at run time.
pub const ARENA_CAPACITY: usize = if models::ARENA_SIZE > RUN_ARENA {
    models::ARENA_SIZE
} else {
    RUN_ARENA
};
/// Bytes for one camera frame: up to QVGA RGB888 from the host in simulation,
/// QQVGA RGB565 (160 x 120 x 2) from the camera on the real board.
pub const FRAME_CAPACITY: usize = if cfg!(feature = "board-sim") {
    320 * 240 * 3
} else {
    160 * 120 * 2
};

/// Bytes for the segmentation head's class map (one byte per output pixel):
/// enough for a 256 x 256 output in simulation, 128 x 128 on the real board.
pub const CLASS_MAP_CAPACITY: usize = if cfg!(feature = "board-sim") {
    256 * 256
} else {
    128 * 128
};

/// 16-byte alignment: the blob format aligns weights to 16 bytes relative to
/// the blob start.
#[repr(C, align(16))]
pub struct Aligned<const N: usize>(pub [u8; N]);

static mut MODEL: Aligned<MODEL_CAPACITY> = Aligned([0; MODEL_CAPACITY]);
/// Aligned as strictly as the embedded models need (at least 16 bytes).
static mut ARENA: models::ArenaBytes<ARENA_CAPACITY> = models::ArenaBytes([0; ARENA_CAPACITY]);
static mut FRAME: Aligned<FRAME_CAPACITY> = Aligned([0; FRAME_CAPACITY]);
static mut CLASS_MAP: [u8; CLASS_MAP_CAPACITY] = [0; CLASS_MAP_CAPACITY];
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The buffers, handed out once.
pub struct Buffers {
    /// Empty on the real board, whose models are in flash.
    #[cfg_attr(not(feature = "board-sim"), allow(dead_code))]
    pub model: &'static mut [u8],
    pub arena: &'static mut [u8],
    pub frame: &'static mut [u8],
    /// Scratch for the segmentation head's class map.
    pub class_map: &'static mut [u8],
}

/// The buffers, the first time this is called.
pub fn take() -> Option<Buffers> {
    if TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: the flag above lets exactly one caller through, so these are the
    // only references to these statics for the rest of the program.
    unsafe {
        let model = &mut (*core::ptr::addr_of_mut!(MODEL)).0;
        let arena = &mut (*core::ptr::addr_of_mut!(ARENA)).0;
        let frame = &mut (*core::ptr::addr_of_mut!(FRAME)).0;
        let class_map = &mut *core::ptr::addr_of_mut!(CLASS_MAP);
        Some(Buffers {
            model: model.as_mut_slice(),
            arena: arena.as_mut_slice(),
            frame: frame.as_mut_slice(),
            class_map: class_map.as_mut_slice(),
        })
    }
}
