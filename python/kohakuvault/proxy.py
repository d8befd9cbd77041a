"""KVault: the key-value vault (the kohakuvault 1.1.0 API over the Rust ``KvStore``).

All storage, cache semantics and stored formats live in the Rust core. This facade maps Python
objects to (kind, payload) pairs (``_codec``), batches calls (one FFI call per logical batch),
and keeps a small write combiner in front of the core's write-back cache:

* With the cache enabled and not locked, ``put`` appends to a Python-side buffer that is sent as
  one ``cache_put_many`` call when it reaches ~512 items or ~256 KiB, and before *any* other
  operation on the vault, so reads always see acknowledged writes.
* Without a cache, ``put`` is a direct ``KvStore.put`` (committed on return).
* A vault that is garbage-collected (or still open at interpreter exit) drains the combiner and
  closes, which flushes the core's cache; a failure warns with ResourceWarning
  (docs/COMPATIBILITY.md §4.2).

Point reads and puts are written out here, each one Python call on its hot path. The other
concerns live in private modules: constructor arguments (``_kv_options``), key/value columns
(``_kv_buffers``), the combiner and open-vault registry (``_kv_combiner``), batch reads and
iteration (``_kv_pages``), streams (``_kv_streams``) and the cache drainer (``_kv_drainer``).
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from itertools import chain, islice
from pathlib import Path
from typing import Any, Optional, Union

from . import _codec
from ._errmap import CLOSED_MESSAGE, VaultError, closed_error, map_native_error
from ._ffi import ALLOW_PICKLE, FAILED, FAST, GET_STORED, KEY_STR, MISSING, RELEASE_GIL, N
from ._kv_buffers import (
    KEY_MAX,
    PAIR_TYPES,
    decode_value,
    key_column,
    to_bytes_key,
    u32s,
    value_columns,
)
from ._kv_combiner import COMBINE_BYTES, COMBINE_ITEMS, Combiner, track, untrack
from ._kv_drainer import start_drainer
from ._kv_options import open_options
from ._kv_pages import PagesMixin, fast_pages
from ._kv_streams import REENTRANT, StreamsMixin, in_callback
from ._kv_streams import stream_copy as _stream_copy  # noqa: F401  (kohakuvault.proxy API)
from .errors import DatabaseBusy, InvalidArgument, KohakuVaultError

__all__ = ["KVault"]

KeyType = Union[bytes, str]
PathLike = Union[str, Path, os.PathLike]

_MISSING = object()
_FAST_GET_PY = FAST.get_py
_FAST_PUT_MANY_PY = FAST.put_many_py
_FAST_PUT_MAX = (1 << 31) - 1  # kv_fast_put takes C int lengths
_ENCODE = _codec.encode
_RAW = _codec.RAW
_MSGPACK = _codec.MSGPACK
_PACKERS = _codec._PACKERS
# Names tests and 1.1.0-era callers import from here.
_to_bytes_key = to_bytes_key
_u32s = u32s
_key_column = key_column


def _mapped(exc: BaseException, key=None, decoding: bool = False) -> BaseException:
    return map_native_error(exc, key=key, decoding=decoding)


def _point_read(raise_missing: bool):
    """``get`` (missing: ``default``) and ``__getitem__`` (missing: ``KeyError``) from one body,
    so the hot path of every point read is a single Python call."""

    def read(self, key: KeyType, default: Any = None) -> Any:
        if self._closed or self._streams:
            self._check()
        if self._wc.items:
            self._drain()
        get = self._fast_get
        t = type(key)
        if get is not None:
            # The C fast path in every mode: the value itself (the stored bytes with auto-pack
            # off), MISSING, or FAILED (an error, for the UDL call to type). A str key crosses
            # as it is (KEY_STR: the core reads its UTF-8, the bytes key made below).
            if t is str:
                r = get(self._fh, key, self._fast_flags | KEY_STR)
            else:
                k = key if t is bytes else to_bytes_key(key)
                # Longer keys: the UDL call refuses them.
                r = get(self._fh, k, self._fast_flags) if len(k) <= KEY_MAX else FAILED
            if r is not FAILED:
                if r is MISSING:
                    if raise_missing:
                        raise KeyError(key)
                    return default
                return r
            need = None
        else:
            need = 0  # no builtin kv_get: _fetch tries kv_fast_get, then the UDL call
        if t is str:
            try:
                k = key.encode()
            except UnicodeEncodeError:
                k = to_bytes_key(key)  # raises InvalidArgument
        elif get is None:
            k = key if t is bytes else to_bytes_key(key)
        found = self._fetch(k, need)  # an error, or no fast path
        if found is None:
            if raise_missing:
                raise KeyError(key)
            return default
        kind, payload = found
        if kind == _RAW:
            return payload
        return decode_value(kind, payload, self._allow_pickle)

    if raise_missing:
        read.__name__ = "__getitem__"
        read.__doc__ = "The decoded value of ``key``; ``KeyError`` if it is absent."
    else:
        read.__name__ = "get"
        read.__doc__ = "The decoded value of ``key``, or ``default`` if it is absent."
    read.__qualname__ = f"KVault.{read.__name__}"
    return read


class KVault(PagesMixin, StreamsMixin, Mapping):
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
        path_str, options = open_options(
            path,
            chunk_size=chunk_size,
            retries=retries,
            backoff_base=backoff_base,
            table=table,
            enable_wal=enable_wal,
            page_size=page_size,
            mmap_size=mmap_size,
            cache_kb=cache_kb,
            read_only=read_only,
            reader_cache_kb=reader_cache_kb,
            reader_idle_limit=reader_idle_limit,
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
        self._wc = Combiner()
        self._combine = False  # True while puts go to the combiner
        self._cache_cap = 0  # the core cache's capacity while enabled
        self._lock_depth = 0
        self._streams = 0
        self._bg_error: Optional[BaseException] = None
        self._drain_stop: Optional[threading.Event] = None
        self._fh = self._store.fast_handle() if FAST.available else 0
        self._fast_get = None  # the builtin kv_get while it applies (see _refresh_fast)
        self._fast_read = None  # kv_fast_get (into a buffer), likewise
        self._fast_put = None  # kv_fast_put, likewise
        self._fast_flags = 0  # kv_get's flags (see _refresh_fast)
        self._read_flags = 0  # kv_fast_get's: GET_STORED with auto-pack off
        self._fast_read_fn = None
        # File-backed vaults read through pooled reader connections: with the GIL held (no GIL
        # hand-off per read, so threads sharing a vault scale); others may wait for the writer.
        self._pooled = path_str != ":memory:" and not path_str.startswith("file:")
        if FAST.available:
            self._fast_read_fn = FAST.get_gil if self._pooled else FAST.get
        self._closed = False
        self._refresh_fast()
        track(self)

    # ------------------------------------------------------------------ internals

    def _check(self) -> None:
        if self._closed:
            raise closed_error()
        if self._streams and in_callback(self):
            raise KohakuVaultError(REENTRANT)

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
        """Point reads take the builtin kv_get while the vault is open, in every mode: decoded with
        auto-pack on, the stored bytes (``GET_STORED``) with it off."""
        fh = self._fh
        usable = fast_pages() and 0 < fh < (1 << 31) and not self._closed
        self._fast_get = _FAST_GET_PY if usable else None
        self._fast_read = self._fast_read_fn if usable else None
        self._fast_put = FAST.put if usable else None
        self._fast_put_many = _FAST_PUT_MANY_PY if usable else None
        self._read_flags = 0 if self._auto_pack else GET_STORED
        self._fast_flags = (
            self._read_flags
            | (0 if self._pooled else RELEASE_GIL)
            | (ALLOW_PICKLE if self._allow_pickle else 0)
        )

    def _drain_locked(self) -> None:
        items = self._wc.items
        n = len(items)
        if n:
            keys, kinds, payloads = zip(*items[:n])
            columns = (
                bytes(kinds),
                u32s(map(len, keys)),
                u32s(map(len, payloads)),
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

    def _fetch(self, k: bytes, need: Optional[int] = 0):
        """(kind, payload) of a key, or None. Auto-pack off: (0, stored bytes).

        The C fast path first (``need``: the size it reported for a value too big for this
        thread's buffer; None: it reported an error, skip it), then the UDL call, which raises
        the typed error.
        """
        get = self._fast_read
        if get is not None and need is not None and len(k) <= KEY_MAX:
            found = FAST.read(get, self._fh, k, self._read_flags, need)
            if found is not False:
                return found
        if self._auto_pack:
            tv = self._retry(self._store.get, k, key=k, decoding=True)
            return None if tv is None else (tv.kind, tv.payload)
        stored = self._retry(self._store.get_stored, k, key=k)
        return None if stored is None else (_RAW, stored)

    def _set_combine(self) -> None:
        self._combine = bool(self._cache_cap) and self._lock_depth == 0 and not self._closed

    def _finalize(self) -> None:
        """Drain and close; called by __del__ and at interpreter exit (docs/COMPATIBILITY.md §4.2:
        an unclosed vault keeps its pending writes)."""
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
        k = key if type(key) is bytes else to_bytes_key(key)
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
            if size <= self._cache_cap and len(k) <= KEY_MAX:
                wc = self._wc
                items = wc.items
                items.append((k, kind, payload))
                wc.size += size
                # Drain when full, and when a concurrent close/lock/disable turned combining
                # off around the append (its own drain may have missed this item).
                if len(items) >= COMBINE_ITEMS or wc.size >= COMBINE_BYTES or not self._combine:
                    self._drain()
                return
        if self._wc.items:
            self._drain()
        put = self._fast_put
        # kv_fast_put: the same put without a uniffi call; on an error (-1) nothing is stored
        # and the UDL call below raises it typed (retrying busy errors).
        if (
            put is None
            or len(k) > KEY_MAX
            or type(payload) is not bytes
            or len(payload) > _FAST_PUT_MAX
            or put(self._fh, k, len(k), kind, payload, len(payload)) != 0
        ):
            self._retry(self._store.put, k, kind, payload)

    __setitem__ = put

    def delete(self, key: KeyType) -> bool:
        """Delete ``key`` (committed on return). True if it existed."""
        self._check()
        k = to_bytes_key(key)
        self._drain()
        return self._retry(self._store.delete, k, key=k)

    def exists(self, key: KeyType) -> bool:
        self._check()
        k = to_bytes_key(key)
        self._drain()
        return self._retry(self._store.exists, k, key=k)

    def pop(self, key: KeyType, default: Any = _MISSING) -> Any:
        """Atomically read and delete ``key``."""
        self._check()
        k = to_bytes_key(key)
        self._drain()
        auto = self._auto_pack
        tv = self._call(self._store.pop, k, auto, key=k, decoding=auto)
        if tv is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return self._decoded((tv.kind, tv.payload))

    def setdefault(self, key: KeyType, default: Any = None) -> Any:
        """The existing value of ``key``, or store ``default`` and return it (decoded)."""
        self._check()
        k = to_bytes_key(key)
        self._drain()
        if self._read_only:
            found = self._fetch(k)
            if found is not None:
                return self._decoded(found)
            raise _mapped(VaultError.ReadOnly("KVault is read-only"))
        try:
            kind, payload = self._pack(default)
        except KohakuVaultError:
            found = self._fetch(k)  # an unused default need not be serializable
            if found is not None:
                return self._decoded(found)
            raise
        auto = self._auto_pack
        tv = self._call(self._store.setdefault, k, kind, payload, auto, key=k, decoding=auto)
        if tv is None:
            return self._decoded((kind, payload))
        return self._decoded((tv.kind, tv.payload))

    def _decoded(self, found) -> Any:
        kind, payload = found
        if kind == _RAW:
            return payload
        return decode_value(kind, payload, self._allow_pickle)

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
        put = self._fast_put_many
        if put is not None and type(items) is list and items:
            # One builtin call (docs/FORMAT.md §5.1) when every pair is (str or bytes, bytes);
            # anything else, or an error, takes the general path below with nothing stored.
            self._drain()
            if put(self._fh, items) is True:
                return
        if items and set(map(type, items)) <= PAIR_TYPES and set(map(len, items)) == {2}:
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
        key_lens, key_blob = key_column(keys)
        kinds, value_lens, value_blob = value_columns(values, self._auto_pack, self._pack)
        self._check()
        self._drain()
        self._call(self._store.put_many_columns, kinds, key_lens, value_lens, key_blob, value_blob)

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
        """With ``flush_interval``, a daemon drains the combiner periodically (``_kv_drainer``)."""
        self._stop_drainer()
        if interval is not None:
            self._drain_stop = start_drainer(self, interval)

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

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` of the whole file: ``["ok"]`` when it is sound (an
        addition to the 1.1.0 API)."""
        self._check()
        self._drain()
        return self._call(self._store.integrity_check)

    def tables(self) -> list[str]:
        """The file's user tables, of every vault in it (an addition to the 1.1.0 API)."""
        self._check()
        self._drain()
        return self._call(self._store.tables)

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
                self._fast_get = None
                self._fast_read = None
                self._fast_put = None
                self._combine = False
        finally:
            self._closing = False
        untrack(self)


# The 1.1.0 name of the closed-vault message, for callers that import it.
_CLOSED_MESSAGE = CLOSED_MESSAGE
