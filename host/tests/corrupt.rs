//! Corrupt blobs must give errors, never panics: truncation at every length,
//! byte flips (with and without a repaired CRC), swapped fields, and absurd
//! counts and offsets. When a corrupted blob still parses (a flipped weight
//! is a valid model), running it must not panic either.
use mote_core::{align_arena, Error, Model, Session};
use mote_host::{blob, sample};

fn blobs() -> Vec<(&'static str, Vec<u8>)> {
    sample::all()
        .unwrap()
        .into_iter()
        .map(|(name, g)| (name, blob::export(&g).unwrap()))
        .collect()
}

/// Recomputes the body CRC so corruption reaches the deeper checks.
fn fix_crc(b: &mut [u8]) {
    if b.len() >= 16 {
        let crc = mote_core::crc32::crc32(&b[16..]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Parses and, if that succeeds, runs with an arena capped at 1 MiB.
/// Returns whether parsing succeeded. Panics propagate and fail the test.
fn parse_and_run(bytes: &[u8]) -> bool {
    let Ok(model) = Model::parse(bytes) else {
        return false;
    };
    if model.arena_size() <= 1 << 20 {
        let mut buf = vec![0u8; model.arena_size() + 64];
        let arena = align_arena(&mut buf, model.arena_align());
        if let Ok(mut s) = Session::new(&model, arena) {
            for k in 0..model.input_count() {
                if let Ok(i) = s.input(k) {
                    i.fill(0x5A);
                }
            }
            let _ = s.run();
            for k in 0..model.output_count() {
                let _ = s.output(k);
            }
        }
    }
    for k in 0..model.op_count() {
        let _ = model.op_macs(k as u16);
    }
    true
}

#[test]
fn every_truncation_is_an_error() {
    for (name, b) in blobs() {
        assert!(parse_and_run(&b), "{name} must parse whole");
        for len in 0..b.len() {
            let r = Model::parse(&b[..len]);
            assert!(r.is_err(), "{name} truncated to {len} parsed");
            if len < b.len() {
                // The CRC never saves a truncated blob: its body length says more.
                assert!(
                    matches!(r, Err(Error::Truncated { .. })),
                    "{name} at {len}: {r:?}"
                );
            }
        }
        // Extra bytes after the body (flash padding) are ignored.
        let mut padded = b.clone();
        padded.extend([0xFF; 37]);
        assert!(Model::parse(&padded).is_ok());
    }
}

#[test]
fn every_single_byte_flip_is_caught() {
    for (name, b) in blobs() {
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x01 << (i % 8);
            assert!(Model::parse(&c).is_err(), "{name}: flip at {i} parsed");
        }
    }
}

#[test]
fn flips_with_repaired_crc_never_panic() {
    let mut rng = sample::Rng::new(99);
    let mut parsed = 0;
    let mut rejected = 0;
    for (_, b) in blobs() {
        for _ in 0..3000 {
            let mut c = b.clone();
            let flips = 1 + (rng.next_u64() % 4) as usize;
            for _ in 0..flips {
                // Bias toward the header and tables, where the structure is.
                let limit = if rng.next_u64() % 4 == 0 {
                    c.len()
                } else {
                    c.len().min(1200)
                };
                let i = (rng.next_u64() as usize) % limit;
                c[i] ^= 1 << (rng.next_u64() % 8);
            }
            fix_crc(&mut c);
            if parse_and_run(&c) {
                parsed += 1;
            } else {
                rejected += 1;
            }
        }
    }
    // Both outcomes must occur, or the test is not exercising anything.
    assert!(
        parsed > 0 && rejected > 0,
        "parsed {parsed}, rejected {rejected}"
    );
}

#[test]
fn swapped_words_never_panic() {
    let mut rng = sample::Rng::new(5);
    for (_, b) in blobs() {
        let words = b.len() / 4;
        for _ in 0..3000 {
            let mut c = b.clone();
            let i = 4 + (rng.next_u64() as usize) % (words.min(300) - 4);
            let j = 4 + (rng.next_u64() as usize) % (words.min(300) - 4);
            for k in 0..4 {
                c.swap(4 * i + k, 4 * j + k);
            }
            fix_crc(&mut c);
            parse_and_run(&c);
        }
    }
}

#[test]
fn absurd_directory_values_are_errors() {
    let absurd = [
        0u32,
        1,
        3,
        15,
        0x7FFF_FFFF,
        0x8000_0000,
        0xFFFF_FFF0,
        u32::MAX,
    ];
    for (name, b) in blobs() {
        // Every 32-bit field of the prefix and directory except the CRC
        // (offset 12), and the 16-bit counts split as halves.
        for field in (4..80).step_by(4).filter(|&f| f != 12) {
            for &v in &absurd {
                let mut c = b.clone();
                if u32::from_le_bytes(c[field..field + 4].try_into().unwrap()) == v {
                    continue;
                }
                c[field..field + 4].copy_from_slice(&v.to_le_bytes());
                fix_crc(&mut c);
                // Some fields (arena size grown, unused counts) may stay
                // valid for small values; the absurd large ones may not.
                let ok = parse_and_run(&c);
                if v >= 0x7FFF_FFFF {
                    assert!(!ok, "{name}: field {field} = {v:#x} parsed");
                }
            }
        }
    }
}

#[test]
fn absurd_tensor_and_op_fields_never_panic() {
    let absurd = [0u32, 1, 0xFF, 0xFFFF, 0x7FFF_FFFF, u32::MAX];
    for (_, b) in blobs() {
        let model = Model::parse(&b).unwrap();
        let table = u32::from_le_bytes(b[32..36].try_into().unwrap()) as usize;
        let ops = u32::from_le_bytes(b[36..40].try_into().unwrap()) as usize;
        let n_t = model.tensor_count();
        let n_o = model.op_count();
        let records = (0..n_t)
            .map(|i| (table + 48 * i, 48))
            .chain((0..n_o).map(|k| (ops + 16 * k, 16)));
        for (start, size) in records {
            for field in (0..size).step_by(2) {
                for &v in &absurd {
                    let mut c = b.clone();
                    let bytes = v.to_le_bytes();
                    let end = (start + field + 4).min(start + size);
                    c[start + field..end].copy_from_slice(&bytes[..end - start - field]);
                    fix_crc(&mut c);
                    parse_and_run(&c);
                }
            }
        }
    }
}
