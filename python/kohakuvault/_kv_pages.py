"""KVault's batch reads: ``get_many`` and key-order iteration (``keys`` / ``items`` /
``values``) in pages, each page one read snapshot.

A page comes from the C fast path as Python objects (docs/FORMAT.md §4.1), or, when that is
unavailable or reports an error, from the UDL operation's packed result (§4), which raises the
typed error. Both give the same values in every mode (auto-pack on: decoded; off: stored bytes).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any, Optional

from ._ffi import FAST, N
from ._kv_buffers import (
    MISSING_STATUS,
    RAW,
    STATUS,
    U32,
    U32_MAX,
    decode_value,
    key_column,
    to_bytes_key,
    unpack_many,
)
from .errors import InvalidArgument

__all__ = ["PagesMixin"]

# Whether batch reads take the C fast path (tests switch it off to exercise the UDL path).
_FAST_PAGES = FAST.available

# Default iteration pages (batch_size not given): up to this many entries or about this many bytes.
_PAGE_ITEMS = 4096
_PAGE_BYTES = 1 << 20
_NO_BYTE_LIMIT = (1 << 64) - 1
_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)


def fast_pages() -> bool:
    return _FAST_PAGES


class PagesMixin:
    """Batch reads of KVault (uses its ``_check``, ``_drain``, ``_call``, ``_retry``,
    ``_store``, ``_fh``, ``_auto_pack`` and ``_allow_pickle``)."""

    __slots__ = ()

    def get_many(self, keys: list | tuple, default: Any = None) -> list[Any]:
        """Values for ``keys`` in order (``default`` for missing ones), from one read snapshot."""
        if not isinstance(keys, (list, tuple)):
            raise InvalidArgument("get_many requires a list or tuple of keys")
        self._check()
        key_lens, key_blob = key_column(keys)
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
        decoded = unpack_many(packed)
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
                values[i] = decode_value(value[0], value[1], allow)
        return values

    def _get_many_packed(self, key_lens: bytes, key_blob: bytes, n: int, default: Any) -> list:
        """get_many through the UDL operation and its packed result (docs/FORMAT.md §4)."""
        auto = self._auto_pack
        result = self._call(self._store.get_many, key_lens, key_blob, auto, decoding=auto)
        out = []
        append = out.append
        unpack = STATUS.unpack_from
        allow = self._allow_pickle
        off = 0
        for _ in range(n):
            status, length = unpack(result, off)
            start = off + 5
            off = start + length
            if status == RAW:
                append(result[start:off])
            elif status == MISSING_STATUS:
                append(default)
            else:
                append(decode_value(status, result[start:off], allow))
        return out

    def _pages(self, prefix, limit, batch_size, with_values: bool):
        """Pages in key order, each one read snapshot (docs/FORMAT.md §4.1): keys, or
        ``(entries, special, packed, n_packed)`` with values, where entries are ``(key, bytes)``,
        ``(key, dict | list)`` (decoded MessagePack), ``(key, None)`` (the next value of the
        MessagePack array ``packed``) or ``(key, kind, payload)``. Without ``batch_size`` a page
        holds up to 4096 entries or ~1 MiB.
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
        p = None if prefix is None else to_bytes_key(prefix)
        after = None
        remaining = limit
        decoded = self._auto_pack
        flags = (1 if with_values else 0) | (2 if decoded else 0)
        while remaining is None or remaining > 0:
            n = page_items if remaining is None else min(page_items, remaining)
            n = min(n, U32_MAX)
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
        result = self._retry(self._store.scan, request, decoding=True)
        page = result.entries
        unpack_u32 = U32.unpack_from
        unpack_status = STATUS.unpack_from
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
            kind, vlen = unpack_status(page, kend)
            off = kend + 5 + vlen
            if kind == RAW:
                append((key, page[kend + 5 : off]))
            else:
                append((key, kind, page[kend + 5 : off]))
                special += 1
        return entries, special, result.end, None, 0

    def _page_items(self, page) -> Iterator[tuple[bytes, Any]]:
        """(key, decoded value) pairs of one page from ``_pages``."""
        entries, special, packed, n_packed = page
        if not special:
            return iter(entries)
        decoded = unpack_many(packed)
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
                yield entry[0], decode_value(entry[1], entry[2], allow)

    def keys(
        self,
        prefix=None,
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
        prefix=None,
        limit: int | None = None,
        *,
        batch_size: Optional[int] = None,
    ) -> Iterator[tuple[bytes, Any]]:
        """(key, decoded value) pairs in key order (``batch_size`` as in :meth:`keys`)."""
        for page in self._pages(prefix, limit, batch_size, True):
            yield from self._page_items(page)

    def values(
        self,
        prefix=None,
        limit: int | None = None,
        *,
        batch_size: Optional[int] = None,
    ) -> Iterator[Any]:
        """Decoded values in key order (``batch_size`` as in :meth:`keys`)."""
        for page in self._pages(prefix, limit, batch_size, True):
            yield from map(_SECOND, self._page_items(page))
