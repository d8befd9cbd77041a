//! MessagePack → pickle data opcodes, for pages of Python objects (docs/FORMAT.md §4.1).
//!
//! A MessagePack map or array in a page becomes the dict or list itself, built by Python's C
//! unpickler, with each distinct short map key decoded once per page (memoised). The result is
//! exactly what `msgpack.unpackb(payload, raw=False, strict_map_key=False)` returns; values
//! holding anything whose decoding only the msgpack library defines (ext types, a str that is
//! not valid UTF-8, a container used as a map key, nesting past the depth limit) are not
//! transcoded, and the facade decodes them with msgpack instead.

use crate::codec::plain::{mp_head, mp_len, MpHead, MAX_DEPTH};

// Pickle opcodes (protocol 4; every one is also valid in protocols 3-5), shared with `page`.
pub(crate) const PROTO: u8 = 0x80;
pub(crate) const STOP: u8 = b'.';
pub(crate) const TUPLE: u8 = b't';
pub(crate) const TUPLE2: u8 = 0x86;
pub(crate) const TUPLE3: u8 = 0x87;
pub(crate) const NONE: u8 = b'N';
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
pub(crate) const BININT: u8 = b'J';
pub(crate) const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const LONG1: u8 = 0x8a;
const BINFLOAT: u8 = b'G';
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE: u8 = b'X';
pub(crate) const SHORT_BINBYTES: u8 = b'C';
pub(crate) const BINBYTES: u8 = b'B';
pub(crate) const EMPTY_LIST: u8 = b']';
const EMPTY_DICT: u8 = b'}';
pub(crate) const MARK: u8 = b'(';
pub(crate) const APPENDS: u8 = b'e';
const SETITEMS: u8 = b'u';
const BINPUT: u8 = b'q';
const LONG_BINPUT: u8 = b'r';
const BINGET: u8 = b'h';
const LONG_BINGET: u8 = b'j';

/// Map keys longer than this are not memoised.
const MEMO_KEY_MAX: usize = 64;
/// Memo entries per page.
const MEMO_MAX: usize = 1 << 16;

/// Memoised map keys of one page: key bytes → memo id (foldhash: several times SipHash's
/// speed on short keys, still seeded per process).
#[derive(Default)]
pub struct Memo {
    ids: foldhash::HashMap<Vec<u8>, u32>,
    next: u32,
}

/// Appends the Python object of the MessagePack map or array `payload` to `out` and returns
/// true; returns false with `out` and `memo` unchanged when `payload` is not a map or array, is
/// malformed, or holds something that is not transcoded (see the module comment).
pub fn transcode(payload: &[u8], out: &mut Vec<u8>, memo: &mut Memo) -> bool {
    if !matches!(payload.first(), Some(0x80..=0x9f | 0xdc..=0xdf)) {
        return false;
    }
    let mark = out.len();
    let mut e = Emitter {
        b: payload,
        out,
        memo,
        added: Vec::new(),
    };
    let ok = matches!(e.value(0, 0), Some(end) if end == payload.len());
    if !ok {
        e.out.truncate(mark);
        for key in e.added {
            e.memo.ids.remove(&key);
        }
    }
    ok
}

fn be(b: &[u8], p: usize, n: usize) -> Option<u64> {
    let s = b.get(p..p + n)?;
    Some(s.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
}

fn int(out: &mut Vec<u8>, v: i128) {
    if (0..=0xff).contains(&v) {
        out.extend_from_slice(&[BININT1, v as u8]);
    } else if (0..=0xffff).contains(&v) {
        out.push(BININT2);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if (i32::MIN as i128..=i32::MAX as i128).contains(&v) {
        out.push(BININT);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        // Two's complement, little-endian; 9 bytes hold every u64 and i64.
        out.extend_from_slice(&[LONG1, 9]);
        out.extend_from_slice(&v.to_le_bytes()[..9]);
    }
}

/// `data` with the short (u8 length) or long (u32 LE length) form of a sized opcode.
/// A `str` from UTF-8 bytes (the caller guarantees they are valid UTF-8).
pub(crate) fn text(out: &mut Vec<u8>, utf8: &[u8]) -> Option<()> {
    sized(out, SHORT_BINUNICODE, BINUNICODE, utf8)
}

pub(crate) fn sized(out: &mut Vec<u8>, short: u8, long: u8, data: &[u8]) -> Option<()> {
    if data.len() < 256 {
        out.extend_from_slice(&[short, data.len() as u8]);
    } else {
        out.push(long);
        out.extend_from_slice(&u32::try_from(data.len()).ok()?.to_le_bytes());
    }
    out.extend_from_slice(data);
    Some(())
}

fn memo_op(out: &mut Vec<u8>, short: u8, long: u8, id: u32) {
    if id < 256 {
        out.extend_from_slice(&[short, id as u8]);
    } else {
        out.push(long);
        out.extend_from_slice(&id.to_le_bytes());
    }
}

/// One value being transcoded: the payload, where it goes, and the memo keys it added (removed
/// again if the value is not transcoded after all).
struct Emitter<'a> {
    b: &'a [u8],
    out: &'a mut Vec<u8>,
    memo: &'a mut Memo,
    added: Vec<Vec<u8>>,
}

impl Emitter<'_> {
    /// Writes the value at `p`; returns its end, or None when it is not transcoded.
    fn value(&mut self, p: usize, depth: usize) -> Option<usize> {
        let (b, out) = (self.b, &mut *self.out);
        if depth > MAX_DEPTH {
            return None;
        }
        let t = *b.get(p)?;
        match mp_head(b, p).ok()? {
            MpHead::Str(h, n) => {
                let s = b.get(p + h..p + h + n)?;
                std::str::from_utf8(s).ok()?;
                sized(out, SHORT_BINUNICODE, BINUNICODE, s)?;
                Some(p + h + n)
            }
            MpHead::Array(h, n) => {
                out.push(EMPTY_LIST);
                let mut q = p + h;
                if n > 0 {
                    out.push(MARK);
                    for _ in 0..n {
                        q = self.value(q, depth + 1)?;
                    }
                    self.out.push(APPENDS);
                }
                Some(q)
            }
            MpHead::Map(h, n) => {
                out.push(EMPTY_DICT);
                let mut q = p + h;
                if n > 0 {
                    out.push(MARK);
                    for _ in 0..n {
                        q = self.key(q, depth + 1)?;
                        q = self.value(q, depth + 1)?;
                    }
                    self.out.push(SETITEMS);
                }
                Some(q)
            }
            MpHead::Leaf(len) => {
                let end = p + len;
                if end > b.len() {
                    return None;
                }
                match t {
                    0x00..=0x7f => int(out, t as i128),
                    0xe0..=0xff => int(out, t as i8 as i128),
                    0xc0 => out.push(NONE),
                    0xc2 => out.push(NEWFALSE),
                    0xc3 => out.push(NEWTRUE),
                    0xcc..=0xcf => int(out, be(b, p + 1, len - 1)? as i128),
                    0xd0 => int(out, be(b, p + 1, 1)? as u8 as i8 as i128),
                    0xd1 => int(out, be(b, p + 1, 2)? as u16 as i16 as i128),
                    0xd2 => int(out, be(b, p + 1, 4)? as u32 as i32 as i128),
                    0xd3 => int(out, be(b, p + 1, 8)? as i64 as i128),
                    0xca => {
                        let f = f32::from_bits(be(b, p + 1, 4)? as u32) as f64;
                        out.push(BINFLOAT);
                        out.extend_from_slice(&f.to_be_bytes());
                    }
                    0xcb => {
                        out.push(BINFLOAT);
                        out.extend_from_slice(&b[p + 1..end]);
                    }
                    0xc4..=0xc6 => {
                        let hl = 1 << (t - 0xc4); // length field: 1, 2 or 4 bytes
                        let n = mp_len(b, p + 1, hl).ok()?;
                        sized(
                            out,
                            SHORT_BINBYTES,
                            BINBYTES,
                            b.get(p + 1 + hl..p + 1 + hl + n)?,
                        )?;
                    }
                    _ => return None, // ext types
                }
                Some(end)
            }
        }
    }

    /// Writes a map key at `p` (short str keys through the memo); None for container keys.
    fn key(&mut self, p: usize, depth: usize) -> Option<usize> {
        let b = self.b;
        match mp_head(b, p).ok()? {
            MpHead::Array(..) | MpHead::Map(..) => None,
            MpHead::Str(h, n) if n <= MEMO_KEY_MAX => {
                let s = b.get(p + h..p + h + n)?;
                if let Some(&id) = self.memo.ids.get(s) {
                    memo_op(self.out, BINGET, LONG_BINGET, id);
                    return Some(p + h + n);
                }
                let end = self.value(p, depth)?;
                if self.memo.ids.len() < MEMO_MAX {
                    let id = self.memo.next;
                    self.memo.next += 1;
                    memo_op(self.out, BINPUT, LONG_BINPUT, id);
                    self.memo.ids.insert(s.to_vec(), id);
                    self.added.push(s.to_vec());
                }
                Some(end)
            }
            _ => self.value(p, depth),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(payload: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        transcode(payload, &mut out, &mut Memo::default()).then_some(out)
    }

    #[test]
    fn maps_arrays_and_scalars() {
        // {"a": [1, -1, 300, None, True, b"x"], "a": 2.5}
        let p = [
            0x82, 0xa1, b'a', 0x96, 0x01, 0xff, 0xcd, 0x01, 0x2c, 0xc0, 0xc3, 0xc4, 0x01, b'x',
            0xa1, b'a', 0xcb, 0x40, 0x04, 0, 0, 0, 0, 0, 0,
        ];
        let mut expect = vec![b'}', b'(', 0x8c, 1, b'a', b'q', 0, b']', b'(', b'K', 1];
        expect.extend_from_slice(&[b'J', 0xff, 0xff, 0xff, 0xff, b'M', 0x2c, 0x01, b'N', 0x88]);
        expect.extend_from_slice(&[b'C', 1, b'x', b'e', b'h', 0, b'G']);
        expect.extend_from_slice(&2.5f64.to_be_bytes());
        expect.push(b'u');
        assert_eq!(tc(&p).unwrap(), expect);
        // u64 max and i64 min as LONG1
        let big = tc(&[
            0x92, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd3, 0x80, 0, 0, 0, 0, 0,
            0, 0,
        ])
        .unwrap();
        assert_eq!(
            &big[2..13],
            &[0x8a, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]
        );
        assert_eq!(&big[13..24], &[0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xff]);
    }

    #[test]
    fn untranscoded_values_leave_nothing_behind() {
        let mut out = vec![1, 2, 3];
        let mut memo = Memo::default();
        // scalars at the top, ext inside, invalid UTF-8, container keys, truncation, trailing
        for p in [
            &[0x01][..],
            &[0x91, 0xd4, 0x01, 0x02],
            &[0x81, 0xa1, b'k', 0xa1, 0xff],
            &[0x81, 0x90, 0x01],
            &[0x92, 0x01],
            &[0x91, 0x01, 0x01],
        ] {
            assert!(!transcode(p, &mut out, &mut memo), "{p:?}");
        }
        assert_eq!(out, [1, 2, 3]);
        // A failed value's keys are not left in the memo.
        assert!(!transcode(
            &[0x82, 0xa1, b'k', 0x01, 0xa1, b'z', 0xd4, 0, 0],
            &mut out,
            &mut memo
        ));
        assert!(memo.ids.is_empty());
        // Ids of failed values are not reused (pickle memo ids need not be contiguous).
        assert!(transcode(&[0x81, 0xa1, b'k', 0x01], &mut out, &mut memo));
        assert!(transcode(&[0x81, 0xa1, b'k', 0x02], &mut out, &mut memo));
        assert_eq!(
            &out[3..],
            &[
                b'}', b'(', 0x8c, 1, b'k', b'q', 3, b'K', 1, b'u', b'}', b'(', b'h', 3, b'K', 2,
                b'u'
            ]
        );
    }
}
