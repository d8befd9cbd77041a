//! Structured payloads: MessagePack canonicalisation (1.1.0 wrote str-keyed maps with sorted
//! keys), msgpack/CBOR/JSON transcoding, and the flat `PlainNode` form used by Kotlin and Swift.

use rmpv::Value as Mp;

use super::{KIND_CBOR, KIND_JSON, KIND_MSGPACK};
use crate::error::{Error, Result};

/// Nesting limit for every structured payload we parse (keeps hostile input from exhausting the
/// stack).
const MAX_DEPTH: usize = 512;

pub fn read_msgpack(payload: &[u8]) -> Result<Mp> {
    let mut cur = payload;
    let v = rmpv::decode::read_value_with_max_depth(&mut cur, MAX_DEPTH)
        .map_err(|e| Error::invalid(format!("invalid MessagePack payload: {e}")))?;
    if !cur.is_empty() {
        return Err(Error::invalid("MessagePack payload has trailing bytes"));
    }
    Ok(v)
}

pub fn write_msgpack(v: &Mp) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("writing to a Vec cannot fail");
    out
}

/// Sorts str-keyed maps (recursively) the way 1.1.0's serde_json round trip did. Returns `None`
/// when the payload is already canonical (the common case: no re-encoding).
pub fn canonical_msgpack(payload: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut v = read_msgpack(payload)?;
    if sort_maps(&mut v) {
        Ok(Some(write_msgpack(&v)))
    } else {
        Ok(None)
    }
}

fn sort_maps(v: &mut Mp) -> bool {
    match v {
        Mp::Array(items) => items.iter_mut().fold(false, |acc, x| sort_maps(x) | acc),
        Mp::Map(entries) => {
            let mut changed = entries
                .iter_mut()
                .fold(false, |acc, (_, x)| sort_maps(x) | acc);
            if entries.iter().all(|(k, _)| k.as_str().is_some()) {
                let sorted = entries.windows(2).all(|w| {
                    w[0].0.as_str().unwrap().as_bytes() <= w[1].0.as_str().unwrap().as_bytes()
                });
                if !sorted {
                    entries.sort_by(|a, b| {
                        a.0.as_str()
                            .unwrap()
                            .as_bytes()
                            .cmp(b.0.as_str().unwrap().as_bytes())
                    });
                    changed = true;
                }
            }
            changed
        }
        _ => false,
    }
}

pub fn check_cbor(payload: &[u8]) -> Result<()> {
    read_cbor(payload).map(|_| ())
}

fn read_cbor(payload: &[u8]) -> Result<ciborium::Value> {
    let mut cur = payload;
    let v: ciborium::Value = ciborium::de::from_reader_with_recursion_limit(&mut cur, MAX_DEPTH)
        .map_err(|e| Error::invalid(format!("invalid CBOR payload: {e}")))?;
    if !cur.is_empty() {
        return Err(Error::invalid("CBOR payload has trailing bytes"));
    }
    Ok(v)
}

fn mp_to_cbor(v: &Mp) -> Result<ciborium::Value> {
    use ciborium::Value as C;
    Ok(match v {
        Mp::Nil => C::Null,
        Mp::Boolean(b) => C::Bool(*b),
        Mp::Integer(i) => {
            if let Some(x) = i.as_i64() {
                C::Integer(x.into())
            } else {
                C::Integer(i.as_u64().expect("msgpack ints are i64 or u64").into())
            }
        }
        Mp::F32(f) => C::Float(*f as f64),
        Mp::F64(f) => C::Float(*f),
        Mp::String(s) => C::Text(
            s.as_str()
                .ok_or_else(|| Error::invalid("MessagePack string is not valid UTF-8"))?
                .to_string(),
        ),
        Mp::Binary(b) => C::Bytes(b.clone()),
        Mp::Array(a) => C::Array(a.iter().map(mp_to_cbor).collect::<Result<_>>()?),
        Mp::Map(m) => C::Map(
            m.iter()
                .map(|(k, v)| Ok((mp_to_cbor(k)?, mp_to_cbor(v)?)))
                .collect::<Result<_>>()?,
        ),
        Mp::Ext(..) => {
            return Err(Error::invalid(
                "MessagePack extension types have no CBOR form",
            ))
        }
    })
}

fn cbor_to_mp(v: &ciborium::Value) -> Result<Mp> {
    use ciborium::Value as C;
    Ok(match v {
        C::Null => Mp::Nil,
        C::Bool(b) => Mp::Boolean(*b),
        C::Integer(i) => {
            let x: i128 = (*i).into();
            if let Ok(s) = i64::try_from(x) {
                Mp::from(s)
            } else if let Ok(u) = u64::try_from(x) {
                Mp::from(u)
            } else {
                return Err(Error::invalid("CBOR integer out of the 64-bit range"));
            }
        }
        C::Float(f) => Mp::F64(*f),
        C::Text(s) => Mp::from(s.as_str()),
        C::Bytes(b) => Mp::Binary(b.clone()),
        C::Array(a) => Mp::Array(a.iter().map(cbor_to_mp).collect::<Result<_>>()?),
        C::Map(m) => Mp::Map(
            m.iter()
                .map(|(k, v)| Ok((cbor_to_mp(k)?, cbor_to_mp(v)?)))
                .collect::<Result<_>>()?,
        ),
        C::Tag(_, inner) => cbor_to_mp(inner)?,
        _ => return Err(Error::invalid("unsupported CBOR item")),
    })
}

fn mp_to_json(v: &Mp) -> Result<serde_json::Value> {
    use serde_json::Value as J;
    Ok(match v {
        Mp::Nil => J::Null,
        Mp::Boolean(b) => J::Bool(*b),
        Mp::Integer(i) => match i.as_i64() {
            Some(x) => J::from(x),
            None => J::from(i.as_u64().expect("i64 or u64")),
        },
        Mp::F32(f) => serde_json::Number::from_f64(*f as f64)
            .map(J::Number)
            .unwrap_or(J::Null),
        Mp::F64(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Mp::String(s) => J::String(
            s.as_str()
                .ok_or_else(|| Error::invalid("MessagePack string is not valid UTF-8"))?
                .to_string(),
        ),
        Mp::Array(a) => J::Array(a.iter().map(mp_to_json).collect::<Result<_>>()?),
        Mp::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let k = k
                    .as_str()
                    .ok_or_else(|| Error::invalid("JSON object keys must be strings"))?;
                out.insert(k.to_string(), mp_to_json(v)?);
            }
            J::Object(out)
        }
        Mp::Binary(_) | Mp::Ext(..) => return Err(Error::invalid("bytes have no JSON form")),
    })
}

fn json_to_mp(v: &serde_json::Value) -> Mp {
    use serde_json::Value as J;
    match v {
        J::Null => Mp::Nil,
        J::Bool(b) => Mp::Boolean(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Mp::from(i)
            } else if let Some(u) = n.as_u64() {
                Mp::from(u)
            } else {
                Mp::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        J::String(s) => Mp::from(s.as_str()),
        J::Array(a) => Mp::Array(a.iter().map(json_to_mp).collect()),
        J::Object(o) => Mp::Map(
            o.iter()
                .map(|(k, v)| (Mp::from(k.as_str()), json_to_mp(v)))
                .collect(),
        ),
    }
}

/// Converts a structured payload between msgpack (4), cbor (5) and json (3).
pub fn transcode(from: u8, to: u8, payload: &[u8]) -> Result<Vec<u8>> {
    let mp = match from {
        KIND_MSGPACK => read_msgpack(payload)?,
        KIND_CBOR => cbor_to_mp(&read_cbor(payload)?)?,
        KIND_JSON => {
            let j: serde_json::Value = serde_json::from_slice(payload)
                .map_err(|e| Error::invalid(format!("invalid JSON payload: {e}")))?;
            json_to_mp(&j)
        }
        k => return Err(Error::invalid(format!("cannot transcode from kind {k}"))),
    };
    match to {
        KIND_MSGPACK => Ok(write_msgpack(&mp)),
        KIND_CBOR => {
            let mut v = mp;
            sort_maps(&mut v);
            let mut out = Vec::new();
            ciborium::ser::into_writer(&mp_to_cbor(&v)?, &mut out)
                .map_err(|e| Error::invalid(format!("CBOR encoding failed: {e}")))?;
            Ok(out)
        }
        KIND_JSON => Ok(serde_json::to_vec(&mp_to_json(&mp)?).expect("JSON values serialize")),
        k => Err(Error::invalid(format!("cannot transcode to kind {k}"))),
    }
}

/// The UDL's `PlainKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainKind {
    Nil,
    Bool,
    Int,
    UInt,
    Float,
    Str,
    Bin,
    Array,
    Map,
}

/// The UDL's `PlainNode`: one node of a plain value in pre-order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainNode {
    pub kind: PlainKind,
    pub bool_value: bool,
    pub int_value: i64,
    pub uint_value: u64,
    pub float_value: f64,
    pub text: String,
    pub bin: Vec<u8>,
    pub count: u32,
}

impl PlainNode {
    fn of(kind: PlainKind) -> Self {
        PlainNode {
            kind,
            bool_value: false,
            int_value: 0,
            uint_value: 0,
            float_value: 0.0,
            text: String::new(),
            bin: Vec::new(),
            count: 0,
        }
    }
}

fn push_nodes(v: &Mp, out: &mut Vec<PlainNode>) -> Result<()> {
    let mut n = PlainNode::of(PlainKind::Nil);
    match v {
        Mp::Nil => {}
        Mp::Boolean(b) => {
            n.kind = PlainKind::Bool;
            n.bool_value = *b;
        }
        Mp::Integer(i) => match i.as_i64() {
            Some(x) => {
                n.kind = PlainKind::Int;
                n.int_value = x;
            }
            None => {
                n.kind = PlainKind::UInt;
                n.uint_value = i.as_u64().expect("i64 or u64");
            }
        },
        Mp::F32(f) => {
            n.kind = PlainKind::Float;
            n.float_value = *f as f64;
        }
        Mp::F64(f) => {
            n.kind = PlainKind::Float;
            n.float_value = *f;
        }
        Mp::String(s) => {
            n.kind = PlainKind::Str;
            n.text = s
                .as_str()
                .ok_or_else(|| Error::invalid("MessagePack string is not valid UTF-8"))?
                .to_string();
        }
        Mp::Binary(b) => {
            n.kind = PlainKind::Bin;
            n.bin = b.clone();
        }
        Mp::Array(a) => {
            n.kind = PlainKind::Array;
            n.count = a.len() as u32;
            out.push(n);
            for x in a {
                push_nodes(x, out)?;
            }
            return Ok(());
        }
        Mp::Map(m) => {
            n.kind = PlainKind::Map;
            n.count = m.len() as u32;
            out.push(n);
            for (k, x) in m {
                push_nodes(k, out)?;
                push_nodes(x, out)?;
            }
            return Ok(());
        }
        Mp::Ext(..) => {
            return Err(Error::UnsupportedEncoding(
                "MessagePack extension types are not plain values".into(),
            ))
        }
    }
    out.push(n);
    Ok(())
}

pub fn msgpack_to_plain(payload: &[u8]) -> Result<Vec<PlainNode>> {
    let v = read_msgpack(payload)?;
    let mut out = Vec::new();
    push_nodes(&v, &mut out)?;
    Ok(out)
}

fn take_node(nodes: &[PlainNode], pos: &mut usize, depth: usize) -> Result<Mp> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid("plain value nested too deeply"));
    }
    let n = nodes
        .get(*pos)
        .ok_or_else(|| Error::invalid("plain node list ends early"))?;
    *pos += 1;
    Ok(match n.kind {
        PlainKind::Nil => Mp::Nil,
        PlainKind::Bool => Mp::Boolean(n.bool_value),
        PlainKind::Int => Mp::from(n.int_value),
        PlainKind::UInt => Mp::from(n.uint_value),
        PlainKind::Float => Mp::F64(n.float_value),
        PlainKind::Str => Mp::from(n.text.as_str()),
        PlainKind::Bin => Mp::Binary(n.bin.clone()),
        PlainKind::Array => {
            let mut items = Vec::with_capacity(n.count.min(1 << 16) as usize);
            for _ in 0..n.count {
                items.push(take_node(nodes, pos, depth + 1)?);
            }
            Mp::Array(items)
        }
        PlainKind::Map => {
            let mut entries = Vec::with_capacity(n.count.min(1 << 16) as usize);
            for _ in 0..n.count {
                let k = take_node(nodes, pos, depth + 1)?;
                let v = take_node(nodes, pos, depth + 1)?;
                entries.push((k, v));
            }
            Mp::Map(entries)
        }
    })
}

pub fn plain_to_msgpack(nodes: &[PlainNode]) -> Result<Vec<u8>> {
    let mut pos = 0;
    let v = take_node(nodes, &mut pos, 0)?;
    if pos != nodes.len() {
        return Err(Error::invalid("plain node list has trailing nodes"));
    }
    Ok(write_msgpack(&v))
}
