//! The C fast path (docs/FORMAT.md §5): plain `extern "C"` functions in the same library, for
//! foreign callers where a uniffi call costs more than the work (Python's ctypes). Each is an
//! optimisation of a UDL operation with the same semantics; errors return -1 and the caller uses
//! the UDL operation to obtain the typed error. Handles are ids in a registry of weak references,
//! so a stale id can never reach freed memory. No panic crosses: every entry point catches it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::RwLock;

use crate::codec;
use crate::kv::stream::GetStream;
use crate::kv::KvInner;

enum Entry {
    Kv(Weak<KvInner>),
    Stream(Weak<GetStream>),
}

static REGISTRY: LazyLock<RwLock<HashMap<u64, Entry>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));
static NEXT: AtomicU64 = AtomicU64::new(1);

fn register(e: Entry) -> u64 {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    REGISTRY.write().insert(id, e);
    id
}

pub(crate) fn register_kv(kv: &Arc<KvInner>) -> u64 {
    register(Entry::Kv(Arc::downgrade(kv)))
}

pub(crate) fn register_stream(s: &Arc<GetStream>) -> u64 {
    register(Entry::Stream(Arc::downgrade(s)))
}

/// Returns the id stored in `slot`, registering one with `register` the first time (a racing
/// second registration is undone).
pub(crate) fn claim(slot: &AtomicU64, register: impl FnOnce() -> u64) -> u64 {
    let cur = slot.load(Ordering::Acquire);
    if cur != 0 {
        return cur;
    }
    let id = register();
    match slot.compare_exchange(0, id, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => id,
        Err(existing) => {
            unregister(id);
            existing
        }
    }
}

pub(crate) fn unregister(id: u64) {
    if id != 0 {
        REGISTRY.write().remove(&id);
    }
}

fn kv(id: u64) -> Option<Arc<KvInner>> {
    match REGISTRY.read().get(&id) {
        Some(Entry::Kv(w)) => w.upgrade(),
        _ => None,
    }
}

fn stream(id: u64) -> Option<Arc<GetStream>> {
    match REGISTRY.read().get(&id) {
        Some(Entry::Stream(w)) => w.upgrade(),
        _ => None,
    }
}

/// `KvStore.get` into a caller buffer: 0 found (copied), 1 missing, 2 buffer too small
/// (`*out_len` = size needed), -1 error.
///
/// # Safety
/// `key` must point to `key_len` readable bytes, `buf` to `cap` writable bytes (or be null with
/// `cap` 0), `out_len` and `out_kind` to writable integers.
#[no_mangle]
pub unsafe extern "C" fn kv_fast_get(
    handle: u64,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut u64,
    out_kind: *mut u8,
) -> i32 {
    let r = std::panic::catch_unwind(|| {
        let Some(kv) = kv(handle) else { return -1 };
        if (key.is_null() && key_len > 0) || out_len.is_null() || out_kind.is_null() {
            return -1;
        }
        let key: &[u8] = if key_len == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(key, key_len)
        };
        let res = kv.with_stored(key, |stored| {
            let Some(stored) = stored else { return Ok(1) };
            let (kind, span) = codec::decode_span(stored)?;
            let owned;
            let payload: &[u8] = match span {
                codec::Span::Slice(a, b) => &stored[a..b],
                codec::Span::Owned(t) => {
                    owned = t.payload;
                    &owned
                }
            };
            *out_len = payload.len() as u64;
            *out_kind = kind;
            if payload.len() > cap {
                return Ok(2);
            }
            if !payload.is_empty() {
                std::ptr::copy_nonoverlapping(payload.as_ptr(), buf, payload.len());
            }
            Ok(0)
        });
        res.unwrap_or(-1)
    });
    r.unwrap_or(-1)
}

/// `GetStream.read` into a caller buffer: bytes copied, 0 at the end, -1 error.
///
/// # Safety
/// `buf` must point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kv_fast_stream_read(handle: u64, buf: *mut u8, cap: usize) -> i64 {
    let r = std::panic::catch_unwind(|| {
        let Some(s) = stream(handle) else { return -1 };
        if buf.is_null() || cap == 0 {
            return 0;
        }
        let out = std::slice::from_raw_parts_mut(buf, cap);
        match s.read_into(out) {
            Ok(n) => n as i64,
            Err(_) => -1,
        }
    });
    r.unwrap_or(-1)
}
