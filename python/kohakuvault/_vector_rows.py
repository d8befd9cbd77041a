"""VectorKVault's byte plumbing: Python vectors -> stored rows, hit buffers -> Python tuples.

A vector crosses the FFI as its stored row (docs/FORMAT.md §7): f32 -> ``dims`` × f32 LE;
int8 -> ``dims`` bytes (two's complement); bit -> ``dims / 8`` bytes packed MSB first
(``numpy.packbits`` order). Batches are the rows concatenated: one buffer, built by numpy in one
pass for an array. The core checks lengths and finiteness and normalises cosine rows; this module
only converts. Errors are raised as ``ValueError`` / ``TypeError`` (1.1.0's classes; the facade
maps them to :class:`InvalidArgument` through ``map_exception``).

numpy is imported when the first vault is opened (``load_numpy``), not with ``kohakuvault``.
"""

from __future__ import annotations

import operator
import struct
import sys
from typing import Any

from . import _codec
from ._kv_buffers import RAW, STATUS, decode_value, u32s

__all__ = [
    "load_numpy",
    "RowCodec",
    "pack_metadata",
    "unpack_metadata",
    "metadata_column",
    "id_list",
    "split_hits",
    "ids_of",
]

np: Any = None
_LITTLE = sys.byteorder == "little"


def load_numpy():
    global np
    if np is None:
        import numpy

        np = numpy
    return np


class RowCodec:
    """Vectors of one vault (``dims``, ``vector_type`` = "f32" | "int8" | "bit") as row bytes."""

    def __init__(self, dims: int, vector_type: str):
        load_numpy()
        self.dims = dims
        self.vector_type = vector_type
        if vector_type == "f32":
            self.row_bytes = dims * 4
            self.dtype = np.dtype("<f4")
        elif vector_type == "int8":
            self.row_bytes = dims
            self.dtype = np.dtype("i1")
        elif vector_type == "bit":
            self.row_bytes = dims // 8
            self.dtype = np.dtype("u1")
        else:  # the core only reports these three
            raise ValueError(f"Unknown vector type: {vector_type}")

    # ---- one vector ----------------------------------------------------------------------

    def one(self, vector) -> bytes:
        """The row of one vector: ``bytes`` of exactly ``row_bytes``, or an ndarray / list /
        tuple of ``dims`` elements (bit: also a packed uint8 ndarray of ``dims / 8``)."""
        if isinstance(vector, bytes):
            if len(vector) != self.row_bytes:
                raise ValueError(f"Expected {self.row_bytes} vector bytes, got {len(vector)}")
            return vector if type(vector) is bytes else bytes(vector)
        if not isinstance(vector, (np.ndarray, list, tuple)):
            raise TypeError(
                f"Vector must be numpy array, list, tuple, or bytes, got {type(vector)}"
            )
        if self.vector_type == "f32":
            arr = np.asarray(vector, dtype="<f4")
            self._check_shape(arr.shape, (self.dims,))
            return arr.tobytes()
        arr = np.asarray(vector)
        if self.vector_type == "int8":
            self._check_shape(arr.shape, (self.dims,))
            return _int8(arr).tobytes()
        if arr.shape == (self.row_bytes,) and arr.dtype == np.uint8 and arr.ndim == 1:
            if isinstance(vector, np.ndarray):  # already packed (what get_by_id returns)
                return arr.tobytes()
        self._check_shape(arr.shape, (self.dims,))
        return np.packbits(_bits(arr)).tobytes()

    def _check_shape(self, shape, want) -> None:
        if shape != want:
            raise ValueError(f"Expected vector shape ({want[0]},), got {shape}")

    # ---- many vectors --------------------------------------------------------------------

    def many(self, vectors) -> tuple[bytes, int]:
        """(rows concatenated, n) of a batch: a 2-D ndarray (n, dims) (bit: also packed uint8
        (n, dims / 8)), bytes of n rows, or a list / tuple of single vectors."""
        if isinstance(vectors, bytes):
            size = self.row_bytes
            if len(vectors) % size:
                raise ValueError(
                    f"Expected a multiple of {size} vector bytes ({size} per vector), "
                    f"got {len(vectors)}"
                )
            return (vectors if type(vectors) is bytes else bytes(vectors)), len(vectors) // size
        if isinstance(vectors, np.ndarray):
            return self._matrix(vectors, vectors)
        if not isinstance(vectors, (list, tuple)):
            raise TypeError(
                "Vectors must be a 2-D numpy array, a list or tuple of vectors, or bytes, "
                f"got {type(vectors)}"
            )
        if not vectors:
            return b"", 0
        types = set(map(type, vectors))
        if types == {bytes}:
            size = self.row_bytes
            if set(map(len, vectors)) == {size}:
                return b"".join(vectors), len(vectors)
        elif types <= {np.ndarray, list, tuple}:
            # One numpy conversion for the whole batch; a ragged or otherwise unusual batch
            # goes row by row below (which names the offending row).
            try:
                if self.vector_type == "f32":
                    arr = np.asarray(vectors, dtype="<f4")
                else:
                    arr = np.asarray(vectors)
            except (ValueError, TypeError):
                arr = None
            if arr is not None and arr.ndim == 2 and arr.shape[1] == self.dims:
                return self._matrix(arr, None)
        rows = []
        for i, vector in enumerate(vectors):
            try:
                rows.append(self.one(vector))
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"vector {i}: {exc}") from None
        return b"".join(rows), len(rows)

    def _matrix(self, arr, original) -> tuple[bytes, int]:
        dims = self.dims
        if self.vector_type == "f32":
            arr = np.asarray(arr, dtype="<f4")
            self._check_matrix(arr.shape, dims)
            return arr.tobytes(), arr.shape[0]
        if self.vector_type == "int8":
            self._check_matrix(arr.shape, dims)
            return _int8(arr).tobytes(), arr.shape[0]
        packed = self.row_bytes
        if (
            original is not None
            and arr.ndim == 2
            and arr.shape[1] == packed
            and arr.dtype == np.uint8
        ):
            return np.ascontiguousarray(arr).tobytes(), arr.shape[0]
        self._check_matrix(arr.shape, dims)
        return np.packbits(_bits(arr), axis=1).tobytes(), arr.shape[0]

    def _check_matrix(self, shape, dims) -> None:
        if len(shape) != 2 or shape[1] != dims:
            raise ValueError(f"Expected vectors of shape (n, {dims}), got {shape}")

    # ---- stored rows -> numpy ------------------------------------------------------------

    def array(self, row: bytes):
        """A stored row as an ndarray: float32, int8, or the packed uint8 bytes of a bit row."""
        return np.frombuffer(row, dtype=self.dtype)


def _int8(arr):
    """``arr`` as int8, if every element is an integer in [-128, 127]."""
    kind = arr.dtype.kind
    if kind in "iu":
        if arr.size and (arr.min() < -128 or arr.max() > 127):
            raise ValueError("int8 vector elements must be integers in [-128, 127]")
    elif kind == "f":
        if arr.size and (
            not np.isfinite(arr).all()
            or (arr != np.trunc(arr)).any()
            or arr.min() < -128
            or arr.max() > 127
        ):
            raise ValueError("int8 vector elements must be integers in [-128, 127]")
    else:
        raise TypeError(f"int8 vector elements must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int8)


def _bits(arr):
    """``arr`` as bools, if every element is 0/1 (or a bool)."""
    kind = arr.dtype.kind
    if kind == "b":
        return arr
    if kind in "iuf":
        if arr.size and not ((arr == 0) | (arr == 1)).all():
            raise ValueError("bit vector elements must be 0 or 1 (or bools)")
        return arr != 0
    raise TypeError(f"bit vector elements must be 0/1 or bools, got dtype {arr.dtype}")


# ---- metadata -----------------------------------------------------------------------------


def pack_metadata(metadata, what: str = "metadata") -> bytes:
    """A dict with str keys as a MessagePack map (tuples become arrays, as MessagePack has no
    tuple)."""
    if not isinstance(metadata, dict):
        raise TypeError(f"{what} must be a dict with str keys, got {type(metadata)}")
    for key in metadata:
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be str, got {type(key)}")
    return _codec._pack_msgpack(metadata)


def unpack_metadata(packed):
    if packed is None:
        return None
    return _codec.unpack_msgpack(packed)


def metadata_column(metadata, n: int) -> tuple[bytes, bytes]:
    """(n u32 LE lengths, concatenated maps) of ``metadata`` (None or n dicts / None); both
    empty when no row has metadata."""
    if metadata is None:
        return b"", b""
    if isinstance(metadata, dict) or not hasattr(metadata, "__len__"):
        raise TypeError("metadata must be None or a sequence of one dict (or None) per vector")
    if len(metadata) != n:
        raise ValueError(f"Expected {n} metadata entries, got {len(metadata)}")
    packed = [b"" if m is None else pack_metadata(m) for m in metadata]
    if not any(packed):
        return b"", b""
    return u32s(map(len, packed)), b"".join(packed)


def id_list(ids) -> list[int]:
    """Filter ids as a list of ints (any iterable of integers, or an integer ndarray)."""
    if isinstance(ids, (str, bytes, dict)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"ids must be an iterable of integers, got {type(ids)}")
    if np is not None and isinstance(ids, np.ndarray):
        if ids.dtype.kind not in "iu":
            raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
        ids = ids.ravel().tolist()
    return [operator.index(i) for i in ids]


# ---- hits ---------------------------------------------------------------------------------


def _numbers(buf, code: str, size: int) -> list:
    if _LITTLE:
        return memoryview(buf).cast(code).tolist()
    return list(struct.unpack(f"<{len(buf) // size}{code}", buf))


def values_of(buf, n: int, allow_pickle: bool) -> list:
    """The n values of a ``[kind u8][u32 LE len][payload]`` record buffer, decoded."""
    out = []
    append = out.append
    unpack = STATUS.unpack_from
    off = 0
    for _ in range(n):
        kind, length = unpack(buf, off)
        start = off + 5
        off = start + length
        if kind == RAW:
            append(buf[start:off])
        else:
            append(decode_value(kind, buf[start:off], allow_pickle))
    return out


def split_hits(hits, allow_pickle: bool) -> list[list[tuple[int, float, Any]]]:
    """``VectorHits`` -> one list of (id, distance, value) per query, in one pass."""
    counts = _numbers(hits.counts, "I", 4)
    ids = _numbers(hits.ids, "q", 8)
    distances = _numbers(hits.distances, "f", 4)
    values = values_of(hits.values, len(ids), allow_pickle)
    rows = list(zip(ids, distances, values))
    if len(counts) == 1:
        return [rows]
    out = []
    start = 0
    for c in counts:
        out.append(rows[start : start + c])
        start += c
    return out


def ids_of(buf) -> list[int]:
    """n i64 LE ids as ints."""
    return _numbers(buf, "q", 8)
