//! Ways to damage a model blob, and a check that `mote-core` answers every
//! one with an error (or, when the damage leaves a valid model, runs it)
//! without panicking. Used on the sample models and on every golden model.
use mote_core::{align_arena, Model, Session};

/// A tiny deterministic generator (xorshift), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Recomputes the body CRC so damage reaches the checks behind it.
pub fn fix_crc(b: &mut [u8]) {
    if b.len() >= 16 {
        let crc = mote_core::crc32::crc32(&b[16..]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Parses and, if that succeeds, runs once in an arena of at most 1 MiB
/// (inputs filled with a pattern). Returns whether parsing succeeded. A
/// panic inside propagates and fails the calling test.
pub fn parse_and_run(bytes: &[u8]) -> bool {
    let Ok(model) = Model::parse(bytes) else {
        return false;
    };
    if model.arena_size() <= 1 << 20 {
        let mut buf = vec![0u8; model.arena_size() + model.arena_align()];
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

/// Counts of what the damage produced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Damaged blobs `Model::parse` rejected.
    pub rejected: usize,
    /// Damaged blobs that were still valid models (and ran).
    pub parsed: usize,
}

impl Outcome {
    fn add(&mut self, parsed: bool) {
        if parsed {
            self.parsed += 1;
        } else {
            self.rejected += 1;
        }
    }
}

/// Every truncation: each must be `Error::Truncated` (the body length
/// always gives it away). Panics with the length on failure.
pub fn truncations(name: &str, blob: &[u8]) {
    for len in 0..blob.len() {
        let r = Model::parse(&blob[..len]);
        assert!(
            matches!(r, Err(mote_core::Error::Truncated { .. })),
            "{name} truncated to {len}: {r:?}"
        );
    }
}

/// Every single-bit flip at every byte (one bit per byte, cycling): the CRC
/// or the header checks must reject each.
pub fn single_flips(name: &str, blob: &[u8]) {
    let mut c = blob.to_vec();
    for i in 0..blob.len() {
        c[i] ^= 1 << (i % 8);
        assert!(Model::parse(&c).is_err(), "{name}: flip at byte {i} parsed");
        c[i] = blob[i];
    }
}

/// `n` random multi-bit flips with a repaired CRC, biased toward the
/// header and tables.
pub fn flips_with_crc(blob: &[u8], n: usize, rng: &mut Rng) -> Outcome {
    let mut out = Outcome::default();
    let structure = blob.len().min(1200);
    for _ in 0..n {
        let mut c = blob.to_vec();
        for _ in 0..1 + rng.below(4) {
            let limit = if rng.below(4) == 0 {
                c.len()
            } else {
                structure
            };
            let i = rng.below(limit);
            c[i] ^= 1 << rng.below(8);
        }
        fix_crc(&mut c);
        out.add(parse_and_run(&c));
    }
    out
}

/// `n` swaps of two random 32-bit words among the first 300, CRC repaired.
pub fn swapped_words(blob: &[u8], n: usize, rng: &mut Rng) -> Outcome {
    let mut out = Outcome::default();
    let words = (blob.len() / 4).min(300);
    for _ in 0..n {
        let mut c = blob.to_vec();
        let (i, j) = (4 + rng.below(words - 4), 4 + rng.below(words - 4));
        for k in 0..4 {
            c.swap(4 * i + k, 4 * j + k);
        }
        fix_crc(&mut c);
        out.add(parse_and_run(&c));
    }
    out
}

/// Each 32-bit field of the prefix and directory (not the CRC) set to
/// absurd values, CRC repaired. Values ≥ 2^31 must all be rejected.
pub fn absurd_directory(name: &str, blob: &[u8]) -> Outcome {
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
    let mut out = Outcome::default();
    for field in (4..80).step_by(4).filter(|&f| f != 12) {
        for &v in &absurd {
            let mut c = blob.to_vec();
            if c[field..field + 4] == v.to_le_bytes() {
                continue;
            }
            c[field..field + 4].copy_from_slice(&v.to_le_bytes());
            fix_crc(&mut c);
            let ok = parse_and_run(&c);
            assert!(
                !(ok && v >= 0x7FFF_FFFF),
                "{name}: directory field {field} = {v:#x} parsed"
            );
            out.add(ok);
        }
    }
    out
}

/// Every 16-bit position of every tensor and op record overwritten with
/// absurd values (as much of a 32-bit value as fits), CRC repaired.
pub fn absurd_records(blob: &[u8]) -> Outcome {
    let absurd = [0u32, 1, 0xFF, 0xFFFF, 0x7FFF_FFFF, u32::MAX];
    let mut out = Outcome::default();
    let Ok(model) = Model::parse(blob) else {
        return out;
    };
    let rd = |o: usize| u32::from_le_bytes(blob[o..o + 4].try_into().unwrap()) as usize;
    let (tensors, ops) = (rd(32), rd(36));
    let records = (0..model.tensor_count())
        .map(|i| (tensors + 48 * i, 48))
        .chain((0..model.op_count()).map(|k| (ops + 16 * k, 16)));
    for (start, size) in records {
        for field in (0..size).step_by(2) {
            for &v in &absurd {
                let mut c = blob.to_vec();
                let end = (start + field + 4).min(start + size);
                c[start + field..end].copy_from_slice(&v.to_le_bytes()[..end - start - field]);
                fix_crc(&mut c);
                out.add(parse_and_run(&c));
            }
        }
    }
    out
}
