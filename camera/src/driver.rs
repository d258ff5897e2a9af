//! The driver proper: an OV2640 configured over I2C, its frames fetched from
//! the ArduChip FIFO over SPI.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
use embedded_hal::spi::{Operation, SpiDevice};

use crate::arduchip;
use crate::config::Config;
use crate::error::Error;
use crate::ov2640::{self, sensor, BANK_SELECT, BANK_SENSOR};
use crate::sequence::init_sequence;

/// Milliseconds to wait after the sensor's soft reset before talking to it
/// again. Generous (other drivers wait 5 to 100 ms); init runs once.
pub const RESET_SETTLE_MS: u32 = 100;

/// Patterns written to the ArduChip test register during `init`: alternating
/// bits, then their complement, so a stuck or shorted data line shows up.
pub const SPI_TEST_PATTERNS: [u8; 2] = [0x55, 0xAA];

/// What `capture` delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameInfo {
    /// Frame width in pixels.
    pub width: u16,
    /// Frame height in pixels.
    pub height: u16,
    /// Bytes written to the start of the caller's buffer: `width * height * 2`
    /// RGB565 bytes, high byte first, rows top to bottom.
    pub len: usize,
    /// Length the ArduChip reported for the FIFO (may exceed `len` by up to
    /// `Config::fifo_slack`).
    pub fifo_len: u32,
}

/// Driver error for the given bus types.
pub type DriverError<I2C, SPI> = Error<
    <I2C as embedded_hal::i2c::ErrorType>::Error,
    <SPI as embedded_hal::spi::ErrorType>::Error,
>;

/// ArduCAM Mini 2MP: OV2640 sensor on `i2c`, ArduChip frame FIFO on `spi`
/// (an `SpiDevice`, so chip select belongs to the HAL), `delay` for the reset
/// settle time and for pacing the capture-done poll.
pub struct Ov2640<I2C, SPI, D> {
    i2c: I2C,
    spi: SPI,
    delay: D,
    config: Option<Config>,
}

impl<I2C, SPI, D> Ov2640<I2C, SPI, D>
where
    I2C: I2c,
    SPI: SpiDevice,
    D: DelayNs,
{
    /// Takes the buses; talks to nothing until [`Ov2640::init`].
    pub fn new(i2c: I2C, spi: SPI, delay: D) -> Self {
        Ov2640 {
            i2c,
            spi,
            delay,
            config: None,
        }
    }

    /// Gives the buses back.
    pub fn release(self) -> (I2C, SPI, D) {
        (self.i2c, self.spi, self.delay)
    }

    /// The configuration of the last successful `init`, if any.
    pub fn config(&self) -> Option<Config> {
        self.config
    }

    /// Checks both chips and programs the sensor:
    /// 1. the ArduChip test register echoes [`SPI_TEST_PATTERNS`] (SPI works);
    /// 2. the sensor's product ID is an OV2640's (I2C works, right part);
    /// 3. soft reset, [`RESET_SETTLE_MS`] wait, then [`init_sequence`];
    /// 4. the ArduChip is set to one frame per capture and its flag cleared.
    ///
    /// On any error the driver stays uninitialised and `capture` refuses.
    pub fn init(&mut self, config: Config) -> Result<(), DriverError<I2C, SPI>> {
        self.config = None;

        for pattern in SPI_TEST_PATTERNS {
            self.arduchip_write(arduchip::TEST, pattern)?;
            let read = self.arduchip_read(arduchip::TEST)?;
            if read != pattern {
                return Err(Error::SpiEcho {
                    wrote: pattern,
                    read,
                });
            }
        }

        let (pidh, pidl) = self.sensor_id()?;
        if pidh != sensor::PIDH_OV2640 || !sensor::PIDL_OV2640.contains(&pidl) {
            return Err(Error::WrongSensorId { pidh, pidl });
        }

        // sensor_id() left the sensor bank selected.
        self.sensor_write(sensor::COM7, sensor::COM7_SOFT_RESET)?;
        self.delay.delay_ms(RESET_SETTLE_MS);
        for rw in init_sequence(config.resolution) {
            self.sensor_write(rw.register, rw.value)?;
        }

        // One frame per capture (the register holds frames - 1).
        self.arduchip_write(arduchip::FRAMES, 0)?;
        self.arduchip_write(arduchip::FIFO_CONTROL, arduchip::FIFO_CLEAR)?;

        self.config = Some(config);
        Ok(())
    }

    /// Reads the sensor's product ID `(PIDH, PIDL)`; selects the sensor bank.
    pub fn sensor_id(&mut self) -> Result<(u8, u8), DriverError<I2C, SPI>> {
        self.sensor_write(BANK_SELECT, BANK_SENSOR)?;
        let pidh = self.sensor_read(sensor::PIDH)?;
        let pidl = self.sensor_read(sensor::PIDL)?;
        Ok((pidh, pidl))
    }

    /// Captures one frame into the start of `frame`:
    /// clear the done flag, start, poll the flag (at most `max_polls` times,
    /// `poll_interval_us` apart), check the FIFO length against the frame
    /// size, rewind the read pointer, burst-read, clear the flag.
    ///
    /// Nothing touches the buses if `frame` is too small.
    pub fn capture(&mut self, frame: &mut [u8]) -> Result<FrameInfo, DriverError<I2C, SPI>> {
        let config = self.config.ok_or(Error::NotInitialized)?;
        let expected = config.resolution.frame_bytes();
        let needed = expected as usize;
        let got = frame.len();
        let dst = frame
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed, got })?;

        self.arduchip_write(arduchip::FIFO_CONTROL, arduchip::FIFO_CLEAR)?;
        self.arduchip_write(arduchip::FIFO_CONTROL, arduchip::FIFO_START)?;
        self.wait_capture_done(&config)?;

        let fifo_len = self.fifo_length()?;
        if fifo_len < expected {
            return Err(Error::ShortFrame {
                expected,
                got: fifo_len,
            });
        }
        if fifo_len > expected.saturating_add(config.fifo_slack) {
            return Err(Error::OversizedFrame {
                expected,
                got: fifo_len,
            });
        }

        self.arduchip_write(arduchip::FIFO_CONTROL, arduchip::FIFO_READ_POINTER_RESET)?;
        let command = [arduchip::BURST_FIFO_READ];
        let mut dummy = [0u8; 1];
        let result = if config.burst_dummy_byte {
            self.spi.transaction(&mut [
                Operation::Write(&command),
                Operation::Read(&mut dummy),
                Operation::Read(dst),
            ])
        } else {
            self.spi
                .transaction(&mut [Operation::Write(&command), Operation::Read(dst)])
        };
        result.map_err(Error::Spi)?;
        self.arduchip_write(arduchip::FIFO_CONTROL, arduchip::FIFO_CLEAR)?;

        Ok(FrameInfo {
            width: config.resolution.width(),
            height: config.resolution.height(),
            len: needed,
            fifo_len,
        })
    }

    /// Bytes the ArduChip says it wrote into the FIFO (19 bits on the 2MP).
    pub fn fifo_length(&mut self) -> Result<u32, DriverError<I2C, SPI>> {
        let low = self.arduchip_read(arduchip::FIFO_SIZE_LOW)?;
        let mid = self.arduchip_read(arduchip::FIFO_SIZE_MID)?;
        let high = self.arduchip_read(arduchip::FIFO_SIZE_HIGH)? & arduchip::FIFO_SIZE_HIGH_MASK;
        Ok(u32::from_le_bytes([low, mid, high, 0]))
    }

    fn wait_capture_done(&mut self, config: &Config) -> Result<(), DriverError<I2C, SPI>> {
        for _ in 0..config.max_polls {
            self.delay.delay_us(config.poll_interval_us);
            if self.arduchip_read(arduchip::STATUS)? & arduchip::CAPTURE_DONE != 0 {
                return Ok(());
            }
        }
        Err(Error::Timeout)
    }

    fn arduchip_write(&mut self, register: u8, value: u8) -> Result<(), DriverError<I2C, SPI>> {
        self.spi
            .write(&[register | arduchip::WRITE_FLAG, value])
            .map_err(Error::Spi)
    }

    fn arduchip_read(&mut self, register: u8) -> Result<u8, DriverError<I2C, SPI>> {
        let mut value = [0u8; 1];
        self.spi
            .transaction(&mut [
                Operation::Write(&[register & !arduchip::WRITE_FLAG]),
                Operation::Read(&mut value),
            ])
            .map_err(Error::Spi)?;
        Ok(value[0])
    }

    fn sensor_write(&mut self, register: u8, value: u8) -> Result<(), DriverError<I2C, SPI>> {
        self.i2c
            .write(ov2640::I2C_ADDRESS, &[register, value])
            .map_err(Error::I2c)
    }

    /// SCCB has no repeated start: the register address goes out in its own
    /// write transaction (ending in a stop), then a separate read fetches the value.
    fn sensor_read(&mut self, register: u8) -> Result<u8, DriverError<I2C, SPI>> {
        let mut value = [0u8; 1];
        self.i2c
            .write(ov2640::I2C_ADDRESS, &[register])
            .map_err(Error::I2c)?;
        self.i2c
            .read(ov2640::I2C_ADDRESS, &mut value)
            .map_err(Error::I2c)?;
        Ok(value[0])
    }
}
