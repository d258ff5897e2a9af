//! From a camera frame to a model input: centre-crop to the model's aspect
//! ratio, nearest-neighbour resize, quantize.
//!
//! Pixels are taken as real values in [0, 1] (value / 255) and quantized with
//! the input tensor's scale and zero point. Nearest neighbour keeps this a few
//! lines; a model trained on smoother downscaling will want area averaging.
use mote_core::TensorInfo;

/// Why a frame could not become the model's input.
#[derive(Clone, Copy, Debug, defmt::Format)]
pub enum PreprocessError {
    /// The frame holds fewer bytes than `width * height * 2`.
    ShortFrame { needed: usize, got: usize },
    /// The input is not an int8 NHWC tensor with 1 or 3 channels, or `dst`
    /// is not its size.
    UnsupportedInput,
}

/// Fills `dst` (the model's int8 input, NHWC, batch 1) from an RGB565 frame,
/// high byte first. One channel: luma (ITU-R BT.601 weights).
pub fn rgb565_be_to_input(
    frame: &[u8],
    width: usize,
    height: usize,
    input: &TensorInfo,
    dst: &mut [u8],
) -> Result<(), PreprocessError> {
    let needed = width * height * 2;
    if frame.len() < needed || width == 0 || height == 0 {
        return Err(PreprocessError::ShortFrame {
            needed,
            got: frame.len(),
        });
    }
    let [_, out_h, out_w, channels] = input.shape.nhwc().map(|d| d as usize);
    if input.dtype != mote_core::DType::Int8
        || !(channels == 1 || channels == 3)
        || out_h == 0
        || out_w == 0
        || dst.len() != out_h * out_w * channels
    {
        return Err(PreprocessError::UnsupportedInput);
    }
    // The largest centred window with the output's aspect ratio.
    let (crop_w, crop_h) = if width * out_h > height * out_w {
        (height * out_w / out_h, height)
    } else {
        (width, width * out_h / out_w)
    };
    let (x0, y0) = ((width - crop_w) / 2, (height - crop_h) / 2);
    let to_q = Quantizer::new(input.scale(), input.zero_point());

    for (k, px) in dst.chunks_exact_mut(channels).enumerate() {
        let (oy, ox) = (k / out_w, k % out_w);
        // Centre of the output pixel, mapped into the crop window.
        let sx = x0 + (2 * ox + 1) * crop_w / (2 * out_w);
        let sy = y0 + (2 * oy + 1) * crop_h / (2 * out_h);
        let at = 2 * (sy * width + sx);
        let (Some(&hi), Some(&lo)) = (frame.get(at), frame.get(at + 1)) else {
            return Err(PreprocessError::ShortFrame {
                needed,
                got: frame.len(),
            });
        };
        let [r, g, b] = rgb565_to_rgb888(u16::from_be_bytes([hi, lo]));
        if let [y] = px {
            let luma = (77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b)) >> 8;
            *y = to_q.quantize(luma as u8);
        } else {
            for (c, v) in px.iter_mut().zip([r, g, b]) {
                *c = to_q.quantize(v);
            }
        }
    }
    Ok(())
}

/// 5/6/5-bit channels widened to 8 bits by replicating their top bits.
fn rgb565_to_rgb888(p: u16) -> [u8; 3] {
    let r = ((p >> 11) & 0x1F) as u8;
    let g = ((p >> 5) & 0x3F) as u8;
    let b = (p & 0x1F) as u8;
    [
        (r << 3) | (r >> 2),
        (g << 2) | (g >> 4),
        (b << 3) | (b >> 2),
    ]
}

/// value / 255, quantized: `round(v / 255 / scale) + zero_point`, saturated.
struct Quantizer {
    step: f32,
    zero_point: i32,
}

impl Quantizer {
    fn new(scale: f32, zero_point: i32) -> Self {
        // A non-positive scale is a malformed model; treat it as 1/255 so the
        // output stays defined (validation elsewhere rejects such models).
        let step = if scale > 0.0 {
            1.0 / (255.0 * scale)
        } else {
            1.0
        };
        Quantizer { step, zero_point }
    }

    fn quantize(&self, v: u8) -> u8 {
        let r = f32::from(v) * self.step;
        // `as` truncates toward zero and saturates; adding 0.5 rounds (r >= 0).
        let q = (r + 0.5) as i32 + self.zero_point;
        q.clamp(-128, 127) as i8 as u8
    }
}

/// TEMPORARY until mote-core's preprocessing lands.
#[derive(Clone, Copy, defmt::Format)]
pub enum PixelFormat {
    Rgb565,
    Rgb888,
}

impl PixelFormat {
    pub fn parse(s: &str) -> Option<PixelFormat> {
        match s {
            "rgb565" => Some(PixelFormat::Rgb565),
            "rgb888" => Some(PixelFormat::Rgb888),
            _ => None,
        }
    }
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb565 => 2,
            PixelFormat::Rgb888 => 3,
        }
    }
}

pub fn frame_to_input(
    frame: &crate::pipeline::Frame,
    input: &TensorInfo,
    dst: &mut [u8],
) -> Result<(), PreprocessError> {
    match frame.format {
        PixelFormat::Rgb565 => {
            rgb565_be_to_input(frame.pixels, frame.width, frame.height, input, dst)
        }
        PixelFormat::Rgb888 => Err(PreprocessError::UnsupportedInput),
    }
}
