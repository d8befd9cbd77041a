//! The column dtype grammar (docs/FORMAT.md §6.1), parsed once here for every language.
//!
//! * `bool`, `i8`…`u64`, `f16`, `f32`, `f64`: one little-endian scalar per row.
//! * `vec:<e>:d1[:d2…]` / `vector:…` (numeric `e`, bool and f16 included): a fixed tensor of raw
//!   contiguous little-endian values per row (no type byte, unlike DataPacker).
//! * `str`, `string`, `str:<codec>` (a codec name, not a width): variable-width text.
//! * `bytes`: variable-width raw bytes.
//! * anything else (`str:N[:enc]`, `bytes:N`, `msgpack[:N]`, `cbor[:N]`, `vec:<e>` of any shape …):
//!   one DataPacker record per row, fixed width when the packer has one, else variable.

use std::borrow::Cow;

use crate::codec::{dtype_size, KIND_RAW, KIND_UTF8};
use crate::error::{Error, Result};
use crate::packer::DataPacker;

/// The largest fixed-width record (and variable record) a column stores.
pub const MAX_RECORD: u64 = 512 << 20;

/// A text codec of `str:<codec>` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Utf8,
    Utf16Le,
    Utf16Be,
    /// `utf-16`: a byte-order mark, then little-endian (Python's encoder on every shipped CPU).
    Utf16,
    Utf32Le,
    Utf32Be,
    Utf32,
    Ascii,
    Latin1,
}

impl Codec {
    /// Python-style codec names, case-insensitive, `-`/`_` ignored (`UTF-8`, `utf16le`, `latin_1`).
    pub fn parse(name: &str) -> Option<Codec> {
        let n: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_' && *c != ' ')
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match n.as_str() {
            "utf8" | "u8" | "utf" => Codec::Utf8,
            "utf16le" => Codec::Utf16Le,
            "utf16be" => Codec::Utf16Be,
            "utf16" | "u16" => Codec::Utf16,
            "utf32le" => Codec::Utf32Le,
            "utf32be" => Codec::Utf32Be,
            "utf32" | "u32" => Codec::Utf32,
            "ascii" | "usascii" | "646" => Codec::Ascii,
            "latin1" | "latin" | "l1" | "iso88591" | "8859" | "cp819" => Codec::Latin1,
            _ => return None,
        })
    }

    pub fn encode(self, s: &str) -> Result<Vec<u8>> {
        Ok(match self {
            Codec::Utf8 => s.as_bytes().to_vec(),
            Codec::Utf16Le | Codec::Utf16 => {
                let mut out = Vec::with_capacity(s.len() * 2 + 2);
                if self == Codec::Utf16 {
                    out.extend_from_slice(&[0xFF, 0xFE]);
                }
                for u in s.encode_utf16() {
                    out.extend_from_slice(&u.to_le_bytes());
                }
                out
            }
            Codec::Utf16Be => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            Codec::Utf32Le | Codec::Utf32 => {
                let mut out = Vec::with_capacity(s.len() * 4 + 4);
                if self == Codec::Utf32 {
                    out.extend_from_slice(&[0xFF, 0xFE, 0, 0]);
                }
                for c in s.chars() {
                    out.extend_from_slice(&(c as u32).to_le_bytes());
                }
                out
            }
            Codec::Utf32Be => s.chars().flat_map(|c| (c as u32).to_be_bytes()).collect(),
            Codec::Ascii => {
                if !s.is_ascii() {
                    return Err(Error::invalid(
                        "'ascii' codec can't encode a character outside range(128)",
                    ));
                }
                s.as_bytes().to_vec()
            }
            Codec::Latin1 => s
                .chars()
                .map(|c| {
                    u8::try_from(c as u32).map_err(|_| {
                        Error::invalid(
                            "'latin-1' codec can't encode a character outside range(256)",
                        )
                    })
                })
                .collect::<Result<_>>()?,
        })
    }

    pub fn decode(self, b: &[u8]) -> Result<String> {
        let bad = |what: &str| Error::invalid(format!("cannot decode stored text as {what}"));
        match self {
            Codec::Utf8 => String::from_utf8(b.to_vec()).map_err(|_| bad("utf-8")),
            Codec::Utf16Le | Codec::Utf16Be | Codec::Utf16 => {
                let (mut body, mut le) = (b, self != Codec::Utf16Be);
                if self == Codec::Utf16 && b.len() >= 2 {
                    match b[..2] {
                        [0xFF, 0xFE] => body = &b[2..],
                        [0xFE, 0xFF] => (body, le) = (&b[2..], false),
                        _ => {}
                    }
                }
                if !body.len().is_multiple_of(2) {
                    return Err(bad("utf-16"));
                }
                let units = body.chunks_exact(2).map(|c| {
                    let a = [c[0], c[1]];
                    if le {
                        u16::from_le_bytes(a)
                    } else {
                        u16::from_be_bytes(a)
                    }
                });
                char::decode_utf16(units)
                    .collect::<std::result::Result<String, _>>()
                    .map_err(|_| bad("utf-16"))
            }
            Codec::Utf32Le | Codec::Utf32Be | Codec::Utf32 => {
                let (mut body, mut le) = (b, self != Codec::Utf32Be);
                if self == Codec::Utf32 && b.len() >= 4 {
                    match b[..4] {
                        [0xFF, 0xFE, 0, 0] => body = &b[4..],
                        [0, 0, 0xFE, 0xFF] => (body, le) = (&b[4..], false),
                        _ => {}
                    }
                }
                if !body.len().is_multiple_of(4) {
                    return Err(bad("utf-32"));
                }
                body.chunks_exact(4)
                    .map(|c| {
                        let a = [c[0], c[1], c[2], c[3]];
                        let u = if le {
                            u32::from_le_bytes(a)
                        } else {
                            u32::from_be_bytes(a)
                        };
                        char::from_u32(u).ok_or_else(|| bad("utf-32"))
                    })
                    .collect()
            }
            Codec::Ascii => {
                if !b.is_ascii() {
                    return Err(bad("ascii"));
                }
                Ok(String::from_utf8(b.to_vec()).expect("ascii is utf-8"))
            }
            Codec::Latin1 => Ok(b.iter().map(|&c| c as char).collect()),
        }
    }
}

/// How a column stores its rows; the UDL's `ColumnLayout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnLayout {
    /// One little-endian scalar per row (`elem_dtype`).
    Scalar,
    /// A fixed tensor of `shape` scalars per row.
    Tensor,
    /// Variable-width text in a codec; values cross as UTF-8 (kind 6).
    Text,
    /// Variable-width raw bytes.
    Bytes,
    /// One DataPacker record per row; values cross as the packer's value kind.
    Packed,
}

/// A parsed column dtype.
pub enum ColumnType {
    Scalar { elem: u8 },
    Tensor { elem: u8, shape: Vec<u32> },
    Text { codec: Codec },
    Bytes,
    Packed(Box<DataPacker>),
}

fn scalar_code(s: &str) -> Option<u8> {
    Some(match s {
        "bool" => 0x0B,
        "i8" | "int8" => 0x09,
        "i16" | "int16" => 0x0A,
        "i32" | "int32" => 0x03,
        "i64" | "int64" => 0x04,
        "u8" | "uint8" => 0x05,
        "u16" | "uint16" => 0x06,
        "u32" | "uint32" => 0x07,
        "u64" | "uint64" => 0x08,
        "f16" | "float16" => 0x0C,
        "f32" | "float32" => 0x01,
        "f64" | "float64" => 0x02,
        _ => return None,
    })
}

impl ColumnType {
    pub fn parse(dtype: &str) -> Result<ColumnType> {
        let d = dtype.trim();
        let lower = d.to_ascii_lowercase();
        if let Some(elem) = scalar_code(&lower) {
            return Ok(ColumnType::Scalar { elem });
        }
        let parts: Vec<&str> = lower.split(':').map(str::trim).collect();
        match parts.as_slice() {
            ["str" | "string"] => return Ok(ColumnType::Text { codec: Codec::Utf8 }),
            ["str" | "string", codec] if !codec.chars().all(|c| c.is_ascii_digit()) => {
                return match Codec::parse(codec) {
                    Some(codec) => Ok(ColumnType::Text { codec }),
                    None => Err(Error::UnsupportedEncoding(format!(
                        "unknown encoding: {}",
                        d.split(':').nth(1).unwrap_or("").trim()
                    ))),
                };
            }
            ["bytes"] => return Ok(ColumnType::Bytes),
            ["vec" | "vector", e, dims @ ..] if !dims.is_empty() => {
                if let Some(elem) = scalar_code(e) {
                    let mut shape = Vec::with_capacity(dims.len());
                    for x in dims {
                        let n: u64 = x.parse().map_err(|_| {
                            Error::invalid(format!("invalid vector dimension {x:?} in {d:?}"))
                        })?;
                        if n == 0 || n > u32::MAX as u64 {
                            return Err(Error::invalid("Vector dimensions must be positive"));
                        }
                        shape.push(n as u32);
                    }
                    let t = ColumnType::Tensor { elem, shape };
                    t.check_size()?;
                    return Ok(t);
                }
            }
            _ => {}
        }
        let packer = DataPacker::new(d.to_string())
            .map_err(|e| Error::invalid(format!("invalid column dtype {d:?}: {e}")))?;
        let t = ColumnType::Packed(Box::new(packer));
        t.check_size()?;
        Ok(t)
    }

    fn check_size(&self) -> Result<()> {
        match self.elem_size_checked() {
            Some(n) if n <= MAX_RECORD => Ok(()),
            _ => Err(Error::invalid("A fixed-width record cannot exceed 512 MiB")),
        }
    }

    fn elem_size_checked(&self) -> Option<u64> {
        Some(match self {
            ColumnType::Scalar { elem } => dtype_size(*elem)? as u64,
            ColumnType::Tensor { elem, shape } => shape
                .iter()
                .try_fold(dtype_size(*elem)? as u64, |a, &d| a.checked_mul(d as u64))?,
            ColumnType::Text { .. } | ColumnType::Bytes => 0,
            ColumnType::Packed(p) => p.elem_size() as u64,
        })
    }

    /// Bytes per row; 0 for variable width.
    pub fn elem_size(&self) -> u64 {
        self.elem_size_checked().unwrap_or(0)
    }

    pub fn layout(&self) -> ColumnLayout {
        match self {
            ColumnType::Scalar { .. } => ColumnLayout::Scalar,
            ColumnType::Tensor { .. } => ColumnLayout::Tensor,
            ColumnType::Text { .. } => ColumnLayout::Text,
            ColumnType::Bytes => ColumnLayout::Bytes,
            ColumnType::Packed(_) => ColumnLayout::Packed,
        }
    }

    /// The element dtype code of scalar and tensor columns (docs/FORMAT.md §2), else 0.
    pub fn elem_dtype(&self) -> u8 {
        match self {
            ColumnType::Scalar { elem } | ColumnType::Tensor { elem, .. } => *elem,
            ColumnType::Packed(p) => p.elem_dtype().unwrap_or(0),
            _ => 0,
        }
    }

    pub fn shape(&self) -> Vec<u32> {
        match self {
            ColumnType::Tensor { shape, .. } => shape.clone(),
            _ => Vec::new(),
        }
    }

    /// The value kind `append_values` takes and `read_values` returns for this column.
    pub fn value_kind(&self) -> u8 {
        match self {
            // Numeric rows cross raw (elem_size little-endian bytes), as `encode` takes them.
            ColumnType::Scalar { .. } | ColumnType::Tensor { .. } => KIND_RAW,
            ColumnType::Text { .. } => KIND_UTF8,
            ColumnType::Bytes => KIND_RAW,
            ColumnType::Packed(p) => p.value_kind(),
        }
    }

    /// A value (kind, payload) as the stored bytes of one row (borrowed when they are the same).
    pub fn encode<'a>(&self, kind: u8, payload: &'a [u8]) -> Result<Cow<'a, [u8]>> {
        match self {
            ColumnType::Text { codec } => {
                if kind != KIND_UTF8 {
                    return Err(Error::invalid("A string column requires str values"));
                }
                let s = std::str::from_utf8(payload)
                    .map_err(|_| Error::invalid("A string column requires str values"))?;
                if *codec == Codec::Utf8 {
                    return Ok(Cow::Borrowed(payload));
                }
                codec.encode(s).map(Cow::Owned)
            }
            ColumnType::Bytes => {
                if kind != KIND_RAW {
                    return Err(Error::invalid("A bytes column requires bytes-like values"));
                }
                Ok(Cow::Borrowed(payload))
            }
            ColumnType::Packed(p) => p.pack_value(kind, payload).map(Cow::Owned),
            ColumnType::Scalar { .. } | ColumnType::Tensor { .. } => {
                let n = self.elem_size() as usize;
                if kind == KIND_RAW && payload.len() == n {
                    return Ok(Cow::Borrowed(payload));
                }
                Err(Error::invalid(format!(
                    "a numeric column takes rows of {n} raw little-endian bytes"
                )))
            }
        }
    }

    /// The stored bytes of one row as a value (kind, payload).
    pub fn decode(&self, row: &[u8]) -> Result<(u8, Vec<u8>)> {
        match self {
            ColumnType::Text { codec } => Ok((KIND_UTF8, codec.decode(row)?.into_bytes())),
            ColumnType::Packed(p) => {
                let t = p.unpack_value(row)?;
                Ok((t.kind, t.payload))
            }
            ColumnType::Bytes | ColumnType::Scalar { .. } | ColumnType::Tensor { .. } => {
                Ok((KIND_RAW, row.to_vec()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert!(matches!(
            ColumnType::parse("i64").unwrap(),
            ColumnType::Scalar { elem: 0x04 }
        ));
        let t = ColumnType::parse("vec:f32:2:3").unwrap();
        assert_eq!(t.elem_size(), 24);
        assert_eq!(t.shape(), [2, 3]);
        assert_eq!(t.layout(), ColumnLayout::Tensor);
        assert_eq!(ColumnType::parse("bool").unwrap().elem_size(), 1);
        assert_eq!(ColumnType::parse("f16").unwrap().elem_size(), 2);
        assert_eq!(
            ColumnType::parse("str").unwrap().layout(),
            ColumnLayout::Text
        );
        assert_eq!(
            ColumnType::parse("str:utf16le").unwrap().layout(),
            ColumnLayout::Text
        );
        assert_eq!(ColumnType::parse("str:8").unwrap().elem_size(), 8);
        assert_eq!(ColumnType::parse("bytes:4").unwrap().elem_size(), 4);
        assert_eq!(ColumnType::parse("msgpack").unwrap().elem_size(), 0);
        assert_eq!(
            ColumnType::parse("vec:f32").unwrap().layout(),
            ColumnLayout::Packed
        );
        assert!(ColumnType::parse("vec:f32:0").is_err());
        assert!(ColumnType::parse("nope").is_err());
        assert!(matches!(
            ColumnType::parse("str:klingon"),
            Err(Error::UnsupportedEncoding(_))
        ));
        assert!(ColumnType::parse("vec:u8:1024:1024:1024").is_err());
    }

    #[test]
    fn codecs_round_trip() {
        for c in [
            Codec::Utf8,
            Codec::Utf16Le,
            Codec::Utf16Be,
            Codec::Utf16,
            Codec::Utf32Le,
            Codec::Utf32Be,
            Codec::Utf32,
        ] {
            let s = "été 🎉";
            assert_eq!(c.decode(&c.encode(s).unwrap()).unwrap(), s, "{c:?}");
        }
        assert_eq!(Codec::Utf16.encode("a").unwrap(), [0xFF, 0xFE, b'a', 0]);
        assert!(Codec::Ascii.encode("é").is_err());
        assert_eq!(Codec::Latin1.encode("é").unwrap(), [0xE9]);
        assert_eq!(Codec::parse("UTF-16-LE"), Some(Codec::Utf16Le));
        assert_eq!(Codec::parse("latin_1"), Some(Codec::Latin1));
    }
}
