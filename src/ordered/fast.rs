//! The C fast path of the ordered containers (docs/FORMAT.md §9.4): single-key operations of
//! `OrderedStore` with int-sized arguments only, an optimisation of the UDL methods of the same
//! names. -1 on any error; the caller then makes the UDL call for the typed error.

use crate::fastpath::{bytes_arg, entry, lookup, opt_bytes_arg, with_page};
use crate::ffi::pyobj::{self, ExactKind, MethodDef, Py, PyObj};
use crate::ffi::slots::{Held, Slots, Touch};

use super::key::Key;
use super::store::{Neighbor, OrderedRange, OrderedStore, SingleOp};
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

// ---- builtins for Python (FORMAT.md §5.1, §9.4, §9.5) ----------------------------------
// A Python facade's values are held here (`OrderedStore::py`, a slot table of `(key, value)`
// tuples, src/ffi/slots.rs) and its entries store their slots' handles. The builtins take and
// return Python objects: a get or a range reads handles without the GIL (a host key's
// comparison calls back into Python) and turns them into the held objects with it; a handle
// whose entry left meanwhile no longer names an object (its generation changed) and the read
// is repeated. An insert holds `(key, value)` first and stores the handle if the key is absent;
// a present entry keeps its slot (and its first key object): a CSBTree's replacement puts
// `(its key, new value)` into that slot. Only the call that took a handle out of the container
// (remove, clear, a batch) frees its slot, so a freed handle is never reused while an entry
// stores it.
//
// Results: the value or list asked for; "missing" (absent; for an insert: the key was new);
// "failed" for arguments a builtin does not take, a refused key or a race lost too often (the
// facade then makes its general call, which raises the typed error).

/// How often a read or insert is repeated when the entry it met left meanwhile.
const RETRIES: usize = 64;

/// The store behind a builtin's handle argument.
unsafe fn store_arg(py: Py, h: PyObj) -> Option<std::sync::Arc<OrderedStore>> {
    lookup::<OrderedStore>(u32::try_from(py.as_i64(h)?).ok()? as u64)
}

/// Runs a builtin's body: `body` gives None for "failed"; a panic is "failed" too.
unsafe fn builtin<const N: usize>(
    args: *const PyObj,
    nargs: isize,
    body: impl FnOnce(Py, &OrderedStore, &[PyObj; N]) -> Option<PyObj>,
) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut(); // never called before the table is registered
    };
    let r = entry(None, || {
        let a = pyobj::args::<N>(args, nargs)?;
        let store = store_arg(py, a[0])?;
        body(py, &store, a)
    });
    r.unwrap_or_else(|| py.failed())
}

/// The key of an int builtin's argument (an `int` within 64 bits).
unsafe fn int_key_arg(py: Py, obj: PyObj) -> Option<HostKey> {
    Some(HostKey::Native(Key::Int(py.as_i64(obj)?)))
}

/// The key of a keyed builtin's `(kind, key)` arguments: kind 1 a `str`, 2 a `bytes` key,
/// 0 a key encoding (`bytes`).
unsafe fn kind_key_arg(py: Py, store: &OrderedStore, kind: PyObj, obj: PyObj) -> Option<HostKey> {
    let kind = i32::try_from(py.as_i64(kind)?).ok()?;
    let b = key_bytes(py, kind, obj)?;
    key_arg(store, kind, b.as_ptr(), b.len() as i32)
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

/// A new reference to item `i` of the held tuple `t` (key 0, value 1).
unsafe fn part(py: Py, t: PyObj, i: isize) -> Option<PyObj> {
    let x = py.item(t, i);
    (!x.is_null()).then(|| py.share(x))
}

/// A new `(key, value)` tuple to hold, with its items as its parts (None with an exception
/// set), out of the cycle collector's sight when it cannot be part of a cycle
/// ([`Py::untrack_atomic`]).
unsafe fn held_pair(py: Py, key: PyObj, value: PyObj) -> Option<Held> {
    pair_of(py, py.share(key), py.share(value))
}

/// [`held_pair`] of two new references (taken over, also on failure).
unsafe fn pair_of(py: Py, key: PyObj, value: PyObj) -> Option<Held> {
    let t = py.pair(key, value);
    if t.is_null() {
        return None;
    }
    py.untrack_atomic(t, &[key, value]);
    Some(Held {
        obj: t,
        parts: [key, value], // the tuple's own references: alive while it is
    })
}

/// A single-key operation on the store: with the GIL held when the container can answer at
/// once (a host key's comparison then calls back into Python on this thread, which holds the
/// GIL already), else with the GIL released while it waits, so a thread holding the GIL never
/// waits for a lock whose holder may need the GIL. Saves releasing and taking the GIL back.
unsafe fn single(py: Py, store: &OrderedStore, op: SingleOp<'_>) -> Option<u64> {
    match store.try_single(op) {
        Ok(r) => r.ok(),
        Err(op) => unlocked(py, || store.run_single(op)).ok(),
    }
}

/// `op` on the store without the GIL.
unsafe fn unlocked<R>(py: Py, op: impl FnOnce() -> R) -> R {
    let _gil = py.unlock();
    op()
}

/// The value of `k`: the held value, "missing", or None (refused, or raced too often).
unsafe fn get_value(py: Py, store: &OrderedStore, k: &HostKey) -> Option<PyObj> {
    for _ in 0..RETRIES {
        let h = single(py, store, SingleOp::Get(k))?;
        if h == 0 {
            return Some(py.missing());
        }
        if let Some(t) = store.py.get(h) {
            return Some(py.share(t.parts[1]));
        }
        // The entry left meanwhile: ask again.
    }
    None
}

/// The value of the entry `remove` took out of the container (its slot is freed), or
/// "missing" when there was none.
unsafe fn removed_value(py: Py, store: &OrderedStore, h: u64) -> Option<PyObj> {
    if h == 0 {
        return Some(py.missing());
    }
    let t = store.py.take(h)?;
    let v = part(py, t, 1);
    py.release(t);
    v
}

/// What became of an insert of the held `(key, value)` `h` that found the handle `r`
/// present (0: `h` is stored now).
enum Settled {
    /// The key was new.
    New,
    /// The present value (a new reference): kept (insert-if-absent) or replaced.
    Prev(PyObj),
    /// The present entry left meanwhile (nothing changed; `h` is freed): try again.
    Stale,
}

/// Settles an insert (see [`Settled`]); with `replace` a present entry gets `h`'s value in its
/// own slot (keeping its first key). None when building the new tuple failed (exception set).
unsafe fn settle(py: Py, slots: &Slots, h: u64, r: u64, replace: bool) -> Option<Settled> {
    if r == 0 {
        return Some(Settled::New);
    }
    let mine = slots.take(h);
    let out = settle_present(py, slots, mine, r, replace);
    if let Some(m) = mine {
        py.release(m);
    }
    out
}

unsafe fn settle_present(
    py: Py,
    slots: &Slots,
    mine: Option<PyObj>,
    r: u64,
    replace: bool,
) -> Option<Settled> {
    let Some(old) = slots.get(r) else {
        return Some(Settled::Stale);
    };
    if !replace {
        return Some(Settled::Prev(py.share(old.parts[1])));
    }
    let key = py.share(old.parts[0]); // kept before allocating (a GC run may free `old`)
    let value = mine.and_then(|m| part(py, m, 1));
    let Some(value) = value else {
        py.release(key);
        return None;
    };
    let t = pair_of(py, key, value)?;
    match slots.replace(r, t) {
        Ok(prev) => {
            let v = part(py, prev, 1);
            py.release(prev);
            v.map(Settled::Prev)
        }
        Err(t) => {
            py.release(t);
            Some(Settled::Stale)
        }
    }
}

/// Inserts `key_obj -> value` under the key `k` (parsed from `key_obj` by `key`): the
/// previous value (replaced, or kept without `replace`), "missing" for a new key, None for
/// "failed".
unsafe fn insert_value(
    py: Py,
    store: &OrderedStore,
    key_obj: PyObj,
    value: PyObj,
    replace: bool,
    key: impl Fn() -> Option<HostKey>,
) -> Option<PyObj> {
    for _ in 0..RETRIES {
        let k = key()?;
        let Some(t) = held_pair(py, key_obj, value) else {
            return Some(std::ptr::null_mut());
        };
        let h = store.py.hold(t);
        match single(py, store, SingleOp::InsertIfAbsent(k, h)) {
            Some(r) => match settle(py, &store.py, h, r, replace) {
                Some(Settled::New) => return Some(py.missing()),
                Some(Settled::Prev(v)) => return Some(v),
                Some(Settled::Stale) => continue,
                None => return Some(std::ptr::null_mut()),
            },
            None => {
                if let Some(t) = store.py.take(h) {
                    py.release(t);
                }
                return None;
            }
        }
    }
    None
}

fn flag(py: Py, obj: PyObj) -> Option<bool> {
    // SAFETY: builtins call this with the GIL held on their own live arguments.
    unsafe { py.as_i64(obj).map(|v| v != 0) }
}

unsafe extern "C" fn get_int(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<2>(args, nargs, |py, s, a| {
        get_value(py, s, &int_key_arg(py, a[1])?)
    })
}

unsafe extern "C" fn get(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<3>(args, nargs, |py, s, a| {
        get_value(py, s, &kind_key_arg(py, s, a[1], a[2])?)
    })
}

unsafe extern "C" fn contains_int(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<2>(args, nargs, |py, s, a| {
        let k = int_key_arg(py, a[1])?;
        let found = single(py, s, SingleOp::Contains(&k))?;
        Some(py.boolean(found != 0))
    })
}

unsafe extern "C" fn contains(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<3>(args, nargs, |py, s, a| {
        let k = kind_key_arg(py, s, a[1], a[2])?;
        let found = single(py, s, SingleOp::Contains(&k))?;
        Some(py.boolean(found != 0))
    })
}

unsafe extern "C" fn remove_int(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<2>(args, nargs, |py, s, a| {
        let k = int_key_arg(py, a[1])?;
        let h = single(py, s, SingleOp::Remove(&k))?;
        removed_value(py, s, h)
    })
}

unsafe extern "C" fn remove(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<3>(args, nargs, |py, s, a| {
        let k = kind_key_arg(py, s, a[1], a[2])?;
        let h = single(py, s, SingleOp::Remove(&k))?;
        removed_value(py, s, h)
    })
}

/// `(h, key, value, replace)`.
unsafe extern "C" fn insert_int(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<4>(args, nargs, |py, s, a| {
        let replace = flag(py, a[3])?;
        int_key_arg(py, a[1])?;
        insert_value(py, s, a[1], a[2], replace, || int_key_arg(py, a[1]))
    })
}

/// `(h, kind, key, value, replace)` for kinds 1 (str) and 2 (bytes): the key object is
/// stored as given.
unsafe extern "C" fn insert(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<5>(args, nargs, |py, s, a| {
        let replace = flag(py, a[4])?;
        let kind = py.as_i64(a[1])?;
        if kind != KIND_STR as i64 && kind != KIND_BYTES as i64 {
            return None;
        }
        kind_key_arg(py, s, a[1], a[2])?;
        insert_value(py, s, a[2], a[3], replace, || {
            kind_key_arg(py, s, a[1], a[2])
        })
    })
}

// ---- ranges as lists (FORMAT.md §9.4) ------------------------------------------------------
// `ord_entries(h, mode, lo_kind, lo, hi_kind, hi, limit)`: a range as a list of the held
// tuples, keys or values ("failed" when an entry left between reading its handle and building
// the list: the facade's general path then reads the range again).

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

/// From how many handles [`held_parts`] reads the slot table in its own order.
const TABLE_ORDER_MIN: usize = 4096;

/// New references to what `what` asks of each live held tuple of `handles` (pairs: the
/// tuples, keys, values), in `handles` order; 0 gives `zero` when set. `false` when a handle
/// names nothing (its entry left meanwhile): the list then holds only the others.
unsafe fn held_parts(
    py: Py,
    slots: &Slots,
    handles: &[u64],
    what: i64,
    zero: Option<PyObj>,
) -> (Vec<PyObj>, bool) {
    let mut out = vec![std::ptr::null_mut(); handles.len()];
    let mut all = true;
    let touch = match what {
        WHAT_PAIRS => Touch::Obj,
        WHAT_KEYS => Touch::Part(0),
        _ => Touch::Part(1),
    };
    let f = |i: usize, t: Option<Held>| match t {
        // An incref runs no Python code.
        Some(t) => out[i] = py.share(t.pick(touch)),
        None => match zero {
            Some(z) if handles[i] == 0 => out[i] = py.share(z),
            _ => all = false,
        },
    };
    if handles.len() >= TABLE_ORDER_MIN {
        slots.get_each_in_table_order(handles, f);
    } else {
        slots.get_each(handles, touch, f);
    }
    if !all {
        out.retain(|o| !o.is_null());
    }
    (out, all)
}

/// The list of [`held_parts`], or None when a handle named nothing (the references are
/// released).
unsafe fn held_list(
    py: Py,
    slots: &Slots,
    handles: &[u64],
    what: i64,
    zero: Option<PyObj>,
) -> Option<PyObj> {
    let (objs, all) = held_parts(py, slots, handles, what, zero);
    if !all {
        for o in objs {
            py.release(o);
        }
        return None;
    }
    Some(py.list_of(objs))
}

unsafe extern "C" fn entries(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<7>(args, nargs, |py, store, a| {
        let mode = py.as_i64(a[1])?;
        let what = mode & WHAT_MASK;
        if !matches!(what, WHAT_PAIRS | WHAT_KEYS | WHAT_VALUES) {
            return None;
        }
        let start = bound_arg(py, store, py.as_i64(a[2])?, a[3])?;
        let end = bound_arg(py, store, py.as_i64(a[4])?, a[5])?;
        let range = OrderedRange {
            start: None,
            start_inclusive: mode & LO_INCLUSIVE != 0,
            end: None,
            end_inclusive: mode & HI_INCLUSIVE != 0,
            limit: u32::try_from(py.as_i64(a[6])?).ok()?,
            reverse: mode & REVERSE != 0,
        };
        let (list, done) = range_list(py, store, &range, &start, &end, what)?;
        Some(if mode & WITH_DONE != 0 {
            py.pair(py.boolean(done), list)
        } else {
            list
        })
    })
}

/// The list of what `what` asks of each entry of `range` between `start` and `end`, and
/// whether no more entries follow; None when an entry left between reading its handle and
/// building the list (the facade's general path repeats what it must).
unsafe fn range_list(
    py: Py,
    store: &OrderedStore,
    range: &OrderedRange,
    start: &Option<HostKey>,
    end: &Option<HostKey>,
    what: i64,
) -> Option<(PyObj, bool)> {
    let (handles, done) = unlocked(py, || store.range_handles(range, start, end)).ok()?;
    Some((held_list(py, &store.py, &handles, what, None)?, done))
}

// ---- the slot table for the facade's general calls (FORMAT.md §9.5) -----------------------
// The UDL calls (host keys, batches of other keys, counts) take and return handles; these
// builtins turn objects into held handles and back.

/// u64 LE handles of a `bytes` argument.
unsafe fn handles_arg(py: Py, obj: PyObj) -> Option<Vec<u64>> {
    super::wire::handles_of(py.as_bytes(obj)?).ok()
}

/// `(h, key, value)` -> the handle of the held `(key, value)` (an int).
unsafe extern "C" fn hold(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<3>(args, nargs, |py, s, a| {
        let Some(t) = held_pair(py, a[1], a[2]) else {
            return Some(std::ptr::null_mut());
        };
        Some(py.uint(s.py.hold(t)))
    })
}

/// New `(key, value)` tuples of the pairs `keys[i], values[i]` (borrowed objects; a tuple
/// takes its own references), or None with an exception set (the tuples made are released).
unsafe fn pair_tuples(py: Py, keys: &[PyObj], values: &[PyObj]) -> Option<Vec<Held>> {
    let mut tuples: Vec<Held> = Vec::with_capacity(keys.len());
    for (&k, &v) in keys.iter().zip(values) {
        let Some(t) = held_pair(py, k, v) else {
            for t in tuples {
                py.release(t.obj);
            }
            return None;
        };
        tuples.push(t);
    }
    Some(tuples)
}

/// References of their own to `objs` while a builtin uses them (a GC run while tuples are
/// allocated, or another thread while the GIL is released, may change the lists they came
/// from); released on drop.
struct Kept<'p> {
    py: Py,
    objs: &'p [PyObj],
}

impl<'p> Kept<'p> {
    unsafe fn new(py: Py, objs: &'p [PyObj]) -> Self {
        for &o in objs {
            py.keep(o);
        }
        Kept { py, objs }
    }
}

impl Drop for Kept<'_> {
    fn drop(&mut self) {
        for &o in self.objs {
            // SAFETY: the references taken in `new`, released with the GIL still held (a
            // builtin's body never drops a Kept while the GIL is released).
            unsafe { self.py.release(o) };
        }
    }
}

/// `(h, keys, values)` (two lists of one length) -> the handles of the held pairs (`bytes`,
/// u64 LE).
unsafe extern "C" fn hold_all(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<3>(args, nargs, |py, s, a| {
        let keys: Vec<PyObj> = py.list_items(a[1])?.collect();
        let values: Vec<PyObj> = py.list_items(a[2])?.collect();
        if keys.len() != values.len() {
            return None;
        }
        let _k = Kept::new(py, &keys);
        let _v = Kept::new(py, &values);
        let Some(tuples) = pair_tuples(py, &keys, &values) else {
            return Some(std::ptr::null_mut());
        };
        let mut handles = Vec::with_capacity(tuples.len());
        s.py.hold_all(&tuples, &mut handles);
        Some(py.bytes(&super::wire::handles_bytes(handles.into_iter())))
    })
}

/// `(h, handle, found, replace)`: settles an insert of the held `handle` that the container
/// answered with `found` -> "missing" (new), the previous value, or "failed" (the present
/// entry left meanwhile: `handle` is freed, insert again).
unsafe extern "C" fn settle_one(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<4>(args, nargs, |py, s, a| {
        let h = py.as_i64(a[1])? as u64;
        let r = py.as_i64(a[2])? as u64;
        let replace = flag(py, a[3])?;
        match settle(py, &s.py, h, r, replace) {
            Some(Settled::New) => Some(py.missing()),
            Some(Settled::Prev(v)) => Some(v),
            Some(Settled::Stale) => None,
            None => Some(std::ptr::null_mut()),
        }
    })
}

/// `(h, handles, found, replace)`: [`settle_one`] for a batch (`found` may be shorter: the
/// items applied) -> a list: None for a new key, the previous value, or "failed" for an item
/// whose present entry left meanwhile (its handle is freed).
unsafe extern "C" fn settle_all(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<4>(args, nargs, |py, s, a| {
        let handles = handles_arg(py, a[1])?;
        let found = handles_arg(py, a[2])?;
        let replace = flag(py, a[3])?;
        if found.len() > handles.len() {
            return None;
        }
        let mut out = Vec::with_capacity(found.len());
        for (&h, &r) in handles.iter().zip(&found) {
            let x = match settle(py, &s.py, h, r, replace) {
                Some(Settled::New) => py.none(),
                Some(Settled::Prev(v)) => v,
                Some(Settled::Stale) => py.failed(),
                None => std::ptr::null_mut(),
            };
            if x.is_null() {
                for o in out {
                    py.release(o);
                }
                return Some(x);
            }
            out.push(x);
        }
        Some(py.list_of(out))
    })
}

/// `(h, handle)` -> the value of the held `handle` (its slot is freed), or "missing".
unsafe extern "C" fn take(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<2>(args, nargs, |py, s, a| {
        let h = py.as_i64(a[1])? as u64;
        Some(match s.py.take(h) {
            Some(t) => {
                let v = part(py, t, 1);
                py.release(t);
                v?
            }
            None => py.missing(),
        })
    })
}

/// The values of the held `handles`, their slots freed (None for 0 and for a handle that
/// names nothing).
unsafe fn taken_values(py: Py, slots: &Slots, handles: &[u64]) -> Vec<PyObj> {
    let tuples = slots.take_all(handles);
    let out = tuples
        .iter()
        .map(|t| match t {
            Some(t) => part(py, *t, 1).unwrap_or_else(|| py.none()),
            None => py.none(),
        })
        .collect();
    for t in tuples.into_iter().flatten() {
        py.release(t);
    }
    out
}

/// `(h, handles)` -> the values of the held `handles` (their slots are freed; None for 0).
unsafe extern "C" fn take_all(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<2>(args, nargs, |py, s, a| {
        let handles = handles_arg(py, a[1])?;
        Some(py.list_of(taken_values(py, &s.py, &handles)))
    })
}

/// `(h, handle)` -> the value of the held `handle`, or "missing" (it names no held object).
unsafe extern "C" fn value(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<2>(args, nargs, |py, s, a| {
        let h = py.as_i64(a[1])? as u64;
        Some(match s.py.get(h) {
            Some(t) => py.share(t.parts[1]),
            None => py.missing(),
        })
    })
}

/// `(h, handles, default)` -> the values of `handles` (`default` for 0), or "failed" when one
/// names no held object (its entry left meanwhile).
unsafe extern "C" fn values(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<3>(args, nargs, |py, s, a| {
        let handles = handles_arg(py, a[1])?;
        held_list(py, &s.py, &handles, WHAT_VALUES, Some(a[2]))
    })
}

/// `(h,)` -> how many objects the table holds.
unsafe extern "C" fn held(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<1>(args, nargs, |py, s, _| Some(py.uint(s.py.len() as u64)))
}

/// `(h,)` -> None: releases every held object (the facade is going away; the entries keep
/// handles that name nothing).
unsafe extern "C" fn release(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<1>(args, nargs, |py, s, _| {
        for o in s.py.drain() {
            py.release(o);
        }
        Some(py.none())
    })
}

// ---- batches of plain keys (FORMAT.md §9.4) ------------------------------------------------
// `ord_insert_many(h, keys, values, replace)` (`values` None: `keys` is a list of pairs),
// `ord_get_many(h, keys, default)` and `ord_remove_many(h, keys)`: the UDL batches of the same
// names and the lists the facade returns, in one call, when every key is exactly an `int`
// within 64 bits, a `str` or a `bytes` (read here by [`method_key`]); the container runs
// without the GIL. "failed" (nothing changed) for any other argument, and for a removal once
// host keys were stored (their bookkeeping is the facade's). When a key stops the batch (the
// container cannot order it with its entries), the list holds the results of the items before
// it: the facade's general call goes on from there and raises the typed error.

/// The objects of a batch's `list` argument (borrowed).
unsafe fn list_arg(py: Py, list: PyObj) -> Option<Vec<PyObj>> {
    Some(py.list_items(list)?.collect())
}

/// The keys of `objs` when every one is plain ([`method_key`]).
unsafe fn plain_keys(py: Py, objs: &[PyObj]) -> Option<Vec<HostKey>> {
    objs.iter().map(|&o| method_key(py, o)).collect()
}

/// The key and value objects of `ord_insert_many`'s `(keys, values)` (borrowed): two lists
/// of one length, or one list of pairs and None.
unsafe fn insert_args(py: Py, keys: PyObj, values: PyObj) -> Option<(Vec<PyObj>, Vec<PyObj>)> {
    if !py.is_none(values) {
        let (k, v) = (list_arg(py, keys)?, list_arg(py, values)?);
        return (k.len() == v.len()).then_some((k, v));
    }
    let mut k = Vec::new();
    let mut v = Vec::new();
    for pair in py.list_items(keys)? {
        let (a, b) = py.pair_items(pair)?;
        k.push(a);
        v.push(b);
    }
    Some((k, v))
}

/// `(h, keys, values, replace)` -> for each applied item what `insert` returns (None for a new
/// key, else the previous value), as a list; or `(list, indices)` when the present entries of
/// the items at `indices` kept leaving meanwhile (other threads): those were not inserted.
unsafe extern "C" fn insert_many(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<4>(args, nargs, |py, s, a| {
        let replace = flag(py, a[3])?;
        let (keys, values) = insert_args(py, a[1], a[2])?;
        let _k = Kept::new(py, &keys);
        let _v = Kept::new(py, &values);
        // The entries with their keys now and their handles once the pairs are held.
        let mut items: Vec<(HostKey, u64)> = keys
            .iter()
            .map(|&o| Some((method_key(py, o)?, 0)))
            .collect::<Option<_>>()?;
        let Some(tuples) = pair_tuples(py, &keys, &values) else {
            return Some(std::ptr::null_mut());
        };
        let mut held = Vec::with_capacity(tuples.len());
        s.py.hold_all(&tuples, &mut held);
        drop(tuples);
        for (item, &h) in items.iter_mut().zip(&held) {
            item.1 = h;
        }
        let mut found = Vec::with_capacity(held.len());
        // A refused key stops the batch: `found` holds the items applied.
        let _ = unlocked(py, || s.insert_many_keys(items, true, &mut found));
        for t in s.py.take_all(&held[found.len()..]).into_iter().flatten() {
            py.release(t);
        }
        let mut out = Vec::with_capacity(found.len());
        let mut stale = Vec::new();
        let mut error = false;
        for (i, (&h, r)) in held.iter().zip(&found).enumerate() {
            out.push(match settle(py, &s.py, h, r.unwrap_or(0), replace) {
                Some(Settled::New) => py.none(),
                Some(Settled::Prev(v)) => v,
                Some(Settled::Stale) => {
                    stale.push(i);
                    py.none()
                }
                None => {
                    error = true; // settle the others, then raise
                    py.none()
                }
            });
        }
        let mut lost = Vec::new();
        for i in stale {
            if error {
                break;
            }
            let v = insert_value(py, s, keys[i], values[i], replace, || {
                method_key(py, keys[i])
            });
            match v {
                Some(v) if v.is_null() => error = true,
                Some(v) if py.is_missing(v) => py.release(v),
                Some(v) => py.release(std::mem::replace(&mut out[i], v)),
                None => lost.push(i),
            }
        }
        if error {
            for o in out {
                py.release(o);
            }
            return Some(std::ptr::null_mut());
        }
        let list = py.list_of(out);
        if lost.is_empty() {
            return Some(list);
        }
        let indices = py.list(lost.len(), |j| py.uint(lost[j] as u64));
        Some(py.pair(list, indices))
    })
}

/// `(h, keys, default)` -> the value of each key (`default` for an absent one), as a list
/// ("failed" when an entry left between finding its handle and reading it).
unsafe extern "C" fn get_many(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<3>(args, nargs, |py, s, a| {
        let objs = list_arg(py, a[1])?;
        let keys = plain_keys(py, &objs)?;
        let found = unlocked(py, || s.get_many_keys(&keys)).ok()?;
        let handles: Vec<u64> = found.iter().map(|h| h.unwrap_or(0)).collect();
        // An entry left meanwhile: the facade's general call reads those keys again.
        held_list(py, &s.py, &handles, WHAT_VALUES, Some(a[2]))
    })
}

/// `(h, keys)` -> the value each removed key had (None for an absent one), as a list.
unsafe extern "C" fn remove_many(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    builtin::<2>(args, nargs, |py, s, a| {
        if s.may_hold_host_keys() {
            return None;
        }
        let keys = plain_keys(py, &list_arg(py, a[1])?)?;
        let mut prev = Vec::with_capacity(keys.len());
        // A refused key stops the batch: `prev` holds the items applied.
        let _ = unlocked(py, || s.remove_many_keys(&keys, &mut prev));
        let handles: Vec<u64> = prev.iter().map(|h| h.unwrap_or(0)).collect();
        Some(py.list_of(taken_values(py, &s.py, &handles)))
    })
}

static BUILTINS: [MethodDef; 22] = [
    MethodDef::new(c"ord_get_int", get_int),
    MethodDef::new(c"ord_contains_int", contains_int),
    MethodDef::new(c"ord_remove_int", remove_int),
    MethodDef::new(c"ord_insert_int", insert_int),
    MethodDef::new(c"ord_get", get),
    MethodDef::new(c"ord_contains", contains),
    MethodDef::new(c"ord_remove", remove),
    MethodDef::new(c"ord_insert", insert),
    MethodDef::new(c"ord_entries", entries),
    MethodDef::new(c"ord_hold", hold),
    MethodDef::new(c"ord_hold_all", hold_all),
    MethodDef::new(c"ord_settle", settle_one),
    MethodDef::new(c"ord_settle_all", settle_all),
    MethodDef::new(c"ord_take", take),
    MethodDef::new(c"ord_take_all", take_all),
    MethodDef::new(c"ord_value", value),
    MethodDef::new(c"ord_values", values),
    MethodDef::new(c"ord_held", held),
    MethodDef::new(c"ord_release", release),
    MethodDef::new(c"ord_insert_many", insert_many),
    MethodDef::new(c"ord_get_many", get_many),
    MethodDef::new(c"ord_remove_many", remove_many),
];

// ---- methods of the facade's classes (FORMAT.md §9.4) --------------------------------------
// `get`, `[]`, `in`, `insert`, `[] =`, `remove` and `del` of CSBTree and SkipList as method
// descriptors of the facade's classes, so a call runs no Python frame: `self._fh` names the
// store, keys of exactly `int` (within 64 bits), `str` or `bytes` take the single-key path
// above, and everything else (other keys, keywords, an absent key where an exception is due,
// a refused key, removals once host keys were stored) calls the facade's own Python method of
// the same name (the fallback), which raises the typed error.

/// The facade's Python methods, in [`METHOD_NAMES`] order, and the name `_fh`; registered
/// by the first `ord_fast_methods` call and kept for the life of the process.
static FALLBACKS: std::sync::OnceLock<[usize; 9]> = std::sync::OnceLock::new();

const M_GET: usize = 0;
const M_GETITEM: usize = 1;
const M_CONTAINS: usize = 2;
const M_INSERT: usize = 3;
const M_SETITEM: usize = 4;
const M_REMOVE: usize = 5;
const M_DELITEM: usize = 6;
const M_RANGE: usize = 7;
const FH_NAME: usize = 8;

/// The key of a method argument when it is exactly an `int` within 64 bits, a `str` without
/// lone surrogates or a `bytes`.
unsafe fn method_key(py: Py, obj: PyObj) -> Option<HostKey> {
    Some(HostKey::Native(match py.exact_kind(obj)? {
        ExactKind::Int => Key::Int(py.as_i64(obj)?),
        ExactKind::Str => Key::Str(std::str::from_utf8(py.as_utf8(obj)?).ok()?.to_owned()),
        ExactKind::Bytes => Key::Bytes(py.as_bytes(obj)?.to_vec()),
    }))
}

/// Runs a method: `body(py, store, args)` when the call has `arity` positional arguments and
/// no keywords; its None (or any other miss) calls the fallback with the same arguments.
unsafe fn method(
    which: usize,
    slf: PyObj,
    args: *const PyObj,
    nargs: isize,
    kwnames: PyObj,
    arity: std::ops::RangeInclusive<usize>,
    body: impl FnOnce(Py, &OrderedStore, &[PyObj]) -> Option<PyObj>,
) -> PyObj {
    let (Some(py), Some(fb)) = (Py::get(), FALLBACKS.get()) else {
        return std::ptr::null_mut(); // never installed before both are registered
    };
    let n = nargs.max(0) as usize;
    let total = n + py.kw_count(kwnames);
    let a: &[PyObj] = if total == 0 || args.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(args, total)
    };
    if kwnames.is_null() && arity.contains(&n) {
        let done = entry(None, || {
            let fh = py.getattr(slf, fb[FH_NAME] as PyObj);
            if fh.is_null() {
                return None;
            }
            let h = py.as_i64(fh);
            py.release(fh);
            let store = lookup::<OrderedStore>(u32::try_from(h?).ok()? as u64)?;
            body(py, &store, a)
        });
        if let Some(obj) = done {
            return obj;
        }
    }
    let mut all = Vec::with_capacity(total + 1);
    all.push(slf);
    all.extend_from_slice(a);
    py.vectorcall(fb[which] as PyObj, &all, n + 1, kwnames)
}

/// The value of a get, or None for "absent" (the caller decides) or "take the fallback".
unsafe fn method_get(py: Py, store: &OrderedStore, key: PyObj) -> Option<Option<PyObj>> {
    let v = get_value(py, store, &method_key(py, key)?)?;
    if py.is_missing(v) {
        py.release(v);
        return Some(None);
    }
    Some(Some(v))
}

unsafe extern "C" fn m_get(slf: PyObj, args: *const PyObj, n: isize, kw: PyObj) -> PyObj {
    method(M_GET, slf, args, n, kw, 1..=2, |py, s, a| {
        Some(match method_get(py, s, a[0])? {
            Some(v) => v,
            None => a.get(1).map_or_else(|| py.none(), |&d| py.share(d)),
        })
    })
}

unsafe extern "C" fn m_getitem(slf: PyObj, args: *const PyObj, n: isize, kw: PyObj) -> PyObj {
    method(M_GETITEM, slf, args, n, kw, 1..=1, |py, s, a| {
        method_get(py, s, a[0])? // absent: the fallback raises KeyError
    })
}

unsafe extern "C" fn m_contains(slf: PyObj, args: *const PyObj, n: isize, kw: PyObj) -> PyObj {
    method(M_CONTAINS, slf, args, n, kw, 1..=1, |py, s, a| {
        let k = method_key(py, a[0])?;
        let found = single(py, s, SingleOp::Contains(&k))?;
        Some(py.boolean(found != 0))
    })
}

/// An insert through a method: the previous value (None for a new key) or, with `unit`,
/// None always.
unsafe fn method_insert(
    py: Py,
    s: &OrderedStore,
    a: &[PyObj],
    replace: bool,
    unit: bool,
) -> Option<PyObj> {
    method_key(py, a[0])?;
    let v = insert_value(py, s, a[0], a[1], replace, || method_key(py, a[0]))?;
    if v.is_null() {
        return Some(v);
    }
    if unit || py.is_missing(v) {
        py.release(v);
        return Some(py.none());
    }
    Some(v)
}

macro_rules! insert_methods {
    ($insert:ident, $setitem:ident, $replace:expr) => {
        unsafe extern "C" fn $insert(slf: PyObj, args: *const PyObj, n: isize, kw: PyObj) -> PyObj {
            method(M_INSERT, slf, args, n, kw, 2..=2, |py, s, a| {
                method_insert(py, s, a, $replace, false)
            })
        }
        unsafe extern "C" fn $setitem(
            slf: PyObj,
            args: *const PyObj,
            n: isize,
            kw: PyObj,
        ) -> PyObj {
            method(M_SETITEM, slf, args, n, kw, 2..=2, |py, s, a| {
                method_insert(py, s, a, $replace, true)
            })
        }
    };
}

insert_methods!(m_insert_replace, m_setitem_replace, true);
insert_methods!(m_insert_keep, m_setitem_keep, false);

/// The value a method's removal took out, or None for "absent" (None when it must take the
/// fallback: host keys were stored, whose bookkeeping is the facade's).
unsafe fn method_remove(py: Py, s: &OrderedStore, key: PyObj) -> Option<Option<PyObj>> {
    if s.may_hold_host_keys() {
        return None;
    }
    let k = method_key(py, key)?;
    let v = removed_value(py, s, single(py, s, SingleOp::Remove(&k))?)?;
    if py.is_missing(v) {
        py.release(v);
        return Some(None);
    }
    Some(Some(v))
}

unsafe extern "C" fn m_remove(slf: PyObj, args: *const PyObj, n: isize, kw: PyObj) -> PyObj {
    method(M_REMOVE, slf, args, n, kw, 1..=1, |py, s, a| {
        Some(method_remove(py, s, a[0])?.unwrap_or_else(|| py.none()))
    })
}

unsafe extern "C" fn m_delitem(slf: PyObj, args: *const PyObj, n: isize, kw: PyObj) -> PyObj {
    method(M_DELITEM, slf, args, n, kw, 1..=1, |py, s, a| {
        let v = method_remove(py, s, a[0])??; // absent: the fallback raises KeyError
        py.release(v);
        Some(py.none())
    })
}

unsafe extern "C" fn m_range(slf: PyObj, args: *const PyObj, n: isize, kw: PyObj) -> PyObj {
    method(M_RANGE, slf, args, n, kw, 2..=2, |py, s, a| {
        let start = Some(method_key(py, a[0])?);
        let end = Some(method_key(py, a[1])?);
        let range = OrderedRange {
            start: None,
            start_inclusive: true,
            end: None,
            end_inclusive: false,
            limit: 0,
            reverse: false,
        };
        Some(range_list(py, s, &range, &start, &end, WHAT_PAIRS)?.0)
    })
}

/// The method names, in the order of the descriptors `ord_fast_methods` returns.
const METHOD_NAMES: [&std::ffi::CStr; 8] = [
    c"get",
    c"__getitem__",
    c"__contains__",
    c"insert",
    c"__setitem__",
    c"remove",
    c"__delitem__",
    c"range",
];

macro_rules! method_defs {
    ($insert:ident, $setitem:ident, $insert_doc:expr) => {
        [
            MethodDef::method(
                METHOD_NAMES[0],
                m_get,
                c"get(key, default=None): the value of key, or default when absent.",
            ),
            MethodDef::method(METHOD_NAMES[1], m_getitem, c"self[key]"),
            MethodDef::method(METHOD_NAMES[2], m_contains, c"key in self"),
            MethodDef::method(METHOD_NAMES[3], $insert, $insert_doc),
            MethodDef::method(METHOD_NAMES[4], $setitem, c"self[key] = value (insert)"),
            MethodDef::method(
                METHOD_NAMES[5],
                m_remove,
                c"remove(key): removes key; its value, or None when absent.",
            ),
            MethodDef::method(METHOD_NAMES[6], m_delitem, c"del self[key]"),
            MethodDef::method(
                METHOD_NAMES[7],
                m_range,
                c"range(start, end): [(key, value)] with start <= key < end, ascending.",
            ),
        ]
    };
}

static CSB_METHODS: [MethodDef; 8] = method_defs!(
    m_insert_replace,
    m_setitem_replace,
    c"insert(key, value): None for a new key, else replaces the value and returns the old one."
);
static SKIP_METHODS: [MethodDef; 8] = method_defs!(
    m_insert_keep,
    m_setitem_keep,
    c"insert(key, value): None for a new key, else changes nothing and returns the present value."
);

/// `(cls, replace, fallbacks)` -> the method descriptors of [`METHOD_NAMES`] for the class
/// `cls` (insert replacing with `replace`, a CSBTree, else keeping); `fallbacks` is the tuple
/// of the facade's Python methods of those names and the str `"_fh"`, registered on the first
/// call (later calls must pass the same objects).
unsafe extern "C" fn methods(_: PyObj, args: *const PyObj, nargs: isize) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut();
    };
    let r = entry(None, || {
        let a = pyobj::args::<3>(args, nargs)?;
        if FALLBACKS.get().is_none() {
            let mut fb = [0usize; 9];
            for (i, slot) in fb.iter_mut().enumerate() {
                let f = py.item(a[2], i as isize);
                if f.is_null() {
                    return None;
                }
                py.keep(f); // for the life of the process
                *slot = f as usize;
            }
            let _ = FALLBACKS.set(fb);
        }
        let defs = if py.as_i64(a[1])? != 0 {
            &CSB_METHODS
        } else {
            &SKIP_METHODS
        };
        let mut out = Vec::with_capacity(defs.len());
        for d in defs {
            let m = py.method_descriptor(a[0], d);
            if m.is_null() {
                for o in out {
                    py.release(o);
                }
                return Some(m);
            }
            out.push(m);
        }
        Some(py.tuple(out.len(), |i| out[i]))
    });
    r.unwrap_or_else(|| py.failed())
}

static METHOD_FACTORY: [MethodDef; 1] = [MethodDef::new(c"ord_fast_methods", methods)];

/// `(ord_fast_methods,)`: the builtin that makes the facade's method descriptors (a new
/// reference; as [`ord_fast_builtins`]).
///
/// # Safety
/// The calling thread must hold the GIL.
#[no_mangle]
pub unsafe extern "C" fn ord_fast_method_factory() -> PyObj {
    pyobj::builtins(&METHOD_FACTORY)
}

/// The ordered containers' builtins for Python (FORMAT.md §5.1, §9.4, §9.5): a tuple of the 22
/// functions of `BUILTINS` in that order, a new reference; called through `ctypes.PyDLL` with
/// `restype = py_object` after `kohakuvault_py_init`.
///
/// # Safety
/// The calling thread must hold the GIL.
#[no_mangle]
pub unsafe extern "C" fn ord_fast_builtins() -> PyObj {
    pyobj::builtins(&BUILTINS)
}
