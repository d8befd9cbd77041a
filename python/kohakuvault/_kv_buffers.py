"""KVault's byte plumbing: keys as bytes, u32 columns, value columns, decoding with typed errors.

Batches cross the FFI as columns (docs/FORMAT.md §4): n × u32 LE lengths over the concatenated
keys (and kinds + lengths + payloads for values).
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Any

from . import _codec
from ._ffi import GC_PAUSE, GC_PAUSE_MIN
from .errors import InvalidArgument

__all__ = [
    "to_bytes_key",
    "u32s",
    "key_column",
    "value_columns",
    "decode_value",
    "unpack_many",
]

U32 = struct.Struct("<I")
STATUS = struct.Struct("<BI")  # [kind or 0xFF missing u8][length u32] of a packed result entry
U32_MAX = 0xFFFFFFFF
BLOB_MAX = (1 << 31) - 1
KEY_MAX = 1 << 20  # the core's key limit: longer keys go direct (and fail there)
MISSING_STATUS = 0xFF
RAW = _codec.RAW
MSGPACK = _codec.MSGPACK
PAIR_TYPES = frozenset((tuple, list))
decode_value = _codec.decode_value  # the decoder every read uses (kinds to values)
_U32_NATIVE = array("I").itemsize == 4 and sys.byteorder == "little"


def to_bytes_key(key: Any) -> bytes:
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
        return to_bytes_key(str.__str__(key))
    raise InvalidArgument("key must be bytes or str")


def u32s(values) -> bytes:
    """Little-endian u32s (``OverflowError`` past 2**32 - 1)."""
    if _U32_NATIVE:
        return array("I", values).tobytes()
    values = list(values)
    return struct.pack(f"<{len(values)}I", *values)


def key_column(keys) -> tuple[bytes, bytes]:
    """(u32 lengths, concatenation) of keys as bytes: one columnar FFI argument pair.

    All-ASCII str keys are joined and encoded at once (their lengths are their byte lengths).
    """
    if keys and type(keys[0]) is str:
        try:
            joined = "".join(keys)
        except TypeError:
            joined = None
        if joined is not None and joined.isascii():
            return u32s(map(len, keys)), joined.encode("ascii")
    encoded = [k if type(k) is bytes else to_bytes_key(k) for k in keys]
    return u32s(map(len, encoded)), b"".join(encoded)


def value_columns(values, auto_pack: bool, pack) -> tuple[bytes, bytes, bytes]:
    """(kinds, u32 lengths, concatenated payloads) of values; ``pack(value) -> (kind, payload)``
    is KVault's single-value packer (what ``put`` uses)."""
    types = set(map(type, values))
    payloads = None
    if types == {bytes} or not values:
        kinds = bytes(len(values))
        payloads = values
    elif auto_pack and types <= PAIR_TYPES | {dict}:
        msgpack_pack = _codec.msgpack_packer()
        try:  # plain dicts/lists: MessagePack in one pass (anything else fails over below)
            payloads = list(map(msgpack_pack, values))
            kinds = bytes((MSGPACK,)) * len(values)
        except (TypeError, ValueError, OverflowError):
            payloads = None
    if payloads is None:
        kind_list = bytearray(len(values))
        payloads = list(values)
        for i, value in enumerate(values):
            if type(value) is not bytes:
                kind_list[i], payloads[i] = pack(value)
        kinds = bytes(kind_list)
    try:
        lens = u32s(map(len, payloads))
    except OverflowError:
        raise InvalidArgument("value larger than 4 GiB cannot be batched") from None
    return kinds, lens, b"".join(payloads)


def unpack_many(packed) -> list:
    """The values of a page's MessagePack array (decoded as ``_codec.decode`` decodes one)."""
    if packed is None:
        return []
    try:
        if len(packed) < GC_PAUSE_MIN:
            return _codec.unpack_msgpack(packed)
        with GC_PAUSE:  # many new containers, no cycles (see _ffi.GC_PAUSE)
            return _codec.unpack_msgpack(packed)
    except Exception as exc:
        raise InvalidArgument(f"cannot decode stored value: {exc}") from exc
