//! The C fast path of the ordered containers (docs/FORMAT.md §9.4): single-key operations of
//! `OrderedStore` with int-sized arguments only, an optimisation of the UDL methods of the same
//! names. -1 on any error; the caller then makes the UDL call for the typed error.

use crate::fastpath::{bytes_arg, entry, lookup, opt_bytes_arg, with_page};

use super::key::Key;
use super::store::{Neighbor, OrderedRange, OrderedStore};
use super::wire::HostKey;

const KIND_ENCODED: i32 = 0;
const KIND_STR: i32 = 1;
const KIND_BYTES: i32 = 2;

#[inline]
fn join(lo: i32, hi: i32) -> i64 {
    ((hi as i64) << 32) | (lo as u32 as i64)
}

/// The key `(kind, p, len)` names.
///
/// # Safety
/// `p` must point to `len` readable bytes.
unsafe fn key_arg(store: &OrderedStore, kind: i32, p: *const u8, len: i32) -> Option<HostKey> {
    if len < 0 {
        return None;
    }
    let b = bytes_arg(p, len as usize)?;
    match kind {
        KIND_ENCODED => store.key(b).ok(),
        KIND_STR => Some(HostKey::Native(Key::Str(
            std::str::from_utf8(b).ok()?.to_owned(),
        ))),
        KIND_BYTES => Some(HostKey::Native(Key::Bytes(b.to_vec()))),
        _ => None,
    }
}

/// Runs `op` on the store behind `h` and the key it is given; -1 on any failure.
fn with_store(h: u32, op: impl FnOnce(&OrderedStore) -> Option<i64>) -> i64 {
    entry(-1, || {
        let Some(store) = lookup::<OrderedStore>(h as u64) else {
            return -1;
        };
        op(&store).unwrap_or(-1)
    })
}

fn int_key(lo: i32, hi: i32) -> HostKey {
    HostKey::Native(Key::Int(join(lo, hi)))
}

#[no_mangle]
pub extern "C" fn ord_fast_get_int(h: u32, lo: i32, hi: i32) -> i64 {
    with_store(h, |s| s.get_key(&int_key(lo, hi)).ok().map(|v| v as i64))
}

#[no_mangle]
pub extern "C" fn ord_fast_contains_int(h: u32, lo: i32, hi: i32) -> i64 {
    with_store(h, |s| s.contains_key(&int_key(lo, hi)).ok().map(i64::from))
}

#[no_mangle]
pub extern "C" fn ord_fast_remove_int(h: u32, lo: i32, hi: i32) -> i64 {
    with_store(h, |s| s.remove_key(&int_key(lo, hi)).ok().map(|v| v as i64))
}

#[no_mangle]
pub extern "C" fn ord_fast_insert_int(h: u32, lo: i32, hi: i32, vlo: i32, vhi: i32) -> i64 {
    with_store(h, |s| {
        s.insert_key(int_key(lo, hi), join(vlo, vhi) as u64)
            .ok()
            .map(|v| v as i64)
    })
}

/// # Safety
/// `p` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ord_fast_get(h: u32, kind: i32, p: *const u8, len: i32) -> i64 {
    with_store(h, |s| {
        let k = key_arg(s, kind, p, len)?;
        s.get_key(&k).ok().map(|v| v as i64)
    })
}

/// # Safety
/// `p` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ord_fast_contains(h: u32, kind: i32, p: *const u8, len: i32) -> i64 {
    with_store(h, |s| {
        let k = key_arg(s, kind, p, len)?;
        s.contains_key(&k).ok().map(i64::from)
    })
}

/// # Safety
/// `p` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ord_fast_remove(h: u32, kind: i32, p: *const u8, len: i32) -> i64 {
    with_store(h, |s| {
        let k = key_arg(s, kind, p, len)?;
        s.remove_key(&k).ok().map(|v| v as i64)
    })
}

/// # Safety
/// `p` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ord_fast_insert(
    h: u32,
    kind: i32,
    p: *const u8,
    len: i32,
    vlo: i32,
    vhi: i32,
) -> i64 {
    with_store(h, |s| {
        let k = key_arg(s, kind, p, len)?;
        s.insert_key(k, join(vlo, vhi) as u64)
            .ok()
            .map(|v| v as i64)
    })
}

/// `OrderedStore.range` into this thread's page (docs/FORMAT.md §5): bounds as key encodings
/// (`*_len` < 0: unbounded), flags as 0/1, `limit` 0 = all. 0 and the entry page in `*out` /
/// `*out_len` (valid until this thread's next page call), or -1 on any error.
///
/// # Safety
/// `start` / `end` must point to their lengths in readable bytes; `out` and `out_len` must be
/// writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ord_fast_range(
    h: u32,
    start: *const u8,
    start_len: i32,
    start_inclusive: i32,
    end: *const u8,
    end_len: i32,
    end_inclusive: i32,
    limit: i32,
    reverse: i32,
    out: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    entry(-1, || {
        let Some(store) = lookup::<OrderedStore>(h as u64) else {
            return -1;
        };
        let (Some(start), Some(end), Ok(limit)) = (
            opt_bytes_arg(start, start_len as i64),
            opt_bytes_arg(end, end_len as i64),
            u32::try_from(limit),
        ) else {
            return -1;
        };
        let range = OrderedRange {
            start: start.map(<[u8]>::to_vec),
            start_inclusive: start_inclusive != 0,
            end: end.map(<[u8]>::to_vec),
            end_inclusive: end_inclusive != 0,
            limit,
            reverse: reverse != 0,
        };
        with_page(out, out_len, |page| {
            *page = store.range_page(&range)?;
            Ok(())
        })
    })
}

/// `OrderedStore.neighbor` (which: 0 First, 1 Last, 2 Floor, 3 Lower, 4 Ceiling, 5 Higher)
/// into this thread's page, as [`ord_fast_range`].
///
/// # Safety
/// As [`ord_fast_range`].
#[no_mangle]
pub unsafe extern "C" fn ord_fast_neighbor(
    h: u32,
    which: i32,
    key: *const u8,
    key_len: i32,
    out: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    entry(-1, || {
        let Some(store) = lookup::<OrderedStore>(h as u64) else {
            return -1;
        };
        let which = match which {
            0 => Neighbor::First,
            1 => Neighbor::Last,
            2 => Neighbor::Floor,
            3 => Neighbor::Lower,
            4 => Neighbor::Ceiling,
            5 => Neighbor::Higher,
            _ => return -1,
        };
        let Some(key) = bytes_arg(key, key_len.max(0) as usize) else {
            return -1;
        };
        with_page(out, out_len, |page| {
            *page = store.neighbor_page(which, key)?;
            Ok(())
        })
    })
}
