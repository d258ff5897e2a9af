//! The small enumerations the blob stores as codes: element types and op codes.

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DType {
    /// Signed 8-bit integer: every activation and weight of an int8 model.
    Int8,
    /// Signed 32-bit integer: biases and precomputed per-channel multipliers/shifts.
    Int32,
    /// IEEE-754 binary32: only the input of QUANTIZE and the output of DEQUANTIZE.
    Float32,
}

impl DType {
    /// The code stored in the tensor table.
    pub const fn code(self) -> u8 {
        match self {
            DType::Int8 => 0,
            DType::Int32 => 1,
            DType::Float32 => 2,
        }
    }

    /// The type for a stored code, if the code is known.
    pub const fn from_code(code: u8) -> Option<DType> {
        match code {
            0 => Some(DType::Int8),
            1 => Some(DType::Int32),
            2 => Some(DType::Float32),
            _ => None,
        }
    }

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            DType::Int8 => 1,
            DType::Int32 | DType::Float32 => 4,
        }
    }

    /// Lower-case name as TFLite spells it (`int8`, `int32`, `float32`).
    pub const fn name(self) -> &'static str {
        match self {
            DType::Int8 => "int8",
            DType::Int32 => "int32",
            DType::Float32 => "float32",
        }
    }
}

/// What a model's output means, so a tool or firmware can post-process it
/// without being told (the directory's `head` field, FORMAT.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Head {
    /// No declared meaning: raw output tensors.
    #[default]
    None,
    /// Output 0 is per-pixel class logits, int8 NHWC; the class of a pixel
    /// is the argmax over channels (see `heads::segment`).
    Segmentation,
    /// Output 0 is a density map; the count is the sum of its dequantized
    /// values (see `heads::density`).
    Density,
}

impl Head {
    /// Every head kind, in code order.
    pub const ALL: &'static [Head] = &[Head::None, Head::Segmentation, Head::Density];

    /// The code stored in the directory.
    pub const fn code(self) -> u32 {
        match self {
            Head::None => 0,
            Head::Segmentation => 1,
            Head::Density => 2,
        }
    }

    /// The head for a stored code, if the code is known.
    pub const fn from_code(code: u32) -> Option<Head> {
        match code {
            0 => Some(Head::None),
            1 => Some(Head::Segmentation),
            2 => Some(Head::Density),
            _ => None,
        }
    }

    /// Lower-case name (`none`, `segmentation`, `density`), for `inspect`.
    pub const fn name(self) -> &'static str {
        match self {
            Head::None => "none",
            Head::Segmentation => "segmentation",
            Head::Density => "density",
        }
    }
}

macro_rules! op_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $name:literal;)*) => {
        /// An operator. The numeric code is what the op table stores; it is
        /// mote's own numbering, not TFLite's builtin code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum OpCode {
            $($(#[$doc])* $variant,)*
        }

        impl OpCode {
            /// Every op, in code order.
            pub const ALL: &'static [OpCode] = &[$(OpCode::$variant,)*];

            /// The code stored in the op table.
            pub const fn code(self) -> u16 {
                match self {
                    $(OpCode::$variant => $code,)*
                }
            }

            /// The op for a stored code, if the code is known.
            pub const fn from_code(code: u16) -> Option<OpCode> {
                match code {
                    $($code => Some(OpCode::$variant),)*
                    _ => None,
                }
            }

            /// TFLite's name for the op (`CONV_2D`, ...), used by `inspect`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(OpCode::$variant => $name,)*
                }
            }
        }
    };
}

op_codes! {
    /// 2-D convolution, per-channel int8 weights.
    Conv2d = 1, "CONV_2D";
    /// Depthwise 2-D convolution with a depth multiplier.
    DepthwiseConv2d = 2, "DEPTHWISE_CONV_2D";
    /// Fully connected (dense) layer.
    FullyConnected = 3, "FULLY_CONNECTED";
    /// Element-wise addition with broadcasting.
    Add = 4, "ADD";
    /// Element-wise multiplication with broadcasting.
    Mul = 5, "MUL";
    /// Concatenation along one axis.
    Concatenation = 6, "CONCATENATION";
    /// 2-D max pooling.
    MaxPool2d = 7, "MAX_POOL_2D";
    /// 2-D average pooling.
    AveragePool2d = 8, "AVERAGE_POOL_2D";
    /// Mean over axes.
    Mean = 9, "MEAN";
    /// Constant padding.
    Pad = 10, "PAD";
    /// Reshape: same bytes, new shape (may alias its input in the arena).
    Reshape = 11, "RESHAPE";
    /// Nearest-neighbour resize.
    ResizeNearestNeighbor = 12, "RESIZE_NEAREST_NEIGHBOR";
    /// Bilinear resize.
    ResizeBilinear = 13, "RESIZE_BILINEAR";
    /// Logistic sigmoid.
    Logistic = 14, "LOGISTIC";
    /// Softmax over the last axis.
    Softmax = 15, "SOFTMAX";
    /// Hard swish.
    HardSwish = 16, "HARD_SWISH";
    /// Leaky ReLU.
    LeakyRelu = 17, "LEAKY_RELU";
    /// Float32 (or int8) to int8 quantization.
    Quantize = 18, "QUANTIZE";
    /// Int8 to float32 dequantization.
    Dequantize = 19, "DEQUANTIZE";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_codes_round_trip() {
        for (i, h) in Head::ALL.iter().enumerate() {
            assert_eq!(h.code(), i as u32);
            assert_eq!(Head::from_code(h.code()), Some(*h));
        }
        assert_eq!(Head::from_code(3), None);
        assert_eq!(Head::from_code(u32::MAX), None);
        assert_eq!(Head::default(), Head::None);
    }

    #[test]
    fn op_codes_round_trip_and_are_distinct() {
        for (i, op) in OpCode::ALL.iter().enumerate() {
            assert_eq!(OpCode::from_code(op.code()), Some(*op));
            for other in &OpCode::ALL[i + 1..] {
                assert_ne!(op.code(), other.code());
            }
        }
        assert_eq!(OpCode::from_code(0), None);
        assert_eq!(OpCode::from_code(20), None);
    }

    #[test]
    fn dtype_codes_round_trip() {
        for t in [DType::Int8, DType::Int32, DType::Float32] {
            assert_eq!(DType::from_code(t.code()), Some(t));
        }
        assert_eq!(DType::from_code(3), None);
    }
}
