"""Two-way file compatibility with the published kohakuvault 1.1.0, run in its own venv
(scripts/setup-kv110.sh, called by the set-up of `make test`): files we write open in 1.1.0 and
files 1.1.0 writes open here, KVault and ColumnVault alike."""

import json
import os
import subprocess

import numpy as np
import pytest

from kohakuvault import ColumnVault, KVault

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
from kohakuvault import ColumnVault, KVault
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
from kohakuvault import ColumnVault, KVault
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
