//! Parse + run on arbitrary bytes: must never panic, overflow or hang.
//!
//! The input is used twice: as is (exercising the header and CRC checks),
//! and with its body CRC repaired, so mutations reach every deeper check
//! and, when a mutated blob is still valid, the kernels.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mote_core::{align_arena, Model, Session};

/// Largest arena the target allocates, and most MACs it runs: a valid blob
/// may legitimately describe more work than a fuzz iteration should take.
const MAX_ARENA: usize = 1 << 20;
const MAX_MACS: u64 = 20_000_000;

fn exercise(bytes: &[u8]) {
    let Ok(model) = Model::parse(bytes) else {
        return;
    };
    let mut macs = 0u64;
    for k in 0..model.op_count() {
        macs = macs.saturating_add(model.op_macs(k as u16).unwrap_or(0));
    }
    for i in 0..model.tensor_count() {
        let _ = model.tensor(i as u16);
    }
    if model.arena_size() > MAX_ARENA || macs > MAX_MACS {
        return;
    }
    let mut buf = vec![0u8; model.arena_size() + model.arena_align()];
    let arena = align_arena(&mut buf, model.arena_align());
    let Ok(mut session) = Session::new(&model, arena) else {
        return;
    };
    for k in 0..model.input_count() {
        if let Ok(input) = session.input(k) {
            for (i, b) in input.iter_mut().enumerate() {
                *b = bytes.get(i % bytes.len().max(1)).copied().unwrap_or(0);
            }
        }
    }
    let _ = session.run();
    for k in 0..model.output_count() {
        let _ = session.output(k);
    }
}

fuzz_target!(|data: &[u8]| {
    exercise(data);
    if data.len() >= 16 {
        let mut fixed = data.to_vec();
        let crc = mote_core::crc32::crc32(&fixed[16..]);
        fixed[12..16].copy_from_slice(&crc.to_le_bytes());
        exercise(&fixed);
    }
});
