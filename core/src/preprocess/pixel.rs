//! Camera pixel formats and their conversion to 8-bit RGB.
//!
//! Every format is decoded to `[r, g, b]` bytes first; the geometry and
//! quantization steps only ever see RGB888.

/// The byte layout of a camera frame (rows top to bottom, pixels left to
/// right, no padding between rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PixelFormat {
    /// RGB565 (`rrrrrggg gggbbbbb`), **high byte first**: the order the OV2640
    /// and the ArduCAM FIFO put on the wire. The usual choice for camera
    /// frames read byte by byte.
    Rgb565Be,
    /// RGB565 with the low byte first: a frame stored as native `u16` words
    /// on a little-endian MCU (e.g. after a 16-bit DMA or a byte-swapping
    /// camera interface).
    Rgb565Le,
    /// Three bytes per pixel: red, green, blue.
    Rgb888,
    /// One byte of luma per pixel.
    Gray8,
    /// YUV 4:2:2 packed as `Y0 U Y1 V`: two pixels share one U and one V.
    /// Full-range BT.601 (JFIF) coefficients; the width must be even.
    Yuyv,
}

impl PixelFormat {
    /// Bytes per pixel (YUYV: 4 bytes per pair of pixels, so 2).
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb565Be | PixelFormat::Rgb565Le | PixelFormat::Yuyv => 2,
            PixelFormat::Rgb888 => 3,
            PixelFormat::Gray8 => 1,
        }
    }
}

/// Decodes pixel `x` of one frame row (`row` holds exactly that row's
/// bytes), one implementation per format; `None` past the row's end. The
/// preprocessing loop is generic over it, so it is compiled once per
/// format, with no format dispatch and no 2-D index arithmetic per pixel.
pub(crate) trait RowDecoder {
    fn rgb(row: &[u8], x: usize) -> Option<[u8; 3]>;
}

/// [`RowDecoder`]s, one per [`PixelFormat`].
pub(crate) struct Rgb565BeRow;
pub(crate) struct Rgb565LeRow;
pub(crate) struct Rgb888Row;
pub(crate) struct Gray8Row;
pub(crate) struct YuyvRow;

impl RowDecoder for Rgb565BeRow {
    #[inline(always)]
    fn rgb(row: &[u8], x: usize) -> Option<[u8; 3]> {
        let [hi, lo] = bytes::<2>(row, x)?;
        Some(rgb565_to_rgb888(u16::from_be_bytes([hi, lo])))
    }
}

impl RowDecoder for Rgb565LeRow {
    #[inline(always)]
    fn rgb(row: &[u8], x: usize) -> Option<[u8; 3]> {
        let [lo, hi] = bytes::<2>(row, x)?;
        Some(rgb565_to_rgb888(u16::from_le_bytes([lo, hi])))
    }
}

impl RowDecoder for Rgb888Row {
    #[inline(always)]
    fn rgb(row: &[u8], x: usize) -> Option<[u8; 3]> {
        bytes::<3>(row, x)
    }
}

impl RowDecoder for Gray8Row {
    #[inline(always)]
    fn rgb(row: &[u8], x: usize) -> Option<[u8; 3]> {
        let [v] = bytes::<1>(row, x)?;
        Some([v, v, v])
    }
}

impl RowDecoder for YuyvRow {
    #[inline(always)]
    fn rgb(row: &[u8], x: usize) -> Option<[u8; 3]> {
        // Rows have an even width (checked when the preprocessor is made).
        let [y0, u, y1, v] = bytes::<4>(row, x / 2)?;
        Some(yuv_to_rgb(if x % 2 == 0 { y0 } else { y1 }, u, v))
    }
}

/// The `N` bytes of element `i` of a row of `N`-byte elements.
#[inline]
fn bytes<const N: usize>(frame: &[u8], i: usize) -> Option<[u8; N]> {
    let start = i.checked_mul(N)?;
    frame.get(start..start.checked_add(N)?)?.try_into().ok()
}

/// 5/6/5-bit channels widened to 8 bits by replicating their top bits, so
/// 0 → 0 and full scale → 255.
pub const fn rgb565_to_rgb888(p: u16) -> [u8; 3] {
    let r = ((p >> 11) & 0x1F) as u8;
    let g = ((p >> 5) & 0x3F) as u8;
    let b = (p & 0x1F) as u8;
    [
        (r << 3) | (r >> 2),
        (g << 2) | (g >> 4),
        (b << 3) | (b >> 2),
    ]
}

/// RGB888 to RGB565 by truncation (the inverse of [`rgb565_to_rgb888`] on
/// the colours it produces).
pub const fn rgb888_to_rgb565([r, g, b]: [u8; 3]) -> u16 {
    ((r as u16 >> 3) << 11) | ((g as u16 >> 2) << 5) | (b as u16 >> 3)
}

/// Full-range BT.601 YCbCr to RGB in 16.16 fixed point (rounded, clamped):
/// `R = Y + 1.402 V'`, `G = Y − 0.344136 U' − 0.714136 V'`, `B = Y + 1.772 U'`
/// with `U' = U − 128`, `V' = V − 128`.
pub const fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    const HALF: i32 = 1 << 15;
    let (y, u, v) = (y as i32, u as i32 - 128, v as i32 - 128);
    let r = y + ((91_881 * v + HALF) >> 16);
    let g = y - ((22_554 * u + 46_802 * v + HALF) >> 16);
    let b = y + ((116_130 * u + HALF) >> 16);
    [clamp_u8(r), clamp_u8(g), clamp_u8(b)]
}

/// BT.601 luma from RGB with 8-bit weights summing to 256 (77, 150, 29), so
/// grey stays exactly grey.
pub const fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((77 * r as u32 + 150 * g as u32 + 29 * b as u32 + 128) >> 8) as u8
}

const fn clamp_u8(x: i32) -> u8 {
    if x < 0 {
        0
    } else if x > 255 {
        255
    } else {
        x as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb565_widening_hits_the_ends_and_round_trips() {
        assert_eq!(rgb565_to_rgb888(0), [0, 0, 0]);
        assert_eq!(rgb565_to_rgb888(0xFFFF), [255, 255, 255]);
        assert_eq!(rgb565_to_rgb888(0xF800), [255, 0, 0]);
        assert_eq!(rgb565_to_rgb888(0x07E0), [0, 255, 0]);
        assert_eq!(rgb565_to_rgb888(0x001F), [0, 0, 255]);
        for p in 0..=u16::MAX {
            assert_eq!(rgb888_to_rgb565(rgb565_to_rgb888(p)), p);
        }
    }

    #[test]
    fn byte_orders_differ_only_in_order() {
        let be = [0xF8, 0x00]; // red, high byte first
        let le = [0x00, 0xF8];
        assert_eq!(Rgb565BeRow::rgb(&be, 0), Some([255, 0, 0]));
        assert_eq!(Rgb565LeRow::rgb(&le, 0), Some([255, 0, 0]));
        // Read in the wrong order, red 0xF800 becomes 0x00F8: green 7, blue 24.
        assert_eq!(Rgb565LeRow::rgb(&be, 0), Some([0, 28, 198]));
        assert_eq!(Rgb888Row::rgb(&be, 0), None);
    }

    #[test]
    fn yuv_known_colours() {
        // Neutral chroma is grey at every luma.
        for y in [0u8, 1, 77, 128, 254, 255] {
            assert_eq!(yuv_to_rgb(y, 128, 128), [y, y, y]);
        }
        // JFIF red (255,0,0) is Y 76, Cb 85, Cr 255 (rounded).
        let [r, g, b] = yuv_to_rgb(76, 85, 255);
        assert!(r >= 253 && g <= 2 && b <= 2, "{r} {g} {b}");
        // Two pixels of one YUYV pair share chroma.
        let frame = [10, 128, 200, 128];
        assert_eq!(YuyvRow::rgb(&frame, 0), Some([10; 3]));
        assert_eq!(YuyvRow::rgb(&frame, 1), Some([200; 3]));
    }

    #[test]
    fn luma_keeps_grey() {
        for v in 0..=255u8 {
            assert_eq!(luma(v, v, v), v);
        }
        assert_eq!(luma(255, 0, 0), 77);
    }
}
