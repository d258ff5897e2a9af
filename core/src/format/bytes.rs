//! Bounds-checked little-endian reads from a byte slice. Every failed read
//! becomes `Error::Bounds` for the section being read.
use crate::error::{Error, Result, Section};

/// `N` bytes at `offset`, or `Bounds(section)`.
pub(crate) fn array<const N: usize>(
    bytes: &[u8],
    offset: usize,
    section: Section,
) -> Result<[u8; N]> {
    let end = offset.checked_add(N).ok_or(Error::Bounds(section))?;
    let slice = bytes.get(offset..end).ok_or(Error::Bounds(section))?;
    let mut out = [0u8; N];
    out.copy_from_slice(slice);
    Ok(out)
}

pub(crate) fn u8_at(bytes: &[u8], offset: usize, section: Section) -> Result<u8> {
    bytes.get(offset).copied().ok_or(Error::Bounds(section))
}

pub(crate) fn u16_at(bytes: &[u8], offset: usize, section: Section) -> Result<u16> {
    array(bytes, offset, section).map(u16::from_le_bytes)
}

pub(crate) fn u32_at(bytes: &[u8], offset: usize, section: Section) -> Result<u32> {
    array(bytes, offset, section).map(u32::from_le_bytes)
}

pub(crate) fn i32_at(bytes: &[u8], offset: usize, section: Section) -> Result<i32> {
    array(bytes, offset, section).map(i32::from_le_bytes)
}

pub(crate) fn f32_at(bytes: &[u8], offset: usize, section: Section) -> Result<f32> {
    array(bytes, offset, section).map(f32::from_le_bytes)
}

/// `a + b * c` in `usize`, or `Bounds(section)` on overflow.
pub(crate) fn offset(a: u32, b: u32, c: usize, section: Section) -> Result<usize> {
    (b as usize)
        .checked_mul(c)
        .and_then(|x| x.checked_add(a as usize))
        .ok_or(Error::Bounds(section))
}
