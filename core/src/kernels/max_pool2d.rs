//! MAX_POOL_2D, int8 (TFLM `reference_integer_ops::MaxPool`).
//!
//! The maximum over the window clipped to the image (padding is never a
//! candidate), starting from -128, then clamped to the activation range.
//! Parameters are the shared [`super::pool::Params`].

pub use super::pool::{prepare, Options, Params, WORDS};
use super::{check_len, KernelError, View, ViewMut};

/// Runs MAX_POOL_2D.
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
                out_px.fill(i8::MIN);
                for y in y0..y1 {
                    for x in x0..x1 {
                        let base = ((n * i.h + y) * i.w + x) * i.c;
                        let src = input
                            .data
                            .get(base..base + i.c)
                            .ok_or(KernelError::Length)?;
                        for (m, &v) in out_px.iter_mut().zip(src) {
                            *m = (*m).max(v);
                        }
                    }
                }
                for m in out_px.iter_mut() {
                    *m = super::clamp_i8(i32::from(*m), p.act_min, p.act_max);
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
            win in (1usize..=3, 1usize..=3, 1usize..=3, 1usize..=3, any::<bool>()),
            zo in zero_point(), act in 0i32..4, seed: u64,
        ) {
            let i = Shape4::new(dims.0, dims.1, dims.2, dims.3);
            let opts = Options { padding: if win.4 { Padding::Same } else { Padding::Valid }, stride_h: win.0, stride_w: win.1, filter_h: win.2, filter_w: win.3, activation: Activation::from_tflite(act).unwrap() };
            let Ok((p, o)) = prepare(&opts, i, Quant::new(0.1, zo)) else { return Ok(()); };
            let x: Vec<i8> = (0..i.elements().unwrap()).map(|k| ((k as u64).wrapping_mul(2654435761).wrapping_add(seed) >> 7) as u8 as i8).collect();
            let mut out = vec![0i8; o.elements().unwrap()];
            eval(&p, View::new(i, &x), ViewMut::new(o, &mut out)).unwrap();
            for n in 0..o.n { for oy in 0..o.h { for ox in 0..o.w { for c in 0..o.c {
                let mut m: i64 = -128;
                for fy in 0..p.filter_h { for fx in 0..p.filter_w {
                    let y = (oy * p.stride_h + fy) as i64 - p.pad_h as i64;
                    let xx = (ox * p.stride_w + fx) as i64 - p.pad_w as i64;
                    if y >= 0 && xx >= 0 && (y as usize) < i.h && (xx as usize) < i.w {
                        m = m.max(x[((n * i.h + y as usize) * i.w + xx as usize) * i.c + c] as i64);
                    }
                }}
                prop_assert_eq!(out[((n * o.h + oy) * o.w + ox) * o.c + c], ref_clamp(m, p.act_min, p.act_max));
            }}}}
        }
    }

    #[test]
    fn rejects_mismatched_channels() {
        let (p, _) = prepare(
            &Options {
                padding: Padding::Valid,
                stride_h: 1,
                stride_w: 1,
                filter_h: 2,
                filter_w: 2,
                activation: Activation::None,
            },
            Shape4::new(1, 3, 3, 2),
            Quant::new(0.1, 0),
        )
        .unwrap();
        let mut out = [0i8; 12];
        assert_eq!(
            eval(
                &p,
                View::new(Shape4::new(1, 3, 3, 2), &[0; 18]),
                ViewMut::new(Shape4::new(1, 2, 2, 3), &mut out)
            ),
            Err(KernelError::Shape)
        );
        assert_eq!(
            eval(
                &p,
                View::new(Shape4::new(1, 3, 3, 2), &[0; 17]),
                ViewMut::new(Shape4::new(1, 2, 2, 2), &mut out[..8])
            ),
            Err(KernelError::Length)
        );
    }
}
