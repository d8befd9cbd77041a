//! ColumnVault's C fast path (docs/FORMAT.md §5): bulk reads straight into a caller buffer (a
//! numpy array, a JVM direct buffer), so large reads cost one copy out of SQLite's pages and no
//! per-byte conversion. An optimisation of `ColumnStore.read_rows` with the same meaning.

use crate::fastpath::{entry, lookup};

use super::{ColInner, ColumnStore};

/// `ColumnStore.read_rows(col_id, start, count)` into `buf`, which must hold exactly the rows'
/// bytes (`count * elem_size`). Returns the bytes written, or -1 on any error (then make the
/// UDL call for the typed error).
///
/// # Safety
/// `buf` must point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn col_fast_read(
    handle: u64,
    col_id: i64,
    start: u64,
    count: u64,
    buf: *mut u8,
    cap: usize,
) -> i64 {
    entry(-1, || {
        let Some(inner) = lookup::<ColInner>(handle) else {
            return -1;
        };
        if buf.is_null() && cap > 0 {
            return -1;
        }
        let out: &mut [u8] = if cap == 0 {
            &mut []
        } else {
            std::slice::from_raw_parts_mut(buf, cap)
        };
        let store = ColumnStore { inner };
        match store.read_rows_into(col_id, start, count, out) {
            Ok(()) => cap as i64,
            Err(_) => -1,
        }
    })
}
