//! Unpacking the camera's RGB565 pixels into the RGB888 the preprocessing
//! consumes.
//!
//! The sensor sends each pixel as two bytes, high byte first:
//! `RRRRRGGG GGGBBBBB`. Channels widen to 8 bits by bit replication (the top
//! bits fill the new low bits), so 0 stays 0 and the maximum maps to 255.

/// Why a conversion could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// RGB565 input must have an even number of bytes.
    OddLength {
        /// Length of the input.
        len: usize,
    },
    /// The RGB888 output cannot hold every converted pixel.
    OutputTooSmall {
        /// Bytes needed (3 per pixel).
        needed: usize,
        /// Length of the output given.
        got: usize,
    },
}

/// One RGB565 pixel (as a native `u16`) to `[r, g, b]`.
pub const fn rgb565_to_rgb888(pixel: u16) -> [u8; 3] {
    let r5 = ((pixel >> 11) & 0x1F) as u8;
    let g6 = ((pixel >> 5) & 0x3F) as u8;
    let b5 = (pixel & 0x1F) as u8;
    [
        (r5 << 3) | (r5 >> 2),
        (g6 << 2) | (g6 >> 4),
        (b5 << 3) | (b5 >> 2),
    ]
}

/// Converts big-endian RGB565 bytes (as captured) to packed RGB888, row-major
/// order preserved. Returns the number of pixels written; `dst` may be longer
/// than needed, its tail is left untouched.
pub fn rgb565_be_to_rgb888(src: &[u8], dst: &mut [u8]) -> Result<usize, FrameError> {
    if src.len() % 2 != 0 {
        return Err(FrameError::OddLength { len: src.len() });
    }
    let pixels = src.len() / 2;
    let needed = pixels.checked_mul(3).ok_or(FrameError::OutputTooSmall {
        needed: usize::MAX,
        got: dst.len(),
    })?;
    if dst.len() < needed {
        return Err(FrameError::OutputTooSmall {
            needed,
            got: dst.len(),
        });
    }
    for (pair, rgb) in src.chunks_exact(2).zip(dst.chunks_exact_mut(3)) {
        if let ([hi, lo], [r, g, b]) = (pair, rgb) {
            let [pr, pg, pb] = rgb565_to_rgb888(u16::from_be_bytes([*hi, *lo]));
            *r = pr;
            *g = pg;
            *b = pb;
        }
    }
    Ok(pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primaries_and_extremes() {
        assert_eq!(rgb565_to_rgb888(0x0000), [0, 0, 0]);
        assert_eq!(rgb565_to_rgb888(0xFFFF), [255, 255, 255]);
        assert_eq!(rgb565_to_rgb888(0xF800), [255, 0, 0]);
        assert_eq!(rgb565_to_rgb888(0x07E0), [0, 255, 0]);
        assert_eq!(rgb565_to_rgb888(0x001F), [0, 0, 255]);
    }

    #[test]
    fn bit_replication_of_mid_values() {
        // r5 = 0b10000 -> 0b10000100, g6 = 0b100000 -> 0b10000010,
        // b5 = 0b00001 -> 0b00001000.
        let p = (0b10000 << 11) | (0b100000 << 5) | 0b00001;
        assert_eq!(rgb565_to_rgb888(p), [0x84, 0x82, 0x08]);
    }

    #[test]
    fn every_565_value_round_trips_through_its_top_bits() {
        for p in 0..=u16::MAX {
            let [r, g, b] = rgb565_to_rgb888(p);
            let back = (u16::from(r >> 3) << 11) | (u16::from(g >> 2) << 5) | u16::from(b >> 3);
            assert_eq!(back, p);
        }
    }

    #[test]
    fn slice_conversion_reads_high_byte_first() {
        // Red then blue, big-endian: F8 00, 00 1F.
        let src = [0xF8, 0x00, 0x00, 0x1F];
        let mut dst = [0xAA; 7];
        assert_eq!(rgb565_be_to_rgb888(&src, &mut dst), Ok(2));
        assert_eq!(dst, [255, 0, 0, 0, 0, 255, 0xAA]);
    }

    #[test]
    fn slice_conversion_rejects_bad_lengths() {
        let mut dst = [0u8; 6];
        assert_eq!(
            rgb565_be_to_rgb888(&[1, 2, 3], &mut dst),
            Err(FrameError::OddLength { len: 3 })
        );
        assert_eq!(
            rgb565_be_to_rgb888(&[0; 6], &mut dst),
            Err(FrameError::OutputTooSmall { needed: 9, got: 6 })
        );
        assert_eq!(rgb565_be_to_rgb888(&[], &mut []), Ok(0));
    }
}
