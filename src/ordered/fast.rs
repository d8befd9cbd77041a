//! The C fast path of the ordered containers (docs/FORMAT.md §9.4): single-key operations of
//! `OrderedStore` with int-sized arguments only, an optimisation of the UDL methods of the same
//! names. -1 on any error; the caller then makes the UDL call for the typed error.

use crate::fastpath::{bytes_arg, entry, lookup};

use super::key::Key;
use super::store::OrderedStore;
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
