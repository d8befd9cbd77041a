//! The C fast path (docs/FORMAT.md §5): plain `extern "C"` functions in the same library, for
//! foreign callers where a uniffi call costs more than the work (Python's ctypes). Each is an
//! optimisation of a UDL operation with the same semantics; errors return -1 and the caller uses
//! the UDL operation to obtain the typed error. Handles are ids in a registry of weak references,
//! so a stale id can never reach freed memory. No panic crosses: every entry point catches it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::RwLock;

use crate::codec;
use crate::error::Result;
use crate::kv::page::PyPage;
use crate::kv::stream::GetStream;
use crate::kv::{KvInner, KvStore, ScanPage};

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

thread_local! {
    /// The page of this thread's last `kv_fast_get_many` / `kv_fast_scan` (valid until its next
    /// call or `kv_fast_release`).
    static PAGE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A page buffer bigger than this is freed instead of kept for the next call.
const PAGE_KEEP: usize = 8 << 20;

/// Copies the payload of a stored value (decoded) into `buf`: (kind, length), the length being
/// the size needed when it is more than `cap` (nothing copied then).
///
/// # Safety
/// `buf` must point to `cap` writable bytes.
unsafe fn copy_payload(stored: &[u8], buf: *mut u8, cap: usize) -> Result<(u8, usize)> {
    let (kind, span) = codec::decode_span(stored)?;
    let owned;
    let payload: &[u8] = match span {
        codec::Span::Slice(a, b) => &stored[a..b],
        codec::Span::Owned(t) => {
            owned = t.payload;
            &owned
        }
    };
    if payload.len() <= cap && !payload.is_empty() {
        std::ptr::copy_nonoverlapping(payload.as_ptr(), buf, payload.len());
    }
    Ok((kind, payload.len()))
}

/// `KvStore.get` into a caller buffer, with int-sized arguments only (a ctypes call without
/// argtypes costs a fraction of one with them): `(length << 8) | kind` when found and copied; -2
/// missing; -1 error; `-3 - length` when the payload is larger than `cap` (nothing copied).
///
/// # Safety
/// `key` must point to `key_len` readable bytes and `buf` to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kv_fast_get2(
    handle: u32,
    key: *const u8,
    key_len: i32,
    buf: *mut u8,
    cap: i32,
) -> i64 {
    let r = std::panic::catch_unwind(|| {
        let Some(kv) = kv(handle as u64) else {
            return -1;
        };
        let Ok(key_len) = usize::try_from(key_len) else {
            return -1;
        };
        let cap = if buf.is_null() {
            0
        } else {
            cap.max(0) as usize
        };
        let Some(key) = bytes_arg(key, key_len) else {
            return -1;
        };
        let res = kv.with_stored(key, |stored| {
            let Some(stored) = stored else { return Ok(-2) };
            let (kind, len) = copy_payload(stored, buf, cap)?;
            Ok(if len > cap {
                -3 - len as i64
            } else {
                ((len as i64) << 8) | kind as i64
            })
        });
        res.unwrap_or(-1)
    });
    r.unwrap_or(-1)
}

/// Runs `fill` on this thread's page buffer; on success points `out` / `out_len` at the page.
///
/// # Safety
/// `out` and `out_len` must be writable.
unsafe fn with_page(
    out: *mut *const u8,
    out_len: *mut usize,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> i32 {
    if out.is_null() || out_len.is_null() {
        return -1;
    }
    PAGE.with(|p| {
        let mut page = p.borrow_mut();
        if page.capacity() > PAGE_KEEP {
            *page = Vec::new();
        }
        page.clear();
        match fill(&mut page) {
            Ok(()) => {
                *out = page.as_ptr();
                *out_len = page.len();
                0
            }
            Err(_) => -1,
        }
    })
}

/// # Safety
/// `p` must point to `n` readable bytes (or be null with `n` 0).
unsafe fn bytes_arg<'a>(p: *const u8, n: usize) -> Option<&'a [u8]> {
    if n == 0 {
        Some(&[])
    } else if p.is_null() {
        None
    } else {
        Some(std::slice::from_raw_parts(p, n))
    }
}

/// `KvStore.get_many` as a page of Python objects (FORMAT.md §4.1) in this thread's page
/// buffer. Keys come as columns: `key_lens` (u32 LE each) over the concatenated `keys`.
/// `decoded` 0: stored bytes (as `get_many_stored`). 0 ok (`*out`, `*out_len` = the page, valid
/// until this thread's next page call); -1 error (call the UDL operation for the typed error).
///
/// # Safety
/// Pointers must be valid for the lengths given; `out` and `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn kv_fast_get_many(
    handle: u64,
    key_lens: *const u8,
    key_lens_len: usize,
    keys: *const u8,
    keys_len: usize,
    decoded: i32,
    out: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    let r = std::panic::catch_unwind(|| {
        let Some(inner) = kv(handle) else { return -1 };
        let (Some(lens), Some(keys)) =
            (bytes_arg(key_lens, key_lens_len), bytes_arg(keys, keys_len))
        else {
            return -1;
        };
        let store = KvStore { inner };
        with_page(out, out_len, |page| {
            let keys = KvStore::key_columns(lens, keys)?;
            let mut sink = PyPage::begin(page);
            store.get_many_into(&keys, decoded != 0, &mut sink)?;
            sink.finish(true)
        })
    });
    r.unwrap_or(-1)
}

/// One `KvStore.scan` page as Python objects (FORMAT.md §4.1) in this thread's page buffer.
/// `prefix_len` / `after_len` -1: none. `flags`: 1 with values, 2 decoded. The page stops at
/// `limit` entries or once it holds `max_bytes`. Returns as `kv_fast_get_many`.
///
/// # Safety
/// Pointers must be valid for the lengths given; `out` and `out_len` writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn kv_fast_scan(
    handle: u64,
    prefix: *const u8,
    prefix_len: i64,
    after: *const u8,
    after_len: i64,
    limit: u64,
    max_bytes: u64,
    flags: u32,
    out: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    let r = std::panic::catch_unwind(|| {
        let Some(inner) = kv(handle) else { return -1 };
        let opt = |p: *const u8, n: i64| -> std::result::Result<Option<&[u8]>, ()> {
            if n < 0 {
                Ok(None)
            } else {
                bytes_arg(p, n as usize).map(Some).ok_or(())
            }
        };
        let (Ok(prefix), Ok(after)) = (opt(prefix, prefix_len), opt(after, after_len)) else {
            return -1;
        };
        let store = KvStore { inner };
        with_page(out, out_len, |page| {
            let mut sink = PyPage::begin(page);
            let end = store.scan_into(
                &ScanPage {
                    prefix,
                    after,
                    limit: usize::try_from(limit).unwrap_or(usize::MAX),
                    max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
                    with_values: flags & 1 != 0,
                    decoded: flags & 2 != 0,
                },
                &mut sink,
            )?;
            sink.finish(end)
        })
    });
    r.unwrap_or(-1)
}

/// Frees this thread's page buffer if it is large.
#[no_mangle]
pub extern "C" fn kv_fast_release() {
    let _ = PAGE.try_with(|p| {
        if let Ok(mut page) = p.try_borrow_mut() {
            if page.capacity() > PAGE_KEEP {
                *page = Vec::new();
            }
        }
    });
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
            let (kind, len) = copy_payload(stored, buf, cap)?;
            *out_len = len as u64;
            *out_kind = kind;
            Ok(if len > cap { 2 } else { 0 })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::OpenOptions;

    fn store() -> KvStore {
        KvStore::new(":memory:".into(), "kv".into(), OpenOptions::default()).unwrap()
    }

    fn page_bytes(rc: i32, ptr: *const u8, len: usize) -> Vec<u8> {
        assert_eq!(rc, 0);
        // SAFETY: the page stays valid until this thread's next page call.
        unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()
    }

    #[test]
    fn get2_codes() {
        let kv = store();
        kv.put(b"raw", 0, b"hello").unwrap();
        kv.put(b"int", 16, &[5]).unwrap();
        let h = kv.fast_handle() as u32;
        let mut buf = [0u8; 8];
        let get = |key: &[u8], buf: &mut [u8]| unsafe {
            kv_fast_get2(
                h,
                key.as_ptr(),
                key.len() as i32,
                buf.as_mut_ptr(),
                buf.len() as i32,
            )
        };
        assert_eq!(get(b"raw", &mut buf), 5 << 8);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(get(b"int", &mut buf), (8 << 8) | 16);
        assert_eq!(buf, 5i64.to_le_bytes());
        assert_eq!(get(b"nope", &mut buf), -2);
        assert_eq!(get(b"raw", &mut buf[..4]), -3 - 5);
        assert_eq!(
            unsafe { kv_fast_get2(h, b"k".as_ptr(), -1, buf.as_mut_ptr(), 8) },
            -1
        );
        assert_eq!(
            unsafe { kv_fast_get2(0, b"k".as_ptr(), 1, buf.as_mut_ptr(), 8) },
            -1
        );
        kv.close().unwrap();
        assert_eq!(get(b"raw", &mut buf), -1);
    }

    #[test]
    fn pages() {
        let kv = store();
        kv.put(b"a", 0, b"1").unwrap();
        kv.put(b"b", 16, &[2]).unwrap();
        let h = kv.fast_handle();
        let (mut ptr, mut len) = (std::ptr::null(), 0usize);
        let lens = [1u32.to_le_bytes(), 1u32.to_le_bytes(), 1u32.to_le_bytes()].concat();
        let rc = unsafe {
            kv_fast_get_many(
                h,
                lens.as_ptr(),
                lens.len(),
                b"abz".as_ptr(),
                3,
                1,
                &mut ptr,
                &mut len,
            )
        };
        let page = page_bytes(rc, ptr, len);
        let mut expect = vec![0x80, 4, b'(', b']', b'(', b'C', 1, b'1', b'K', 16, b'C', 8];
        expect.extend_from_slice(&2i64.to_le_bytes());
        expect.extend_from_slice(&[0x86, b'N', b'e', b'J', 2, 0, 0, 0, b'K', 1]);
        expect.extend_from_slice(&[b'N', b'J', 0, 0, 0, 0, b't', b'.']);
        assert_eq!(page, expect);
        // Lengths that do not cover the keys: an error, not a page.
        let rc = unsafe {
            kv_fast_get_many(
                h,
                lens.as_ptr(),
                lens.len(),
                b"ab".as_ptr(),
                2,
                1,
                &mut ptr,
                &mut len,
            )
        };
        assert_eq!(rc, -1);

        // Keys-only scan with limit 1 after "a": ["b"], not the end (the LIMIT stopped it).
        let rc = unsafe {
            kv_fast_scan(
                h,
                std::ptr::null(),
                -1,
                b"a".as_ptr(),
                1,
                1,
                u64::MAX,
                0,
                &mut ptr,
                &mut len,
            )
        };
        let page = page_bytes(rc, ptr, len);
        assert_eq!(
            page,
            [
                &[0x80, 4, b'(', b']', b'(', b'C', 1, b'b', b'e', b'J', 0, 0, 0, 0, b'K', 0][..],
                &[b'N', b'J', 0, 0, 0, 0, b't', b'.'][..]
            ]
            .concat()
        );
        // A one-byte budget still yields one entry per page; the last page says "end".
        let rc = unsafe {
            kv_fast_scan(
                h,
                b"b".as_ptr(),
                1,
                std::ptr::null(),
                -1,
                10,
                1,
                3,
                &mut ptr,
                &mut len,
            )
        };
        let page = page_bytes(rc, ptr, len);
        assert!(page.ends_with(&[b'K', 1, b'N', b'J', 0, 0, 0, 0, b't', b'.']));
        kv_fast_release();
    }
}
