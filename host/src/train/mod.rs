//! Training the two models with candle (CPU).
//!
//! - [`arch`]: the models as plain layer lists with shapes (what the
//!   exporter walks), [`budget`]: MACs / weight bytes / arena from them.
//! - [`net`], [`ops`]: the candle network interpreting an [`arch::Arch`].
//! - [`data`], [`augment`], [`batch`], [`density`]: samples in, tensors out.
//! - [`loss`], [`metrics`], [`trainer`], [`pretrain`], [`run`]: training;
//!   [`parallel`]: a batch's gradients on every core.
//! - [`evaluate`]: held-out scores of a float net or an int8 blob (the
//!   model card and `mote eval` share it).
//! - [`class_offsets`], [`density_offset`]: a segmenter's per-class logit
//!   offsets and a counter's density offset, tuned on validation data at
//!   export.
//! - [`checkpoint`]: safetensors; [`fold`]: batch-norm folding and TFLite
//!   weight layouts; [`fakequant`]: the runtime's int8 rounding for
//!   calibration and quantization-aware training.
//! - [`toy`]: tiny hand-drawn datasets for tests and benchmarks.
pub mod arch;
pub mod augment;
pub mod batch;
pub mod budget;
pub mod chanops;
pub mod checkpoint;
pub mod class_offsets;
pub mod data;
pub mod density;
pub mod density_offset;
pub mod evaluate;
pub mod fakequant;
pub mod fold;
pub mod im2col;
pub mod loss;
pub mod metrics;
pub mod net;
pub mod ops;
pub mod parallel;
pub mod pretrain;
pub mod rng;
pub mod run;
pub mod toy;
pub mod trainer;
