"""DataPacker: typed (de)serialisation of single values (the kohakuvault 1.1.0 API over the core).

Values cross to the core as (kind, payload) pairs (see ``_codec``); results come back as
(kind, payload) items and are decoded by the same decoder KVault uses.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Optional

from . import _codec
from ._errmap import VaultError
from ._ffi import N

__all__ = ["DataPacker"]

_ITEM = struct.Struct("<BI")


def _native_error(exc: BaseException) -> BaseException:
    """DataPacker was a native class in 1.1.0: its errors were plain ValueError/TypeError."""
    reason = getattr(exc, "reason", None)
    message = str(reason) if reason is not None else str(exc)
    if isinstance(exc, VaultError):
        return ValueError(message)
    if isinstance(exc, (TypeError, ValueError, OverflowError)):
        return exc
    return ValueError(message)


class DataPacker:
    """Packs values of one dtype (``i64``, ``f64``, ``str[:N][:enc]``, ``bytes[:N]``,
    ``msgpack[:N]``, ``cbor[:N]``, ``vec:<elem>[:dims]``) to bytes and back."""

    __slots__ = ("_inner", "_kind", "_elem", "_dtype")

    def __init__(self, dtype: str):
        if not isinstance(dtype, str):
            raise TypeError(f"argument 'dtype': '{type(dtype).__name__}' object is not a str")
        try:
            inner = N.DataPacker(dtype)
        except Exception as exc:
            raise _native_error(exc) from exc
        self._setup(inner, dtype)

    def _setup(self, inner, dtype: str) -> None:
        self._inner = inner
        self._dtype = dtype
        # What pack takes, from the core (which owns the dtype grammar).
        self._kind = inner.value_kind()
        self._elem = inner.elem_dtype()

    @classmethod
    def _wrap(cls, inner, dtype: str) -> DataPacker:
        packer = cls.__new__(cls)
        packer._setup(inner, dtype)
        return packer

    @staticmethod
    def with_json_schema(schema: dict) -> DataPacker:
        """A MessagePack packer that validates packed values against a JSON Schema."""
        try:
            text = json.dumps(schema)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Schema compilation failed: {exc}") from exc
        try:
            inner = N.DataPacker.with_json_schema(text)
        except Exception as exc:
            raise _native_error(exc) from exc
        return DataPacker._wrap(inner, "msgpack")

    @staticmethod
    def with_cddl_schema(schema: Optional[str] = None) -> DataPacker:
        """A CBOR packer (the schema is stored, not validated, as in 1.1.0)."""
        if schema is not None and not isinstance(schema, str):
            raise TypeError("schema must be a str or None")
        try:
            inner = N.DataPacker.with_cddl_schema(schema)
        except Exception as exc:
            raise _native_error(exc) from exc
        return DataPacker._wrap(inner, "cbor")

    def _item(self, value: Any) -> tuple[int, bytes]:
        return _codec.encode_for_packer(self._kind, self._elem, value)

    def pack(self, value: Any) -> bytes:
        kind, payload = self._item(value)
        try:
            return self._inner.pack(kind, payload)
        except Exception as exc:
            raise _native_error(exc) from exc

    def pack_many(self, values: list) -> bytes:
        """Pack a list of values; the result is their concatenation."""
        if not isinstance(values, list):
            raise TypeError(f"argument 'values': '{type(values).__name__}' object is not a list")
        parts = []
        for value in values:
            kind, payload = self._item(value)
            parts.append(_ITEM.pack(kind, len(payload)))
            parts.append(payload)
        try:
            return self._inner.pack_many(b"".join(parts))
        except Exception as exc:
            raise _native_error(exc) from exc

    def unpack(self, data: bytes, offset: int) -> Any:
        """Unpack one value starting at ``offset`` (required, as in 1.1.0)."""
        if offset < 0:
            raise OverflowError("can't convert negative int to unsigned")
        try:
            tagged = self._inner.unpack(bytes(data), offset)
        except Exception as exc:
            raise _native_error(exc) from exc
        return _codec.decode(tagged.kind, tagged.payload)

    def unpack_many(
        self, data: bytes, count: Optional[int] = None, offsets: Optional[list] = None
    ) -> list:
        """Fixed size: ``count`` items; variable size: items starting at ``offsets``."""
        if offsets is not None:
            offsets = [int(o) for o in offsets]
        try:
            packed = self._inner.unpack_many(bytes(data), count, offsets)
        except Exception as exc:
            raise _native_error(exc) from exc
        out = []
        off = 0
        end = len(packed)
        unpack = _ITEM.unpack_from
        decode = _codec.decode
        while off < end:
            kind, length = unpack(packed, off)
            off += 5
            out.append(decode(kind, packed[off : off + length]))
            off += length
        return out

    @property
    def elem_size(self) -> int:
        """Bytes per item; 0 for variable-size dtypes."""
        return self._inner.elem_size()

    @property
    def is_varsize(self) -> bool:
        return self._inner.is_varsize()

    def __repr__(self) -> str:
        text = self._inner.describe()
        return text if text.startswith("DataPacker") else f"DataPacker({text})"
