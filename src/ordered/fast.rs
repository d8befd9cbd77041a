//! The C fast path of the ordered containers (docs/FORMAT.md §9.4): single-key operations of
//! `OrderedStore` with int-sized arguments only, an optimisation of the UDL methods of the same
//! names. -1 on any error; the caller then makes the UDL call for the typed error.

use crate::fastpath::{bytes_arg, entry, lookup, opt_bytes_arg, with_page};
use crate::ffi::pyobj::{self, MethodDef, Py, PyObj};

use super::key::Key;
use super::store::{Neighbor, OrderedRange, OrderedStore, PageKey};
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

// ---- builtins for Python (FORMAT.md §5.1, §9.4) -------------------------------------------
// The single-key entry points above as Python builtin functions taking Python ints and bytes:
// `(handle, key[, value handle])` for int keys, `(handle, kind, key[, value handle])` for the
// others (kind 1: a str key; 0 and 2: bytes of an encoding or a bytes key). They run without the GIL (a host key's comparison calls back into Python)
// and return the entry point's result as an int; -1 also for arguments they cannot take.

/// Parses the handle and (with `parse`) the key's arguments, then runs `run` without the GIL.
unsafe fn builtin_call<const N: usize, A>(
    args: *const PyObj,
    nargs: isize,
    parse: impl FnOnce(Py, &[PyObj; N]) -> Option<A>,
    run: impl FnOnce(u32, A) -> i64,
) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut(); // never called before the table is registered
    };
    let r = pyobj::args::<N>(args, nargs)
        .and_then(|a| {
            let h = u32::try_from(py.as_i64(a[0])?).ok()?;
            let parsed = parse(py, a)?;
            let _gil = py.unlock();
            Some(run(h, parsed))
        })
        .unwrap_or(-1);
    py.int(r)
}

/// The int key (and value handle) of an int-keyed builtin's arguments.
unsafe fn int_args(py: Py, a: &[PyObj]) -> Option<(i32, i32, i64)> {
    let k = py.as_i64(a[1])?;
    let v = match a.get(2) {
        Some(&v) => py.as_i64(v)?,
        None => 0,
    };
    Some((k as i32, (k >> 32) as i32, v))
}

/// The (kind, key bytes) (and value handle) of a keyed builtin's arguments: with kind 1 the key
/// is a `str` (its UTF-8), else `bytes`; borrowed from the caller's argument, alive for the
/// call.
unsafe fn key_args<'a>(py: Py, a: &[PyObj]) -> Option<(i32, &'a [u8], i64)> {
    let kind = i32::try_from(py.as_i64(a[1])?).ok()?;
    let b = key_bytes(py, kind, a[2])?;
    let v = match a.get(3) {
        Some(&v) => py.as_i64(v)?,
        None => 0,
    };
    Some((kind, b, v))
}

/// The bytes a key argument of `kind` stands for: a `str`'s UTF-8 (kind 1, the str itself),
/// else a `bytes`' contents; borrowed from `obj`, at most `i32::MAX` bytes.
unsafe fn key_bytes<'a>(py: Py, kind: i32, obj: PyObj) -> Option<&'a [u8]> {
    let b = if kind == KIND_STR {
        py.as_utf8(obj)?
    } else {
        py.as_bytes(obj)?
    };
    i32::try_from(b.len()).ok()?;
    Some(b)
}

macro_rules! int_builtin {
    ($name:ident, $fast:ident) => {
        unsafe extern "C" fn $name(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
            builtin_call::<2, _>(
                args,
                nargs,
                |py, a| int_args(py, a),
                |h, (lo, hi, _)| $fast(h, lo, hi),
            )
        }
    };
}

macro_rules! key_builtin {
    ($name:ident, $fast:ident) => {
        unsafe extern "C" fn $name(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
            builtin_call::<3, _>(
                args,
                nargs,
                |py, a| key_args(py, a),
                |h, (kind, b, _)| $fast(h, kind, b.as_ptr(), b.len() as i32),
            )
        }
    };
}

int_builtin!(get_int, ord_fast_get_int);
int_builtin!(contains_int, ord_fast_contains_int);
int_builtin!(remove_int, ord_fast_remove_int);
key_builtin!(get, ord_fast_get);
key_builtin!(contains, ord_fast_contains);
key_builtin!(remove, ord_fast_remove);

unsafe extern "C" fn insert_int(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin_call::<3, _>(
        args,
        nargs,
        |py, a| int_args(py, a),
        |h, (lo, hi, v)| ord_fast_insert_int(h, lo, hi, v as i32, (v >> 32) as i32),
    )
}

unsafe extern "C" fn insert(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin_call::<4, _>(
        args,
        nargs,
        |py, a| key_args(py, a),
        |h, (kind, b, v)| {
            ord_fast_insert(
                h,
                kind,
                b.as_ptr(),
                b.len() as i32,
                v as i32,
                (v >> 32) as i32,
            )
        },
    )
}

// ---- entries as Python objects (FORMAT.md §9.4) ------------------------------------------
// `ord_entries(h, vals, hosts, mode, lo_kind, lo, hi_kind, hi, limit)`: a range of the store as
// a list of Python objects built here, so a page never goes through bytes the facade decodes.
// `vals` and `hosts` are the facade's `handle -> value` and `handle -> host key` dicts (an
// entry whose handle one of them lacks left meanwhile: "failed", and the facade takes its
// general path); the core reads its entries without the GIL and builds the objects with it.

const WHAT_MASK: i64 = 3;
const WHAT_PAIRS: i64 = 0;
const WHAT_KEYS: i64 = 1;
const WHAT_VALUES: i64 = 2;
const LO_INCLUSIVE: i64 = 4;
const HI_INCLUSIVE: i64 = 8;
const REVERSE: i64 = 16;
const WITH_DONE: i64 = 32;
const BOUND_OPEN: i64 = -1;
const BOUND_INT: i64 = 3;

/// A bound `(kind, obj)`: -1 unbounded, 0 a key encoding (`bytes`), 1 a `str` key, 2 a
/// `bytes` key, 3 an `int` key within 64 bits. None when the arguments do not say a key.
unsafe fn bound_arg(
    py: Py,
    store: &OrderedStore,
    kind: i64,
    obj: PyObj,
) -> Option<Option<HostKey>> {
    Some(Some(match kind {
        BOUND_OPEN => return Some(None),
        BOUND_INT => HostKey::Native(Key::Int(py.as_i64(obj)?)),
        _ => {
            // Kinds 0-2 as the single-key builtins take them.
            let kind = i32::try_from(kind).ok()?;
            let b = key_bytes(py, kind, obj)?;
            key_arg(store, kind, b.as_ptr(), b.len() as i32)?
        }
    }))
}

/// Why building a result stopped: an exception is set, or an entry left meanwhile.
enum Stop {
    Raised,
    Left,
}

/// `obj`, or why it is null (`left`: no exception is set, the entry left).
fn built(obj: PyObj, left: bool) -> Result<PyObj, Stop> {
    match (obj.is_null(), left) {
        (false, _) => Ok(obj),
        (true, true) => Err(Stop::Left),
        (true, false) => Err(Stop::Raised),
    }
}

/// The Python object of a native key (a new reference, or null with an exception set).
unsafe fn native_obj(py: Py, k: &Key) -> PyObj {
    match k {
        Key::None => py.none(),
        Key::Bool(b) => py.boolean(*b),
        Key::Int(v) => py.int(*v),
        Key::Float(v) => py.float(*v),
        Key::Str(s) => py.str(s),
        Key::Bytes(b) => py.bytes(b),
        Key::Tuple(items) => py.tuple(items.len(), |i| native_obj(py, &items[i])),
    }
}

/// The Python object of a stored key: a host key is the facade's object in `hosts`.
unsafe fn key_obj(py: Py, k: &PageKey, hosts: PyObj) -> Result<PyObj, Stop> {
    match k {
        PageKey::Int(v) => built(py.int(*v), false),
        PageKey::Key(HostKey::Native(k)) => built(native_obj(py, k), false),
        PageKey::Key(HostKey::Host(h, _)) => built(py.dict_get_int(hosts, *h), true),
    }
}

/// The list `what` asks for (pairs, keys or values) of `entries`.
unsafe fn entries_list(
    py: Py,
    what: i64,
    entries: &[(PageKey, u64)],
    vals: PyObj,
    hosts: PyObj,
) -> Result<PyObj, Stop> {
    let mut stop = Stop::Raised;
    let list = py.list(entries.len(), |i| {
        let (k, v) = &entries[i];
        let item = match what {
            WHAT_KEYS => key_obj(py, k, hosts),
            WHAT_VALUES => built(py.dict_get_int(vals, *v), true),
            _ => key_obj(py, k, hosts).and_then(|key| {
                let val = py.dict_get_int(vals, *v);
                let left = val.is_null();
                built(py.pair(key, val), left)
            }),
        };
        item.unwrap_or_else(|why| {
            stop = why;
            std::ptr::null_mut()
        })
    });
    if list.is_null() {
        return Err(stop);
    }
    Ok(list)
}

/// `ord_entries`' work: None when its arguments are not ones it takes, an entry left
/// meanwhile or the core refused the range (the facade then takes its general path).
unsafe fn entries_of(py: Py, args: *const PyObj, nargs: isize) -> Option<PyObj> {
    let a = pyobj::args::<9>(args, nargs)?;
    let h = u32::try_from(py.as_i64(a[0])?).ok()?;
    let store = lookup::<OrderedStore>(h as u64)?;
    let mode = py.as_i64(a[3])?;
    let what = mode & WHAT_MASK;
    if !matches!(what, WHAT_PAIRS | WHAT_KEYS | WHAT_VALUES) {
        return None;
    }
    let start = bound_arg(py, &store, py.as_i64(a[4])?, a[5])?;
    let end = bound_arg(py, &store, py.as_i64(a[6])?, a[7])?;
    let range = OrderedRange {
        start: None,
        start_inclusive: mode & LO_INCLUSIVE != 0,
        end: None,
        end_inclusive: mode & HI_INCLUSIVE != 0,
        limit: u32::try_from(py.as_i64(a[8])?).ok()?,
        reverse: mode & REVERSE != 0,
    };
    let (entries, done) = {
        let _gil = py.unlock(); // a host key's comparison calls back into Python
        store.range_entries(&range, &start, &end).ok()?
    };
    let list = match entries_list(py, what, &entries, a[1], a[2]) {
        Ok(list) => list,
        Err(Stop::Raised) => return Some(std::ptr::null_mut()),
        Err(Stop::Left) => return None,
    };
    Some(if mode & WITH_DONE != 0 {
        py.pair(py.boolean(done), list)
    } else {
        list
    })
}

unsafe extern "C" fn entries(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut();
    };
    match entry(None, || entries_of(py, args, nargs)) {
        Some(obj) => obj,
        None => py.failed(),
    }
}

static BUILTINS: [MethodDef; 9] = [
    MethodDef::new(c"ord_get_int", get_int),
    MethodDef::new(c"ord_contains_int", contains_int),
    MethodDef::new(c"ord_remove_int", remove_int),
    MethodDef::new(c"ord_insert_int", insert_int),
    MethodDef::new(c"ord_get", get),
    MethodDef::new(c"ord_contains", contains),
    MethodDef::new(c"ord_remove", remove),
    MethodDef::new(c"ord_insert", insert),
    MethodDef::new(c"ord_entries", entries),
];

/// The ordered containers' builtins for Python (FORMAT.md §5.1): the tuple `(get_int,
/// contains_int, remove_int, insert_int, get, contains, remove, insert, entries)`, a new reference;
/// called through `ctypes.PyDLL` with `restype = py_object` after `kohakuvault_py_init`.
///
/// # Safety
/// The calling thread must hold the GIL.
#[no_mangle]
pub unsafe extern "C" fn ord_fast_builtins() -> PyObj {
    pyobj::builtins(&BUILTINS)
}
