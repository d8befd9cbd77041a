//! Little-endian packed buffers that carry batches across the FFI (docs/FORMAT.md §4).

use crate::error::{Error, Result};

/// A bounds-checked reader over a packed buffer.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
    fn short() -> Error {
        Error::invalid("packed buffer is truncated")
    }
    pub fn u8(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(Self::short)?;
        self.pos += 1;
        Ok(b)
    }
    pub fn u32(&mut self) -> Result<u32> {
        let s = self.bytes(4)?;
        Ok(u32::from_le_bytes(s.try_into().expect("4 bytes")))
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(Self::short)?;
        let s = self.buf.get(self.pos..end).ok_or_else(Self::short)?;
        self.pos = end;
        Ok(s)
    }
}

/// One `[kind u8][klen u32][vlen u32][key][payload]` item.
pub struct Item<'a> {
    pub kind: u8,
    pub key: &'a [u8],
    pub payload: &'a [u8],
}

pub fn parse_items(buf: &[u8]) -> Result<Vec<Item<'_>>> {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    while !r.done() {
        let kind = r.u8()?;
        let klen = r.u32()? as usize;
        let vlen = r.u32()? as usize;
        let key = r.bytes(klen)?;
        let payload = r.bytes(vlen)?;
        out.push(Item { kind, key, payload });
    }
    Ok(out)
}

/// The columnar form of a batch of items (FORMAT.md §4): `kinds[n]`, `key_lens` and
/// `value_lens` as `n` little-endian u32 each, then every key and every payload concatenated.
pub fn parse_item_columns<'a>(
    kinds: &'a [u8],
    key_lens: &'a [u8],
    value_lens: &'a [u8],
    keys: &'a [u8],
    values: &'a [u8],
) -> Result<Vec<Item<'a>>> {
    let n = kinds.len();
    let keys = split_columns(key_lens, keys, n)?;
    let payloads = split_columns(value_lens, values, n)?;
    Ok(kinds
        .iter()
        .zip(keys)
        .zip(payloads)
        .map(|((&kind, key), payload)| Item { kind, key, payload })
        .collect())
}

/// `blob` cut into `n` pieces by the little-endian u32 lengths in `lens` (which must cover it
/// exactly).
pub fn split_columns<'a>(lens: &[u8], blob: &'a [u8], n: usize) -> Result<Vec<&'a [u8]>> {
    if lens.len() != n.checked_mul(4).ok_or_else(Reader::short)? {
        return Err(Error::invalid(
            "packed columns disagree on the number of items",
        ));
    }
    let mut out = Vec::with_capacity(n);
    let mut pos = 0usize;
    for len in lens.chunks_exact(4) {
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let end = pos.checked_add(len).ok_or_else(Reader::short)?;
        out.push(blob.get(pos..end).ok_or_else(Reader::short)?);
        pos = end;
    }
    if pos != blob.len() {
        return Err(Error::invalid("packed columns have trailing bytes"));
    }
    Ok(out)
}

pub fn parse_keys(buf: &[u8]) -> Result<Vec<&[u8]>> {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    while !r.done() {
        let n = r.u32()? as usize;
        out.push(r.bytes(n)?);
    }
    Ok(out)
}

/// `[u32 len][bytes]` appended to `out`.
pub fn put_lv(out: &mut Vec<u8>, b: &[u8]) -> Result<()> {
    let n = u32::try_from(b.len())
        .map_err(|_| Error::invalid("item larger than 4 GiB cannot be batched"))?;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(b);
    Ok(())
}

/// `[kind u8][u32 len][payload]` appended to `out`.
pub fn put_tagged(out: &mut Vec<u8>, kind: u8, payload: &[u8]) -> Result<()> {
    out.push(kind);
    put_lv(out, payload)
}
