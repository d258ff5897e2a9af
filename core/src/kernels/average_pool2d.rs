//! AVERAGE_POOL_2D, int8 (TFLM `reference_integer_ops::AveragePool`).
//!
//! The sum over the window clipped to the image, divided by the number of
//! in-image taps with rounding half away from zero (`(acc +- count/2) /
//! count`, truncating), then clamped. A window entirely in the padding is an
//! error, as in TFLM. Parameters are the shared [`super::pool::Params`].

pub use super::pool::{prepare, Options, Params, WORDS};
use super::{check_len, KernelError, View, ViewMut};

/// Runs AVERAGE_POOL_2D.
pub fn eval(p: &Params, input: View<'_>, output: ViewMut<'_>) -> Result<(), KernelError> {
    p.validate(input.shape, output.shape)?;
    check_len(input.shape, input.data.len())?;
    check_len(output.shape, output.data.len())?;
    let (i, o) = (input.shape, output.shape);
    let mut outs = output.data.chunks_exact_mut(o.c.max(1));
    for n in 0..o.n {
        for oy in 0..o.h {
            for ox in 0..o.w {
                let Some(out_px) = outs.next() else {
                    return Ok(()); // zero channels
                };
                let (y0, y1, x0, x1) = p.window(oy, ox, i.h, i.w);
                let count = ((y1 - y0) * (x1 - x0)) as i32;
                if count == 0 {
                    return Err(KernelError::Shape);
                }
                for (c, out) in out_px.iter_mut().enumerate() {
                    let mut acc: i32 = 0;
                    for y in y0..y1 {
                        let row = (n * i.h + y) * i.w;
                        for x in x0..x1 {
                            let v = *input
                                .data
                                .get((row + x) * i.c + c)
                                .ok_or(KernelError::Length)?;
                            acc = acc.wrapping_add(i32::from(v));
                        }
                    }
                    let avg = if acc > 0 {
                        acc.wrapping_add(count / 2) / count
                    } else {
                        acc.wrapping_sub(count / 2) / count
                    };
                    *out = super::clamp_i8(avg, p.act_min, p.act_max);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Activation, Padding, Quant, Shape4};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn matches_reference(
            dims in (1usize..=2, 1usize..=9, 1usize..=9, 1usize..=5),
            win in (1usize..=3, 1usize..=3, 1usize..=4, 1usize..=4, any::<bool>()),
            zo in zero_point(), act in 0i32..4, seed: u64, extreme in 0u8..3,
        ) {
            let i = Shape4::new(dims.0, dims.1, dims.2, dims.3);
            let opts = Options { padding: if win.4 { Padding::Same } else { Padding::Valid }, stride_h: win.0, stride_w: win.1, filter_h: win.2, filter_w: win.3, activation: Activation::from_tflite(act).unwrap() };
            let Ok((p, o)) = prepare(&opts, i, Quant::new(0.1, zo)) else { return Ok(()); };
            let x: Vec<i8> = (0..i.elements().unwrap()).map(|k| match extreme {
                0 => -128,
                1 => ((k as u64).wrapping_mul(2654435761).wrapping_add(seed) >> 7) as u8 as i8,
                _ => 127,
            }).collect();
            let mut out = vec![0i8; o.elements().unwrap()];
            eval(&p, View::new(i, &x), ViewMut::new(o, &mut out)).unwrap();
            for n in 0..o.n { for oy in 0..o.h { for ox in 0..o.w { for c in 0..o.c {
                let (mut sum, mut cnt) = (0i64, 0i64);
                for fy in 0..p.filter_h { for fx in 0..p.filter_w {
                    let y = (oy * p.stride_h + fy) as i64 - p.pad_h as i64;
                    let xx = (ox * p.stride_w + fx) as i64 - p.pad_w as i64;
                    if y >= 0 && xx >= 0 && (y as usize) < i.h && (xx as usize) < i.w {
                        sum += x[((n * i.h + y as usize) * i.w + xx as usize) * i.c + c] as i64;
                        cnt += 1;
                    }
                }}
                // Round half away from zero, exactly.
                let avg = (2 * sum.abs() + cnt) / (2 * cnt) * sum.signum();
                prop_assert_eq!(out[((n * o.h + oy) * o.w + ox) * o.c + c], ref_clamp(avg, p.act_min, p.act_max));
            }}}}
        }
    }

    #[test]
    fn ties_round_away_from_zero() {
        let (p, o) = prepare(
            &Options {
                padding: Padding::Valid,
                stride_h: 1,
                stride_w: 1,
                filter_h: 1,
                filter_w: 2,
                activation: Activation::None,
            },
            Shape4::new(1, 1, 2, 2),
            Quant::new(0.1, 0),
        )
        .unwrap();
        let mut out = [0i8; 2];
        // (1 + 2) / 2 = 1.5 -> 2; (-1 + -2) / 2 = -1.5 -> -2.
        eval(
            &p,
            View::new(Shape4::new(1, 1, 2, 2), &[1, -1, 2, -2]),
            ViewMut::new(o, &mut out),
        )
        .unwrap();
        assert_eq!(out, [2, -2]);
    }
}
