"""The value model: conformance vectors through the generated codec and through the facade."""

import collections
import enum
import math
import pickle

import numpy as np
import pytest

from conftest import load_conformance, stored_bytes
from kohakuvault import Cbor, InvalidArgument, Json, KVault, _codec
from kohakuvault._ffi import N

VALUES = load_conformance("values.json")


def h(text):
    return bytes.fromhex(text)


# ---- generated codec ---------------------------------------------------------------------------


@pytest.mark.parametrize("vec", VALUES["encode"], ids=lambda v: v["name"])
def test_encode_vectors(vec):
    stored = N.encode_value(vec["kind"], h(vec["payload"]), vec["headers"])
    assert stored == h(vec["stored"])
    tv = N.decode_value(stored)
    expect = vec.get("decodes_as")
    if expect is not None:
        assert (tv.kind, tv.payload) == (expect["kind"], h(expect["payload"]))
    else:
        assert tv.kind == vec["kind"]
        assert tv.payload == h(vec.get("decoded_payload", vec["payload"]))


@pytest.mark.parametrize("vec", VALUES["decode_legacy"], ids=lambda v: v["name"])
def test_decode_legacy_vectors(vec):
    tv = N.decode_value(h(vec["stored"]))
    assert (tv.kind, tv.payload) == (vec["kind"], h(vec["payload"]))


@pytest.mark.parametrize("vec", VALUES["corrupt"], ids=lambda v: v["name"])
def test_corrupt_vectors(vec):
    with pytest.raises(N.VaultError.Corrupt):
        N.decode_value(h(vec["stored"]))


# ---- facade conversion of the same vectors -------------------------------------------------------

# Vector name -> (Python value written through the facade, value expected back).
PY_VALUES = {
    "raw bytes": (b"\x00raw\xff", b"\x00raw\xff"),
    "msgpack mapping (1.1.0 bytes)": (
        {"id": 7, "tags": ["one", "two"]},
        {"id": 7, "tags": ["one", "two"]},
    ),
    "int 42 (1.1.0 bytes)": (42, 42),
    "float 1.25 (1.1.0 bytes)": (1.25, 1.25),
    "text hello (1.1.0 bytes)": ("hello", "hello"),
    "float32 (3,4) array (1.1.0 bytes)": (
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.arange(12, dtype=np.float32).reshape(3, 4),
    ),
    "json wrapper (1.1.0 bytes)": (Json({"a": 1}), {"a": 1}),
    "cbor wrapper (1.1.0 bytes)": (Cbor({"a": [1, 2.5]}), {"a": [1, 2.5]}),
    "int 2**40 is typed (1.1.0 misreads it)": (2**40, 2**40),
    "int -5 (1.1.0 bytes)": (-5, -5),
    "int 2**70 stays exact": (2**70, 2**70),
    "bool true is typed": (True, True),
    "float 0.0 is typed": (0.0, 0.0),
    "float -0.0 is typed": (-0.0, -0.0),
    "numpy float32 scalar 1.5": (np.float32(1.5), np.float32(1.5)),
    "uint8 array [7] is typed": (np.array([7], dtype=np.uint8), np.array([7], dtype=np.uint8)),
    "raw bytes that look like a header are escaped": (
        h("894B010600000000564B41"),
        h("894B010600000000564B41"),
    ),
    "raw bytes with magic but no VK stay raw": (h("894B00"), h("894B00")),
    "int 42 with headers off is bare": (42, h("2A00000000000000")),
    "empty raw": (b"", b""),
}
if pickle.DEFAULT_PROTOCOL == 4:  # the vector was written by Python 3.11's pickle
    PY_VALUES["pickle None (1.1.0 bytes)"] = (None, None)


def same(a, b):
    if isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b)
        )
    if isinstance(b, np.generic):
        return type(a) is type(b) and a == b
    if isinstance(b, float):
        return type(a) is float and math.copysign(1, a) == math.copysign(1, b) and a == b
    return type(a) is type(b) and a == b


def test_every_vector_has_a_python_value_or_is_pickle():
    names = {v["name"] for v in VALUES["encode"]}
    assert names - set(PY_VALUES) <= {"pickle None (1.1.0 bytes)"}


@pytest.mark.parametrize(
    "vec", [v for v in VALUES["encode"] if v["name"] in PY_VALUES], ids=lambda v: v["name"]
)
def test_facade_writes_vector_bytes(db_path, vec):
    value, expected = PY_VALUES[vec["name"]]
    with KVault(db_path) as kv:
        if not vec["headers"]:
            kv.disable_headers()
        kv["k"] = value
        assert stored_bytes(db_path, b"k") == h(vec["stored"])
        assert same(kv["k"], expected)
        # cached path as well
        kv.enable_cache()
        kv["c"] = value
        assert same(kv["c"], expected)
        kv.flush_cache()
        assert stored_bytes(db_path, b"c") == h(vec["stored"])


def test_facade_encode_matches_vector_kinds():
    for vec in VALUES["encode"]:
        if vec["name"] not in PY_VALUES or not vec["headers"]:
            continue
        value, _ = PY_VALUES[vec["name"]]
        kind, payload = _codec.encode(value)
        assert N.encode_value(kind, payload, True) == h(vec["stored"]), vec["name"]


# ---- exact round trips (docs/COMPATIBILITY.md §1.1) -----------------------------------------------

EXACT = [
    2**40,
    -(2**40),
    2**63 - 1,
    -(2**63),
    2**64,
    2**70,
    -(2**200),
    0,
    1,
    -1,
    0.0,
    -0.0,
    float("inf"),
    float("-inf"),
    1e300,
    5e-324,
    True,
    False,
    np.float32(1.5),
    np.float64(-0.0),
    np.int64(7),
    np.int8(-3),
    np.uint64(2**64 - 1),
    np.bool_(True),
    np.float16(0.5),
    np.array([7], dtype=np.uint8),
    np.array([1, 2], dtype=np.uint8),
    np.array([1, 2], dtype=np.int16),
    np.zeros(0, dtype=np.float32),
    np.zeros((2, 0), dtype=np.float64),
    np.array([True, False]),
    np.array([1.5, 2.5], dtype=np.float16),
    np.array(5, dtype=np.int64),
    np.arange(24, dtype=np.int32).reshape(2, 3, 4),
    "",
    "é☃\x00",
    b"",
    b"\x89K\x01\x06\x00\x00\x00\x00VK",
    None,
    (1, 2),
    {1, 2},
    frozenset({3}),
    {"t": (1, 2)},
    [float("nan")],
    {"a": b"x"},
    {1: "a"},
    [2**70],
    [True, 1, 1.0],
    {"nested": [{"deep": [None, -0.0]}]},
    [],
    {},
]


def deep_equal(a, b):
    if isinstance(b, float) and math.isnan(b):
        return isinstance(a, float) and math.isnan(a)
    if isinstance(b, (list, tuple)):
        return (
            type(a) is type(b) and len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
        )
    if isinstance(b, dict):
        return (
            type(a) is type(b)
            and list(a.keys()) == list(b.keys())
            and all(deep_equal(a[k], b[k]) for k in b)
        )
    if isinstance(b, (np.ndarray, np.generic, float)):
        return same(a, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("value", EXACT, ids=lambda v: f"{type(v).__name__}:{v!r}"[:60])
def test_exact_round_trip(kv, value):
    kv["v"] = value
    assert deep_equal(kv["v"], value)
    assert deep_equal(kv.get_many(["v"])[0], value)
    assert deep_equal(dict(kv.items())[b"v"], value)
    kv.enable_cache()
    kv["w"] = value
    assert deep_equal(kv["w"], value)
    kv.flush_cache()
    assert deep_equal(kv["w"], value)


def test_arrays_are_fresh_and_writable(kv):
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    kv["a"] = arr
    out = kv["a"]
    assert out.flags.writeable and out.flags.c_contiguous
    out[0, 0] = 99
    assert kv["a"][0, 0] == 0


def test_non_contiguous_and_big_endian_arrays(kv):
    kv["t"] = np.arange(10, dtype=np.int32)[::2]
    assert np.array_equal(kv["t"], [0, 2, 4, 6, 8])
    kv["f"] = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.array_equal(kv["f"], np.arange(6, dtype=np.float32).reshape(2, 3))
    kv["b"] = np.arange(4, dtype=">i4")
    out = kv["b"]
    assert out.dtype == np.dtype("<i4") and np.array_equal(out, [0, 1, 2, 3])


def test_unsupported_array_dtypes_pickle(kv):
    for value in (np.array([1 + 2j]), np.array(["a", "b"]), np.array([object()], dtype=object)[:0]):
        kv["x"] = value
        out = kv["x"]
        assert out.dtype == value.dtype and np.array_equal(out, value)


class Color(enum.IntEnum):
    RED = 1


def test_subclasses_keep_their_type(kv):
    kv["e"] = Color.RED
    assert kv["e"] is Color.RED
    kv["od"] = collections.OrderedDict(a=1)
    assert type(kv["od"]) is collections.OrderedDict


def test_bool_is_not_int(kv):
    kv["b"] = True
    assert kv["b"] is True
    kv["i"] = 1
    assert type(kv["i"]) is int


def test_use_pickle_false(kv):
    kv.enable_auto_pack(use_pickle=False)
    with pytest.raises(InvalidArgument, match="pickle"):
        kv["x"] = None
    with pytest.raises(InvalidArgument, match="MessagePack failed and pickle disabled"):
        kv["x"] = [2**70]
    kv["ok"] = {"a": [1, 2]}
    assert kv["ok"] == {"a": [1, 2]}
    assert "x" not in kv


def test_allow_pickle_false(db_path):
    with KVault(db_path) as kv:
        kv["p"] = (1, 2)
        kv["m"] = {"a": 1}
    with KVault(db_path, allow_pickle=False) as kv:
        with pytest.raises(InvalidArgument, match="allow_pickle"):
            kv["p"]
        assert kv["m"] == {"a": 1}
        assert kv.get_to_file is not None


def test_nan_in_containers_survives(kv):
    kv["l"] = [float("nan"), 1.0]
    out = kv["l"]
    assert math.isnan(out[0]) and out[1] == 1.0


def test_raw_bytes_with_magic_read_back(kv, db_path):
    header_like = b"\x89K\x01\x04\x00\x00\x00\x00VK\x80"
    for value in (header_like, b"\x89K\x01\xff\x00\x00\x00\x00VK", b"\x89K" + b"\x00" * 20):
        kv["m"] = value
        assert kv["m"] == value
        assert kv.get_many(["m"]) == [value]
        assert list(kv.values()) == [value]
        kv.disable_auto_pack()
        assert kv["m"] == value
        kv.enable_auto_pack()


def test_wrappers(kv):
    from kohakuvault import MsgPack, Pickle

    kv["j"] = Json([1, "a"])
    kv["m"] = MsgPack((1, 2))
    kv["c"] = Cbor({"x": 1.5})
    kv["p"] = Pickle([1])
    assert kv["j"] == [1, "a"]
    assert kv["m"] == [1, 2]
    assert kv["c"] == {"x": 1.5}
    assert kv["p"] == [1]

    class Duck:
        encoding_name = "json"
        data = {"d": 1}

    kv["d"] = Duck()
    assert kv["d"] == {"d": 1}

    class Bad:
        encoding_name = "zzz"
        data = 1

    with pytest.raises(InvalidArgument, match="Unknown encoding wrapper: zzz"):
        kv["b"] = Bad()
    assert repr(Json({"a": 1})) == "Json({'a': 1})"
    assert Json(1).encoding_name == "json" and Json(1).data == 1
