"""Two-way file compatibility with the published kohakuvault 1.1.0, run in its own venv
(scripts/setup-kv110.sh, called by the set-up of `make test`): files we write open in 1.1.0 and
files 1.1.0 writes open here, KVault and ColumnVault alike."""

import json
import os
import subprocess

import numpy as np
import pytest

from kohakuvault import ColumnVault, KVault, VectorKVault

KV110 = os.environ.get("KV110_PYTHON", "/opt/kv110/bin/python")
pytestmark = pytest.mark.skipif(
    not os.path.exists(KV110), reason="kohakuvault 1.1.0 venv missing (scripts/setup-kv110.sh)"
)


def run_110(code: str, *args: str):
    out = subprocess.run(
        [KV110, "-c", code, *args], check=True, capture_output=True, text=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


READ_BOTH = r"""
import json, sys
import kohakuvault
from kohakuvault import ColumnVault, KVault, VectorKVault
assert kohakuvault.__version__ == "1.1.0"
path = sys.argv[1]
kv = KVault(path)
kvs = {k.decode(): (v.hex() if isinstance(v, bytes) else v) for k, v in kv.items()}
kv.close()
cv = ColumnVault(path)
cols = {}
for name, dtype, n in cv.list_columns():
    rows = cv[name][:]
    cols[name] = [r.tolist() if hasattr(r, "tolist") else (r.hex() if isinstance(r, bytes) else r) for r in rows]
cv["ids"].append(1000)
cv["names"].append("from 1.1.0")
cv.close()
print(json.dumps({"kv": kvs, "cols": cols}))
"""


def test_1_1_0_reads_what_we_write_and_appends(tmp_path):
    path = str(tmp_path / "ours.db")
    with KVault(path) as kv:
        kv["raw"] = b"\x00\x01"
        kv["text"] = "été"
        kv["num"] = 42
        kv["doc"] = {"a": [1, 2], "b": "x"}
    with ColumnVault(path, block_bytes=64) as cv:
        cv.create_column("ids", "i64").extend(range(40))
        cv.create_column("names", "str").extend([f"n{i} é" for i in range(20)])
        cv.create_column("emb", "vec:f32:2").append_array(
            np.arange(6, dtype=np.float32).reshape(3, 2)
        )
        cv.create_column("blob", "bytes").extend([b"", b"\xff" * 100])
        cv.create_column("meta", "msgpack").extend([{"k": 1}, [1, "x"]])
    got = run_110(READ_BOTH, path)
    assert got["kv"] == {"raw": "0001", "text": "été", "num": 42, "doc": {"a": [1, 2], "b": "x"}}
    assert got["cols"] == {
        "ids": list(range(40)),
        "names": [f"n{i} é" for i in range(20)],
        "emb": [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]],
        "blob": ["", "ff" * 100],
        "meta": [{"k": 1}, [1, "x"]],
    }
    # 1.1.0 appended to our blocks; we read its rows.
    with ColumnVault(path) as cv:
        assert cv["ids"][-2:] == [39, 1000]
        assert cv["names"][-1] == "from 1.1.0"
        assert len(cv["names"]) == 21


WRITE_110 = r"""
import json, sys
import numpy as np
from kohakuvault import ColumnVault, KVault, VectorKVault
path = sys.argv[1]
kv = KVault(path)
kv["a"] = b"bytes"
kv["b"] = {"x": 1}
kv.close()
cv = ColumnVault(path, block_bytes=100)
c = cv.create_column("ids", "i64")
for i in range(30):
    c.append(i * 3)
s = cv.create_column("s", "str:utf16le")
s.extend(["één", "two"])
v = cv.create_column("v", "vec:f32:4")
v.append_array(np.ones((5, 4), dtype=np.float32))
cv.close()
print(json.dumps({"ok": True}))
"""


def test_we_read_and_append_to_what_1_1_0_writes(tmp_path):
    path = str(tmp_path / "theirs.db")
    assert run_110(WRITE_110, path) == {"ok": True}
    with KVault(path) as kv:
        assert kv["a"] == b"bytes" and kv["b"] == {"x": 1}
    with ColumnVault(path) as cv:
        assert cv["ids"][:] == [i * 3 for i in range(30)]
        assert cv["s"][:] == ["één", "two"]
        assert np.array_equal(cv["v"].read_array(), np.ones((5, 4), dtype=np.float32))
        cv["ids"].extend([100, 101])
        assert cv["ids"][-3:] == [87, 100, 101]


# ---- VectorKVault ------------------------------------------------------------------------------
# 1.1.0 can only store f32 vectors (cosine and l2). Both sides get the same rows and queries
# through a JSON file and print what they see as JSON; ids and distances must agree.

VEC_DIMS = 8
VEC_TABLES = {"vcos": "cosine", "vl2": "l2"}


def _vec_data(seed=1, n=40, queries=6):
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, VEC_DIMS)).astype(np.float32)
    values = []
    for i in range(n):
        values.append([f"text {i} é", {"i": i, "tags": ["a", "b"]}, i * 1000, [i, "x"]][i % 4])
    qs = rng.standard_normal((queries, VEC_DIMS)).astype(np.float32)
    return rows, values, qs


def _vec_job(tmp_path, **job):
    path = tmp_path / "vec_job.json"
    path.write_text(json.dumps(job))
    return str(path)


# What a side sees of a table: count, info, every row (vector, value) and the hits of the queries.
VEC_SEE = r"""
def see(VectorKVault, path, table, metric, queries, k):
    import numpy as np
    vk = VectorKVault(path, table=table, dimensions=8, metric=metric)
    ids = list(range(1, 1 + 1000))
    rows = {}
    for i in ids:
        if vk.exists(i):
            v, val = vk.get_by_id(i)
            rows[str(i)] = [np.asarray(v, dtype=np.float32).tolist(), val]
    hits = [[[h[0], float(h[1]), h[2]] for h in vk.search(np.array(q, dtype=np.float32), k=k)]
            for q in queries]
    out = {"count": vk.count(), "info": vk.info(), "rows": rows, "hits": hits}
    vk.close()
    return out
"""

WRITE_VEC_110 = VEC_SEE + r"""
import json, sys
import numpy as np
import kohakuvault
from kohakuvault import VectorKVault
assert kohakuvault.__version__ == "1.1.0"
job = json.load(open(sys.argv[1]))
out = {}
for table, metric in job["tables"].items():
    vk = VectorKVault(job["path"], table=table, dimensions=8, metric=metric)
    for v, val in zip(job["rows"], job["values"]):
        vk.insert(np.array(v, dtype=np.float32), val)
    for i in job["delete"]:
        vk.delete(i)
    vk.close()
    out[table] = see(VectorKVault, job["path"], table, metric, job["queries"], job["k"])
print(json.dumps(out))
"""

READ_VEC_110 = VEC_SEE + r"""
import json, sys
import numpy as np
import kohakuvault
from kohakuvault import VectorKVault
assert kohakuvault.__version__ == "1.1.0"
job = json.load(open(sys.argv[1]))
out = {}
for table, metric in job["tables"].items():
    out[table] = see(VectorKVault, job["path"], table, metric, job["queries"], job["k"])
    vk = VectorKVault(job["path"], table=table, dimensions=8, metric=metric)
    out[table]["inserted"] = vk.insert(np.array(job["extra"], dtype=np.float32), "from 1.1.0")
    vk.close()
print(json.dumps(out))
"""

# Runs one mutation with 1.1.0 on an existing table (while our process keeps a handle open).
MUTATE_VEC_110 = r"""
import json, sys
import numpy as np
from kohakuvault import VectorKVault
job = json.load(open(sys.argv[1]))
vk = VectorKVault(job["path"], table=job["table"], dimensions=8, metric=job["metric"])
for i in job.get("delete", []):
    vk.delete(i)
for i, v in job.get("update", []):
    vk.update(i, vector=np.array(v, dtype=np.float32))
for v in job.get("insert", []):
    vk.insert(np.array(v, dtype=np.float32), "late")
vk.close()
print(json.dumps({"ok": True}))
"""


def _see_ours(path, table, metric, queries, k):
    ns = {}
    exec(VEC_SEE, ns)
    return ns["see"](VectorKVault, path, table, metric, queries, k)


def _same_view(theirs, ours):
    assert ours["count"] == theirs["count"]
    assert {k: ours["info"][k] for k in theirs["info"]} == theirs["info"]
    assert ours["rows"].keys() == theirs["rows"].keys()
    for i, (vec, val) in theirs["rows"].items():
        assert np.array_equal(np.float32(ours["rows"][i][0]), np.float32(vec)), i
        assert ours["rows"][i][1] == val, i
    assert len(ours["hits"]) == len(theirs["hits"])
    for mine, their in zip(ours["hits"], theirs["hits"]):
        assert [h[0] for h in mine] == [h[0] for h in their]
        assert [h[2] for h in mine] == [h[2] for h in their]
        assert np.allclose([h[1] for h in mine], [h[1] for h in their], rtol=0, atol=1e-5)


def test_we_search_insert_and_delete_in_vectors_1_1_0_wrote(tmp_path):
    path = str(tmp_path / "theirs_vec.db")
    rows, values, qs = _vec_data()
    job = _vec_job(
        tmp_path,
        path=path,
        tables=VEC_TABLES,
        rows=rows.tolist(),
        values=values,
        delete=[3, 17],
        queries=qs.tolist(),
        k=7,
    )
    theirs = run_110(WRITE_VEC_110, job)
    for table, metric in VEC_TABLES.items():
        view = theirs[table]
        assert view["count"] == len(rows) - 2 and "3" not in view["rows"]
        _same_view(view, _see_ours(path, table, metric, qs.tolist(), 7))
        with VectorKVault(path, table=table, dimensions=VEC_DIMS, metric=metric) as vk:
            assert vk.info()["metric"] == {"cosine": "cosine", "l2": "L2"}[metric]
            assert vk.info()["vector_type"] == "float32"
            # Filters and search_many work on 1.1.0's table too.
            many = vk.search_many(qs, k=7)
            assert [[h[0] for h in m] for m in many] == [[h[0] for h in t] for t in view["hits"]]
            only = vk.search(qs[0], k=3, ids=[1, 2, 5, 9])
            assert [h[0] for h in only] == [
                h[0] for h in vk.search(qs[0], k=40) if h[0] in (1, 2, 5, 9)
            ][:3]
            # Ours inserts after 1.1.0's last id (AUTOINCREMENT: deleted ids are not reused).
            fresh = np.linspace(-1, 2, VEC_DIMS, dtype=np.float32)  # parallel to no row
            new_id = vk.insert(fresh, "ours", metadata={"src": "ours"})
            assert new_id == len(rows) + 1
            top = vk.search(fresh, k=1)[0]
            assert top[0] == new_id and top[2] == "ours" and top[1] < 1e-5
            assert vk.search(qs[1], k=2, metadata_equals={"src": "ours"})[0][0] == new_id
            assert vk.delete(5) is True and vk.delete(3) is False
            assert vk.count() == len(rows) - 2
            assert vk.search(rows[4], k=1)[0][0] != 5
        # 1.1.0 still reads the table after our writes (with our metadata in it).
        after = run_110(
            VEC_SEE
            + "\nimport json, sys\nfrom kohakuvault import VectorKVault\n"
            + "print(json.dumps(see(VectorKVault, sys.argv[1], sys.argv[2], sys.argv[3],"
            + " json.loads(sys.argv[4]), 3)))",
            path,
            table,
            metric,
            json.dumps([fresh.tolist(), rows[4].tolist()]),
        )
        assert after["count"] == len(rows) - 2
        assert after["hits"][0][0][0] == new_id and after["hits"][0][0][2] == "ours"
        assert all(h[0] != 5 for h in after["hits"][1])
        _same_view(after, _see_ours(path, table, metric, [fresh.tolist(), rows[4].tolist()], 3))


def test_1_1_0_reads_and_searches_vectors_we_write(tmp_path):
    path = str(tmp_path / "ours_vec.db")
    rows, values, qs = _vec_data(seed=2, n=50)
    for table, metric in VEC_TABLES.items():
        with VectorKVault(path, table=table, dimensions=VEC_DIMS, metric=metric) as vk:
            ids = vk.insert_many(rows[:30], values[:30])
            ids += [vk.insert(r, v) for r, v in zip(rows[30:40], values[30:40])]
            ids += vk.insert_many(
                rows[40:], values[40:], metadata=[{"n": i} for i in range(40, 50)]
            )
            assert ids == list(range(1, 51))
            vk.update(7, vector=rows[8] + 1, value="updated")
            vk.delete(12)
            vk.delete(2)
    extra = np.full(VEC_DIMS, 0.5, dtype=np.float32)
    job = _vec_job(
        tmp_path, path=path, tables=VEC_TABLES, queries=qs.tolist(), k=9, extra=extra.tolist()
    )
    theirs = run_110(READ_VEC_110, job)
    for table, metric in VEC_TABLES.items():
        view = theirs[table]
        assert view["count"] == 48
        assert view["rows"]["7"][1] == "updated" and "12" not in view["rows"]
        assert view["rows"]["1"][1] == values[0] and view["rows"]["45"][1] == values[44]
        # 1.1.0 computes its own distances over our rows: the same neighbours as ours.
        ours = _see_ours(path, table, metric, qs.tolist(), 9)
        ours["count"] -= 1  # 1.1.0 inserted one more row after it looked
        ours["info"]["count"] -= 1
        ours["rows"].pop(str(view["inserted"]))
        ours["hits"] = [[h for h in hs if h[0] != view["inserted"]] for hs in ours["hits"]]
        theirs_hits = [hs[: len(mine)] for hs, mine in zip(view["hits"], ours["hits"])]
        _same_view(dict(view, hits=theirs_hits), ours)
        # And we read the row 1.1.0 added to our table.
        assert view["inserted"] == 51
        with VectorKVault(path, table=table, dimensions=VEC_DIMS, metric=metric) as vk:
            vec, val = vk.get_by_id(51)
            assert val == "from 1.1.0"
            want = extra / np.linalg.norm(extra) if metric == "cosine" else extra
            assert np.allclose(vec, want, atol=1e-6)
            assert vk.search(extra, k=1)[0][0] == 51
            assert vk.get_metadata(45) == {"n": 44}


def test_our_open_handle_sees_1_1_0_writes_meanwhile(tmp_path):
    path = str(tmp_path / "shared_vec.db")
    rows, values, _ = _vec_data(seed=3, n=30)
    with VectorKVault(path, table="vl2", dimensions=VEC_DIMS, metric="l2") as vk:
        vk.insert_many(rows, values)
        assert vk.search(rows[9], k=1)[0][0] == 10  # our copy of the table is loaded now
        steps = [
            ({"delete": [10]}, lambda: vk.search(rows[9], k=1)[0][0] != 10 and vk.count() == 29),
            (
                {"update": [[11, (rows[0] + 5).tolist()]]},
                lambda: [(h[0], h[1] < 1e-6) for h in vk.search(rows[0] + 5, k=1)] == [(11, True)],
            ),
            ({"insert": [(rows[1] - 5).tolist()]}, lambda: vk.search(rows[1] - 5, k=1)[0][0] == 31),
            ({"delete": [31]}, lambda: vk.search(rows[1] - 5, k=1)[0][0] != 31),
        ]
        missed = []
        for change, seen in steps:
            job = _vec_job(tmp_path, path=path, table="vl2", metric="l2", **change)
            assert run_110(MUTATE_VEC_110, job) == {"ok": True}
            try:
                ok = seen()
            except Exception as exc:  # a stale copy may also fail to find the value
                ok = False
                change = dict(change, error=repr(exc))
            if not ok:
                missed.append(change)
        assert not missed, f"our open handle did not see these writes of 1.1.0: {missed}"
    # A fresh handle sees the final state.
    with VectorKVault(path, table="vl2", dimensions=VEC_DIMS, metric="l2") as vk:
        assert vk.count() == 29 and not vk.exists(10) and not vk.exists(31)


def test_opening_a_1_1_0_vector_table_with_other_settings_is_a_clear_error(tmp_path):
    path = str(tmp_path / "dims_vec.db")
    rows, values, qs = _vec_data(n=4)
    job = _vec_job(
        tmp_path,
        path=path,
        tables={"vl2": "l2"},
        rows=rows.tolist(),
        values=values,
        delete=[],
        queries=qs.tolist(),
        k=1,
    )
    run_110(WRITE_VEC_110, job)
    with pytest.raises(ValueError) as err:
        VectorKVault(path, table="vl2", dimensions=4, metric="l2")
    assert "8" in str(err.value) and "4" in str(err.value)
    with pytest.raises(ValueError) as err:
        VectorKVault(path, table="vl2", dimensions=VEC_DIMS, metric="cosine")
    assert "cosine" in str(err.value).lower() and "l2" in str(err.value).lower()
    # The table is untouched: 1.1.0 and we still read it as it was.
    with VectorKVault(path, table="vl2", dimensions=VEC_DIMS, metric="l2") as vk:
        assert vk.count() == 4 and vk.search(rows[2], k=1)[0][0] == 3
