//! `.tflite` (int8) import: a bounds-checked FlatBuffers reader for the part
//! of TFLite's schema mote needs, and the conversion into mote's host graph.

pub mod flatbuf;
pub mod schema;
