"""ColumnVault, Column and VarSizeColumn: kohakuvault 1.1.0's behaviour over the Rust core."""

import gc
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from kohakuvault import Column, ColumnVault, KVault, NotFound, VarSizeColumn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VECTORS = os.path.join(ROOT, "tests", "conformance", "columns.json")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "columns_110.sqlite")


@pytest.fixture
def cv(tmp_path):
    vault = ColumnVault(str(tmp_path / "c.db"))
    yield vault
    vault.close()


class Spy:
    """Records which core methods a column calls (delegates everything)."""

    def __init__(self, store):
        self.store, self.calls = store, []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.store, name)


def _py(v):
    return bytes.fromhex(v["hex"]) if isinstance(v, dict) and set(v) == {"hex"} else v


def test_numeric_column_is_a_list(cv):
    col = cv.create_column("n", "i64")
    assert isinstance(col, Column) and not isinstance(col, VarSizeColumn)
    col.append(5)
    col.extend([6, 7, 8])
    assert len(col) == 4
    assert col[0] == 5 and col[-1] == 8
    assert col[1:3] == [6, 7]
    assert col[3:1] == []
    assert list(col) == [5, 6, 7, 8]
    assert 7 in col and col.index(7) == 2 and col.count(5) == 1
    col[1] = 60
    col[2:4] = [70, 80]
    assert col.read() == [5, 60, 70, 80]
    del col[0]
    col.insert(0, 1)
    col.insert(100, 99)
    assert col.read() == [1, 60, 70, 80, 99]
    assert col.pop() == 99
    col.reverse()
    assert col.read() == [80, 70, 60, 1]
    assert repr(col) == "Column(name='n', dtype='i64', length=4)"
    with pytest.raises(IndexError, match="Column index out of range"):
        col[10]
    with pytest.raises(TypeError, match="Column indices must be integers or slices"):
        col["x"]
    with pytest.raises(ValueError, match="Step slicing not supported"):
        col[::2]
    with pytest.raises(ValueError, match="Slice length mismatch"):
        col[0:2] = [1]
    with pytest.raises(IndexError, match="column index out of range"):
        col.read(2, 5)


def test_arrays_in_and_out(cv):
    col = cv.create_column("x", "f32")
    data = np.arange(10_000, dtype=np.float32)
    col.append_array(data)
    arr = col.read_array()
    assert arr.dtype == np.float32 and arr.shape == (10_000,)
    assert np.array_equal(arr, data)
    assert not arr.flags.writeable
    copy = col.read_array(5, 10, copy=True)
    assert copy.flags.writeable and np.array_equal(copy, data[5:15])
    assert col.read_buffer(0, 2) == data[:2].tobytes()
    assert np.array_equal(col.take([3, -1, 3]), data[[3, -1, 3]])
    batches = list(col.iter_batches(4096))
    assert [len(b) for b in batches] == [4096, 4096, 1808]
    with pytest.raises(TypeError):
        col.read_buffers()
    with pytest.raises(TypeError):
        cv.create_column("s", "str").read_array()


def test_tensor_columns(cv):
    col = cv.create_column("emb", "vec:f32:2:3")
    rows = np.arange(24, dtype=np.float32).reshape(4, 2, 3)
    col.append_array(rows)
    col.append(rows[0] + 100)
    arr = col.read_array()
    assert arr.shape == (5, 2, 3)
    assert np.array_equal(arr[:4], rows)
    row = col[4]
    assert isinstance(row, np.ndarray) and row.shape == (2, 3) and not row.flags.writeable
    with pytest.raises(ValueError):
        col.append_array(np.zeros((2, 3, 2), dtype=np.float32))
    assert len(col) == 5


def test_every_scalar_dtype(cv):
    for dtype, values in [
        ("bool", [True, False]),
        ("i8", [-128, 127]),
        ("i16", [-2, 300]),
        ("i32", [7, -7]),
        ("u8", [0, 255]),
        ("u16", [65535]),
        ("u32", [4_000_000_000]),
        ("u64", [2**64 - 1]),
        ("f16", [1.5]),
        ("f64", [0.1, -0.0]),
    ]:
        col = cv.create_column(dtype, dtype)
        col.extend(values)
        assert col.read() == values, dtype
    with pytest.raises(OverflowError):
        cv["u8"].extend([256])
    assert cv["u8"].read() == [0, 255]


def test_text_bytes_and_packed(cv):
    s = cv.create_column("s", "str")
    assert isinstance(s, VarSizeColumn)
    s.extend(["", "a", "été", "日本"])
    assert s.read() == ["", "a", "été", "日本"]
    data, offsets = s.read_buffers()
    assert data == "aété日本".encode() and offsets.tolist() == [0, 0, 1, 6, 12]
    s[1] = "longer text"
    assert s[1] == "longer text"
    with pytest.raises(TypeError, match="A string column requires str values"):
        s.append(b"x")
    u = cv.create_column("u", "str:utf16le")
    u.append("hé")
    assert u[0] == "hé" and u.read_buffers()[0] == "hé".encode("utf-16-le")
    b = cv.create_column("b", "bytes")
    b.extend([b"", b"\x00\xff", bytearray(b"xy")])
    assert b.read() == [b"", b"\x00\xff", b"xy"]
    assert b.take([2, 0]) == [b"xy", b""]
    with pytest.raises(TypeError, match="A bytes column requires bytes-like values"):
        b.append("x")
    m = cv.create_column("m", "msgpack")
    m.extend([{"a": 1}, [1, 2], "s"])
    assert m.read() == [{"a": 1}, [1, 2], "s"]
    f = cv.create_column("f", "str:8")
    assert isinstance(f, Column) and not isinstance(f, VarSizeColumn)
    f.extend(["abc", "12345678"])
    assert f.read() == ["abc", "12345678"]
    with pytest.raises(ValueError):
        f.append("123456789")
    with pytest.raises(LookupError):
        cv.create_column("k", "str:klingon")


def test_conformance_vectors(cv):
    doc = json.load(open(VECTORS))
    for i, case in enumerate(doc["cases"]):
        dtype = case["dtype"]
        col = cv.create_column(f"c{i}", dtype)
        values = [_py(v) for v in case["values"]]
        if dtype.startswith("vec"):
            col.append_array(np.array(values, dtype=col._codec.np_dtype))
        else:
            col.extend(values)
        rows = [bytes.fromhex(h) for h in case["rows_hex"]]
        if case["elem_size"]:
            buf = col.read_buffer()
            size = case["elem_size"]
            assert [buf[k * size : (k + 1) * size] for k in range(len(rows))] == rows, dtype
        else:
            data, offsets = col.read_buffers()
            assert [data[offsets[k] : offsets[k + 1]] for k in range(len(rows))] == rows, dtype
        if dtype.startswith("bytes:"):  # read back with the padding, as 1.1.0
            values = [v.ljust(case["elem_size"], b"\0") for v in values]
        if not dtype.startswith("vec"):
            assert col.read() == values, dtype


def test_catalog(cv, tmp_path):
    a = cv.create_column("a", "i64")
    assert cv["a"] is a
    assert cv.ensure("a", "i64") is a
    with pytest.raises(ValueError, match="Column 'a' has dtype 'i64', not 'f64'"):
        cv.ensure("a", "f64")
    with pytest.raises(RuntimeError, match="UNIQUE constraint failed: kvault_col_columns.name"):
        cv.create_column("a", "i64")
    with pytest.raises(ValueError, match="invalid column name, dtype, or block size"):
        cv.create_column("", "i64")
    with pytest.raises(NotFound):
        cv["missing"]
    a.extend([1, 2])
    cv.create_column("b", "str")
    assert cv.list_columns() == [("a", "i64", 2), ("b", "str", 0)]
    assert a.storage_info()["blocks"] == 1
    assert cv.delete_column("a") and not cv.delete_column("a")
    with pytest.raises(KeyError):
        len(a)
    assert repr(cv).startswith("ColumnVault(") and "closed=False" in repr(cv)
    assert cv.checkpoint()[0] == 0


def test_constructor_rules(tmp_path):
    with pytest.raises(ValueError, match="block_bytes must be between 1 and 512 MiB"):
        ColumnVault(str(tmp_path / "x.db"), block_bytes=0)
    with pytest.raises(ValueError, match="not a SQLite URI"):
        ColumnVault("file:x.db")
    with pytest.raises(ValueError, match="cannot be opened read-only"):
        ColumnVault(":memory:", read_only=True)
    kv = KVault(str(tmp_path / "kv.db"))
    with ColumnVault(kv) as cv:  # shares the path
        cv.create_column("n", "i64").append(1)
    kv["k"] = b"v"
    kv.close()
    with ColumnVault(str(tmp_path / "kv.db"), read_only=True) as ro:
        assert ro["n"].read() == [1]
        with pytest.raises(PermissionError, match="ColumnVault is read-only"):
            ro.create_column("x", "i64")
    with pytest.raises(RuntimeError, match="no such table: kvault_col_format"):
        open(tmp_path / "plain.db", "wb").close()
        ColumnVault(str(tmp_path / "plain.db"), read_only=True)


def test_closed_vault_refuses_everything(tmp_path):
    cv = ColumnVault(str(tmp_path / "c.db"))
    col = cv.create_column("n", "i64")
    cv.close()
    cv.close()  # idempotent
    for op in (
        lambda: len(col),
        lambda: col.append(1),
        lambda: col[0],
        lambda: col.read(),
        lambda: cv.create_column("x", "i64"),
        lambda: cv["n"],
        lambda: cv.list_columns(),
    ):
        with pytest.raises(ValueError, match="ColumnVault is closed"):
            op()
    assert cv.flush_cache() == 0


def test_cached_appends_are_combined_and_read_your_writes(tmp_path):
    path = str(tmp_path / "c.db")
    cv = ColumnVault(path)
    col = cv.create_column("n", "i64")
    with col.cache():
        for i in range(10_000):
            col.append(i)
        assert len(col) == 10_000
        assert col[9_999] == 9_999  # a read flushes first
        col.append(10_000)
    other = ColumnVault(path)
    assert len(other["n"]) == 10_001
    other.close()
    s = cv.create_column("s", "str")
    cv.enable_cache()
    s.extend(["a", "b"])
    assert cv.flush_cache() > 0
    cv.disable_cache()
    cv.close()


def test_pending_rows_survive_garbage_collection(tmp_path):
    path = str(tmp_path / "gc.db")
    cv = ColumnVault(path)
    col = cv.create_column("n", "i64")
    cv.enable_cache()
    col.extend([1, 2, 3])
    del col, cv
    gc.collect()
    with ColumnVault(path) as again:
        assert again["n"].read() == [1, 2, 3]


def test_pending_rows_survive_interpreter_exit(tmp_path):
    path = str(tmp_path / "exit.db")
    code = (
        "from kohakuvault import ColumnVault\n"
        f"cv = ColumnVault({path!r})\n"
        "c = cv.create_column('n', 'i64')\n"
        "cv.enable_cache()\n"
        "c.extend(range(100))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with ColumnVault(path) as cv:
        assert cv["n"].read() == list(range(100))


def test_periodic_flush(tmp_path):
    path = str(tmp_path / "p.db")
    cv = ColumnVault(path)
    col = cv.create_column("n", "i64")
    cv.enable_cache(flush_interval=0.05)
    col.append(42)
    col._drain()  # the periodic flush runs in the core, on rows the core holds
    import time

    other = ColumnVault(path)
    deadline = time.time() + 5
    while len(other["n"]) == 0:
        assert time.time() < deadline, "the periodic flush never ran"
        time.sleep(0.02)
    other.close()
    with cv.lock_cache():
        pass
    cv.close()


def test_reads_a_1_1_0_file(tmp_path):
    import shutil

    path = str(tmp_path / "old.db")
    shutil.copy(FIXTURE, path)
    want = json.load(open(os.path.join(ROOT, "tests", "fixtures", "columns_110.json")))
    with ColumnVault(path) as cv:
        for name, spec in want["columns"].items():
            col = cv[name]
            values = [_py(v) for v in spec["values"]]
            got = col.read()
            if spec["dtype"].startswith("vec"):
                got = [r.tolist() for r in got]
            if spec["dtype"].startswith("bytes:"):  # read back with the padding, as 1.1.0
                size = int(spec["dtype"].split(":")[1])
                values = [v.ljust(size, b"\0") for v in values]
            assert got == values, name
        cv["ids"].append(7)
        cv["text"].append("new")
        assert cv["ids"][-1] == 7 and cv["text"][-1] == "new"


def test_bad_input_changes_nothing(cv):
    col = cv.create_column("n", "i64")
    col.extend([1, 2])
    with pytest.raises(TypeError):
        col.extend([1, "x"])
    with pytest.raises(Exception):
        col.append("x")
    assert col.read() == [1, 2]
    with pytest.raises(ValueError):
        col.append_array(np.zeros((2, 2)))
    assert len(col) == 2
    m = cv.create_column("m", "msgpack:4")
    with pytest.raises(ValueError):
        m.extend(["ok", "far too long for four bytes"])
    assert len(m) == 0
    warnings.simplefilter("ignore", ResourceWarning)


@pytest.mark.parametrize("cached", [False, True], ids=["direct", "cached"])
def test_read_buffers_take_the_fast_path_with_the_udl_result(cv, cached):
    """``read_buffers`` crosses once through ``col_fast_var_rows_py`` (the core builds the two
    ``bytes``) and returns exactly what the UDL ``read_var_rows`` returns; a failure of the fast
    path falls back to the UDL call, which raises the typed error."""
    from kohakuvault import column_proxy
    from kohakuvault._ffi import FAILED

    if column_proxy._VAR_ROWS is None:
        pytest.skip("the core cannot build Python objects here")
    col = cv.create_column("v", "bytes")
    if cached:
        col.enable_cache()
    rows = [bytes([i % 251]) * (i % 97) for i in range(3000)]
    col.extend(rows)

    spy = Spy(col._store)
    col._store = spy
    for start, count in [(0, 3000), (5, 0), (1000, 1), (2990, 10)]:
        data, offsets = col.read_buffers(start, count)
        want = spy.store.read_var_rows(col._id, start, count)
        assert data == want.data and offsets.tobytes() == want.offsets
        assert offsets.dtype == np.dtype("<u8") and len(offsets) == count + 1
        assert data == b"".join(rows[start : start + count])
    assert "read_var_rows" not in spy.calls
    # An unknown column id: the fast path reports FAILED, the UDL call raises typed.
    fh = cv._fh
    assert column_proxy._VAR_ROWS(fh, 10_000, 0, 1) is FAILED
    assert column_proxy._VAR_ROWS(fh + 1000, col._id, 0, 1) is FAILED
    assert col.read_buffers(0, 3000)[0] == b"".join(rows)


def test_append_array_takes_the_fast_path_with_the_udl_meaning(tmp_path):
    """``append_array`` on a column without a cache crosses once through ``col_fast_append``
    from the array's own memory; a cached column, a read-only vault and bad input take the UDL
    call (the cache, the typed error), and a refused append stores nothing."""
    from kohakuvault import column_proxy

    if column_proxy._FAST_APPEND is None:
        pytest.skip("the C fast path is not available")
    path = str(tmp_path / "c.db")

    with ColumnVault(path) as cv:
        n = cv.create_column("n", "i64")
        t = cv.create_column("t", "vec:f32:3")
        h = cv.create_column("h", "f16")
        for col in (n, t, h):
            col._store = Spy(col._store)
        big = np.arange(300_000, dtype=np.int64) * -3
        n.append_array(big)
        n.append_array(np.array([7, 8], dtype=np.int32))  # converted to i64 first
        n.append_array(np.arange(10, dtype=np.int64)[::2])  # not contiguous: copied first
        tens = np.arange(30, dtype=np.float64).reshape(10, 3)
        t.append_array(tens)
        h.append_array(np.array([0.5, 1.5], dtype=np.float32))
        for col in (n, t, h):
            assert "append_rows" not in col._store.calls, col._store.calls
        assert n.read_array().tolist() == big.tolist() + [7, 8, 0, 2, 4, 6, 8]
        assert t.read_array().tolist() == tens.astype(np.float32).tolist()
        assert h.read() == [0.5, 1.5]
        with pytest.raises(ValueError):
            t.append_array(np.zeros((2, 4), dtype=np.float32))  # wrong shape: nothing stored
        assert len(t) == 10
        # A cached column: the UDL call (the core's cache), read back the same.
        with n.cache():
            n.append_array(np.array([1, 2, 3], dtype=np.int64))
        assert n.read_array()[-3:].tolist() == [1, 2, 3]
        # The core refuses (the column is cached in the core): 1, nothing stored.
        n.enable_cache()
        fh = cv._fh
        one = np.array([99], dtype=np.int64)
        before = len(n)
        assert column_proxy._FAST_APPEND(fh, n._id, one.ctypes.data, 8) == 1
        n.disable_cache()
        assert len(n) == before
        # Not whole rows, an unknown column: -1, nothing stored.
        assert column_proxy._FAST_APPEND(fh, n._id, one.ctypes.data, 5) == -1
        assert column_proxy._FAST_APPEND(fh, 10_000, one.ctypes.data, 8) == -1
        assert len(n) == before
    with ColumnVault(path, read_only=True) as ro:
        with pytest.raises(PermissionError, match="ColumnVault is read-only"):
            ro["n"].append_array(np.array([1], dtype=np.int64))
        assert len(ro["n"]) == before


SCALARS = {
    "bool": [True, False, True],
    "i8": [-128, 0, 127],
    "i16": [-32768, 1, 32767],
    "i32": [-(2**31), 2, 2**31 - 1],
    "i64": [-(2**63), 3, 2**63 - 1],
    "u8": [0, 1, 255],
    "u16": [0, 2, 65535],
    "u32": [0, 3, 2**32 - 1],
    "u64": [0, 4, 2**64 - 1],
    "f32": [0.1, -2.5, float("inf")],
    "f64": [0.1, -2.5, float("-inf")],
    "f16": [0.5, -1.0, 2.0],
}


@pytest.mark.parametrize("dtype", sorted(SCALARS))
def test_scalar_lists_built_by_the_core_match_the_arrays(cv, dtype):
    """``col[:]`` / ``read`` / slices of a scalar column are the builtin ``col_list`` (a list
    the core builds, docs/FORMAT.md §5.1): the same values and Python types as
    ``read_array().tolist()`` for every scalar dtype (f16 takes the numpy path); bad arguments
    and unknown columns give FAILED, and the facade then raises the typed error."""
    from kohakuvault import column_proxy
    from kohakuvault._ffi import FAILED

    col = cv.create_column("c", dtype)
    want = SCALARS[dtype] * 700
    col.extend(want)
    arr = col.read_array().tolist()
    assert col[:] == arr and col.read() == arr
    assert col[5:1500] == arr[5:1500] and col.read(2099, 1) == arr[2099:] and col[3:3] == []
    assert [type(v) for v in col[:3]] == [type(v) for v in arr[:3]]
    if dtype in ("i64", "u64", "bool", "i8"):
        assert col[:3] == want[:3]
    fh = cv._fh
    if fh and column_proxy._COL_LIST is not column_proxy._COL_LIST_UNAVAILABLE:
        builtin = column_proxy._COL_LIST
        if dtype == "f16":
            assert builtin(fh, col._id, 0, 3) is FAILED
        else:
            assert builtin(fh, col._id, 0, 3) == arr[:3]
            assert builtin(fh, col._id, 0, 0) == []
        assert builtin(fh, col._id, 2000, 101) is FAILED  # past the end
        assert builtin(fh, 10_000, 0, 1) is FAILED  # unknown column
        assert builtin(fh + 1000, col._id, 0, 1) is FAILED  # unknown handle
        assert builtin(fh, col._id, -1, 1) is FAILED
        assert builtin(fh, col._id, "0", 1) is FAILED
        assert builtin(fh, col._id, 0) is FAILED
    with pytest.raises(IndexError):
        col.read(2000, 101)


def test_tensor_rows_and_f16_take_the_array_path(cv):
    from kohakuvault import column_proxy
    from kohakuvault._ffi import FAILED

    t = cv.create_column("t", "vec:i64:2")
    t.extend([[1, 2], [3, 4]])
    h = cv.create_column("h", "f16")
    h.extend([0.5, 1.5])
    assert [r.tolist() for r in t[:]] == [[1, 2], [3, 4]]
    assert h[:] == [0.5, 1.5]
    if cv._fh:
        assert column_proxy._COL_LIST(cv._fh, t._id, 0, 2) is FAILED
        assert column_proxy._COL_LIST(cv._fh, h._id, 0, 2) is FAILED


@pytest.mark.parametrize("dtype", ["str", "str:utf16le", "str:latin1", "str:utf16"])
def test_text_extend_takes_the_builtin_with_the_udl_meaning(cv, dtype):
    """``extend`` of a list of str on a text column without a cache is one builtin call
    (``col_append_text``: no (kind, UTF-8) items built in Python), stored exactly as the UDL
    ``append_values`` stores them; any other input takes the usual path, and a value the
    codec cannot hold raises with nothing stored."""
    from kohakuvault import column_proxy
    from kohakuvault._ffi import FAILED

    col = cv.create_column("s", dtype)
    ref = cv.create_column("r", dtype)
    texts = [f"record {i} é" for i in range(3000)] + ["", "x" * 70_000]
    spy = Spy(col._store)
    col._store = spy
    col.extend(texts)
    ref.extend(tuple(texts))  # not a list: the (kind, payload) path
    if column_proxy._COL_APPEND_TEXT is not column_proxy._COL_LIST_UNAVAILABLE and cv._fh:
        assert "append_values" not in spy.calls
        fh = cv._fh
        assert column_proxy._COL_APPEND_TEXT(fh, col._id, ["a", 1]) is FAILED
        assert column_proxy._COL_APPEND_TEXT(fh, col._id, ("a",)) is FAILED
        assert column_proxy._COL_APPEND_TEXT(fh, 10_000, ["a"]) == -1
    assert col[:] == ref[:] == texts
    assert col.read_buffers()[0] == ref.read_buffers()[0]
    n = len(col)
    with pytest.raises(TypeError):
        col.extend(["fine", 3])
    if dtype == "str:latin1":
        with pytest.raises(Exception):
            col.extend(["fine", "not latin-1: 鍵"])
    assert len(col) == n and col[-1] == texts[-1]
    with col.cache():
        col.extend(["cached"])
    assert col[-1] == "cached" and len(col) == n + 1
