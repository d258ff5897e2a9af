//! Everything that can go wrong talking to the camera, as values.

/// A driver error. `I2cE` and `SpiE` are the bus implementations' own errors,
/// passed through untouched so the firmware can log what the HAL saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<I2cE, SpiE> {
    /// The SCCB/I2C bus failed (for example the sensor did not acknowledge).
    I2c(I2cE),
    /// The SPI bus failed.
    Spi(SpiE),
    /// The ArduChip's test register did not echo what was written: SPI wiring,
    /// chip select, mode or clock is wrong.
    SpiEcho {
        /// Pattern written.
        wrote: u8,
        /// Value read back.
        read: u8,
    },
    /// The sensor on the I2C bus is not an OV2640.
    WrongSensorId {
        /// Product ID high byte read (0x26 expected).
        pidh: u8,
        /// Product ID low byte read (0x42 or 0x41 expected).
        pidl: u8,
    },
    /// `capture` was called before a successful `init`.
    NotInitialized,
    /// The capture-done flag was not set after the configured number of polls.
    Timeout,
    /// The FIFO holds fewer bytes than one frame.
    ShortFrame {
        /// Bytes one frame needs.
        expected: u32,
        /// Bytes the FIFO reported.
        got: u32,
    },
    /// The FIFO holds more bytes than one frame plus the allowed slack: the
    /// sensor's output size is not what the driver programmed.
    OversizedFrame {
        /// Bytes one frame needs.
        expected: u32,
        /// Bytes the FIFO reported.
        got: u32,
    },
    /// The caller's frame buffer cannot hold one frame.
    BufferTooSmall {
        /// Bytes one frame needs.
        needed: usize,
        /// Length of the buffer given.
        got: usize,
    },
}
