//! Hostile-input tests across all kernels: arbitrary parameter words must
//! decode to `Err` or to params that re-encode to the same words, and any
//! decoded params run on arbitrary shapes and buffer lengths must return
//! (`Ok` or `Err`) without panicking.

use super::testutil::*;
use super::*;
use crate::le::F32s;
use proptest::prelude::*;

fn word() -> impl Strategy<Value = i32> {
    prop_oneof![4 => -3i32..40, 2 => -130i32..130, 1 => any::<i32>(), 1 => Just(1 << 30)]
}

fn words(n: usize) -> impl Strategy<Value = Vec<i32>> {
    prop_oneof![
        8 => proptest::collection::vec(word(), n),
        1 => proptest::collection::vec(word(), 0..n + 3),
    ]
}

fn shape() -> impl Strategy<Value = Shape4> {
    (0usize..4, 0usize..6, 0usize..6, 0usize..5).prop_map(|(n, h, w, c)| Shape4::new(n, h, w, c))
}

/// Data for `s`: usually the right length, sometimes not.
fn buf(s: Shape4) -> impl Strategy<Value = Vec<i8>> {
    let len = s.elements().unwrap_or(0);
    prop_oneof![
        4 => proptest::collection::vec(any::<i8>(), len),
        1 => proptest::collection::vec(any::<i8>(), 0..64),
    ]
}

fn shaped() -> impl Strategy<Value = (Shape4, Vec<i8>)> {
    shape().prop_flat_map(|s| (Just(s), buf(s)))
}

fn i32s() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![-40i32..40, any::<i32>()], 0..8)
        .prop_map(|v| bytes_of(&v))
}

macro_rules! round_trip {
    ($name:ident, $op:ident) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn $name(w in words($op::WORDS)) {
                if let Ok(p) = $op::Params::decode(&w) {
                    let mut again = Vec::new();
                    p.encode(&mut |x| again.push(x));
                    prop_assert_eq!(again, w);
                }
            }
        }
    };
}

round_trip!(conv2d_words, conv2d);
round_trip!(depthwise_words, depthwise_conv2d);
round_trip!(fully_connected_words, fully_connected);
round_trip!(add_words, add);
round_trip!(mul_words, mul);
round_trip!(concatenation_words, concatenation);
round_trip!(pool_words, pool);
round_trip!(mean_words, mean);
round_trip!(pad_words, pad);
round_trip!(reshape_words, reshape);
round_trip!(resize_nearest_words, resize_nearest);
round_trip!(resize_bilinear_words, resize_bilinear);
round_trip!(logistic_words, logistic);
round_trip!(softmax_words, softmax);
round_trip!(hard_swish_words, hard_swish);
round_trip!(leaky_relu_words, leaky_relu);
round_trip!(quantize_words, quantize);
round_trip!(dequantize_words, dequantize);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn weighted_ops_never_panic(
        which in 0u8..3,
        w in words(11),
        (si, xi) in shaped(), (sf, xf) in shaped(), so in shape(),
        bias in proptest::option::of(i32s()), m in i32s(), s in i32s(),
        out_len in 0usize..300,
        exact_quant: bool,
    ) {
        let mut out = vec![0i8; so.elements().filter(|&n| n < 300).unwrap_or(out_len)];
        // Often give per-channel arrays of the right length so that the
        // kernels get past validation and into their loops.
        let (m, s, bias) = if exact_quant {
            (bytes_of(&vec![1 << 30; so.c]), bytes_of(&vec![-1; so.c]), Some(bytes_of(&vec![7; so.c])))
        } else {
            (m, s, bias)
        };
        let q = PerChannel { multiplier: view(&m), shift: view(&s) };
        let b = bias.as_deref().map(view);
        let (i, f, o) = (View::new(si, &xi), View::new(sf, &xf), ViewMut::new(so, &mut out));
        // Hostile words when they decode, otherwise plain valid params, so
        // the kernels always meet the hostile shapes and buffers.
        let conv = conv2d::Params { stride_h: 1, stride_w: 2, dilation_h: 1, dilation_w: 1, pad_h: 1, pad_w: 0, input_offset: 3, output_offset: -2, act_min: -128, act_max: 127 };
        let _ = match which {
            0 => conv2d::eval(&conv2d::Params::decode(&w[..w.len().min(conv2d::WORDS)]).unwrap_or(conv), i, f, b, q, o),
            1 => {
                let dw = depthwise_conv2d::Params { stride_h: conv.stride_h, stride_w: conv.stride_w, dilation_h: 2, dilation_w: 1, pad_h: 0, pad_w: 1, depth_multiplier: 2, input_offset: 0, output_offset: 0, act_min: -128, act_max: 127 };
                depthwise_conv2d::eval(&depthwise_conv2d::Params::decode(&w).unwrap_or(dw), i, f, b, q, o)
            }
            _ => {
                let fc = fully_connected::Params { input_offset: 1, output_offset: 1, act_min: -128, act_max: 127 };
                fully_connected::eval(&fully_connected::Params::decode(&w[..w.len().min(4)]).unwrap_or(fc), i, f, b, q, o)
            }
        };
    }

    #[test]
    fn unary_ops_never_panic(
        which in 0u8..14,
        w in words(12),
        (si, xi) in shaped(), so in shape(),
        out_len in 0usize..300,
    ) {
        let mut out = vec![0i8; so.elements().filter(|&n| n < 300).unwrap_or(out_len)];
        let i = View::new(si, &xi);
        let o = ViewMut::new(so, &mut out);
        let cut = |n: usize| &w[..w.len().min(n)];
        let _ = match which {
            0 => pool::Params::decode(cut(8)).and_then(|p| max_pool2d::eval(&p, i, o)),
            1 => pool::Params::decode(cut(8)).and_then(|p| average_pool2d::eval(&p, i, o)),
            2 => mean::Params::decode(cut(5)).and_then(|p| mean::eval(&p, i, o)),
            3 => pad::Params::decode(cut(9)).and_then(|p| pad::eval(&p, i, o)),
            4 => reshape::eval(&reshape::Params, i, o),
            5 => resize_nearest::Params::decode(cut(2)).and_then(|p| resize_nearest::eval(&p, i, o)),
            6 => resize_bilinear::Params::decode(cut(2)).and_then(|p| resize_bilinear::eval(&p, i, o)),
            7 => logistic::Params::decode(cut(4)).and_then(|p| logistic::eval(&p, i, o)),
            8 => softmax::Params::decode(cut(3)).and_then(|p| softmax::eval(&p, i, o)),
            9 => hard_swish::Params::decode(cut(6)).and_then(|p| hard_swish::eval(&p, i, o)),
            10 => leaky_relu::Params::decode(cut(6)).and_then(|p| leaky_relu::eval(&p, i, o)),
            11 => quantize::Params::decode(cut(5)).and_then(|p| quantize::eval_requantize(&p, i, o)),
            12 => concatenation::Params::decode(cut(1)).and_then(|p| concatenation::eval(&p, [i, i], o)),
            _ => {
                let mut bytes = vec![0u8; out.len() * 4];
                dequantize::Params::decode(cut(2)).and_then(|p| dequantize::eval(&p, i, &mut bytes, so))
            }
        };
    }

    #[test]
    fn binary_and_float_ops_never_panic(
        which in 0u8..3,
        w in words(12),
        (sa, xa) in shaped(), (sb, xb) in shaped(), so in shape(),
        floats in proptest::collection::vec(any::<f32>(), 0..40),
    ) {
        let mut out = vec![0i8; so.elements().filter(|&n| n < 300).unwrap_or(7)];
        let (a, b, o) = (View::new(sa, &xa), View::new(sb, &xb), ViewMut::new(so, &mut out));
        let cut = |n: usize| &w[..w.len().min(n)];
        let _ = match which {
            0 => add::Params::decode(&w).and_then(|p| add::eval(&p, a, b, o)),
            1 => mul::Params::decode(cut(7)).and_then(|p| mul::eval(&p, a, b, o)),
            _ => {
                let mut bytes = vec![0u8; floats.len() * 4];
                crate::le::encode_f32s(&floats, &mut bytes).unwrap();
                quantize::Params::decode(cut(5)).and_then(|p| quantize::eval_from_f32(&p, F32s::new(&bytes).unwrap(), sa, o))
            }
        };
    }
}

#[test]
fn huge_shapes_are_rejected_not_allocated() {
    let big = Shape4::new(1, MAX_DIM, MAX_DIM, MAX_DIM);
    let p = reshape::Params;
    let mut out = [0i8; 4];
    assert!(reshape::eval(
        &p,
        View::new(big, &[0; 4]),
        ViewMut::new(Shape4::new(1, 1, 1, 4), &mut out)
    )
    .is_err());
    let over = Shape4::new(1, MAX_DIM + 1, 1, 1);
    assert_eq!(over.check(), Err(KernelError::Shape));
}
