"""KohakuVault demo: writes and reads a local demo.db with what exists so far."""

import io
import os
import time

import numpy as np

import kohakuvault
from kohakuvault import DataPacker, KVault

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "demo.db")
path = os.path.normpath(path)
os.makedirs(os.path.dirname(path), exist_ok=True)
for ext in ("", "-wal", "-shm"):
    if os.path.exists(path + ext):
        os.remove(path + ext)

print(f"kohakuvault {kohakuvault.__version__}: writing {path}")
with KVault(path) as kv:
    kv["raw"] = b"\x00\x01 raw bytes"
    kv["meta"] = {"id": 7, "tags": ["one", "two"]}
    kv["count"] = 2**40
    kv["ratio"] = 0.0
    kv["title"] = "été ☃"
    kv["embedding"] = np.arange(12, dtype=np.float32).reshape(3, 4)

    t0 = time.perf_counter()
    with kv.cache(cap_bytes=16 << 20):
        for i in range(10_000):
            kv[f"img:{i:05d}"] = os.urandom(256)
    t1 = time.perf_counter()
    print(f"10,000 cached 256 B writes incl. flush: {(t1 - t0) * 1e3:.1f} ms")

    blob = os.urandom(8 << 20)
    kv.put_file("video", io.BytesIO(blob))
    out = io.BytesIO()
    kv.get_to_file("video", out)
    assert out.getvalue() == blob

with KVault(path, read_only=True) as kv:
    print("keys:", len(kv), "| first image keys:", [k.decode() for k in kv.keys(prefix="img:", limit=3)])
    for key in ("raw", "meta", "count", "ratio", "title"):
        print(f"  {key!r:8} -> {kv[key]!r}")
    print("  'embedding' ->", kv["embedding"].shape, kv["embedding"].dtype)
    print("  'video'     ->", len(kv["video"]), "bytes, streamed in and out")

packer = DataPacker("vec:f32:4")
buf = packer.pack_many([np.ones(4, np.float32), np.arange(4, dtype=np.float32)])
print("DataPacker vec:f32:4 packs 2 rows into", len(buf), "bytes ->", packer.unpack_many(buf, count=2)[1])
print("demo ok")
