//! A small FlatBuffers *writer*: the counterpart of [`super::flatbuf`], used
//! by the `.tflite` writer ([`super::write`]) and by the importer's tests to
//! hand-build files.
//!
//! A message is described as a tree of [`T`] tables whose fields are [`F`]
//! values at schema slots, then serialized front to back: children are
//! written after their parents (FlatBuffers offsets are unsigned and point
//! forward) and every vtable sits right before its table. Nothing is shared
//! or deduplicated; the files are small, and simplicity beats a few bytes.
//!
//! Alignment follows what FlatBuffers verifiers check: tables and vectors on
//! 4 bytes, 64-bit vectors' elements on 8, and byte vectors (TFLite's
//! `Buffer.data`, declared `force_align: 16`) on 16, so constant tensors can
//! be read in place.

/// A field value.
#[derive(Debug, Clone)]
pub enum F {
    I8(i8),
    U8(u8),
    Bool(bool),
    I32(i32),
    U32(u32),
    F32(f32),
    Table(T),
    I32s(Vec<i32>),
    F32s(Vec<f32>),
    I64s(Vec<i64>),
    Bytes(Vec<u8>),
    Tables(Vec<T>),
    Str(String),
}

impl F {
    /// The 4 bytes of a scalar stored inline in its table (narrow scalars
    /// padded), or `None` for a field stored as an offset to a child.
    fn inline(&self) -> Option<[u8; 4]> {
        Some(match self {
            F::I8(v) => [*v as u8, 0, 0, 0],
            F::U8(v) => [*v, 0, 0, 0],
            F::Bool(v) => [u8::from(*v), 0, 0, 0],
            F::I32(v) => v.to_le_bytes(),
            F::U32(v) => v.to_le_bytes(),
            F::F32(v) => v.to_le_bytes(),
            _ => return None,
        })
    }
}

/// A table: `(slot, value)` pairs (slots in schema order, a union taking
/// two: its type tag, then its table).
#[derive(Debug, Clone, Default)]
pub struct T(pub Vec<(usize, F)>);

impl T {
    /// Adds a field.
    pub fn with(mut self, slot: usize, f: F) -> T {
        self.0.push((slot, f));
        self
    }
}

fn align(buf: &mut Vec<u8>, a: usize) {
    while buf.len() % a != 0 {
        buf.push(0);
    }
}

/// Stores at `at` the forward offset to `target` (children always follow
/// their parent, so `target > at`; [`finish`] bounds the file to 2 GiB).
fn patch(buf: &mut [u8], at: usize, target: usize) {
    let rel = target.saturating_sub(at) as u32;
    if let Some(slot) = buf.get_mut(at..at + 4) {
        slot.copy_from_slice(&rel.to_le_bytes());
    }
}

/// Writes `t`, returns its position.
fn write_table(buf: &mut Vec<u8>, t: &T) -> usize {
    let max_slot = t.0.iter().map(|(s, _)| *s + 1).max().unwrap_or(0);
    let vt_len = 4 + 2 * max_slot;
    let table_len = 4 + 4 * t.0.len();
    align(buf, 4);
    if (buf.len() + vt_len) % 4 != 0 {
        buf.extend_from_slice(&[0, 0]);
    }
    let vt = buf.len();
    let mut vtable = vec![0u16; max_slot + 2];
    vtable[0] = vt_len as u16;
    vtable[1] = table_len as u16;
    for (k, (slot, _)) in t.0.iter().enumerate() {
        vtable[2 + slot] = (4 + 4 * k) as u16;
    }
    for v in &vtable {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    let pos = buf.len();
    buf.extend_from_slice(&((pos - vt) as i32).to_le_bytes());
    let mut deferred = Vec::new();
    for (_, f) in &t.0 {
        let at = buf.len();
        match f.inline() {
            Some(bytes) => buf.extend_from_slice(&bytes),
            None => {
                buf.extend_from_slice(&[0; 4]);
                deferred.push((at, f));
            }
        }
    }
    for (at, f) in deferred {
        let target = write_child(buf, f);
        patch(buf, at, target);
    }
    pos
}

/// Writes a table, vector or string field's child; returns its position.
fn write_child(buf: &mut Vec<u8>, f: &F) -> usize {
    align(buf, 4);
    let start = buf.len();
    let scalars = |buf: &mut Vec<u8>, n: usize, bytes: Vec<u8>| {
        buf.extend_from_slice(&(n as u32).to_le_bytes());
        buf.extend_from_slice(&bytes);
    };
    match f {
        F::Table(t) => return write_table(buf, t),
        F::I32s(v) => scalars(
            buf,
            v.len(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        F::F32s(v) => scalars(
            buf,
            v.len(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        F::I64s(v) => {
            // Elements on 8 bytes: the length word sits just before.
            if (buf.len() + 4) % 8 != 0 {
                buf.extend_from_slice(&[0; 4]);
            }
            let s = buf.len();
            scalars(
                buf,
                v.len(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            );
            return s;
        }
        F::Bytes(v) => {
            // Data on 16 bytes (TFLite's `force_align: 16` for buffers).
            while (buf.len() + 4) % 16 != 0 {
                buf.extend_from_slice(&[0; 4]);
            }
            let s = buf.len();
            scalars(buf, v.len(), v.clone());
            return s;
        }
        F::Str(s) => {
            scalars(buf, s.len(), s.as_bytes().to_vec());
            buf.push(0);
        }
        F::Tables(ts) => {
            buf.extend_from_slice(&(ts.len() as u32).to_le_bytes());
            let first = buf.len();
            buf.extend_from_slice(&vec![0; 4 * ts.len()]);
            for (i, t) in ts.iter().enumerate() {
                let p = write_table(buf, t);
                patch(buf, first + 4 * i, p);
            }
        }
        // Scalars are stored inline by `write_table` and never get here.
        F::I8(_) | F::U8(_) | F::Bool(_) | F::I32(_) | F::U32(_) | F::F32(_) => {}
    }
    start
}

/// The largest file [`finish`] writes: FlatBuffers offsets are 32-bit and
/// TFLite refuses flatbuffers of 2 GiB or more.
pub const MAX_FILE: usize = (1 << 31) - 1;

/// Serializes a root table behind a 4-byte file identifier (`b"TFL3"` for
/// TFLite). `None` if the message does not fit in [`MAX_FILE`] bytes.
pub fn finish(root: &T, identifier: &[u8; 4]) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4];
    buf.extend_from_slice(identifier);
    let pos = write_table(&mut buf, root);
    if buf.len() > MAX_FILE {
        return None;
    }
    buf[0..4].copy_from_slice(&(pos as u32).to_le_bytes());
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::super::flatbuf::Table;
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let child = T::default().with(1, F::Str("hi".into()));
        let root = T::default()
            .with(0, F::I32(-7))
            .with(2, F::F32(0.25))
            .with(3, F::Bool(true))
            .with(4, F::I64s(vec![1, -2]))
            .with(5, F::Bytes(vec![9; 5]))
            .with(6, F::Tables(vec![child.clone(), child]));
        let buf = finish(&root, b"TEST").unwrap();
        assert_eq!(&buf[4..8], b"TEST");
        let t = Table::root(&buf).unwrap();
        assert_eq!(t.scalar::<i32>(0, 0).unwrap(), -7);
        assert_eq!(t.scalar::<i32>(1, 42).unwrap(), 42);
        assert_eq!(t.scalar::<f32>(2, 0.0).unwrap(), 0.25);
        assert!(t.bool(3, false).unwrap());
        assert_eq!(t.scalars::<i64>(4).unwrap(), vec![1, -2]);
        let bytes = t.bytes(5).unwrap();
        assert_eq!(bytes, &[9; 5]);
        // Byte vectors start on 16 bytes.
        let at = bytes.as_ptr() as usize - buf.as_ptr() as usize;
        assert_eq!(at % 16, 0);
        let kids = t.tables(6).unwrap();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[1].string(1).unwrap(), Some("hi"));
    }
}
