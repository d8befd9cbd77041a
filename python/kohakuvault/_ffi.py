"""The bridge to the Rust core: the generated uniffi module and the C fast path.

The generated module (``kohakuvault._native``) is a build output of maturin; nothing here patches
it. The C fast path (docs/FORMAT.md §5) is an optimisation of ``KvStore.get`` / ``get_stored``,
``get_many``, ``scan`` and ``GetStream.read``: it is called through ctypes on the library the
generated module has already loaded, and every error falls back to the uniffi call, which raises
the typed error (mapped by ``_errmap``).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import os
import pickle
import threading

from . import _codec
from . import _native as N

__all__ = [
    "N",
    "FastPath",
    "FAST",
    "GET_STORED",
    "RELEASE_GIL",
    "ALLOW_PICKLE",
    "KEY_STR",
    "MISSING",
    "FAILED",
    "GC_PAUSE",
    "GC_PAUSE_MIN",
]

_gen = importlib.import_module(N.KvStore.__module__)

# kv_fast_get flag: the value as stored (what get_stored returns, kind 0), for auto-pack off.
GET_STORED = 1
# kv_get flags: read without the GIL; the vault reads pickled values.
RELEASE_GIL = 2
ALLOW_PICKLE = 4
# kv_get flag: the key is a str, passed as it is (the core reads its UTF-8).
KEY_STR = 8

# What the builtins return for a missing key, and on an error (make the UDL call).
MISSING = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
FAILED = type("Failed", (), {"__repr__": lambda self: "<failed>"})()

# The per-thread point-read buffer grows up to this size; bigger values use a one-off buffer.
_KEEP_BUFFER_MAX = 4 << 20


def _library_path() -> str | None:
    lib = getattr(_gen, "_UniffiLib", None)
    name = getattr(lib, "_name", None)
    if name and os.path.exists(name):
        return name
    base = os.path.dirname(getattr(_gen, "__file__", "") or "")
    for candidate in ("libkohakuvault.so", "libkohakuvault.dylib", "kohakuvault.dll"):
        path = os.path.join(base, candidate)
        if os.path.exists(path):
            return path
    return None


class _GcPause:
    """``with GC_PAUSE:`` pauses the cyclic garbage collector while a page's objects are built.

    A page (docs/FORMAT.md §4.1) is acyclic data: the collections its thousands of new dicts,
    lists and tuples would trigger find nothing, yet cost about a quarter of decoding it (they
    walk every young object the page keeps alive). Nested and concurrent pauses share one; the
    collector is re-enabled only if it was enabled when the first began.
    """

    __slots__ = ("_lock", "_depth", "_resume")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._resume:
                gc.enable()


GC_PAUSE = _GcPause()

# Pages smaller than this are decoded without pausing the collector (too few objects to matter).
GC_PAUSE_MIN = 16 << 10


class _ThreadBuffers(threading.local):
    """Per-thread buffers of the fast path (``state`` is one tuple: one attribute lookup)."""

    def __init__(self) -> None:
        self.page_ptr = ctypes.c_void_p()
        self.page_len = ctypes.c_size_t()
        self.page_out = (ctypes.byref(self.page_ptr), ctypes.byref(self.page_len))
        self.resize(64 * 1024)

    def resize(self, cap: int) -> None:
        buf = ctypes.create_string_buffer(cap)
        self.buf = buf
        self.state = (buf, cap, memoryview(buf).cast("B"))


class FastPath:
    """ctypes access to the ``kv_fast_*`` entry points (docs/FORMAT.md §5).

    Two bindings of ``kv_fast_get``: ``get`` releases the GIL during the call (ctypes.CDLL);
    ``get_gil`` keeps it (ctypes.PyDLL), which avoids a GIL hand-off per point read when several
    threads share a vault. ``get_gil`` is only for file-backed vaults, whose reads take pooled
    reader connections and never wait for a lock that a GIL-holding thread could keep
    (``:memory:`` / URI vaults read through the writer connection, so they use ``get``).
    ``kv_fast_get`` and ``kv_fast_put`` (which releases the GIL: a put commits) take only
    int-sized arguments and are called without argtypes: ctypes then converts each argument
    directly (ints as C int, bytes and ctypes arrays as pointers).
    """

    def __init__(self) -> None:
        self.available = False
        self._py_ready = False
        self.get_py = None  # the builtin kv_get once the table is registered (§5.1)
        self.stream_read_py = None  # the builtin kv_stream_read, likewise
        self.put_many_py = None  # the builtin kv_put_many, likewise
        if os.environ.get("KOHAKUVAULT_NO_FAST_PATH"):
            return
        path = _library_path()
        if path is None:
            return
        try:
            released = ctypes.CDLL(path)
            held = ctypes.PyDLL(path)
            get = released.kv_fast_get
            get_gil = held.kv_fast_get
            put = released.kv_fast_put
            get_many = released.kv_fast_get_many
            scan = released.kv_fast_scan
            read = released.kv_fast_stream_read
            release = released.kohakuvault_fast_release
        except (OSError, AttributeError):
            return
        for fn in (get, get_gil):
            fn.restype = ctypes.c_int64
        put.restype = ctypes.c_int32
        read.argtypes = (ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t)
        read.restype = ctypes.c_int64
        get_many.argtypes = (
            ctypes.c_uint64,  # handle
            ctypes.c_char_p,  # key lengths (u32 LE each)
            ctypes.c_size_t,
            ctypes.c_char_p,  # keys, concatenated
            ctypes.c_size_t,
            ctypes.c_int32,  # decoded
            ctypes.c_void_p,  # out: page pointer
            ctypes.c_void_p,  # out: page length
        )
        get_many.restype = ctypes.c_int32
        scan.argtypes = (
            ctypes.c_uint64,  # handle
            ctypes.c_char_p,  # prefix
            ctypes.c_int64,  # prefix length, -1 none
            ctypes.c_char_p,  # after
            ctypes.c_int64,  # after length, -1 none
            ctypes.c_uint64,  # limit
            ctypes.c_uint64,  # max bytes
            ctypes.c_uint32,  # flags: 1 values, 2 decoded
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        scan.restype = ctypes.c_int32
        release.restype = None
        self._libs = (released, held)
        self.get = get
        self.get_gil = get_gil
        self.put = put
        self._get_many = get_many
        self._scan = scan
        self._read = read
        self._release = release
        self.tls = _ThreadBuffers()
        self.available = True
        self._kv_builtins = getattr(held, "kv_fast_builtins", None)
        self._py_init = getattr(held, "kohakuvault_py_init", None)
        self._objects(_codec.decode_value)

    def _objects(self, decoder) -> bool:
        """Lets the core build Python objects (docs/FORMAT.md §5.1); True when it can: hands the
        core the C-API functions it uses and the objects it returns, with ``decoder(kind,
        payload, allow_pickle)`` for kinds other than raw bytes and UTF-8 text; all of them
        live as long as the process."""
        if not self.available:
            return False
        kv_builtins, init = self._kv_builtins, self._py_init
        if kv_builtins is None or init is None:
            return False
        api = ctypes.pythonapi
        names = (
            "PyBytes_FromStringAndSize",
            "PyUnicode_DecodeUTF8",
            "PyLong_FromLongLong",
            "PyObject_CallFunctionObjArgs",
            "Py_IncRef",
            "Py_DecRef",
            "PyEval_SaveThread",
            "PyEval_RestoreThread",
            "PyTuple_New",
            "PyTuple_SetItem",
            "PyLong_AsLongLong",
            "PyBytes_AsStringAndSize",
            "PyErr_Occurred",
            "PyErr_Clear",
            "PyCFunction_NewEx",
            "PyUnicode_AsUTF8AndSize",
            "PyList_New",
            "PyList_SetItem",
            "PyLong_FromUnsignedLongLong",
            "PyFloat_FromDouble",
            "PyList_Size",
            "PyList_GetItem",
            "PyTuple_Size",
            "PyTuple_GetItem",
            "PyObject_Type",
            "PyObject_GC_IsTracked",
            "PyObject_GC_UnTrack",
            "PyDescr_NewMethod",
            "PyObject_GetAttr",
            "PyObject_Vectorcall",
        )
        try:
            funcs = [ctypes.cast(getattr(api, n), ctypes.c_void_p).value for n in names]
        except AttributeError:
            return False
        self._decoder = decoder  # kept alive with the process (the core holds its address)
        objs = [id(MISSING), id(FAILED), id(True), id(False), id(decoder)]
        objs += [id(bytes), id(None), id(int), id(str)]
        n = len(funcs) + len(objs)
        table = (ctypes.c_size_t * n)(*funcs, *objs)
        init.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
        init.restype = ctypes.c_int32
        if init(table, n) != 0:
            return False
        kv_builtins.argtypes = ()
        kv_builtins.restype = ctypes.py_object
        self.get_py, self.stream_read_py, self.put_many_py = kv_builtins()
        self._py_ready = True
        return True

    def bind_py(self, name: str, argtypes: tuple):
        """An entry point that returns a Python object (§5.1), called with the GIL held
        (``ctypes.PyDLL``), or None when the core cannot build objects here."""
        if not self._py_ready:
            return None
        fn = getattr(self._libs[1], name, None)
        if fn is not None:
            fn.argtypes = argtypes
            fn.restype = ctypes.py_object
        return fn

    def read(self, fn, handle: int, key: bytes, flags: int, need: int = 0):
        """A point read through ``fn`` (``get`` or ``get_gil``) that grows this thread's buffer
        as needed: ``(kind, payload)``, None when missing, False on error (then make the UDL
        call for the typed error). ``need``: the size a previous call reported (``-3 - need``)
        for a value that did not fit."""
        tls = self.tls
        while True:
            if need == 0:
                buf, cap, view = tls.state
            elif need <= _KEEP_BUFFER_MAX:
                tls.resize(max(need, tls.state[1] * 2))
                buf, cap, view = tls.state
            else:  # a one-off big value: do not keep a huge per-thread buffer around
                buf = ctypes.create_string_buffer(need)
                cap, view = need, memoryview(buf).cast("B")
            r = fn(handle, key, len(key), buf, cap, flags)
            if r >= 0:
                return r & 0xFF, view[: r >> 8].tobytes()
            if r == -2:
                return None
            if r == -1:
                return False
            need = -3 - r  # too big for this buffer (or replaced by a bigger value meanwhile)

    def _page(self, rc: int, tls):
        """The Python objects of this thread's page (docs/FORMAT.md §4.1), None on error."""
        if rc != 0:
            return None
        n = tls.page_len.value
        data = (ctypes.c_char * n).from_address(tls.page_ptr.value)
        if n >= GC_PAUSE_MIN:
            with GC_PAUSE:
                page = pickle.loads(data)
        else:
            page = pickle.loads(data)
        if n > _KEEP_BUFFER_MAX:
            self._release()
        return page

    def bind(self, name: str, argtypes: tuple, restype):
        """A vault's C fast-path entry point (docs/FORMAT.md §5) through ctypes on the library
        the bindings loaded, or None when there is no fast path."""
        libs = getattr(self, "_libs", None)
        if not self.available or not libs:
            return None
        fn = getattr(libs[0], name, None)
        if fn is not None:
            fn.argtypes = argtypes
            fn.restype = restype
        return fn

    def raw_page_call(self, fn, *args) -> bytes | None:
        """An entry point that fills this thread's page with packed bytes (not pickled
        objects): ``fn(*args, out_ptr, out_len)`` -> a copy of the page, or None on error."""
        tls = self.tls
        p_ptr, p_len = tls.page_out
        if fn(*args, p_ptr, p_len) != 0:
            return None
        n = tls.page_len.value
        page = ctypes.string_at(tls.page_ptr.value, n)
        if n > _KEEP_BUFFER_MAX:
            self._release()
        return page

    def page_call(self, fn, *args):
        """Any vault's page entry point: ``fn(*args, out_ptr, out_len)`` -> its page, or None."""
        tls = self.tls
        p_ptr, p_len = tls.page_out
        return self._page(fn(*args, p_ptr, p_len), tls)

    def get_many(self, handle: int, key_lens: bytes, keys: bytes, decoded: bool):
        """``(values, special, end, packed, n_packed)`` for columnar keys, or None on error."""
        tls = self.tls
        p_ptr, p_len = tls.page_out
        rc = self._get_many(
            handle, key_lens, len(key_lens), keys, len(keys), int(decoded), p_ptr, p_len
        )
        return self._page(rc, tls)

    def scan(self, handle: int, prefix, after, limit: int, max_bytes: int, flags: int):
        """``(entries, special, end, packed, n_packed)`` of one scan page, or None on error."""
        tls = self.tls
        p_ptr, p_len = tls.page_out
        rc = self._scan(
            handle,
            prefix,
            -1 if prefix is None else len(prefix),
            after,
            -1 if after is None else len(after),
            limit,
            max_bytes,
            flags,
            p_ptr,
            p_len,
        )
        return self._page(rc, tls)

    def stream_read(self, handle: int, address: int, cap: int) -> int:
        """Copy up to ``cap`` bytes of a GetStream into ``address``: count, 0 at the end, -1 on error."""
        return self._read(handle, address, cap)


FAST = FastPath()
