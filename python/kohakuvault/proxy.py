"""KVault: the key-value vault (the kohakuvault 1.1.0 API over the Rust ``KvStore``).

All storage, cache semantics and stored formats live in the Rust core. This facade maps Python
objects to (kind, payload) pairs (``_codec``), batches calls (one FFI call per logical batch),
and keeps a small write combiner in front of the core's write-back cache:

* With the cache enabled and not locked, ``put`` appends to a Python-side buffer that is sent as
  one ``cache_put_many`` call when it reaches ~512 items or ~256 KiB, and before *any* other
  operation on the vault, so reads always see acknowledged writes.
* Without a cache, ``put`` is a direct ``KvStore.put`` (committed on return).
* A vault that is garbage-collected (or still open at interpreter exit) drains the combiner and
  closes, which flushes the core's cache (DECISIONS 8); a failure warns with ResourceWarning.
"""

from __future__ import annotations

import atexit
import io
import math
import operator
import os
import struct
import sys
import threading
import time
import warnings
import weakref
from array import array
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO, Optional, Union

from . import _codec
from ._ffi import CLOSED_MESSAGE, FAST, N, VaultError, closed_error, map_native_error
from .errors import DatabaseBusy, InvalidArgument, KohakuVaultError, NotFound

__all__ = ["KVault"]

KeyType = Union[bytes, str]
PathLike = Union[str, Path, os.PathLike]

_MISSING = object()
_U32 = struct.Struct("<I")
_STATUS = struct.Struct("<BI")
_U32_MAX = 0xFFFFFFFF
_BLOB_MAX = (1 << 31) - 1
_KEY_MAX = 1 << 20  # the core's key limit: longer keys go direct (and fail there)
_COMBINE_ITEMS = 512
_COMBINE_BYTES = 256 << 10
_MISSING_STATUS = 0xFF
_DECODE = _codec.decode
_FAST_TLS = FAST.tls if FAST.available else None
_FAST_PAGES = FAST.available and FAST.pages
_ENCODE = _codec.encode
_RAW = _codec.RAW
_MSGPACK = _codec.MSGPACK
_PACKERS = _codec._PACKERS
_PAIR_TYPES = frozenset((tuple, list))
_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)
# Default iteration pages (batch_size not given): up to this many entries or about this many bytes.
_PAGE_ITEMS = 4096
_PAGE_BYTES = 1 << 20
_NO_BYTE_LIMIT = (1 << 64) - 1
_U32_NATIVE = array("I").itemsize == 4 and sys.byteorder == "little"
_REENTRANT = "reentrant access from a stream callback is not supported"

_callbacks = threading.local()  # ids of vaults whose stream callback is running on this thread


def _to_bytes_key(key: Any) -> bytes:
    t = type(key)
    if t is bytes:
        return key
    if t is str:
        try:
            return key.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument(
                "key must be bytes or str (str keys must be valid UTF-8)"
            ) from None
    # Subclasses: their own data (as 1.1.0 read it), never what __str__/__bytes__ return.
    if isinstance(key, bytes):
        return bytes(memoryview(key))
    if isinstance(key, str):
        return _to_bytes_key(str.__str__(key))
    raise InvalidArgument("key must be bytes or str")


def _u32s(values) -> bytes:
    """Little-endian u32s (``OverflowError`` past 2**32 - 1)."""
    if _U32_NATIVE:
        return array("I", values).tobytes()
    values = list(values)
    return struct.pack(f"<{len(values)}I", *values)


def _key_column(keys) -> tuple[bytes, bytes]:
    """(u32 lengths, concatenation) of keys as bytes: one columnar FFI argument pair.

    All-ASCII str keys are joined and encoded at once (their lengths are their byte lengths).
    """
    if keys and type(keys[0]) is str:
        try:
            joined = "".join(keys)
        except TypeError:
            joined = None
        if joined is not None and joined.isascii():
            return _u32s(map(len, keys)), joined.encode("ascii")
    encoded = [k if type(k) is bytes else _to_bytes_key(k) for k in keys]
    return _u32s(map(len, encoded)), b"".join(encoded)


def _unpack_many(packed) -> list:
    """The values of a page's MessagePack array (decoded as ``_codec.decode`` decodes one)."""
    if packed is None:
        return []
    try:
        return _codec.unpack_msgpack(packed)
    except Exception as exc:
        raise InvalidArgument(f"cannot decode stored value: {exc}") from exc


def _mapped(exc: BaseException, key=None, decoding: bool = False) -> BaseException:
    return map_native_error(exc, key=key, decoding=decoding)


def _decode_value(kind: int, payload, allow_pickle: bool) -> Any:
    try:
        return _DECODE(kind, payload, allow_pickle)
    except KohakuVaultError:
        raise
    except Exception as exc:
        raise InvalidArgument(f"cannot decode stored value: {exc}") from exc


def _stream_copy(reader: BinaryIO, writer: BinaryIO, chunk_size: int = 1 << 20) -> int:
    """Copy binary chunks, accounting only for bytes accepted by the sink."""
    total = 0
    while True:
        chunk = reader.read(chunk_size)
        if not chunk:
            return total
        total += _write_all(writer, chunk)


def _write_all(writer, view) -> int:
    """Write ``view`` (bytes or memoryview) fully; ``write`` must return an int in 1..len
    (short writes resend the rest)."""
    length = len(view)
    done = 0
    while done < length:
        part = view[done:] if done else view
        n = writer.write(part)
        if type(n) is not int or n <= 0 or n > length - done:
            raise InvalidArgument("writer.write() must return a positive byte count")
        done += n
    return length


def _remaining_size(reader) -> Optional[int]:
    """Bytes left in a file-like reader (fstat, then seek/tell), or None if unknown."""
    try:
        fileno = reader.fileno()
        st = os.fstat(fileno)
        import stat

        if stat.S_ISREG(st.st_mode):
            try:
                pos = reader.tell()
            except (OSError, AttributeError, ValueError):
                pos = os.lseek(fileno, 0, os.SEEK_CUR)
            return max(st.st_size - pos, 0)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass
    try:
        if reader.seekable():
            pos = reader.tell()
            end = reader.seek(0, os.SEEK_END)
            reader.seek(pos, os.SEEK_SET)
            return max(end - pos, 0)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass
    return None


class _Combiner:
    """Puts not yet handed to the core: ``items`` of (key, kind, payload).

    Puts append without a lock (``list.append`` is atomic) to a list that is never replaced;
    drains hold ``lock`` and delete only the prefix they sent, so an append racing with a drain
    is never lost. ``size`` (bytes appended since the last drain) is a heuristic only.
    """

    __slots__ = ("lock", "items", "size")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[bytes, int, bytes]] = []
        self.size = 0


# Open vaults (id -> weak reference): closed at interpreter exit so pending writes are kept.
# (KVault is unhashable, as a Mapping with __eq__, so a WeakSet cannot hold it.)
_live_vaults: dict[int, weakref.ref] = {}


def _track(vault: KVault) -> None:
    key = id(vault)

    def forget(ref, key=key):
        if _live_vaults.get(key) is ref:
            del _live_vaults[key]

    _live_vaults[key] = weakref.ref(vault, forget)


def _untrack(vault: KVault) -> None:
    ref = _live_vaults.get(id(vault))
    if ref is not None and ref() is vault:
        del _live_vaults[id(vault)]


@atexit.register
def _close_live_vaults() -> None:  # exercised by the subprocess tests
    for ref in list(_live_vaults.values()):
        vault = ref()
        if vault is not None:
            vault._finalize()


def _point_read(raise_missing: bool):
    """``get`` (missing: ``default``) and ``__getitem__`` (missing: ``KeyError``) from one body,
    so the hot path of every point read is a single Python call."""

    def read(self, key: KeyType, default: Any = None) -> Any:
        if self._closed or self._streams:
            self._check()
        k = key if type(key) is bytes else _to_bytes_key(key)
        if self._wc.items:
            self._drain()
        get2 = self._get2
        if get2 is not None and len(k) <= _KEY_MAX:  # int-sized arguments only
            # The C fast path: (len << 8) | kind, -2 missing; anything else takes _fetch.
            buf, cap, view = _FAST_TLS.get2_state
            r = get2(self._fh, k, len(k), buf, cap)
            if r >= 0:
                if r & 0xFF == _RAW:
                    return view[: r >> 8].tobytes()
                return _decode_value(r & 0xFF, view[: r >> 8].tobytes(), self._allow_pickle)
            if r == -2:
                if raise_missing:
                    raise KeyError(key)
                return default
        found = self._fetch(k)  # too big for the buffer, an error, or no fast path
        if found is None:
            if raise_missing:
                raise KeyError(key)
            return default
        kind, payload = found
        if kind == _RAW:
            return payload
        return _decode_value(kind, payload, self._allow_pickle)

    if raise_missing:
        read.__name__ = "__getitem__"
        read.__doc__ = "The decoded value of ``key``; ``KeyError`` if it is absent."
    else:
        read.__name__ = "get"
        read.__doc__ = "The decoded value of ``key``, or ``default`` if it is absent."
    read.__qualname__ = f"KVault.{read.__name__}"
    return read


class KVault(Mapping):
    """A key-value vault in one SQLite file (``bytes``/``str`` keys, auto-packed values).

    Drop-in compatible with kohakuvault 1.1.0's ``KVault``. Extra keyword: ``allow_pickle``
    (default True); with ``allow_pickle=False`` reading a pickled value raises
    :class:`InvalidArgument` instead of running ``pickle.loads`` (reading pickle is code execution).
    """

    def __init__(
        self,
        path: PathLike,
        *,
        chunk_size: int = 1 << 20,
        retries: int = 4,
        backoff_base: float = 0.02,
        table: str = "kv",
        enable_wal: bool = True,
        page_size: int = 32768,
        mmap_size: int = 268_435_456,
        cache_kb: int = 100_000,
        read_only: bool = False,
        reader_cache_kb: int = 8192,
        reader_idle_limit: int = 8,
        allow_pickle: bool = True,
    ):
        self._closed = True  # until the core is open (keeps __del__ of a failed init quiet)
        self._closing = False
        try:
            path_str = os.fspath(path)
        except TypeError as exc:
            raise InvalidArgument(f"Invalid path: {path!r}") from exc
        if isinstance(path_str, bytes):
            path_str = os.fsdecode(path_str)
        if not isinstance(path_str, str):
            raise InvalidArgument(f"Invalid path: {path!r}")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
            raise InvalidArgument("chunk_size must be an integer")
        if chunk_size <= 0:
            raise InvalidArgument("chunk_size must be positive")
        if (
            not isinstance(retries, int)
            or retries < 1
            or not isinstance(backoff_base, (int, float))
            or not math.isfinite(backoff_base)
            or backoff_base < 0
        ):
            raise InvalidArgument("retries must be positive and backoff_base finite/nonnegative")
        if not isinstance(table, str):
            raise InvalidArgument("table must be a str")
        for name, value, top in (
            ("page_size", page_size, _U32_MAX),
            ("mmap_size", mmap_size, (1 << 64) - 1),
            ("cache_kb", cache_kb, _U32_MAX),
            ("reader_idle_limit", reader_idle_limit, _U32_MAX),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidArgument(f"{name} must be an integer")
            if value < 0:
                raise InvalidArgument(f"{name} must be nonnegative")
            if value > top:
                raise InvalidArgument(f"{name} is too large")
        if (
            isinstance(reader_cache_kb, bool)
            or not isinstance(reader_cache_kb, int)
            or reader_cache_kb <= 0
        ):
            raise InvalidArgument("reader_cache_kb must be positive")
        if reader_cache_kb > _U32_MAX:
            raise InvalidArgument("reader_cache_kb is too large")

        options = N.OpenOptions(
            read_only=bool(read_only),
            enable_wal=bool(enable_wal),
            page_size=page_size,
            mmap_size=mmap_size,
            cache_kb=cache_kb,
            reader_cache_kb=reader_cache_kb,
            reader_idle_limit=reader_idle_limit,
            busy_timeout_ms=5000,
        )
        try:
            store = N.KvStore(path_str, table, options)
        except VaultError.NotFound as exc:
            raise KohakuVaultError(getattr(exc, "reason", str(exc))) from exc
        except Exception as exc:
            raise _mapped(exc) from exc

        self._store = store
        self._path = path_str
        self._table = table
        self._read_only = bool(read_only)
        self._chunk = chunk_size
        self._retries = retries
        self._backoff = float(backoff_base)
        self._allow_pickle = bool(allow_pickle)
        self._auto_pack = True
        self._use_pickle = True
        self._lifecycle = threading.RLock()
        self._wc = _Combiner()
        self._combine = False  # True while puts go to the combiner
        self._cache_cap = 0  # the core cache's capacity while enabled
        self._lock_depth = 0
        self._streams = 0
        self._bg_error: Optional[BaseException] = None
        self._drain_stop: Optional[threading.Event] = None
        self._fh = self._store.fast_handle() if FAST.available else 0
        self._get2 = None  # kv_fast_get2 while it applies (see _refresh_fast)
        if FAST.available:
            pooled = path_str != ":memory:" and not path_str.startswith("file:")
            self._fast_get = FAST.get_gil if pooled else FAST.get
            self._get2_fn = FAST.get2_gil_fn if pooled else FAST.get2_fn
        self._closed = False
        self._refresh_fast()
        _track(self)

    # ------------------------------------------------------------------ internals

    def _check(self) -> None:
        if self._closed:
            raise closed_error()
        if self._streams and id(self) in getattr(_callbacks, "ids", ()):
            raise KohakuVaultError(_REENTRANT)

    def _call(self, fn, *args, key=None, decoding=False):
        """Call the core once; typed errors become kohakuvault errors."""
        try:
            return fn(*args)
        except Exception as exc:
            raise _mapped(exc, key, decoding) from exc

    def _retry(self, fn, *args, key=None, decoding=False):
        """Call the core, retrying busy errors ``retries`` times with exponential backoff."""
        delay = self._backoff
        attempt = 1
        while True:
            try:
                return fn(*args)
            except VaultError.Busy as exc:
                if attempt >= self._retries:
                    raise _mapped(exc, key) from exc
            except DatabaseBusy:
                if attempt >= self._retries:
                    raise
            except Exception as exc:
                raise _mapped(exc, key, decoding) from exc
            time.sleep(delay)
            delay *= 2
            attempt += 1

    def _refresh_fast(self) -> None:
        """Point reads take kv_fast_get2 while the vault is open with auto-pack on."""
        fh = self._fh
        usable = _FAST_PAGES and 0 < fh < (1 << 31) and self._auto_pack and not self._closed
        self._get2 = self._get2_fn if usable else None

    def _drain_locked(self) -> None:
        items = self._wc.items
        n = len(items)
        if n:
            keys, kinds, payloads = zip(*items[:n])
            columns = (
                bytes(kinds),
                _u32s(map(len, keys)),
                _u32s(map(len, payloads)),
                b"".join(keys),
                b"".join(payloads),
            )
            try:
                self._store.cache_put_many_columns(*columns)
            except VaultError.Busy:
                # The core could not take the batch (its write gate timed out): keep it; resending
                # is idempotent (the same puts in the same order, last write wins).
                raise
            except Exception:
                # Any other error comes after the core admitted every item (e.g. a failed flush;
                # the core keeps the data pending), or means the store is closed.
                del items[:n]
                self._wc.size = 0
                raise
            del items[:n]
            self._wc.size = 0

    def _drain(self) -> None:
        """Hand buffered puts to the core (before any other operation: read-your-writes)."""
        if self._wc.items:
            with self._wc.lock:
                self._retry(self._drain_locked)

    def _pack(self, value: Any) -> tuple[int, bytes]:
        if self._auto_pack:
            try:
                return _ENCODE(value, self._use_pickle)
            except KohakuVaultError:
                raise
            except Exception as exc:
                raise _mapped(exc) from exc
        t = type(value)
        if t is bytes:
            return _RAW, value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _RAW, bytes(value)
        raise InvalidArgument("value must be bytes-like (or enable auto-pack)")

    def _fetch(self, k: bytes):
        """(kind, payload) of a key, or None. Auto-pack off: (0, stored bytes)."""
        if self._auto_pack:  # the C fast path first, the uniffi call for errors
            fh = self._fh
            if fh:
                found = self._fast_get(fh, k)
                if found is not False:
                    return found
            tv = self._retry(self._store.get, k, key=k, decoding=True)
            return None if tv is None else (tv.kind, tv.payload)
        stored = self._retry(self._store.get_stored, k, key=k)
        return None if stored is None else (_RAW, stored)

    def _set_combine(self) -> None:
        self._combine = bool(self._cache_cap) and self._lock_depth == 0 and not self._closed

    def _finalize(self) -> None:
        """Drain and close; called by __del__ and at interpreter exit (DECISIONS 8)."""
        if getattr(self, "_closed", True):
            return
        try:
            if self._lock_depth:
                self._lock_depth = 0
                self._store.set_cache_locked(False)
            self.close()
        except Exception as exc:
            try:
                warnings.warn(
                    f"KVault({self._path!r}) was not closed and flushing its pending writes "
                    f"failed: {exc}",
                    ResourceWarning,
                    stacklevel=2,
                )
            except Exception:
                pass

    def __del__(self):
        self._finalize()

    # ------------------------------------------------------------------ mapping protocol

    def __delitem__(self, key: KeyType) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        try:
            return self.exists(key)  # type: ignore[arg-type]
        except Exception:
            return False

    def __len__(self) -> int:
        self._check()
        self._drain()
        return self._call(self._store.len)

    def __iter__(self) -> Iterator[bytes]:
        return self.keys()

    def __enter__(self) -> KVault:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            return f"KVault({self._path!r}, status=closed, keys=?)"
        try:
            count: Any = len(self)
        except Exception:
            count = "?"
        return f"KVault({self._path!r}, status=open, keys={count})"

    # ------------------------------------------------------------------ point operations

    get = _point_read(raise_missing=False)
    __getitem__ = _point_read(raise_missing=True)

    def put(self, key: KeyType, value: Any) -> None:
        """Store ``value`` under ``key`` (through the write-back cache when it is enabled)."""
        if self._closed or self._streams:
            self._check()
        k = key if type(key) is bytes else _to_bytes_key(key)
        t = type(value)
        if t is bytes:
            kind = _RAW
            payload = value
        elif t is dict and self._auto_pack:
            try:  # the common structured value, without the general encoder's dispatch
                payload = _PACKERS.strict.pack(value)
                kind = _MSGPACK
            except (TypeError, ValueError, OverflowError):
                kind, payload = self._pack(value)
        else:
            kind, payload = self._pack(value)
        if self._combine:
            size = len(k) + len(payload)
            if size <= self._cache_cap and len(k) <= _KEY_MAX:
                wc = self._wc
                items = wc.items
                items.append((k, kind, payload))
                wc.size += size
                # Drain when full, and when a concurrent close/lock/disable turned combining
                # off around the append (its own drain may have missed this item).
                if len(items) >= _COMBINE_ITEMS or wc.size >= _COMBINE_BYTES or not self._combine:
                    self._drain()
                return
        if self._wc.items:
            self._drain()
        self._retry(self._store.put, k, kind, payload)

    __setitem__ = put

    def delete(self, key: KeyType) -> bool:
        """Delete ``key`` (committed on return). True if it existed."""
        self._check()
        k = _to_bytes_key(key)
        self._drain()
        return self._retry(self._store.delete, k, key=k)

    def exists(self, key: KeyType) -> bool:
        self._check()
        k = _to_bytes_key(key)
        self._drain()
        return self._retry(self._store.exists, k, key=k)

    def pop(self, key: KeyType, default: Any = _MISSING) -> Any:
        """Atomically read and delete ``key``."""
        self._check()
        k = _to_bytes_key(key)
        self._drain()
        tv = self._call(self._store.pop, k, key=k, decoding=True)
        if tv is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        if not self._auto_pack:
            if tv.kind == _RAW:
                return tv.payload
            return self._call(N.encode_value, tv.kind, tv.payload, True)
        return _decode_value(tv.kind, tv.payload, self._allow_pickle)

    def setdefault(self, key: KeyType, default: Any = None) -> Any:
        """The existing value of ``key``, or store ``default`` and return it (decoded)."""
        self._check()
        k = _to_bytes_key(key)
        self._drain()
        if self._read_only:
            found = self._fetch(k)
            if found is not None:
                return self._decoded(found)
            raise map_native_error(VaultError.ReadOnly("KVault is read-only"))
        try:
            kind, payload = self._pack(default)
        except KohakuVaultError:
            found = self._fetch(k)  # an unused default need not be serializable
            if found is not None:
                return self._decoded(found)
            raise
        tv = self._call(self._store.setdefault, k, kind, payload, key=k, decoding=True)
        if tv is None:
            return self._decoded((kind, payload))
        if not self._auto_pack:
            found = self._fetch(k)
            return tv.payload if found is None else found[1]
        return _decode_value(tv.kind, tv.payload, self._allow_pickle)

    def _decoded(self, found) -> Any:
        kind, payload = found
        if kind == _RAW:
            return payload
        return _decode_value(kind, payload, self._allow_pickle)

    def update(self, other=(), **kwargs) -> None:
        """Put many pairs: a Mapping, an iterable of pairs, then keyword arguments.

        Consumed in chunks of at most 1024 pairs, each committed atomically via ``put_many``.
        """
        self._check()
        if isinstance(other, Mapping):
            source = iter(other.items())
        elif hasattr(other, "keys"):
            source = ((k, other[k]) for k in other.keys())
        else:
            source = iter(other)
        pairs = chain(source, kwargs.items())
        while True:
            chunk = list(islice(pairs, 1024))
            if not chunk:
                return
            self.put_many(chunk)

    def clear(self) -> None:
        """Delete every key of this table (one transaction)."""
        self._check()
        self._drain()
        self._call(self._store.clear)

    # ------------------------------------------------------------------ batches

    def put_many(self, items: list | tuple) -> None:
        """Store many (key, value) pairs in one atomic transaction (bypasses the cache)."""
        if not isinstance(items, (list, tuple)):
            raise InvalidArgument("put_many requires a list or tuple of key/value pairs")
        self._check()
        if items and set(map(type, items)) <= _PAIR_TYPES and set(map(len, items)) == {2}:
            keys, values = zip(*items)
        else:
            keys, values = [], []
            for item in items:
                if not isinstance(item, (list, tuple)):
                    raise InvalidArgument("each batch item must be a list or tuple")
                if len(item) != 2:
                    raise InvalidArgument("each batch item must contain exactly (key, value)")
                keys.append(item[0])
                values.append(item[1])
        key_lens, key_blob = _key_column(keys)
        kinds, value_lens, value_blob = self._value_columns(values)
        self._check()
        self._drain()
        self._call(self._store.put_many_columns, kinds, key_lens, value_lens, key_blob, value_blob)

    def _value_columns(self, values) -> tuple[bytes, bytes, bytes]:
        """(kinds, u32 lengths, concatenated payloads) of values, packed as ``put`` would."""
        types = set(map(type, values))
        payloads = None
        if types == {bytes} or not values:
            kinds = bytes(len(values))
            payloads = values
        elif self._auto_pack and types <= _PAIR_TYPES | {dict}:
            pack = _codec.msgpack_packer()
            try:  # plain dicts/lists: MessagePack in one pass (anything else fails over below)
                payloads = list(map(pack, values))
                kinds = bytes((_MSGPACK,)) * len(values)
            except (TypeError, ValueError, OverflowError):
                payloads = None
        if payloads is None:
            kind_list = bytearray(len(values))
            payloads = list(values)
            pack = self._pack
            for i, value in enumerate(values):
                if type(value) is not bytes:
                    kind_list[i], payloads[i] = pack(value)
            kinds = bytes(kind_list)
        try:
            lens = _u32s(map(len, payloads))
        except OverflowError:
            raise InvalidArgument("value larger than 4 GiB cannot be batched") from None
        return kinds, lens, b"".join(payloads)

    def get_many(self, keys: list | tuple, default: Any = None) -> list[Any]:
        """Values for ``keys`` in order (``default`` for missing ones), from one read snapshot."""
        if not isinstance(keys, (list, tuple)):
            raise InvalidArgument("get_many requires a list or tuple of keys")
        self._check()
        key_lens, key_blob = _key_column(keys)
        self._drain()
        auto = self._auto_pack
        page = None
        if self._fh and _FAST_PAGES:
            page = FAST.get_many(self._fh, key_lens, key_blob, auto)
        if page is None:  # no fast path, or an error: the UDL call (typed errors)
            return self._get_many_packed(key_lens, key_blob, len(keys), default)
        values, special, _, packed, n_packed = page
        if not special:
            return values
        decoded = _unpack_many(packed)
        if n_packed == len(values):
            return decoded  # every value was MessagePack: decoded in one call
        decoded = iter(decoded)
        allow = self._allow_pickle
        for i, value in enumerate(values):
            t = type(value)
            if t is bytes or t is dict or t is list:  # raw, or a MessagePack map/array as is
                continue
            if value is None:
                values[i] = default
            elif t is int:  # the MessagePack marker: the next packed value
                values[i] = next(decoded)
            else:
                values[i] = _decode_value(value[0], value[1], allow)
        return values

    def _get_many_packed(self, key_lens: bytes, key_blob: bytes, n: int, default: Any) -> list:
        """get_many through the UDL operation and its packed result (docs/FORMAT.md §4)."""
        lens = struct.unpack(f"<{n}I", key_lens)
        parts = []
        off = 0
        for length in lens:
            parts.append(_U32.pack(length))
            parts.append(key_blob[off : off + length])
            off += length
        request = b"".join(parts)
        if self._auto_pack:
            result = self._call(self._store.get_many, request, decoding=True)
        else:
            result = self._call(self._store.get_many_stored, request)
        out = []
        append = out.append
        unpack = _STATUS.unpack_from
        allow = self._allow_pickle
        off = 0
        for _ in range(n):
            status, length = unpack(result, off)
            start = off + 5
            off = start + length
            if status == _RAW:
                append(result[start:off])
            elif status == _MISSING_STATUS:
                append(default)
            else:
                append(_decode_value(status, result[start:off], allow))
        return out

    # ------------------------------------------------------------------ iteration

    def _pages(self, prefix, limit, batch_size, with_values: bool):
        """Pages in key order, each one read snapshot (docs/FORMAT.md §4.1): keys, or
        ``(entries, special, packed, n_packed)`` with values, where entries are ``(key, bytes)``,
        ``(key, dict | list)`` (decoded MessagePack), ``(key, None)`` (the next value of the
        MessagePack array ``packed``) or ``(key, kind, payload)``. Without ``batch_size`` a page holds up to 4096 entries or ~1 MiB.
        """
        if limit is not None:
            limit = operator.index(limit)
            if limit < 0:
                raise ValueError("limit must be nonnegative or None")
        if batch_size is None:
            page_items, max_bytes = _PAGE_ITEMS, _PAGE_BYTES
        else:
            page_items = operator.index(batch_size)
            if page_items <= 0:
                raise ValueError("batch_size must be positive")
            max_bytes = _NO_BYTE_LIMIT
        p = None if prefix is None else _to_bytes_key(prefix)
        after = None
        remaining = limit
        decoded = self._auto_pack
        flags = (1 if with_values else 0) | (2 if decoded else 0)
        while remaining is None or remaining > 0:
            n = page_items if remaining is None else min(page_items, remaining)
            n = min(n, _U32_MAX)
            self._check()
            self._drain()
            page = None
            if self._fh and _FAST_PAGES:
                page = FAST.scan(self._fh, p, after, n, max_bytes, flags)
            if page is None:  # no fast path, or an error: the UDL call (typed errors)
                page = self._scan_packed(p, after, n, with_values, decoded)
            entries, special, end, packed, n_packed = page
            if not entries:
                return
            yield (entries, special, packed, n_packed) if with_values else entries
            if remaining is not None:
                remaining -= len(entries)
            if end:
                return
            after = entries[-1][0] if with_values else entries[-1]

    def _scan_packed(self, prefix, after, n: int, with_values: bool, decoded: bool):
        """One page through the UDL ``scan`` (packed layout), shaped like a fast-path page."""
        request = N.ScanRequest(
            prefix=prefix, after=after, limit=n, with_values=with_values, decoded=decoded
        )
        page = self._retry(self._store.scan, request, decoding=True)
        unpack_u32 = _U32.unpack_from
        entries = []
        append = entries.append
        special = 0
        off = 0
        end = len(page)
        while off < end:
            (klen,) = unpack_u32(page, off)
            kend = off + 4 + klen
            key = page[off + 4 : kend]
            if not with_values:
                append(key)
                off = kend
                continue
            kind, vlen = _STATUS.unpack_from(page, kend)
            off = kend + 5 + vlen
            if kind == _RAW:
                append((key, page[kend + 5 : off]))
            else:
                append((key, kind, page[kend + 5 : off]))
                special += 1
        return entries, special, len(entries) < n, None, 0

    def _page_items(self, page) -> Iterator[tuple[bytes, Any]]:
        """(key, decoded value) pairs of one page from ``_pages``."""
        entries, special, packed, n_packed = page
        if not special:
            return iter(entries)
        decoded = _unpack_many(packed)
        if n_packed == len(entries):
            return zip(map(_FIRST, entries), decoded)
        return self._mixed_items(entries, iter(decoded))

    def _mixed_items(self, entries, decoded) -> Iterator[tuple[bytes, Any]]:
        allow = self._allow_pickle
        for entry in entries:
            if len(entry) == 2:
                if entry[1] is None:
                    yield entry[0], next(decoded)
                else:
                    yield entry
            else:
                yield entry[0], _decode_value(entry[1], entry[2], allow)

    def keys(
        self,
        prefix: Optional[KeyType] = None,
        limit: int | None = None,
        *,
        batch_size: Optional[int] = None,
    ) -> Iterator[bytes]:
        """Keys (always ``bytes``) in byte order, optionally under ``prefix`` / up to ``limit``.

        ``batch_size``: entries per page (one snapshot each); by default pages adapt to the
        entry sizes (up to 4096 entries, ~1 MiB).
        """
        for entries in self._pages(prefix, limit, batch_size, False):
            yield from entries

    def items(
        self,
        prefix: Optional[KeyType] = None,
        limit: int | None = None,
        *,
        batch_size: Optional[int] = None,
    ) -> Iterator[tuple[bytes, Any]]:
        """(key, decoded value) pairs in key order (``batch_size`` as in :meth:`keys`)."""
        for page in self._pages(prefix, limit, batch_size, True):
            yield from self._page_items(page)

    def values(
        self,
        prefix: Optional[KeyType] = None,
        limit: int | None = None,
        *,
        batch_size: Optional[int] = None,
    ) -> Iterator[Any]:
        """Decoded values in key order (``batch_size`` as in :meth:`keys`)."""
        for page in self._pages(prefix, limit, batch_size, True):
            yield from map(_SECOND, self._page_items(page))

    # ------------------------------------------------------------------ streaming

    @contextmanager
    def _callback_scope(self):
        ids = getattr(_callbacks, "ids", None)
        if ids is None:
            ids = _callbacks.ids = set()
        mine = id(self)
        nested = mine in ids
        ids.add(mine)
        self._streams += 1
        try:
            yield
        finally:
            self._streams -= 1
            if not nested:
                ids.discard(mine)

    def _chunk_size(self, chunk_size) -> int:
        if chunk_size is None:
            return self._chunk
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
            raise InvalidArgument("chunk_size must be an integer")
        if chunk_size <= 0:
            raise InvalidArgument("chunk_size must be positive")
        if chunk_size > _BLOB_MAX:
            raise InvalidArgument("chunk_size exceeds 2^31-1")
        return chunk_size

    def put_file(
        self,
        key: KeyType,
        reader: Union[BinaryIO, bytes, bytearray, memoryview],
        *,
        size: Optional[int] = None,
        chunk_size: Optional[int] = None,
    ) -> None:
        """Stream ``size`` bytes from ``reader`` into ``key`` (stored raw; published atomically).

        ``reader`` is bytes-like (a plain put) or has ``read(n)`` returning ``bytes``. Without
        ``size`` the remaining length is taken from fstat or seek/tell; if neither works the
        stream is read into memory first.
        """
        self._check()
        k = _to_bytes_key(key)
        if isinstance(reader, (bytes, bytearray, memoryview)):
            self.put(k, bytes(reader))
            return
        if not hasattr(reader, "read"):
            raise InvalidArgument("reader must be file-like or bytes-like")
        chunk = self._chunk_size(chunk_size)
        if size is None:
            size = _remaining_size(reader)
            if size is None:  # unknown length: buffer the stream, then a plain put
                parts = []
                with self._callback_scope():
                    while True:
                        data = reader.read(chunk)
                        if not isinstance(data, (bytes, bytearray)):
                            raise InvalidArgument("reader.read() must return bytes")
                        if not data:
                            break
                        parts.append(bytes(data))
                self.put(k, b"".join(parts))
                return
        if isinstance(size, bool) or not isinstance(size, int):
            raise InvalidArgument("size must be an integer")
        if size < 0:
            raise InvalidArgument("size must be nonnegative")
        if size > _BLOB_MAX:
            raise InvalidArgument("stream size exceeds SQLite BLOB limit")
        self._drain()
        stream = self._call(self._store.put_stream, k, size)
        try:
            written = 0
            write = stream.write
            with self._callback_scope():
                while written < size:
                    want = min(chunk, size - written)
                    data = reader.read(want)
                    if type(data) is not bytes or len(data) > want:
                        raise InvalidArgument("reader.read() must return bytes")
                    if not data:
                        raise KohakuVaultError(f"short write: wrote {written} of {size} bytes")
                    write(data)
                    written += len(data)
            stream.finish()
        except BaseException as exc:
            try:
                stream.abort()
            except Exception:
                pass
            if isinstance(exc, Exception) and not isinstance(exc, KohakuVaultError):
                raise _mapped(exc) from exc
            raise

    def get_to_file(
        self, key: KeyType, writer: BinaryIO, *, chunk_size: Optional[int] = None
    ) -> int:
        """Stream the raw stored bytes of ``key`` (header included) into ``writer``; returns the size."""
        self._check()
        k = _to_bytes_key(key)
        if not hasattr(writer, "write"):
            raise InvalidArgument("writer must be a file-like object with write()")
        chunk = self._chunk_size(chunk_size)
        self._drain()
        try:
            stream = self._store.get_stream(k)
        except VaultError.NotFound as exc:
            raise NotFound(k) from exc
        except Exception as exc:
            raise _mapped(exc, k) from exc
        try:
            total = stream.size()
            if total == 0:
                return 0
            cap = min(chunk, total)
            buf = bytearray(cap)
            view = memoryview(buf)
            # io objects copy what they are given, so they can take views of one reused buffer;
            # other writers get their own bytes (they may keep them).
            zero_copy = isinstance(writer, io.IOBase)
            handle = stream.fast_handle() if FAST.available else 0
            address = 0
            if handle:
                import ctypes

                carrier = (ctypes.c_char * cap).from_buffer(buf)
                address = ctypes.addressof(carrier)
            done = 0
            with self._callback_scope():
                while True:
                    if handle:
                        n = FAST.stream_read(handle, address, cap)
                        if n < 0:
                            handle = 0
                            continue
                        part = view[:n]
                    else:
                        data = self._call(stream.read, cap)
                        n = len(data)
                        part = memoryview(data)
                    if n == 0:
                        break
                    _write_all(writer, part if zero_copy else part.tobytes())
                    done += n
            return done
        finally:
            try:
                stream.close()
            except Exception:
                pass

    # ------------------------------------------------------------------ write-back cache

    def enable_cache(
        self,
        *,
        cap_bytes: int = 64 << 20,
        flush_threshold: int = 16 << 20,
        flush_interval: Optional[float] = None,
    ) -> None:
        """Enable (or replace) the write-back cache; an existing cache is flushed first."""
        for value in (cap_bytes, flush_threshold):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidArgument("cache sizes must be positive")
        interval = None
        if flush_interval is not None:
            try:
                interval = float(flush_interval)
            except (TypeError, ValueError):
                raise InvalidArgument("flush_interval must be finite and positive") from None
            if not math.isfinite(interval) or interval <= 0:
                raise InvalidArgument("flush_interval must be finite and positive")
        self._check()
        threshold = min(flush_threshold, cap_bytes)
        with self._lifecycle:
            with self._wc.lock:
                self._combine = False
                try:
                    self._retry(self._drain_locked)
                    self._call(self._store.enable_cache, cap_bytes, threshold, interval)
                    self._cache_cap = cap_bytes
                finally:
                    self._set_combine()
            self._bg_error = None
            self._start_drainer(interval)

    def disable_cache(self) -> None:
        """Flush and remove the cache (``DatabaseBusy`` while ``lock_cache`` is held)."""
        self._check()
        with self._lifecycle:
            self._stop_drainer()
            self.flush_cache()
            with self._wc.lock:
                self._combine = False
                try:
                    self._retry(self._drain_locked)
                    self._call(self._store.disable_cache)
                    self._cache_cap = 0
                finally:
                    self._set_combine()

    def flush_cache(self) -> int:
        """Commit the cached writes; returns the number of entries (0 when closed or locked)."""
        if self._closed:
            return 0
        self._check()
        self._drain()
        count = self._call(self._store.flush_cache)
        if count:
            self._bg_error = None
        return count

    @contextmanager
    def cache(
        self,
        cap_bytes: int = 64 << 20,
        flush_threshold: Optional[int] = None,
        auto_flush: bool = True,
    ):
        """Enable the cache for a block; on exit flush (if ``auto_flush``) and disable it."""
        threshold = cap_bytes // 4 if flush_threshold is None else flush_threshold
        self.enable_cache(cap_bytes=cap_bytes, flush_threshold=threshold)
        try:
            yield self
        finally:
            if auto_flush:
                self.flush_cache()
            self.disable_cache()

    @contextmanager
    def lock_cache(self):
        """Suppress cache flushes for a block (nestable). Not a transaction."""
        with self._lifecycle:
            if self._closed or self._closing:
                raise ValueError("Cannot lock cache on a closing or closed KVault")
            if self._lock_depth == 0:
                with self._wc.lock:
                    self._combine = False
                    try:
                        self._retry(self._drain_locked)
                    except BaseException:
                        self._set_combine()
                        raise
                    self._store.set_cache_locked(True)
            self._lock_depth += 1
        try:
            yield
        finally:
            with self._lifecycle:
                self._lock_depth -= 1
                if self._lock_depth == 0:
                    if not self._closed:
                        self._store.set_cache_locked(False)
                    with self._wc.lock:
                        self._set_combine()

    @property
    def background_flush_error(self) -> Optional[BaseException]:
        """The last background flush failure (or None); a successful flush clears it."""
        if self._bg_error is not None:
            return self._bg_error
        if self._closed:
            return None
        message = self._store.background_flush_error()
        return None if message is None else KohakuVaultError(message)

    def _start_drainer(self, interval: Optional[float]) -> None:
        """With ``flush_interval``, a daemon hands combiner contents to the core periodically,
        so the core's background flush sees them, and reports the first failure of that flush
        as a ``RuntimeWarning`` (as 1.1.0's daemon did), then stops."""
        self._stop_drainer()
        if interval is None:
            return
        stop = threading.Event()
        self._drain_stop = stop
        ref = weakref.ref(self)
        period = min(interval, 0.25)

        def run() -> None:
            while not stop.wait(period):
                vault = ref()
                if vault is None or vault._closed:
                    return
                try:
                    if vault._wc.items and vault._wc.lock.acquire(timeout=period):
                        try:
                            vault._drain_locked()
                        finally:
                            vault._wc.lock.release()
                    failure = vault._store.background_flush_error()
                except Exception as exc:
                    if vault._closed or stop.is_set():
                        return
                    vault._bg_error = _mapped(exc)
                    failure = f"KVault background flush failed: {exc}; call flush_cache() to retry"
                finally:
                    del vault
                if failure is not None and not stop.is_set():
                    warnings.warn(failure, RuntimeWarning, stacklevel=1)
                    return

        thread = threading.Thread(target=run, name="kohakuvault-drain", daemon=True)
        thread.start()

    def _stop_drainer(self) -> None:
        stop = self._drain_stop
        if stop is not None:
            stop.set()
            self._drain_stop = None

    # ------------------------------------------------------------------ headers and auto-pack

    def enable_headers(self) -> None:
        self._check()
        self._drain()
        self._store.set_headers_enabled(True)
        if not self._read_only:
            self._call(self._store.register_feature, "headers_v1")

    def disable_headers(self) -> None:
        self._check()
        self._drain()
        self._store.set_headers_enabled(False)

    def headers_enabled(self) -> bool:
        self._check()
        return self._store.headers_enabled()

    def enable_auto_pack(self, use_pickle: bool = True) -> None:
        """Encode non-bytes values automatically (forces headers on)."""
        self._check()
        self._drain()
        self._auto_pack = True
        self._use_pickle = bool(use_pickle)
        self._refresh_fast()
        self._store.set_headers_enabled(True)
        if not self._read_only:
            self._call(self._store.register_feature, "auto_pack_v1")

    def disable_auto_pack(self) -> None:
        """Accept only bytes-like values and return stored bytes verbatim."""
        self._check()
        self._drain()
        self._auto_pack = False
        self._refresh_fast()

    def auto_pack_enabled(self) -> bool:
        self._check()
        return self._auto_pack

    # ------------------------------------------------------------------ maintenance

    def reader_pool_stats(self) -> dict:
        self._check()
        stats = self._store.reader_pool_stats()
        return {
            "idle_connections": stats.idle_connections,
            "sqlite_cache_bytes": stats.sqlite_cache_bytes,
        }

    def checkpoint(self) -> None:
        """PASSIVE WAL checkpoint; errors are ignored (as 1.1.0)."""
        if self._closed:
            return None
        try:
            self._drain()
            self._store.checkpoint()
        except Exception:
            pass
        return None

    def optimize(self) -> None:
        """``PRAGMA optimize`` and ``VACUUM`` (rewrites the file)."""
        self._check()
        self._drain()
        self._call(self._store.optimize)

    def close(self) -> None:
        """Flush pending writes and close. Idempotent; a failed flush leaves the vault open."""
        with self._lifecycle:
            if self._closed:
                return
            if self._closing:
                raise RuntimeError("KVault close is already in progress")
            if self._lock_depth > 0:
                raise DatabaseBusy("Cannot close KVault while cache is locked")
            self._closing = True
        try:
            self._stop_drainer()
            with self._wc.lock:
                self._combine = False
                try:
                    self._call(self._drain_locked)
                    self._call(self._store.close)
                except BaseException:
                    self._set_combine()
                    raise
                self._closed = True
                self._fh = 0
                self._get2 = None
                self._combine = False
        finally:
            self._closing = False
        _untrack(self)


# The 1.1.0 name of the closed-vault message, for callers that import it.
_CLOSED_MESSAGE = CLOSED_MESSAGE
