//! Puts the board's memory map where cortex-m-rt's `link.x` looks for it
//! (`memory.x` in a folder on the link search path).
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let source = if env::var_os("CARGO_FEATURE_BOARD_H743").is_some() {
        "memory-h743.x"
    } else {
        "memory.x"
    };
    fs::copy(source, out.join("memory.x")).expect("copy the board's memory map");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=memory-h743.x");
    println!("cargo:rerun-if-changed=build.rs");
}
