//! VectorKVault's C fast path (docs/FORMAT.md §5, §7.4): `get_by_id` without a uniffi call
//! (whose record lifting costs a Python caller several times the read). An optimisation of
//! `VectorStore.get_by_id` with the same meaning.

use crate::fastpath::{entry, lookup, with_page};

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
