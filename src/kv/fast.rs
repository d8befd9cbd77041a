//! KVault's C fast path entry points (docs/FORMAT.md §5), over the generic machinery of
//! [`crate::fastpath`]. Each is an optimisation of a `KvStore` / `GetStream` UDL operation with
//! the same meaning; -1 means "error: make the UDL call for the typed error".

use std::sync::Arc;

use crate::codec;
use crate::error::Result;
use crate::fastpath::{bytes_arg, entry, lookup, opt_bytes_arg, with_page};
use crate::ffi::page::PyPage;
use crate::ffi::pyobj::{self, MethodDef, Py, PyObj};

use super::stream::GetStream;
use super::{KvInner, KvStore, ScanSpec};

/// `kv_fast_get` flag: return the value as stored (`KvStore.get_stored`, auto-pack off), with
/// kind 0, instead of the decoded payload (`KvStore.get`).
pub const GET_STORED: i32 = 1;

fn kv(id: u64) -> Option<Arc<KvInner>> {
    lookup::<KvInner>(id)
}

/// Copies `payload` into `buf` when it fits in `cap` bytes; returns its length.
///
/// # Safety
/// `buf` must point to `cap` writable bytes.
unsafe fn copy_into(payload: &[u8], buf: *mut u8, cap: usize) -> usize {
    if payload.len() <= cap && !payload.is_empty() {
        std::ptr::copy_nonoverlapping(payload.as_ptr(), buf, payload.len());
    }
    payload.len()
}

/// The (kind, payload) a point read returns for `stored`, copied into `buf`: decoded, or with
/// `GET_STORED` the stored bytes as `get_stored` returns them (kind 0).
///
/// # Safety
/// `buf` must point to `cap` writable bytes.
unsafe fn copy_value(stored: &[u8], flags: i32, buf: *mut u8, cap: usize) -> Result<(u8, usize)> {
    if flags & GET_STORED != 0 {
        return Ok((0, copy_into(codec::stored_view(stored), buf, cap)));
    }
    Ok(match codec::decode_span(stored)? {
        (kind, codec::Span::Slice(a, b)) => (kind, copy_into(&stored[a..b], buf, cap)),
        (kind, codec::Span::Owned(t)) => (kind, copy_into(&t.payload, buf, cap)),
    })
}

/// `KvStore.get` (or `get_stored` with `GET_STORED` in `flags`) into a caller buffer. Every
/// argument is int-sized, so ctypes can call it without `argtypes` (a fraction of the cost).
/// Returns `(length << 8) | kind` when found and copied; -2 missing; -1 error; `-3 - length`
/// when the value is larger than `cap` (nothing copied).
///
/// # Safety
/// `key` must point to `key_len` readable bytes and `buf` to `cap` writable bytes (or be null).
#[no_mangle]
pub unsafe extern "C" fn kv_fast_get(
    handle: u32,
    key: *const u8,
    key_len: i32,
    buf: *mut u8,
    cap: i32,
    flags: i32,
) -> i64 {
    entry(-1, || {
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
        kv.with_stored(key, |stored| {
            let Some(stored) = stored else { return Ok(-2) };
            let (kind, len) = copy_value(stored, flags, buf, cap)?;
            Ok(if len > cap {
                -3 - len as i64
            } else {
                ((len as i64) << 8) | kind as i64
            })
        })
        .unwrap_or(-1)
    })
}

/// `kv_get` flag: run the read without the GIL (vaults whose reads may wait for the
/// writer connection: `:memory:` and URI vaults).
pub const RELEASE_GIL: i32 = 2;
/// `kv_get` flag: the vault reads pickled values (passed to the facade's decoder).
pub const ALLOW_PICKLE: i32 = 4;
/// `kv_get` flag: the key is a `str`, read as its UTF-8 (the bytes key the facade would make);
/// one with lone surrogates, or longer than the fast path takes, gives "failed".
pub const KEY_STR: i32 = 8;

/// Keys longer than this are left to the UDL call (as the facade does for bytes keys).
const KEY_MAX: usize = 1 << 20;

/// `KvStore.get` (or `get_stored` with `GET_STORED`) for Python, returning the value itself
/// (FORMAT.md §5.1): the builtin `kv_get(handle, key, flags)` that [`kv_fast_builtins`] hands
/// out, called with the GIL held. Returns a new reference: `bytes` (raw values; stored bytes
/// with `GET_STORED`), `str` (UTF-8 text), the decoder's result for other kinds, the
/// "missing" sentinel, or the "failed" sentinel on any error (then make the UDL call for the
/// typed error); null with the Python exception set when decoding raised.
unsafe extern "C" fn kv_get(_self: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut(); // never called before the table is registered
    };
    let found = entry(None, || {
        let [h, key, flags] = *pyobj::args::<3>(args, nargs)?;
        let (h, flags) = (py.as_i64(h)?, py.as_i64(flags)?);
        let key = if flags & KEY_STR as i64 != 0 {
            py.as_utf8(key).filter(|k| k.len() <= KEY_MAX)?
        } else {
            py.as_bytes(key)?
        };
        let kv = kv(u64::try_from(h).ok()?)?;
        let allow_pickle = flags & ALLOW_PICKLE as i64 != 0;
        let mut gil = (flags & RELEASE_GIL as i64 != 0).then(|| py.unlock());
        let r = kv.with_stored(key, |stored| {
            if let Some(g) = gil.as_mut() {
                g.relock();
            }
            let Some(stored) = stored else {
                return Ok(py.missing());
            };
            if flags & GET_STORED as i64 != 0 {
                return Ok(py.bytes(codec::stored_view(stored)));
            }
            Ok(match codec::decode_span(stored)? {
                (kind, codec::Span::Slice(a, b)) => py.value(kind, &stored[a..b], allow_pickle),
                (kind, codec::Span::Owned(t)) => py.value(kind, &t.payload, allow_pickle),
            })
        });
        drop(gil); // the GIL back when the read failed before reaching the value
        r.ok()
    });
    found.unwrap_or_else(|| py.failed())
}

/// `GetStream.read(cap)` for Python (FORMAT.md §5.1): the builtin `kv_stream_read(handle,
/// cap)` returns the next chunk as a new `bytes` (at most `cap` bytes; `b""` at the end) that
/// the core fills in place without the GIL: one copy out of SQLite, where reading into a
/// reused buffer and handing a writer its own `bytes` takes two. "failed" on any error (then
/// make the UDL call for the typed error).
unsafe extern "C" fn kv_stream_read(_self: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut(); // never called before the table is registered
    };
    let chunk = entry(None, || {
        let [h, cap] = *pyobj::args::<2>(args, nargs)?;
        let (h, cap) = (py.as_i64(h)?, py.as_i64(cap)?);
        let s = lookup::<GetStream>(u64::try_from(h).ok()?)?;
        let n = s.remaining().min(u64::try_from(cap).ok()?) as usize;
        py.bytes_filled(n, |buf| {
            let _gil = py.unlock();
            s.read_into(buf).ok()
        })
    });
    chunk.unwrap_or_else(|| py.failed())
}

/// `KvStore.put_many` for Python (FORMAT.md §5.1): the builtin `kv_put_many(handle, items)`
/// takes the caller's list of `(key, value)` pairs (tuples or lists of two) itself: keys `str`
/// (their UTF-8) or `bytes` (a subclass: its own data), values `bytes` itself (kind 0: raw in
/// every mode; subclasses and other values are the facade's to pack). Returns `True` when every
/// pair was stored in one transaction; the "failed" sentinel when the list holds anything else, or on any error, with
/// nothing stored (then take the general path, which packs other values or raises the typed
/// error). The write runs without the GIL, every key and value kept alive meanwhile.
unsafe extern "C" fn kv_put_many(_self: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut(); // never called before the table is registered
    };
    let mut kept: Vec<PyObj> = Vec::new();
    let stored = entry(None, || {
        let [h, list] = *pyobj::args::<2>(args, nargs)?;
        let kv = kv(u64::try_from(py.as_i64(h)?).ok()?)?;
        let pairs = py.list_items(list)?;
        let mut items = Vec::with_capacity(pairs.size_hint().0);
        for pair in pairs {
            let (k, v) = py.pair_items(pair)?;
            let key = if py.is_exact_bytes(k) {
                py.as_bytes(k)?
            } else {
                match py.as_utf8(k) {
                    Some(utf8) => utf8,
                    None => py.as_bytes(k)?, // a bytes subclass: its own data
                }
            };
            if !py.is_exact_bytes(v) {
                return None;
            }
            let payload = py.as_bytes(v)?;
            for obj in [k, v] {
                py.keep(obj);
                kept.push(obj);
            }
            items.push(crate::ffi::packed::Item {
                kind: codec::KIND_RAW,
                key,
                payload,
            });
        }
        let _gil = py.unlock();
        kv.put_many_items(&items).ok()
    });
    for obj in kept {
        py.release(obj);
    }
    match stored {
        Some(()) => py.boolean(true),
        None => py.failed(),
    }
}

static BUILTINS: [MethodDef; 3] = [
    MethodDef::new(c"kv_get", kv_get),
    MethodDef::new(c"kv_stream_read", kv_stream_read),
    MethodDef::new(c"kv_put_many", kv_put_many),
];

/// KVault's builtins for Python (FORMAT.md §5.1): the tuple `(kv_get, kv_stream_read,
/// kv_put_many)`, a new reference;
/// called through `ctypes.PyDLL` with `restype = py_object` after `kohakuvault_py_init`.
///
/// # Safety
/// The calling thread must hold the GIL.
#[no_mangle]
pub unsafe extern "C" fn kv_fast_builtins() -> PyObj {
    pyobj::builtins(&BUILTINS)
}

/// `KvStore.put(key, kind, payload)` without a uniffi call; int-sized arguments only, like
/// `kv_fast_get`. 0 when stored (committed, or admitted to the write-back cache exactly as the
/// UDL call would); -1 on any error, nothing stored (then make the UDL call for the typed
/// error, retrying as it does).
///
/// # Safety
/// `key` must point to `key_len` readable bytes and `payload` to `payload_len`.
#[no_mangle]
pub unsafe extern "C" fn kv_fast_put(
    handle: u32,
    key: *const u8,
    key_len: i32,
    kind: i32,
    payload: *const u8,
    payload_len: i32,
) -> i32 {
    entry(-1, || {
        let Some(kv) = kv(handle as u64) else {
            return -1;
        };
        let (Ok(key_len), Ok(payload_len), Ok(kind)) = (
            usize::try_from(key_len),
            usize::try_from(payload_len),
            u8::try_from(kind),
        ) else {
            return -1;
        };
        let (Some(key), Some(payload)) = (bytes_arg(key, key_len), bytes_arg(payload, payload_len))
        else {
            return -1;
        };
        match kv.put_value(key, kind, payload) {
            Ok(()) => 0,
            Err(_) => -1,
        }
    })
}

/// `KvStore.get_many` as a page of Python objects (FORMAT.md §4.1) in this thread's page
/// buffer, with the UDL call's arguments: `key_lens` (u32 LE each) over the concatenated `keys`,
/// `decoded` 0 for stored bytes. 0 ok (`*out`, `*out_len` = the page, valid until this thread's
/// next page call); -1 error.
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
    entry(-1, || {
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
    })
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
    entry(-1, || {
        let Some(inner) = kv(handle) else { return -1 };
        let (Some(prefix), Some(after)) = (
            opt_bytes_arg(prefix, prefix_len),
            opt_bytes_arg(after, after_len),
        ) else {
            return -1;
        };
        let store = KvStore { inner };
        with_page(out, out_len, |page| {
            let mut sink = PyPage::begin(page);
            let end = store.scan_into(
                &ScanSpec {
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
    })
}

/// `GetStream.read` into a caller buffer: bytes copied, 0 at the end, -1 error.
///
/// # Safety
/// `buf` must point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kv_fast_stream_read(handle: u64, buf: *mut u8, cap: usize) -> i64 {
    entry(-1, || {
        let Some(s) = lookup::<GetStream>(handle) else {
            return -1;
        };
        if buf.is_null() || cap == 0 {
            return 0;
        }
        let out = std::slice::from_raw_parts_mut(buf, cap);
        match s.read_into(out) {
            Ok(n) => n as i64,
            Err(_) => -1,
        }
    })
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
    fn get_codes() {
        let kv = store();
        kv.put(b"raw", 0, b"hello").unwrap();
        kv.put(b"int", 16, &[5]).unwrap();
        let h = kv.fast_handle() as u32;
        let mut buf = [0u8; 8];
        let get_with = |key: &[u8], buf: &mut [u8], flags: i32| unsafe {
            kv_fast_get(
                h,
                key.as_ptr(),
                key.len() as i32,
                buf.as_mut_ptr(),
                buf.len() as i32,
                flags,
            )
        };
        let get = |key: &[u8], buf: &mut [u8]| get_with(key, buf, 0);
        assert_eq!(get(b"raw", &mut buf), 5 << 8);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(get(b"int", &mut buf), (8 << 8) | 16);
        assert_eq!(buf, 5i64.to_le_bytes());
        assert_eq!(get(b"nope", &mut buf), -2);
        // Stored mode (auto-pack off): the stored bytes, header included, as kind 0.
        let mut big = [0u8; 32];
        let stored = kv.get_stored(b"int").unwrap().unwrap();
        let r = get_with(b"int", &mut big, GET_STORED);
        assert_eq!(r, (stored.len() as i64) << 8);
        assert_eq!(&big[..stored.len()], stored.as_slice());
        assert_eq!(get_with(b"raw", &mut buf, GET_STORED), 5 << 8);
        assert_eq!(get_with(b"nope", &mut buf, GET_STORED), -2);
        assert_eq!(get(b"raw", &mut buf[..4]), -3 - 5);
        assert_eq!(
            unsafe { kv_fast_get(h, b"k".as_ptr(), -1, buf.as_mut_ptr(), 8, 0) },
            -1
        );
        assert_eq!(
            unsafe { kv_fast_get(0, b"k".as_ptr(), 1, buf.as_mut_ptr(), 8, 0) },
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
        crate::fastpath::kohakuvault_fast_release();
    }
}
