"""What VectorKVault and TextVault share: 1.1.0's value rules (REFERENCE §1.5, §2.4), their
argument checks, the core's error mapping, opening the core, and the members that only forward
to the store (auto-pack and headers, checkpoint, close, the context manager, ``repr``).

A subclass sets ``_closed_message`` ("VectorKVault is closed", …), opens its store with
``_open_store`` and then calls ``_init_values``; everything else reads ``self._store``.
"""

from __future__ import annotations

import operator
import os
from typing import Any, TypeVar

from . import _codec
from ._errmap import VaultError, map_native_error
from ._kv_buffers import U32_MAX, decode_value
from .errors import InvalidArgument, KohakuVaultError

_RAW = _codec.RAW
_ENCODE = _codec.encode

_V = TypeVar("_V", bound="SearchVault")


def mapped(
    exc: BaseException, closed_message: str, *, by_id: bool = False, key=None, decoding=False
):
    """A core (or argument) error as 1.1.0's VectorKVault / TextVault raised it."""
    if isinstance(exc, VaultError.Closed):
        return InvalidArgument(closed_message)
    if isinstance(exc, VaultError.NotFound) and (by_id or key is not None):
        reason = getattr(exc, "reason", str(exc))
        if by_id:
            return KohakuVaultError(reason)  # "ID 5 not found"
        # 1.1.0's TextVault.get() raised KeyError("Key not found: …") through map_exception,
        # whose message is str() of that KeyError: "'Key not found: …'".
        return KohakuVaultError(str(KeyError(reason)))
    return map_native_error(exc, decoding=decoding)


def index(value, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidArgument(
            f"argument '{name}': '{type(value).__name__}' object cannot be interpreted as an "
            "integer"
        ) from None


def check_id(value) -> int:
    i = index(value, "id")
    if not -(1 << 63) <= i < (1 << 63):
        raise InvalidArgument(f"id out of range: {i}")
    return i


def check_k(k) -> int:
    k = index(k, "k")
    if k < 0:
        raise InvalidArgument(f"k must be nonnegative, got {k}")
    if k > U32_MAX:
        raise InvalidArgument(f"k is too large: {k}")
    return k


def path_str(path) -> str:
    """``path`` (str, bytes or os.PathLike) as the str the core opens."""
    s = os.fspath(path)
    if isinstance(s, bytes):
        s = os.fsdecode(s)
    return s


def check_dimensions(dimensions) -> int:
    dims = operator.index(dimensions)
    if dims <= 0:
        raise ValueError("dimensions must be positive")
    if dims > U32_MAX:
        raise ValueError(f"dimensions too large: {dims}")
    return dims


def open_store(factory, *args):
    """``factory(*args)`` (the core's constructor), its errors as 1.1.0's constructors raised
    them."""
    try:
        return factory(*args)
    except VaultError.InvalidArgument as exc:
        # 1.1.0 raised its constructor's validation errors as plain ValueError.
        raise ValueError(getattr(exc, "reason", str(exc))) from exc
    except VaultError.NotFound as exc:
        raise KohakuVaultError(getattr(exc, "reason", str(exc))) from exc
    except Exception as exc:
        raise map_native_error(exc) from exc


class SearchVault:
    """The private base of VectorKVault and TextVault (not public API)."""

    _closed_message = "vault is closed"
    _store: Any = None

    def _init_values(self, allow_pickle) -> None:
        self._auto_pack = True
        self._use_pickle = True
        self._allow_pickle = bool(allow_pickle)

    # ------------------------------------------------------------------ internals

    def _check(self) -> None:
        if self._store is None:
            raise InvalidArgument(self._closed_message)

    @property
    def _vault(self):
        store = self._store
        if store is None:
            raise InvalidArgument(self._closed_message)
        return store

    def _call(self, fn, *args, by_id: bool = False, key=None, decoding: bool = False):
        try:
            return fn(*args)
        except Exception as exc:
            raise mapped(
                exc, self._closed_message, by_id=by_id, key=key, decoding=decoding
            ) from exc

    def _pack(self, value: Any) -> tuple[int, bytes]:
        """1.1.0's VectorKVault / TextVault value rules: auto-pack on -> KVault's codec without
        its bytes-like step; off -> bytes-like values (and lists of byte values) only."""
        t = type(value)
        if t is bytes:
            return _RAW, value
        if self._auto_pack:
            try:
                return _ENCODE(value, self._use_pickle, bytes_like=False)
            except KohakuVaultError:
                raise
            except Exception as exc:
                raise map_native_error(exc) from exc
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _RAW, bytes(value)
        if t is list:
            try:
                return _RAW, bytes(value)
            except (TypeError, ValueError):
                pass
        raise InvalidArgument("Expected bytes or bytearray")

    def _value(self, tv) -> Any:
        if tv.kind == _RAW:
            return tv.payload
        return decode_value(tv.kind, tv.payload, self._allow_pickle)

    # ------------------------------------------------------------------ reads

    def exists(self, id: int) -> bool:
        store = self._vault
        return self._call(store.exists, check_id(id))

    # ------------------------------------------------------------------ auto-pack and headers

    def enable_auto_pack(self, use_pickle: bool = True) -> None:
        """Encode non-bytes values automatically (and write value headers); the default."""
        store = self._vault
        self._auto_pack = True
        self._use_pickle = bool(use_pickle)
        store.set_headers_enabled(True)

    def disable_auto_pack(self) -> None:
        """Accept only bytes-like values and return stored bytes verbatim."""
        self._check()
        self._auto_pack = False

    def auto_pack_enabled(self) -> bool:
        self._check()
        return self._auto_pack

    def enable_headers(self) -> None:
        self._vault.set_headers_enabled(True)

    def disable_headers(self) -> None:
        self._vault.set_headers_enabled(False)

    def headers_enabled(self) -> bool:
        return self._vault.headers_enabled()

    # ------------------------------------------------------------------ lifetime

    def checkpoint(self) -> tuple[int, int, int]:
        """PASSIVE WAL checkpoint: (busy, log frames, checkpointed frames)."""
        r = self._call(self._vault.checkpoint)
        return (r.busy, r.log_frames, r.checkpointed_frames)

    def close(self) -> None:
        """Close the vault and release the file (every write is already committed).
        Idempotent; later calls raise ``InvalidArgument("<vault> is closed")``."""
        store = self._store
        if store is None:
            return
        self._call(store.close)
        self._store = None

    @property
    def closed(self) -> bool:
        return self._store is None

    def __enter__(self: _V) -> _V:
        if self._store is None:
            raise ValueError(self._closed_message)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    # ------------------------------------------------------------------ dict-like protocol

    def __len__(self) -> int:
        return self.count()

    def __contains__(self, id: int) -> bool:
        """Whether the id ``id`` exists (an id, not a vector or a text, as 1.1.0)."""
        return self.exists(id)

    def count(self) -> int:
        """The number of vectors (VectorKVault) or documents (TextVault)."""
        return self._call(self._vault.count)

    def _repr_head(self) -> str:
        raise NotImplementedError

    def _repr_fields(self) -> str:
        """What ``repr`` shows of an open vault before its count ("columns=[…], ")."""
        return ""

    def __repr__(self) -> str:
        head = self._repr_head()
        if self._store is None:
            return head + ", closed)"
        try:
            count: Any = self.count()
        except Exception:
            count = "?"
        return f"{head}, {self._repr_fields()}count={count})"
