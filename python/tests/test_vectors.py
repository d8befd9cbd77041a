"""VectorKVault: kohakuvault 1.1.0's API over the Rust core, plus what 1.1.0 could not do
(int8 / bit vectors, l1 / l2 / hamming, metadata filters, batches, compaction, a real close).

Results are checked against a numpy brute-force reference computed here in float64."""

import json
import os
import sqlite3

import numpy as np
import pytest

import kohakuvault
from conftest import CONFORMANCE
from kohakuvault import (
    InvalidArgument,
    IoError,
    KohakuVaultError,
    NotFound,
    VectorKVault,
)

# (metric, vector_type) pairs the core accepts, with 1.1.0's info() spelling.
PAIRS = [
    ("cosine", "f32", "cosine", "float32"),
    ("l2", "f32", "L2", "float32"),
    ("l1", "f32", "L1", "float32"),
    ("l2", "int8", "L2", "int8"),
    ("l1", "int8", "L1", "int8"),
    ("hamming", "bit", "hamming", "bit"),
]
PAIR_IDS = [f"{m}-{t}" for m, t, _, _ in PAIRS]


def _raises(cls, fn, *args, **kwargs):
    """``fn`` raises exactly ``cls`` (not merely a subclass of it)."""
    with pytest.raises(cls) as info:
        fn(*args, **kwargs)
    assert type(info.value) is cls, (type(info.value), info.value)
    return info.value


def random_rows(rng, vector_type, n, dims):
    """n random vectors of the type, as the caller would pass them (bit: 0/1 bools)."""
    if vector_type == "f32":
        return rng.standard_normal((n, dims)).astype(np.float32)
    if vector_type == "int8":
        return rng.integers(-128, 128, (n, dims)).astype(np.int8)
    return rng.integers(0, 2, (n, dims)).astype(bool)


def brute_force(metric, rows, query):
    """Distances of every row to ``query`` in float64 (the core's definitions)."""
    if metric == "hamming":
        return (rows != query).sum(axis=1).astype(np.float64)
    a = rows.astype(np.float64)
    q = np.asarray(query, dtype=np.float64)
    if metric == "cosine":
        an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-30)
        qn = q / max(np.linalg.norm(q), 1e-30)
        return 1.0 - an @ qn
    if metric == "l2":
        return np.sqrt(((a - q) ** 2).sum(axis=1))
    return np.abs(a - q).sum(axis=1)


def check_knn(hits, true_d, k, allowed=None, exact_ties=False):
    """``hits`` are the exact k nearest (ids 1..n map to rows 0..n-1) among the ``allowed``
    rows: k of them (or all that match), distances equal to the reference, nearest first, equal
    distances by id. With ``exact_ties`` (integer distances) the order must be exactly
    (distance, id); otherwise rows within a rounding tolerance of the k-th distance may swap.
    Returns the recall against the reference top k (1.0 when correct)."""
    cand = np.arange(len(true_d)) if allowed is None else np.flatnonzero(allowed)
    want = min(k, len(cand))
    ids = [h[0] for h in hits]
    dists = np.array([h[1] for h in hits], dtype=np.float64)
    assert len(ids) == want, (len(ids), want)
    assert len(set(ids)) == len(ids)
    if not want:
        return 1.0
    idx = np.array(ids) - 1
    if allowed is not None:
        assert allowed[idx].all(), "a hit outside the filter"
    np.testing.assert_allclose(dists, true_d[idx], rtol=1e-5, atol=1e-4)
    assert (np.diff(dists) >= 0).all(), "not nearest first"
    for a, b, i, j in zip(dists, dists[1:], ids, ids[1:]):
        if a == b:
            assert i < j, "ties must be ordered by id"
    order = cand[np.lexsort((cand, true_d[cand]))][:want] + 1
    if exact_ties:
        assert ids == order.tolist()
        return 1.0
    kth = true_d[order[-1] - 1]
    tol = 1e-5 * abs(kth) + 1e-4
    assert (true_d[idx] <= kth + tol).all(), "a hit farther than the k-th nearest"
    must = cand[true_d[cand] < kth - tol] + 1
    assert set(must.tolist()) <= set(ids), "a nearer row is missing"
    # Recall counting a row within rounding of the k-th distance as a correct neighbour.
    return float(np.mean(true_d[idx] <= kth + tol))


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "vec.db")


# ---- construction ---------------------------------------------------------------------------


def test_constructor_validation_is_raw_value_error(path):
    cases = [
        (dict(metric="dot"), "Unknown metric 'dot'. Expected: cosine, l2, l1, or hamming"),
        (dict(vector_type="x"), "Unknown vector type: x"),
        (
            dict(metric="cosine", vector_type="int8"),
            "Metric 'cosine' is not compatible with vector type 'int8'",
        ),
        (
            dict(dimensions=7, metric="hamming", vector_type="bit"),
            "Bit vector dimensions must be divisible by 8, got 7",
        ),
        (dict(dimensions=0), "dimensions must be positive"),
        (dict(dimensions=-3), "dimensions must be positive"),
    ]
    for kwargs, message in cases:
        kwargs.setdefault("dimensions", 4)
        err = _raises(ValueError, VectorKVault, path, **kwargs)
        assert str(err) == message
    _raises(ValueError, VectorKVault, path, table="bad name;", dimensions=4)
    _raises(TypeError, VectorKVault, path, dimensions="4")
    assert not os.path.exists(path)  # nothing was created by a rejected open


def test_aliases_and_defaults(path):
    with VectorKVault(path) as v:  # 1.1.0's defaults: 768-d cosine f32 in table vec_kvault
        assert v.info()["dimensions"] == 768 and v.table == "vec_kvault"
    for metric, vtype, dims in [
        ("COSINE", "float32", 4),
        ("euclidean", "F32", 4),
        ("Manhattan", "i8", 4),
        ("HAMMING", "bit", 16),
    ]:
        table = f"t_{metric.lower()}"
        with VectorKVault(path, table, dims, metric, vtype) as v:
            assert v.metric == metric and v.vector_type == vtype  # as given (1.1.0 attributes)
            v.insert([1] * dims, "a")
            assert v.search([1] * dims, k=1)[0][1] == pytest.approx(0.0, abs=1e-6)


def test_persisted_dims_metric_type(path):
    with VectorKVault(path, dimensions=4, metric="l2") as v:
        v.insert([1, 2, 3, 4], "a")
    with VectorKVault(path, dimensions=4, metric="euclidean", vector_type="float32") as v:
        assert v.count() == 1 and v.info()["metric"] == "L2"
    stored = "dimensions=4, metric=l2, vector_type=f32"
    for kwargs, given in [
        (dict(dimensions=8, metric="l2"), "dimensions=8, metric=l2, vector_type=f32"),
        (dict(dimensions=4, metric="l1"), "dimensions=4, metric=l1, vector_type=f32"),
        (
            dict(dimensions=4, metric="l2", vector_type="i8"),
            "dimensions=4, metric=l2, vector_type=int8",
        ),
    ]:
        err = _raises(ValueError, VectorKVault, path, **kwargs)
        assert stored in str(err) and given in str(err), str(err)
    with VectorKVault(path, dimensions=4, metric="l2") as v:  # unchanged by the failed opens
        assert v.count() == 1 and v.get_by_id(1)[1] == "a"


# ---- every metric and type end to end ------------------------------------------------------


@pytest.mark.parametrize("metric,vtype,info_metric,info_type", PAIRS, ids=PAIR_IDS)
def test_end_to_end(path, metric, vtype, info_metric, info_type):
    dims = 16
    rng = np.random.default_rng(7)
    rows = random_rows(rng, vtype, 30, dims)
    with VectorKVault(path, dimensions=dims, metric=metric, vector_type=vtype) as v:
        ids = [v.insert(r, f"value {i}", {"i": i}) for i, r in enumerate(rows[:10])]
        ids += v.insert_many(rows[10:], [f"value {i}" for i in range(10, 30)])
        assert ids == list(range(1, 31))
        assert len(v) == v.count() == 30 and v.ids() == ids
        info = v.info()
        assert info["metric"] == info_metric and info["vector_type"] == info_type
        assert info["count"] == 30 and info["dimensions"] == dims and info["table"] == v.table
        assert info["row_bytes"] == {"f32": dims * 4, "int8": dims, "bit": dims // 8}[vtype]
        for q in rows[:5]:
            true_d = brute_force(metric, rows, q)
            hits = v.search(q, k=5)
            check_knn(hits, true_d, 5, exact_ties=vtype != "f32" and metric != "l2")
            assert all(isinstance(h[1], float) for h in hits)
            assert hits[0][2] == f"value {hits[0][0] - 1}"
        assert v.get(rows[3]) == "value 3" and v[rows[3]] == "value 3"
        vec, value = v.get_by_id(4)
        assert value == "value 3"
        if vtype == "f32":
            assert vec.dtype == np.float32
            want = rows[3] / np.linalg.norm(rows[3]) if metric == "cosine" else rows[3]
            np.testing.assert_allclose(vec, want, rtol=1e-6, atol=1e-7)
        elif vtype == "int8":
            assert vec.dtype == np.int8 and np.array_equal(vec, rows[3])
        else:
            assert vec.dtype == np.uint8 and np.array_equal(vec, np.packbits(rows[3]))
            assert np.array_equal(np.unpackbits(vec).astype(bool), rows[3])
        assert v.get_metadata(4) == {"i": 3} and v.get_metadata(12) is None
        v[rows[0]] = "via setitem"
        assert v.ids()[-1] == 31 and v.get_by_id(31)[1] == "via setitem"


@pytest.mark.parametrize("metric,vtype,info_metric,info_type", PAIRS, ids=PAIR_IDS)
def test_update_and_delete(path, metric, vtype, info_metric, info_type):
    rows = random_rows(np.random.default_rng(8), vtype, 30, 16)
    with VectorKVault(path, dimensions=16, metric=metric, vector_type=vtype) as v:
        v.insert_many(rows, [f"value {i}" for i in range(30)], [{"i": i} for i in range(30)])
        v.update(4, value="value only")
        assert v.get_by_id(4)[1] == "value only" and v.get_metadata(4) == {"i": 3}
        v.update(4, metadata={"i": 100})
        assert v.get_by_id(4)[1] == "value only" and v.get_metadata(4) == {"i": 100}
        v.update(4, vector=rows[20], value="moved", metadata={"i": -1})
        assert v.get_by_id(4)[1] == "moved" and v.get_metadata(4) == {"i": -1}
        top = v.search(rows[20], k=2)
        assert {h[0] for h in top} == {4, 21} and top[0][1] == pytest.approx(0.0, abs=1e-5)
        assert v.get_by_id(4)[0].tobytes() == v.get_by_id(21)[0].tobytes()
        assert v.delete(21) is True and v.delete(21) is False
        assert not v.exists(21) and 21 not in v and 4 in v and v.count() == 29
        assert v.search(rows[20], k=1)[0][0] == 4
        assert v.count() == 29 and 21 not in v.ids()


def test_vector_input_forms(path):
    with VectorKVault(path, dimensions=4, metric="l2") as v:
        a = v.insert(np.array([1, 2, 3, 4], dtype=np.float64), "ndarray f64")
        b = v.insert([1, 2, 3, 4], "list")
        c = v.insert((1.0, 2.0, 3.0, 4.0), "tuple")
        d = v.insert(np.array([1, 2, 3, 4], "<f4").tobytes(), "bytes")
        rows = {v.get_by_id(i)[0].tobytes() for i in (a, b, c, d)}
        assert rows == {np.array([1, 2, 3, 4], "<f4").tobytes()}
        assert v._prepare_vector([1, 2, 3, 4]) == np.array([1, 2, 3, 4], "<f4").tobytes()
    with VectorKVault(path, table="i8", dimensions=4, metric="l1", vector_type="int8") as v:
        a = v.insert([1, -2, 127, -128], "list")
        b = v.insert(np.array([1, -2, 127, -128], dtype=np.int64), "int64 array")
        c = v.insert(np.array([1.0, -2.0, 127.0, -128.0]), "integral floats")
        d = v.insert(bytes([1, 254, 127, 128]), "bytes")
        for i in (a, b, c, d):
            assert v.get_by_id(i)[0].tolist() == [1, -2, 127, -128]
        for bad in ([1, 2, 3, 128], [1.5, 0, 0, 0], [True, False, True, False], ["a"] * 4):
            _raises(InvalidArgument, v.insert, bad, "x")
        assert v.count() == 4
    bits = np.array([1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], dtype=np.uint8)
    with VectorKVault(path, table="b", dimensions=16, metric="hamming", vector_type="bit") as v:
        ids = [
            v.insert(bits.astype(bool), "bools"),
            v.insert(bits.tolist(), "ints"),
            v.insert(np.packbits(bits), "packed uint8 array"),
            v.insert(np.packbits(bits).tobytes(), "packed bytes"),
        ]
        for i in ids:
            assert v.get_by_id(i)[0].tobytes() == bytes([0b10110000, 0b00000001])
        assert [h[1] for h in v.search(bits, k=4)] == [0.0] * 4
        flipped = bits.copy()
        flipped[:3] ^= 1
        assert v.search(flipped, k=1)[0][1] == 3.0
        for bad in ([2] * 16, [1] * 8, b"\x00", np.zeros(2, dtype=np.int16)):
            _raises(InvalidArgument, v.insert, bad, "x")


def test_cosine_normalisation(path):
    with VectorKVault(path, dimensions=4) as v:
        i = v.insert([3, 4, 0, 0], "a")
        z = v.insert([0, 0, 0, 0], "zero")
        np.testing.assert_allclose(v.get_by_id(i)[0], [0.6, 0.8, 0, 0], rtol=1e-6)
        assert v.get_by_id(z)[0].tolist() == [0, 0, 0, 0]  # a zero vector stays zero
        hits = v.search([30, 40, 0, 0], k=1)  # the query is normalised too
        assert hits[0][0] == i and hits[0][1] == pytest.approx(0.0, abs=1e-6)
        assert v.search([0, 0, 5, 0], k=2)[0][1] == pytest.approx(1.0, abs=1e-6)
        opposite = v.search([-3, -4, 0, 0], k=2)  # the zero vector is at 1 - 0 = 1
        assert [h[0] for h in opposite] == [z, i]
        assert opposite[0][1] == pytest.approx(1.0, abs=1e-6)
        assert opposite[1][1] == pytest.approx(2.0, abs=1e-6)


# ---- exactness -----------------------------------------------------------------------------


@pytest.mark.parametrize("metric,vtype,info_metric,info_type", PAIRS, ids=PAIR_IDS)
def test_recall_is_exact_against_brute_force(path, metric, vtype, info_metric, info_type):
    n, dims = 2000, 64
    rng = np.random.default_rng(2026)
    rows = random_rows(rng, vtype, n, dims)
    queries = random_rows(rng, vtype, 12, dims)
    exact_ties = vtype == "bit" or (vtype == "int8" and metric == "l1")
    with VectorKVault(path, dimensions=dims, metric=metric, vector_type=vtype) as v:
        assert v.insert_many(rows, list(range(n))) == list(range(1, n + 1))
        for k in (1, 10, 100):
            results = v.search_many(queries, k=k)
            assert len(results) == len(queries)
            for q, hits in zip(queries, results):
                true_d = brute_force(metric, rows, q)
                assert check_knn(hits, true_d, k, exact_ties=exact_ties) == 1.0
                assert [h[2] for h in hits] == [h[0] - 1 for h in hits]
        q = queries[0]
        check_knn(
            v.search(q, k=n + 50), brute_force(metric, rows, q), n + 50, exact_ties=exact_ties
        )
        assert v.search(q, k=0) == []


def test_search_many_equals_looping_search(path):
    rng = np.random.default_rng(3)
    for metric, vtype, _, _ in PAIRS:
        table = f"t_{metric}_{vtype}"
        rows = random_rows(rng, vtype, 300, 32)
        queries = random_rows(rng, vtype, 7, 32)
        with VectorKVault(path, table=table, dimensions=32, metric=metric, vector_type=vtype) as v:
            meta = [{"g": i % 4} for i in range(300)]
            v.insert_many(rows, [f"r{i}" for i in range(300)], meta)
            for kwargs in ({}, {"ids": range(1, 300, 3)}, {"metadata_equals": {"g": 2}}):
                many = v.search_many(queries, k=9, **kwargs)
                assert many == [v.search(q, k=9, **kwargs) for q in queries]
                as_list = v.search_many(list(queries), k=9, **kwargs)
                assert as_list == many
                packed = b"".join(v._prepare_vector(q) for q in queries)
                assert v.search_many(packed, k=9, **kwargs) == many
            assert v.search_many([], k=3) == []


# ---- filters -------------------------------------------------------------------------------


def test_selective_filters_still_return_k_hits(path):
    rng = np.random.default_rng(11)
    n, dims = 5000, 16
    rows = rng.standard_normal((n, dims)).astype(np.float32)
    rare = rng.choice(np.arange(200, n), 15, replace=False)
    rows[rare] += 40.0  # the matching rows are the farthest from the query
    meta = [{"tag": "common", "n": i, "even": i % 2 == 0} for i in range(n)]
    for i in rare:
        meta[i] = {"tag": "rare", "n": int(i), "even": int(i) % 2 == 0}
    meta[17] = None  # rows without metadata never match a metadata filter
    with VectorKVault(path, dimensions=dims, metric="l2") as v:
        v.insert_many(rows, [f"v{i}" for i in range(n)], meta)
        q = np.zeros(dims, dtype=np.float32)
        true_d = brute_force("l2", rows, q)
        is_rare = np.zeros(n, bool)
        is_rare[rare] = True
        hits = v.search(q, k=10, metadata_equals={"tag": "rare"})
        check_knn(hits, true_d, 10, allowed=is_rare)
        assert all(v.get_metadata(h[0])["tag"] == "rare" for h in hits)
        # fewer matches than k: all of them
        check_knn(v.search(q, k=50, metadata_equals={"tag": "rare"}), true_d, 50, allowed=is_rare)
        # ids filter, and both together (their intersection)
        some = rng.choice(n, 40, replace=False) + 1
        in_ids = np.zeros(n, bool)
        in_ids[some - 1] = True
        check_knn(v.search(q, k=10, ids=some.tolist()), true_d, 10, allowed=in_ids)
        check_knn(v.search(q, k=10, ids=some), true_d, 10, allowed=in_ids)  # an ndarray
        check_knn(v.search(q, k=10, ids=set(some.tolist())), true_d, 10, allowed=in_ids)
        both = in_ids & np.array([m is not None and m["even"] for m in meta])
        check_knn(
            v.search(q, k=10, ids=some.tolist(), metadata_equals={"even": True}),
            true_d,
            10,
            allowed=both,
        )
        assert v.search(q, k=10, ids=[]) == []
        assert v.search(q, k=10, ids=[n + 100]) == []
        assert v.search(q, k=10, metadata_equals={"tag": "absent"}) == []
        assert [h[0] for h in v.search(q, k=5, metadata_equals={"n": 123})] == [124]
        assert 18 not in [h[0] for h in v.search(q, k=n, metadata_equals={"tag": "common"})]
        # a filter on several fields is their conjunction
        hits = v.search(q, k=n, metadata_equals={"tag": "rare", "even": False})
        assert {h[0] - 1 for h in hits} == {int(i) for i in rare if i % 2}


def test_metadata_values_and_filters_by_type(path):
    with VectorKVault(path, dimensions=2, metric="l2") as v:
        metas = [
            {"s": "x", "i": 1, "f": 1.5, "b": True, "z": None, "nested": {"a": [1, 2]}},
            {"s": "y", "i": 2, "f": 2.5, "b": False},
            {},
            None,
        ]
        ids = v.insert_many([[0, 0], [1, 0], [2, 0], [3, 0]], ["a", "b", "c", "d"], metas)
        assert [v.get_metadata(i) for i in ids] == metas
        q = [0, 0]
        for flt, want in [
            ({"s": "x"}, [1]),
            ({"i": 2}, [2]),
            ({"f": 2.5}, [2]),
            ({"b": True}, [1]),
            ({"b": False}, [2]),
            ({"z": None}, [1]),
        ]:
            assert [h[0] for h in v.search(q, k=10, metadata_equals=flt)] == want, flt
        v.update(3, metadata={"s": "x"})
        assert [h[0] for h in v.search(q, k=10, metadata_equals={"s": "x"})] == [1, 3]
        v.update(4, metadata={"tuple": (1, 2)})  # MessagePack has no tuple: stored as a list
        assert v.get_metadata(4) == {"tuple": [1, 2]}


# ---- values --------------------------------------------------------------------------------


def test_value_packing_follows_1_1_0_vector_rules(path):
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    with VectorKVault(path, dimensions=2, metric="l2") as v:
        values = [b"raw", bytearray(b"ba"), "text", 42, 2.5, True, None, {"a": [1]}, [1, "x"], arr]
        ids = [v.insert([i, 0], val) for i, val in enumerate(values)]
        back = [v.get_by_id(i)[1] for i in ids]
        for got, want in zip(back, values):
            if isinstance(want, np.ndarray):
                assert isinstance(got, np.ndarray) and np.array_equal(got, want)
            else:
                assert type(got) is type(want) and got == want, (got, want)
        assert type(v.search([1, 0], k=1)[0][2]) is bytearray  # pickled, as 1.1.0
        raw = v.insert_many([[0, 1], [0, 2]], [b"x", bytearray(b"y")])
        assert [v.get_by_id(i)[1] for i in raw] == [b"x", bytearray(b"y")]
        assert type(v.get_by_id(raw[1])[1]) is bytearray

        v.enable_auto_pack(use_pickle=False)
        _raises(InvalidArgument, v.insert, [9, 9], {1, 2})
        _raises(InvalidArgument, v.insert, [9, 9], bytearray(b"no pickle"))

        v.disable_auto_pack()
        assert v.auto_pack_enabled() is False
        for val in (b"a", bytearray(b"b"), memoryview(b"c"), [1, 2]):
            v.insert([5, 5], val)
        for val in ("str", 5, {"a": 1}):
            err = _raises(InvalidArgument, v.insert, [5, 5], val)
            assert str(err) == "Expected bytes or bytearray"
        stored = [h[2] for h in v.search([5, 5], k=4)]
        assert sorted(stored) == [b"\x01\x02", b"a", b"b", b"c"]
        text = v.get_by_id(ids[2])[1]  # auto-pack off: the stored bytes, header included
        assert isinstance(text, bytes) and text.endswith(b"text") and len(text) > 4

        v.enable_auto_pack()
        assert v.auto_pack_enabled() and v.headers_enabled()
        v.disable_headers()
        assert v.headers_enabled() is False
        plain = v.insert([7, 7], "plain")
        assert v.get_by_id(plain)[1] == b"plain"  # no header: read back as bytes (1.1.0)
        v.enable_headers()
        assert v.get_by_id(v.insert([7, 8], "plain"))[1] == "plain"


def test_allow_pickle_false_refuses_pickled_values(path):
    with VectorKVault(path, dimensions=2, metric="l2") as v:
        v.insert([0, 0], (1, 2))
    with VectorKVault(path, dimensions=2, metric="l2", allow_pickle=False) as v:
        _raises(InvalidArgument, v.get_by_id, 1)
        _raises(InvalidArgument, v.search, [0, 0], 1)


# ---- 1.1.0's errors ------------------------------------------------------------------------


def test_1_1_0_errors(path):
    with VectorKVault(path, dimensions=4) as v:
        err = _raises(KohakuVaultError, v.get, [1, 0, 0, 0])
        assert str(err) == "No vectors found in database"
        with pytest.raises(KeyError, match="No vectors found in database"):
            v[[1, 0, 0, 0]]
        v.insert([1, 0, 0, 0], b"x")
        err = _raises(KohakuVaultError, v.get_by_id, 99)
        assert str(err) == "ID 99 not found"
        _raises(NotFound, v.update, 99, value=b"y")
        err = _raises(InvalidArgument, v.update, 1)
        assert str(err) == "Must provide either vector or value to update"
        err = _raises(InvalidArgument, v.search, [1, 0, 0, 0], metric="l2")
        assert str(err) == "Search metric must match the stored vec0 index metric"
        assert v.search([1, 0, 0, 0], metric="COSINE")[0][0] == 1
        _raises(InvalidArgument, v.search, [1, 0, 0, 0], metric="dot")
        err = _raises(InvalidArgument, v.insert, b"abc", b"x")
        assert str(err) == "Expected 16 vector bytes, got 3"
        err = _raises(InvalidArgument, v.insert, [1, 2, 3], b"x")
        assert str(err) == "Expected vector shape (4,), got (3,)"
        err = _raises(InvalidArgument, v.insert, bytearray(16), b"x")
        assert (
            str(err) == "Vector must be numpy array, list, tuple, or bytes, got <class 'bytearray'>"
        )
        _raises(InvalidArgument, v.exists, "a")
        assert v.delete(99) is False
        assert repr(v) == (
            f"VectorKVault(path={path!r}, table='vec_kvault', dimensions=4, metric='cosine', "
            "vector_type='f32', count=1)"
        )
    assert kohakuvault._kvault._VectorKVault is VectorKVault


def test_bad_input_changes_nothing(path):
    rng = np.random.default_rng(5)
    rows = rng.standard_normal((20, 4)).astype(np.float32)
    with VectorKVault(path, dimensions=4, metric="l2") as v:
        v.insert_many(rows, [f"v{i}" for i in range(20)], [{"i": i} for i in range(20)])
        before = (v.ids(), [v.get_by_id(i)[0].tobytes() for i in v.ids()], v.info())
        nan = rows[0].copy()
        nan[2] = np.nan
        inf = rows[0].copy()
        inf[1] = np.inf
        bad_calls = [
            lambda: v.insert([1, 2, 3], "x"),
            lambda: v.insert(nan, "x"),
            lambda: v.insert(inf, "x"),
            lambda: v.insert("abcd", "x"),
            lambda: v.insert({"a": 1}, "x"),
            lambda: v.insert(rows[0], "x", metadata="not a dict"),
            lambda: v.insert(rows[0], "x", metadata={1: "int key"}),
            lambda: v.insert(rows[0], "x", metadata={"a": object()}),
            lambda: v.insert(rows[0], "x", metadata={"a": b"bytes"}),
            lambda: v.insert_many(np.vstack([rows[:3], [nan]]), ["a", "b", "c", "d"]),
            lambda: v.insert_many(rows[:3], ["a", "b"]),
            lambda: v.insert_many(rows[:3], ["a", "b", "c"], [{"a": 1}]),
            lambda: v.insert_many(rows[:3], ["a", "b", "c"], [None, {1: 2}, None]),
            lambda: v.insert_many(np.zeros((3, 5)), ["a", "b", "c"]),
            lambda: v.insert_many([rows[0], rows[1][:3]], ["a", "b"]),
            lambda: v.insert_many(b"\x00" * 17, ["a"]),
            lambda: v.insert_many("abc", ["a"]),
            lambda: v.update(1, vector=nan),
            lambda: v.update(1, vector=nan, value="changed", metadata={"i": 5}),
            lambda: v.update(1, vector=[1, 2]),
            lambda: v.update(1, vector=rows[3], metadata={2: 3}),
            lambda: v.update(1, vector=rows[3], value=b"ok", metadata=[1]),
            lambda: v.search(rows[0], k=-1),
            lambda: v.search(rows[0], k=10**7),
            lambda: v.search(rows[0], k=2**40),
            lambda: v.search(rows[0], k=1.5),
            lambda: v.search(rows[0], k="3"),
            lambda: v.search(nan, k=3),
            lambda: v.search(rows[0], metadata_equals={"a": {"nested": 1}}),
            lambda: v.search(rows[0], metadata_equals={"a": [1]}),
            lambda: v.search(rows[0], metadata_equals="x"),
            lambda: v.search(rows[0], ids="12"),
            lambda: v.search(rows[0], ids=[1.5]),
            lambda: v.search_many(np.vstack([rows[:2], [nan]]), k=3),
            lambda: v.search_many(rows[:, :3], k=3),
            lambda: v.get_by_id("1"),
            lambda: v.get_by_id(2**70),
        ]
        for call in bad_calls:
            _raises(InvalidArgument, call)
        after = (v.ids(), [v.get_by_id(i)[0].tobytes() for i in v.ids()], v.info())
        assert after == before
        assert v.get_by_id(1)[1] == "v0" and v.get_metadata(1) == {"i": 0}
        assert v.insert(rows[0], "next") == 21  # no id was consumed by a failed write


# ---- maintenance ---------------------------------------------------------------------------


def test_ids_are_never_reused_and_compact_keeps_them(path):
    rng = np.random.default_rng(9)
    n = 3000  # more than one sqlite-vec chunk (1024 slots): deleted slots stay allocated
    rows = rng.standard_normal((n, 8)).astype(np.float32)
    with VectorKVault(path, dimensions=8, metric="l2") as v:
        v.insert_many(rows, list(range(n)))
        for i in range(1, n + 1, 2):
            assert v.delete(i)
        assert v.delete(n)
        assert v.count() == n // 2 - 1 and v.ids() == list(range(2, n, 2))
        assert v.info()["deleted_slots"] > 0
        q = rows[50]
        before = v.search(q, k=20)
        kept = {i: v.get_by_id(i) for i in v.ids()}
        reclaimed = v.compact()
        assert reclaimed > 0
        assert v.info()["deleted_slots"] == 0 and v.compact() == 0
        assert v.search(q, k=20) == before
        assert v.ids() == list(kept)
        for i, (vec, val) in kept.items():
            got_vec, got_val = v.get_by_id(i)
            assert np.array_equal(got_vec, vec) and got_val == val
        assert v.insert(rows[0], "new") == n + 1  # AUTOINCREMENT: n is not reused
    with VectorKVault(path, dimensions=8, metric="l2") as v:
        assert v.count() == n // 2 and v.ids()[-1] == n + 1
        assert v.get_by_id(n + 1)[1] == "new"


def test_file_stops_growing_under_churn_with_compact(path):
    rng = np.random.default_rng(13)
    dims, live_rows, churn = 64, 1000, 250
    sizes = []
    with VectorKVault(path, dimensions=dims, metric="l2") as v:
        live = v.insert_many(
            rng.standard_normal((live_rows, dims)).astype(np.float32), [b"x"] * live_rows
        )
        for _ in range(12):
            new = v.insert_many(
                rng.standard_normal((churn, dims)).astype(np.float32), [b"y" * 100] * churn
            )
            for i in live[:churn]:
                v.delete(i)
            live = live[churn:] + new
            assert v.info()["deleted_slots"] > 0
            assert v.compact() > 0
            assert v.info()["deleted_slots"] == 0 and v.count() == live_rows
            v.checkpoint()
            sizes.append(os.path.getsize(path))
        assert v.ids() == sorted(live)
    # Once the first rounds have sized the file, churn reuses its pages: the last rounds add
    # nothing (without compact() it keeps growing, as deleted slots stay allocated).
    assert max(sizes[6:]) <= sizes[5], sizes


def test_checkpoint_and_real_close(path):
    v = VectorKVault(path, dimensions=4)
    v.insert([1, 0, 0, 0], "a")
    busy, log, done = v.checkpoint()
    assert busy == 0 and log >= done >= 0
    v.close()
    v.close()  # idempotent
    assert v.closed
    assert not os.path.exists(path + "-wal")  # the last connection is gone
    with VectorKVault(path, dimensions=4) as again:
        assert again.get_by_id(1)[1] == "a"


def test_read_only(path):
    with VectorKVault(path, dimensions=4, metric="l2") as v:
        v.insert([1, 2, 3, 4], "a", {"m": 1})
    with VectorKVault(path, dimensions=4, metric="l2", read_only=True) as ro:
        assert ro.search([1, 2, 3, 4], k=1)[0][:1] == (1,)
        assert ro.get_by_id(1)[1] == "a" and ro.count() == 1 and ro.get_metadata(1) == {"m": 1}
        writes = [
            lambda: ro.insert([1, 1, 1, 1], "b"),
            lambda: ro.insert_many([[1, 1, 1, 1]], ["b"]),
            lambda: ro.update(1, value="c"),
            lambda: ro.delete(1),
            lambda: ro.compact(),
        ]
        for write in writes:
            err = _raises(IoError, write)
            assert "read-only" in str(err)
        assert ro.count() == 1 and ro.get_by_id(1)[1] == "a"
    _raises(KohakuVaultError, VectorKVault, path, table="absent", dimensions=4, read_only=True)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:  # the failed open created nothing
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_schema")]
    finally:
        con.close()
    assert not any(n.startswith("absent") for n in names), names


def test_use_after_close_on_every_member(path):
    v = VectorKVault(path, dimensions=4)
    other = VectorKVault(path, dimensions=4)  # a second handle on the file stays usable
    v.insert([1, 0, 0, 0], "a")
    v.close()
    q = [1, 0, 0, 0]
    members = {
        "insert": lambda: v.insert(q, "b"),
        "insert_many": lambda: v.insert_many([q], ["b"]),
        "update": lambda: v.update(1, value="b"),
        "delete": lambda: v.delete(1),
        "compact": v.compact,
        "search": lambda: v.search(q),
        "search_many": lambda: v.search_many([q]),
        "get": lambda: v.get(q),
        "get_by_id": lambda: v.get_by_id(1),
        "get_metadata": lambda: v.get_metadata(1),
        "exists": lambda: v.exists(1),
        "count": v.count,
        "ids": v.ids,
        "info": v.info,
        "checkpoint": v.checkpoint,
        "enable_auto_pack": v.enable_auto_pack,
        "disable_auto_pack": v.disable_auto_pack,
        "auto_pack_enabled": v.auto_pack_enabled,
        "enable_headers": v.enable_headers,
        "disable_headers": v.disable_headers,
        "headers_enabled": v.headers_enabled,
        "__setitem__": lambda: v.__setitem__(q, "b"),
        "__getitem__": lambda: v[q],
        "__len__": lambda: len(v),
        "__contains__": lambda: 1 in v,
    }
    public = {n for n in dir(VectorKVault) if not n.startswith("_")}
    public -= {"close", "closed"}
    assert public <= set(members), public - set(members)
    for name, op in members.items():
        err = _raises(InvalidArgument, op)
        assert str(err) == "VectorKVault is closed", name
    err = _raises(ValueError, v.__enter__)
    assert str(err) == "VectorKVault is closed"
    assert "closed" in repr(v)
    v.close()
    assert other.count() == 1 and other.get_by_id(1)[1] == "a"
    other.close()


def test_conformance_vectors(path):
    with open(CONFORMANCE / "vectors.json", encoding="utf-8") as fh:
        doc = json.load(fh)
    assert doc["version"] == 1
    seen = set()
    for i, case in enumerate(doc["cases"]):
        seen.add((case["metric"], case["vector_type"]))
        run_vector_case(case, os.path.join(os.path.dirname(path), f"conf{i}.db"))
    assert seen >= {(m, t) for m, t, _, _ in PAIRS}


def conformance_vector(entry):
    return bytes.fromhex(entry["vector_hex"]) if "vector_hex" in entry else entry["vector"]


def run_vector_case(case, path, write=True, table="vec_conf"):
    """Insert the case's rows (unless ``write`` is False: the file holds them), then check
    every query (shared with the cross-language test)."""
    kwargs = dict(dimensions=case["dimensions"], metric=case["metric"])
    kwargs["vector_type"] = case["vector_type"]
    with VectorKVault(path, table=table, read_only=not write, **kwargs) as v:
        if write:
            ids = [v.insert(conformance_vector(r), r["value"], r["metadata"]) for r in case["rows"]]
            assert ids == list(range(1, len(case["rows"]) + 1))
        assert v.count() == len(case["rows"])
        for j, r in enumerate(case["rows"], start=1):
            assert v.get_by_id(j)[1] == r["value"] and v.get_metadata(j) == r["metadata"]
        for q in case["queries"]:
            flt = q["filter"] or {}
            hits = v.search(
                conformance_vector(q),
                k=q["k"],
                ids=flt.get("ids"),
                metadata_equals=flt.get("metadata_equals"),
            )
            where = (case["name"], q["k"], q["filter"])
            assert [h[0] for h in hits] == q["ids"], where
            np.testing.assert_allclose([h[1] for h in hits], q["distances"], atol=1e-4, rtol=0)
            assert [h[2] for h in hits] == [case["rows"][i - 1]["value"] for i in q["ids"]]
