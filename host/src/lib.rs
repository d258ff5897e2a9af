//! `mote-host`: everything that runs on the developer's machine.
//!
//! The `mote` binary is a thin CLI over these modules, and the workspace tests
//! call them directly.

pub mod apply;
pub mod bench;
pub mod blob;
pub mod describe;
pub mod evaluate;
pub mod firmware;
pub mod frames;
pub mod fuse;
pub mod graph;
pub mod infer;
pub mod model_file;
pub mod npy;
pub mod plan;
pub mod quantize;
pub mod sample;
pub mod sim;
pub mod synth;
pub mod tflite;
pub mod train;
