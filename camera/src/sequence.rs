//! The register writes that turn a freshly reset OV2640 into a 160x120 or
//! 320x240 RGB565 camera.
//!
//! The table is deliberately short: it only touches registers whose meaning is
//! documented (see `ov2640.rs`) and leaves every analogue and image-tuning
//! register (gamma, white balance, lens correction...) at its reset default.
//! The pipeline it sets up:
//!
//! ```text
//! sensor array 1600x1200 ──► DSP input window 1600x1200 ──► pre-divider
//!   (COM7 = UXGA)              (HSIZE8/VSIZE8, HSIZE/VSIZE)   (CTRLI)
//!        ──► zoom to WxH ──► RGB565, high byte first ──► DVP port ──► ArduChip FIFO
//!            (ZMOW/ZMOH)      (IMAGE_MODE)
//! ```
//!
//! `init` runs it after a soft reset and the ID check; tests build their
//! expected I2C traffic from [`init_sequence`] too, so the table is the single
//! source of truth.

use crate::config::Resolution;
use crate::ov2640::{dsp, sensor, BANK_DSP, BANK_SELECT, BANK_SENSOR};

/// One SCCB register write: `value` into `register` of the current bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RegWrite {
    /// Register address.
    pub register: u8,
    /// Value written.
    pub value: u8,
}

const fn w(register: u8, value: u8) -> RegWrite {
    RegWrite { register, value }
}

/// Width of the sensor array readout in UXGA mode, the DSP's input.
pub const SENSOR_WIDTH: u16 = 1600;
/// Height of the sensor array readout in UXGA mode.
pub const SENSOR_HEIGHT: u16 = 1200;

/// DSP clock divider for PCLK. At 4 the pixel clock stays well inside what the
/// ArduChip latches into its FIFO for these small outputs.
const PCLK_DIVIDER: u8 = 4;

/// Number of writes in [`init_sequence`].
pub const INIT_LEN: usize = 25;

/// The register writes for `resolution`, in order. Runs after the soft reset.
pub const fn init_sequence(resolution: Resolution) -> [RegWrite; INIT_LEN] {
    let (in_w, in_h) = (SENSOR_WIDTH, SENSOR_HEIGHT);
    let (out_w, out_h) = (resolution.width(), resolution.height());
    let div = resolution.pre_divider() & 0x07;
    [
        // --- Sensor bank -------------------------------------------------
        // The soft reset may leave either bank selected.
        w(BANK_SELECT, BANK_SENSOR),
        // Read out the whole 1600x1200 array (no sensor-side subsampling):
        // the DSP does all the scaling, so the field of view is the full lens.
        w(sensor::COM7, sensor::COM7_UXGA),
        // Automatic exposure and gain, exposure in steps of the mains flicker
        // period: the models see indoor scenes under artificial light.
        w(
            sensor::COM8,
            sensor::COM8_RESERVED
                | sensor::COM8_BANDING_FILTER
                | sensor::COM8_AUTO_GAIN
                | sensor::COM8_AUTO_EXPOSURE,
        ),
        // Signal polarities the ArduChip expects (VSYNC active high).
        w(sensor::COM10, sensor::COM10_ARDUCHIP_DEFAULT),
        // --- DSP bank ----------------------------------------------------
        w(BANK_SELECT, BANK_DSP),
        // Hold the output port in reset while its geometry changes, so no
        // half-configured frame reaches the FIFO.
        w(dsp::RESET, dsp::RESET_DVP),
        // Route pixels through the DSP (scaling and RGB need it).
        w(dsp::R_BYPASS, dsp::R_BYPASS_USE_DSP),
        // DSP input image = the sensor's 1600x1200 output, in units of 8
        // (HSIZE8/VSIZE8) plus the low three bits and width bit 11 (SIZEL).
        w(
            dsp::SIZEL,
            (((in_w >> 11) & 0x01) << 6) as u8 | ((in_w & 0x07) << 3) as u8 | (in_h & 0x07) as u8,
        ),
        w(dsp::HSIZE8, ((in_w >> 3) & 0xFF) as u8),
        w(dsp::VSIZE8, ((in_h >> 3) & 0xFF) as u8),
        // Enable the scaler, the colour matrix (needed for RGB) and the
        // chroma blocks that sit in the same path.
        w(
            dsp::CTRL2,
            dsp::CTRL2_DCW
                | dsp::CTRL2_SDE
                | dsp::CTRL2_UV_ADJ
                | dsp::CTRL2_UV_AVG
                | dsp::CTRL2_CMX,
        ),
        // YUV422 internal sampling with the YUV and RGB output blocks on.
        w(
            dsp::CTRL0,
            dsp::CTRL0_YUV422 | dsp::CTRL0_YUV_EN | dsp::CTRL0_RGB_EN,
        ),
        // Window into the input: all of it, from (0, 0). Sizes in units of 4;
        // their high bits and the offsets' high bits go to VHYX and TEST.
        w(dsp::HSIZE, ((in_w >> 2) & 0xFF) as u8),
        w(dsp::VSIZE, ((in_h >> 2) & 0xFF) as u8),
        w(dsp::XOFFL, 0),
        w(dsp::YOFFL, 0),
        w(
            dsp::VHYX,
            ((((in_h >> 2) >> 8) & 0x01) << 7) as u8 | ((((in_w >> 2) >> 8) & 0x01) << 3) as u8,
        ),
        w(dsp::TEST, ((((in_w >> 2) >> 9) & 0x01) << 7) as u8),
        // Pre-divide both axes before the zoom block.
        w(dsp::CTRLI, dsp::CTRLI_LP_DP | (div << 3) | div),
        // Output size in units of 4 (ZMOW/ZMOH) and their high bits (ZMHH).
        w(dsp::ZMOW, ((out_w >> 2) & 0xFF) as u8),
        w(dsp::ZMOH, ((out_h >> 2) & 0xFF) as u8),
        w(
            dsp::ZMHH,
            ((((out_h >> 2) >> 8) & 0x01) << 2) as u8 | (((out_w >> 2) >> 8) & 0x03) as u8,
        ),
        // Manual pixel clock: DSP clock / PCLK_DIVIDER.
        w(dsp::R_DVP_SP, PCLK_DIVIDER),
        // RGB565, high byte first: what `frame::rgb565_be_to_rgb888` reads.
        w(dsp::IMAGE_MODE, dsp::IMAGE_MODE_RGB565_BE),
        // Release the output port: frames flow from the next VSYNC.
        w(dsp::RESET, dsp::RESET_NONE),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(seq: &[RegWrite], bank: u8, register: u8) -> Option<u8> {
        let mut current = None;
        let mut found = None;
        for rw in seq {
            if rw.register == BANK_SELECT {
                current = Some(rw.value);
            } else if current == Some(bank) && rw.register == register {
                found = Some(rw.value);
            }
        }
        found
    }

    #[test]
    fn input_window_fields_encode_1600x1200() {
        let seq = init_sequence(Resolution::Qqvga);
        // 1600 / 8 = 200, 1200 / 8 = 150, no low bits.
        assert_eq!(value_of(&seq, BANK_DSP, dsp::HSIZE8), Some(200));
        assert_eq!(value_of(&seq, BANK_DSP, dsp::VSIZE8), Some(150));
        assert_eq!(value_of(&seq, BANK_DSP, dsp::SIZEL), Some(0));
        // 1600 / 4 = 400 = 0x190, 1200 / 4 = 300 = 0x12C: low bytes here,
        // bit 8 of each in VHYX, bit 9 of the width (0) in TEST.
        assert_eq!(value_of(&seq, BANK_DSP, dsp::HSIZE), Some(0x90));
        assert_eq!(value_of(&seq, BANK_DSP, dsp::VSIZE), Some(0x2C));
        assert_eq!(value_of(&seq, BANK_DSP, dsp::VHYX), Some(0x88));
        assert_eq!(value_of(&seq, BANK_DSP, dsp::TEST), Some(0x00));
    }

    #[test]
    fn output_size_fields_per_resolution() {
        let q = init_sequence(Resolution::Qqvga);
        assert_eq!(value_of(&q, BANK_DSP, dsp::ZMOW), Some(40)); // 160 / 4
        assert_eq!(value_of(&q, BANK_DSP, dsp::ZMOH), Some(30)); // 120 / 4
        assert_eq!(value_of(&q, BANK_DSP, dsp::ZMHH), Some(0));
        assert_eq!(value_of(&q, BANK_DSP, dsp::CTRLI), Some(0x9B));
        let v = init_sequence(Resolution::Qvga);
        assert_eq!(value_of(&v, BANK_DSP, dsp::ZMOW), Some(80)); // 320 / 4
        assert_eq!(value_of(&v, BANK_DSP, dsp::ZMOH), Some(60)); // 240 / 4
        assert_eq!(value_of(&v, BANK_DSP, dsp::CTRLI), Some(0x92));
    }

    #[test]
    fn output_format_is_rgb565_big_endian_through_the_dsp() {
        let seq = init_sequence(Resolution::Qvga);
        assert_eq!(value_of(&seq, BANK_DSP, dsp::IMAGE_MODE), Some(0x08));
        assert_eq!(value_of(&seq, BANK_DSP, dsp::R_BYPASS), Some(0x00));
        assert_eq!(value_of(&seq, BANK_SENSOR, sensor::COM7), Some(0x00));
        assert_eq!(value_of(&seq, BANK_SENSOR, sensor::COM8), Some(0xE5));
    }

    #[test]
    fn output_port_is_held_in_reset_while_reconfigured() {
        let seq = init_sequence(Resolution::Qqvga);
        let resets: Vec<usize> = seq
            .iter()
            .enumerate()
            .filter(|(_, rw)| rw.register == dsp::RESET)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(resets.len(), 2);
        assert_eq!(seq[resets[0]].value, dsp::RESET_DVP);
        assert_eq!(seq[resets[1]].value, dsp::RESET_NONE);
        assert_eq!(resets[1], INIT_LEN - 1, "release must be the last write");
        assert_eq!(seq[resets[0] - 1], w(BANK_SELECT, BANK_DSP));
    }
}
