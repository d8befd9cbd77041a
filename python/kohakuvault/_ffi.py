"""The bridge to the Rust core: the generated uniffi module, typed error mapping and the C fast path.

The generated module (``kohakuvault._native``) is a build output of maturin; nothing here patches
it. The C fast path (docs/FORMAT.md §5) is an optimisation of ``KvStore.get`` and
``GetStream.read``: it is called through ctypes on the library the generated module has already
loaded, and every error falls back to the uniffi call, which raises the typed error.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import pickle
import threading

from . import _native as N
from .errors import DatabaseBusy, InvalidArgument, IoError, KohakuVaultError, NotFound

__all__ = [
    "N",
    "VaultError",
    "CLOSED_MESSAGE",
    "map_native_error",
    "closed_error",
    "FastPath",
    "FAST",
]

VaultError = N.VaultError
_gen = importlib.import_module(N.KvStore.__module__)
_InternalError = getattr(_gen, "InternalError", None)

CLOSED_MESSAGE = "Cannot operate on closed KVault"


def closed_error() -> ValueError:
    """The error 1.1.0 raises for any operation on a closed KVault."""
    return ValueError(CLOSED_MESSAGE)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason is not None else str(exc)


def map_native_error(
    exc: BaseException, *, key: bytes | str | None = None, decoding: bool = False
) -> BaseException:
    """Map an exception raised by the generated bindings to kohakuvault's classes, by type.

    * ``NotFound`` -> :class:`NotFound` (callers that follow 1.1.0's ``KeyError`` handle it first)
    * ``Busy`` -> :class:`DatabaseBusy`; ``InvalidArgument`` / ``UnsupportedEncoding`` ->
      :class:`InvalidArgument`
    * ``ReadOnly`` -> :class:`IoError` whose message says "read-only" (1.1.0's PermissionError path)
    * ``Closed`` -> ``ValueError("Cannot operate on closed KVault")`` as 1.1.0
    * ``Io`` / ``DiskFull`` -> :class:`IoError`
    * ``Corrupt`` -> :class:`InvalidArgument` while decoding a stored value (1.1.0's bad-header
      error), else :class:`KohakuVaultError`
    * anything else from the core -> :class:`KohakuVaultError`; Python ``TypeError`` /
      ``ValueError`` (argument conversion) -> :class:`InvalidArgument`
    """
    if isinstance(exc, KohakuVaultError):
        return exc
    if isinstance(exc, VaultError):
        reason = _reason(exc)
        if isinstance(exc, VaultError.NotFound):
            return NotFound(key if key is not None else b"<unknown>")
        if isinstance(exc, VaultError.Busy):
            return DatabaseBusy(reason)
        if isinstance(exc, (VaultError.InvalidArgument, VaultError.UnsupportedEncoding)):
            return InvalidArgument(reason)
        if isinstance(exc, VaultError.ReadOnly):
            if "read-only" not in reason:
                reason = f"KVault is read-only: {reason}"
            return IoError("OS error during I/O", PermissionError(reason))
        if isinstance(exc, VaultError.Closed):
            return closed_error()
        if isinstance(exc, (VaultError.Io, VaultError.DiskFull)):
            return IoError(reason)
        if isinstance(exc, VaultError.Corrupt):
            return InvalidArgument(reason) if decoding else KohakuVaultError(reason)
        return KohakuVaultError(reason)
    if _InternalError is not None and isinstance(exc, _InternalError):
        return KohakuVaultError(str(exc))
    if isinstance(exc, (TypeError, ValueError, OverflowError)):
        return InvalidArgument(str(exc))
    if isinstance(exc, OSError):
        return IoError("OS error during I/O", exc)
    return KohakuVaultError(str(exc))


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


_KEEP_BUFFER_MAX = 4 << 20
_GET_ARGTYPES = (
    ctypes.c_uint64,  # handle
    ctypes.c_char_p,  # key
    ctypes.c_size_t,  # key length
    ctypes.c_void_p,  # buffer
    ctypes.c_size_t,  # buffer capacity
    ctypes.c_void_p,  # out_len (uint64_t*)
    ctypes.c_void_p,  # out_kind (uint8_t*)
)


class _ThreadBuffers(threading.local):
    """Per-thread output buffers of the fast path, as tuples (one attribute lookup per call)."""

    def __init__(self) -> None:
        self.out_len = ctypes.c_uint64()
        self.out_kind = ctypes.c_uint8()
        self.page_ptr = ctypes.c_void_p()
        self.page_len = ctypes.c_size_t()
        self.page_out = (ctypes.byref(self.page_ptr), ctypes.byref(self.page_len))
        self.resize(64 * 1024)

    def resize(self, cap: int) -> None:
        buf = ctypes.create_string_buffer(cap)
        self.buf = buf
        view = memoryview(buf).cast("B")
        self.state = (
            ctypes.addressof(buf),
            cap,
            ctypes.byref(self.out_len),
            ctypes.byref(self.out_kind),
            self.out_len,
            self.out_kind,
            view,
        )
        self.get2_state = (buf, cap, view)


def _make_getter(fn, tls):
    """``get(handle, key)`` -> ``(kind, payload)``, ``None`` when missing, ``False`` on error."""

    def get(handle: int, key: bytes):
        addr, cap, p_len, p_kind, out_len, out_kind, view = tls.state
        rc = fn(handle, key, len(key), addr, cap, p_len, p_kind)
        if rc == 0:
            return out_kind.value, view[: out_len.value].tobytes()
        while rc == 2:  # buffer too small: retry with the size reported
            need = out_len.value
            if need <= _KEEP_BUFFER_MAX:
                tls.resize(max(need, cap * 2))
                addr, cap, p_len, p_kind, out_len, out_kind, view = tls.state
            else:  # a one-off big value: do not keep a huge per-thread buffer around
                tmp = ctypes.create_string_buffer(need)
                addr, cap = ctypes.addressof(tmp), need
            rc = fn(handle, key, len(key), addr, cap, p_len, p_kind)
            if rc == 0:
                return out_kind.value, ctypes.string_at(addr, out_len.value)
        if rc == 1:
            return None
        return False

    return get


class FastPath:
    """ctypes access to ``kv_fast_get`` / ``kv_fast_stream_read`` (docs/FORMAT.md §5).

    Two bindings of ``kv_fast_get``: ``get`` releases the GIL during the call (ctypes.CDLL);
    ``get_gil`` keeps it (ctypes.PyDLL), which avoids a GIL hand-off per point read when several
    threads share a vault. ``get_gil`` is only used for file-backed vaults, whose reads take
    pooled reader connections and never wait for a lock that a GIL-holding thread could keep
    (``:memory:`` / URI vaults read through the writer connection, so they use ``get``).
    """

    def __init__(self) -> None:
        self.available = False
        self.pages = False
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
            read = released.kv_fast_stream_read
        except (OSError, AttributeError):
            return
        for fn in (get, get_gil):
            fn.argtypes = _GET_ARGTYPES
            fn.restype = ctypes.c_int32
        read.argtypes = (ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t)
        read.restype = ctypes.c_int64
        self._libs = (released, held)
        self._read = read
        self.tls = _ThreadBuffers()
        self.get = _make_getter(get, self.tls)
        self.get_gil = _make_getter(get_gil, self.tls)
        # kv_fast_get2 takes only int-sized arguments and is called without argtypes: ctypes then
        # converts each argument directly (ints as C int, bytes and ctypes arrays as pointers).
        try:
            self.get2_fn = released.kv_fast_get2
            self.get2_gil_fn = held.kv_fast_get2
            get_many = released.kv_fast_get_many
            scan = released.kv_fast_scan
            self._release = released.kv_fast_release
        except AttributeError:
            self.available = True
            return
        for fn in (self.get2_fn, self.get2_gil_fn):
            fn.restype = ctypes.c_int64
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
        self._release.restype = None
        self._get_many = get_many
        self._scan = scan
        self.pages = True
        self.available = True

    def _page(self, rc: int, tls):
        """The Python objects of this thread's page (docs/FORMAT.md §4.1), None on error."""
        if rc != 0:
            return None
        n = tls.page_len.value
        page = pickle.loads((ctypes.c_char * n).from_address(tls.page_ptr.value))
        if n > _KEEP_BUFFER_MAX:
            self._release()
        return page

    def get_many(self, handle: int, key_lens: bytes, keys: bytes, decoded: bool):
        """``(values, special, end)`` for columnar keys, or None on error (see _page)."""
        tls = self.tls
        p_ptr, p_len = tls.page_out
        rc = self._get_many(
            handle, key_lens, len(key_lens), keys, len(keys), int(decoded), p_ptr, p_len
        )
        return self._page(rc, tls)

    def scan(self, handle: int, prefix, after, limit: int, max_bytes: int, flags: int):
        """``(entries, special, end)`` of one scan page, or None on error."""
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
