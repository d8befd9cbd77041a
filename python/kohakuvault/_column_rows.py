"""Python values <-> column rows for the ColumnVault facade.

The core owns the dtype grammar and every stored encoding (docs/FORMAT.md §6); it tells the
facade a column's layout, element dtype code and shape (``ColumnInfo``). This module only turns
Python values and numpy arrays into what crosses the FFI:

* ``FIXED`` (numeric scalars and tensors): raw little-endian rows, built with struct/numpy;
* ``VAR`` (``bytes`` columns): the bytes themselves;
* ``VALUES`` (text and DataPacker columns): (kind, payload) pairs that the core encodes.
"""

from __future__ import annotations

import struct
from itertools import repeat

from . import _codec

__all__ = ["RowCodec", "FIXED", "VAR", "VALUES"]

FIXED, VAR, VALUES = 0, 1, 2

# ndarray dtype code (docs/FORMAT.md §2) -> struct code of one scalar (1.1.0's append path).
_STRUCT = {
    0x01: "f",
    0x02: "d",
    0x03: "i",
    0x04: "q",
    0x05: "B",
    0x06: "H",
    0x07: "I",
    0x08: "Q",
    0x09: "b",
    0x0A: "h",
    0x0B: "?",
    0x0C: "e",
}
_ITEM = struct.Struct("<BI")
_BYTES = frozenset((bytes,))
_STR = frozenset((str,))
_ENCODE_UTF8 = str.encode  # utf-8 by default


def _layout_name(layout) -> str:
    name = getattr(layout, "name", None)
    return (name if name is not None else str(layout)).lower()


class RowCodec:
    """How one column's values cross: its mode, numpy dtype and row shape."""

    __slots__ = (
        "mode",
        "numeric",
        "raw_var",
        "np_dtype",
        "shape",
        "elem_size",
        "value_kind",
        "elem_dtype",
        "dtype",
        "text",
        "_pack",
        "_tensor",
    )

    def __init__(self, info) -> None:
        layout = _layout_name(info.layout)
        self.dtype = info.dtype
        self.elem_size = info.elem_size
        self.value_kind = info.value_kind
        self.elem_dtype = info.elem_dtype or None
        self.numeric = layout in ("scalar", "tensor")
        self._tensor = layout == "tensor"
        self.text = layout == "text"
        self.raw_var = layout == "bytes"
        self.shape = tuple(info.shape) if self._tensor else ()
        self.np_dtype = _codec._DTYPE_OF.get(info.elem_dtype) if self.numeric else None
        self._pack = (
            struct.Struct("<" + _STRUCT[info.elem_dtype]).pack
            if layout == "scalar" and info.elem_dtype in _STRUCT
            else None
        )
        if self.numeric:
            self.mode = FIXED
        elif self.raw_var:
            self.mode = VAR
        else:
            self.mode = VALUES

    # ---------------------------------------------------------------- encoding

    def _value(self, value) -> tuple[int, bytes]:
        if self.text:
            if not isinstance(value, str):
                raise TypeError("A string column requires str values")
            return 6, value.encode("utf-8")
        return _codec.encode_for_packer(self.value_kind, self.elem_dtype, value)

    def _bytes(self, value) -> bytes:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError("A bytes column requires bytes-like values")
        return bytes(value)

    def _tensor_rows(self, values, n_expected=None):
        arr, n = self._tensor_array(values, n_expected)
        return arr.tobytes(), n

    def _tensor_array(self, values, n_expected=None):
        np = _codec._numpy()
        try:
            arr = np.asarray(values, dtype=self.np_dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"Values cannot be encoded as {self.dtype}") from exc
        if arr.shape[1:] != self.shape or (n_expected is not None and arr.shape[0] != n_expected):
            raise ValueError(
                f"array shape {arr.shape} does not match rows of shape {self.shape} "
                f"for column dtype {self.dtype!r}"
            )
        return np.ascontiguousarray(arr), arr.shape[0]

    def encode_one(self, value):
        """One row: (mode, row) where row is bytes (FIXED, VAR) or (kind, payload) (VALUES)."""
        if self.mode == FIXED:
            if self._pack is not None:
                return self._pack(value)
            np = _codec._numpy()
            try:
                arr = np.asarray(value, dtype=self.np_dtype)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"Values cannot be encoded as {self.dtype}") from exc
            if arr.shape != self.shape:
                raise ValueError(
                    f"a row of column dtype {self.dtype!r} has shape {self.shape}, got {arr.shape}"
                )
            return np.ascontiguousarray(arr).tobytes()
        if self.mode == VAR:
            return self._bytes(value)
        return self._value(value)

    def encode_many(self, values):
        """Many rows: (FIXED) concatenated bytes, (VAR) a list of bytes, (VALUES) a list of
        (kind, payload); and their count."""
        if self.mode == FIXED:
            np = _codec._numpy()
            if isinstance(values, np.ndarray):
                return self.encode_array(values)
            if not isinstance(values, (list, tuple)):
                values = list(values)
            if not values:
                return b"", 0
            if self._tensor:
                return self._tensor_rows(values)
            try:
                # One C loop over the scalars (no intermediate list copy; measured ~1.6x
                # faster than np.asarray on a list), with asarray's conversions and errors: a
                # nested sequence is refused, out-of-range ints raise OverflowError.
                # (bool takes asarray: fromiter would read a nested list as its truth value).
                if self.np_dtype == "|b1":
                    arr = np.asarray(values, dtype=self.np_dtype)
                else:
                    arr = np.fromiter(values, dtype=self.np_dtype, count=len(values))
            except OverflowError:
                raise
            except (TypeError, ValueError) as exc:
                raise TypeError(f"Values cannot be encoded as {self.dtype}") from exc
            if arr.ndim != 1:
                raise TypeError(f"Values cannot be encoded as {self.dtype}")
            return arr.tobytes(), arr.shape[0]
        values = values if isinstance(values, (list, tuple)) else list(values)
        if self.mode == VAR:
            if set(map(type, values)) <= _BYTES:  # plain bytes: no per-value call or copy
                return list(values), len(values)
            rows = [self._bytes(v) for v in values]
            return rows, len(rows)
        if self.text and set(map(type, values)) <= _STR:  # the common case, at C speed
            return list(zip(repeat(6), map(_ENCODE_UTF8, values))), len(values)
        items = [self._value(v) for v in values]
        return items, len(items)

    def array_rows(self, array):
        """An ndarray shaped (N, *shape) as ``(rows, N)``: one C-contiguous array whose bytes
        are the rows as stored (one conversion, no per-row loop)."""
        if not self.numeric:
            raise TypeError("append_array() needs a numeric or fixed-vector column")
        np = _codec._numpy()
        arr = np.asarray(array)
        if self._tensor:
            return self._tensor_array(arr)
        if arr.ndim != 1:
            raise ValueError(f"expected a 1-D array for column dtype {self.dtype!r}")
        return np.ascontiguousarray(arr, dtype=self.np_dtype), arr.shape[0]

    def encode_array(self, array):
        """:meth:`array_rows` as bytes."""
        arr, n = self.array_rows(array)
        return arr.tobytes(), n

    # ---------------------------------------------------------------- decoding

    def to_list(self, arr) -> list:
        """Rows of a numeric array as 1.1.0 returns them: Python scalars, or read-only rows."""
        if self._tensor:
            return list(arr)
        return arr.tolist()

    def decode_items(self, items) -> list:
        """Items ``[kind u8][len u32][payload]`` (``read_values``) as Python values."""
        out = []
        off = 0
        end = len(items)
        unpack = _ITEM.unpack_from
        decode = _codec.decode
        while off < end:
            kind, n = unpack(items, off)
            off += 5
            payload = items[off : off + n]
            off += n
            out.append(payload if kind == 0 else decode(kind, payload))
        return out
