//! mote [`Graph`] → int8 `.tflite`: the inverse of [`super::import`], so a
//! model mote ships can be run by TFLite and TFLM as the very same model.
//!
//! ```text
//! Graph ──(per op: recover TFLite options, check them)──▶ schema tables ──flatbuild──▶ bytes
//! ```
//!
//! The graph must be *unfused* (what [`super::import`] and the training
//! exporter's `to_graph` make, not what `blob::export` fuses). Each op's
//! TFLite options are recovered from its parameter words: the options
//! (padding SAME or VALID, fused activation NONE, RELU, RELU6 or
//! RELU_N1_TO_1, a softmax beta, a leaky-relu alpha) are the ones for which
//! the kernel's own host-side `prepare`, the function import uses, gives
//! back exactly the op's words. mote's per-channel multiplier and shift
//! inputs are dropped (TFLite computes them from the scales) after checking
//! that they are what those scales give; an all-zero bias that the importer
//! invented for a bias-less op (`<output>/zero_bias`) is dropped again.
//! Anything TFLite cannot express the same way is an error naming the op.
//!
//! TFLite has no head kind (segmentation logits, density map): it is
//! recorded in the file's metadata under [`HEAD_METADATA`], which runtimes
//! ignore and [`super::import`] reads back.
//!
//! Operator codes set both `deprecated_builtin_code` (saturating at 127) and
//! `builtin_code`, and versions are the ones TFLite's converter writes for
//! int8 models of these ops.

use anyhow::{anyhow, bail, ensure, Context, Result};
use mote_core::kernels::{self, Activation, KernelError, Quant, Shape4};

use super::flatbuild::{finish, F, T};
use super::schema::{op, FILE_IDENTIFIER, HEAD_METADATA};
use crate::graph::{DType, Graph, Head, Op, OpCode, Quantization, TensorId};

/// The schema version TFLite files carry.
const SCHEMA_VERSION: u32 = 3;

/// `BuiltinOptions` union tags.
mod tag {
    pub const CONV_2D: u8 = 1;
    pub const DEPTHWISE_CONV_2D: u8 = 2;
    pub const POOL_2D: u8 = 5;
    pub const FULLY_CONNECTED: u8 = 8;
    pub const SOFTMAX: u8 = 9;
    pub const CONCATENATION: u8 = 10;
    pub const ADD: u8 = 11;
    pub const RESIZE_BILINEAR: u8 = 15;
    pub const RESHAPE: u8 = 17;
    pub const MUL: u8 = 21;
    pub const PAD: u8 = 22;
    pub const REDUCER: u8 = 27;
    pub const DEQUANTIZE: u8 = 38;
    pub const RESIZE_NEAREST_NEIGHBOR: u8 = 74;
    pub const LEAKY_RELU: u8 = 75;
    pub const QUANTIZE: u8 = 89;
    pub const HARD_SWISH: u8 = 91;
}

/// The words a kernel `Params::encode` writes.
macro_rules! words {
    ($params:expr) => {{
        let mut words = Vec::new();
        $params.encode(&mut |w| words.push(w));
        words
    }};
}

/// Writes `graph` (unfused) as an int8 `.tflite` flatbuffer. Errors name the
/// op TFLite cannot express, or whose parameters are not the ones TFLite
/// would compute from the file; nothing here panics on a bad graph.
pub fn write(graph: &Graph) -> Result<Vec<u8>> {
    graph.check().context("the graph is malformed")?;
    let mut w = Writer {
        graph,
        index: vec![None; graph.tensors.len()],
        tensors: Vec::new(),
        buffers: vec![T::default()],
        codes: Vec::new(),
        operators: Vec::new(),
    };
    let inputs = graph
        .inputs
        .iter()
        .map(|&t| w.tensor(t))
        .collect::<Result<Vec<_>>>()?;
    for (k, o) in graph.ops.iter().enumerate() {
        w.op(o)
            .with_context(|| format!("op #{k} {}", o.code.name()))?;
    }
    let outputs = graph
        .outputs
        .iter()
        .map(|&t| w.tensor(t))
        .collect::<Result<Vec<_>>>()?;
    let mut metadata = Vec::new();
    if graph.head != Head::None {
        let buffer = w.buffer(graph.head.name().as_bytes().to_vec());
        metadata.push(
            T::default()
                .with(0, F::Str(HEAD_METADATA.into()))
                .with(1, F::U32(buffer)),
        );
    }
    let subgraph = T::default()
        .with(0, F::Tables(w.tensors))
        .with(1, F::I32s(inputs))
        .with(2, F::I32s(outputs))
        .with(3, F::Tables(w.operators))
        .with(4, F::Str("main".into()));
    let codes = w
        .codes
        .iter()
        .map(|&(code, version)| {
            T::default()
                .with(0, F::I8(code.min(127) as i8))
                .with(2, F::I32(version))
                .with(3, F::I32(code))
        })
        .collect();
    let mut root = T::default()
        .with(0, F::U32(SCHEMA_VERSION))
        .with(1, F::Tables(codes))
        .with(2, F::Tables(vec![subgraph]))
        .with(3, F::Str("mote".into()))
        .with(4, F::Tables(w.buffers));
    if !metadata.is_empty() {
        root = root.with(6, F::Tables(metadata));
    }
    finish(&root, FILE_IDENTIFIER)
        .ok_or_else(|| anyhow!("the model does not fit in a 2 GiB flatbuffer"))
}

/// One op in TFLite's terms.
struct TfOp {
    code: i32,
    version: i32,
    /// TFLite tensor indices (-1: an omitted optional input).
    inputs: Vec<i32>,
    options: Option<(u8, T)>,
}

struct Writer<'g> {
    graph: &'g Graph,
    /// Graph tensor → TFLite tensor index, once written.
    index: Vec<Option<i32>>,
    tensors: Vec<T>,
    /// `buffers[0]` is the empty buffer of every activation.
    buffers: Vec<T>,
    /// `(builtin code, version)` per operator code entry.
    codes: Vec<(i32, i32)>,
    operators: Vec<T>,
}

impl Writer<'_> {
    fn buffer(&mut self, data: Vec<u8>) -> u32 {
        self.buffers.push(T::default().with(0, F::Bytes(data)));
        (self.buffers.len() - 1) as u32
    }

    /// Appends a tensor table; returns its index.
    fn push_tensor(
        &mut self,
        name: &str,
        shape: &[usize],
        dtype: DType,
        quant: Option<T>,
        data: Option<&[u8]>,
    ) -> Result<i32> {
        let shape = shape
            .iter()
            .map(|&d| i32::try_from(d))
            .collect::<Result<Vec<_>, _>>()?;
        let buffer = match data {
            Some(d) => self.buffer(d.to_vec()),
            None => 0,
        };
        let dtype: i8 = match dtype {
            DType::Float32 => 0,
            DType::Int32 => 2,
            DType::Int8 => 9,
        };
        let mut t = T::default()
            .with(0, F::I32s(shape))
            .with(1, F::I8(dtype))
            .with(2, F::U32(buffer))
            .with(3, F::Str(name.into()));
        if let Some(q) = quant {
            t = t.with(4, F::Table(q));
        }
        self.tensors.push(t);
        i32::try_from(self.tensors.len() - 1).map_err(|_| anyhow!("too many tensors"))
    }

    /// The TFLite tensor of graph tensor `id`, written on first use with its
    /// own quantization.
    fn tensor(&mut self, id: TensorId) -> Result<i32> {
        self.tensor_quantized(id, None)
    }

    /// [`Writer::tensor`], with `quant` (a bias's scales) for a tensor the
    /// graph does not quantize.
    fn tensor_quantized(&mut self, id: TensorId, quant: Option<T>) -> Result<i32> {
        let slot = self
            .index
            .get(id)
            .ok_or_else(|| anyhow!("tensor {id} out of range"))?;
        if let Some(i) = slot {
            return Ok(*i);
        }
        let t = &self.graph.tensors[id];
        let q = match &t.quant {
            Quantization::None => quant,
            Quantization::PerTensor { scale, zero_point } => Some(
                T::default()
                    .with(2, F::F32s(vec![*scale]))
                    .with(3, F::I64s(vec![i64::from(*zero_point)])),
            ),
            Quantization::PerChannel { axis, scales } => Some(
                T::default()
                    .with(2, F::F32s(scales.clone()))
                    .with(3, F::I64s(vec![0; scales.len()]))
                    .with(6, F::I32(i32::try_from(*axis)?)),
            ),
        };
        let i = self.push_tensor(&t.name, &t.shape, t.dtype, q, t.data.as_deref())?;
        self.index[id] = Some(i);
        Ok(i)
    }

    /// A new constant int32 tensor (an op input mote folds into parameters).
    fn const_i32(&mut self, name: String, shape: &[usize], values: &[i32]) -> Result<i32> {
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_tensor(&name, shape, DType::Int32, None, Some(&data))
    }

    /// Writes one graph op as a TFLite operator.
    fn op(&mut self, o: &Op) -> Result<()> {
        let out = single_output(o)?;
        let tf = self.describe(o, out)?;
        let output = self.tensor(out)?;
        let idx = match self.codes.iter().position(|&c| c == (tf.code, tf.version)) {
            Some(i) => i,
            None => {
                self.codes.push((tf.code, tf.version));
                self.codes.len() - 1
            }
        };
        let mut t = T::default()
            .with(0, F::U32(idx as u32))
            .with(1, F::I32s(tf.inputs))
            .with(2, F::I32s(vec![output]));
        if let Some((tag, options)) = tf.options {
            t = t.with(3, F::U8(tag)).with(4, F::Table(options));
        }
        self.operators.push(t);
        Ok(())
    }

    fn describe(&mut self, o: &Op, out: TensorId) -> Result<TfOp> {
        let g = self.graph;
        match o.code {
            OpCode::Conv2d | OpCode::DepthwiseConv2d => self.conv(o, out),
            OpCode::FullyConnected => self.fully_connected(o, out),
            OpCode::Add | OpCode::Mul => {
                let [a, b] = inputs::<2>(o)?;
                let (qa, qb, qo) = (quant(g, a)?, quant(g, b)?, quant(g, out)?);
                let add = o.code == OpCode::Add;
                let act = find_activation(o, |act| {
                    Ok(if add {
                        words!(kernels::add::prepare(act, qa, qb, qo)?)
                    } else {
                        words!(kernels::mul::prepare(act, qa, qb, qo)?)
                    })
                })?;
                let options = T::default().with(0, F::I8(act as i8));
                Ok(TfOp {
                    code: if add { op::ADD } else { op::MUL },
                    version: 2,
                    inputs: vec![self.tensor(a)?, self.tensor(b)?],
                    options: Some((if add { tag::ADD } else { tag::MUL }, options)),
                })
            }
            OpCode::Concatenation => {
                ensure!(!o.inputs.is_empty(), "no inputs");
                let rank = g.tensors[out].shape.len();
                let p = kernels::concatenation::Params::decode(&o.params).map_err(refused)?;
                let axis = (p.axis + rank)
                    .checked_sub(4)
                    .ok_or_else(|| anyhow!("axis {} is outside a rank-{rank} output", p.axis))?;
                let expect =
                    words!(
                        kernels::concatenation::prepare(i32::try_from(axis)?, rank, true)
                            .map_err(refused)?
                    );
                same_words(o, &expect)?;
                check_copy(g, &o.inputs, out)?;
                let inputs = o
                    .inputs
                    .iter()
                    .map(|&t| self.tensor(t))
                    .collect::<Result<_>>()?;
                Ok(TfOp {
                    code: op::CONCATENATION,
                    version: 2,
                    inputs,
                    options: Some((
                        tag::CONCATENATION,
                        T::default()
                            .with(0, F::I32(i32::try_from(axis)?))
                            .with(1, F::I8(0)),
                    )),
                })
            }
            OpCode::MaxPool2d | OpCode::AveragePool2d => {
                let [x] = inputs::<1>(o)?;
                check_copy(g, &[x], out)?;
                let p = kernels::pool::Params::decode(&o.params).map_err(refused)?;
                let (ishape, oq) = (shape4(g, x)?, quant(g, out)?);
                let mut found = None;
                for padding in [kernels::Padding::Same, kernels::Padding::Valid] {
                    let r = find_activation(o, |act| {
                        let opts = kernels::pool::Options {
                            padding,
                            stride_h: p.stride_h,
                            stride_w: p.stride_w,
                            filter_h: p.filter_h,
                            filter_w: p.filter_w,
                            activation: act,
                        };
                        let (params, shape) = kernels::pool::prepare(&opts, ishape, oq)?;
                        if shape != shape4(g, out).map_err(|_| KernelError::Shape)? {
                            return Err(KernelError::Shape);
                        }
                        Ok(words!(params))
                    });
                    if let Ok(act) = r {
                        found = Some((padding, act));
                        break;
                    }
                }
                let (padding, act) = found.ok_or_else(|| {
                    anyhow!("its parameters match no SAME or VALID pooling with a TFLite fused activation")
                })?;
                let max = o.code == OpCode::MaxPool2d;
                Ok(TfOp {
                    code: if max {
                        op::MAX_POOL_2D
                    } else {
                        op::AVERAGE_POOL_2D
                    },
                    version: 2,
                    inputs: vec![self.tensor(x)?],
                    options: Some((
                        tag::POOL_2D,
                        T::default()
                            .with(0, F::I8(padding_code(padding)))
                            .with(1, F::I32(i32::try_from(p.stride_w)?))
                            .with(2, F::I32(i32::try_from(p.stride_h)?))
                            .with(3, F::I32(i32::try_from(p.filter_w)?))
                            .with(4, F::I32(i32::try_from(p.filter_h)?))
                            .with(5, F::I8(act as i8)),
                    )),
                })
            }
            OpCode::Mean => {
                let [x] = inputs::<1>(o)?;
                let p = kernels::mean::Params::decode(&o.params).map_err(refused)?;
                let (ishape, oshape) = (&g.tensors[x].shape, &g.tensors[out].shape);
                let rank = ishape.len();
                let axes = (0..4usize)
                    .filter(|b| p.axis_mask & (1 << b) != 0)
                    .map(|b| {
                        (b + rank).checked_sub(4).ok_or_else(|| {
                            anyhow!("reduces axis {b} of the 4-D shape, outside rank {rank}")
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                ensure!(!axes.is_empty(), "no reduction axes");
                let axes_i32 = axes
                    .iter()
                    .map(|&a| i32::try_from(a))
                    .collect::<Result<Vec<_>, _>>()?;
                let expect =
                    words!(
                        kernels::mean::prepare(&axes_i32, rank, quant(g, x)?, quant(g, out)?)
                            .map_err(refused)?
                    );
                same_words(o, &expect)?;
                let keep_dims = oshape.len() == rank;
                let input = self.tensor(x)?;
                let name = format!("{}/axes", g.tensors[out].name);
                let axes_t = self.const_i32(name, &[axes.len()], &axes_i32)?;
                Ok(TfOp {
                    code: op::MEAN,
                    version: 2,
                    inputs: vec![input, axes_t],
                    options: Some((tag::REDUCER, T::default().with(0, F::Bool(keep_dims)))),
                })
            }
            OpCode::Pad => {
                let [x] = inputs::<1>(o)?;
                check_copy(g, &[x], out)?;
                let p = kernels::pad::Params::decode(&o.params).map_err(refused)?;
                let rank = g.tensors[x].shape.len();
                let lead = 4usize.saturating_sub(rank);
                ensure!(
                    p.paddings.iter().take(lead).all(|&[b, a]| b == 0 && a == 0),
                    "pads dimensions outside the rank-{rank} input"
                );
                let pairs = p
                    .paddings
                    .iter()
                    .skip(lead)
                    .map(|&[b, a]| Ok([i32::try_from(b)?, i32::try_from(a)?]))
                    .collect::<Result<Vec<_>>>()?;
                let expect = words!(
                    kernels::pad::prepare(&pairs, quant(g, out)?.zero_point, None)
                        .map_err(refused)?
                );
                same_words(o, &expect).context(
                    "only PAD with the output zero point is written (not PADV2's constant)",
                )?;
                let input = self.tensor(x)?;
                let flat: Vec<i32> = pairs.iter().flatten().copied().collect();
                let name = format!("{}/paddings", g.tensors[out].name);
                let paddings = self.const_i32(name, &[rank, 2], &flat)?;
                Ok(TfOp {
                    code: op::PAD,
                    version: 2,
                    inputs: vec![input, paddings],
                    options: Some((tag::PAD, T::default())),
                })
            }
            OpCode::Reshape => {
                let [x] = inputs::<1>(o)?;
                check_copy(g, &[x], out)?;
                ensure!(o.params.is_empty(), "RESHAPE has no parameter words");
                let new_shape = g.tensors[out]
                    .shape
                    .iter()
                    .map(|&d| i32::try_from(d))
                    .collect::<Result<Vec<_>, _>>()?;
                let input = self.tensor(x)?;
                let name = format!("{}/shape", g.tensors[out].name);
                let shape_t = self.const_i32(name, &[new_shape.len()], &new_shape)?;
                Ok(TfOp {
                    code: op::RESHAPE,
                    version: 1,
                    inputs: vec![input, shape_t],
                    options: Some((tag::RESHAPE, T::default().with(0, F::I32s(new_shape)))),
                })
            }
            OpCode::ResizeNearestNeighbor | OpCode::ResizeBilinear => {
                let [x] = inputs::<1>(o)?;
                check_copy(g, &[x], out)?;
                let nearest = o.code == OpCode::ResizeNearestNeighbor;
                let (align, half) = if nearest {
                    let p = kernels::resize_nearest::Params::decode(&o.params).map_err(refused)?;
                    (p.align_corners, p.half_pixel_centers)
                } else {
                    let p = kernels::resize_bilinear::Params::decode(&o.params).map_err(refused)?;
                    (p.align_corners, p.half_pixel_centers)
                };
                let oshape = &g.tensors[out].shape;
                ensure!(oshape.len() == 4, "output {oshape:?} is not 4-D");
                let size = [i32::try_from(oshape[1])?, i32::try_from(oshape[2])?];
                let input = self.tensor(x)?;
                let name = format!("{}/size", g.tensors[out].name);
                let size_t = self.const_i32(name, &[2], &size)?;
                let (code, tag, a_slot) = if nearest {
                    (op::RESIZE_NEAREST_NEIGHBOR, tag::RESIZE_NEAREST_NEIGHBOR, 0)
                } else {
                    // Slots 0 and 1 are the deprecated new_height/new_width.
                    (op::RESIZE_BILINEAR, tag::RESIZE_BILINEAR, 2)
                };
                Ok(TfOp {
                    code,
                    // Version 3 adds half_pixel_centers.
                    version: if half { 3 } else { 2 },
                    inputs: vec![input, size_t],
                    options: Some((
                        tag,
                        T::default()
                            .with(a_slot, F::Bool(align))
                            .with(a_slot + 1, F::Bool(half)),
                    )),
                })
            }
            OpCode::Logistic | OpCode::HardSwish => {
                let [x] = inputs::<1>(o)?;
                let (qi, qo) = (quant(g, x)?, quant(g, out)?);
                let (expect, code, version, options) = if o.code == OpCode::Logistic {
                    let p = kernels::logistic::prepare(qi, qo).map_err(refused)?;
                    (words!(p), op::LOGISTIC, 2, None)
                } else {
                    let p = kernels::hard_swish::prepare(qi, qo).map_err(refused)?;
                    (
                        words!(p),
                        op::HARD_SWISH,
                        1,
                        Some((tag::HARD_SWISH, T::default())),
                    )
                };
                same_words(o, &expect)?;
                Ok(TfOp {
                    code,
                    version,
                    inputs: vec![self.tensor(x)?],
                    options,
                })
            }
            OpCode::Softmax => {
                let [x] = inputs::<1>(o)?;
                let (qi, qo) = (quant(g, x)?, quant(g, out)?);
                let p = kernels::softmax::Params::decode(&o.params).map_err(refused)?;
                // input_multiplier * 2^left_shift / 2^31 = beta * scale * 2^26.
                let approx = f64::from(p.input_multiplier) * 2f64.powi(p.input_left_shift)
                    / 2f64.powi(31)
                    / (f64::from(qi.scale) * 2f64.powi(26));
                let beta = find_f32(o, approx, 1.0, |beta| {
                    Ok(words!(kernels::softmax::prepare(beta, qi, qo)?))
                })
                .context("no softmax beta gives its parameters")?;
                Ok(TfOp {
                    code: op::SOFTMAX,
                    version: 2,
                    inputs: vec![self.tensor(x)?],
                    options: Some((tag::SOFTMAX, T::default().with(0, F::F32(beta)))),
                })
            }
            OpCode::LeakyRelu => {
                let [x] = inputs::<1>(o)?;
                let (qi, qo) = (quant(g, x)?, quant(g, out)?);
                let p = kernels::leaky_relu::Params::decode(&o.params).map_err(refused)?;
                // multiplier_alpha * 2^shift / 2^31 = alpha * in / out scale.
                let approx = f64::from(p.multiplier_alpha) * 2f64.powi(p.shift_alpha)
                    / 2f64.powi(31)
                    * f64::from(qo.scale)
                    / f64::from(qi.scale);
                let alpha = find_f32(o, approx, 0.2, |alpha| {
                    Ok(words!(kernels::leaky_relu::prepare(alpha, qi, qo)?))
                })
                .context("no leaky-relu alpha gives its parameters")?;
                Ok(TfOp {
                    code: op::LEAKY_RELU,
                    version: 2,
                    inputs: vec![self.tensor(x)?],
                    options: Some((tag::LEAKY_RELU, T::default().with(0, F::F32(alpha)))),
                })
            }
            OpCode::Quantize => {
                let [x] = inputs::<1>(o)?;
                let qo = quant(g, out)?;
                let from_float = g.tensors[x].dtype == DType::Float32;
                let p = if from_float {
                    kernels::quantize::prepare_from_f32(qo)
                } else {
                    kernels::quantize::prepare_requantize(quant(g, x)?, qo)
                }
                .map_err(refused)?;
                same_words(o, &words!(p))?;
                Ok(TfOp {
                    code: op::QUANTIZE,
                    // Version 2: int8 output.
                    version: 2,
                    inputs: vec![self.tensor(x)?],
                    options: Some((tag::QUANTIZE, T::default())),
                })
            }
            OpCode::Dequantize => {
                let [x] = inputs::<1>(o)?;
                let p = kernels::dequantize::prepare(quant(g, x)?).map_err(refused)?;
                same_words(o, &words!(p))?;
                Ok(TfOp {
                    code: op::DEQUANTIZE,
                    // Version 2: int8 input.
                    version: 2,
                    inputs: vec![self.tensor(x)?],
                    options: Some((tag::DEQUANTIZE, T::default())),
                })
            }
            other => bail!(
                "{} is a fused mote op with no TFLite equivalent; write the unfused graph",
                other.name()
            ),
        }
    }

    /// CONV_2D and DEPTHWISE_CONV_2D: inputs data, filter, bias, multiplier,
    /// shift; the last two are dropped after checking them.
    fn conv(&mut self, o: &Op, out: TensorId) -> Result<TfOp> {
        let g = self.graph;
        let [x, f, b, m, s] = inputs::<5>(o)?;
        let depthwise = o.code == OpCode::DepthwiseConv2d;
        let (qi, qo) = (quant(g, x)?, quant(g, out)?);
        let (ishape, fshape, oshape) = (shape4(g, x)?, shape4(g, f)?, shape4(g, out)?);
        let (stride_h, stride_w, dilation_h, dilation_w) = if depthwise {
            let p = kernels::depthwise_conv2d::Params::decode(&o.params).map_err(refused)?;
            (p.stride_h, p.stride_w, p.dilation_h, p.dilation_w)
        } else {
            let p = kernels::conv2d::Params::decode(&o.params).map_err(refused)?;
            (p.stride_h, p.stride_w, p.dilation_h, p.dilation_w)
        };
        let mut found = None;
        for padding in [kernels::Padding::Same, kernels::Padding::Valid] {
            let r = find_activation(o, |activation| {
                let (words, shape) = if depthwise {
                    let opts = kernels::depthwise_conv2d::Options {
                        padding,
                        stride_h,
                        stride_w,
                        dilation_h,
                        dilation_w,
                        activation,
                    };
                    let (p, shape) =
                        kernels::depthwise_conv2d::prepare(&opts, ishape, fshape, qi, qo)?;
                    (words!(p), shape)
                } else {
                    let opts = kernels::conv2d::Options {
                        padding,
                        stride_h,
                        stride_w,
                        dilation_h,
                        dilation_w,
                        activation,
                    };
                    let (p, shape) = kernels::conv2d::prepare(&opts, ishape, fshape, qi, qo)?;
                    (words!(p), shape)
                };
                if shape != oshape {
                    return Err(KernelError::Shape);
                }
                Ok(words)
            });
            if let Ok(act) = r {
                found = Some((padding, act));
                break;
            }
        }
        let (padding, act) = found.ok_or_else(|| {
            anyhow!(
                "its parameters match no SAME or VALID convolution with a TFLite fused activation"
            )
        })?;
        let scales = filter_scales(g, f)?;
        check_multipliers(g, qi, &scales, qo, m, s, false)?;
        let bias = self.bias(b, out, qi, &scales)?;
        let inputs = vec![self.tensor(x)?, self.tensor(f)?, bias];
        let common = |t: T| {
            t.with(0, F::I8(padding_code(padding)))
                .with(1, F::I32(stride_w as i32))
                .with(2, F::I32(stride_h as i32))
        };
        Ok(if depthwise {
            let in_c = ishape.c.max(1);
            TfOp {
                code: op::DEPTHWISE_CONV_2D,
                version: 3,
                inputs,
                options: Some((
                    tag::DEPTHWISE_CONV_2D,
                    common(T::default())
                        .with(3, F::I32(i32::try_from(fshape.c / in_c)?))
                        .with(4, F::I8(act as i8))
                        .with(5, F::I32(i32::try_from(dilation_w)?))
                        .with(6, F::I32(i32::try_from(dilation_h)?)),
                )),
            }
        } else {
            TfOp {
                code: op::CONV_2D,
                version: 3,
                inputs,
                options: Some((
                    tag::CONV_2D,
                    common(T::default())
                        .with(3, F::I8(act as i8))
                        .with(4, F::I32(i32::try_from(dilation_w)?))
                        .with(5, F::I32(i32::try_from(dilation_h)?)),
                )),
            }
        })
    }

    /// FULLY_CONNECTED: inputs data, filter `[units, depth]`, bias,
    /// multiplier, shift.
    fn fully_connected(&mut self, o: &Op, out: TensorId) -> Result<TfOp> {
        let g = self.graph;
        let [x, f, b, m, s] = inputs::<5>(o)?;
        let (qi, qo) = (quant(g, x)?, quant(g, out)?);
        let act = find_activation(o, |act| {
            Ok(words!(kernels::fully_connected::prepare(act, qi, qo)?))
        })?;
        let scales = filter_scales(g, f)?;
        check_multipliers(g, qi, &scales, qo, m, s, true)?;
        let (ishape, oshape) = (&g.tensors[x].shape, &g.tensors[out].shape);
        // TFLite's output is [rows, units] unless keep_num_dims keeps the
        // input's leading dimensions.
        let keep_num_dims = match oshape.len() {
            2 => false,
            n if n == ishape.len() && oshape[..n - 1] == ishape[..n - 1] => true,
            _ => bail!(
                "output {oshape:?} is neither [1, units] nor the input {ishape:?} with units last"
            ),
        };
        let bias = self.bias(b, out, qi, &scales)?;
        Ok(TfOp {
            code: op::FULLY_CONNECTED,
            version: 4,
            inputs: vec![self.tensor(x)?, self.tensor(f)?, bias],
            options: Some((
                tag::FULLY_CONNECTED,
                T::default()
                    .with(0, F::I8(act as i8))
                    .with(1, F::I8(0))
                    .with(2, F::Bool(keep_num_dims)),
            )),
        })
    }

    /// The bias input: -1 (omitted) for the all-zero bias the importer adds
    /// to a bias-less op, else an int32 tensor quantized as TFLite's
    /// converter does (scale `input scale * filter scale` per channel).
    fn bias(
        &mut self,
        b: TensorId,
        out: TensorId,
        qi: Quant,
        filter_scales: &[f32],
    ) -> Result<i32> {
        let g = self.graph;
        let t = &g.tensors[b];
        ensure!(
            t.dtype == DType::Int32 && t.is_constant(),
            "bias {:?} is not a constant int32 tensor",
            t.name
        );
        let invented = format!("{}/zero_bias", g.tensors[out].name);
        if t.name == invented && t.data.as_ref().is_some_and(|d| d.iter().all(|&v| v == 0)) {
            return Ok(-1);
        }
        let scales: Vec<f32> = filter_scales.iter().map(|s| qi.scale * s).collect();
        let n = scales.len();
        let q = T::default()
            .with(2, F::F32s(scales))
            .with(3, F::I64s(vec![0; n]));
        self.tensor_quantized(b, Some(q))
    }
}

fn refused(e: KernelError) -> anyhow::Error {
    anyhow!("the kernel refused the parameters: {e:?}")
}

fn single_output(o: &Op) -> Result<TensorId> {
    match o.outputs.as_slice() {
        [t] => Ok(*t),
        other => bail!("{} outputs (TFLite ops here have one)", other.len()),
    }
}

/// The op's inputs as an array of exactly `N`.
fn inputs<const N: usize>(o: &Op) -> Result<[TensorId; N]> {
    <[TensorId; N]>::try_from(o.inputs.as_slice())
        .map_err(|_| anyhow!("{} inputs, expected {N}", o.inputs.len()))
}

/// Per-tensor quantization of an int8 tensor.
fn quant(g: &Graph, id: TensorId) -> Result<Quant> {
    let t = &g.tensors[id];
    match (&t.quant, t.dtype) {
        (Quantization::PerTensor { scale, zero_point }, DType::Int8) => {
            Ok(Quant::new(*scale, *zero_point))
        }
        (q, d) => bail!(
            "tensor {:?} is {} {q:?}, expected per-tensor int8",
            t.name,
            d.name()
        ),
    }
}

/// A weight tensor's scales: one per channel, or one for the whole tensor.
fn filter_scales(g: &Graph, id: TensorId) -> Result<Vec<f32>> {
    let t = &g.tensors[id];
    ensure!(
        t.dtype == DType::Int8 && t.is_constant(),
        "weights {:?} are not a constant int8 tensor",
        t.name
    );
    match &t.quant {
        Quantization::PerChannel { scales, .. } => Ok(scales.clone()),
        Quantization::PerTensor {
            scale,
            zero_point: 0,
        } => Ok(vec![*scale]),
        q => bail!("weights {:?} have quantization {q:?}", t.name),
    }
}

fn shape4(g: &Graph, id: TensorId) -> Result<Shape4> {
    let dims = g.tensors[id]
        .shape
        .iter()
        .map(|&d| i32::try_from(d))
        .collect::<Result<Vec<_>, _>>()?;
    Shape4::from_dims(&dims).ok_or_else(|| anyhow!("shape {dims:?} is not at most 4-D"))
}

fn padding_code(p: kernels::Padding) -> i8 {
    match p {
        kernels::Padding::Same => 0,
        kernels::Padding::Valid => 1,
    }
}

/// The op's parameter words must be `expect` (what TFLite's options give).
fn same_words(o: &Op, expect: &[i32]) -> Result<()> {
    ensure!(
        o.params == expect,
        "its parameters {:?} are not the {expect:?} TFLite computes from the file",
        o.params
    );
    Ok(())
}

/// The first fused activation (NONE, RELU, RELU6, RELU_N1_TO_1) for which
/// `prepare` gives the op's words. NONE comes first: when the output's
/// range makes a clamp a no-op, TFLite's result is the same either way.
fn find_activation(
    o: &Op,
    mut prepare: impl FnMut(Activation) -> Result<Vec<i32>, KernelError>,
) -> Result<Activation> {
    [
        Activation::None,
        Activation::Relu,
        Activation::Relu6,
        Activation::ReluN1To1,
    ]
    .into_iter()
    .find(|&a| prepare(a).is_ok_and(|w| w == o.params))
    .ok_or_else(|| {
        anyhow!(
            "its parameters {:?} match no TFLite fused activation",
            o.params
        )
    })
}

/// A float option (softmax beta, leaky-relu alpha) that mote folded into
/// fixed-point words: `usual`, then the value the words imply and its f32
/// neighbours, the first for which `prepare` gives back the op's words.
/// Any such value is the same model: TFLite computes the same words from it.
fn find_f32(
    o: &Op,
    approx: f64,
    usual: f32,
    mut prepare: impl FnMut(f32) -> Result<Vec<i32>, KernelError>,
) -> Result<f32> {
    let mut matches = |v: f32| v.is_finite() && prepare(v).is_ok_and(|w| w == o.params);
    if matches(usual) {
        return Ok(usual);
    }
    let center = approx as f32;
    ensure!(center.is_finite(), "the parameters imply {approx}");
    let bits = center.to_bits();
    for k in 0..=4096u32 {
        for b in [bits.wrapping_add(k), bits.wrapping_sub(k)] {
            let v = f32::from_bits(b);
            if matches(v) {
                return Ok(v);
            }
        }
    }
    bail!("none near {approx}")
}

/// mote's multiplier and shift inputs must be what TFLite computes from the
/// scales (per channel, or FULLY_CONNECTED's per-tensor formula), since the
/// file does not carry them.
fn check_multipliers(
    g: &Graph,
    qi: Quant,
    filter_scales: &[f32],
    qo: Quant,
    m: TensorId,
    s: TensorId,
    fully_connected: bool,
) -> Result<()> {
    let read = |id: TensorId| -> Result<Vec<i32>> {
        let t = &g.tensors[id];
        ensure!(
            t.dtype == DType::Int32,
            "{:?} is not an int32 constant",
            t.name
        );
        let data = t
            .data
            .as_ref()
            .ok_or_else(|| anyhow!("{:?} is not constant", t.name))?;
        Ok(data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    };
    let (mults, shifts) = (read(m)?, read(s)?);
    let n = mults.len();
    ensure!(
        shifts.len() == n,
        "{n} multipliers but {} shifts",
        shifts.len()
    );
    let (want_m, want_s) = match filter_scales {
        [scale] if fully_connected => {
            let (wm, ws) =
                kernels::fully_connected::per_tensor_multiplier(qi.scale, *scale, qo.scale)
                    .map_err(refused)?;
            (vec![wm; n], vec![ws; n])
        }
        _ => {
            let (mut wm, mut ws) = (vec![0; n], vec![0; n]);
            mote_core::quant::per_channel_multipliers(
                qi.scale,
                filter_scales,
                qo.scale,
                &mut wm,
                &mut ws,
            )
            .map_err(refused)?;
            (wm, ws)
        }
    };
    ensure!(
        mults == want_m && shifts == want_s,
        "its multipliers and shifts are not the ones TFLite computes from the scales"
    );
    Ok(())
}

/// Ops that move int8 values unchanged need one quantization on both sides
/// (TFLite's converter makes it so; the importer refuses anything else).
fn check_copy(g: &Graph, inputs: &[TensorId], out: TensorId) -> Result<()> {
    let o = &g.tensors[out];
    for &i in inputs {
        let t = &g.tensors[i];
        ensure!(
            t.quant == o.quant,
            "input {:?} is quantized {:?} but output {:?} {:?}; this op copies int8 values",
            t.name,
            t.quant,
            o.name,
            o.quant
        );
    }
    Ok(())
}
