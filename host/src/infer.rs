//! One inference on the host through `mote-core`, with `.npy` arrays in and
//! out (used by `mote infer` and tests).
use anyhow::{anyhow, bail, ensure, Result};
use mote_core::{align_arena, DType, Model, Session, TensorInfo};

use crate::npy::{Array, Dtype};

fn npy_dtype(t: DType) -> Dtype {
    match t {
        DType::Int8 => Dtype::I8,
        DType::Int32 => Dtype::I32,
        DType::Float32 => Dtype::F32,
    }
}

/// Whether an array of `shape` fits tensor `t`: the same dimensions, or the
/// same without the tensor's leading batch dimension of 1.
pub fn shape_fits(shape: &[usize], t: &TensorInfo) -> bool {
    let dims: Vec<usize> = t.shape.dims().iter().map(|&d| d as usize).collect();
    shape == dims.as_slice() || (dims.first() == Some(&1) && shape == &dims[1..])
}

/// Runs `model` on `inputs` (one per model input, in order) and returns
/// every output as an array in the output tensor's full shape.
pub fn run(model: &Model<'_>, inputs: &[Array]) -> Result<Vec<Array>> {
    let err = |e: mote_core::Error| anyhow!("{e}");
    ensure!(
        inputs.len() == model.input_count(),
        "the model has {} inputs, got {}",
        model.input_count(),
        inputs.len()
    );
    let mut buf = vec![0u8; model.arena_size() + model.arena_align()];
    let arena = align_arena(&mut buf, model.arena_align());
    let mut session = Session::new(model, arena).map_err(err)?;
    for (k, array) in inputs.iter().enumerate() {
        let t = model.input(k).map_err(err)?;
        if array.dtype != npy_dtype(t.dtype) {
            bail!(
                "input {k}: the model wants {}, the array is {:?}",
                t.dtype.name(),
                array.dtype
            );
        }
        if !shape_fits(&array.shape, &t) {
            bail!(
                "input {k}: the model wants shape {:?} (batch dimension optional), the array is {:?}",
                t.shape.dims(),
                array.shape
            );
        }
        session.set_input(k, &array.data).map_err(err)?;
    }
    session.run().map_err(err)?;
    (0..model.output_count())
        .map(|k| {
            let t = model.output(k).map_err(err)?;
            Ok(Array {
                shape: t.shape.dims().iter().map(|&d| d as usize).collect(),
                dtype: npy_dtype(t.dtype),
                data: session.output(k).map_err(err)?.to_vec(),
            })
        })
        .collect()
}
