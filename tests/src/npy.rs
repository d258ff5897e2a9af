//! Reads the `.npy` files the TFLM oracle writes (NumPy format 1.0/2.0/3.0,
//! little-endian int8 / int32 / float32, C order).

use anyhow::{bail, ensure, Context, Result};

/// An array's element type, shape and raw little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Npy {
    /// NumPy's dtype descriptor (`|i1`, `<i4`, `<f4`).
    pub descr: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl Npy {
    /// Parses a `.npy` file.
    pub fn parse(bytes: &[u8]) -> Result<Npy> {
        ensure!(bytes.starts_with(b"\x93NUMPY"), "not an .npy file");
        let major = *bytes.get(6).context("truncated .npy")?;
        let (header_len, start) = match major {
            1 => {
                let b = bytes.get(8..10).context("truncated .npy")?;
                (u16::from_le_bytes([b[0], b[1]]) as usize, 10)
            }
            2 | 3 => {
                let b = bytes.get(8..12).context("truncated .npy")?;
                (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
            }
            v => bail!(".npy format version {v}"),
        };
        let header = bytes
            .get(start..start + header_len)
            .context("truncated .npy header")?;
        let header = std::str::from_utf8(header).context(".npy header is not text")?;
        let descr = field(header, "descr")?
            .trim_matches(|c| c == '\'' || c == '"')
            .to_owned();
        ensure!(
            field(header, "fortran_order")? == "False",
            ".npy in Fortran order"
        );
        let shape_text = field(header, "shape")?;
        let shape = shape_text
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<usize>().context("bad .npy shape"))
            .collect::<Result<Vec<_>>>()?;
        let elem = match descr.as_str() {
            "|i1" | "<i1" | "i1" => 1,
            "<i4" | "<f4" => 4,
            other => bail!("unsupported .npy dtype {other}"),
        };
        let data = bytes[start + header_len..].to_vec();
        ensure!(
            data.len() == shape.iter().product::<usize>() * elem,
            ".npy data is {} bytes for shape {shape:?} of {descr}",
            data.len()
        );
        Ok(Npy { descr, shape, data })
    }

    /// Reads and parses a file.
    pub fn read(path: &std::path::Path) -> Result<Npy> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Npy::parse(&bytes).with_context(|| format!("parsing {}", path.display()))
    }

    /// The element type as a short name: `int8`, `int32` or `float32`.
    pub fn dtype(&self) -> &'static str {
        match self.descr.as_str() {
            "<i4" => "int32",
            "<f4" => "float32",
            _ => "int8",
        }
    }
}

/// The value text of `'key': value` in a NumPy header dict.
fn field<'h>(header: &'h str, key: &str) -> Result<&'h str> {
    let pat = format!("'{key}':");
    let at = header
        .find(&pat)
        .with_context(|| format!(".npy header has no {key}"))?;
    let rest = header[at + pat.len()..].trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else {
        rest.find(',')
    }
    .context("malformed .npy header")?;
    Ok(rest[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn parses_shapes_and_types() {
        let a = Npy::parse(&npy("|i1", "(1, 2, 3)", &[0; 6])).unwrap();
        assert_eq!(a.shape, vec![1, 2, 3]);
        assert_eq!(a.dtype(), "int8");
        let b = Npy::parse(&npy("<f4", "(2,)", &[0; 8])).unwrap();
        assert_eq!(b.shape, vec![2]);
        assert_eq!(b.dtype(), "float32");
        assert!(Npy::parse(&npy("<f4", "(3,)", &[0; 8])).is_err());
        assert!(Npy::parse(&npy("<f8", "(1,)", &[0; 8])).is_err());
    }
}
