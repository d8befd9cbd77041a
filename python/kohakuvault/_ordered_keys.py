"""Keys of CSBTree and SkipList on the wire (docs/FORMAT.md §9.1-9.3).

* :func:`encode` turns one native key (None, bool, int within i64, float, str, bytes, tuples of
  these) into its encoding, or returns None for a key the core cannot order itself: the caller
  then registers it as a host key (tag 8, :func:`host_encoding`) ordered by Python.
* :func:`key_page` builds the key page of a batch (the narrowest layout when every key has the
  same plain type, otherwise layout 0 with host keys registered through a callback).
* :func:`decode` reads one encoding (the right side of a host comparison), :func:`page_keys`
  the key page inside an entry page, :func:`entry_page` a whole entry page.

Key order is the core's; nothing here compares keys. NaN (alone or anywhere inside a tuple)
has no place in an order and is refused with ``ValueError`` before anything crosses.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from itertools import accumulate, islice

__all__ = [
    "INT_MIN",
    "INT_MAX",
    "GONE",
    "KeyAt",
    "nan_error",
    "has_nan",
    "encode",
    "host_encoding",
    "decode",
    "key_page",
    "page_keys",
    "entry_page",
    "u64_list",
    "u64_bytes",
]

INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1

_TAG_NONE = b"\x00"
_TAG_FALSE = b"\x01"
_TAG_TRUE = b"\x02"
_INT = struct.Struct("<Bq").pack
_FLOAT = struct.Struct("<Bd").pack
_LEN = struct.Struct("<BI").pack
_HOST = struct.Struct("<BQ").pack
_HEAD = struct.Struct("<II")
_U32 = struct.Struct("<I").unpack_from
_I64 = struct.Struct("<q").unpack_from
_U64 = struct.Struct("<Q").unpack_from
_F64 = struct.Struct("<d").unpack_from

_LAYOUT_MIXED = 0
_LAYOUT_INT = 1
_LAYOUT_FLOAT = 2
_LAYOUT_STR = 3
_LAYOUT_BYTES = 4

# The core refuses deeper tuples; such keys become host keys instead.
_MAX_DEPTH = 60

_LITTLE = sys.byteorder == "little"

GONE = object()
"""A host key whose entry left the container while a page naming it was being read."""


class KeyAt(Exception):
    """Key ``index`` of a batch cannot be used (``error``, a ValueError for NaN)."""

    def __init__(self, index: int, error: BaseException):
        super().__init__(index, error)
        self.index = index
        self.error = error


def nan_error() -> ValueError:
    return ValueError(
        "NaN cannot be used as a key: it is unordered (every comparison with it is false)"
    )


def has_nan(key) -> bool:
    """True when ``key`` is a float NaN or a tuple holding one (at any depth)."""
    if isinstance(key, float):
        return key != key
    if isinstance(key, tuple):
        return any(map(has_nan, key))
    return False


def _tuple(key: tuple, depth: int):
    if depth >= _MAX_DEPTH:
        return None
    parts = [_LEN(7, len(key))]
    append = parts.append
    for item in key:
        t = type(item)
        if t is int:
            if INT_MIN <= item <= INT_MAX:
                append(_INT(3, item))
                continue
            e = None
        elif t is str:
            try:
                b = item.encode()
            except UnicodeEncodeError:
                e = None
            else:
                append(_LEN(5, len(b)))
                append(b)
                continue
        elif t is tuple:
            e = _tuple(item, depth + 1)
        else:
            e = encode(item)
        if e is None:
            if has_nan(key):
                raise nan_error()
            return None
        append(e)
    return b"".join(parts)


def encode(key):
    """The encoding (§9.1) of a native key, or None when ``key`` must be a host key.

    Only the exact built-in types are native (a subclass may order itself differently, so it
    is a host key). Raises ValueError for NaN.
    """
    t = type(key)
    if t is int:
        if INT_MIN <= key <= INT_MAX:
            return _INT(3, key)
        return None
    if t is str:
        try:
            b = key.encode()
        except UnicodeEncodeError:  # lone surrogates: ordered by Python
            return None
        return _LEN(5, len(b)) + b
    if t is float:
        if key != key:
            raise nan_error()
        return _FLOAT(4, key)
    if t is bytes:
        return _LEN(6, len(key)) + key
    if t is bool:
        return _TAG_TRUE if key else _TAG_FALSE
    if key is None:
        return _TAG_NONE
    if t is tuple:
        return _tuple(key, 0)
    if has_nan(key):
        raise nan_error()
    return None


def host_encoding(handle: int) -> bytes:
    """The encoding of the host key ``handle`` (tag 8)."""
    return _HOST(8, handle)


def _native(buf, pos: int, hosts):
    tag = buf[pos]
    pos += 1
    if tag == 3:
        return _I64(buf, pos)[0], pos + 8
    if tag == 5:
        n = _U32(buf, pos)[0]
        pos += 4
        return str(buf[pos : pos + n], "utf-8"), pos + n
    if tag == 6:
        n = _U32(buf, pos)[0]
        pos += 4
        return bytes(buf[pos : pos + n]), pos + n
    if tag == 4:
        return _F64(buf, pos)[0], pos + 8
    if tag == 0:
        return None, pos
    if tag == 1:
        return False, pos
    if tag == 2:
        return True, pos
    if tag == 7:
        n = _U32(buf, pos)[0]
        pos += 4
        items = []
        for _ in range(n):
            item, pos = _native(buf, pos, hosts)
            items.append(item)
        return tuple(items), pos
    if tag == 8:
        obj = hosts.get(_U64(buf, pos)[0], GONE)
        return obj, pos + 8
    raise ValueError(f"bad key encoding: unknown tag {tag}")


def decode(buf, hosts):
    """The key of one encoding (a host key is looked up in ``hosts``; GONE when released)."""
    return _native(buf, 0, hosts)[0]


def u64_list(buf) -> list:
    """u64 LE values of ``buf`` (bytes or memoryview) as a list of ints."""
    if _LITTLE:
        return memoryview(buf).cast("B").cast("Q").tolist()
    a = array("Q", bytes(buf))
    a.byteswap()
    return a.tolist()


def u64_bytes(values) -> bytes:
    a = array("Q", values)
    if not _LITTLE:
        a.byteswap()
    return a.tobytes()


def _numbers(view, fmt: str) -> list:
    if _LITTLE:
        return view.cast(fmt).tolist()
    a = array(fmt, bytes(view))
    a.byteswap()
    return a.tolist()


def page_keys(page: bytes, view: memoryview, pos: int, hosts) -> list:
    """The keys of the key page (§9.2) that starts at ``pos`` of ``page`` (``view`` its view)."""
    layout, n = _HEAD.unpack_from(page, pos)
    pos += 8
    if layout == _LAYOUT_INT:
        return _numbers(view[pos : pos + 8 * n], "q")
    if layout == _LAYOUT_STR:
        end = pos + 8 * (n + 1)
        offs = _numbers(view[pos:end], "Q")
        text = str(view[end:], "utf-8")
        return list(map(text.__getitem__, map(slice, offs, islice(offs, 1, None))))
    if layout == _LAYOUT_BYTES:
        end = pos + 8 * (n + 1)
        offs = _numbers(view[pos:end], "Q")
        blob = page[end:]
        return list(map(blob.__getitem__, map(slice, offs, islice(offs, 1, None))))
    if layout == _LAYOUT_FLOAT:
        return _numbers(view[pos : pos + 8 * n], "d")
    if layout == _LAYOUT_MIXED:
        keys = []
        append = keys.append
        for _ in range(n):
            key, pos = _native(page, pos, hosts)
            append(key)
        return keys
    raise ValueError(f"bad key page: unknown layout {layout}")


def entry_page(page: bytes, hosts, keys: bool = True, handles: bool = True):
    """``(done, handles, keys)`` of an entry page (§9.3); the handles or the keys are None
    when not asked for (then they are not decoded)."""
    flags, n = _HEAD.unpack_from(page, 0)
    end = 8 + 8 * n
    if _LITTLE and page[end] == _LAYOUT_INT and len(page) == end + 8 + 8 * n:
        # Int keys, the common case, in one cast: the page is i64 words (handles < 2**63).
        words = memoryview(page).cast("q")
        found = words[1 : n + 1].tolist() if handles else None
        return flags & 1, found, words[n + 2 :].tolist() if keys else None
    view = memoryview(page)
    found = _numbers(view[8:end], "Q") if handles else None
    return flags & 1, found, page_keys(page, view, end, hosts) if keys else None


def _plain_page(keys: list, n: int):
    """The key page of ``keys`` when all have one plain type that has a layout, else None."""
    kinds = set(map(type, keys))
    if len(kinds) != 1:
        return None
    t = kinds.pop()
    if t is int:
        try:
            a = array("q", keys)
        except OverflowError:
            return None
        if not _LITTLE:
            a.byteswap()
        return _HEAD.pack(_LAYOUT_INT, n) + a.tobytes()
    if t is str:
        try:
            blob = "".join(keys).encode()
        except UnicodeEncodeError:
            return None
        return _HEAD.pack(_LAYOUT_STR, n) + u64_bytes(accumulate(map(len, keys), initial=0)) + blob
    if t is bytes:
        return (
            _HEAD.pack(_LAYOUT_BYTES, n)
            + u64_bytes(accumulate(map(len, keys), initial=0))
            + b"".join(keys)
        )
    if t is float:
        if any(map(math.isnan, keys)):
            return None  # the mixed path reports the index of the NaN
        a = array("d", keys)
        if not _LITTLE:
            a.byteswap()
        return _HEAD.pack(_LAYOUT_FLOAT, n) + a.tobytes()
    return None


def key_page(keys: list, register):
    """``(page, hosts)``: the key page of ``keys`` and ``[(index, host handle)]`` of the keys
    registered as host keys through ``register(key) -> handle``. Raises :class:`KeyAt` for a
    NaN key (nothing registered then stays registered: the caller releases ``KeyAt.hosts``)."""
    n = len(keys)
    if n:
        page = _plain_page(keys, n)
        if page is not None:
            return page, []
    parts = [_HEAD.pack(_LAYOUT_MIXED, n)]
    append = parts.append
    hosts = []
    for i, key in enumerate(keys):
        try:
            e = encode(key)
        except ValueError as exc:
            err = KeyAt(i, exc)
            err.hosts = hosts
            raise err from None
        if e is None:
            h = register(key)
            hosts.append((i, h))
            e = _HOST(8, h)
        append(e)
    return b"".join(parts), hosts
