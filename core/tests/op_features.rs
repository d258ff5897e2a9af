//! The `op-*` features decide which kernels a build links. These tests run
//! in any feature set (`scripts/test.sh` runs them with the shipped models'
//! ops only, and with a single op): a model parses exactly when every op it
//! uses is compiled in, and otherwise fails with a typed error naming the op.
use mote_core::error::{Error, OpError};
use mote_core::Model;

/// A blob copied to 16-byte-aligned storage, as flash placement gives it.
#[repr(C, align(16))]
struct Aligned<const N: usize>([u8; N]);

static SEGMENTER: &Aligned<{ include_bytes!("../../models/segmenter.mote").len() }> =
    &Aligned(*include_bytes!("../../models/segmenter.mote"));
static COUNTER: &Aligned<{ include_bytes!("../../models/counter.mote").len() }> =
    &Aligned(*include_bytes!("../../models/counter.mote"));

/// Whether this build has the kernels both shipped models need.
fn shipped_ops() -> bool {
    cfg!(all(
        feature = "op-conv2d",
        feature = "op-conv2d-fused",
        feature = "op-depthwise-conv2d",
        feature = "op-add",
        feature = "op-resize-nearest",
        feature = "op-resize-bilinear",
    ))
}

#[test]
fn shipped_models_parse_exactly_when_their_ops_are_compiled_in() {
    let shipped = shipped_ops();
    for (name, blob) in [("segmenter", &SEGMENTER.0[..]), ("counter", &COUNTER.0[..])] {
        match Model::parse(blob) {
            Ok(_) => assert!(shipped, "{name} parsed without all of its ops"),
            Err(Error::Op {
                error: OpError::Unsupported,
                ..
            }) => assert!(!shipped, "{name}: an op reported missing"),
            Err(e) => panic!("{name}: unexpected error {e:?}"),
        }
    }
}
