//! DataPacker: the typed serializer (docs/COMPATIBILITY.md §2). Values cross the FFI as
//! (kind, payload) pairs of docs/FORMAT.md §2; this module checks them against the dtype and
//! produces kohakuvault 1.1.0's exact bytes.

use crate::codec::{
    self, plain, TaggedValue, KIND_BOOL, KIND_CBOR, KIND_FLOAT, KIND_INT, KIND_MSGPACK,
    KIND_NDARRAY, KIND_RAW, KIND_UTF8,
};
use crate::error::{guard, Error, Result, VResult};
use crate::ffi::packed::{put_tagged, Reader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Ascii,
    Latin1,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DType {
    I64,
    F64,
    String {
        encoding: Encoding,
        fixed_size: Option<usize>,
    },
    Bytes {
        fixed_size: Option<usize>,
    },
    MessagePack {
        fixed_size: Option<usize>,
    },
    Cbor {
        fixed_size: Option<usize>,
    },
    Vector {
        elem: u8,
        shape: Option<Vec<u32>>,
    },
}

fn parse_encoding(s: &str) -> Option<Encoding> {
    Some(match s.to_ascii_lowercase().as_str() {
        "utf8" | "utf-8" => Encoding::Utf8,
        "utf16le" | "utf-16le" => Encoding::Utf16Le,
        "utf16be" | "utf-16be" => Encoding::Utf16Be,
        "ascii" => Encoding::Ascii,
        "latin1" | "iso-8859-1" => Encoding::Latin1,
        _ => return None,
    })
}

fn parse_elem(s: &str) -> Option<u8> {
    Some(match s.to_ascii_lowercase().as_str() {
        "f32" | "float32" => 0x01,
        "f64" | "float64" => 0x02,
        "i32" | "int32" => 0x03,
        "i64" | "int64" => 0x04,
        "u8" | "uint8" => 0x05,
        "u16" | "uint16" => 0x06,
        "u32" | "uint32" => 0x07,
        "u64" | "uint64" => 0x08,
        "i8" | "int8" => 0x09,
        "i16" | "int16" => 0x0A,
        _ => return None,
    })
}

fn parse_size(s: &str, dtype: &str) -> Result<usize> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::invalid(format!("Invalid dtype: {dtype}"))),
    }
}

impl DType {
    pub fn parse(dtype: &str) -> Result<DType> {
        let bad = || Error::invalid(format!("Invalid dtype: {dtype}"));
        let parts: Vec<&str> = dtype.split(':').collect();
        let head = parts[0].to_ascii_lowercase();
        Ok(match head.as_str() {
            "i64" if parts.len() == 1 => DType::I64,
            "f64" if parts.len() == 1 => DType::F64,
            "str" | "string" => match parts.len() {
                1 => DType::String {
                    encoding: Encoding::Utf8,
                    fixed_size: None,
                },
                2 => match parts[1].parse::<usize>() {
                    Ok(_) => DType::String {
                        encoding: Encoding::Utf8,
                        fixed_size: Some(parse_size(parts[1], dtype)?),
                    },
                    Err(_) => DType::String {
                        encoding: parse_encoding(parts[1]).ok_or_else(bad)?,
                        fixed_size: None,
                    },
                },
                3 => DType::String {
                    encoding: parse_encoding(parts[2]).ok_or_else(bad)?,
                    fixed_size: Some(parse_size(parts[1], dtype)?),
                },
                _ => return Err(bad()),
            },
            "bytes" => match parts.len() {
                1 => DType::Bytes { fixed_size: None },
                2 => DType::Bytes {
                    fixed_size: Some(parse_size(parts[1], dtype)?),
                },
                _ => return Err(bad()),
            },
            "msgpack" | "messagepack" => match parts.len() {
                1 => DType::MessagePack { fixed_size: None },
                2 => DType::MessagePack {
                    fixed_size: Some(parse_size(parts[1], dtype)?),
                },
                _ => return Err(bad()),
            },
            "cbor" => match parts.len() {
                1 => DType::Cbor { fixed_size: None },
                2 => DType::Cbor {
                    fixed_size: Some(parse_size(parts[1], dtype)?),
                },
                _ => return Err(bad()),
            },
            "vec" | "vector" => {
                if parts.len() < 2 {
                    return Err(bad());
                }
                let elem = parse_elem(parts[1]).ok_or_else(bad)?;
                if parts.len() == 2 {
                    DType::Vector { elem, shape: None }
                } else {
                    let dims = parts[2..]
                        .iter()
                        .map(|d| match d.parse::<u32>() {
                            Ok(n) if n > 0 => Ok(n),
                            _ => Err(bad()),
                        })
                        .collect::<Result<Vec<u32>>>()?;
                    DType::Vector {
                        elem,
                        shape: Some(dims),
                    }
                }
            }
            _ => {
                return Err(Error::invalid(format!(
                    "Invalid dtype: Unknown dtype: {}",
                    parts[0]
                )))
            }
        })
    }

    pub fn elem_size(&self) -> usize {
        match self {
            DType::I64 | DType::F64 => 8,
            DType::String { fixed_size, .. }
            | DType::Bytes { fixed_size }
            | DType::MessagePack { fixed_size }
            | DType::Cbor { fixed_size } => fixed_size.unwrap_or(0),
            DType::Vector {
                elem,
                shape: Some(dims),
            } => {
                1 + dims.iter().map(|&d| d as usize).product::<usize>()
                    * codec::dtype_size(*elem).expect("valid")
            }
            DType::Vector { shape: None, .. } => 0,
        }
    }
}

fn int_of(kind: u8, payload: &[u8]) -> Result<i64> {
    match kind {
        KIND_INT => {
            if payload.is_empty() || payload.len() > 8 {
                let neg = payload.last().is_some_and(|b| b & 0x80 != 0);
                let fill = if neg { 0xFF } else { 0 };
                if payload.len() > 8
                    && payload[8..].iter().all(|&b| b == fill)
                    && ((payload[7] & 0x80 != 0) == neg)
                {
                    return Ok(i64::from_le_bytes(payload[..8].try_into().expect("8")));
                }
                return Err(Error::invalid("int too large to convert to i64"));
            }
            let neg = payload[payload.len() - 1] & 0x80 != 0;
            let mut b = [if neg { 0xFF } else { 0 }; 8];
            b[..payload.len()].copy_from_slice(payload);
            Ok(i64::from_le_bytes(b))
        }
        KIND_BOOL if payload.len() == 1 => Ok(payload[0] as i64),
        _ => Err(Error::invalid("expected an int")),
    }
}

fn encode_text(enc: Encoding, s: &str) -> Result<Vec<u8>> {
    Ok(match enc {
        Encoding::Utf8 => s.as_bytes().to_vec(),
        Encoding::Utf16Le => s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
        Encoding::Utf16Be => s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect(),
        Encoding::Ascii => {
            if !s.is_ascii() {
                return Err(Error::invalid("String contains non-ASCII characters"));
            }
            s.as_bytes().to_vec()
        }
        Encoding::Latin1 => s
            .chars()
            .map(|c| {
                u8::try_from(c as u32)
                    .map_err(|_| Error::invalid("String contains characters outside Latin1 range"))
            })
            .collect::<Result<_>>()?,
    })
}

fn decode_text(enc: Encoding, b: &[u8]) -> Result<String> {
    let units = |be: bool| -> Vec<u16> {
        b.chunks_exact(2)
            .map(|c| {
                if be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect()
    };
    Ok(match enc {
        Encoding::Utf8 => {
            String::from_utf8(b.to_vec()).map_err(|_| Error::invalid("invalid UTF-8 data"))?
        }
        Encoding::Utf16Le => {
            String::from_utf16(&units(false)).map_err(|_| Error::invalid("invalid UTF-16 data"))?
        }
        Encoding::Utf16Be => {
            String::from_utf16(&units(true)).map_err(|_| Error::invalid("invalid UTF-16 data"))?
        }
        Encoding::Ascii => {
            if !b.is_ascii() {
                return Err(Error::invalid("invalid ASCII data"));
            }
            String::from_utf8(b.to_vec()).expect("ascii")
        }
        Encoding::Latin1 => b.iter().map(|&c| c as char).collect(),
    })
}

fn fixed(mut v: Vec<u8>, n: Option<usize>) -> Result<Vec<u8>> {
    if let Some(n) = n {
        if v.len() > n {
            return Err(Error::invalid(format!(
                "Data too long: {} > {}",
                v.len(),
                n
            )));
        }
        v.resize(n, 0);
    }
    Ok(v)
}

/// Reads element `i` of a typed buffer as f64 or i128 and writes it as `to` (numpy `astype`).
fn cast_elems(from: u8, data: &[u8], to: u8) -> Vec<u8> {
    if from == to {
        return data.to_vec();
    }
    let fs = codec::dtype_size(from).expect("valid");
    let n = data.len() / fs;
    let mut out = Vec::with_capacity(n * codec::dtype_size(to).expect("valid"));
    for c in data.chunks_exact(fs) {
        enum N {
            I(i128),
            F(f64),
        }
        let v = match from {
            0x01 => N::F(f32::from_le_bytes(c.try_into().unwrap()) as f64),
            0x02 => N::F(f64::from_le_bytes(c.try_into().unwrap())),
            0x03 => N::I(i32::from_le_bytes(c.try_into().unwrap()) as i128),
            0x04 => N::I(i64::from_le_bytes(c.try_into().unwrap()) as i128),
            0x05 => N::I(c[0] as i128),
            0x06 => N::I(u16::from_le_bytes(c.try_into().unwrap()) as i128),
            0x07 => N::I(u32::from_le_bytes(c.try_into().unwrap()) as i128),
            0x08 => N::I(u64::from_le_bytes(c.try_into().unwrap()) as i128),
            0x09 => N::I(c[0] as i8 as i128),
            _ => N::I(i16::from_le_bytes(c.try_into().unwrap()) as i128),
        };
        let (i, f) = match v {
            N::I(i) => (i, i as f64),
            N::F(f) => (f as i128, f),
        };
        match to {
            0x01 => out.extend_from_slice(&(f as f32).to_le_bytes()),
            0x02 => out.extend_from_slice(&f.to_le_bytes()),
            0x03 => out.extend_from_slice(&(i as i32).to_le_bytes()),
            0x04 => out.extend_from_slice(&(i as i64).to_le_bytes()),
            0x05 => out.push(i as u8),
            0x06 => out.extend_from_slice(&(i as u16).to_le_bytes()),
            0x07 => out.extend_from_slice(&(i as u32).to_le_bytes()),
            0x08 => out.extend_from_slice(&(i as u64).to_le_bytes()),
            0x09 => out.push(i as i8 as u8),
            _ => out.extend_from_slice(&(i as i16).to_le_bytes()),
        }
    }
    out
}

pub struct DataPacker {
    dtype_str: String,
    dtype: DType,
    schema: Option<jsonschema::JSONSchema>,
}

impl DataPacker {
    pub fn new(dtype: String) -> VResult<Self> {
        guard(|| {
            Ok(DataPacker {
                dtype: DType::parse(&dtype)?,
                dtype_str: dtype,
                schema: None,
            })
        })
    }

    pub fn with_json_schema(schema_json: String) -> VResult<Self> {
        guard(|| {
            let schema: serde_json::Value = serde_json::from_str(&schema_json)
                .map_err(|e| Error::invalid(format!("Schema compilation failed: {e}")))?;
            let compiled = jsonschema::JSONSchema::compile(&schema)
                .map_err(|e| Error::invalid(format!("Schema compilation failed: {e}")))?;
            Ok(DataPacker {
                dtype_str: "msgpack".into(),
                dtype: DType::MessagePack { fixed_size: None },
                schema: Some(compiled),
            })
        })
    }

    pub fn with_cddl_schema(_schema: Option<String>) -> Self {
        DataPacker {
            dtype_str: "cbor".into(),
            dtype: DType::Cbor { fixed_size: None },
            schema: None,
        }
    }

    pub fn dtype(&self) -> String {
        self.dtype_str.clone()
    }
    pub fn describe(&self) -> String {
        format!("DataPacker({:?})", self.dtype)
    }
    pub fn elem_size(&self) -> u32 {
        self.dtype.elem_size() as u32
    }
    pub fn is_varsize(&self) -> bool {
        self.dtype.elem_size() == 0
    }

    /// The value kind `pack` takes and `unpack` returns (docs/FORMAT.md §2), so no facade
    /// parses dtype strings: int 16, float 17, utf8 6, raw 0, msgpack 4 (cbor packers take and
    /// return MessagePack too), ndarray 19.
    pub fn value_kind(&self) -> u8 {
        match self.dtype {
            DType::I64 => KIND_INT,
            DType::F64 => KIND_FLOAT,
            DType::String { .. } => KIND_UTF8,
            DType::Bytes { .. } => KIND_RAW,
            DType::MessagePack { .. } | DType::Cbor { .. } => KIND_MSGPACK,
            DType::Vector { .. } => KIND_NDARRAY,
        }
    }

    /// The element dtype code of a vector packer (docs/FORMAT.md §2.4), else None.
    pub fn elem_dtype(&self) -> Option<u8> {
        match self.dtype {
            DType::Vector { elem, .. } => Some(elem),
            _ => None,
        }
    }

    fn validate(&self, msgpack: &[u8]) -> Result<()> {
        if let Some(schema) = &self.schema {
            let json = plain::transcode(KIND_MSGPACK, codec::KIND_JSON, msgpack)?;
            let v: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
            let msgs: Vec<String> = match schema.validate(&v) {
                Ok(()) => Vec::new(),
                Err(errors) => errors.map(|e| e.to_string()).collect(),
            };
            if !msgs.is_empty() {
                return Err(Error::invalid(format!(
                    "Validation errors: {}",
                    msgs.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn pack_one(&self, kind: u8, payload: &[u8]) -> Result<Vec<u8>> {
        match &self.dtype {
            DType::I64 => Ok(int_of(kind, payload)?.to_le_bytes().to_vec()),
            DType::F64 => match kind {
                KIND_FLOAT if payload.len() == 8 => Ok(payload.to_vec()),
                KIND_INT | KIND_BOOL => Ok((int_of(kind, payload)? as f64).to_le_bytes().to_vec()),
                _ => Err(Error::invalid("expected a float")),
            },
            DType::String {
                encoding,
                fixed_size,
            } => {
                if kind != KIND_UTF8 {
                    return Err(Error::invalid("expected a str"));
                }
                let s = std::str::from_utf8(payload)
                    .map_err(|_| Error::invalid("invalid UTF-8 text"))?;
                fixed(encode_text(*encoding, s)?, *fixed_size)
            }
            DType::Bytes { fixed_size } => {
                if kind != KIND_RAW {
                    return Err(Error::invalid("expected bytes"));
                }
                fixed(payload.to_vec(), *fixed_size)
            }
            DType::MessagePack { fixed_size } => {
                let mp = match kind {
                    KIND_MSGPACK => payload.to_vec(),
                    KIND_CBOR | codec::KIND_JSON => plain::transcode(kind, KIND_MSGPACK, payload)?,
                    _ => return Err(Error::invalid("expected a MessagePack payload")),
                };
                self.validate(&mp)?;
                let canon = plain::canonical_msgpack(&mp)?.unwrap_or(mp);
                fixed(canon, *fixed_size)
            }
            DType::Cbor { fixed_size } => {
                let cbor = match kind {
                    KIND_CBOR => {
                        plain::check_cbor(payload)?;
                        payload.to_vec()
                    }
                    KIND_MSGPACK | codec::KIND_JSON => plain::transcode(kind, KIND_CBOR, payload)?,
                    _ => return Err(Error::invalid("expected a structured value")),
                };
                fixed(cbor, *fixed_size)
            }
            DType::Vector { elem, shape } => {
                if kind != KIND_NDARRAY && kind != codec::KIND_NPSCALAR {
                    return Err(Error::invalid("expected an array"));
                }
                let arr = codec::parse_array(payload, false)
                    .map_err(|_| Error::invalid("unsupported array dtype for a vector"))?;
                let data = cast_elems(arr.dtype, &payload[arr.data_offset..], *elem);
                match shape {
                    Some(dims) => {
                        if &arr.dims != dims {
                            return Err(Error::invalid(format!(
                                "Shape mismatch: expected {dims:?}, got {:?}",
                                arr.dims
                            )));
                        }
                        let mut out = vec![*elem];
                        out.extend_from_slice(&data);
                        Ok(out)
                    }
                    None => {
                        let mut out = vec![*elem, arr.ndim as u8];
                        for d in &arr.dims {
                            out.extend_from_slice(&d.to_le_bytes());
                        }
                        out.extend_from_slice(&data);
                        Ok(out)
                    }
                }
            }
        }
    }

    fn unpack_one(&self, b: &[u8], index: usize) -> Result<TaggedValue> {
        let need = |n: usize| -> Result<&[u8]> {
            b.get(..n).ok_or_else(|| Error::invalid("Not enough data"))
        };
        Ok(match &self.dtype {
            DType::I64 => TaggedValue::new(KIND_INT, need(8)?),
            DType::F64 => TaggedValue::new(KIND_FLOAT, need(8)?),
            DType::String {
                encoding,
                fixed_size,
            } => {
                let raw = match fixed_size {
                    Some(n) => need(*n)?,
                    None => b,
                };
                let s = decode_text(*encoding, raw)?;
                let s = if fixed_size.is_some() {
                    s.trim_end_matches('\0').to_string()
                } else {
                    s
                };
                TaggedValue::new(KIND_UTF8, s.into_bytes())
            }
            DType::Bytes { fixed_size } => {
                TaggedValue::new(KIND_RAW, fixed_size.map_or(Ok(b), need)?)
            }
            DType::MessagePack { .. } => {
                let mut cur = b;
                let v = rmpv::decode::read_value(&mut cur)
                    .map_err(|e| Error::invalid(format!("invalid MessagePack data: {e}")))?;
                TaggedValue::new(KIND_MSGPACK, plain::write_msgpack(&v))
            }
            DType::Cbor { fixed_size } => {
                let raw = fixed_size.map_or(Ok(b), need)?;
                let mut cur = raw;
                let v: ciborium::Value = ciborium::de::from_reader(&mut cur)
                    .map_err(|e| Error::invalid(format!("invalid CBOR data: {e}")))?;
                let mut one = Vec::new();
                ciborium::ser::into_writer(&v, &mut one)
                    .map_err(|e| Error::invalid(e.to_string()))?;
                TaggedValue::new(
                    KIND_MSGPACK,
                    plain::transcode(KIND_CBOR, KIND_MSGPACK, &one)?,
                )
            }
            DType::Vector {
                elem,
                shape: Some(dims),
            } => {
                let raw = need(self.dtype.elem_size())?;
                if raw[0] != *elem {
                    return Err(Error::invalid(format!(
                        "Type mismatch at vector {index}: expected {elem}, got {}",
                        raw[0]
                    )));
                }
                let mut p = vec![*elem, dims.len() as u8];
                for d in dims {
                    p.extend_from_slice(&d.to_le_bytes());
                }
                p.extend_from_slice(&raw[1..]);
                TaggedValue::new(KIND_NDARRAY, p)
            }
            DType::Vector { shape: None, .. } => {
                let arr = codec::parse_array(b, false)?;
                if arr.ndim == 0 {
                    let mut p = vec![arr.dtype, 1];
                    p.extend_from_slice(&1u32.to_le_bytes());
                    p.extend_from_slice(&b[arr.data_offset..]);
                    TaggedValue::new(KIND_NDARRAY, p)
                } else {
                    TaggedValue::new(KIND_NDARRAY, b)
                }
            }
        })
    }

    pub fn pack(&self, kind: u8, payload: &[u8]) -> VResult<Vec<u8>> {
        guard(|| self.pack_one(kind, payload))
    }

    /// `pack` for the core's own callers (the internal error type).
    pub(crate) fn pack_value(&self, kind: u8, payload: &[u8]) -> Result<Vec<u8>> {
        self.pack_one(kind, payload)
    }

    /// One record (a whole row of a packed column) back to (kind, payload).
    pub(crate) fn unpack_value(&self, record: &[u8]) -> Result<TaggedValue> {
        self.unpack_one(record, 0)
    }

    pub fn pack_many(&self, items: &[u8]) -> VResult<Vec<u8>> {
        guard(|| {
            let mut r = Reader::new(items);
            let mut out = Vec::new();
            while !r.done() {
                let kind = r.u8()?;
                let n = r.u32()? as usize;
                out.extend_from_slice(&self.pack_one(kind, r.bytes(n)?)?);
            }
            Ok(out)
        })
    }

    pub fn unpack(&self, data: &[u8], offset: u64) -> VResult<TaggedValue> {
        guard(|| {
            let b = data
                .get(offset as usize..)
                .ok_or_else(|| Error::invalid("offset beyond data"))?;
            self.unpack_one(b, 0)
        })
    }

    pub fn unpack_many(
        &self,
        data: &[u8],
        count: Option<u64>,
        offsets: Option<Vec<u64>>,
    ) -> VResult<Vec<u8>> {
        guard(|| {
            let mut out = Vec::new();
            let size = self.dtype.elem_size();
            if size > 0 {
                let count = count
                    .ok_or_else(|| Error::invalid("Fixed-size types require count parameter"))?
                    as usize;
                for i in 0..count {
                    let b = data
                        .get(i * size..)
                        .ok_or_else(|| Error::invalid("Not enough data"))?;
                    let t = self.unpack_one(b, i)?;
                    put_tagged(&mut out, t.kind, &t.payload)?;
                }
            } else {
                let offs = offsets.ok_or_else(|| {
                    Error::invalid("Variable-size types require offsets parameter")
                })?;
                for (i, &start) in offs.iter().enumerate() {
                    let end = offs.get(i + 1).copied().unwrap_or(data.len() as u64);
                    if start > end || end > data.len() as u64 {
                        return Err(Error::invalid("offsets out of range"));
                    }
                    let t = self.unpack_one(&data[start as usize..end as usize], i)?;
                    put_tagged(&mut out, t.kind, &t.payload)?;
                }
            }
            Ok(out)
        })
    }
}
