//! `mote-camera`: a driver for the ArduCAM Mini 2MP camera module (OV2640
//! sensor + ArduChip frame FIFO), written against the `embedded-hal` 1.0
//! traits only (`I2c`, `SpiDevice`, `DelayNs`), `no_std`, no allocation.
//!
//! The OV2640 is configured over SCCB/I2C (address 0x30) to output RGB565,
//! high byte first, at 160x120 or 320x240; the ArduChip stores one frame in
//! its FIFO and the MCU reads it over SPI in one burst into a caller-owned
//! buffer. [`frame`] unpacks those pixels to the RGB888 the preprocessing
//! takes.
//!
//! ```no_run
//! # fn demo<I: embedded_hal::i2c::I2c, S: embedded_hal::spi::SpiDevice, D: embedded_hal::delay::DelayNs>(i2c: I, spi: S, delay: D) {
//! use mote_camera::{Config, Ov2640, Resolution};
//! let mut cam = Ov2640::new(i2c, spi, delay);
//! let mut frame = [0u8; Resolution::Qqvga.frame_bytes() as usize];
//! if cam.init(Config::new(Resolution::Qqvga)).is_ok() {
//!     let _info = cam.capture(&mut frame);
//! }
//! # }
//! ```
//!
//! Tested on the host against `embedded-hal-mock` only; see the README.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod arduchip;
pub mod config;
pub mod driver;
pub mod error;
pub mod frame;
pub mod ov2640;
pub mod sequence;

pub use config::{Config, Resolution};
pub use driver::{FrameInfo, Ov2640, RESET_SETTLE_MS, SPI_TEST_PATTERNS};
pub use error::Error;
pub use sequence::{init_sequence, RegWrite};
