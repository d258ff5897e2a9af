//! Corrupt blobs must give errors, never panics: truncation at every length,
//! byte flips (with and without a repaired CRC), swapped fields, and absurd
//! counts and offsets, on the sample models and on every golden model in
//! `tests/golden/` (imported from `.tflite`). When a corrupted blob is still
//! a valid model (a flipped weight), running it must not panic either.
use mote_core::Model;
use mote_host::{blob, model_file, sample};
use mote_tests::corrupt::{self, Outcome, Rng};

fn sample_blobs() -> Vec<(String, Vec<u8>)> {
    sample::all()
        .unwrap()
        .into_iter()
        .map(|(name, g)| (name.to_string(), blob::export(&g).unwrap()))
        .collect()
}

/// Every `tests/golden/*.tflite`, imported and planned. An import failure
/// fails the test (with the importer's message).
fn golden_blobs() -> Vec<(String, Vec<u8>)> {
    let dir = mote_tests::repo_root().join("tests/golden");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let file = model_file::load(&p).unwrap_or_else(|e| panic!("{e:#}"));
            (p.display().to_string(), file.blob)
        })
        .collect()
}

fn all_blobs() -> Vec<(String, Vec<u8>)> {
    let mut v = sample_blobs();
    v.extend(golden_blobs());
    for (name, b) in &v {
        assert!(corrupt::parse_and_run(b), "{name} must parse whole");
    }
    v
}

#[test]
fn every_truncation_is_an_error() {
    for (name, b) in all_blobs() {
        corrupt::truncations(&name, &b);
        // Extra bytes after the body (flash padding) are ignored.
        let mut padded = b.clone();
        padded.extend([0xFF; 37]);
        assert!(Model::parse(&padded).is_ok());
    }
}

#[test]
fn every_single_byte_flip_is_caught() {
    for (name, b) in all_blobs() {
        corrupt::single_flips(&name, &b);
    }
}

#[test]
fn flips_with_repaired_crc_never_panic() {
    let mut rng = Rng::new(99);
    let mut total = Outcome::default();
    for (_, b) in all_blobs() {
        let o = corrupt::flips_with_crc(&b, 2000, &mut rng);
        total.parsed += o.parsed;
        total.rejected += o.rejected;
    }
    // Both outcomes must occur, or the test is not exercising anything.
    assert!(total.parsed > 0 && total.rejected > 0, "{total:?}");
}

#[test]
fn swapped_words_never_panic() {
    let mut rng = Rng::new(5);
    let mut total = Outcome::default();
    for (_, b) in all_blobs() {
        let o = corrupt::swapped_words(&b, 2000, &mut rng);
        total.parsed += o.parsed;
        total.rejected += o.rejected;
    }
    assert!(total.rejected > 0, "{total:?}");
}

#[test]
fn absurd_directory_values_are_errors() {
    for (name, b) in all_blobs() {
        let o = corrupt::absurd_directory(&name, &b);
        assert!(o.rejected > 0, "{name}: {o:?}");
    }
}

#[test]
fn absurd_tensor_and_op_fields_never_panic() {
    for (name, b) in all_blobs() {
        let o = corrupt::absurd_records(&b);
        assert!(o.rejected > 0, "{name}: {o:?}");
    }
}
