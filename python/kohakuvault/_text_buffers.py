"""TextVault's byte plumbing: 1.1.0's text arguments -> texts in column order, text batches ->
the FFI's columns, ``TextHits`` buffers -> Python lists (docs/FORMAT.md §8, UDL ``TextStore``).

Texts cross in column order: a batch is n × columns UTF-8 strings, their u32 LE byte lengths in
one buffer and their concatenation in another. Hits come back as ids (i64 LE), scores (f64 LE),
values (``[kind u8][u32 LE len][payload]``) and texts (``[u32 LE len][UTF-8]``). Errors are
raised as :class:`InvalidArgument` with 1.1.0's messages.
"""

from __future__ import annotations

from typing import Any

from ._kv_buffers import U32, u32s
from ._vector_rows import _numbers, ids_of, values_of
from .errors import InvalidArgument

__all__ = ["TextColumns", "text_column", "split_texts", "unpack_hits"]


def _not_a_str(value) -> InvalidArgument:
    return InvalidArgument(f"'{type(value).__name__}' object cannot be converted to 'PyString'")


def _as_str(value) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):  # a subclass: its own data, never what __str__ returns
        return str.__str__(value)
    raise _not_a_str(value)


def _names(columns) -> str:
    """A column list as 1.1.0's messages print it (``["title", "body"]``)."""
    return "[" + ", ".join(f'"{c}"' for c in columns) + "]"


class TextColumns:
    """1.1.0's text arguments of a vault with these columns, in both directions."""

    def __init__(self, columns: list[str]):
        self.columns = list(columns)
        self.single = len(self.columns) == 1
        if self.single:
            self._bad = (
                f"Expected string or dict with key '{self.columns[0]}' for single-column TextVault"
            )
        else:
            self._bad = f"Expected dict with keys {_names(self.columns)} for multi-column TextVault"

    def of(self, texts) -> list[str]:
        """The texts of one document in column order: a str (single-column vaults) or a dict
        holding every column (other keys are ignored, as 1.1.0)."""
        if self.single:
            if isinstance(texts, str):
                return [_as_str(texts)]
            if isinstance(texts, dict) and self.columns[0] in texts:
                return [_as_str(texts[self.columns[0]])]
            raise InvalidArgument(self._bad)
        if not isinstance(texts, dict):
            raise InvalidArgument(self._bad)
        out = []
        for c in self.columns:
            if c not in texts:
                raise InvalidArgument(f"Missing column '{c}' in input")
            out.append(_as_str(texts[c]))
        return out

    def back(self, texts: list[str]) -> Any:
        """A document's texts as 1.1.0 returns them: a str, or a dict by column."""
        if self.single:
            return texts[0]
        return dict(zip(self.columns, texts))


def text_column(strs: list[str]) -> tuple[bytes, bytes]:
    """(u32 LE UTF-8 lengths, concatenation) of strings: one FFI argument pair."""
    joined = "".join(strs)
    if joined.isascii():
        return u32s(map(len, strs)), joined.encode("ascii")
    try:
        encoded = [s.encode("utf-8") for s in strs]
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"texts must be valid Unicode (no lone surrogates): {exc}") from None
    return u32s(map(len, encoded)), b"".join(encoded)


def split_texts(buf: bytes, n: int) -> list[str]:
    """The n strings of a ``[u32 LE len][UTF-8]`` buffer."""
    out = []
    append = out.append
    unpack = U32.unpack_from
    off = 0
    for _ in range(n):
        (length,) = unpack(buf, off)
        start = off + 4
        off = start + length
        append(buf[start:off].decode("utf-8"))
    return out


def unpack_hits(hits, allow_pickle: bool) -> tuple[list[int], list[float], list]:
    """(ids, scores, values) of a ``TextHits``."""
    ids = ids_of(hits.ids)
    scores = _numbers(hits.scores, "d", 8)
    return ids, scores, values_of(hits.values, len(ids), allow_pickle)
