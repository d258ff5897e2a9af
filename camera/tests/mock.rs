//! The driver against `embedded-hal-mock`: every I2C, SPI and delay call is
//! checked, in order, against an expectation list; a missing, extra or
//! different call fails the test (the mocks panic, and `done()` checks that
//! nothing expected was left over).

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as DelayT};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2cT};
use embedded_hal_mock::eh1::spi::{Mock as SpiMock, Transaction as SpiT};
use mote_camera::frame::rgb565_be_to_rgb888;
use mote_camera::{init_sequence, Config, Error, FrameInfo, Ov2640, Resolution};

/// OV2640 SCCB address.
const SENSOR: u8 = 0x30;

type Cam = Ov2640<I2cMock, SpiMock<u8>, CheckedDelay>;

/// What the three buses should see, in order.
#[derive(Default)]
struct Script {
    i2c: Vec<I2cT>,
    spi: Vec<SpiT<u8>>,
    delay: Vec<DelayT>,
}

impl Script {
    fn sensor_write(&mut self, reg: u8, val: u8) -> &mut Self {
        self.i2c.push(I2cT::write(SENSOR, vec![reg, val]));
        self
    }
    fn sensor_read(&mut self, reg: u8, val: u8) -> &mut Self {
        self.i2c.push(I2cT::write(SENSOR, vec![reg]));
        self.i2c.push(I2cT::read(SENSOR, vec![val]));
        self
    }
    /// ArduChip register write: address with bit 7 set, then the value.
    fn chip_write(&mut self, reg: u8, val: u8) -> &mut Self {
        self.spi.extend([
            SpiT::transaction_start(),
            SpiT::write_vec(vec![reg | 0x80, val]),
            SpiT::transaction_end(),
        ]);
        self
    }
    /// ArduChip register read: address, then one byte back.
    fn chip_read(&mut self, reg: u8, val: u8) -> &mut Self {
        self.spi.extend([
            SpiT::transaction_start(),
            SpiT::write_vec(vec![reg]),
            SpiT::read_vec(vec![val]),
            SpiT::transaction_end(),
        ]);
        self
    }
    fn delay_us(&mut self, us: u32) -> &mut Self {
        self.delay.push(DelayT::delay_us(us));
        self
    }
    fn delay_ms(&mut self, ms: u32) -> &mut Self {
        self.delay.push(DelayT::delay_ms(ms));
        self
    }

    /// A successful `init`: SPI echo test, ID check, soft reset, the table,
    /// ArduChip setup.
    fn init(&mut self, resolution: Resolution, pidl: u8) -> &mut Self {
        self.chip_write(0x00, 0x55)
            .chip_read(0x00, 0x55)
            .chip_write(0x00, 0xAA)
            .chip_read(0x00, 0xAA);
        self.sensor_write(0xFF, 0x01)
            .sensor_read(0x0A, 0x26)
            .sensor_read(0x0B, pidl);
        self.sensor_write(0x12, 0x80).delay_ms(100);
        for rw in init_sequence(resolution) {
            self.sensor_write(rw.register, rw.value);
        }
        self.chip_write(0x01, 0x00).chip_write(0x04, 0x01)
    }

    /// Capture start and `polls - 1` not-done answers then a done one.
    fn start_and_poll(&mut self, polls: u32, interval_us: u32) -> &mut Self {
        self.chip_write(0x04, 0x01).chip_write(0x04, 0x02);
        for i in 0..polls {
            // Other status bits set while not done: only bit 3 counts.
            let status = if i + 1 == polls { 0x08 } else { 0x03 };
            self.delay_us(interval_us).chip_read(0x41, status);
        }
        self
    }

    fn fifo_len(&mut self, len: u32, high_junk: u8) -> &mut Self {
        self.chip_read(0x42, (len & 0xFF) as u8)
            .chip_read(0x43, ((len >> 8) & 0xFF) as u8)
            .chip_read(0x44, ((len >> 16) & 0x07) as u8 | high_junk)
    }

    fn burst(&mut self, dummy: Option<u8>, data: Vec<u8>) -> &mut Self {
        self.chip_write(0x04, 0x10);
        self.spi
            .extend([SpiT::transaction_start(), SpiT::write_vec(vec![0x3C])]);
        if let Some(d) = dummy {
            self.spi.push(SpiT::read_vec(vec![d]));
        }
        self.spi
            .extend([SpiT::read_vec(data), SpiT::transaction_end()]);
        self.chip_write(0x04, 0x01)
    }

    fn camera(&self) -> Cam {
        Ov2640::new(
            I2cMock::new(&self.i2c),
            SpiMock::new(&self.spi),
            CheckedDelay::new(&self.delay),
        )
    }
}

/// Checks that every expected call happened.
fn finish(cam: Cam) {
    let (mut i2c, mut spi, mut delay) = cam.release();
    i2c.done();
    spi.done();
    delay.done();
}

/// A frame whose bytes all differ from their neighbours' positions.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 8)) as u8)
        .collect()
}

const QQVGA_BYTES: usize = 160 * 120 * 2;

#[test]
fn init_table_matches_the_documented_listing() {
    // Written out by hand from the register descriptions in src/ov2640.rs.
    let expected: [(u8, u8); 25] = [
        (0xFF, 0x01), // sensor bank
        (0x12, 0x00), // COM7: UXGA readout
        (0x13, 0xE5), // COM8: banding filter, auto gain, auto exposure
        (0x15, 0x00), // COM10: default polarities
        (0xFF, 0x00), // DSP bank
        (0xE0, 0x04), // RESET: hold DVP
        (0x05, 0x00), // R_BYPASS: use DSP
        (0x8C, 0x00), // SIZEL
        (0xC0, 0xC8), // HSIZE8 = 1600 / 8
        (0xC1, 0x96), // VSIZE8 = 1200 / 8
        (0x86, 0x3D), // CTRL2
        (0xC2, 0x0E), // CTRL0
        (0x51, 0x90), // HSIZE = 400 & 0xFF
        (0x52, 0x2C), // VSIZE = 300 & 0xFF
        (0x53, 0x00), // XOFFL
        (0x54, 0x00), // YOFFL
        (0x55, 0x88), // VHYX: bit 8 of 300 and of 400
        (0x57, 0x00), // TEST
        (0x50, 0x9B), // CTRLI: LP_DP, divider code 3 / 3
        (0x5A, 0x28), // ZMOW = 160 / 4
        (0x5B, 0x1E), // ZMOH = 120 / 4
        (0x5C, 0x00), // ZMHH
        (0xD3, 0x04), // R_DVP_SP: PCLK divider 4
        (0xDA, 0x08), // IMAGE_MODE: RGB565, high byte first
        (0xE0, 0x00), // RESET: release
    ];
    let table: Vec<(u8, u8)> = init_sequence(Resolution::Qqvga)
        .iter()
        .map(|rw| (rw.register, rw.value))
        .collect();
    assert_eq!(table, expected);
}

#[test]
fn init_runs_the_exact_transaction_sequence() {
    let config = Config::new(Resolution::Qqvga);
    let mut cam = Script::default().init(Resolution::Qqvga, 0x42).camera();
    assert_eq!(cam.config(), None);
    assert_eq!(cam.init(config), Ok(()));
    assert_eq!(cam.config(), Some(config));
    finish(cam);
}

#[test]
fn init_accepts_the_earlier_sensor_revision() {
    let mut cam = Script::default().init(Resolution::Qvga, 0x41).camera();
    assert_eq!(cam.init(Config::new(Resolution::Qvga)), Ok(()));
    finish(cam);
}

#[test]
fn init_rejects_another_sensor_before_writing_to_it() {
    let mut s = Script::default();
    s.chip_write(0x00, 0x55)
        .chip_read(0x00, 0x55)
        .chip_write(0x00, 0xAA)
        .chip_read(0x00, 0xAA);
    // An OV7725 answers 0x77 0x21: no reset, no table must follow.
    s.sensor_write(0xFF, 0x01)
        .sensor_read(0x0A, 0x77)
        .sensor_read(0x0B, 0x21);
    let mut cam = s.camera();
    assert_eq!(
        cam.init(Config::default()),
        Err(Error::WrongSensorId {
            pidh: 0x77,
            pidl: 0x21
        })
    );
    let mut frame = vec![0; QQVGA_BYTES];
    assert_eq!(cam.capture(&mut frame), Err(Error::NotInitialized));
    finish(cam);
}

#[test]
fn init_reports_spi_echo_mismatch_before_touching_i2c() {
    let mut s = Script::default();
    s.chip_write(0x00, 0x55).chip_read(0x00, 0x55);
    s.chip_write(0x00, 0xAA).chip_read(0x00, 0xA8); // a stuck data line
    let mut cam = s.camera();
    assert_eq!(
        cam.init(Config::default()),
        Err(Error::SpiEcho {
            wrote: 0xAA,
            read: 0xA8
        })
    );
    finish(cam);
}

#[test]
fn i2c_nack_on_first_contact_is_an_i2c_error() {
    let nack = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address);
    let mut s = Script::default();
    s.chip_write(0x00, 0x55)
        .chip_read(0x00, 0x55)
        .chip_write(0x00, 0xAA)
        .chip_read(0x00, 0xAA);
    s.i2c
        .push(I2cT::write(SENSOR, vec![0xFF, 0x01]).with_error(nack));
    let mut cam = s.camera();
    assert_eq!(cam.init(Config::default()), Err(Error::I2c(nack)));
    assert_eq!(cam.config(), None);
    finish(cam);
}

#[test]
fn i2c_nack_in_the_middle_of_the_table_stops_init() {
    let nack = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data);
    let table = init_sequence(Resolution::Qqvga);
    let mut s = Script::default();
    s.chip_write(0x00, 0x55)
        .chip_read(0x00, 0x55)
        .chip_write(0x00, 0xAA)
        .chip_read(0x00, 0xAA);
    s.sensor_write(0xFF, 0x01)
        .sensor_read(0x0A, 0x26)
        .sensor_read(0x0B, 0x42);
    s.sensor_write(0x12, 0x80).delay_ms(100);
    for rw in &table[..10] {
        s.sensor_write(rw.register, rw.value);
    }
    s.i2c
        .push(I2cT::write(SENSOR, vec![table[10].register, table[10].value]).with_error(nack));
    // Nothing after the failing write: no further I2C, no ArduChip setup.
    let mut cam = s.camera();
    assert_eq!(cam.init(Config::default()), Err(Error::I2c(nack)));
    assert_eq!(cam.config(), None);
    let mut frame = vec![0; QQVGA_BYTES];
    assert_eq!(cam.capture(&mut frame), Err(Error::NotInitialized));
    finish(cam);
}

#[test]
fn capture_reads_a_full_qqvga_frame() {
    let data = pattern(QQVGA_BYTES);
    let mut s = Script::default();
    s.init(Resolution::Qqvga, 0x42)
        .start_and_poll(3, 1_000)
        // 38 400 = 0x009600; junk in the high register's upper bits is masked.
        .fifo_len(QQVGA_BYTES as u32, 0xF8)
        .burst(None, data.clone());
    let mut cam = s.camera();
    cam.init(Config::new(Resolution::Qqvga)).unwrap();

    let mut frame = vec![0xEE; QQVGA_BYTES + 16];
    let info = cam.capture(&mut frame).unwrap();
    assert_eq!(
        info,
        FrameInfo {
            width: 160,
            height: 120,
            len: QQVGA_BYTES,
            fifo_len: QQVGA_BYTES as u32
        }
    );
    assert_eq!(&frame[..QQVGA_BYTES], &data[..]);
    assert!(frame[QQVGA_BYTES..].iter().all(|&b| b == 0xEE));
    finish(cam);

    // And the frame unpacks to RGB888, pixel by pixel.
    let mut rgb = vec![0; 160 * 120 * 3];
    assert_eq!(
        rgb565_be_to_rgb888(&frame[..info.len], &mut rgb),
        Ok(160 * 120)
    );
    let p = u16::from_be_bytes([data[2], data[3]]);
    let r5 = (p >> 11) as u8;
    assert_eq!(rgb[3], (r5 << 3) | (r5 >> 2));
}

#[test]
fn capture_reads_a_qvga_frame_whose_length_needs_the_high_register() {
    let bytes = 320 * 240 * 2; // 153 600 = 0x025800
    let data = pattern(bytes);
    let mut s = Script::default();
    s.init(Resolution::Qvga, 0x42)
        .start_and_poll(1, 1_000)
        .fifo_len(bytes as u32, 0)
        .burst(None, data.clone());
    let mut cam = s.camera();
    cam.init(Config::new(Resolution::Qvga)).unwrap();
    let mut frame = vec![0; bytes];
    let info = cam.capture(&mut frame).unwrap();
    assert_eq!((info.width, info.height, info.len), (320, 240, bytes));
    assert_eq!(frame, data);
    finish(cam);
}

#[test]
fn capture_times_out_after_exactly_max_polls() {
    let mut config = Config::new(Resolution::Qqvga);
    config.max_polls = 5;
    config.poll_interval_us = 250;
    let mut s = Script::default();
    s.init(Resolution::Qqvga, 0x42)
        .chip_write(0x04, 0x01)
        .chip_write(0x04, 0x02);
    for _ in 0..5 {
        // Never done (other flags may be set).
        s.delay_us(250).chip_read(0x41, 0x03);
    }
    let mut cam = s.camera();
    cam.init(config).unwrap();
    let mut frame = vec![0; QQVGA_BYTES];
    assert_eq!(cam.capture(&mut frame), Err(Error::Timeout));
    // A sixth poll would have hit the SPI mock with no expectation left; fewer
    // would leave expectations unmet here.
    finish(cam);
}

#[test]
fn short_fifo_length_is_a_short_frame_and_nothing_is_read() {
    let mut s = Script::default();
    s.init(Resolution::Qqvga, 0x42)
        .start_and_poll(2, 1_000)
        .fifo_len(QQVGA_BYTES as u32 - 1, 0);
    let mut cam = s.camera();
    cam.init(Config::default()).unwrap();
    let mut frame = vec![0x11; QQVGA_BYTES];
    assert_eq!(
        cam.capture(&mut frame),
        Err(Error::ShortFrame {
            expected: QQVGA_BYTES as u32,
            got: QQVGA_BYTES as u32 - 1
        })
    );
    assert!(frame.iter().all(|&b| b == 0x11));
    finish(cam);
}

#[test]
fn empty_fifo_is_a_short_frame() {
    let mut s = Script::default();
    s.init(Resolution::Qqvga, 0x42)
        .start_and_poll(1, 1_000)
        .fifo_len(0, 0);
    let mut cam = s.camera();
    cam.init(Config::default()).unwrap();
    let mut frame = vec![0; QQVGA_BYTES];
    assert_eq!(
        cam.capture(&mut frame),
        Err(Error::ShortFrame {
            expected: QQVGA_BYTES as u32,
            got: 0
        })
    );
    finish(cam);
}

#[test]
fn fifo_slack_accepts_trailing_bytes_and_reads_only_the_frame() {
    let data = pattern(QQVGA_BYTES);
    let mut s = Script::default();
    s.init(Resolution::Qqvga, 0x42)
        .start_and_poll(1, 1_000)
        .fifo_len(QQVGA_BYTES as u32 + 8, 0)
        .burst(None, data.clone());
    let mut cam = s.camera();
    cam.init(Config::default()).unwrap();
    let mut frame = vec![0; QQVGA_BYTES];
    let info = cam.capture(&mut frame).unwrap();
    assert_eq!(info.len, QQVGA_BYTES);
    assert_eq!(info.fifo_len, QQVGA_BYTES as u32 + 8);
    assert_eq!(frame, data);
    finish(cam);
}

#[test]
fn fifo_longer_than_frame_plus_slack_is_rejected() {
    let mut s = Script::default();
    s.init(Resolution::Qqvga, 0x42)
        .start_and_poll(1, 1_000)
        .fifo_len(QQVGA_BYTES as u32 + 9, 0);
    let mut cam = s.camera();
    cam.init(Config::default()).unwrap();
    let mut frame = vec![0; QQVGA_BYTES];
    assert_eq!(
        cam.capture(&mut frame),
        Err(Error::OversizedFrame {
            expected: QQVGA_BYTES as u32,
            got: QQVGA_BYTES as u32 + 9
        })
    );
    finish(cam);
}

#[test]
fn strict_length_rejects_a_single_extra_byte() {
    let config = Config {
        fifo_slack: 0,
        ..Config::default()
    };
    let mut s = Script::default();
    s.init(Resolution::Qqvga, 0x42)
        .start_and_poll(1, 1_000)
        .fifo_len(QQVGA_BYTES as u32 + 1, 0);
    let mut cam = s.camera();
    cam.init(config).unwrap();
    let mut frame = vec![0; QQVGA_BYTES];
    assert!(matches!(
        cam.capture(&mut frame),
        Err(Error::OversizedFrame { .. })
    ));
    finish(cam);
}

#[test]
fn buffer_too_small_is_refused_without_bus_traffic() {
    let mut cam = Script::default().init(Resolution::Qqvga, 0x42).camera();
    cam.init(Config::default()).unwrap();
    let mut frame = vec![0; QQVGA_BYTES - 1];
    assert_eq!(
        cam.capture(&mut frame),
        Err(Error::BufferTooSmall {
            needed: QQVGA_BYTES,
            got: QQVGA_BYTES - 1
        })
    );
    finish(cam);
}

#[test]
fn capture_before_init_is_refused_without_bus_traffic() {
    let mut cam = Script::default().camera();
    let mut frame = vec![0; QQVGA_BYTES];
    assert_eq!(cam.capture(&mut frame), Err(Error::NotInitialized));
    finish(cam);
}

#[test]
fn dummy_byte_mode_drops_the_first_burst_byte() {
    let data = pattern(QQVGA_BYTES);
    let config = Config {
        burst_dummy_byte: true,
        ..Config::default()
    };
    let mut s = Script::default();
    s.init(Resolution::Qqvga, 0x42)
        .start_and_poll(1, 1_000)
        .fifo_len(QQVGA_BYTES as u32, 0)
        .burst(Some(0x5A), data.clone());
    let mut cam = s.camera();
    cam.init(config).unwrap();
    let mut frame = vec![0; QQVGA_BYTES];
    cam.capture(&mut frame).unwrap();
    assert_eq!(frame, data);
    finish(cam);
}

#[test]
fn two_captures_in_a_row() {
    let first = pattern(QQVGA_BYTES);
    let second: Vec<u8> = first.iter().map(|b| !b).collect();
    let mut s = Script::default();
    s.init(Resolution::Qqvga, 0x42)
        .start_and_poll(2, 1_000)
        .fifo_len(QQVGA_BYTES as u32, 0)
        .burst(None, first.clone())
        .start_and_poll(4, 1_000)
        .fifo_len(QQVGA_BYTES as u32, 0)
        .burst(None, second.clone());
    let mut cam = s.camera();
    cam.init(Config::default()).unwrap();
    let mut frame = vec![0; QQVGA_BYTES];
    cam.capture(&mut frame).unwrap();
    assert_eq!(frame, first);
    cam.capture(&mut frame).unwrap();
    assert_eq!(frame, second);
    finish(cam);
}

/// An SPI device whose every transaction fails, to check the error mapping
/// (the SPI mock cannot inject errors).
struct DeadSpi;

impl embedded_hal::spi::ErrorType for DeadSpi {
    type Error = embedded_hal::spi::ErrorKind;
}

impl embedded_hal::spi::SpiDevice for DeadSpi {
    fn transaction(
        &mut self,
        _operations: &mut [embedded_hal::spi::Operation<'_, u8>],
    ) -> Result<(), Self::Error> {
        Err(embedded_hal::spi::ErrorKind::ModeFault)
    }
}

#[test]
fn spi_failure_is_an_spi_error_and_i2c_is_never_touched() {
    let mut i2c = I2cMock::new(&[]);
    let mut delay = CheckedDelay::new(&[]);
    let mut cam = Ov2640::new(i2c.clone(), DeadSpi, delay.clone());
    assert_eq!(
        cam.init(Config::default()),
        Err(Error::Spi(embedded_hal::spi::ErrorKind::ModeFault))
    );
    drop(cam);
    i2c.done();
    delay.done();
}
