//! Model architectures as plain data: a list of layers with shapes.
//!
//! The same [`Arch`] value drives three things, so they can never disagree:
//! the candle network that trains it ([`super::net`]), the budget checks
//! ([`super::budget`]: MACs, weight bytes, activation peak) and, later, the
//! exporter that walks the layers to write the runtime's graph. Every op here
//! has a runtime counterpart (CONV_2D, DEPTHWISE_CONV_2D, ADD,
//! CONCATENATION, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR); activations are
//! the fused ReLU/ReLU6 clamps of those ops, and batch norm exists only at
//! training time (folded into the conv before export, see [`super::fold`]).
use anyhow::{bail, ensure, Result};

/// Index of a tensor: 0 is the model input, `i + 1` the output of layer `i`.
pub type TensorId = usize;

/// Per-sample activation shape (batch 1), stored NHWC on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Shape {
    pub const fn new(h: usize, w: usize, c: usize) -> Shape {
        Shape { h, w, c }
    }

    /// Elements, which is also the int8 byte size.
    pub const fn len(&self) -> usize {
        self.h * self.w * self.c
    }

    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Fused activation clamp applied to a layer's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    None,
    Relu,
    Relu6,
}

/// How an upsampling layer interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// RESIZE_NEAREST_NEIGHBOR, `align_corners = false`, `half_pixel_centers = false`:
    /// output pixel `y` reads input `floor(y / factor)`.
    Nearest,
    /// RESIZE_BILINEAR with `half_pixel_centers = true` (only factor 2 is
    /// implemented for training: weights 3/4 and 1/4, edges clamped).
    Bilinear,
}

/// One layer's operation. Convolutions use TFLite `SAME` padding: output
/// size `ceil(in / stride)`, the odd padding pixel at the bottom/right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Full `kernel x kernel` convolution (CONV_2D); `bn` adds a batch norm
    /// between the convolution and the activation during training.
    Conv {
        kernel: usize,
        stride: usize,
        out_channels: usize,
        act: Act,
        bn: bool,
    },
    /// Depthwise convolution, one filter per channel (DEPTHWISE_CONV_2D,
    /// depth multiplier 1).
    Depthwise {
        kernel: usize,
        stride: usize,
        act: Act,
        bn: bool,
    },
    /// Element-wise sum of two tensors of one shape (ADD).
    Add { act: Act },
    /// Channel concatenation (CONCATENATION on the last NHWC axis).
    Concat,
    /// Integer-factor upsampling.
    Upsample { factor: usize, mode: Resize },
}

impl Op {
    /// Whether the layer has trainable weights (and a bias).
    pub fn has_weights(&self) -> bool {
        matches!(self, Op::Conv { .. } | Op::Depthwise { .. })
    }

    /// Whether the layer has a batch norm while training.
    pub fn has_bn(&self) -> bool {
        match self {
            Op::Conv { bn, .. } | Op::Depthwise { bn, .. } => *bn,
            _ => false,
        }
    }
}

/// One layer: its op, the tensors it reads, and its output shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Unique name; also the prefix of its parameters in checkpoints.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<TensorId>,
    pub out: Shape,
}

/// A whole model: input shape, layers in execution order, and which tensor
/// is the output. `encoder` names the tensor a classification head attaches
/// to for fractal pre-training.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arch {
    pub name: String,
    pub input: Shape,
    pub layers: Vec<Layer>,
    pub output: TensorId,
    pub encoder: TensorId,
}

impl Arch {
    /// Shape of a tensor, or `None` for an unknown id.
    pub fn shape(&self, t: TensorId) -> Option<Shape> {
        if t == 0 {
            Some(self.input)
        } else {
            self.layers.get(t - 1).map(|l| l.out)
        }
    }

    /// Number of tensors (input plus one per layer).
    pub fn tensor_count(&self) -> usize {
        self.layers.len() + 1
    }

    /// Input channel count of a layer (its first input's channels).
    pub fn in_channels(&self, layer: usize) -> Option<usize> {
        let l = self.layers.get(layer)?;
        self.shape(*l.inputs.first()?).map(|s| s.c)
    }

    /// Names of the layers that would be the prefix `encoder` shares between
    /// pre-training and fine-tuning: every layer the encoder tensor depends on.
    pub fn encoder_layers(&self) -> Vec<usize> {
        let mut need = vec![false; self.tensor_count()];
        if let Some(n) = need.get_mut(self.encoder) {
            *n = true;
        }
        for i in (0..self.layers.len()).rev() {
            if need[i + 1] {
                for &t in &self.layers[i].inputs {
                    need[t] = true;
                }
            }
        }
        (0..self.layers.len()).filter(|&i| need[i + 1]).collect()
    }
}

/// TFLite SAME padding along one axis: `(output size, padding before)`.
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = input.div_ceil(stride);
    let total = ((out.saturating_sub(1)) * stride + kernel).saturating_sub(input);
    (out, total / 2)
}

/// Builds an [`Arch`] layer by layer, inferring and checking shapes.
pub struct ArchBuilder {
    name: String,
    input: Shape,
    layers: Vec<Layer>,
}

impl ArchBuilder {
    pub fn new(name: &str, input: Shape) -> ArchBuilder {
        ArchBuilder {
            name: name.to_string(),
            input,
            layers: Vec::new(),
        }
    }

    /// The model input tensor.
    pub fn input(&self) -> TensorId {
        0
    }

    fn shape(&self, t: TensorId) -> Result<Shape> {
        if t == 0 {
            return Ok(self.input);
        }
        match self.layers.get(t - 1) {
            Some(l) => Ok(l.out),
            None => bail!("{}: tensor {t} does not exist yet", self.name),
        }
    }

    fn push(&mut self, name: &str, op: Op, inputs: Vec<TensorId>, out: Shape) -> Result<TensorId> {
        ensure!(
            self.layers.iter().all(|l| l.name != name),
            "{}: duplicate layer name {name}",
            self.name
        );
        ensure!(
            !out.is_empty(),
            "{}: layer {name} has an empty output",
            self.name
        );
        self.layers.push(Layer {
            name: name.to_string(),
            op,
            inputs,
            out,
        });
        Ok(self.layers.len())
    }

    /// Full convolution with batch norm and a fused activation.
    pub fn conv(
        &mut self,
        name: &str,
        x: TensorId,
        kernel: usize,
        stride: usize,
        out_channels: usize,
        act: Act,
    ) -> Result<TensorId> {
        self.conv_op(name, x, kernel, stride, out_channels, act, true)
    }

    /// Full convolution without batch norm (output layers: logits, density).
    pub fn conv_plain(
        &mut self,
        name: &str,
        x: TensorId,
        kernel: usize,
        stride: usize,
        out_channels: usize,
        act: Act,
    ) -> Result<TensorId> {
        self.conv_op(name, x, kernel, stride, out_channels, act, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn conv_op(
        &mut self,
        name: &str,
        x: TensorId,
        kernel: usize,
        stride: usize,
        out_channels: usize,
        act: Act,
        bn: bool,
    ) -> Result<TensorId> {
        let s = self.shape(x)?;
        ensure!(
            kernel >= 1 && stride >= 1 && out_channels >= 1,
            "{name}: bad conv"
        );
        let (h, _) = same_padding(s.h, kernel, stride);
        let (w, _) = same_padding(s.w, kernel, stride);
        let op = Op::Conv {
            kernel,
            stride,
            out_channels,
            act,
            bn,
        };
        self.push(name, op, vec![x], Shape::new(h, w, out_channels))
    }

    /// Depthwise convolution with batch norm and ReLU6: the first half of a
    /// depthwise-separable block.
    pub fn depthwise(&mut self, name: &str, x: TensorId, stride: usize) -> Result<TensorId> {
        self.depthwise_with(name, x, stride, Act::Relu6, true)
    }

    /// 3x3 depthwise convolution with a chosen activation and batch norm.
    pub fn depthwise_with(
        &mut self,
        name: &str,
        x: TensorId,
        stride: usize,
        act: Act,
        bn: bool,
    ) -> Result<TensorId> {
        let s = self.shape(x)?;
        ensure!(stride >= 1, "{name}: stride 0");
        let (h, _) = same_padding(s.h, 3, stride);
        let (w, _) = same_padding(s.w, 3, stride);
        let op = Op::Depthwise {
            kernel: 3,
            stride,
            act,
            bn,
        };
        self.push(name, op, vec![x], Shape::new(h, w, s.c))
    }

    /// Depthwise-separable block: 3x3 depthwise (stride `stride`) then 1x1
    /// pointwise to `out` channels, each with batch norm and ReLU6. Adds the
    /// input back (a residual ADD) when `residual` and the shapes agree.
    pub fn separable(
        &mut self,
        name: &str,
        x: TensorId,
        stride: usize,
        out: usize,
        residual: bool,
    ) -> Result<TensorId> {
        let d = self.depthwise(&format!("{name}.dw"), x, stride)?;
        let act = if residual { Act::None } else { Act::Relu6 };
        let p = self.conv(&format!("{name}.pw"), d, 1, 1, out, act)?;
        if residual {
            ensure!(
                self.shape(x)? == self.shape(p)?,
                "{name}: residual needs equal shapes"
            );
            self.add(&format!("{name}.add"), x, p, Act::Relu6)
        } else {
            Ok(p)
        }
    }

    /// Element-wise ADD of two equally shaped tensors.
    pub fn add(&mut self, name: &str, a: TensorId, b: TensorId, act: Act) -> Result<TensorId> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        ensure!(sa == sb, "{name}: ADD of {sa:?} and {sb:?}");
        self.push(name, Op::Add { act }, vec![a, b], sa)
    }

    /// Channel concatenation of equally sized tensors.
    pub fn concat(&mut self, name: &str, parts: &[TensorId]) -> Result<TensorId> {
        ensure!(parts.len() >= 2, "{name}: concat needs two inputs");
        let first = self.shape(parts[0])?;
        let mut c = 0;
        for &p in parts {
            let s = self.shape(p)?;
            ensure!(
                s.h == first.h && s.w == first.w,
                "{name}: concat size mismatch"
            );
            c += s.c;
        }
        self.push(
            name,
            Op::Concat,
            parts.to_vec(),
            Shape::new(first.h, first.w, c),
        )
    }

    /// Upsampling by an integer factor.
    pub fn upsample(
        &mut self,
        name: &str,
        x: TensorId,
        factor: usize,
        mode: Resize,
    ) -> Result<TensorId> {
        let s = self.shape(x)?;
        ensure!(factor >= 2, "{name}: upsampling factor {factor}");
        ensure!(
            mode == Resize::Nearest || factor == 2,
            "{name}: bilinear is implemented for factor 2 only"
        );
        let out = Shape::new(s.h * factor, s.w * factor, s.c);
        self.push(name, Op::Upsample { factor, mode }, vec![x], out)
    }

    /// Finishes the model with `output` as its result and `encoder` as the
    /// pre-training attachment point.
    pub fn finish(self, output: TensorId, encoder: TensorId) -> Result<Arch> {
        let n = self.layers.len() + 1;
        ensure!(
            output < n && encoder < n,
            "{}: bad output tensor",
            self.name
        );
        Ok(Arch {
            name: self.name,
            input: self.input,
            layers: self.layers,
            output,
            encoder,
        })
    }
}

/// Number of classes of the segmenter: background, glasses, shadow.
pub const SEG_CLASSES: usize = 3;
/// The segmenter's class names, by class id.
pub const SEG_CLASS_NAMES: [&str; SEG_CLASSES] = ["background", "glasses", "shadow"];

/// Glasses/shadow segmenter: 96x96x3 → 96x96x3 class logits.
///
/// Memory drives the shape. A 96x96 tensor with 4 int8 channels is already
/// 36 KB, so at most two or three full-resolution tensors can be alive in
/// the 96 KB arena. The full-resolution path is therefore tiny and finished
/// early: a 3x3 stem (4 channels) and a 3x3 conv from it to "fine" logits,
/// which stay alive (27 KB) while everything else runs at 1/2 resolution
/// and below. The 1/2-resolution decoder output (coarse logits, with
/// context from a 1/16 encoder) is upsampled bilinearly and ADDed to the
/// fine logits, so 1-2 px shadow edges come from the full-resolution path
/// and "is this a frame or its shadow" from the coarse one.
///
/// From 1/4 down the tensors are small, so width is cheap in arena: 32 / 64
/// / 96 channels there (twice the first models') took glasses IoU from 0.37
/// to 0.52 and shadow from 0.01 to 0.12 after 2 epochs on 2,000 faces, for
/// 7.67 M MACs, 44.6 KB of weights and a 96,768-byte arena.
pub fn segmenter() -> Result<Arch> {
    let mut b = ArchBuilder::new("segmenter", Shape::new(96, 96, 3));
    let x = b.input();
    let stem = b.conv("stem", x, 3, 1, 4, Act::Relu6)?; // 96x96x4
    let e1 = b.conv("enc1", stem, 3, 2, 8, Act::Relu6)?; // 48x48x8
    let fine = b.conv_plain("fine", stem, 3, 1, SEG_CLASSES, Act::None)?; // 96x96x3
    let e2 = b.separable("enc2", e1, 2, 32, false)?; // 24x24x32
    let e2 = b.separable("enc2b", e2, 1, 32, true)?;
    let e3 = b.separable("enc3", e2, 2, 64, false)?; // 12x12x64
    let e3 = b.separable("enc3b", e3, 1, 64, true)?;
    let e4 = b.separable("enc4", e3, 2, 96, false)?; // 6x6x96
    let e4 = b.separable("enc4b", e4, 1, 96, true)?;
    // Decoder: project, upsample, add the skip, refine.
    let d3 = b.conv("dec3.proj", e4, 1, 1, 64, Act::None)?;
    let d3 = b.upsample("dec3.up", d3, 2, Resize::Nearest)?; // 12x12x64
    let d3 = b.add("dec3.add", d3, e3, Act::Relu6)?;
    let d3 = b.separable("dec3", d3, 1, 64, false)?;
    let d2 = b.conv("dec2.proj", d3, 1, 1, 32, Act::None)?;
    let d2 = b.upsample("dec2.up", d2, 2, Resize::Nearest)?; // 24x24x32
    let d2 = b.add("dec2.add", d2, e2, Act::Relu6)?;
    let d2 = b.separable("dec2", d2, 1, 32, false)?;
    let d1 = b.conv("dec1.proj", d2, 1, 1, 8, Act::None)?;
    let d1 = b.upsample("dec1.up", d1, 2, Resize::Nearest)?; // 48x48x8
    let d1 = b.add("dec1.add", d1, e1, Act::Relu6)?;
    let d1 = b.separable("dec1", d1, 1, 8, false)?;
    let coarse = b.conv_plain("coarse", d1, 1, 1, SEG_CLASSES, Act::None)?; // 48x48x3
    let up = b.upsample("coarse.up", coarse, 2, Resize::Bilinear)?; // 96x96x3
    let logits = b.add("logits", up, fine, Act::None)?;
    b.finish(logits, e4)
}

/// Crowd counter: 128x128x3 → 32x32x1 non-negative density (count = sum).
///
/// A stride-2 stem, a depthwise-separable encoder down to 1/16 for context,
/// and a light decoder back to 1/4 with a skip; the density comes out of a
/// 1x1 conv with a fused ReLU so it can never be negative.
pub fn counter() -> Result<Arch> {
    let mut b = ArchBuilder::new("counter", Shape::new(128, 128, 3));
    let x = b.input();
    let stem = b.conv("stem", x, 3, 2, 8, Act::Relu6)?; // 64x64x8
    let e1 = b.separable("enc1", stem, 2, 16, false)?; // 32x32x16
    let e1 = b.separable("enc1b", e1, 1, 16, true)?;
    let e2 = b.separable("enc2", e1, 2, 32, false)?; // 16x16x32
    let e2 = b.separable("enc2b", e2, 1, 32, true)?;
    let e3 = b.separable("enc3", e2, 2, 64, false)?; // 8x8x64
    let e3 = b.separable("enc3b", e3, 1, 64, true)?;
    let d2 = b.conv("dec2.proj", e3, 1, 1, 32, Act::None)?;
    let d2 = b.upsample("dec2.up", d2, 2, Resize::Nearest)?; // 16x16x32
    let d2 = b.add("dec2.add", d2, e2, Act::Relu6)?;
    let d2 = b.separable("dec2", d2, 1, 32, false)?;
    let d1 = b.conv("dec1.proj", d2, 1, 1, 16, Act::None)?;
    let d1 = b.upsample("dec1.up", d1, 2, Resize::Nearest)?; // 32x32x16
    let d1 = b.add("dec1.add", d1, e1, Act::Relu6)?;
    let d1 = b.separable("dec1", d1, 1, 16, false)?;
    let density = b.conv_plain("density", d1, 1, 1, 1, Act::Relu)?; // 32x32x1
    b.finish(density, e3)
}

/// Which of the two shipped models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Segmenter,
    Counter,
}

impl Task {
    pub fn arch(self) -> Result<Arch> {
        match self {
            Task::Segmenter => segmenter(),
            Task::Counter => counter(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Task::Segmenter => "segmenter",
            Task::Counter => "counter",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_tflite() {
        // Stride 2, even input: the extra row goes to the bottom.
        assert_eq!(same_padding(96, 3, 2), (48, 0));
        assert_eq!(same_padding(96, 3, 1), (96, 1));
        assert_eq!(same_padding(95, 3, 2), (48, 1));
        assert_eq!(same_padding(8, 1, 1), (8, 0));
    }

    #[test]
    fn shapes_of_both_models() {
        let s = segmenter().unwrap();
        assert_eq!(s.shape(s.output), Some(Shape::new(96, 96, 3)));
        assert_eq!(s.shape(s.encoder), Some(Shape::new(6, 6, 96)));
        let c = counter().unwrap();
        assert_eq!(c.shape(c.output), Some(Shape::new(32, 32, 1)));
    }

    #[test]
    fn builder_rejects_mismatched_add() {
        let mut b = ArchBuilder::new("bad", Shape::new(8, 8, 3));
        let a = b.conv_plain("a", 0, 3, 1, 4, Act::Relu).unwrap();
        let c = b.conv_plain("c", 0, 3, 2, 4, Act::Relu).unwrap();
        assert!(b.add("sum", a, c, Act::None).is_err());
        assert!(b.conv_plain("a", 0, 1, 1, 1, Act::None).is_err());
    }

    #[test]
    fn encoder_layers_exclude_the_decoder() {
        let s = segmenter().unwrap();
        let enc = s.encoder_layers();
        let names: Vec<&str> = enc.iter().map(|&i| s.layers[i].name.as_str()).collect();
        assert!(names.contains(&"stem"));
        assert!(names.contains(&"enc4b.add"));
        assert!(!names.iter().any(|n| n.starts_with("dec") || *n == "fine"));
    }
}
