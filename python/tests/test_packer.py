"""DataPacker (kohakuvault 1.1.0 behaviour, docs/COMPATIBILITY.md §2) through the facade."""

import math

import numpy as np
import pytest

from kohakuvault import DataPacker


def test_i64_f64():
    p = DataPacker("i64")
    assert p.elem_size == 8 and not p.is_varsize
    assert p.pack(42) == (42).to_bytes(8, "little")
    assert p.pack(True) == (1).to_bytes(8, "little")
    assert p.pack(-1) == b"\xff" * 8
    assert p.unpack(p.pack(-7), 0) == -7
    data = p.pack_many([1, 2, 3])
    assert data == b"".join(i.to_bytes(8, "little") for i in (1, 2, 3))
    assert p.unpack_many(data, count=3) == [1, 2, 3]
    assert p.unpack(data, 8) == 2
    with pytest.raises(TypeError):
        p.pack(1.5)
    with pytest.raises(OverflowError):
        p.pack(2**63)
    with pytest.raises(TypeError):
        p.pack("x")
    f = DataPacker("f64")
    assert f.pack(1.25) == bytes.fromhex("000000000000F43F")
    assert f.unpack(f.pack(3), 0) == 3.0
    assert math.isnan(f.unpack(f.pack(float("nan")), 0))


def test_strings_and_bytes():
    s = DataPacker("str")
    assert s.is_varsize and s.elem_size == 0
    assert s.pack("héllo") == "héllo".encode()
    assert s.unpack(s.pack("héllo"), 0) == "héllo"
    fixed = DataPacker("str:8")
    assert fixed.elem_size == 8
    assert fixed.pack("ab") == b"ab" + b"\x00" * 6
    assert fixed.unpack(fixed.pack("ab"), 0) == "ab"
    with pytest.raises(ValueError):
        fixed.pack("x" * 9)
    with pytest.raises(TypeError):
        s.pack(5)
    b = DataPacker("bytes:4")
    assert b.pack(b"ab") == b"ab\x00\x00"
    assert b.unpack(b"ab\x00\x00", 0) == b"ab\x00\x00"
    assert DataPacker("bytes").pack([1, 2, 3]) == b"\x01\x02\x03"
    with pytest.raises(TypeError):
        DataPacker("bytes").pack("str")
    var = DataPacker("str")
    data = var.pack_many(["a", "bc", "def"])
    assert data == b"abcdef"
    assert var.unpack_many(data, offsets=[0, 1, 3]) == ["a", "bc", "def"]


def test_msgpack_and_cbor():
    m = DataPacker("msgpack")
    value = {"id": 7, "tags": ["one", "two"]}
    assert m.pack(value) == bytes.fromhex("82A2696407A47461677392A36F6E65A374776F")
    assert m.unpack(m.pack(value), 0) == value
    c = DataPacker("cbor")
    assert c.unpack(c.pack({"a": [1, 2.5]}), 0) == {"a": [1, 2.5]}
    assert c.pack({"a": [1, 2.5]}) == bytes.fromhex("A161618201F94100")
    cddl = DataPacker.with_cddl_schema("whatever")
    assert cddl.unpack(cddl.pack([1, "x"]), 0) == [1, "x"]
    assert DataPacker.with_cddl_schema().unpack(DataPacker.with_cddl_schema().pack(1), 0) == 1


def test_json_schema():
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
        "required": ["id"],
    }
    p = DataPacker.with_json_schema(schema)
    assert p.unpack(p.pack({"id": 3}), 0) == {"id": 3}
    with pytest.raises(ValueError):
        p.pack({"name": "x"})
    with pytest.raises(ValueError):
        DataPacker.with_json_schema({"type": 12})


def test_vectors():
    fixed = DataPacker("vec:f32:3")
    assert fixed.elem_size == 1 + 12
    packed = fixed.pack([1, 2, 3])
    assert packed == b"\x01" + np.array([1, 2, 3], "<f4").tobytes()
    out = fixed.unpack(packed, 0)
    assert out.dtype == np.float32 and np.array_equal(out, [1, 2, 3])
    with pytest.raises(ValueError):
        fixed.pack([1, 2])
    many = fixed.pack_many([[1, 2, 3], np.array([4, 5, 6])])
    rows = fixed.unpack_many(many, count=2)
    assert [r.tolist() for r in rows] == [[1, 2, 3], [4, 5, 6]]
    anyshape = DataPacker("vec:i64")
    arr = np.arange(6, dtype=np.int64).reshape(2, 3)
    back = anyshape.unpack(anyshape.pack(arr), 0)
    assert back.dtype == np.int64 and np.array_equal(back, arr)


def test_errors_and_repr():
    for bad in ("nope", "i32", "bool", "vec:f32:0", "str:x:y:z"):
        with pytest.raises(ValueError):
            DataPacker(bad)
    p = DataPacker("i64")
    with pytest.raises(ValueError, match="count"):
        p.unpack_many(b"", offsets=[0])
    with pytest.raises(ValueError, match="offsets"):
        DataPacker("str").unpack_many(b"abc", count=1)
    with pytest.raises(TypeError):
        p.pack_many((1, 2))
    with pytest.raises(TypeError):
        p.unpack(p.pack(1))  # offset is required
    assert repr(p).startswith("DataPacker")
    from kohakuvault._kvault import DataPacker as Alias

    assert Alias is DataPacker
