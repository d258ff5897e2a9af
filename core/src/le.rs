//! Zero-copy little-endian views over byte slices.
//!
//! Int32 data (bias, per-channel multipliers and shifts) and `f32` tensors
//! live inside the model blob (flash) or the arena, with no alignment
//! guarantee, and the crate allows no `unsafe`: so they are read and written
//! through these views four bytes at a time instead of being reinterpreted.

/// A read-only view of little-endian `i32` values stored in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct I32s<'a> {
    bytes: &'a [u8],
}

impl<'a> I32s<'a> {
    /// An empty view.
    pub const EMPTY: I32s<'static> = I32s { bytes: &[] };

    /// Views `bytes` as `i32`s; `None` unless the length is a multiple of 4.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() % 4 == 0 {
            Some(Self { bytes })
        } else {
            None
        }
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
    pub fn get(&self, i: usize) -> Option<i32> {
        let start = i.checked_mul(4)?;
        let b: [u8; 4] = self
            .bytes
            .get(start..start.checked_add(4)?)?
            .try_into()
            .ok()?;
        Some(i32::from_le_bytes(b))
    }

    /// All values in order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = i32> + 'a {
        self.bytes
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// A read-only view of little-endian `f32` values stored in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct F32s<'a> {
    bytes: &'a [u8],
}

impl<'a> F32s<'a> {
    /// Views `bytes` as `f32`s; `None` unless the length is a multiple of 4.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() % 4 == 0 {
            Some(Self { bytes })
        } else {
            None
        }
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
    pub fn get(&self, i: usize) -> Option<f32> {
        let start = i.checked_mul(4)?;
        let b: [u8; 4] = self
            .bytes
            .get(start..start.checked_add(4)?)?
            .try_into()
            .ok()?;
        Some(f32::from_le_bytes(b))
    }

    /// All values in order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = f32> + 'a {
        self.bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Writes `value` as the `i`-th little-endian `i32` of `out`; `None` if it
/// does not fit.
#[inline]
pub fn write_i32(out: &mut [u8], i: usize, value: i32) -> Option<()> {
    let start = i.checked_mul(4)?;
    out.get_mut(start..start.checked_add(4)?)?
        .copy_from_slice(&value.to_le_bytes());
    Some(())
}

/// Writes `value` as the `i`-th little-endian `f32` of `out`; `None` if it
/// does not fit.
#[inline]
pub fn write_f32(out: &mut [u8], i: usize, value: f32) -> Option<()> {
    let start = i.checked_mul(4)?;
    out.get_mut(start..start.checked_add(4)?)?
        .copy_from_slice(&value.to_le_bytes());
    Some(())
}

/// Writes all of `values` as little-endian `i32`s into `out`, which must be
/// exactly `4 * values.len()` bytes long.
pub fn encode_i32s(values: &[i32], out: &mut [u8]) -> Option<()> {
    if out.len() != values.len().checked_mul(4)? {
        return None;
    }
    for (chunk, v) in out.chunks_exact_mut(4).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    Some(())
}

/// Writes all of `values` as little-endian `f32`s into `out`, which must be
/// exactly `4 * values.len()` bytes long.
pub fn encode_f32s(values: &[f32], out: &mut [u8]) -> Option<()> {
    if out.len() != values.len().checked_mul(4)? {
        return None;
    }
    for (chunk, v) in out.chunks_exact_mut(4).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    Some(())
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
