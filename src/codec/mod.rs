//! The stored KV value format (docs/FORMAT.md §1–2), defined once for every vault and language:
//! (kind, payload) ⇄ stored bytes, including every encoding kohakuvault 1.1.0 wrote.

pub mod plain;

use crate::error::{Error, Result};

pub const KIND_RAW: u8 = 0;
pub const KIND_PICKLE: u8 = 1;
pub const KIND_JSON: u8 = 3;
pub const KIND_MSGPACK: u8 = 4;
pub const KIND_CBOR: u8 = 5;
pub const KIND_UTF8: u8 = 6;
pub const KIND_INT: u8 = 16;
pub const KIND_FLOAT: u8 = 17;
pub const KIND_BOOL: u8 = 18;
pub const KIND_NDARRAY: u8 = 19;
pub const KIND_NPSCALAR: u8 = 20;

const ENC_RAW: u8 = 0x00;
const ENC_PICKLE: u8 = 0x01;
const ENC_LEGACY: u8 = 0x02;
const ENC_JSON: u8 = 0x03;
const ENC_MSGPACK: u8 = 0x04;
const ENC_CBOR: u8 = 0x05;
const ENC_UTF8: u8 = 0x06;
const ENC_TYPED: u8 = 0x07;
const ENC_RESERVED: u8 = 0xFF;

pub const HEADER_LEN: usize = 10;

/// A decoded value: kind code and payload (docs/FORMAT.md §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedValue {
    pub kind: u8,
    pub payload: Vec<u8>,
}

impl TaggedValue {
    pub fn new(kind: u8, payload: impl Into<Vec<u8>>) -> Self {
        TaggedValue {
            kind,
            payload: payload.into(),
        }
    }
}

fn header(encoding: u8) -> [u8; HEADER_LEN] {
    [0x89, 0x4B, 0x01, encoding, 0, 0, 0, 0, 0x56, 0x4B]
}

/// True when `stored` is read as a header (and so raw bytes like it must be escaped).
pub fn looks_like_header(stored: &[u8]) -> bool {
    stored.len() >= HEADER_LEN
        && stored[0] == 0x89
        && stored[1] == 0x4B
        && stored[8] == 0x56
        && stored[9] == 0x4B
}

fn with_header(encoding: u8, body: &[u8], headers: bool) -> Vec<u8> {
    if !headers {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&header(encoding));
    out.extend_from_slice(body);
    out
}

fn typed(kind: u8, body: &[u8], headers: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(1 + body.len());
    b.push(kind);
    b.extend_from_slice(body);
    with_header(ENC_TYPED, &b, headers)
}

/// Stores raw bytes: as they are, or behind an escape header if they would read as a header.
pub fn encode_raw(payload: &[u8]) -> Vec<u8> {
    if looks_like_header(payload) {
        with_header(ENC_RAW, payload, true)
    } else {
        payload.to_vec()
    }
}

/// (kind, payload) → stored bytes.
pub fn encode(kind: u8, payload: &[u8], headers: bool) -> Result<Vec<u8>> {
    Ok(match kind {
        KIND_RAW => encode_raw(payload),
        KIND_PICKLE => {
            if payload.is_empty() {
                return Err(Error::invalid("pickle payload is empty"));
            }
            with_header(ENC_PICKLE, payload, headers)
        }
        KIND_JSON => {
            serde_json::from_slice::<serde::de::IgnoredAny>(payload)
                .map_err(|e| Error::invalid(format!("invalid JSON payload: {e}")))?;
            with_header(ENC_JSON, payload, headers)
        }
        KIND_MSGPACK => {
            let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
            if headers {
                out.extend_from_slice(&header(ENC_MSGPACK));
            }
            plain::canonical_msgpack_into(payload, &mut out)?;
            out
        }
        KIND_CBOR => {
            plain::check_cbor(payload)?;
            with_header(ENC_CBOR, payload, headers)
        }
        KIND_UTF8 => {
            std::str::from_utf8(payload)
                .map_err(|_| Error::invalid("text payload is not valid UTF-8"))?;
            with_header(ENC_UTF8, payload, headers)
        }
        KIND_INT => {
            let canon = canonical_int(payload)?;
            if canon.len() == 8
                && legacy_decode(&canon) == TaggedValue::new(KIND_INT, canon.clone())
            {
                with_header(ENC_LEGACY, &canon, headers)
            } else {
                typed(KIND_INT, &canon, headers)
            }
        }
        KIND_FLOAT => {
            if payload.len() != 8 {
                return Err(Error::invalid("float payload must be 8 bytes"));
            }
            if legacy_decode(payload) == TaggedValue::new(KIND_FLOAT, payload) {
                with_header(ENC_LEGACY, payload, headers)
            } else {
                typed(KIND_FLOAT, payload, headers)
            }
        }
        KIND_BOOL => {
            if payload.len() != 1 || payload[0] > 1 {
                return Err(Error::invalid("bool payload must be one byte, 0 or 1"));
            }
            typed(KIND_BOOL, payload, headers)
        }
        KIND_NDARRAY => {
            let arr = parse_array(payload, true)?;
            if arr.ndim >= 1
                && arr.dtype <= 0x0A
                && legacy_decode(payload) == TaggedValue::new(KIND_NDARRAY, payload)
            {
                with_header(ENC_LEGACY, payload, headers)
            } else {
                typed(KIND_NDARRAY, payload, headers)
            }
        }
        KIND_NPSCALAR => {
            let arr = parse_array(payload, true)?;
            if arr.ndim != 0 {
                return Err(Error::invalid("numpy scalar payload must have ndim 0"));
            }
            typed(KIND_NPSCALAR, payload, headers)
        }
        other => return Err(Error::invalid(format!("unknown value kind {other}"))),
    })
}

/// Stored bytes → (kind, payload).
pub fn decode(stored: &[u8]) -> Result<TaggedValue> {
    let (kind, range) = decode_span(stored)?;
    match range {
        Span::Slice(a, b) => Ok(TaggedValue::new(kind, &stored[a..b])),
        Span::Owned(t) => Ok(t),
    }
}

/// Where a decoded payload lives: a range of the stored bytes (no copy) or a new value.
pub enum Span {
    Slice(usize, usize),
    Owned(TaggedValue),
}

/// Decodes without copying the payload when it is a slice of `stored`.
pub fn decode_span(stored: &[u8]) -> Result<(u8, Span)> {
    if !looks_like_header(stored) {
        return Ok((KIND_RAW, Span::Slice(0, stored.len())));
    }
    if stored[2] != 0x01 {
        return Err(Error::corrupt(format!(
            "Unsupported header version: {}",
            stored[2]
        )));
    }
    if stored[5..8] != [0, 0, 0] {
        return Err(Error::corrupt(
            "Invalid header: reserved bytes must be 0x00 for v1",
        ));
    }
    let body = &stored[HEADER_LEN..];
    let whole = Span::Slice(HEADER_LEN, stored.len());
    Ok(match stored[3] {
        ENC_RAW => (KIND_RAW, whole),
        ENC_PICKLE => (KIND_PICKLE, whole),
        ENC_LEGACY => {
            let t = legacy_decode(body);
            (t.kind, Span::Owned(t))
        }
        ENC_JSON => (KIND_JSON, whole),
        ENC_MSGPACK => (KIND_MSGPACK, whole),
        ENC_CBOR => (KIND_CBOR, whole),
        ENC_UTF8 => {
            std::str::from_utf8(body)
                .map_err(|_| Error::corrupt("stored text is not valid UTF-8"))?;
            (KIND_UTF8, whole)
        }
        ENC_TYPED => {
            let Some((&kind, rest)) = body.split_first() else {
                return Err(Error::corrupt("typed value without a kind byte"));
            };
            match kind {
                KIND_INT if !rest.is_empty() => {}
                KIND_FLOAT if rest.len() == 8 => {}
                KIND_BOOL if rest.len() == 1 && rest[0] <= 1 => {}
                KIND_NDARRAY => {
                    parse_array(rest, true).map_err(|e| Error::corrupt(e.to_string()))?;
                }
                KIND_NPSCALAR => {
                    parse_array(rest, true).map_err(|e| Error::corrupt(e.to_string()))?;
                }
                _ => return Err(Error::corrupt(format!("invalid typed value (kind {kind})"))),
            }
            (kind, Span::Slice(HEADER_LEN + 1, stored.len()))
        }
        ENC_RESERVED => return Err(Error::corrupt("Reserved encoding type")),
        e => return Err(Error::corrupt(format!("Unknown encoding type: {e}"))),
    })
}

/// The bytes 1.1.0 would return with auto-pack off: the stored bytes, except that our raw-escape
/// header (which 1.1.0 never wrote) is removed.
pub fn stored_view(stored: &[u8]) -> &[u8] {
    if looks_like_header(stored)
        && stored[2] == 0x01
        && stored[3] == ENC_RAW
        && stored[5..8] == [0, 0, 0]
    {
        &stored[HEADER_LEN..]
    } else {
        stored
    }
}

/// A stored value as reads return it: decoded, or (auto-pack off) the stored bytes as kind 0
/// as [`stored_view`] gives them.
pub fn value_of(stored: &[u8], decoded: bool) -> Result<TaggedValue> {
    if decoded {
        decode(stored)
    } else {
        Ok(TaggedValue::new(KIND_RAW, stored_view(stored)))
    }
}

/// Two's complement little-endian → canonical form: 8 bytes when it fits an i64, else the
/// shortest form.
fn canonical_int(payload: &[u8]) -> Result<Vec<u8>> {
    if payload.is_empty() {
        return Err(Error::invalid("int payload is empty"));
    }
    let neg = payload[payload.len() - 1] & 0x80 != 0;
    let fill = if neg { 0xFF } else { 0x00 };
    let mut v = payload.to_vec();
    // Drop redundant sign-extension bytes.
    while v.len() > 1 && v[v.len() - 1] == fill && ((v[v.len() - 2] & 0x80 != 0) == neg) {
        v.pop();
    }
    if v.len() <= 8 {
        v.resize(8, fill);
    }
    Ok(v)
}

/// A parsed ndarray descriptor (docs/FORMAT.md §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayView {
    pub dtype: u8,
    pub ndim: usize,
    pub dims: Vec<u32>,
    pub data_offset: usize,
}

pub fn dtype_size(code: u8) -> Option<usize> {
    Some(match code {
        0x01 => 4,
        0x02 => 8,
        0x03 => 4,
        0x04 => 8,
        0x05 => 1,
        0x06 => 2,
        0x07 => 4,
        0x08 => 8,
        0x09 => 1,
        0x0A => 2,
        0x0B => 1,
        0x0C => 2,
        _ => return None,
    })
}

pub fn parse_array(p: &[u8], allow_ext: bool) -> Result<ArrayView> {
    if p.len() < 2 {
        return Err(Error::invalid("ndarray payload too short"));
    }
    let dtype = p[0];
    let max = if allow_ext { 0x0C } else { 0x0A };
    if dtype == 0 || dtype > max {
        return Err(Error::invalid(format!("unknown array dtype code {dtype}")));
    }
    let size = dtype_size(dtype).expect("checked");
    let ndim = p[1] as usize;
    let data_offset = 2 + 4 * ndim;
    if p.len() < data_offset {
        return Err(Error::invalid("ndarray payload too short for its shape"));
    }
    let dims: Vec<u32> = (0..ndim)
        .map(|i| u32::from_le_bytes(p[2 + 4 * i..6 + 4 * i].try_into().expect("4 bytes")))
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize));
    let want = count.and_then(|c| c.checked_mul(size));
    if want != Some(p.len() - data_offset) {
        return Err(Error::invalid(
            "ndarray data length does not match its shape",
        ));
    }
    Ok(ArrayView {
        dtype,
        ndim,
        dims,
        data_offset,
    })
}

/// kohakuvault 1.1.0's reading of a DataPacker (0x02) payload (docs/COMPATIBILITY.md §1.1).
pub fn legacy_decode(body: &[u8]) -> TaggedValue {
    if body.is_empty() {
        return TaggedValue::new(KIND_RAW, Vec::new());
    }
    if body.len() == 8 {
        let bytes: [u8; 8] = body.try_into().expect("8 bytes");
        let f = f64::from_le_bytes(bytes);
        if f.is_finite() && f.fract().abs() > 1e-9 {
            return TaggedValue::new(KIND_FLOAT, body);
        }
        let i = i64::from_le_bytes(bytes);
        if (i.wrapping_abs() as f64) < 1e12 {
            return TaggedValue::new(KIND_INT, body);
        }
        return TaggedValue::new(KIND_FLOAT, body);
    }
    if body.len() > 8 && (0x01..=0x0A).contains(&body[0]) {
        if let Ok(arr) = parse_array(body, false) {
            if arr.ndim == 0 {
                // 1.1.0 rebuilt a 0-d vector as a 1-element 1-D array.
                let mut p = vec![arr.dtype, 1];
                p.extend_from_slice(&1u32.to_le_bytes());
                p.extend_from_slice(&body[arr.data_offset..]);
                return TaggedValue::new(KIND_NDARRAY, p);
            }
            return TaggedValue::new(KIND_NDARRAY, body);
        }
    }
    if std::str::from_utf8(body).is_ok() {
        return TaggedValue::new(KIND_UTF8, body);
    }
    TaggedValue::new(KIND_RAW, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ints() {
        assert_eq!(
            canonical_int(&[0x2A]).unwrap(),
            vec![0x2A, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            canonical_int(&[0xFB]).unwrap(),
            vec![0xFB; 1]
                .into_iter()
                .chain([0xFF; 7])
                .collect::<Vec<_>>()
        );
        let big = [0, 0, 0, 0, 0, 0, 0, 0, 0x40];
        assert_eq!(canonical_int(&big).unwrap(), big.to_vec());
        // redundant sign bytes are dropped
        let padded = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            canonical_int(&padded).unwrap(),
            vec![1, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn legacy_rules() {
        assert_eq!(legacy_decode(&0i64.to_le_bytes()).kind, KIND_INT);
        assert_eq!(legacy_decode(&(-0.0f64).to_le_bytes()).kind, KIND_INT);
        assert_eq!(legacy_decode(&2.5f64.to_le_bytes()).kind, KIND_FLOAT);
        assert_eq!(legacy_decode(&(1i64 << 40).to_le_bytes()).kind, KIND_FLOAT);
    }
}
