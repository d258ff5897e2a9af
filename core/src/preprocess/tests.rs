use super::*;
use crate::format::{Shape, Storage};
use proptest::prelude::*;

fn input(dims: &[u32], dtype: DType, quant: Quant) -> TensorInfo {
    let shape = Shape::new(dims).unwrap();
    TensorInfo {
        shape,
        dtype,
        quant,
        storage: Storage::Arena {
            offset: 0,
            first: 0,
            last: 1,
        },
        byte_len: shape.elements().unwrap() as u32,
    }
}

/// The usual image input: scale 1/255, zero point −128.
fn image_input(h: u32, w: u32, c: u32) -> TensorInfo {
    input(
        &[1, h, w, c],
        DType::Int8,
        Quant::PerTensor {
            scale: 1.0 / 255.0,
            zero_point: -128,
        },
    )
}

fn as_i8(b: &[u8]) -> impl Iterator<Item = i8> + '_ {
    b.iter().map(|&v| v as i8)
}

#[test]
fn unit_scale_input_is_pixel_minus_128() {
    let q = Quantizer::new(1.0 / 255.0, -128).unwrap();
    for p in 0..=255u8 {
        assert_eq!(i32::from(q.quantize(p)), i32::from(p) - 128);
    }
    // Coarser scale: p / 2 rounded half away from zero, plus the zero point.
    let q = Quantizer::new(2.0 / 255.0, 3).unwrap();
    assert_eq!(q.quantize(0), 3);
    assert_eq!(q.quantize(1), 4); // 0.5 → 1
    assert_eq!(q.quantize(4), 5);
    assert_eq!(q.quantize(255), 127); // 128 + 3 clamps
    assert!(Quantizer::new(0.0, 0).is_err());
    assert!(Quantizer::new(f32::NAN, 0).is_err());
    assert!(Quantizer::new(0.1, 200).is_err());
}

#[test]
fn same_size_rgb888_is_a_plain_shift() {
    let t = image_input(2, 3, 3);
    let frame: [u8; 18] = core::array::from_fn(|i| (i * 14) as u8);
    let mut dst = [0u8; 18];
    let g = frame_to_input(&t, &frame, 3, 2, PixelFormat::Rgb888, &mut dst).unwrap();
    assert_eq!(g.crop.width, 3);
    for (q, p) in as_i8(&dst).zip(frame) {
        assert_eq!(i32::from(q), i32::from(p) - 128);
    }
}

#[test]
fn downscaling_averages_blocks_rounding_half_up() {
    // 4x4 grey frame to a 2x2 grey model: each output is a 2x2 block mean.
    #[rustfmt::skip]
    let frame = [
        0, 1,   10, 10,
        1, 1,   10, 11,
        200, 200,  255, 255,
        200, 201,  255, 254,
    ];
    let t = image_input(2, 2, 1);
    let mut dst = [0u8; 4];
    frame_to_input(&t, &frame, 4, 4, PixelFormat::Gray8, &mut dst).unwrap();
    // Means 0.75→1, 10.25→10, 200.25→200, 254.75→255.
    let got: [i32; 4] = core::array::from_fn(|i| i32::from(dst[i] as i8) + 128);
    assert_eq!(got, [1, 10, 200, 255]);
}

#[test]
fn crop_ignores_the_sides_of_a_wide_frame() {
    // 160x120 to 96x96: only columns 20..140 matter.
    let t = image_input(96, 96, 3);
    let (w, h) = (160usize, 120usize);
    let mut frame = [0u8; 160 * 120 * 2];
    let mut noisy = [0u8; 160 * 120 * 2];
    for y in 0..h {
        for x in 0..w {
            let p = rgb888_to_rgb565([(x * 3) as u8, (y * 2) as u8, ((x + y) & 0xFF) as u8]);
            let i = 2 * (y * w + x);
            frame[i..i + 2].copy_from_slice(&p.to_be_bytes());
            let outside = !(20..140).contains(&x);
            let p = if outside { (x * 7919 + y) as u16 } else { p };
            noisy[i..i + 2].copy_from_slice(&p.to_be_bytes());
        }
    }
    let mut a = [0u8; 96 * 96 * 3];
    let mut b = [0u8; 96 * 96 * 3];
    let pre = Preprocessor::new(&t, w, h, PixelFormat::Rgb565Be).unwrap();
    assert_eq!(pre.frame_len(), 160 * 120 * 2);
    pre.run(&frame, &mut a).unwrap();
    pre.run(&noisy, &mut b).unwrap();
    assert_eq!(a, b);
    // Model pixel (0, 0) is frame pixel (20, 0) (blocks of 120/96 start with
    // one pixel): red 60, which RGB565 stores as 7 and widens to 57; the
    // frame's left edge would give 0.
    let r0 = i32::from(a[0] as i8) + 128;
    assert_eq!(r0, 57);
}

#[test]
fn grey_replicates_and_rgb_becomes_luma() {
    let grey = [7u8, 99, 200, 255];
    let mut rgb_in = [0u8; 12];
    frame_to_input(
        &image_input(2, 2, 3),
        &grey,
        2,
        2,
        PixelFormat::Gray8,
        &mut rgb_in,
    )
    .unwrap();
    for (px, g) in rgb_in.chunks(3).zip(grey) {
        for &c in px {
            assert_eq!(i32::from(c as i8), i32::from(g) - 128);
        }
    }
    let rgb = [255u8, 0, 0, 0, 255, 0, 0, 0, 255, 10, 10, 10];
    let mut grey_in = [0u8; 4];
    frame_to_input(
        &image_input(2, 2, 1),
        &rgb,
        2,
        2,
        PixelFormat::Rgb888,
        &mut grey_in,
    )
    .unwrap();
    let got: [i32; 4] = core::array::from_fn(|i| i32::from(grey_in[i] as i8) + 128);
    // Luma weights 77/150/29 of 256: full green is 149.4 → 149.
    assert_eq!(got, [77, 149, 29, 10]);
}

#[test]
fn neutral_yuyv_matches_grey() {
    let lumas = [3u8, 50, 90, 128, 200, 250];
    let mut yuyv = [128u8; 12];
    for (i, y) in lumas.iter().enumerate() {
        yuyv[2 * i] = *y;
    }
    let (mut a, mut b) = ([0u8; 18], [0u8; 18]);
    let t = image_input(3, 2, 3);
    frame_to_input(&t, &yuyv, 2, 3, PixelFormat::Yuyv, &mut a).unwrap();
    frame_to_input(&t, &lumas, 2, 3, PixelFormat::Gray8, &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let t = image_input(2, 2, 3);
    let frame = [0u8; 12];
    let mut dst = [0u8; 12];
    let f = PixelFormat::Rgb888;
    assert_eq!(
        frame_to_input(&t, &frame[..11], 2, 2, f, &mut dst),
        Err(PreprocessError::FrameLen {
            expected: 12,
            len: 11
        })
    );
    assert_eq!(
        frame_to_input(&t, &frame, 2, 2, f, &mut dst[..5]),
        Err(PreprocessError::InputLen {
            expected: 12,
            len: 5
        })
    );
    assert_eq!(
        frame_to_input(&t, &frame, 0, 2, f, &mut dst),
        Err(PreprocessError::ZeroSize)
    );
    assert_eq!(
        frame_to_input(&t, &frame, 3, 2, PixelFormat::Yuyv, &mut dst),
        Err(PreprocessError::OddWidth)
    );
    let q = Quant::PerTensor {
        scale: 0.1,
        zero_point: 0,
    };
    for bad in [
        input(&[1, 2, 2, 3], DType::Float32, Quant::None),
        input(&[1, 2, 2, 3], DType::Int8, Quant::None),
        input(&[1, 2, 2, 2], DType::Int8, q),
        input(&[2, 2, 2, 3], DType::Int8, q),
        input(&[12], DType::Int8, q),
    ] {
        assert_eq!(
            frame_to_input(&bad, &frame, 2, 2, f, &mut dst),
            Err(PreprocessError::UnsupportedInput)
        );
    }
    // Rank-3 HWC inputs are fine.
    assert!(frame_to_input(
        &input(&[2, 2, 3], DType::Int8, q),
        &frame,
        2,
        2,
        f,
        &mut dst
    )
    .is_ok());
}

proptest! {
    /// A frame of colours RGB565 can represent gives the same model input
    /// through either RGB565 byte order as through RGB888.
    #[test]
    fn rgb565_matches_rgb888_on_representable_colours(
        fw in 1usize..12, fh in 1usize..12, ow in 1usize..7, oh in 1usize..7,
        gray in any::<bool>(),
        seed in proptest::collection::vec(any::<u16>(), 144),
    ) {
        let mut be = [0u8; 288];
        let mut le = [0u8; 288];
        let mut rgb = [0u8; 432];
        for i in 0..fw * fh {
            let p = seed[i];
            be[2 * i..2 * i + 2].copy_from_slice(&p.to_be_bytes());
            le[2 * i..2 * i + 2].copy_from_slice(&p.to_le_bytes());
            rgb[3 * i..3 * i + 3].copy_from_slice(&rgb565_to_rgb888(p));
        }
        let t = image_input(oh as u32, ow as u32, if gray { 1 } else { 3 });
        let n = oh * ow * if gray { 1 } else { 3 };
        let (mut a, mut b, mut c) = ([0u8; 108], [0u8; 108], [0u8; 108]);
        frame_to_input(&t, &rgb[..3 * fw * fh], fw, fh, PixelFormat::Rgb888, &mut a[..n]).unwrap();
        frame_to_input(&t, &be[..2 * fw * fh], fw, fh, PixelFormat::Rgb565Be, &mut b[..n]).unwrap();
        frame_to_input(&t, &le[..2 * fw * fh], fw, fh, PixelFormat::Rgb565Le, &mut c[..n]).unwrap();
        prop_assert_eq!(&a[..n], &b[..n]);
        prop_assert_eq!(&a[..n], &c[..n]);
    }

    /// Each output value lies between the smallest and largest frame value
    /// of its block (an average), for any geometry.
    #[test]
    fn outputs_are_block_averages(
        fw in 1usize..20, fh in 1usize..20, ow in 1usize..9, oh in 1usize..9,
        seed in proptest::collection::vec(any::<u8>(), 400),
    ) {
        let frame = &seed[..fw * fh];
        let t = image_input(oh as u32, ow as u32, 1);
        let mut dst = [0u8; 64];
        let g = frame_to_input(&t, frame, fw, fh, PixelFormat::Gray8, &mut dst[..ow * oh]).unwrap();
        for oy in 0..oh {
            for ox in 0..ow {
                let (x0, x1) = g.span_x(ox);
                let (y0, y1) = g.span_y(oy);
                let block = (y0..y1).flat_map(|y| (x0..x1).map(move |x| frame[y * fw + x]));
                let lo = block.clone().min().unwrap();
                let hi = block.max().unwrap();
                let v = (i32::from(dst[oy * ow + ox] as i8) + 128) as u8;
                prop_assert!(lo <= v && v <= hi);
            }
        }
    }
}
