"""Python objects <-> (kind, payload), the value model shared with the Rust core (docs/FORMAT.md §2).

The core turns (kind, payload) into stored bytes and back; this module only maps Python objects
onto kinds. It is used by KVault and DataPacker alike.
"""

from __future__ import annotations

import json
import pickle
import struct
import sys
import threading
from typing import Any

import msgpack

from .errors import InvalidArgument, KohakuVaultError

__all__ = [
    "RAW",
    "PICKLE",
    "JSON",
    "MSGPACK",
    "CBOR",
    "UTF8",
    "INT",
    "FLOAT",
    "BOOL",
    "NDARRAY",
    "NPSCALAR",
    "encode",
    "decode",
    "encode_for_packer",
]

RAW = 0
PICKLE = 1
JSON = 3
MSGPACK = 4
CBOR = 5
UTF8 = 6
INT = 16
FLOAT = 17
BOOL = 18
NDARRAY = 19
NPSCALAR = 20

_F64 = struct.Struct("<d")
_NDHEAD = struct.Struct("<BB")

# ndarray dtype codes: (numpy kind, itemsize) -> code, and code -> little-endian dtype string.
_CODE_OF = {
    ("f", 4): 0x01,
    ("f", 8): 0x02,
    ("i", 4): 0x03,
    ("i", 8): 0x04,
    ("u", 1): 0x05,
    ("u", 2): 0x06,
    ("u", 4): 0x07,
    ("u", 8): 0x08,
    ("i", 1): 0x09,
    ("i", 2): 0x0A,
    ("b", 1): 0x0B,
    ("f", 2): 0x0C,
}
_DTYPE_OF = {
    0x01: "<f4",
    0x02: "<f8",
    0x03: "<i4",
    0x04: "<i8",
    0x05: "|u1",
    0x06: "<u2",
    0x07: "<u4",
    0x08: "<u8",
    0x09: "|i1",
    0x0A: "<i2",
    0x0B: "|b1",
    0x0C: "<f2",
}
# dtype names 1.1.0 auto-packed from objects that merely expose __array__.
_ARRAY_LIKE_NAMES = frozenset(
    {
        "float16",
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "bool",
    }
)


def _numpy():
    import numpy

    return numpy


# ---- payload builders -------------------------------------------------------------------------


def int_payload(value: int) -> bytes:
    """Signed little-endian two's complement, as few bytes as needed (any size)."""
    return value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)


def float_payload(value: float) -> bytes:
    return _F64.pack(value)


def _dtype_code(dtype) -> int | None:
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        return None
    return _CODE_OF.get((dtype.kind, dtype.itemsize))


def _little_endian(arr):
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr


def ndarray_payload(arr) -> bytes | None:
    """``[dtype u8][ndim u8][dim u32 LE]*ndim[data LE, C order]`` or None for unsupported dtypes."""
    code = _dtype_code(arr.dtype)
    if code is None or arr.ndim > 255:
        return None
    arr = _little_endian(arr)
    shape = arr.shape
    if any(d > 0xFFFFFFFF for d in shape):
        return None
    return b"".join(
        (_NDHEAD.pack(code, len(shape)), struct.pack(f"<{len(shape)}I", *shape), arr.tobytes())
    )


def scalar_payload(value) -> bytes | None:
    """A numpy scalar: the ndarray layout with ndim = 0."""
    code = _dtype_code(value.dtype)
    if code is None:
        return None
    arr = _little_endian(_numpy().asarray(value))
    return _NDHEAD.pack(code, 0) + arr.tobytes()


class _Packers(threading.local):
    """One reusable msgpack Packer per thread (a Packer is not thread-safe; packb builds a new
    one per call, which costs more than the packing of a small value)."""

    def __init__(self) -> None:
        # strict_types: tuples, subclasses and other non-plain objects fail here and go to
        # pickle, so that every value comes back exactly as it was stored.
        self.strict = msgpack.Packer(use_bin_type=True, strict_types=True)
        self.loose = msgpack.Packer(use_bin_type=True)


_PACKERS = _Packers()


def msgpack_packer():
    """This thread's strict MessagePack ``pack`` (plain dict/list/str/int/float/bytes/bool/None
    only; anything else raises TypeError)."""
    return _PACKERS.strict.pack


def _pack_msgpack_strict(value) -> bytes:
    return _PACKERS.strict.pack(value)


def _pack_msgpack(value) -> bytes:
    return _PACKERS.loose.pack(value)


def _transcode(from_kind: int, to_kind: int, payload: bytes) -> bytes:
    from . import _native as N
    from ._errmap import map_native_error

    try:
        return N.transcode(from_kind, to_kind, payload)
    except Exception as exc:  # typed core error -> kohakuvault error
        raise map_native_error(exc) from exc


def _wrapper(value) -> tuple[int, bytes]:
    name = value.encoding_name
    data = value.data
    if name == "msgpack":
        return MSGPACK, _pack_msgpack(data)
    if name == "json":
        return JSON, json.dumps(data).encode("utf-8")
    if name == "cbor":
        return CBOR, _transcode(MSGPACK, CBOR, _pack_msgpack(data))
    if name == "pickle":
        return PICKLE, pickle.dumps(data)
    raise ValueError(f"Unknown encoding wrapper: {name}")


def _encode_numpy(value, np) -> tuple[int, bytes] | None:
    if isinstance(value, np.ndarray):
        payload = ndarray_payload(value)
        return None if payload is None else (NDARRAY, payload)
    if isinstance(value, np.generic):
        payload = scalar_payload(value)
        return None if payload is None else (NPSCALAR, payload)
    return None


def _encode_array_like(value) -> tuple[int, bytes] | None:
    dtype = getattr(value, "dtype", None)
    if getattr(dtype, "name", None) not in _ARRAY_LIKE_NAMES:
        return None
    try:
        arr = _numpy().asarray(value)
    except Exception:
        return None
    payload = ndarray_payload(arr)
    return None if payload is None else (NDARRAY, payload)


# ---- Python object -> (kind, payload) ---------------------------------------------------------


def encode(value: Any, use_pickle: bool = True, bytes_like: bool = True) -> tuple[int, bytes]:
    """Auto-pack one value (KVault rules, docs/FORMAT.md §2 and docs/COMPATIBILITY.md §1).

    ``bytes_like=False`` drops KVault's bytearray/memoryview-as-raw step (1.1.0's VectorKVault
    and TextVault rules: only exact ``bytes`` stay raw; a bytearray is pickled).
    Raises TypeError / ValueError for values that cannot be stored (callers map them to
    :class:`InvalidArgument`).
    """
    t = type(value)
    if t is bytes:
        return RAW, value
    if (t is bytearray or t is memoryview) and bytes_like:
        return RAW, bytes(value)
    if t is str:
        try:
            return UTF8, value.encode("utf-8")
        except UnicodeEncodeError:
            pass  # lone surrogates: only pickle keeps them
    elif t is dict or t is list:
        try:
            return MSGPACK, _pack_msgpack_strict(value)
        except (TypeError, ValueError, OverflowError):
            if not use_pickle:
                raise TypeError(
                    "Cannot serialize dict/list: MessagePack failed and pickle disabled"
                ) from None
            return PICKLE, pickle.dumps(value)
    elif t is int:
        return INT, int_payload(value)
    elif t is float:
        return FLOAT, _F64.pack(value)
    elif t is bool:
        return BOOL, b"\x01" if value else b"\x00"
    elif hasattr(value, "encoding_name") and hasattr(value, "data"):
        return _wrapper(value)
    else:
        np = sys.modules.get("numpy")
        if np is not None:
            found = _encode_numpy(value, np)
            if found is not None:
                return found
        if hasattr(value, "__array__"):
            found = _encode_array_like(value)
            if found is not None:
                return found
    if use_pickle:
        return PICKLE, pickle.dumps(value)
    # Pickle disabled: subclasses of the plain types are stored as their base type (as 1.1.0).
    if isinstance(value, int):
        return INT, int_payload(int(value))
    if isinstance(value, float):
        return FLOAT, _F64.pack(float(value))
    if isinstance(value, str) and t is not str:
        return UTF8, str(value).encode("utf-8")
    if isinstance(value, (dict, list)):
        try:
            return MSGPACK, _pack_msgpack(value)
        except (TypeError, ValueError, OverflowError):
            raise TypeError(
                "Cannot serialize dict/list: MessagePack failed and pickle disabled"
            ) from None
    raise TypeError("Cannot auto-pack object: unsupported type and pickle fallback disabled")


# ---- (kind, payload) -> Python object ---------------------------------------------------------


def _decode_ndarray(payload, scalar: bool):
    np = _numpy()
    if len(payload) < 2:
        raise InvalidArgument("truncated ndarray payload")
    code, ndim = _NDHEAD.unpack_from(payload, 0)
    dtype = _DTYPE_OF.get(code)
    if dtype is None:
        raise InvalidArgument(f"unknown ndarray dtype code {code}")
    offset = 2 + 4 * ndim
    if len(payload) < offset:
        raise InvalidArgument("truncated ndarray payload")
    shape = struct.unpack_from(f"<{ndim}I", payload, 2)
    count = 1
    for d in shape:
        count *= d
    dt = np.dtype(dtype)
    if len(payload) != offset + count * dt.itemsize:
        raise InvalidArgument("ndarray payload size does not match its shape")
    if scalar:
        return np.frombuffer(payload, dtype=dt, count=1, offset=offset)[0]
    if count == 0:
        return np.empty(shape, dtype=dt)
    arr = np.frombuffer(payload, dtype=dt, count=count, offset=offset)
    if not arr.flags.writeable:
        arr = arr.copy()  # a fresh, writable array as 1.1.0 returned
    return arr.reshape(shape)


def unpack_msgpack(payload):
    """A stored MessagePack payload as Python objects (str keys and values as str)."""
    return msgpack.unpackb(payload, raw=False, strict_map_key=False)


def _refuse_pickle():
    raise InvalidArgument(
        "refusing to unpickle a stored value: this vault was opened with allow_pickle=False"
    )


def decode(kind: int, payload, allow_pickle: bool = True) -> Any:
    """Turn a (kind, payload) pair from the core into a Python object."""
    if kind == RAW:
        return payload if type(payload) is bytes else bytes(payload)
    if kind == MSGPACK:
        return unpack_msgpack(payload)
    if kind == UTF8:
        return bytes(payload).decode("utf-8")
    if kind == INT:
        return int.from_bytes(payload, "little", signed=True)
    if kind == FLOAT:
        return _F64.unpack(payload)[0]
    if kind == PICKLE:
        if not allow_pickle:
            _refuse_pickle()
        return pickle.loads(payload)
    if kind == BOOL:
        return len(payload) > 0 and payload[0] != 0
    if kind == NDARRAY:
        return _decode_ndarray(payload, scalar=False)
    if kind == NPSCALAR:
        return _decode_ndarray(payload, scalar=True)
    if kind == JSON:
        return json.loads(payload)
    if kind == CBOR:
        return msgpack.unpackb(
            _transcode(CBOR, MSGPACK, bytes(payload)), raw=False, strict_map_key=False
        )
    raise InvalidArgument(f"unknown value kind {kind}")


# ---- DataPacker inputs ------------------------------------------------------------------------


def decode_value(kind: int, payload, allow_pickle: bool) -> Any:
    """:func:`decode` with any decoding failure as :class:`InvalidArgument` (what every read
    raises for a stored value it cannot decode)."""
    try:
        return decode(kind, payload, allow_pickle)
    except KohakuVaultError:
        raise
    except Exception as exc:
        raise InvalidArgument(f"cannot decode stored value: {exc}") from exc


def encode_for_packer(kind: int, elem_dtype: int | None, value: Any) -> tuple[int, bytes]:
    """Map a value onto the kind a DataPacker takes (its ``value_kind()``; ``elem_dtype``: a
    vector packer's element dtype code, as in an ndarray payload)."""
    if kind == INT:
        if isinstance(value, float):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
        try:
            number = value.__index__()
        except AttributeError:
            raise TypeError(
                f"'{type(value).__name__}' object cannot be interpreted as an integer"
            ) from None
        if not -(1 << 63) <= number < (1 << 63):
            raise OverflowError("int too big to convert to i64")
        return INT, int_payload(number)
    if kind == FLOAT:
        if isinstance(value, (str, bytes, bytearray)):
            raise TypeError(f"must be real number, not {type(value).__name__}")
        return FLOAT, _F64.pack(float(value))
    if kind == UTF8:
        if not isinstance(value, str):
            raise TypeError(f"'{type(value).__name__}' object cannot be converted to 'PyString'")
        return UTF8, value.encode("utf-8")
    if kind == RAW:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return RAW, bytes(value)
        if isinstance(value, str):
            raise TypeError("Can't extract `str` to `Vec`")
        return RAW, bytes(value)
    if kind == NDARRAY:
        np = _numpy()
        arr = np.asarray(value)
        elem = _DTYPE_OF.get(elem_dtype) if elem_dtype is not None else None
        if elem is not None:
            arr = arr.astype(elem)
        payload = ndarray_payload(arr)
        if payload is None:
            raise TypeError(f"unsupported array dtype {arr.dtype}")
        return NDARRAY, payload
    return MSGPACK, _pack_msgpack(value)
