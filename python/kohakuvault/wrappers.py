"""Encoding wrappers: ask auto-pack for one specific encoding of a value.

``kv["k"] = Json({"a": 1})`` stores JSON text, ``MsgPack(...)`` MessagePack, ``Cbor(...)`` CBOR and
``Pickle(...)`` a pickle. Any object with both ``encoding_name`` and ``data`` attributes is treated
as a wrapper (duck typing), as in kohakuvault 1.1.0.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EncodingWrapper", "MsgPack", "Json", "Cbor", "Pickle"]


class EncodingWrapper:
    """Base wrapper: ``data`` is the value, ``encoding_name`` the encoding to use."""

    def __init__(self, data: Any, encoding_name: str):
        self.data = data
        self.encoding_name = encoding_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.data!r})"


class MsgPack(EncodingWrapper):
    """Store ``data`` as MessagePack."""

    def __init__(self, data: Any):
        super().__init__(data, "msgpack")


class Json(EncodingWrapper):
    """Store ``data`` as JSON text (``json.dumps`` with default separators)."""

    def __init__(self, data: Any):
        super().__init__(data, "json")


class Cbor(EncodingWrapper):
    """Store ``data`` as CBOR."""

    def __init__(self, data: Any):
        super().__init__(data, "cbor")


class Pickle(EncodingWrapper):
    """Store ``data`` as a pickle (Python only; other languages cannot decode it)."""

    def __init__(self, data: Any):
        super().__init__(data, "pickle")
