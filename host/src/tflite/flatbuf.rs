//! A minimal, bounds-checked FlatBuffers reader.
//!
//! TFLite models are FlatBuffers: a little-endian tree of *tables* addressed
//! by relative offsets. Generated FlatBuffers code trusts those offsets; a
//! model file is untrusted input here, so every offset, length and vtable
//! entry is checked against the buffer before it is followed, and a bad file
//! is a [`FlatError`], never a panic or an out-of-bounds read.
//!
//! Layout facts used (FlatBuffers binary format):
//! - The buffer starts with a `u32` offset to the root table.
//! - A table starts with an `i32` *soffset*; its vtable lies at
//!   `table - soffset`. The vtable holds `u16` vtable length, `u16` table
//!   length, then one `u16` per field: the field's offset inside the table,
//!   or 0 when the field is absent (its default applies).
//! - A field that refers to a table, vector or string holds a `u32` offset
//!   relative to the field's own position. A vector is a `u32` element count
//!   followed by the elements; a vector of tables holds one such `u32`
//!   offset per element.
//! - A union is two fields: a `u8` type tag, then an offset to the table.

use std::fmt;

/// What was wrong with the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlatError {
    /// A read of `len` bytes at `at` runs past the end of the buffer.
    OutOfBounds { at: usize, len: usize, size: usize },
    /// A vtable is malformed (too short, odd length, or past the end).
    BadVTable { at: usize },
    /// A string is not valid UTF-8.
    BadUtf8 { at: usize },
    /// A field's value is not allowed by the schema.
    Invalid(String),
}

impl fmt::Display for FlatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlatError::OutOfBounds { at, len, size } => write!(
                f,
                "flatbuffer read of {len} bytes at offset {at} is outside the {size}-byte file"
            ),
            FlatError::BadVTable { at } => write!(f, "malformed flatbuffer vtable at offset {at}"),
            FlatError::BadUtf8 { at } => write!(f, "flatbuffer string at offset {at} is not UTF-8"),
            FlatError::Invalid(what) => write!(f, "invalid flatbuffer: {what}"),
        }
    }
}

impl std::error::Error for FlatError {}

pub type Result<T> = std::result::Result<T, FlatError>;

/// `len` bytes at `at`, or an error naming the out-of-bounds read.
fn bytes(buf: &[u8], at: usize, len: usize) -> Result<&[u8]> {
    at.checked_add(len)
        .and_then(|end| buf.get(at..end))
        .ok_or(FlatError::OutOfBounds {
            at,
            len,
            size: buf.len(),
        })
}

fn read_u16(buf: &[u8], at: usize) -> Result<u16> {
    let b = bytes(buf, at, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn read_u32(buf: &[u8], at: usize) -> Result<u32> {
    let b = bytes(buf, at, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Follows the `u32` offset stored at `at` (relative to `at`).
fn follow(buf: &[u8], at: usize) -> Result<usize> {
    let rel = read_u32(buf, at)? as usize;
    let target = at.checked_add(rel).ok_or(FlatError::OutOfBounds {
        at,
        len: rel,
        size: buf.len(),
    })?;
    // The target must at least hold the 4-byte header of whatever it is.
    bytes(buf, target, 4)?;
    Ok(target)
}

/// A scalar type a table field or vector element can hold.
pub trait Scalar: Copy {
    const SIZE: usize;
    fn from_le(b: &[u8]) -> Self;
}

macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn from_le(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
        }
    )*};
}
scalar!(u8, i8, u16, i16, u32, i32, u64, i64, f32);

/// A table: a position in the buffer and its validated vtable.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    vtable_len: usize,
    table_len: usize,
}

impl<'a> Table<'a> {
    /// The root table of a buffer.
    pub fn root(buf: &'a [u8]) -> Result<Self> {
        let pos = read_u32(buf, 0)? as usize;
        Table::at(buf, pos)
    }

    /// The table at absolute position `pos`, with its vtable checked.
    pub fn at(buf: &'a [u8], pos: usize) -> Result<Self> {
        let soffset = <i32 as Scalar>::from_le(bytes(buf, pos, 4)?);
        let vtable = i64::try_from(pos)
            .ok()
            .and_then(|p| p.checked_sub(i64::from(soffset)))
            .and_then(|v| usize::try_from(v).ok())
            .ok_or(FlatError::BadVTable { at: pos })?;
        let vtable_len = read_u16(buf, vtable)? as usize;
        let table_len = read_u16(
            buf,
            vtable
                .checked_add(2)
                .ok_or(FlatError::BadVTable { at: pos })?,
        )? as usize;
        if vtable_len < 4 || vtable_len % 2 != 0 || table_len < 4 {
            return Err(FlatError::BadVTable { at: vtable });
        }
        bytes(buf, vtable, vtable_len).map_err(|_| FlatError::BadVTable { at: vtable })?;
        bytes(buf, pos, table_len)?;
        Ok(Table {
            buf,
            pos,
            vtable,
            vtable_len,
            table_len,
        })
    }

    /// Absolute position of field `slot` (0-based, in schema order with a
    /// union counting as two slots), or `None` when the field is absent.
    fn field(&self, slot: usize, size: usize) -> Result<Option<usize>> {
        let entry = 4 + 2 * slot;
        if entry + 2 > self.vtable_len {
            return Ok(None);
        }
        let off = read_u16(self.buf, self.vtable + entry)? as usize;
        if off == 0 {
            return Ok(None);
        }
        if off < 4 || off + size > self.table_len {
            return Err(FlatError::Invalid(format!(
                "field {slot} at table offset {off} (+{size} bytes) outside its {}-byte table at {}",
                self.table_len, self.pos
            )));
        }
        Ok(Some(self.pos + off))
    }

    /// A scalar field, or `default` when absent.
    pub fn scalar<T: Scalar>(&self, slot: usize, default: T) -> Result<T> {
        match self.field(slot, T::SIZE)? {
            Some(at) => Ok(T::from_le(bytes(self.buf, at, T::SIZE)?)),
            None => Ok(default),
        }
    }

    /// A boolean field (a byte, nonzero is true).
    pub fn bool(&self, slot: usize, default: bool) -> Result<bool> {
        Ok(self.scalar::<u8>(slot, u8::from(default))? != 0)
    }

    /// A sub-table field.
    pub fn table(&self, slot: usize) -> Result<Option<Table<'a>>> {
        match self.field(slot, 4)? {
            Some(at) => Ok(Some(Table::at(self.buf, follow(self.buf, at)?)?)),
            None => Ok(None),
        }
    }

    /// A vector field.
    pub fn vector(&self, slot: usize) -> Result<Option<Vector<'a>>> {
        match self.field(slot, 4)? {
            Some(at) => Ok(Some(Vector::at(self.buf, follow(self.buf, at)?)?)),
            None => Ok(None),
        }
    }

    /// A vector of scalars, empty when absent.
    pub fn scalars<T: Scalar>(&self, slot: usize) -> Result<Vec<T>> {
        match self.vector(slot)? {
            Some(v) => v.scalars(),
            None => Ok(Vec::new()),
        }
    }

    /// A vector of tables, empty when absent.
    pub fn tables(&self, slot: usize) -> Result<Vec<Table<'a>>> {
        match self.vector(slot)? {
            Some(v) => v.tables(),
            None => Ok(Vec::new()),
        }
    }

    /// A byte-vector field borrowed from the buffer, empty when absent.
    pub fn bytes(&self, slot: usize) -> Result<&'a [u8]> {
        match self.vector(slot)? {
            Some(v) => v.raw(1),
            None => Ok(&[]),
        }
    }

    /// A string field.
    pub fn string(&self, slot: usize) -> Result<Option<&'a str>> {
        match self.vector(slot)? {
            Some(v) => {
                let raw = v.raw(1)?;
                std::str::from_utf8(raw)
                    .map(Some)
                    .map_err(|_| FlatError::BadUtf8 { at: v.start })
            }
            None => Ok(None),
        }
    }
}

/// A vector: `len` elements starting at `start` (after the length word).
#[derive(Clone, Copy)]
pub struct Vector<'a> {
    buf: &'a [u8],
    start: usize,
    len: usize,
}

impl<'a> Vector<'a> {
    fn at(buf: &'a [u8], pos: usize) -> Result<Self> {
        let len = read_u32(buf, pos)? as usize;
        Ok(Vector {
            buf,
            start: pos + 4,
            len,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the vector has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements' bytes, checked to lie inside the buffer.
    fn raw(&self, elem_size: usize) -> Result<&'a [u8]> {
        let total = self
            .len
            .checked_mul(elem_size)
            .ok_or(FlatError::OutOfBounds {
                at: self.start,
                len: usize::MAX,
                size: self.buf.len(),
            })?;
        bytes(self.buf, self.start, total)
    }

    /// All elements as scalars.
    pub fn scalars<T: Scalar>(&self) -> Result<Vec<T>> {
        Ok(self
            .raw(T::SIZE)?
            .chunks_exact(T::SIZE)
            .map(T::from_le)
            .collect())
    }

    /// All elements as tables.
    pub fn tables(&self) -> Result<Vec<Table<'a>>> {
        self.raw(4)?;
        (0..self.len)
            .map(|i| Table::at(self.buf, follow(self.buf, self.start + 4 * i)?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// root -> table with one i32 field (slot 0) = 7 and a vector field
    /// (slot 1) of two i32s.
    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&12u32.to_le_bytes()); // 0: root offset -> 12
                                                   // 4: vtable: len 8, table len 12, slot0 at 4, slot1 at 8
        for v in [8u16, 12, 4, 8] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        // 12: table: soffset = 12 - 4 = 8
        b.extend_from_slice(&8i32.to_le_bytes());
        b.extend_from_slice(&7i32.to_le_bytes()); // 16: slot0
        b.extend_from_slice(&4u32.to_le_bytes()); // 20: slot1 -> 24
        b.extend_from_slice(&2u32.to_le_bytes()); // 24: len
        b.extend_from_slice(&(-1i32).to_le_bytes());
        b.extend_from_slice(&5i32.to_le_bytes());
        b
    }

    #[test]
    fn reads_fields() {
        let b = sample();
        let t = Table::root(&b).unwrap();
        assert_eq!(t.scalar::<i32>(0, 0).unwrap(), 7);
        assert_eq!(t.scalars::<i32>(1).unwrap(), vec![-1, 5]);
        // Absent slot: default.
        assert_eq!(t.scalar::<i32>(5, 42).unwrap(), 42);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let b = sample();
        for len in 0..b.len() {
            let cut = &b[..len];
            let r = Table::root(cut).and_then(|t| {
                t.scalar::<i32>(0, 0)?;
                t.scalars::<i32>(1)
            });
            assert!(r.is_err(), "truncated at {len} was accepted");
        }
    }

    #[test]
    fn bad_offsets_are_errors() {
        let mut b = sample();
        b[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Table::root(&b).is_err());

        let mut b = sample();
        b[12..16].copy_from_slice(&i32::MIN.to_le_bytes()); // vtable far away
        assert!(Table::root(&b).is_err());

        let mut b = sample();
        b[20..24].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes()); // vector far away
        assert!(Table::root(&b).unwrap().scalars::<i32>(1).is_err());

        let mut b = sample();
        b[24..28].copy_from_slice(&u32::MAX.to_le_bytes()); // huge vector length
        assert!(Table::root(&b).unwrap().scalars::<i32>(1).is_err());

        let mut b = sample();
        b[8..10].copy_from_slice(&200u16.to_le_bytes()); // slot 0 outside table
        assert!(Table::root(&b).unwrap().scalar::<i32>(0, 0).is_err());

        let mut b = sample();
        b[4..6].copy_from_slice(&3u16.to_le_bytes()); // odd vtable length
        assert!(Table::root(&b).is_err());
    }

    #[test]
    fn random_flips_never_panic() {
        let base = sample();
        let mut state = 0x1234_5678u32;
        for _ in 0..5000 {
            let mut b = base.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let i = state as usize % b.len();
                b[i] = (state >> 8) as u8;
            }
            if let Ok(t) = Table::root(&b) {
                let _ = t.scalar::<i32>(0, 0);
                let _ = t.scalars::<i32>(1);
                let _ = t.tables(1);
                let _ = t.string(1);
            }
        }
    }
}
