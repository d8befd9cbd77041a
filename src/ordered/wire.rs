//! The FFI forms of the ordered containers' keys (docs/FORMAT.md §9.1–9.3): [`HostKey`] (a
//! native [`Key`] or a facade-held object ordered by the facade), one key's encoding, key pages
//! and entry pages.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

use super::key::{Incomparable, Key, OrderedKey, Prefix};

/// The host's order for its own keys (the UDL's `callback interface HostKeyOrder`): -1, 0 or 1,
/// or 2 when the host cannot order the pair (the host keeps its own exception).
pub trait HostKeyOrder: Send + Sync {
    fn compare(&self, left: u64, right: Vec<u8>) -> i8;
}

pub const TAG_NONE: u8 = 0;
pub const TAG_FALSE: u8 = 1;
pub const TAG_TRUE: u8 = 2;
pub const TAG_INT: u8 = 3;
pub const TAG_FLOAT: u8 = 4;
pub const TAG_STR: u8 = 5;
pub const TAG_BYTES: u8 = 6;
pub const TAG_TUPLE: u8 = 7;
pub const TAG_HOST: u8 = 8;

const LAYOUT_MIXED: u32 = 0;
const LAYOUT_INT: u32 = 1;
const LAYOUT_FLOAT: u32 = 2;
const LAYOUT_STR: u32 = 3;
const LAYOUT_BYTES: u32 = 4;

/// Deeper tuples than this are refused (the decoder recurses).
const MAX_DEPTH: usize = 64;

/// A container key: a native key, or a host object (`handle`) ordered by the host.
#[derive(Clone)]
pub enum HostKey {
    Native(Key),
    Host(u64, Arc<dyn HostKeyOrder>),
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostKey::Native(k) => write!(f, "{k:?}"),
            HostKey::Host(h, _) => write!(f, "Host({h})"),
        }
    }
}

/// Prefix class of host keys: above every class of `Key` and with a constant summary, so two
/// prefixes never decide a comparison that involves a host key.
const HOST_PREFIX: Prefix = 5 << 125;

fn host_cmp(
    order: &dyn HostKeyOrder,
    left: u64,
    right: &HostKey,
) -> Result<Ordering, Incomparable> {
    let mut enc = Vec::with_capacity(16);
    encode_key(right, &mut enc);
    match order.compare(left, enc) {
        -1 => Ok(Ordering::Less),
        0 => Ok(Ordering::Equal),
        1 => Ok(Ordering::Greater),
        _ => Err(Incomparable::Custom(
            "the keys cannot be ordered (the host's comparison failed)".into(),
        )),
    }
}

impl OrderedKey for HostKey {
    #[inline]
    fn try_cmp(&self, other: &Self) -> Result<Ordering, Incomparable> {
        match (self, other) {
            (HostKey::Native(a), HostKey::Native(b)) => a.try_cmp(b),
            (HostKey::Host(h, o), _) => host_cmp(o.as_ref(), *h, other),
            (HostKey::Native(_), HostKey::Host(h, o)) => {
                host_cmp(o.as_ref(), *h, self).map(Ordering::reverse)
            }
        }
    }

    fn validate(&self) -> Result<(), Incomparable> {
        match self {
            HostKey::Native(k) => k.validate(),
            HostKey::Host(..) => Ok(()),
        }
    }

    #[inline]
    fn prefix(&self) -> Prefix {
        match self {
            HostKey::Native(k) => k.prefix(),
            HostKey::Host(..) => HOST_PREFIX,
        }
    }

    #[inline]
    fn cmp_prefix(a: Prefix, b: Prefix) -> Option<Ordering> {
        Key::cmp_prefix(a, b)
    }

    #[inline]
    fn cmp_prefix_high(a: u64, b: u64) -> Option<Ordering> {
        Key::cmp_prefix_high(a, b)
    }
}

// ---- one key (§9.1) ----------------------------------------------------------------------

/// Appends the encoding of `key`.
pub fn encode_key(key: &HostKey, out: &mut Vec<u8>) {
    match key {
        HostKey::Native(k) => encode_native(k, out),
        HostKey::Host(h, _) => {
            out.push(TAG_HOST);
            out.extend_from_slice(&h.to_le_bytes());
        }
    }
}

fn encode_native(k: &Key, out: &mut Vec<u8>) {
    match k {
        Key::None => out.push(TAG_NONE),
        Key::Bool(false) => out.push(TAG_FALSE),
        Key::Bool(true) => out.push(TAG_TRUE),
        Key::Int(v) => {
            out.push(TAG_INT);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Key::Float(v) => {
            out.push(TAG_FLOAT);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Key::Str(s) => put_lv(out, TAG_STR, s.as_bytes()),
        Key::Bytes(b) => put_lv(out, TAG_BYTES, b),
        Key::Tuple(items) => {
            out.push(TAG_TUPLE);
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for it in items {
                encode_native(it, out);
            }
        }
    }
}

fn put_lv(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn bad(what: impl fmt::Display) -> Error {
    Error::InvalidArgument(format!("bad key encoding: {what}"))
}

/// A little-endian reader over an FFI buffer.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| bad("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
}

/// Decodes keys against a container's host order (absent: host keys are refused).
#[derive(Clone, Copy)]
pub struct KeyDecoder<'h> {
    pub host: Option<&'h Arc<dyn HostKeyOrder>>,
}

impl KeyDecoder<'_> {
    /// One key that is the whole of `buf`.
    pub fn key(&self, buf: &[u8]) -> Result<HostKey> {
        let mut r = Reader { buf, pos: 0 };
        let k = self.next(&mut r)?;
        if r.pos != buf.len() {
            return Err(bad("trailing bytes after the key"));
        }
        Ok(k)
    }

    fn next(&self, r: &mut Reader) -> Result<HostKey> {
        if r.buf.get(r.pos) == Some(&TAG_HOST) {
            r.pos += 1;
            let h = r.u64()?;
            let order = self.host.ok_or_else(|| {
                Error::InvalidArgument(
                    "host keys (tag 8) need a container created with a HostKeyOrder".into(),
                )
            })?;
            return Ok(HostKey::Host(h, order.clone()));
        }
        Ok(HostKey::Native(native(r, 0)?))
    }

    /// Every key of a key page (§9.2).
    pub fn page(&self, buf: &[u8]) -> Result<Vec<HostKey>> {
        let mut r = Reader { buf, pos: 0 };
        let layout = r.u32()?;
        let n = r.u32()? as usize;
        // Each key takes at least one byte (mixed) or eight (int/float): refuse absurd counts
        // before allocating.
        if n > buf.len() {
            return Err(bad("count larger than the page"));
        }
        let mut keys = Vec::with_capacity(n);
        match layout {
            LAYOUT_MIXED => {
                for _ in 0..n {
                    keys.push(self.next(&mut r)?);
                }
            }
            LAYOUT_INT => {
                for c in r.take(n * 8)?.chunks_exact(8) {
                    keys.push(HostKey::Native(Key::Int(i64::from_le_bytes(
                        c.try_into().unwrap(),
                    ))));
                }
            }
            LAYOUT_FLOAT => {
                for c in r.take(n * 8)?.chunks_exact(8) {
                    keys.push(HostKey::Native(Key::Float(f64::from_le_bytes(
                        c.try_into().unwrap(),
                    ))));
                }
            }
            LAYOUT_STR | LAYOUT_BYTES => {
                let offs: Vec<u64> = r
                    .take((n + 1) * 8)?
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                let blob = &buf[r.pos..];
                r.pos = buf.len();
                if layout == LAYOUT_BYTES {
                    for w in offs.windows(2) {
                        let (a, b) = (w[0] as usize, w[1] as usize);
                        if a > b || b > blob.len() {
                            return Err(bad("bytes offsets out of order or past the data"));
                        }
                        keys.push(HostKey::Native(Key::Bytes(blob[a..b].to_vec())));
                    }
                } else {
                    let s = std::str::from_utf8(blob).map_err(|_| bad("str page is not UTF-8"))?;
                    split_code_points(s, &offs, &mut keys)?;
                }
            }
            other => return Err(bad(format!("unknown key page layout {other}"))),
        }
        if r.pos != buf.len() {
            return Err(bad("trailing bytes after the key page"));
        }
        Ok(keys)
    }
}

/// Splits `s` at code-point offsets `offs` (ascending, from 0).
fn split_code_points(s: &str, offs: &[u64], keys: &mut Vec<HostKey>) -> Result<()> {
    let mut chars = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()));
    let mut cp = 0u64; // code point index of `byte`
    let mut byte = chars.next().unwrap_or(0);
    let mut start_byte = None;
    if offs.first().is_some_and(|&o| o != 0) {
        return Err(bad("str offsets do not start at 0"));
    }
    for &o in offs {
        if o < cp {
            return Err(bad("str offsets out of order"));
        }
        while cp < o {
            byte = chars
                .next()
                .ok_or_else(|| bad("str offsets past the data"))?;
            cp += 1;
        }
        if let Some(a) = start_byte {
            keys.push(HostKey::Native(Key::Str(s[a..byte].to_string())));
        }
        start_byte = Some(byte);
    }
    if offs.last().map_or(0, |&o| o) != s.chars().count() as u64 && !offs.is_empty() {
        return Err(bad("str offsets do not end at the end of the data"));
    }
    Ok(())
}

fn native(r: &mut Reader, depth: usize) -> Result<Key> {
    Ok(match r.u8()? {
        TAG_NONE => Key::None,
        TAG_FALSE => Key::Bool(false),
        TAG_TRUE => Key::Bool(true),
        TAG_INT => Key::Int(r.u64()? as i64),
        TAG_FLOAT => Key::Float(f64::from_bits(r.u64()?)),
        TAG_STR => {
            let n = r.u32()? as usize;
            let b = r.take(n)?;
            Key::Str(
                std::str::from_utf8(b)
                    .map_err(|_| bad("str key is not UTF-8"))?
                    .to_string(),
            )
        }
        TAG_BYTES => {
            let n = r.u32()? as usize;
            Key::Bytes(r.take(n)?.to_vec())
        }
        TAG_TUPLE => {
            if depth >= MAX_DEPTH {
                return Err(bad("tuples nested too deeply"));
            }
            let n = r.u32()? as usize;
            if n > r.buf.len() - r.pos {
                return Err(bad("tuple count larger than the data"));
            }
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(native(r, depth + 1)?);
            }
            Key::Tuple(items)
        }
        TAG_HOST => return Err(bad("a host key (tag 8) inside a tuple")),
        t => return Err(bad(format!("unknown tag {t}"))),
    })
}

// ---- pages (§9.2, §9.3) ------------------------------------------------------------------

fn layout_of<'a>(keys: impl Iterator<Item = &'a HostKey>) -> u32 {
    let mut layout = None;
    for k in keys {
        let l = match k {
            HostKey::Native(Key::Int(_)) => LAYOUT_INT,
            HostKey::Native(Key::Float(_)) => LAYOUT_FLOAT,
            HostKey::Native(Key::Str(_)) => LAYOUT_STR,
            HostKey::Native(Key::Bytes(_)) => LAYOUT_BYTES,
            _ => return LAYOUT_MIXED,
        };
        match layout {
            None => layout = Some(l),
            Some(x) if x != l => return LAYOUT_MIXED,
            _ => {}
        }
    }
    layout.unwrap_or(LAYOUT_INT)
}

/// Appends a key page of `keys` in the narrowest layout.
pub fn put_key_page<'a>(out: &mut Vec<u8>, keys: impl Iterator<Item = &'a HostKey> + Clone) {
    let layout = layout_of(keys.clone());
    let n = keys.clone().count();
    out.extend_from_slice(&layout.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    match layout {
        LAYOUT_INT | LAYOUT_FLOAT => {
            for k in keys {
                match k {
                    HostKey::Native(Key::Int(v)) => out.extend_from_slice(&v.to_le_bytes()),
                    HostKey::Native(Key::Float(v)) => out.extend_from_slice(&v.to_le_bytes()),
                    _ => unreachable!("layout checked"),
                }
            }
        }
        LAYOUT_STR | LAYOUT_BYTES => {
            let mut off = 0u64;
            out.extend_from_slice(&0u64.to_le_bytes());
            for k in keys.clone() {
                off += match k {
                    HostKey::Native(Key::Str(s)) => s.chars().count() as u64,
                    HostKey::Native(Key::Bytes(b)) => b.len() as u64,
                    _ => unreachable!("layout checked"),
                };
                out.extend_from_slice(&off.to_le_bytes());
            }
            for k in keys {
                match k {
                    HostKey::Native(Key::Str(s)) => out.extend_from_slice(s.as_bytes()),
                    HostKey::Native(Key::Bytes(b)) => out.extend_from_slice(b),
                    _ => unreachable!("layout checked"),
                }
            }
        }
        _ => {
            for k in keys {
                encode_key(k, out);
            }
        }
    }
}

/// An entry page (§9.3) of `entries`; `done`: no entry follows within the bounds.
pub fn entry_page<K: std::borrow::Borrow<HostKey>>(entries: &[(K, u64)], done: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + entries.len() * 24);
    out.extend_from_slice(&(done as u32).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (_, v) in entries {
        out.extend_from_slice(&v.to_le_bytes());
    }
    put_key_page(&mut out, entries.iter().map(|(k, _)| k.borrow()));
    out
}

/// `handles` as u64 LE bytes.
pub fn handles_bytes(handles: impl Iterator<Item = u64>) -> Vec<u8> {
    handles.flat_map(u64::to_le_bytes).collect()
}

/// u64 LE handles from a buffer (its length a multiple of 8).
pub fn handles_of(buf: &[u8]) -> Result<Vec<u64>> {
    if !buf.len().is_multiple_of(8) {
        return Err(Error::InvalidArgument(format!(
            "value handles: {} bytes is not a multiple of 8",
            buf.len()
        )));
    }
    Ok(buf
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(k: Key) -> HostKey {
        HostKey::Native(k)
    }

    fn roundtrip_page(keys: Vec<HostKey>) -> Vec<HostKey> {
        let mut out = Vec::new();
        put_key_page(&mut out, keys.iter());
        KeyDecoder { host: None }.page(&out).unwrap()
    }

    #[test]
    fn pages_round_trip_in_every_layout() {
        let sets = vec![
            vec![n(Key::Int(-5)), n(Key::Int(i64::MAX))],
            vec![n(Key::Float(-0.5)), n(Key::Float(f64::INFINITY))],
            vec![
                n(Key::Str("a\u{10000}b".into())),
                n(Key::Str(String::new())),
                n(Key::Str("é".into())),
            ],
            vec![n(Key::Bytes(vec![0, 255])), n(Key::Bytes(vec![]))],
            vec![
                n(Key::None),
                n(Key::Bool(true)),
                n(Key::tuple([Key::Int(1), Key::Str("x".into())])),
            ],
            vec![],
        ];
        for keys in sets {
            let back = roundtrip_page(keys.clone());
            assert_eq!(back.len(), keys.len());
            for (a, b) in keys.iter().zip(&back) {
                match (a, b) {
                    (HostKey::Native(x), HostKey::Native(y)) => {
                        assert!(x.is_identical(y), "{x:?} {y:?}")
                    }
                    _ => panic!("host key"),
                }
            }
        }
    }

    #[test]
    fn bad_encodings_are_invalid_arguments() {
        let d = KeyDecoder { host: None };
        for buf in [
            &[][..],
            &[9][..],
            &[3, 1, 2][..],
            &[5, 5, 0, 0, 0, b'a'][..],
            &[8, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[0, 0][..],
        ] {
            assert!(
                matches!(d.key(buf), Err(Error::InvalidArgument(_))),
                "{buf:?}"
            );
        }
        let mut page = Vec::new();
        page.extend_from_slice(&3u32.to_le_bytes());
        page.extend_from_slice(&1u32.to_le_bytes());
        page.extend_from_slice(&0u64.to_le_bytes());
        page.extend_from_slice(&5u64.to_le_bytes());
        page.extend_from_slice(b"ab");
        assert!(d.page(&page).is_err());
    }
}
