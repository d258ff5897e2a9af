//! OV2640 register map: the subset this driver writes, with the meaning of
//! each field. The sensor answers SCCB (I2C-compatible) at 7-bit address
//! [`I2C_ADDRESS`], with 8-bit register addresses and 8-bit values, in two
//! banks chosen by [`BANK_SELECT`].

/// 7-bit SCCB address (0x60 for writes / 0x61 for reads on the 8-bit bus).
pub const I2C_ADDRESS: u8 = 0x30;

/// Register bank select, present in both banks.
pub const BANK_SELECT: u8 = 0xFF;
/// [`BANK_SELECT`] value for the DSP bank (image pipeline, output format).
pub const BANK_DSP: u8 = 0x00;
/// [`BANK_SELECT`] value for the sensor bank (array readout, exposure, ID).
pub const BANK_SENSOR: u8 = 0x01;

/// Sensor-bank registers (valid while `BANK_SELECT == BANK_SENSOR`).
pub mod sensor {
    /// Product ID, most significant byte.
    pub const PIDH: u8 = 0x0A;
    /// Product ID, least significant byte (the silicon revision).
    pub const PIDL: u8 = 0x0B;
    /// The OV2640's [`PIDH`].
    pub const PIDH_OV2640: u8 = 0x26;
    /// [`PIDL`] values OV2640 revisions report; 0x42 is the common one, 0x41
    /// an earlier revision that other drivers also accept.
    pub const PIDL_OV2640: [u8; 2] = [0x42, 0x41];

    /// COM7: reset, array readout mode, zoom, colour bars.
    pub const COM7: u8 = 0x12;
    /// COM7 bit 7: system reset; every register returns to its default.
    pub const COM7_SOFT_RESET: u8 = 0x80;
    /// COM7 bits 6..4 = 000: full UXGA (1600x1200) readout, no zoom, no test
    /// pattern.
    pub const COM7_UXGA: u8 = 0x00;

    /// COM8: automatic gain / exposure / banding filter.
    pub const COM8: u8 = 0x13;
    /// COM8 bits 7..6: reserved, read as set.
    pub const COM8_RESERVED: u8 = 0xC0;
    /// COM8 bit 5: banding filter on (exposure in steps of the mains flicker).
    pub const COM8_BANDING_FILTER: u8 = 0x20;
    /// COM8 bit 2: automatic gain control.
    pub const COM8_AUTO_GAIN: u8 = 0x04;
    /// COM8 bit 0: automatic exposure control.
    pub const COM8_AUTO_EXPOSURE: u8 = 0x01;

    /// COM10: output signal polarities.
    pub const COM10: u8 = 0x15;
    /// COM10 = 0: VSYNC active high, HREF active high, data changes on the
    /// falling PCLK edge, PCLK free-running: what the ArduChip samples by default.
    pub const COM10_ARDUCHIP_DEFAULT: u8 = 0x00;
}

/// DSP-bank registers (valid while `BANK_SELECT == BANK_DSP`).
pub mod dsp {
    /// R_BYPASS: bit 0 set sends raw sensor data out, clear routes it through
    /// the DSP (needed for scaling and RGB565).
    pub const R_BYPASS: u8 = 0x05;
    /// [`R_BYPASS`] value that uses the DSP.
    pub const R_BYPASS_USE_DSP: u8 = 0x00;

    /// CTRLI: scaler pre-divider. Bit 7 (LP_DP) enables it; bits 5..3 the
    /// vertical and bits 2..0 the horizontal divider code.
    pub const CTRLI: u8 = 0x50;
    /// CTRLI bit 7.
    pub const CTRLI_LP_DP: u8 = 0x80;

    /// HSIZE: DSP input window width / 4, bits 7..0.
    pub const HSIZE: u8 = 0x51;
    /// VSIZE: DSP input window height / 4, bits 7..0.
    pub const VSIZE: u8 = 0x52;
    /// XOFFL: input window x offset, bits 7..0.
    pub const XOFFL: u8 = 0x53;
    /// YOFFL: input window y offset, bits 7..0.
    pub const YOFFL: u8 = 0x54;
    /// VHYX: high bits. Bit 7 = VSIZE bit 8, bits 6..4 = y offset bits 10..8,
    /// bit 3 = HSIZE bit 8, bits 2..0 = x offset bits 10..8.
    pub const VHYX: u8 = 0x55;
    /// TEST: bit 7 = HSIZE bit 9.
    pub const TEST: u8 = 0x57;

    /// ZMOW: output width / 4, bits 7..0.
    pub const ZMOW: u8 = 0x5A;
    /// ZMOH: output height / 4, bits 7..0.
    pub const ZMOH: u8 = 0x5B;
    /// ZMHH: bits 7..4 zoom speed, bit 2 = ZMOH bit 8, bits 1..0 = ZMOW bits 9..8.
    pub const ZMHH: u8 = 0x5C;

    /// CTRL2: DSP module enables.
    pub const CTRL2: u8 = 0x86;
    /// CTRL2 bit 5: down-sampling / zoom block (the scaler).
    pub const CTRL2_DCW: u8 = 0x20;
    /// CTRL2 bit 4: special digital effects block (needed in the path).
    pub const CTRL2_SDE: u8 = 0x10;
    /// CTRL2 bit 3: UV adjust.
    pub const CTRL2_UV_ADJ: u8 = 0x08;
    /// CTRL2 bit 2: UV average.
    pub const CTRL2_UV_AVG: u8 = 0x04;
    /// CTRL2 bit 0: colour matrix (YUV to RGB conversion).
    pub const CTRL2_CMX: u8 = 0x01;

    /// SIZEL: low bits of the DSP input image size. Bit 6 = HSIZE8 bit 11,
    /// bits 5..3 = width bits 2..0, bits 2..0 = height bits 2..0.
    pub const SIZEL: u8 = 0x8C;
    /// HSIZE8: DSP input image width bits 10..3.
    pub const HSIZE8: u8 = 0xC0;
    /// VSIZE8: DSP input image height bits 10..3.
    pub const VSIZE8: u8 = 0xC1;

    /// CTRL0: output-side module enables.
    pub const CTRL0: u8 = 0xC2;
    /// CTRL0 bit 3: YUV422 sampling.
    pub const CTRL0_YUV422: u8 = 0x08;
    /// CTRL0 bit 2: YUV block.
    pub const CTRL0_YUV_EN: u8 = 0x04;
    /// CTRL0 bit 1: RGB block.
    pub const CTRL0_RGB_EN: u8 = 0x02;

    /// R_DVP_SP: bit 7 automatic PCLK, bits 6..0 manual PCLK divider of the
    /// DSP clock.
    pub const R_DVP_SP: u8 = 0xD3;

    /// IMAGE_MODE: output format. Bits 3..2: 00 YUV422, 01 RAW10, 10 RGB565;
    /// bit 4 JPEG; bit 0 low byte first.
    pub const IMAGE_MODE: u8 = 0xDA;
    /// IMAGE_MODE value: RGB565, high byte first (big-endian pixels).
    pub const IMAGE_MODE_RGB565_BE: u8 = 0x08;

    /// RESET: per-block resets inside the DSP. Bit 2 holds the DVP (parallel
    /// output) port in reset.
    pub const RESET: u8 = 0xE0;
    /// RESET bit 2.
    pub const RESET_DVP: u8 = 0x04;
    /// RESET value that releases every block.
    pub const RESET_NONE: u8 = 0x00;
}
