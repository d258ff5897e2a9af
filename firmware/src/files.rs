//! Files on the host, through semihosting: the simulated board's way of
//! receiving a model and frames and handing results back. Paths are relative
//! to the folder QEMU runs in (the host driver chooses it).
use core::ffi::CStr;

use semihosting::{
    fs,
    io::{Read, Write},
};

/// Why a file transfer failed.
#[derive(Clone, Copy, Debug, defmt::Format)]
pub enum FileError {
    /// The host refused to open or read the file.
    Io,
    /// The file holds more bytes than the buffer.
    TooLarge { capacity: usize },
}

/// Reads all of `path` into `buf`, returning the number of bytes read.
pub fn read(path: &CStr, buf: &mut [u8]) -> Result<usize, FileError> {
    let mut file = fs::File::open(path).map_err(|_| FileError::Io)?;
    let mut len = 0;
    loop {
        let Some(rest) = buf.get_mut(len..) else {
            return Err(FileError::TooLarge {
                capacity: buf.len(),
            });
        };
        if rest.is_empty() {
            // Full: the file must end exactly here.
            let mut probe = [0u8; 1];
            return match file.read(&mut probe) {
                Ok(0) => Ok(len),
                Ok(_) => Err(FileError::TooLarge {
                    capacity: buf.len(),
                }),
                Err(_) => Err(FileError::Io),
            };
        }
        match file.read(rest) {
            Ok(0) => return Ok(len),
            Ok(n) => len += n,
            Err(_) => return Err(FileError::Io),
        }
    }
}

/// Creates (or truncates) `path` and writes `data` to it.
pub fn write(path: &CStr, data: &[u8]) -> Result<(), FileError> {
    let mut file = fs::File::create(path).map_err(|_| FileError::Io)?;
    file.write_all(data).map_err(|_| FileError::Io)
}

/// A file name built with `format_args!`, kept as a C string in a fixed
/// buffer (semihosting wants NUL-terminated paths).
pub struct Path {
    buf: [u8; 64],
    len: usize,
}

impl core::fmt::Write for Path {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // Keep one byte for the NUL.
        let end = self.len + s.len();
        if end >= self.buf.len() {
            return Err(core::fmt::Error);
        }
        let dst = self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Path {
    /// The name `args` spells, e.g. `path(format_args!("frame{}.bin", k))`;
    /// `None` if it is longer than 63 bytes or holds a NUL.
    pub fn new(args: core::fmt::Arguments) -> Option<Path> {
        let mut path = Path {
            buf: [0; 64],
            len: 0,
        };
        core::fmt::write(&mut path, args).ok()?;
        Some(path)
    }

    pub fn as_c_str(&self) -> Option<&CStr> {
        CStr::from_bytes_with_nul(self.buf.get(..=self.len)?).ok()
    }
}
