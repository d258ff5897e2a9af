//! The committed `models/NAME.tflite` files are the shipped models, bit for
//! bit: imported, with tensors renumbered as the training exporter numbers
//! them, each gives exactly the committed `models/NAME.mote` bytes (same
//! ops, parameter words, weights, biases, multipliers, quantization, head
//! and memory plan), and writing that graph again gives exactly the
//! committed `.tflite` bytes. So TFLite/TFLM figures measured on the
//! `.tflite` files are figures of the models mote ships.
use std::fs;

use mote_core::{format::Head, Model};
use mote_host::{blob, tflite};
use mote_tests::repo_root;

fn check(name: &str, head: Head) {
    let dir = repo_root().join("models");
    let tfl = fs::read(dir.join(format!("{name}.tflite")))
        .unwrap_or_else(|e| panic!("models/{name}.tflite: {e}"));
    let shipped = fs::read(dir.join(format!("{name}.mote")))
        .unwrap_or_else(|e| panic!("models/{name}.mote: {e}"));

    let mut graph =
        tflite::import(&tfl).unwrap_or_else(|e| panic!("importing {name}.tflite: {e:#}"));
    assert_eq!(graph.head, head, "{name}: head kind from the metadata");
    graph.reorder_activations_first();
    let bytes = blob::export(&graph).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    assert_eq!(
        bytes.len(),
        shipped.len(),
        "{name}: blob from the .tflite has another size"
    );
    assert!(
        bytes == shipped,
        "{name}: blob from the .tflite differs from models/{name}.mote"
    );
    assert_eq!(
        Model::parse(&shipped).map(|m| m.head()).ok(),
        Some(head),
        "{name}: head kind of the blob"
    );

    let again = tflite::write(&graph).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    assert!(
        again == tfl,
        "{name}: writing the shipped graph does not give models/{name}.tflite"
    );
}

#[test]
fn segmenter_tflite_is_the_shipped_segmenter() {
    check("segmenter", Head::Segmentation);
}

#[test]
fn counter_tflite_is_the_shipped_counter() {
    check("counter", Head::Density);
}
