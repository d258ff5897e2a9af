//! Puts the board's memory map where cortex-m-rt's `link.x` looks for it: a
//! file named `memory.x` in a folder on the link search path.
//!
//! The maps are `memory-sim.x` and `memory-h743.x`; neither may be called
//! `memory.x` in this folder, because the linker runs here and would find that
//! one first, whatever the board.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let source = if env::var_os("CARGO_FEATURE_BOARD_H743").is_some() {
        "memory-h743.x"
    } else {
        "memory-sim.x"
    };
    fs::copy(source, out.join("memory.x")).expect("copy the board's memory map");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-sim.x");
    println!("cargo:rerun-if-changed=memory-h743.x");
    println!("cargo:rerun-if-changed=build.rs");
}
