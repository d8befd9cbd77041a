//! TextVault's C fast path (docs/FORMAT.md §5, §8.4): `insert` without a uniffi call, an
//! optimisation of `TextStore.insert` with the same meaning.

use crate::fastpath::{bytes_arg, entry, lookup, opt_bytes_arg};
use crate::ffi::packed::split_columns;

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
        let Ok(pieces) = split_columns(lens, blob, lens.len() / 4) else {
            return -1;
        };
        let Ok(cols) = pieces
            .iter()
            .map(|p| std::str::from_utf8(p))
            .collect::<Result<Vec<&str>, _>>()
        else {
            return -1;
        };
        store.insert_one(cols, kind, payload, vector).unwrap_or(-1)
    })
}
