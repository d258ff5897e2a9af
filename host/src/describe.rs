//! Human-readable descriptions of a parsed model, shared by `inspect`
//! (text and JSON) and reports.
use anyhow::{anyhow, Result};
use mote_core::format::layout::limits;
use mote_core::kernels::{
    add, concatenation, conv2d, depthwise_conv2d, dequantize, fully_connected, hard_swish,
    leaky_relu, logistic, mean, mul, pad, pool, quantize, resize_bilinear, resize_nearest, softmax,
};
use mote_core::{Model, OpCode, Quant, Storage, TensorInfo};
use serde_json::{json, Value};

fn core_err(e: mote_core::Error) -> anyhow::Error {
    anyhow!("{e}")
}

/// The op's decoded parameters (`Debug` of the kernel's `Params`), or the
/// raw words when they do not decode or the op has no decoder here.
pub fn params_text(code: OpCode, words: &[i32]) -> String {
    fn show<T: std::fmt::Debug, E>(r: Result<T, E>, words: &[i32]) -> String {
        match r {
            Ok(p) => format!("{p:?}"),
            Err(_) => format!("words {words:?}"),
        }
    }
    match code {
        OpCode::Conv2d => show(conv2d::Params::decode(words), words),
        OpCode::DepthwiseConv2d => show(depthwise_conv2d::Params::decode(words), words),
        OpCode::FullyConnected => show(fully_connected::Params::decode(words), words),
        OpCode::Add => show(add::Params::decode(words), words),
        OpCode::Mul => show(mul::Params::decode(words), words),
        OpCode::Concatenation => show(concatenation::Params::decode(words), words),
        OpCode::MaxPool2d | OpCode::AveragePool2d => show(pool::Params::decode(words), words),
        OpCode::Mean => show(mean::Params::decode(words), words),
        OpCode::Pad => show(pad::Params::decode(words), words),
        OpCode::ResizeNearestNeighbor => show(resize_nearest::Params::decode(words), words),
        OpCode::ResizeBilinear => show(resize_bilinear::Params::decode(words), words),
        OpCode::Logistic => show(logistic::Params::decode(words), words),
        OpCode::Softmax => show(softmax::Params::decode(words), words),
        OpCode::HardSwish => show(hard_swish::Params::decode(words), words),
        OpCode::LeakyRelu => show(leaky_relu::Params::decode(words), words),
        OpCode::Quantize => show(quantize::Params::decode(words), words),
        OpCode::Dequantize => show(dequantize::Params::decode(words), words),
        OpCode::Reshape if words.is_empty() => String::new(),
        OpCode::Reshape => format!("words {words:?}"),
    }
}

/// `[1,9,7,3]`.
pub fn shape_text(t: &TensorInfo) -> String {
    let dims: Vec<String> = t.shape.dims().iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(","))
}

/// Quantization as text: `s=0.02 zp=-5`, `per-channel axis 0: 5 scales 0.002..0.008`.
pub fn quant_text(model: &Model<'_>, t: &TensorInfo) -> String {
    match t.quant {
        Quant::None => "-".into(),
        Quant::PerTensor { scale, zero_point } => format!("s={scale:e} zp={zero_point}"),
        Quant::PerChannel { axis, count, .. } => {
            let scales = channel_scales(model, t);
            let lo = scales.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = scales.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            format!("per-channel axis {axis}: {count} scales {lo:e}..{hi:e}")
        }
    }
}

/// Every per-channel scale of `t` (empty unless per-channel).
pub fn channel_scales(model: &Model<'_>, t: &TensorInfo) -> Vec<f32> {
    match t.quant {
        Quant::PerChannel { count, .. } => (0..count)
            .filter_map(|c| model.channel_scale(t, c).ok())
            .collect(),
        _ => Vec::new(),
    }
}

/// One op, as `inspect` shows it.
pub struct OpSummary {
    pub index: usize,
    pub code: OpCode,
    pub inputs: Vec<u16>,
    pub output: u16,
    pub macs: u64,
    pub params: String,
    pub words: Vec<i32>,
}

/// Per-op summaries of a model.
pub fn ops(model: &Model<'_>) -> Result<Vec<OpSummary>> {
    let mut out = Vec::new();
    let mut buf = [0i32; limits::MAX_OP_WORDS];
    for k in 0..model.op_count() {
        let kk = k as u16;
        let op = model.op(kk).map_err(core_err)?;
        let inputs = (0..op.inputs)
            .map(|i| model.op_input(&op, i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(core_err)?;
        let words = model.op_words(&op, &mut buf).map_err(core_err)?.to_vec();
        out.push(OpSummary {
            index: k,
            code: op.code,
            inputs,
            output: model.op_output(&op, 0).map_err(core_err)?,
            macs: model.op_macs(kk).map_err(core_err)?,
            params: params_text(op.code, &words),
            words,
        });
    }
    Ok(out)
}

/// The whole model as JSON (tensors with all per-channel scales, ops, plan).
pub fn to_json(model: &Model<'_>, names: Option<&[String]>) -> Result<Value> {
    let mut tensors = Vec::new();
    for i in 0..model.tensor_count() {
        let t = model.tensor(i as u16).map_err(core_err)?;
        let location = match t.storage {
            Storage::Arena {
                offset,
                first,
                last,
            } => json!({"arena_offset": offset, "first": first, "last": last}),
            Storage::Constant { offset } => json!({"blob_offset": offset}),
        };
        let quant = match t.quant {
            Quant::None => Value::Null,
            Quant::PerTensor { scale, zero_point } => {
                json!({"scale": scale, "zero_point": zero_point})
            }
            Quant::PerChannel { axis, .. } => {
                json!({"axis": axis, "scales": channel_scales(model, &t)})
            }
        };
        tensors.push(json!({
            "index": i,
            "name": names.and_then(|n| n.get(i)),
            "shape": t.shape.dims(),
            "dtype": t.dtype.name(),
            "bytes": t.byte_len,
            "constant": t.is_constant(),
            "quantization": quant,
            "location": location,
        }));
    }
    let ops = ops(model)?
        .into_iter()
        .map(|o| {
            json!({
                "index": o.index,
                "op": o.code.name(),
                "inputs": o.inputs,
                "output": o.output,
                "macs": o.macs,
                "params": o.params,
                "words": o.words,
            })
        })
        .collect::<Vec<_>>();
    let total_macs: u64 = ops.iter().filter_map(|o| o["macs"].as_u64()).sum();
    let io = |out: bool| -> Result<Vec<u16>> {
        let n = if out {
            model.output_count()
        } else {
            model.input_count()
        };
        (0..n)
            .map(|k| {
                if out {
                    model.output_index(k)
                } else {
                    model.input_index(k)
                }
            })
            .collect::<Result<_, _>>()
            .map_err(core_err)
    };
    Ok(json!({
        "format_version": mote_core::format::layout::VERSION,
        "blob_bytes": model.bytes().len(),
        "head": model.head().name(),
        "arena_bytes": model.arena_size(),
        "arena_align": model.arena_align(),
        "weight_bytes": model.constant_bytes(),
        "macs": total_macs,
        "inputs": io(false)?,
        "outputs": io(true)?,
        "tensors": tensors,
        "ops": ops,
    }))
}
