"""Generates tests/conformance/vectors.json: vector tables and the exact k-NN answers, computed
by brute force in float64 with numpy (independent of the library). Run from the repo root:

    python3 tests/conformance/gen_vectors.py
"""

import json
from pathlib import Path

import numpy as np

rng = np.random.default_rng(20261201)
GROUPS = ["a", "b", "c"]


def distances(metric, rows, q):
    if metric == "cosine":
        rn = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-30)
        qn = q / max(np.linalg.norm(q), 1e-30)
        return 1.0 - rn @ qn
    if metric == "l2":
        return np.sqrt(((rows - q) ** 2).sum(axis=1))
    if metric == "l1":
        return np.abs(rows - q).sum(axis=1)
    bits = np.unpackbits(rows, axis=1) != np.unpackbits(q[None, :], axis=1)
    return bits.sum(axis=1).astype(np.float64)


def answer(metric, rows, metas, q, k, flt):
    d = distances(metric, rows.astype(np.float64) if metric != "hamming" else rows, q)
    ids = np.arange(1, len(rows) + 1)
    keep = np.ones(len(rows), bool)
    if flt and "ids" in flt:
        keep &= np.isin(ids, flt["ids"])
    if flt and "metadata_equals" in flt:
        for f, v in flt["metadata_equals"].items():
            keep &= np.array([m is not None and m.get(f) == v for m in metas])
    order = sorted((float(d[i]), int(ids[i])) for i in range(len(rows)) if keep[i])[:k]
    return [i for _, i in order], [round(x, 6) for x, _ in order]


def case(name, dims, metric, vtype, n, queries=4):
    if vtype == "f32":
        rows = np.round(rng.standard_normal((n, dims)), 4).astype(np.float32)
        qs = np.round(rng.standard_normal((queries, dims)), 4).astype(np.float32)
        enc = lambda v: {"vector": [float(x) for x in v]}  # noqa: E731
    elif vtype == "int8":
        rows = rng.integers(-128, 128, (n, dims)).astype(np.int8)
        qs = rng.integers(-128, 128, (queries, dims)).astype(np.int8)
        enc = lambda v: {"vector": [int(x) for x in v]}  # noqa: E731
    else:
        rows = rng.integers(0, 256, (n, dims // 8)).astype(np.uint8)
        qs = rng.integers(0, 256, (queries, dims // 8)).astype(np.uint8)
        enc = lambda v: {"vector_hex": bytes(v).hex()}  # noqa: E731
    metas = [None if i % 5 == 4 else {"group": GROUPS[i % 3], "n": i} for i in range(n)]
    out_rows = [dict(enc(rows[i]), value=f"row-{i + 1}", metadata=metas[i]) for i in range(n)]
    calc = rows.astype(np.float64) if vtype != "bit" else rows
    filters = [None, None, {"ids": [2, 3, 5, 7, 11, 13]}, {"metadata_equals": {"group": "b"}}]
    out_q = []
    for j in range(queries):
        for k in (3, n + 5) if j == 0 else (3,):
            flt = filters[j % len(filters)]
            qv = qs[j].astype(np.float64) if vtype != "bit" else qs[j]
            ids, dist = answer(metric, calc, metas, qv, k, flt)
            out_q.append(dict(enc(qs[j]), k=k, filter=flt, ids=ids, distances=dist))
    out_q.append(dict(enc(qs[0]), k=0, filter=None, ids=[], distances=[]))
    return {"name": name, "dimensions": dims, "metric": metric, "vector_type": vtype,
            "rows": out_rows, "queries": out_q}


doc = {
    "version": 1,
    "about": "VectorKVault conformance: insert `rows` in order into a fresh table (ids 1..n), run each query; "
    "expect `ids` exactly (ties by id) and `distances` within 1e-4. Vectors: f32/int8 as numbers, bit rows as "
    "packed bytes (MSB first) in hex. Values are text. Case `xlang` is the cross-language file's content.",
    "cases": [
        case("f32_cosine", 8, "cosine", "f32", 24),
        case("f32_l2", 8, "l2", "f32", 24),
        case("f32_l1", 8, "l1", "f32", 24),
        case("int8_l2", 16, "l2", "int8", 24),
        case("int8_l1", 16, "l1", "int8", 24),
        case("bit_hamming", 64, "hamming", "bit", 24),
        case("xlang", 4, "cosine", "f32", 12),
    ],
}
path = Path(__file__).with_name("vectors.json")
path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {path}")
