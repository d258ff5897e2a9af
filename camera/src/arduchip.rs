//! The ArduChip: the CPLD on ArduCAM Mini boards that records one sensor frame
//! into an on-board FIFO (384 KiB on the Mini 2MP) and hands it to the MCU over SPI.
//!
//! SPI protocol (mode 0, MSB first, chip select held low for the whole exchange):
//! - write: two bytes, `address | 0x80` then the value;
//! - read: the address with bit 7 clear, then one byte clocked back;
//! - burst read: [`BURST_FIFO_READ`], then as many bytes as wanted, streamed
//!   from the FIFO read pointer while chip select stays low.
//!
//! Only the registers this driver uses are named here.

/// Set on the address byte of a register write.
pub const WRITE_FLAG: u8 = 0x80;

/// Scratch register with no side effect: whatever is written reads back. Used to
/// prove the SPI wiring before anything else happens.
pub const TEST: u8 = 0x00;

/// Frame-count control: the board captures `value + 1` frames per start.
pub const FRAMES: u8 = 0x01;

/// FIFO control: write-one-to-act bits below.
pub const FIFO_CONTROL: u8 = 0x04;
/// Clears the capture-done flag (and so arms the next capture).
pub const FIFO_CLEAR: u8 = 0x01;
/// Starts a capture at the next frame boundary.
pub const FIFO_START: u8 = 0x02;
/// Moves the FIFO read pointer back to the first byte of the frame.
pub const FIFO_READ_POINTER_RESET: u8 = 0x10;

/// Status: capture-done and other flags.
pub const STATUS: u8 = 0x41;
/// Set in [`STATUS`] once the requested frames are in the FIFO.
pub const CAPTURE_DONE: u8 = 0x08;

/// Bytes written into the FIFO, bits 7..0.
pub const FIFO_SIZE_LOW: u8 = 0x42;
/// Bytes written into the FIFO, bits 15..8.
pub const FIFO_SIZE_MID: u8 = 0x43;
/// Bytes written into the FIFO, bits 18..16 (the Mini 2MP's FIFO is 384 KiB,
/// so only the low three bits carry the length).
pub const FIFO_SIZE_HIGH: u8 = 0x44;
/// Mask for [`FIFO_SIZE_HIGH`].
pub const FIFO_SIZE_HIGH_MASK: u8 = 0x07;

/// Command byte that starts a burst read of the FIFO.
pub const BURST_FIFO_READ: u8 = 0x3C;

/// Capacity of the Mini 2MP's frame FIFO in bytes.
pub const FIFO_CAPACITY: u32 = 384 * 1024;
