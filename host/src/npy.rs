//! A small `.npy` reader and writer: int8, int32 and float32 arrays in C
//! order, format versions 1.0 and 2.0 (enough for test vectors and `infer`).
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

/// Element type of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    I8,
    I32,
    F32,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::I8 => "|i1",
            Dtype::I32 => "<i4",
            Dtype::F32 => "<f4",
        }
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::I8 => 1,
            Dtype::I32 | Dtype::F32 => 4,
        }
    }
}

/// An array: shape, type and little-endian element bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub data: Vec<u8>,
}

impl Array {
    /// An int8 array.
    pub fn from_i8(shape: &[usize], values: &[i8]) -> Array {
        Array {
            shape: shape.to_vec(),
            dtype: Dtype::I8,
            data: values.iter().map(|&v| v as u8).collect(),
        }
    }

    /// The values, if the array is int8.
    pub fn to_i8(&self) -> Option<Vec<i8>> {
        (self.dtype == Dtype::I8).then(|| self.data.iter().map(|&v| v as i8).collect())
    }

    /// Element count.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `.npy` file bytes (format 1.0).
    pub fn to_bytes(&self) -> Vec<u8> {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        let shape = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        let mut header = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
            self.dtype.descr(),
            shape
        );
        // Pad with spaces so the data starts at a multiple of 64, then '\n'.
        let unpadded = 10 + header.len() + 1;
        header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
        header.push('\n');
        let mut out = Vec::with_capacity(10 + header.len() + self.data.len());
        out.extend(b"\x93NUMPY\x01\x00");
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(&self.data);
        out
    }

    /// Parses `.npy` file bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Array> {
        ensure!(
            bytes.len() >= 10 && &bytes[..6] == b"\x93NUMPY",
            "not a .npy file"
        );
        let (header_len, start) = match bytes[6] {
            1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
            2 | 3 => {
                ensure!(bytes.len() >= 12, "truncated .npy header");
                (
                    u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                    12,
                )
            }
            v => bail!(".npy format version {v} not supported"),
        };
        let header = bytes
            .get(start..start + header_len)
            .context("truncated .npy header")?;
        let header = std::str::from_utf8(header).context(".npy header is not text")?;
        let descr = dict_value(header, "descr")?;
        let dtype = match descr.trim_matches(|c| c == '\'' || c == '"') {
            "|i1" | "i1" | "<i1" => Dtype::I8,
            "<i4" => Dtype::I32,
            "<f4" => Dtype::F32,
            other => bail!(".npy dtype {other} not supported (int8, <i4, <f4 are)"),
        };
        ensure!(
            dict_value(header, "fortran_order")?.trim() == "False",
            "Fortran-order .npy not supported"
        );
        let shape_text = dict_value(header, "shape")?;
        let shape = shape_text
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<usize>()
                    .with_context(|| format!("bad dimension {s:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let n: usize = shape.iter().product();
        let data = bytes
            .get(start + header_len..)
            .context("truncated .npy data")?;
        ensure!(
            data.len() == n * dtype.size(),
            ".npy data has {} bytes, shape {:?} needs {}",
            data.len(),
            shape,
            n * dtype.size()
        );
        Ok(Array {
            shape,
            dtype,
            data: data.to_vec(),
        })
    }

    pub fn read(path: &Path) -> Result<Array> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Array::from_bytes(&bytes).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes()).with_context(|| format!("writing {}", path.display()))
    }
}

/// The text of `key`'s value in a Python dict literal (shape tuples included).
fn dict_value<'h>(header: &'h str, key: &str) -> Result<&'h str> {
    let at = header
        .find(&format!("'{key}'"))
        .with_context(|| format!(".npy header lacks {key}"))?;
    let rest = header[at + key.len() + 2..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .context("malformed .npy header")?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else {
        rest.find(',')
    }
    .context("malformed .npy header")?;
    Ok(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all_types_and_ranks() {
        for shape in [vec![], vec![3], vec![1, 4, 5, 2]] {
            let n: usize = shape.iter().product();
            for dtype in [Dtype::I8, Dtype::I32, Dtype::F32] {
                let data: Vec<u8> = (0..n * dtype.size()).map(|i| (i * 7) as u8).collect();
                let a = Array {
                    shape: shape.clone(),
                    dtype,
                    data,
                };
                let bytes = a.to_bytes();
                assert_eq!((bytes.len() - a.data.len()) % 64, 0);
                assert_eq!(Array::from_bytes(&bytes).unwrap(), a);
            }
        }
    }

    #[test]
    fn reads_numpy_written_header() {
        // Header exactly as numpy 1.x/2.x writes it for np.int8, shape (1, 2).
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let mut h = "{'descr': '|i1', 'fortran_order': False, 'shape': (1, 2), }".to_string();
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        bytes.extend((h.len() as u16).to_le_bytes());
        bytes.extend(h.as_bytes());
        bytes.extend([0xFF, 0x05]);
        let a = Array::from_bytes(&bytes).unwrap();
        assert_eq!(a.shape, vec![1, 2]);
        assert_eq!(a.to_i8().unwrap(), vec![-1, 5]);
        assert!(Array::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Array::from_bytes(b"\x93NUMPX").is_err());
    }
}
