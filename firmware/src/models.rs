//! The two models the firmware runs on camera frames, embedded at build time.
//!
//! `build.rs` chooses the blobs (`MOTE_SEGMENTER` / `MOTE_COUNTER`, else the
//! shipped models in `../models/`) and generates the statics
//! and the arena figures included below.

/// 16-byte aligned bytes: the blob format aligns weights to 16 bytes relative
/// to the blob's start, so an embedded blob must start on such a boundary.
#[repr(C, align(16))]
pub struct Blob<T: ?Sized>(pub T);

include!(concat!(env!("OUT_DIR"), "/models.rs"));

/// Which embedded model.
#[derive(Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum Role {
    Segmenter,
    Counter,
}

impl Role {
    /// In the order they run on a frame.
    pub const ALL: [Role; 2] = [Role::Segmenter, Role::Counter];

    /// Lower-case name, as logs and output file names spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Segmenter => "segmenter",
            Role::Counter => "counter",
        }
    }

    /// The embedded blob.
    pub fn blob(self) -> &'static [u8] {
        match self {
            Role::Segmenter => &SEGMENTER.0,
            Role::Counter => &COUNTER.0,
        }
    }
}

// The arena static is sized from these, so a mismatch would be a build bug.
const _: () = assert!(ARENA_SIZE >= SEGMENTER_ARENA && ARENA_SIZE >= COUNTER_ARENA);
const _: () = assert!(ARENA_ALIGN >= SEGMENTER_ALIGN && ARENA_ALIGN >= COUNTER_ALIGN);
