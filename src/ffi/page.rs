//! Result pages of batch reads (`get_many`, `scan`), written through one `Sink` in either of two
//! encodings (docs/FORMAT.md §4):
//!
//! * `Packed`: the little-endian layout every binding parses.
//! * `PyPage`: the same entries as a stream of Python objects, for the C fast path. It uses a
//!   data-only subset of the pickle protocol (bytes, small ints, None, tuples, one list), so
//!   Python's C unpickler builds the result objects without a Python-level loop. No opcode that
//!   names a class or calls anything is ever written: the stream can only produce those objects.

use crate::codec::{plain, KIND_MSGPACK};
use crate::error::{Error, Result};
use crate::ffi::packed::{put_lv, put_tagged};
use crate::ffi::pickle::{
    self, APPENDS, BINBYTES, BININT, BININT1, EMPTY_LIST, MARK, NONE, PROTO, SHORT_BINBYTES, STOP,
    TUPLE, TUPLE2, TUPLE3,
};

/// Status byte of a missing key in a packed `get_many` result.
pub const MISSING: u8 = 0xFF;

pub trait Sink {
    /// A found value (`get_many`).
    fn value(&mut self, kind: u8, payload: &[u8]) -> Result<()>;
    /// A missing key (`get_many`).
    fn missing(&mut self) -> Result<()>;
    /// A key of a keys-only scan.
    fn key(&mut self, key: &[u8]) -> Result<()>;
    /// A key and its value (scan with values).
    fn entry(&mut self, key: &[u8], kind: u8, payload: &[u8]) -> Result<()>;
    /// Bytes written so far (scan pages stop at a byte budget).
    fn size(&self) -> usize;
}

/// The packed layout (FORMAT.md §4).
pub struct Packed<'a> {
    pub out: &'a mut Vec<u8>,
}

impl Sink for Packed<'_> {
    fn value(&mut self, kind: u8, payload: &[u8]) -> Result<()> {
        put_tagged(self.out, kind, payload)
    }
    fn missing(&mut self) -> Result<()> {
        put_tagged(self.out, MISSING, &[])
    }
    fn key(&mut self, key: &[u8]) -> Result<()> {
        put_lv(self.out, key)
    }
    fn entry(&mut self, key: &[u8], kind: u8, payload: &[u8]) -> Result<()> {
        put_lv(self.out, key)?;
        put_tagged(self.out, kind, payload)
    }
    fn size(&self) -> usize {
        self.out.len()
    }
}

/// APPENDS after this many entries keeps the unpickler's stack short.
const RUN: u32 = 1000;

/// A page of Python objects (FORMAT.md §4.1): the tuple
/// `(entries, special, end, packed, n_packed)`, where `entries` is a list, `special` counts entries
/// that are not plain `bytes` / `(key, bytes)`, `end` is 1 when a scan has no entries after this
/// page, and `packed` is one MessagePack array holding the payloads of the `n_packed` MessagePack
/// values in entry order (the facade decodes them in one call), or None.
pub struct PyPage<'a> {
    out: &'a mut Vec<u8>,
    special: u32,
    run: u32,
    packed: Vec<u8>,
    n_packed: u32,
    memo: pickle::Memo,
}

impl<'a> PyPage<'a> {
    pub fn begin(out: &'a mut Vec<u8>) -> Self {
        out.extend_from_slice(&[PROTO, 4, MARK, EMPTY_LIST, MARK]);
        PyPage {
            out,
            special: 0,
            run: 0,
            packed: Vec::new(),
            n_packed: 0,
            memo: pickle::Memo::default(),
        }
    }

    /// Moves a MessagePack payload into the packed array when it is one well-formed value (a
    /// malformed one stays a `(kind, payload)` entry and fails alone when decoded).
    fn pack(&mut self, kind: u8, payload: &[u8]) -> bool {
        if kind != KIND_MSGPACK
            || self.n_packed == u32::MAX
            || plain::msgpack_is_canonical(payload).is_err()
        {
            return false;
        }
        if self.packed.is_empty() {
            self.packed.extend_from_slice(&[0xdd, 0, 0, 0, 0]);
        }
        self.packed.extend_from_slice(payload);
        self.n_packed += 1;
        self.special += 1;
        true
    }

    fn bytes(&mut self, b: &[u8]) -> Result<()> {
        pickle::sized(self.out, SHORT_BINBYTES, BINBYTES, b)
            .ok_or_else(|| Error::invalid("item larger than 4 GiB cannot be batched"))
    }

    fn next_entry(&mut self) {
        self.run += 1;
        if self.run == RUN {
            self.out.extend_from_slice(&[APPENDS, MARK]);
            self.run = 0;
        }
    }

    /// A `str` entry (valid UTF-8 bytes), e.g. one row of a text column.
    pub fn text(&mut self, utf8: &[u8]) -> Result<()> {
        pickle::text(self.out, utf8)
            .ok_or_else(|| Error::invalid("item larger than 4 GiB cannot be batched"))?;
        self.next_entry();
        Ok(())
    }

    pub fn finish(mut self, end: bool) -> Result<()> {
        self.out.push(APPENDS);
        self.out.push(BININT);
        self.out
            .extend_from_slice(&(self.special.min(i32::MAX as u32) as i32).to_le_bytes());
        self.out.extend_from_slice(&[BININT1, end as u8]);
        if self.n_packed == 0 {
            self.out.push(NONE);
        } else {
            let n = self.n_packed.to_be_bytes();
            self.packed[1..5].copy_from_slice(&n);
            let packed = std::mem::take(&mut self.packed);
            self.bytes(&packed)?;
        }
        self.out.push(BININT);
        self.out
            .extend_from_slice(&(self.n_packed.min(i32::MAX as u32) as i32).to_le_bytes());
        self.out.extend_from_slice(&[TUPLE, STOP]);
        Ok(())
    }
}

impl Sink for PyPage<'_> {
    /// `bytes` for raw values, the dict or list itself for MessagePack maps and arrays (see
    /// `pickle`), the int 4 for other MessagePack values (their payload is in `packed`),
    /// `(kind, payload)` for the others.
    fn value(&mut self, kind: u8, payload: &[u8]) -> Result<()> {
        if kind == 0 {
            self.bytes(payload)?;
        } else if kind == KIND_MSGPACK && pickle::transcode(payload, self.out, &mut self.memo) {
        } else if self.pack(kind, payload) {
            self.out.extend_from_slice(&[BININT1, KIND_MSGPACK]);
        } else {
            self.out.extend_from_slice(&[BININT1, kind]);
            self.bytes(payload)?;
            self.out.push(TUPLE2);
            self.special += 1;
        }
        self.next_entry();
        Ok(())
    }
    /// `None`.
    fn missing(&mut self) -> Result<()> {
        self.out.push(NONE);
        self.special += 1;
        self.next_entry();
        Ok(())
    }
    fn key(&mut self, key: &[u8]) -> Result<()> {
        self.bytes(key)?;
        self.next_entry();
        Ok(())
    }
    /// `(key, bytes)` for raw values, `(key, dict or list)` for MessagePack maps and arrays,
    /// `(key, None)` for other MessagePack values (their payload is in `packed`),
    /// `(key, kind, payload)` for the others.
    fn entry(&mut self, key: &[u8], kind: u8, payload: &[u8]) -> Result<()> {
        self.bytes(key)?;
        if kind == 0 {
            self.bytes(payload)?;
            self.out.push(TUPLE2);
        } else if kind == KIND_MSGPACK && pickle::transcode(payload, self.out, &mut self.memo) {
            self.out.push(TUPLE2);
        } else if self.pack(kind, payload) {
            self.out.extend_from_slice(&[NONE, TUPLE2]);
        } else {
            self.out.extend_from_slice(&[BININT1, kind]);
            self.bytes(payload)?;
            self.out.push(TUPLE3);
            self.special += 1;
        }
        self.next_entry();
        Ok(())
    }
    fn size(&self) -> usize {
        self.out.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pypage_layout() {
        let mut out = Vec::new();
        let mut p = PyPage::begin(&mut out);
        p.value(0, b"ab").unwrap();
        p.missing().unwrap();
        p.value(4, &[0x90]).unwrap(); // an array: the list itself
        p.value(4, &[0x05]).unwrap(); // a scalar: packed
        p.value(4, &[0x92, 0x01]).unwrap(); // malformed: stays (kind, payload)
        p.value(6, b"s").unwrap();
        p.finish(false).unwrap();
        let expect: Vec<u8> = [
            &[
                0x80, 4, b'(', b']', b'(', b'C', 2, b'a', b'b', b'N', b']', b'K', 4,
            ][..],
            &[
                b'K', 4, b'C', 2, 0x92, 0x01, 0x86, b'K', 6, b'C', 1, b's', 0x86,
            ][..],
            &[
                b'e', b'J', 4, 0, 0, 0, b'K', 0, b'C', 6, 0xdd, 0, 0, 0, 1, 0x05,
            ][..],
            &[b'J', 1, 0, 0, 0, b't', b'.'][..],
        ]
        .concat();
        assert_eq!(out, expect);
    }

    #[test]
    fn pypage_long_bytes_and_runs() {
        let mut out = Vec::new();
        let mut p = PyPage::begin(&mut out);
        let big = vec![7u8; 300];
        p.entry(b"k", 0, &big).unwrap();
        for _ in 1..RUN {
            p.key(b"").unwrap();
        }
        p.finish(true).unwrap();
        assert_eq!(&out[5..8], &[b'C', 1, b'k']);
        assert_eq!(out[8], b'B');
        assert_eq!(&out[9..13], &300u32.to_le_bytes());
        // RUN entries: one APPENDS + MARK in the middle, one APPENDS at the end.
        let tail = &out[out.len() - 20..];
        assert_eq!(
            tail,
            &[
                b'C', 0, b'e', b'(', b'e', b'J', 0, 0, 0, 0, b'K', 1, b'N', b'J', 0, 0, 0, 0, b't',
                b'.'
            ]
        );
    }
}
