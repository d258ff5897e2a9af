//! embedded-hal 1.0 buses on top of stm32h7xx-hal 0.16, which implements only
//! embedded-hal 0.2. The camera driver is written against 1.0; these three
//! small adapters are all that stands between the two.
use embedded_hal::{delay::DelayNs, i2c, spi};
use embedded_hal_02::blocking::{
    i2c::{Read as I2cRead, Write as I2cWrite, WriteRead},
    spi::{Transfer, Write as SpiWrite},
};
use embedded_hal_02::digital::v2::OutputPin;

/// A bus error. The HAL's own errors carry no more than "it failed" for our
/// purposes (NACK, arbitration, overrun), so they map onto `Other` / `NoAcknowledge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum BusError {
    /// The I2C target did not acknowledge.
    Nack,
    /// Any other failure the HAL reported.
    Other,
}

impl i2c::Error for BusError {
    fn kind(&self) -> i2c::ErrorKind {
        match self {
            BusError::Nack => i2c::ErrorKind::NoAcknowledge(i2c::NoAcknowledgeSource::Unknown),
            BusError::Other => i2c::ErrorKind::Other,
        }
    }
}

impl spi::Error for BusError {
    fn kind(&self) -> spi::ErrorKind {
        spi::ErrorKind::Other
    }
}

/// An I2C bus: a HAL I2C peripheral behind the 1.0 `I2c` trait.
pub struct I2cBus<B>(pub B);

impl<B> i2c::ErrorType for I2cBus<B> {
    type Error = BusError;
}

impl<B, E> i2c::I2c for I2cBus<B>
where
    B: I2cWrite<Error = E> + I2cRead<Error = E> + WriteRead<Error = E>,
    E: Into<BusError>,
{
    /// The camera driver only issues write, read and write-then-read
    /// transactions; those map onto the HAL's calls with a repeated start.
    /// Longer sequences go one operation at a time (a stop between each),
    /// which SCCB tolerates.
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [i2c::Operation<'_>],
    ) -> Result<(), BusError> {
        match operations {
            [i2c::Operation::Write(w), i2c::Operation::Read(r)] => {
                self.0.write_read(address, w, r).map_err(Into::into)
            }
            ops => {
                for op in ops.iter_mut() {
                    match op {
                        i2c::Operation::Write(w) => self.0.write(address, w),
                        i2c::Operation::Read(r) => self.0.read(address, r),
                    }
                    .map_err(Into::into)?;
                }
                Ok(())
            }
        }
    }
}

impl From<stm32h7xx_hal::i2c::Error> for BusError {
    fn from(e: stm32h7xx_hal::i2c::Error) -> Self {
        match e {
            stm32h7xx_hal::i2c::Error::NotAcknowledge => BusError::Nack,
            _ => BusError::Other,
        }
    }
}

impl From<stm32h7xx_hal::spi::Error> for BusError {
    fn from(_: stm32h7xx_hal::spi::Error) -> Self {
        BusError::Other
    }
}

/// An SPI device: a HAL SPI bus (mode and clock set by the HAL) plus a GPIO
/// chip select, held low for the whole transaction as `SpiDevice` requires.
pub struct SpiDev<B, CS, D> {
    pub bus: B,
    pub cs: CS,
    pub delay: D,
}

impl<B, CS, D> spi::ErrorType for SpiDev<B, CS, D> {
    type Error = BusError;
}

impl<B, CS, D, E> spi::SpiDevice for SpiDev<B, CS, D>
where
    B: Transfer<u8, Error = E> + SpiWrite<u8, Error = E>,
    CS: OutputPin,
    D: DelayNs,
    E: Into<BusError>,
{
    fn transaction(&mut self, operations: &mut [spi::Operation<'_, u8>]) -> Result<(), BusError> {
        self.cs.set_low().map_err(|_| BusError::Other)?;
        let result = operations.iter_mut().try_for_each(|op| self.one(op));
        // Release the device even when the transfer failed.
        let released = self.cs.set_high().map_err(|_| BusError::Other);
        result.and(released)
    }
}

impl<B, CS, D, E> SpiDev<B, CS, D>
where
    B: Transfer<u8, Error = E> + SpiWrite<u8, Error = E>,
    D: DelayNs,
    E: Into<BusError>,
{
    fn one(&mut self, op: &mut spi::Operation<'_, u8>) -> Result<(), BusError> {
        match op {
            spi::Operation::Write(w) => self.bus.write(w).map_err(Into::into),
            spi::Operation::TransferInPlace(buf) => {
                self.bus.transfer(buf).map(|_| ()).map_err(Into::into)
            }
            // Read: clock out zeros in place. Transfer: copy, then exchange in place.
            spi::Operation::Read(buf) => {
                buf.fill(0);
                self.bus.transfer(buf).map(|_| ()).map_err(Into::into)
            }
            spi::Operation::Transfer(read, write) => {
                for (k, r) in read.iter_mut().enumerate() {
                    *r = write.get(k).copied().unwrap_or(0);
                }
                self.bus.transfer(read).map(|_| ()).map_err(Into::into)?;
                // Bytes to write beyond the read buffer still go out.
                match write.get(read.len()..) {
                    Some(rest) if !rest.is_empty() => self.bus.write(rest).map_err(Into::into),
                    _ => Ok(()),
                }
            }
            spi::Operation::DelayNs(ns) => {
                self.delay.delay_ns(*ns);
                Ok(())
            }
        }
    }
}

/// Busy-wait delays counted in core clock cycles.
#[derive(Clone, Copy)]
pub struct CycleDelay {
    pub core_hz: u32,
}

impl DelayNs for CycleDelay {
    fn delay_ns(&mut self, ns: u32) {
        let cycles = u64::from(ns) * u64::from(self.core_hz) / 1_000_000_000;
        // `asm::delay` takes at least the given number of cycles; split long waits.
        let mut left = cycles;
        while left > 0 {
            let chunk = left.min(u64::from(u32::MAX)) as u32;
            cortex_m::asm::delay(chunk);
            left -= u64::from(chunk);
        }
    }
}
