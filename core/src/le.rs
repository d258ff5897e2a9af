//! Zero-copy little-endian views over byte slices.
//!
//! Int32 data (bias, per-channel multipliers and shifts) and `f32` tensors
//! live inside the model blob (flash) or the arena, with no alignment
//! guarantee, and the crate allows no `unsafe`: so they are read and written
//! through these views four bytes at a time instead of being reinterpreted.
use core::marker::PhantomData;

/// A 4-byte value stored little-endian: `i32` (bias, multipliers, shifts)
/// or `f32` (float tensors at QUANTIZE/DEQUANTIZE).
pub trait Word: Copy {
    fn from_le(bytes: [u8; 4]) -> Self;
    fn to_le(self) -> [u8; 4];
}

impl Word for i32 {
    #[inline]
    fn from_le(bytes: [u8; 4]) -> Self {
        i32::from_le_bytes(bytes)
    }
    #[inline]
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
}

impl Word for f32 {
    #[inline]
    fn from_le(bytes: [u8; 4]) -> Self {
        f32::from_le_bytes(bytes)
    }
    #[inline]
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
}

/// A read-only view of little-endian words stored in bytes.
#[derive(Debug)]
pub struct Words<'a, T> {
    bytes: &'a [u8],
    word: PhantomData<T>,
}

/// Little-endian `i32` values in bytes.
pub type I32s<'a> = Words<'a, i32>;
/// Little-endian `f32` values in bytes.
pub type F32s<'a> = Words<'a, f32>;

// Manual impls: equality and copying depend on the bytes only, not on `T`
// (`f32` is not `Eq`, yet two views of the same bytes are equal).
impl<T> Clone for Words<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Words<'_, T> {}
impl<T> PartialEq for Words<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}
impl<T> Eq for Words<'_, T> {}
impl<T> Default for Words<'_, T> {
    fn default() -> Self {
        Words {
            bytes: &[],
            word: PhantomData,
        }
    }
}

impl<T: Word> Words<'static, T> {
    /// An empty view.
    pub const EMPTY: Words<'static, T> = Words {
        bytes: &[],
        word: PhantomData,
    };
}

impl<'a, T: Word> Words<'a, T> {
    /// Views `bytes` as words; `None` unless the length is a multiple of 4.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        (bytes.len() % 4 == 0).then_some(Words {
            bytes,
            word: PhantomData,
        })
    }

    /// Number of values.
    #[inline]
    pub fn len(&self) -> usize {
        self.bytes.len() / 4
    }

    /// Whether the view holds no value.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The value at `i`, `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<T> {
        let start = i.checked_mul(4)?;
        let b: [u8; 4] = self
            .bytes
            .get(start..start.checked_add(4)?)?
            .try_into()
            .ok()?;
        Some(T::from_le(b))
    }

    /// All values in order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = T> + 'a {
        self.bytes
            .chunks_exact(4)
            .map(|b| T::from_le([b[0], b[1], b[2], b[3]]))
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Writes `value` as the `i`-th little-endian word of `out`; `None` if it
/// does not fit.
#[inline]
pub fn write<T: Word>(out: &mut [u8], i: usize, value: T) -> Option<()> {
    let start = i.checked_mul(4)?;
    out.get_mut(start..start.checked_add(4)?)?
        .copy_from_slice(&value.to_le());
    Some(())
}

/// [`write`] for an `i32`.
#[inline]
pub fn write_i32(out: &mut [u8], i: usize, value: i32) -> Option<()> {
    write(out, i, value)
}

/// [`write`] for an `f32`.
#[inline]
pub fn write_f32(out: &mut [u8], i: usize, value: f32) -> Option<()> {
    write(out, i, value)
}

/// Writes all of `values` as little-endian words into `out`, which must be
/// exactly `4 * values.len()` bytes long.
pub fn encode<T: Word>(values: &[T], out: &mut [u8]) -> Option<()> {
    if out.len() != values.len().checked_mul(4)? {
        return None;
    }
    for (chunk, v) in out.chunks_exact_mut(4).zip(values) {
        chunk.copy_from_slice(&v.to_le());
    }
    Some(())
}

/// [`encode`] for `i32`s.
pub fn encode_i32s(values: &[i32], out: &mut [u8]) -> Option<()> {
    encode(values, out)
}

/// [`encode`] for `f32`s.
pub fn encode_f32s(values: &[f32], out: &mut [u8]) -> Option<()> {
    encode(values, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_unaligned() {
        let mut buf = [0u8; 13];
        let vals = [1, -2, i32::MIN];
        encode_i32s(&vals, &mut buf[1..13]).unwrap();
        let v = I32s::new(&buf[1..13]).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v.get(2), Some(i32::MIN));
        assert_eq!(v.get(3), None);
        assert_eq!(v.get(usize::MAX), None);
        assert!(v.iter().eq(vals.iter().copied()));
        assert!(I32s::new(&buf[..5]).is_none());
        write_f32(&mut buf[1..], 1, 1.5).unwrap();
        assert_eq!(F32s::new(&buf[1..13]).unwrap().get(1), Some(1.5));
        assert!(write_i32(&mut buf, 3, 0).is_none());
    }
}
