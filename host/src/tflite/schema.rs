//! The subset of TFLite's `schema.fbs` that mote reads, as plain Rust structs.
//!
//! Field slots follow the schema's declaration order (a union takes two
//! slots: its type tag, then its table). Only the fields the importer needs
//! are decoded; fields that would change an op's meaning and that mote does
//! not support (sparsity, custom quantization, custom options) are recorded
//! as flags so the converter can reject them by name.

use super::flatbuf::{FlatError, Result, Table};

/// TFLite's `TensorType` values mote meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    Float32,
    Int32,
    Int8,
    Int64,
    /// Any other type, by its schema value.
    Other(i8),
}

impl TensorType {
    fn from_raw(v: i8) -> Self {
        match v {
            0 => TensorType::Float32,
            2 => TensorType::Int32,
            4 => TensorType::Int64,
            9 => TensorType::Int8,
            other => TensorType::Other(other),
        }
    }

    /// The schema's name for the type.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 18] = [
            "FLOAT32",
            "FLOAT16",
            "INT32",
            "UINT8",
            "INT64",
            "STRING",
            "BOOL",
            "INT16",
            "COMPLEX64",
            "INT8",
            "FLOAT64",
            "COMPLEX128",
            "UINT64",
            "RESOURCE",
            "VARIANT",
            "UINT32",
            "UINT16",
            "INT4",
        ];
        let raw = match self {
            TensorType::Float32 => 0,
            TensorType::Int32 => 2,
            TensorType::Int64 => 4,
            TensorType::Int8 => 9,
            TensorType::Other(v) => v,
        };
        usize::try_from(raw)
            .ok()
            .and_then(|i| NAMES.get(i))
            .copied()
            .unwrap_or("UNKNOWN")
    }
}

/// `Padding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Same,
    Valid,
}

impl Padding {
    fn from_raw(v: i8) -> Result<Self> {
        match v {
            0 => Ok(Padding::Same),
            1 => Ok(Padding::Valid),
            other => Err(FlatError::Invalid(format!("padding value {other}"))),
        }
    }
}

/// `ActivationFunctionType`, kept raw: the converter decides what it supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activation(pub i8);

impl Activation {
    pub const NONE: Activation = Activation(0);
    pub const RELU: Activation = Activation(1);
    pub const RELU_N1_TO_1: Activation = Activation(2);
    pub const RELU6: Activation = Activation(3);
    pub const TANH: Activation = Activation(4);
    pub const SIGN_BIT: Activation = Activation(5);

    /// The schema's name for the activation.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "NONE",
            1 => "RELU",
            2 => "RELU_N1_TO_1",
            3 => "RELU6",
            4 => "TANH",
            5 => "SIGN_BIT",
            _ => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conv2DOptions {
    pub padding: Padding,
    pub stride_w: i32,
    pub stride_h: i32,
    pub activation: Activation,
    pub dilation_w: i32,
    pub dilation_h: i32,
    /// `quantized_bias_type` (FLOAT32 = unset, i.e. the default int32 bias).
    pub quantized_bias_type: TensorType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DepthwiseConv2DOptions {
    pub padding: Padding,
    pub stride_w: i32,
    pub stride_h: i32,
    pub depth_multiplier: i32,
    pub activation: Activation,
    pub dilation_w: i32,
    pub dilation_h: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pool2DOptions {
    pub padding: Padding,
    pub stride_w: i32,
    pub stride_h: i32,
    pub filter_w: i32,
    pub filter_h: i32,
    pub activation: Activation,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FullyConnectedOptions {
    pub activation: Activation,
    /// 0 = DEFAULT; 1 = SHUFFLED4x16INT8 (unsupported).
    pub weights_format: i8,
    pub keep_num_dims: bool,
    pub asymmetric_quantize_inputs: bool,
    pub quantized_bias_type: TensorType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResizeOptions {
    pub align_corners: bool,
    pub half_pixel_centers: bool,
}

/// The `BuiltinOptions` union members mote reads.
#[derive(Debug, Clone, PartialEq)]
pub enum BuiltinOptions {
    None,
    Conv2D(Conv2DOptions),
    DepthwiseConv2D(DepthwiseConv2DOptions),
    Pool2D(Pool2DOptions),
    FullyConnected(FullyConnectedOptions),
    Softmax {
        beta: f32,
    },
    Concatenation {
        axis: i32,
        activation: Activation,
    },
    Add {
        activation: Activation,
    },
    Mul {
        activation: Activation,
    },
    ResizeBilinear(ResizeOptions),
    ResizeNearestNeighbor(ResizeOptions),
    Reshape {
        new_shape: Vec<i32>,
    },
    Reducer {
        keep_dims: bool,
    },
    LeakyRelu {
        alpha: f32,
    },
    /// An options table with no fields (PadOptions, QuantizeOptions, ...).
    Empty(u8),
    /// A union member mote does not decode, by its union tag.
    Other(u8),
}

impl BuiltinOptions {
    fn read(tag: u8, table: Option<Table<'_>>) -> Result<Self> {
        let Some(t) = table else {
            return Ok(BuiltinOptions::None);
        };
        let act = |slot| t.scalar::<i8>(slot, 0).map(Activation);
        Ok(match tag {
            0 => BuiltinOptions::None,
            1 => BuiltinOptions::Conv2D(Conv2DOptions {
                padding: Padding::from_raw(t.scalar(0, 0)?)?,
                stride_w: t.scalar(1, 0)?,
                stride_h: t.scalar(2, 0)?,
                activation: act(3)?,
                dilation_w: t.scalar(4, 1)?,
                dilation_h: t.scalar(5, 1)?,
                quantized_bias_type: TensorType::from_raw(t.scalar(6, 0)?),
            }),
            2 => BuiltinOptions::DepthwiseConv2D(DepthwiseConv2DOptions {
                padding: Padding::from_raw(t.scalar(0, 0)?)?,
                stride_w: t.scalar(1, 0)?,
                stride_h: t.scalar(2, 0)?,
                depth_multiplier: t.scalar(3, 0)?,
                activation: act(4)?,
                dilation_w: t.scalar(5, 1)?,
                dilation_h: t.scalar(6, 1)?,
            }),
            5 => BuiltinOptions::Pool2D(Pool2DOptions {
                padding: Padding::from_raw(t.scalar(0, 0)?)?,
                stride_w: t.scalar(1, 0)?,
                stride_h: t.scalar(2, 0)?,
                filter_w: t.scalar(3, 0)?,
                filter_h: t.scalar(4, 0)?,
                activation: act(5)?,
            }),
            8 => BuiltinOptions::FullyConnected(FullyConnectedOptions {
                activation: act(0)?,
                weights_format: t.scalar(1, 0)?,
                keep_num_dims: t.bool(2, false)?,
                asymmetric_quantize_inputs: t.bool(3, false)?,
                quantized_bias_type: TensorType::from_raw(t.scalar(4, 0)?),
            }),
            9 => BuiltinOptions::Softmax {
                beta: t.scalar(0, 0.0)?,
            },
            10 => BuiltinOptions::Concatenation {
                axis: t.scalar(0, 0)?,
                activation: act(1)?,
            },
            11 => BuiltinOptions::Add {
                activation: act(0)?,
            },
            15 => BuiltinOptions::ResizeBilinear(ResizeOptions {
                // Slots 0 and 1 are the deprecated new_height/new_width.
                align_corners: t.bool(2, false)?,
                half_pixel_centers: t.bool(3, false)?,
            }),
            17 => BuiltinOptions::Reshape {
                new_shape: t.scalars(0)?,
            },
            21 => BuiltinOptions::Mul {
                activation: act(0)?,
            },
            27 => BuiltinOptions::Reducer {
                keep_dims: t.bool(0, false)?,
            },
            74 => BuiltinOptions::ResizeNearestNeighbor(ResizeOptions {
                align_corners: t.bool(0, false)?,
                half_pixel_centers: t.bool(1, false)?,
            }),
            75 => BuiltinOptions::LeakyRelu {
                alpha: t.scalar(0, 0.0)?,
            },
            // PadOptions, DequantizeOptions, QuantizeOptions, HardSwishOptions.
            22 | 38 | 89 | 91 => BuiltinOptions::Empty(tag),
            other => BuiltinOptions::Other(other),
        })
    }
}

/// `QuantizationParameters`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quantization {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    pub quantized_dimension: i32,
    /// A `details` union (custom quantization) is present.
    pub has_details: bool,
}

impl Quantization {
    fn read(t: Table<'_>) -> Result<Self> {
        Ok(Quantization {
            scale: t.scalars(2)?,
            zero_point: t.scalars(3)?,
            has_details: t.scalar::<u8>(4, 0)? != 0,
            quantized_dimension: t.scalar(6, 0)?,
        })
    }
}

/// `Tensor`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<i32>,
    pub dtype: TensorType,
    pub buffer: u32,
    pub name: String,
    /// Absent, or present with no scales, means "not quantized".
    pub quantization: Option<Quantization>,
    pub is_variable: bool,
    pub is_sparse: bool,
}

impl Tensor {
    fn read(t: Table<'_>) -> Result<Self> {
        Ok(Tensor {
            shape: t.scalars(0)?,
            dtype: TensorType::from_raw(t.scalar(1, 0)?),
            buffer: t.scalar(2, 0)?,
            name: t.string(3)?.unwrap_or_default().to_owned(),
            quantization: t.table(4)?.map(Quantization::read).transpose()?,
            is_variable: t.bool(5, false)?,
            is_sparse: t.table(6)?.is_some(),
        })
    }
}

/// `OperatorCode`, with the builtin code already resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorCode {
    /// `max(deprecated_builtin_code, builtin_code)`: old files only set the
    /// byte-sized deprecated field, new ones set both (the deprecated one
    /// saturating at 127 for codes that do not fit).
    pub builtin: i32,
    pub custom_code: Option<String>,
    pub version: i32,
}

impl OperatorCode {
    fn read(t: Table<'_>) -> Result<Self> {
        let deprecated = i32::from(t.scalar::<i8>(0, 0)?);
        let builtin = t.scalar::<i32>(3, 0)?;
        Ok(OperatorCode {
            builtin: deprecated.max(builtin),
            custom_code: t.string(1)?.map(str::to_owned),
            version: t.scalar(2, 1)?,
        })
    }
}

/// `Operator`.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    pub opcode_index: u32,
    /// Tensor indices; -1 marks an omitted optional input.
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub options: BuiltinOptions,
    pub has_custom_options: bool,
    pub intermediates: Vec<i32>,
}

impl Operator {
    fn read(t: Table<'_>) -> Result<Self> {
        let tag = t.scalar::<u8>(3, 0)?;
        Ok(Operator {
            opcode_index: t.scalar(0, 0)?,
            inputs: t.scalars(1)?,
            outputs: t.scalars(2)?,
            options: BuiltinOptions::read(tag, t.table(4)?)?,
            has_custom_options: t.vector(5)?.is_some_and(|v| !v.is_empty()),
            intermediates: t.scalars(8)?,
        })
    }
}

/// `SubGraph`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubGraph {
    pub tensors: Vec<Tensor>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub operators: Vec<Operator>,
    pub name: String,
}

impl SubGraph {
    fn read(t: Table<'_>) -> Result<Self> {
        Ok(SubGraph {
            tensors: t
                .tables(0)?
                .into_iter()
                .map(Tensor::read)
                .collect::<Result<_>>()?,
            inputs: t.scalars(1)?,
            outputs: t.scalars(2)?,
            operators: t
                .tables(3)?
                .into_iter()
                .map(Operator::read)
                .collect::<Result<_>>()?,
            name: t.string(4)?.unwrap_or_default().to_owned(),
        })
    }
}

/// `Model`: the root. Buffers borrow the file's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Model<'a> {
    pub version: u32,
    pub operator_codes: Vec<OperatorCode>,
    pub subgraphs: Vec<SubGraph>,
    pub description: String,
    /// Raw contents of each buffer (empty for tensors without data).
    pub buffers: Vec<&'a [u8]>,
    /// `metadata`: named buffers (`(name, buffer index)`), which runtimes
    /// ignore; mote keeps the blob's head kind there (see [`HEAD_METADATA`]).
    pub metadata: Vec<(String, u32)>,
}

/// The metadata entry in which mote's `.tflite` writer records the blob's
/// head kind (its buffer holds the name, e.g. `segmentation`): TFLite has
/// no notion of it, and TFLite runtimes skip metadata they do not know.
pub const HEAD_METADATA: &str = "mote.head";

/// TFLite's file identifier, at bytes 4..8.
pub const FILE_IDENTIFIER: &[u8; 4] = b"TFL3";

impl<'a> Model<'a> {
    /// Decodes a `.tflite` file. Every offset is checked; nothing is trusted.
    pub fn read(file: &'a [u8]) -> Result<Self> {
        match file.get(4..8) {
            Some(id) if id == FILE_IDENTIFIER => {}
            Some(_) => {
                return Err(FlatError::Invalid(
                    "not a TFLite model (file identifier is not \"TFL3\")".into(),
                ))
            }
            None => {
                return Err(FlatError::OutOfBounds {
                    at: 0,
                    len: 8,
                    size: file.len(),
                })
            }
        }
        let root = Table::root(file)?;
        let buffers = root
            .tables(4)?
            .into_iter()
            .map(|b| read_buffer(file, b))
            .collect::<Result<_>>()?;
        Ok(Model {
            version: root.scalar(0, 0)?,
            operator_codes: root
                .tables(1)?
                .into_iter()
                .map(OperatorCode::read)
                .collect::<Result<_>>()?,
            subgraphs: root
                .tables(2)?
                .into_iter()
                .map(SubGraph::read)
                .collect::<Result<_>>()?,
            description: root.string(3)?.unwrap_or_default().to_owned(),
            buffers,
            metadata: root
                .tables(6)?
                .into_iter()
                .map(|m| Ok((m.string(0)?.unwrap_or_default().to_owned(), m.scalar(1, 0)?)))
                .collect::<Result<_>>()?,
        })
    }
}

/// A `Buffer`'s bytes: either inline `data`, or (for models over 2 GB) an
/// `offset`/`size` pair into the file, valid when `offset > 1`.
fn read_buffer<'a>(file: &'a [u8], b: Table<'a>) -> Result<&'a [u8]> {
    let data = b.bytes(0)?;
    let offset = b.scalar::<u64>(1, 0)?;
    let size = b.scalar::<u64>(2, 0)?;
    if offset > 1 {
        let start = usize::try_from(offset).ok();
        let len = usize::try_from(size).ok();
        return start
            .zip(len)
            .and_then(|(s, l)| s.checked_add(l).and_then(|e| file.get(s..e)))
            .ok_or(FlatError::OutOfBounds {
                at: start.unwrap_or(usize::MAX),
                len: len.unwrap_or(usize::MAX),
                size: file.len(),
            });
    }
    Ok(data)
}

/// The schema's name of a builtin operator code, for messages.
pub fn builtin_name(code: i32) -> String {
    const NAMES: &[&str] = &[
        "ADD",
        "AVERAGE_POOL_2D",
        "CONCATENATION",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "DEPTH_TO_SPACE",
        "DEQUANTIZE",
        "EMBEDDING_LOOKUP",
        "FLOOR",
        "FULLY_CONNECTED",
        "HASHTABLE_LOOKUP",
        "L2_NORMALIZATION",
        "L2_POOL_2D",
        "LOCAL_RESPONSE_NORMALIZATION",
        "LOGISTIC",
        "LSH_PROJECTION",
        "LSTM",
        "MAX_POOL_2D",
        "MUL",
        "RELU",
        "RELU_N1_TO_1",
        "RELU6",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RNN",
        "SOFTMAX",
        "SPACE_TO_DEPTH",
        "SVDF",
        "TANH",
        "CONCAT_EMBEDDINGS",
        "SKIP_GRAM",
        "CALL",
        "CUSTOM",
        "EMBEDDING_LOOKUP_SPARSE",
        "PAD",
        "UNIDIRECTIONAL_SEQUENCE_RNN",
        "GATHER",
        "BATCH_TO_SPACE_ND",
        "SPACE_TO_BATCH_ND",
        "TRANSPOSE",
        "MEAN",
        "SUB",
        "DIV",
        "SQUEEZE",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "STRIDED_SLICE",
        "BIDIRECTIONAL_SEQUENCE_RNN",
        "EXP",
        "TOPK_V2",
        "SPLIT",
        "LOG_SOFTMAX",
        "DELEGATE",
        "BIDIRECTIONAL_SEQUENCE_LSTM",
        "CAST",
        "PRELU",
        "MAXIMUM",
        "ARG_MAX",
        "MINIMUM",
        "LESS",
        "NEG",
        "PADV2",
        "GREATER",
        "GREATER_EQUAL",
        "LESS_EQUAL",
        "SELECT",
        "SLICE",
        "SIN",
        "TRANSPOSE_CONV",
        "SPARSE_TO_DENSE",
        "TILE",
        "EXPAND_DIMS",
        "EQUAL",
        "NOT_EQUAL",
        "LOG",
        "SUM",
        "SQRT",
        "RSQRT",
        "SHAPE",
        "POW",
        "ARG_MIN",
        "FAKE_QUANT",
        "REDUCE_PROD",
        "REDUCE_MAX",
        "PACK",
        "LOGICAL_OR",
        "ONE_HOT",
        "LOGICAL_AND",
        "LOGICAL_NOT",
        "UNPACK",
        "REDUCE_MIN",
        "FLOOR_DIV",
        "REDUCE_ANY",
        "SQUARE",
        "ZEROS_LIKE",
        "FILL",
        "FLOOR_MOD",
        "RANGE",
        "RESIZE_NEAREST_NEIGHBOR",
        "LEAKY_RELU",
        "SQUARED_DIFFERENCE",
        "MIRROR_PAD",
        "ABS",
        "SPLIT_V",
        "UNIQUE",
        "CEIL",
        "REVERSE_V2",
        "ADD_N",
        "GATHER_ND",
        "COS",
        "WHERE",
        "RANK",
        "ELU",
        "REVERSE_SEQUENCE",
        "MATRIX_DIAG",
        "QUANTIZE",
        "MATRIX_SET_DIAG",
        "ROUND",
        "HARD_SWISH",
        "IF",
        "WHILE",
        "NON_MAX_SUPPRESSION_V4",
        "NON_MAX_SUPPRESSION_V5",
        "SCATTER_ND",
        "SELECT_V2",
        "DENSIFY",
        "SEGMENT_SUM",
        "BATCH_MATMUL",
        "PLACEHOLDER_FOR_GREATER_OP_CODES",
        "CUMSUM",
        "CALL_ONCE",
        "BROADCAST_TO",
        "RFFT2D",
        "CONV_3D",
        "IMAG",
        "REAL",
        "COMPLEX_ABS",
        "HASHTABLE",
        "HASHTABLE_FIND",
        "HASHTABLE_IMPORT",
        "HASHTABLE_SIZE",
        "REDUCE_ALL",
        "CONV_3D_TRANSPOSE",
        "VAR_HANDLE",
        "READ_VARIABLE",
        "ASSIGN_VARIABLE",
        "BROADCAST_ARGS",
        "RANDOM_STANDARD_NORMAL",
        "BUCKETIZE",
        "RANDOM_UNIFORM",
        "MULTINOMIAL",
        "GELU",
        "DYNAMIC_UPDATE_SLICE",
        "RELU_0_TO_1",
        "UNSORTED_SEGMENT_PROD",
        "UNSORTED_SEGMENT_MAX",
        "UNSORTED_SEGMENT_SUM",
        "ATAN2",
        "UNSORTED_SEGMENT_MIN",
        "SIGN",
        "BITCAST",
        "BITWISE_XOR",
        "RIGHT_SHIFT",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map(|s| (*s).to_owned())
        .unwrap_or_else(|| format!("builtin operator {code}"))
}

/// Builtin operator codes mote imports.
pub mod op {
    pub const ADD: i32 = 0;
    pub const AVERAGE_POOL_2D: i32 = 1;
    pub const CONCATENATION: i32 = 2;
    pub const CONV_2D: i32 = 3;
    pub const DEPTHWISE_CONV_2D: i32 = 4;
    pub const DEQUANTIZE: i32 = 6;
    pub const FULLY_CONNECTED: i32 = 9;
    pub const LOGISTIC: i32 = 14;
    pub const MAX_POOL_2D: i32 = 17;
    pub const MUL: i32 = 18;
    pub const RESHAPE: i32 = 22;
    pub const RESIZE_BILINEAR: i32 = 23;
    pub const SOFTMAX: i32 = 25;
    pub const CUSTOM: i32 = 32;
    pub const PAD: i32 = 34;
    pub const MEAN: i32 = 40;
    pub const RESIZE_NEAREST_NEIGHBOR: i32 = 97;
    pub const LEAKY_RELU: i32 = 98;
    pub const QUANTIZE: i32 = 114;
    pub const HARD_SWISH: i32 = 117;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_names_match_codes() {
        assert_eq!(builtin_name(op::ADD), "ADD");
        assert_eq!(builtin_name(op::MEAN), "MEAN");
        assert_eq!(
            builtin_name(op::RESIZE_NEAREST_NEIGHBOR),
            "RESIZE_NEAREST_NEIGHBOR"
        );
        assert_eq!(builtin_name(op::LEAKY_RELU), "LEAKY_RELU");
        assert_eq!(builtin_name(op::QUANTIZE), "QUANTIZE");
        assert_eq!(builtin_name(op::HARD_SWISH), "HARD_SWISH");
        assert_eq!(builtin_name(126), "BATCH_MATMUL");
        assert_eq!(builtin_name(161), "RIGHT_SHIFT");
        assert_eq!(builtin_name(9999), "builtin operator 9999");
    }

    #[test]
    fn rejects_non_tflite() {
        assert!(Model::read(b"").is_err());
        assert!(Model::read(b"\x08\0\0\0XXXX\0\0\0\0").is_err());
    }
}
