//! Structured payloads: MessagePack canonicalisation (1.1.0 wrote str-keyed maps with sorted
//! keys), msgpack/CBOR/JSON transcoding, and the flat `PlainNode` form used by Kotlin and Swift.

use rmpv::Value as Mp;

use super::{KIND_CBOR, KIND_JSON, KIND_MSGPACK};
use crate::error::{Error, Result};

/// Nesting limit for every structured payload we parse (keeps hostile input from exhausting the
/// stack).
pub(crate) const MAX_DEPTH: usize = 512;

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

/// Sorts str-keyed maps (recursively, in map values and array items) by key bytes, the way
/// 1.1.0's serde_json round trip did; every other byte is kept as written. Returns `None` when
/// the payload is already canonical (no copy). Works on the encoded bytes: no value tree.
pub fn canonical_msgpack(payload: &[u8]) -> Result<Option<Vec<u8>>> {
    if msgpack_is_canonical(payload)? {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(payload.len());
    mp_write_sorted(payload, 0, 0, &mut out)?;
    Ok(Some(out))
}

/// Appends the canonical form of `payload` to `out` (validated; see `canonical_msgpack`).
pub fn canonical_msgpack_into(payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
    if msgpack_is_canonical(payload)? {
        out.extend_from_slice(payload);
    } else {
        mp_write_sorted(payload, 0, 0, out)?;
    }
    Ok(())
}

/// True when `payload` is one well-formed MessagePack value (nothing after it) whose str-keyed
/// maps are in key order; an error when it is malformed.
pub fn msgpack_is_canonical(payload: &[u8]) -> Result<bool> {
    let mut sorted = true;
    let end = mp_walk(payload, 0, 0, &mut sorted)?;
    if end != payload.len() {
        return Err(Error::invalid("MessagePack payload has trailing bytes"));
    }
    Ok(sorted)
}

/// Sorts str-keyed maps of a value tree (as `canonical_msgpack` does on bytes); true if any
/// map changed.
fn sort_maps(v: &mut Mp) -> bool {
    match v {
        Mp::Array(items) => items.iter_mut().fold(false, |acc, x| sort_maps(x) | acc),
        Mp::Map(entries) => {
            let mut changed = entries
                .iter_mut()
                .fold(false, |acc, (_, x)| sort_maps(x) | acc);
            let keys: Option<Vec<&[u8]>> = entries
                .iter()
                .map(|(k, _)| k.as_str().map(str::as_bytes))
                .collect();
            if keys.is_some_and(|ks| ks.windows(2).any(|w| w[0] > w[1])) {
                fn key(e: &(Mp, Mp)) -> &[u8] {
                    e.0.as_str().map(str::as_bytes).unwrap_or_default()
                }
                entries.sort_by(|a, b| key(a).cmp(key(b)));
                changed = true;
            }
            changed
        }
        _ => false,
    }
}

/// The shape of the MessagePack value at one position.
pub(crate) enum MpHead {
    /// Anything without children: its total length in bytes.
    Leaf(usize),
    /// A str: header length, data length.
    Str(usize, usize),
    /// An array or a map: header length, element count (a map's count is of pairs).
    Array(usize, usize),
    Map(usize, usize),
}

fn mp_truncated() -> Error {
    Error::invalid("invalid MessagePack payload: truncated or malformed")
}

pub(crate) fn mp_len(b: &[u8], p: usize, n: usize) -> Result<usize> {
    let s = b.get(p..p + n).ok_or_else(mp_truncated)?;
    Ok(s.iter().fold(0usize, |acc, &x| (acc << 8) | x as usize))
}

pub(crate) fn mp_head(b: &[u8], p: usize) -> Result<MpHead> {
    use MpHead::*;
    let t = *b.get(p).ok_or_else(mp_truncated)?;
    Ok(match t {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Leaf(1),
        0x80..=0x8f => Map(1, (t & 0x0f) as usize),
        0x90..=0x9f => Array(1, (t & 0x0f) as usize),
        0xa0..=0xbf => Str(1, (t & 0x1f) as usize),
        0xc1 => {
            return Err(Error::invalid(
                "invalid MessagePack payload: reserved byte 0xc1",
            ))
        }
        0xc4 => Leaf(2 + mp_len(b, p + 1, 1)?),
        0xc5 => Leaf(3 + mp_len(b, p + 1, 2)?),
        0xc6 => Leaf(5 + mp_len(b, p + 1, 4)?),
        0xc7 => Leaf(3 + mp_len(b, p + 1, 1)?),
        0xc8 => Leaf(4 + mp_len(b, p + 1, 2)?),
        0xc9 => Leaf(6 + mp_len(b, p + 1, 4)?),
        0xca | 0xce | 0xd2 => Leaf(5),
        0xcb | 0xcf | 0xd3 => Leaf(9),
        0xcc | 0xd0 => Leaf(2),
        0xcd | 0xd1 => Leaf(3),
        0xd4 => Leaf(3),
        0xd5 => Leaf(4),
        0xd6 => Leaf(6),
        0xd7 => Leaf(10),
        0xd8 => Leaf(18),
        0xd9 => Str(2, mp_len(b, p + 1, 1)?),
        0xda => Str(3, mp_len(b, p + 1, 2)?),
        0xdb => Str(5, mp_len(b, p + 1, 4)?),
        0xdc => Array(3, mp_len(b, p + 1, 2)?),
        0xdd => Array(5, mp_len(b, p + 1, 4)?),
        0xde => Map(3, mp_len(b, p + 1, 2)?),
        0xdf => Map(5, mp_len(b, p + 1, 4)?),
    })
}

/// A map key at `p`: its end, and its bytes when it is a str holding valid UTF-8 (a key that
/// sorts). Keys are walked like any value (for their end) but never reordered inside.
fn mp_key(b: &[u8], p: usize, depth: usize) -> Result<(usize, Option<&[u8]>)> {
    if let MpHead::Str(h, n) = mp_head(b, p)? {
        let s = b.get(p + h..p + h + n).ok_or_else(mp_truncated)?;
        return Ok((p + h + n, std::str::from_utf8(s).ok().map(|_| s)));
    }
    Ok((mp_walk(b, p, depth, &mut true)?, None))
}

fn mp_depth(depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid(
            "invalid MessagePack payload: nested too deeply",
        ));
    }
    Ok(())
}

/// End of the value at `p` (validating its structure); clears `sorted` when a str-keyed map in
/// it (outside map keys) is out of key order.
fn mp_walk(b: &[u8], p: usize, depth: usize, sorted: &mut bool) -> Result<usize> {
    mp_depth(depth)?;
    let end = match mp_head(b, p)? {
        MpHead::Leaf(n) => p + n,
        MpHead::Str(h, n) => p + h + n,
        MpHead::Array(h, n) => {
            let mut q = p + h;
            for _ in 0..n {
                q = mp_walk(b, q, depth + 1, sorted)?;
            }
            q
        }
        MpHead::Map(h, n) => {
            let mut q = p + h;
            let mut all_str = true;
            let mut in_order = true;
            let mut prev: Option<&[u8]> = None;
            for _ in 0..n {
                let (kend, key) = mp_key(b, q, depth + 1)?;
                match key {
                    Some(k) => {
                        if prev.is_some_and(|pk| pk > k) {
                            in_order = false;
                        }
                        prev = Some(k);
                    }
                    None => all_str = false,
                }
                q = mp_walk(b, kend, depth + 1, sorted)?;
            }
            if all_str && !in_order {
                *sorted = false;
            }
            q
        }
    };
    if end > b.len() {
        return Err(mp_truncated());
    }
    Ok(end)
}

/// Writes the canonical form of the (already validated) value at `p`; returns its end.
fn mp_write_sorted(b: &[u8], p: usize, depth: usize, out: &mut Vec<u8>) -> Result<usize> {
    mp_depth(depth)?;
    let end = match mp_head(b, p)? {
        MpHead::Leaf(n) => p + n,
        MpHead::Str(h, n) => p + h + n,
        MpHead::Array(h, n) => {
            out.extend_from_slice(&b[p..p + h]);
            let mut q = p + h;
            for _ in 0..n {
                q = mp_write_sorted(b, q, depth + 1, out)?;
            }
            return Ok(q);
        }
        MpHead::Map(h, n) => {
            out.extend_from_slice(&b[p..p + h]);
            // (sort key, key start, value start)
            let mut entries = Vec::with_capacity(n);
            let mut q = p + h;
            let mut all_str = true;
            for _ in 0..n {
                let (kend, key) = mp_key(b, q, depth + 1)?;
                all_str &= key.is_some();
                entries.push((key, q, kend));
                q = mp_walk(b, kend, depth + 1, &mut true)?;
            }
            if all_str {
                // Stable: equal keys keep their order.
                entries.sort_by(|x, y| x.0.cmp(&y.0));
            }
            for (_, kstart, kend) in entries {
                out.extend_from_slice(&b[kstart..kend]);
                mp_write_sorted(b, kend, depth + 1, out)?;
            }
            return Ok(q);
        }
    };
    let s = b.get(p..end).ok_or_else(mp_truncated)?;
    out.extend_from_slice(s);
    Ok(end)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random MessagePack value tree.
    fn gen(seed: &mut u64, depth: usize) -> Mp {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (*seed >> 33) as usize;
        let word = |i: usize| ["b", "a", "zz", "é", "", "a0", "B"][i % 7].to_string();
        match if depth > 3 { r % 5 } else { r % 8 } {
            0 => Mp::Nil,
            1 => Mp::from((r as i64) - (1 << 30)),
            2 => Mp::from(r as f64 / 7.0),
            3 => Mp::from(word(r)),
            4 => Mp::Binary(vec![r as u8; r % 300]),
            5 => Mp::Array((0..r % 4).map(|_| gen(seed, depth + 1)).collect()),
            6 => Mp::Map(
                (0..r % 5)
                    .map(|i| (Mp::from(word(r + i)), gen(seed, depth + 1)))
                    .collect(),
            ),
            _ => Mp::Map(vec![
                (Mp::from(3), gen(seed, depth + 1)),
                (Mp::from("a"), Mp::Nil),
            ]),
        }
    }

    #[test]
    fn canonical_msgpack_matches_the_value_tree_sort() {
        let mut seed = 7;
        for _ in 0..2000 {
            let v = gen(&mut seed, 0);
            let bytes = write_msgpack(&v);
            let mut sorted = v.clone();
            let changed = sort_maps(&mut sorted);
            let got = canonical_msgpack(&bytes).unwrap();
            assert_eq!(got.is_some(), changed, "{v:?}");
            assert_eq!(got.unwrap_or(bytes), write_msgpack(&sorted), "{v:?}");
        }
    }

    #[test]
    fn canonical_msgpack_rejects_malformed_payloads() {
        let good = write_msgpack(&Mp::Map(vec![
            (Mp::from("b"), Mp::from(1)),
            (Mp::from("a"), Mp::from(vec![1u8; 40])),
        ]));
        for cut in 0..good.len() {
            assert!(canonical_msgpack(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(canonical_msgpack(&trailing).is_err());
        assert!(canonical_msgpack(&[0xc1]).is_err());
        let deep = [vec![0x91u8; 600], vec![0xc0]].concat();
        assert!(canonical_msgpack(&deep).is_err());
        // A map whose keys are not all valid UTF-8 str keeps its order.
        let odd = [0x82, 0xa1, b'b', 0x01, 0xa1, 0xff, 0x02];
        assert_eq!(canonical_msgpack(&odd).unwrap(), None);
        let sorted_by_key = [0x82, 0xa1, b'b', 0x01, 0xa1, b'a', 0x02];
        assert_eq!(
            canonical_msgpack(&sorted_by_key).unwrap().unwrap(),
            [0x82, 0xa1, b'a', 0x02, 0xa1, b'b', 0x01]
        );
    }
}
