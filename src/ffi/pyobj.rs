//! Python objects built by the core, for the C fast path's point reads from Python
//! (docs/FORMAT.md §5.1).
//!
//! The library is not linked against libpython (it is loaded by ctypes, JNA and Swift alike), so a
//! Python process hands the core the few C-API functions it needs, once, through
//! [`kohakuvault_py_init`]. After that an entry point called through `ctypes.PyDLL` with
//! `restype = py_object` (the GIL held on entry) can return the final `bytes` / `str` itself
//! instead of copying the value into a caller buffer that Python then slices and copies again.
//! Values of other kinds go to the facade's decoder (a Python callable registered with the
//! table), so decoding rules stay where they are. Nothing here knows any vault.

use std::ffi::{c_char, c_void};
use std::sync::OnceLock;

/// A `PyObject*` (opaque here).
pub type PyObj = *mut c_void;

type BytesFn = unsafe extern "C" fn(*const c_char, isize) -> PyObj;
type Utf8Fn = unsafe extern "C" fn(*const c_char, isize, *const c_char) -> PyObj;
type LongFn = unsafe extern "C" fn(i64) -> PyObj;
type CallFn = unsafe extern "C" fn(PyObj, ...) -> PyObj;
type RefFn = unsafe extern "C" fn(PyObj);
type SaveFn = unsafe extern "C" fn() -> *mut c_void;
type RestoreFn = unsafe extern "C" fn(*mut c_void);
type TupleNewFn = unsafe extern "C" fn(isize) -> PyObj;
type TupleSetFn = unsafe extern "C" fn(PyObj, isize, PyObj) -> i32;
type AsI64Fn = unsafe extern "C" fn(PyObj) -> i64;
type AsBytesFn = unsafe extern "C" fn(PyObj, *mut *mut c_char, *mut isize) -> i32;
type ErrOccurredFn = unsafe extern "C" fn() -> PyObj;
type ErrClearFn = unsafe extern "C" fn();
type NewFunctionFn = unsafe extern "C" fn(*const MethodDef, PyObj, PyObj) -> PyObj;
type AsUtf8Fn = unsafe extern "C" fn(PyObj, *mut isize) -> *const c_char;
type ULongFn = unsafe extern "C" fn(u64) -> PyObj;
type FloatFn = unsafe extern "C" fn(f64) -> PyObj;
type SizeFn = unsafe extern "C" fn(PyObj) -> isize;
type ItemFn = unsafe extern "C" fn(PyObj, isize) -> PyObj;
type TypeFn = unsafe extern "C" fn(PyObj) -> PyObj;
type IsTrackedFn = unsafe extern "C" fn(PyObj) -> i32;
type NewDescrFn = unsafe extern "C" fn(PyObj, *const MethodDef) -> PyObj;
type GetAttrFn = unsafe extern "C" fn(PyObj, PyObj) -> PyObj;
type VectorcallFn = unsafe extern "C" fn(PyObj, *const PyObj, usize, PyObj) -> PyObj;

/// The table [`kohakuvault_py_init`] receives, in this order (one machine word each).
struct Api {
    /// `PyBytes_FromStringAndSize`
    bytes: BytesFn,
    /// `PyUnicode_DecodeUTF8`
    utf8: Utf8Fn,
    /// `PyLong_FromLongLong`
    long: LongFn,
    /// `PyObject_CallFunctionObjArgs`
    call: CallFn,
    /// `Py_IncRef`, `Py_DecRef`
    incref: RefFn,
    decref: RefFn,
    /// `PyEval_SaveThread`, `PyEval_RestoreThread`
    save: SaveFn,
    restore: RestoreFn,
    /// `PyTuple_New`, `PyTuple_SetItem`
    tuple_new: TupleNewFn,
    tuple_set: TupleSetFn,
    /// `PyLong_AsLongLong`, `PyBytes_AsStringAndSize`, `PyErr_Occurred`, `PyErr_Clear`,
    /// `PyCFunction_NewEx`
    as_i64: AsI64Fn,
    as_bytes: AsBytesFn,
    err_occurred: ErrOccurredFn,
    err_clear: ErrClearFn,
    new_function: NewFunctionFn,
    /// `PyUnicode_AsUTF8AndSize`
    as_utf8: AsUtf8Fn,
    /// `PyList_New`, `PyList_SetItem`, `PyLong_FromUnsignedLongLong`, `PyFloat_FromDouble`
    list_new: TupleNewFn,
    list_set: TupleSetFn,
    ulong: ULongFn,
    float: FloatFn,
    /// `PyList_Size`, `PyList_GetItem`
    list_size: SizeFn,
    list_get: ItemFn,
    /// `PyTuple_Size`, `PyTuple_GetItem`, `PyObject_Type`
    tuple_size: SizeFn,
    tuple_get: ItemFn,
    type_of: TypeFn,
    /// `PyObject_GC_IsTracked`, `PyObject_GC_UnTrack`
    is_tracked: IsTrackedFn,
    untrack: RefFn,
    /// `PyDescr_NewMethod`, `PyObject_GetAttr`, `PyObject_Vectorcall`
    new_descr: NewDescrFn,
    getattr: GetAttrFn,
    vectorcall: VectorcallFn,
    /// The facade's objects, kept alive by it for the life of the process: the "missing"
    /// and "failed" sentinels, `True`, `False`, and the decoder `decode(kind, payload,
    /// allow_pickle)` for kinds other than raw bytes and UTF-8 text; the type `bytes`;
    /// `None`; the types `int` and `str`.
    missing: PyObj,
    failed: PyObj,
    true_: PyObj,
    false_: PyObj,
    decoder: PyObj,
    bytes_type: PyObj,
    none: PyObj,
    int_type: PyObj,
    str_type: PyObj,
}

// The pointers are process-wide C functions and immortal (facade-owned) objects; they are only
// used with the GIL held.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

const TABLE_LEN: usize = 39;

static API: OnceLock<Api> = OnceLock::new();

/// Registers the Python C-API table (see [`Api`] for the order; `n` must be 39 and no entry 0).
/// 0 when registered (or already registered: the first table stays), -1 when refused.
///
/// # Safety
/// `table` must point to `n` words holding the functions and objects described on [`Api`],
/// valid for the life of the process.
#[no_mangle]
pub unsafe extern "C" fn kohakuvault_py_init(table: *const usize, n: usize) -> i32 {
    crate::fastpath::entry(-1, || {
        if table.is_null() || n != TABLE_LEN {
            return -1;
        }
        let t = std::slice::from_raw_parts(table, n);
        if t.contains(&0) {
            return -1;
        }
        if API.get().is_some() {
            return 0;
        }
        let obj = |i: usize| t[i] as PyObj;
        let api = Api {
            bytes: std::mem::transmute::<usize, BytesFn>(t[0]),
            utf8: std::mem::transmute::<usize, Utf8Fn>(t[1]),
            long: std::mem::transmute::<usize, LongFn>(t[2]),
            call: std::mem::transmute::<usize, CallFn>(t[3]),
            incref: std::mem::transmute::<usize, RefFn>(t[4]),
            decref: std::mem::transmute::<usize, RefFn>(t[5]),
            save: std::mem::transmute::<usize, SaveFn>(t[6]),
            restore: std::mem::transmute::<usize, RestoreFn>(t[7]),
            tuple_new: std::mem::transmute::<usize, TupleNewFn>(t[8]),
            tuple_set: std::mem::transmute::<usize, TupleSetFn>(t[9]),
            as_i64: std::mem::transmute::<usize, AsI64Fn>(t[10]),
            as_bytes: std::mem::transmute::<usize, AsBytesFn>(t[11]),
            err_occurred: std::mem::transmute::<usize, ErrOccurredFn>(t[12]),
            err_clear: std::mem::transmute::<usize, ErrClearFn>(t[13]),
            new_function: std::mem::transmute::<usize, NewFunctionFn>(t[14]),
            as_utf8: std::mem::transmute::<usize, AsUtf8Fn>(t[15]),
            list_new: std::mem::transmute::<usize, TupleNewFn>(t[16]),
            list_set: std::mem::transmute::<usize, TupleSetFn>(t[17]),
            ulong: std::mem::transmute::<usize, ULongFn>(t[18]),
            float: std::mem::transmute::<usize, FloatFn>(t[19]),
            list_size: std::mem::transmute::<usize, SizeFn>(t[20]),
            list_get: std::mem::transmute::<usize, ItemFn>(t[21]),
            tuple_size: std::mem::transmute::<usize, SizeFn>(t[22]),
            tuple_get: std::mem::transmute::<usize, ItemFn>(t[23]),
            type_of: std::mem::transmute::<usize, TypeFn>(t[24]),
            is_tracked: std::mem::transmute::<usize, IsTrackedFn>(t[25]),
            untrack: std::mem::transmute::<usize, RefFn>(t[26]),
            new_descr: std::mem::transmute::<usize, NewDescrFn>(t[27]),
            getattr: std::mem::transmute::<usize, GetAttrFn>(t[28]),
            vectorcall: std::mem::transmute::<usize, VectorcallFn>(t[29]),
            missing: obj(30),
            failed: obj(31),
            true_: obj(32),
            false_: obj(33),
            decoder: obj(34),
            bytes_type: obj(35),
            none: obj(36),
            int_type: obj(37),
            str_type: obj(38),
        };
        let _ = API.set(api);
        0
    })
}

/// The registered table: entry points that build objects refuse to run without it.
#[derive(Clone, Copy)]
pub struct Py(&'static Api);

impl Py {
    pub fn get() -> Option<Py> {
        API.get().map(Py)
    }

    /// A new reference to `obj`.
    ///
    /// # Safety
    /// The GIL must be held.
    unsafe fn new_ref(self, obj: PyObj) -> PyObj {
        (self.0.incref)(obj);
        obj
    }

    /// The "missing" sentinel (a new reference).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn missing(self) -> PyObj {
        self.new_ref(self.0.missing)
    }

    /// The "failed: make the UDL call" sentinel (a new reference).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn failed(self) -> PyObj {
        self.new_ref(self.0.failed)
    }

    /// `bytes(b)`, or null with a Python exception set.
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn bytes(self, b: &[u8]) -> PyObj {
        (self.0.bytes)(b.as_ptr().cast(), b.len() as isize)
    }

    /// A new `bytes` of `n` bytes that `fill` writes in place (the object is not visible to
    /// anyone else yet, so `fill` may release the GIL) and returns how many it wrote; a short
    /// fill gives a `bytes` of that many. None (nothing left allocated, no exception set) when
    /// `fill` fails; null with an exception set when allocating fails.
    ///
    /// # Safety
    /// The GIL must be held on entry and on return of `fill`.
    pub unsafe fn bytes_filled(
        self,
        n: usize,
        fill: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> Option<PyObj> {
        let api = self.0;
        let b = (api.bytes)(std::ptr::null(), n as isize);
        if b.is_null() {
            return Some(b);
        }
        let mut p: *mut c_char = std::ptr::null_mut();
        let mut len: isize = 0;
        if (api.as_bytes)(b, &mut p, &mut len) != 0 || len as usize != n {
            (api.err_clear)();
            (api.decref)(b);
            return None;
        }
        let buf = if n == 0 {
            &mut [][..]
        } else {
            std::slice::from_raw_parts_mut(p.cast::<u8>(), n)
        };
        match fill(buf) {
            Some(got) if got == n => Some(b),
            Some(got) if got < n => {
                let short = self.bytes(&buf[..got]);
                (api.decref)(b);
                Some(short)
            }
            _ => {
                (api.decref)(b);
                None
            }
        }
    }

    /// `(a, b)` from two new references (both consumed, also on failure), or null with a
    /// Python exception set (also when `a` or `b` is null).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn pair(self, a: PyObj, b: PyObj) -> PyObj {
        let api = self.0;
        let t = if a.is_null() || b.is_null() {
            std::ptr::null_mut()
        } else {
            (api.tuple_new)(2)
        };
        if t.is_null() {
            for x in [a, b] {
                if !x.is_null() {
                    (api.decref)(x);
                }
            }
            return t;
        }
        (api.tuple_set)(t, 0, a); // steals; cannot fail on a new 2-tuple
        (api.tuple_set)(t, 1, b);
        t
    }

    /// The value a point read returns for (kind, payload): `bytes` for raw values, `str` for
    /// UTF-8 text (validated by the codec), else the decoder's result. Null with a Python
    /// exception set when building or decoding fails.
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn value(self, kind: u8, payload: &[u8], allow_pickle: bool) -> PyObj {
        match kind {
            crate::codec::KIND_RAW => self.bytes(payload),
            crate::codec::KIND_UTF8 => (self.0.utf8)(
                payload.as_ptr().cast(),
                payload.len() as isize,
                c"strict".as_ptr(),
            ),
            _ => {
                let api = self.0;
                let k = (api.long)(kind as i64);
                if k.is_null() {
                    return k;
                }
                let p = self.bytes(payload);
                if p.is_null() {
                    (api.decref)(k);
                    return p;
                }
                let flag = if allow_pickle { api.true_ } else { api.false_ };
                let r = (api.call)(api.decoder, k, p, flag, std::ptr::null_mut::<c_void>());
                (api.decref)(k);
                (api.decref)(p);
                r
            }
        }
    }

    /// The value of a Python `int` that fits in 64 bits, else None (no exception left set).
    ///
    /// # Safety
    /// The GIL must be held; `obj` must be a live object.
    pub unsafe fn as_i64(self, obj: PyObj) -> Option<i64> {
        let v = (self.0.as_i64)(obj);
        if v == -1 && !(self.0.err_occurred)().is_null() {
            (self.0.err_clear)();
            return None;
        }
        Some(v)
    }

    /// The contents of a Python `bytes` (borrowed from `obj`), else None (no exception left
    /// set).
    ///
    /// # Safety
    /// The GIL must be held and `obj` kept alive while the slice is used.
    pub unsafe fn as_bytes<'a>(self, obj: PyObj) -> Option<&'a [u8]> {
        let mut p: *mut c_char = std::ptr::null_mut();
        let mut n: isize = 0;
        if (self.0.as_bytes)(obj, &mut p, &mut n) != 0 {
            (self.0.err_clear)();
            return None;
        }
        Some(borrowed(p, n))
    }

    /// The UTF-8 of a Python `str` (cached in and borrowed from `obj`), else None (not a str,
    /// or one with lone surrogates; no exception left set).
    ///
    /// # Safety
    /// The GIL must be held and `obj` kept alive while the slice is used.
    pub unsafe fn as_utf8<'a>(self, obj: PyObj) -> Option<&'a [u8]> {
        let mut n: isize = 0;
        let p = (self.0.as_utf8)(obj, &mut n);
        if p.is_null() {
            (self.0.err_clear)();
            return None;
        }
        Some(borrowed(p, n))
    }

    /// A new reference to `obj`.
    ///
    /// # Safety
    /// The GIL must be held; `obj` must be a live object.
    pub unsafe fn share(self, obj: PyObj) -> PyObj {
        self.new_ref(obj)
    }

    /// Item `i` of a tuple (borrowed from it), or null when `tuple` is no tuple or too short
    /// (no exception left set).
    ///
    /// # Safety
    /// The GIL must be held and `tuple` kept alive while the item is used.
    pub unsafe fn item(self, tuple: PyObj, i: isize) -> PyObj {
        let x = (self.0.tuple_get)(tuple, i);
        if x.is_null() {
            (self.0.err_clear)();
        }
        x
    }

    /// A new list of `objs` (new references, taken over also on failure), or null with a
    /// Python exception set.
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn list_of(self, objs: Vec<PyObj>) -> PyObj {
        let list = (self.0.list_new)(objs.len() as isize);
        if list.is_null() {
            for x in objs {
                (self.0.decref)(x);
            }
            return list;
        }
        for (i, x) in objs.into_iter().enumerate() {
            (self.0.list_set)(list, i as isize, x); // steals; cannot fail in range
        }
        list
    }

    /// A new `int` (null with an exception set on failure).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn int(self, v: i64) -> PyObj {
        (self.0.long)(v)
    }

    /// A new list of `n` items made by `item(i)` (each a new reference, stolen; null stops
    /// the build), or null with a Python exception set.
    ///
    /// # Safety
    /// The GIL must be held; `item` must not touch the list.
    pub unsafe fn list(self, n: usize, item: impl FnMut(usize) -> PyObj) -> PyObj {
        self.sequence(self.0.list_new, self.0.list_set, n, item)
    }

    /// A new list or tuple (`new`, `set`) of `n` items made by `item(i)`, as [`Py::list`].
    ///
    /// # Safety
    /// The GIL must be held; `item` must not touch the sequence.
    unsafe fn sequence(
        self,
        new: TupleNewFn,
        set: TupleSetFn,
        n: usize,
        mut item: impl FnMut(usize) -> PyObj,
    ) -> PyObj {
        let seq = new(n as isize);
        if seq.is_null() {
            return seq;
        }
        for i in 0..n {
            let x = item(i);
            if x.is_null() {
                (self.0.decref)(seq);
                return x;
            }
            set(seq, i as isize, x); // steals; cannot fail on a new sequence in range
        }
        seq
    }

    /// A new tuple of `n` items made by `item(i)` (each a new reference, stolen; null stops
    /// the build), or null with a Python exception set.
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn tuple(self, n: usize, item: impl FnMut(usize) -> PyObj) -> PyObj {
        self.sequence(self.0.tuple_new, self.0.tuple_set, n, item)
    }

    /// `str(s)`, or null with a Python exception set.
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn str(self, s: &str) -> PyObj {
        (self.0.utf8)(s.as_ptr().cast(), s.len() as isize, c"strict".as_ptr())
    }

    /// `None` (a new reference).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn none(self) -> PyObj {
        self.new_ref(self.0.none)
    }

    /// Takes `obj` (a new tuple) out of the cycle collector's sight when none of its items is
    /// tracked (numbers, strings, bytes, None ...): the rule CPython applies to its own
    /// tuples, which cannot be part of a cycle then. Tuples a container holds for long would
    /// otherwise be visited by every collection.
    ///
    /// # Safety
    /// The GIL must be held; `obj` must be a tuple no one else has seen yet.
    pub unsafe fn untrack_atomic(self, obj: PyObj, items: &[PyObj]) {
        let api = self.0;
        if (api.is_tracked)(obj) == 1 && items.iter().all(|&x| (api.is_tracked)(x) == 0) {
            (api.untrack)(obj);
        }
    }

    /// Whether `obj` is the "missing" sentinel.
    pub fn is_missing(self, obj: PyObj) -> bool {
        obj == self.0.missing
    }

    /// Whether `obj` is `None`.
    pub fn is_none(self, obj: PyObj) -> bool {
        obj == self.0.none
    }

    /// Which of `int`, `str` and `bytes` `obj`'s type is exactly (subclasses are none).
    ///
    /// # Safety
    /// The GIL must be held; `obj` must be a live object.
    pub unsafe fn exact_kind(self, obj: PyObj) -> Option<ExactKind> {
        let t = (self.0.type_of)(obj);
        if t.is_null() {
            (self.0.err_clear)();
            return None;
        }
        (self.0.decref)(t);
        let api = self.0;
        if t == api.int_type {
            Some(ExactKind::Int)
        } else if t == api.str_type {
            Some(ExactKind::Str)
        } else if t == api.bytes_type {
            Some(ExactKind::Bytes)
        } else {
            None
        }
    }

    /// `obj.<name>` (a new reference), or null with no exception left set.
    ///
    /// # Safety
    /// The GIL must be held; both must be live objects.
    pub unsafe fn getattr(self, obj: PyObj, name: PyObj) -> PyObj {
        let r = (self.0.getattr)(obj, name);
        if r.is_null() {
            (self.0.err_clear)();
        }
        r
    }

    /// A method descriptor of `def` for the type `owner` (a new reference), or null with an
    /// exception set.
    ///
    /// # Safety
    /// The GIL must be held; `owner` must be a type; `def` must live as long as the process.
    pub unsafe fn method_descriptor(self, owner: PyObj, def: &'static MethodDef) -> PyObj {
        (self.0.new_descr)(owner, def)
    }

    /// `f(*args, **kwargs)` as CPython's vectorcall: `args` holds the positional arguments
    /// then the values of the keywords named by the tuple `kwnames` (null: none).
    ///
    /// # Safety
    /// The GIL must be held; all objects must be live.
    pub unsafe fn vectorcall(
        self,
        f: PyObj,
        args: &[PyObj],
        nargs: usize,
        kwnames: PyObj,
    ) -> PyObj {
        (self.0.vectorcall)(f, args.as_ptr(), nargs, kwnames)
    }

    /// How many keyword names a vectorcall's `kwnames` holds (0 for null).
    ///
    /// # Safety
    /// The GIL must be held; `kwnames` must be null or a tuple.
    pub unsafe fn kw_count(self, kwnames: PyObj) -> usize {
        if kwnames.is_null() {
            0
        } else {
            (self.0.tuple_size)(kwnames).max(0) as usize
        }
    }

    /// The items of a Python `list` (borrowed from it), else None (no exception left set).
    ///
    /// # Safety
    /// The GIL must be held and `list` kept alive, unchanged, while the items are used.
    pub unsafe fn list_items(self, list: PyObj) -> Option<impl Iterator<Item = PyObj>> {
        let api = self.0;
        let n = (api.list_size)(list);
        if n < 0 {
            (api.err_clear)();
            return None;
        }
        Some((0..n).map(move |i| (api.list_get)(list, i)))
    }

    /// The two items of a pair: a tuple (or list) of exactly two (borrowed from it), else None
    /// (no exception left set).
    ///
    /// # Safety
    /// The GIL must be held and `pair` kept alive, unchanged, while the items are used.
    pub unsafe fn pair_items(self, pair: PyObj) -> Option<(PyObj, PyObj)> {
        let api = self.0;
        let (size, get): (SizeFn, ItemFn) = match (api.tuple_size)(pair) {
            2 => (api.tuple_size, api.tuple_get),
            n if n >= 0 => return None,
            _ => {
                (api.err_clear)();
                (api.list_size, api.list_get)
            }
        };
        if size(pair) != 2 {
            (api.err_clear)();
            return None;
        }
        Some((get(pair, 0), get(pair, 1)))
    }

    /// Whether `obj` is a `bytes` itself (not a subclass).
    ///
    /// # Safety
    /// The GIL must be held; `obj` must be a live object.
    pub unsafe fn is_exact_bytes(self, obj: PyObj) -> bool {
        let t = (self.0.type_of)(obj);
        if t.is_null() {
            (self.0.err_clear)();
            return false;
        }
        (self.0.decref)(t);
        t == self.0.bytes_type
    }

    /// Takes a reference to `obj` (undo with [`Py::release`]).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn keep(self, obj: PyObj) {
        (self.0.incref)(obj);
    }

    /// Drops a reference taken with [`Py::keep`].
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn release(self, obj: PyObj) {
        (self.0.decref)(obj);
    }

    /// A new `int` from an unsigned value (null with an exception set on failure).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn uint(self, v: u64) -> PyObj {
        (self.0.ulong)(v)
    }

    /// A new `float` (null with an exception set on failure).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn float(self, v: f64) -> PyObj {
        (self.0.float)(v)
    }

    /// `True` or `False` (a new reference).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn boolean(self, v: bool) -> PyObj {
        self.new_ref(if v { self.0.true_ } else { self.0.false_ })
    }

    /// Releases the GIL until the guard's [`Unlocked::relock`] (or drop, e.g. on a panic).
    ///
    /// # Safety
    /// The GIL must be held by this thread; no Python object may be touched until relocked.
    pub unsafe fn unlock(self) -> Unlocked {
        Unlocked {
            api: self.0,
            state: (self.0.save)(),
        }
    }
}

/// `n` bytes at `p` (CPython's buffer of an object the caller keeps alive).
///
/// # Safety
/// `p` must point to `n` readable bytes for `'a` (or `n` be 0).
unsafe fn borrowed<'a>(p: *const c_char, n: isize) -> &'a [u8] {
    if n <= 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p.cast(), n as usize)
    }
}

/// The GIL released by [`Py::unlock`]; taken back once.
pub struct Unlocked {
    api: &'static Api,
    state: *mut c_void,
}

impl Unlocked {
    /// Takes the GIL back (idempotent).
    pub fn relock(&mut self) {
        if !self.state.is_null() {
            // SAFETY: `state` came from PyEval_SaveThread on this thread and is restored once.
            unsafe { (self.api.restore)(self.state) };
            self.state = std::ptr::null_mut();
        }
    }
}

impl Drop for Unlocked {
    fn drop(&mut self) {
        self.relock();
    }
}

/// An exact built-in type of a Python object ([`Py::exact_kind`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ExactKind {
    Int,
    Str,
    Bytes,
}

/// A builtin's body: `(self, args, nargs)` as CPython's `METH_FASTCALL` calls it.
pub type FastCall = unsafe extern "C" fn(PyObj, *const PyObj, isize) -> PyObj;
/// A method's body: `(self, args, nargs, kwnames)` as `METH_FASTCALL | METH_KEYWORDS`.
pub type FastCallKw = unsafe extern "C" fn(PyObj, *const PyObj, isize, PyObj) -> PyObj;

const METH_FASTCALL: i32 = 0x0080;
const METH_KEYWORDS: i32 = 0x0002;

/// The function of a [`MethodDef`] (CPython's `ml_meth`, cast by its flags).
#[repr(C)]
#[derive(Clone, Copy)]
union Meth {
    fast: FastCall,
    keywords: FastCallKw,
}

/// CPython's `PyMethodDef` for a `METH_FASTCALL` function: entry points that Python calls as
/// builtin functions (a vectorcall, a fraction of a ctypes call's cost). Each vault keeps its
/// own, next to its entry points, and hands them out with [`builtins`].
#[repr(C)]
pub struct MethodDef {
    name: *const c_char,
    meth: Meth,
    flags: i32,
    doc: *const c_char,
}

// Immutable statics of C strings and a function.
unsafe impl Sync for MethodDef {}

impl MethodDef {
    pub const fn new(name: &'static std::ffi::CStr, meth: FastCall) -> Self {
        MethodDef {
            name: name.as_ptr(),
            meth: Meth { fast: meth },
            flags: METH_FASTCALL,
            doc: std::ptr::null(),
        }
    }

    /// A method taking positional and keyword arguments (for [`Py::method_descriptor`]).
    pub const fn method(
        name: &'static std::ffi::CStr,
        meth: FastCallKw,
        doc: &'static std::ffi::CStr,
    ) -> Self {
        MethodDef {
            name: name.as_ptr(),
            meth: Meth { keywords: meth },
            flags: METH_FASTCALL | METH_KEYWORDS,
            doc: doc.as_ptr(),
        }
    }
}

/// The positional arguments of a builtin call when there are exactly `N`.
///
/// # Safety
/// `args` must point to `nargs` objects (CPython's vectorcall convention).
pub unsafe fn args<'a, const N: usize>(args: *const PyObj, nargs: isize) -> Option<&'a [PyObj; N]> {
    if nargs != N as isize || args.is_null() {
        return None;
    }
    Some(&*(args as *const [PyObj; N]))
}

/// A tuple of builtin functions for `defs` (a new reference), or null with an exception set.
/// Each vault's `*_fast_builtins` entry point returns it.
///
/// # Safety
/// The GIL must be held, after [`kohakuvault_py_init`].
pub unsafe fn builtins(defs: &'static [MethodDef]) -> PyObj {
    let Some(py) = Py::get() else {
        return std::ptr::null_mut();
    };
    let api = py.0;
    let t = (api.tuple_new)(defs.len() as isize);
    if t.is_null() {
        return t;
    }
    for (i, d) in defs.iter().enumerate() {
        let f = (api.new_function)(d, std::ptr::null_mut(), std::ptr::null_mut());
        if f.is_null() {
            (api.decref)(t);
            return f;
        }
        (api.tuple_set)(t, i as isize, f);
    }
    t
}
