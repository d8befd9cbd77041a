//! ColumnVault's C fast path (docs/FORMAT.md §5): bulk reads straight into a caller buffer (a
//! numpy array, a JVM direct buffer), so large reads cost one copy out of SQLite's pages and no
//! per-byte conversion. An optimisation of `ColumnStore.read_rows` with the same meaning.

use crate::fastpath::{advise_huge, bytes_arg, entry, lookup, with_page, with_scratch};
use crate::ffi::pyobj::{self, MethodDef, Py, PyObj};

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
        advise_huge(out);
        let store = ColumnStore { inner };
        match store.read_rows_into(col_id, start, count, out) {
            Ok(()) => cap as i64,
            Err(_) => -1,
        }
    })
}

/// `ColumnStore.append_rows(col_id, data)` straight from a caller buffer (a numpy array's or a
/// JVM direct buffer's memory: no copy into a uniffi buffer), for a column without a cache in
/// the core. 0 when committed; 1 when the column is cached (nothing done: make the UDL call,
/// which applies the cache); -1 on any error, nothing stored (make the UDL call for the typed
/// error).
///
/// # Safety
/// `data` must point to `len` readable bytes that stay unchanged during the call.
#[no_mangle]
pub unsafe extern "C" fn col_fast_append(
    handle: u64,
    col_id: i64,
    data: *const u8,
    len: usize,
) -> i32 {
    entry(-1, || {
        let Some(inner) = lookup::<ColInner>(handle) else {
            return -1;
        };
        let Some(data) = bytes_arg(data, len) else {
            return -1;
        };
        match (ColumnStore { inner }).append_rows_uncached(col_id, data) {
            Ok(Some(())) => 0,
            Ok(None) => 1,
            Err(_) => -1,
        }
    })
}

/// Variable-width rows `[start, start + count)` as a page of Python objects (docs/FORMAT.md
/// §4.1) in this thread's page buffer: `str` (text), `bytes` (bytes) or decoded values
/// (DataPacker columns). An optimisation of `ColumnStore.read_var_rows` / `read_values`.
/// 0 and the page in `*out` / `*out_len` (valid until this thread's next page call), -1 error.
///
/// # Safety
/// `out` and `out_len` must be writable.
#[no_mangle]
pub unsafe extern "C" fn col_fast_rows_page(
    handle: u64,
    col_id: i64,
    start: u64,
    count: u64,
    out: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    entry(-1, || {
        let Some(inner) = lookup::<ColInner>(handle) else {
            return -1;
        };
        let store = ColumnStore { inner };
        with_page(out, out_len, |page| {
            store.rows_page_into(col_id, start, count, page)
        })
    })
}

/// `ColumnStore.length(col_id)` (committed plus pending rows), or -1 on any error. Lets a facade
/// normalise an index or a slice without a uniffi call.
#[no_mangle]
pub extern "C" fn col_fast_len(handle: u64, col_id: i64) -> i64 {
    entry(-1, || {
        let Some(inner) = lookup::<ColInner>(handle) else {
            return -1;
        };
        let store = ColumnStore { inner };
        match store.length(col_id) {
            Ok(n) => i64::try_from(n).unwrap_or(-1),
            Err(_) => -1,
        }
    })
}

/// `ColumnStore.read_var_rows(col_id, start, count)` for Python (docs/FORMAT.md §5.1): called
/// through `ctypes.PyDLL` with `restype = py_object`, the GIL held; the read runs without it.
/// Returns a new reference: `(data, offsets)` as two `bytes` (the UDL's `VarRows`), the
/// "failed" sentinel on any error (then make the UDL call for the typed error), or null with a
/// Python exception set (out of memory).
///
/// # Safety
/// The calling thread must hold the GIL, after `kohakuvault_py_init`.
#[no_mangle]
pub unsafe extern "C" fn col_fast_var_rows_py(
    handle: u64,
    col_id: i64,
    start: u64,
    count: u64,
) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut(); // never bound before the table is registered
    };
    let rows = entry(None, || {
        let inner = lookup::<ColInner>(handle)?;
        let _gil = py.unlock();
        ColumnStore { inner }
            .read_var_rows(col_id, start, count)
            .ok()
    });
    match rows {
        Some(r) => py.pair(py.bytes(&r.data), py.bytes(&r.offsets)),
        None => py.failed(),
    }
}

/// The builtin `col_list(handle, col_id, start, count)` (docs/FORMAT.md §5.1): rows
/// `[start, start + count)` of a scalar column as a new list of Python `int` / `float` / `bool`
/// (what `ndarray.tolist()` of `read_array` gives), built by the core from one read into this
/// thread's scratch buffer (run without the GIL). The "failed" sentinel on any error and for
/// layouts it does not build (tensors, `f16`): then the facade takes its other path.
unsafe extern "C" fn col_list(_self: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut(); // never called before the table is registered
    };
    let built = entry(None, || {
        let [h, col, start, count] = *pyobj::args::<4>(args, nargs)?;
        let h = u64::try_from(py.as_i64(h)?).ok()?;
        let col = py.as_i64(col)?;
        let start = u64::try_from(py.as_i64(start)?).ok()?;
        let count = u64::try_from(py.as_i64(count)?).ok()?;
        let inner = lookup::<ColInner>(h)?;
        with_scratch(|buf| {
            let mut gil = py.unlock();
            let elem = (ColumnStore { inner })
                .read_scalars_into(col, start, count, buf)
                .ok()?;
            gil.relock();
            scalars_list(py, elem, buf)
        })
    });
    built.unwrap_or_else(|| py.failed())
}

/// The little-endian scalars of dtype `elem` in `b` as a Python list (None for dtypes built
/// elsewhere: f16).
///
/// # Safety
/// The GIL must be held.
unsafe fn scalars_list(py: Py, elem: u8, b: &[u8]) -> Option<PyObj> {
    fn each<const W: usize>(b: &[u8], i: usize) -> [u8; W] {
        b[i * W..(i + 1) * W].try_into().expect("whole rows")
    }
    let n = |w: usize| b.len() / w;
    Some(match elem {
        0x0B => py.list(n(1), |i| py.boolean(b[i] != 0)),
        0x09 => py.list(n(1), |i| py.int(b[i] as i8 as i64)),
        0x0A => py.list(n(2), |i| py.int(i16::from_le_bytes(each(b, i)) as i64)),
        0x03 => py.list(n(4), |i| py.int(i32::from_le_bytes(each(b, i)) as i64)),
        0x04 => py.list(n(8), |i| py.int(i64::from_le_bytes(each(b, i)))),
        0x05 => py.list(n(1), |i| py.int(b[i] as i64)),
        0x06 => py.list(n(2), |i| py.int(u16::from_le_bytes(each(b, i)) as i64)),
        0x07 => py.list(n(4), |i| py.int(u32::from_le_bytes(each(b, i)) as i64)),
        0x08 => py.list(n(8), |i| py.uint(u64::from_le_bytes(each(b, i)))),
        0x01 => py.list(n(4), |i| py.float(f32::from_le_bytes(each(b, i)) as f64)),
        0x02 => py.list(n(8), |i| py.float(f64::from_le_bytes(each(b, i)))),
        _ => return None,
    })
}

/// The builtin `col_append_text(handle, col_id, values)` (docs/FORMAT.md §5.1): appends a
/// `list` of `str` to a text column without a cache in the core, in one transaction (the
/// texts' UTF-8 is copied out with the GIL held; the append runs without it). `0` committed,
/// `1` the column is cached (nothing done: take the UDL path, which applies the cache), `-1`
/// any error with nothing stored; "failed" when an item is not a `str` (or has lone
/// surrogates) or the arguments are wrong (nothing done). Either way the facade then makes
/// its usual call, which raises the typed error.
unsafe extern "C" fn col_append_text(_self: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut(); // never called before the table is registered
    };
    let code = entry(None, || {
        let [h, col, values] = *pyobj::args::<3>(args, nargs)?;
        let h = u64::try_from(py.as_i64(h)?).ok()?;
        let col = py.as_i64(col)?;
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for item in py.list_items(values)? {
            data.extend_from_slice(py.as_utf8(item)?);
            ends.push(data.len());
        }
        let inner = lookup::<ColInner>(h)?;
        let _gil = py.unlock();
        let mut start = 0;
        let texts: Vec<&[u8]> = ends
            .iter()
            .map(|&end| {
                let t = &data[start..end];
                start = end;
                t
            })
            .collect();
        Some(
            match (ColumnStore { inner }).append_text_uncached(col, &texts) {
                Ok(Some(())) => 0,
                Ok(None) => 1,
                Err(_) => -1,
            },
        )
    });
    match code {
        Some(c) => py.int(c),
        None => py.failed(),
    }
}

static BUILTINS: [MethodDef; 2] = [
    MethodDef::new(c"col_list", col_list),
    MethodDef::new(c"col_append_text", col_append_text),
];

/// ColumnVault's builtins for Python (FORMAT.md §5.1): the tuple `(col_list, col_append_text)`, a new
/// reference; called through `ctypes.PyDLL` with `restype = py_object` after
/// `kohakuvault_py_init`.
///
/// # Safety
/// The calling thread must hold the GIL.
#[no_mangle]
pub unsafe extern "C" fn col_fast_builtins() -> PyObj {
    pyobj::builtins(&BUILTINS)
}
