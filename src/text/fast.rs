//! TextVault's C fast path (docs/FORMAT.md §5, §8.4): `insert` without a uniffi call, an
//! optimisation of `TextStore.insert` with the same meaning.

use crate::fastpath::{bytes_arg, entry, lookup, opt_bytes_arg};

use super::TextStore;

/// `TextStore.insert(texts, kind, payload, vector)`: `text_lens` holds one u32 LE byte length
/// per column, `texts` their UTF-8 back to back; `vector_len` < 0 means no vector. The new id
/// (≥ 1), or -1 on any error, nothing written (then make the UDL call for the typed error).
///
/// # Safety
/// Every pointer must point to as many readable bytes as its length says (null is accepted
/// for an empty or absent buffer).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn text_fast_insert(
    handle: u64,
    text_lens: *const u8,
    text_lens_len: usize,
    texts: *const u8,
    texts_len: usize,
    kind: u32,
    payload: *const u8,
    payload_len: usize,
    vector: *const u8,
    vector_len: i64,
) -> i64 {
    entry(-1, || {
        let Some(store) = lookup::<TextStore>(handle) else {
            return -1;
        };
        let (Some(lens), Some(blob), Some(payload), Some(vector), Ok(kind)) = (
            bytes_arg(text_lens, text_lens_len),
            bytes_arg(texts, texts_len),
            bytes_arg(payload, payload_len),
            opt_bytes_arg(vector, vector_len),
            u8::try_from(kind),
        ) else {
            return -1;
        };
        let Some(cols) = split_utf8(lens, blob) else {
            return -1;
        };
        store.insert_one(cols, kind, payload, vector).unwrap_or(-1)
    })
}

/// `blob` cut at the u32 LE lengths of `lens` into UTF-8 strings (None if anything is off).
fn split_utf8<'a>(lens: &[u8], blob: &'a [u8]) -> Option<Vec<&'a str>> {
    if !lens.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(lens.len() / 4);
    let mut at = 0usize;
    for c in lens.chunks_exact(4) {
        let n = u32::from_le_bytes(c.try_into().ok()?) as usize;
        let s = blob.get(at..at.checked_add(n)?)?;
        out.push(std::str::from_utf8(s).ok()?);
        at += n;
    }
    (at == blob.len()).then_some(out)
}
