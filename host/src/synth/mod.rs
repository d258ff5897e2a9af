//! Deterministic synthetic data: portraits with eyeglasses and their cast
//! shadows, crowds in perspective, and fractal images for pre-training.
//!
//! Every image is a pure function of `(seed, index)`: generators draw from a
//! counter-based random stream per image and use only IEEE-exact arithmetic
//! and `libm`, so the bytes are the same on every machine and thread count.
pub mod camera;
pub mod crowds;
pub mod dataset;
pub mod density;
pub mod faces;
pub mod fractals;
pub mod glasses;
pub mod math;
pub mod preview;
pub mod raster;
pub mod rng;

/// Bumped whenever a generator's output changes for a given seed.
pub const GENERATOR_VERSION: u32 = 3;
