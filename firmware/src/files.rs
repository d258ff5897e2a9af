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
            return Err(FileError::TooLarge { capacity: buf.len() });
        };
        if rest.is_empty() {
            // Full: the file must end exactly here.
            let mut probe = [0u8; 1];
            return match file.read(&mut probe) {
                Ok(0) => Ok(len),
                Ok(_) => Err(FileError::TooLarge { capacity: buf.len() }),
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

/// `prefix` + `k` + `.bin` as a C string in `buf`, e.g. `input0.bin`.
pub fn numbered<'b>(prefix: &str, k: usize, buf: &'b mut [u8; 32]) -> Option<&'b CStr> {
    let mut digits = [0u8; 10];
    let mut n = k;
    let mut d = digits.len();
    loop {
        d -= 1;
        *digits.get_mut(d)? = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let parts: [&[u8]; 4] = [prefix.as_bytes(), digits.get(d..)?, b".bin", b"\0"];
    let mut len = 0;
    for part in parts {
        buf.get_mut(len..len + part.len())?.copy_from_slice(part);
        len += part.len();
    }
    CStr::from_bytes_with_nul(buf.get(..len)?).ok()
}
