//! VectorKVault's C fast path (docs/FORMAT.md §5, §7.4): `get_by_id` without a uniffi call
//! (whose record lifting costs a Python caller several times the read). An optimisation of
//! `VectorStore.get_by_id` with the same meaning.

use crate::fastpath::{bytes_arg, entry, lookup, opt_bytes_arg, with_page};

use super::VectorStore;

/// `VectorStore.get_by_id(id, decoded)` into this thread's page buffer:
/// `[u32 len][row][kind u8][u32 len][payload][has_metadata u8]([u32 len][msgpack map])`, all
/// little-endian. 0 and the page in `*out` / `*out_len` (valid until this thread's next page
/// call); -1 on any error, a missing id included (then make the UDL call for the typed error).
///
/// # Safety
/// `out` and `out_len` must be writable.
#[no_mangle]
pub unsafe extern "C" fn vec_fast_get(
    handle: u64,
    id: i64,
    decoded: i32,
    out: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    entry(-1, || {
        let Some(store) = lookup::<VectorStore>(handle) else {
            return -1;
        };
        with_page(out, out_len, |page| {
            store.record_into(id, decoded != 0, page)
        })
    })
}

/// `VectorStore.insert(vector, kind, payload, metadata)` without a uniffi call (whose argument
/// lowering and result lifting cost a Python caller ~20 µs, a fifth of the insert): the new id
/// (≥ 1), or -1 on any error, nothing written (then make the UDL call for the typed error).
/// `meta_len` < 0 means no metadata.
///
/// # Safety
/// `row`, `payload` and `meta` must point to `row_len`, `payload_len` and `meta_len` readable
/// bytes (null is accepted for an empty or absent buffer).
#[no_mangle]
pub unsafe extern "C" fn vec_fast_insert(
    handle: u64,
    row: *const u8,
    row_len: usize,
    kind: u32,
    payload: *const u8,
    payload_len: usize,
    meta: *const u8,
    meta_len: i64,
) -> i64 {
    entry(-1, || {
        let Some(store) = lookup::<VectorStore>(handle) else {
            return -1;
        };
        let (Some(row), Some(payload), Some(meta), Ok(kind)) = (
            bytes_arg(row, row_len),
            bytes_arg(payload, payload_len),
            opt_bytes_arg(meta, meta_len),
            u8::try_from(kind),
        ) else {
            return -1;
        };
        store
            .insert(row, kind, payload, meta.map(<[u8]>::to_vec))
            .unwrap_or(-1)
    })
}
