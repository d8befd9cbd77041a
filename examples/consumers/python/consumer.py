"""A consumer of the installed ``kohakuvault`` package: opens a vault in a temporary directory,
puts and gets values, and ends with ``consumer-python: <passed> passed, <failed> failed``.

    python examples/consumers/python/consumer.py    (run by scripts/test-consumer-python.sh)
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback


def check() -> None:
    import numpy as np

    import kohakuvault
    from kohakuvault import DataPacker, KVault, NotFound

    print(f"kohakuvault {kohakuvault.__version__} from {os.path.dirname(kohakuvault.__file__)}")
    with tempfile.TemporaryDirectory(prefix="kv-consumer-") as tmp:
        path = os.path.join(tmp, "consumer.db")
        values = {
            "bytes": b"\x00\x01raw",
            "text": "héllo",
            "int": 1 << 70,
            "float": -0.0,
            "dict": {"name": "kohaku", "tags": [1, 2, 3]},
            "tuple": (1, "two"),
            "array": np.arange(12, dtype=np.float32).reshape(3, 4),
        }
        with KVault(path) as kv:
            for key, value in values.items():
                kv[key] = value
            kv.put_many([(f"n{i:03d}", i) for i in range(100)])
            kv.enable_cache()
            kv["cached"] = b"pending"
            assert kv["cached"] == b"pending"  # read-your-writes before the flush
        with KVault(path) as kv:  # reopened: everything was committed
            for key, value in values.items():
                got = kv[key]
                if isinstance(value, np.ndarray):
                    assert got.dtype == value.dtype and np.array_equal(got, value), key
                else:
                    assert type(got) is type(value) and got == value, (key, got)
            assert str(kv["float"]) == "-0.0"
            assert kv.get_many(["n005", "missing", "n099"], default="d") == [5, "d", 99]
            assert [k for k in kv.keys(prefix="n")][:2] == [b"n000", b"n001"]
            assert sum(v for k, v in kv.items(prefix="n")) == sum(range(100))
            assert kv["cached"] == b"pending" and len(kv) == len(values) + 101
            kv.disable_auto_pack()
            assert kv["bytes"] == values["bytes"]
            with open(os.devnull, "wb") as sink:
                try:
                    kv.get_to_file("missing", sink)
                except NotFound:
                    pass
                else:
                    raise AssertionError("get_to_file of a missing key must raise NotFound")
            assert kv.integrity_check() == ["ok"]
        packer = DataPacker("i64")
        assert packer.unpack(packer.pack(-42), 0) == -42


def main() -> int:
    try:
        check()
    except Exception:
        traceback.print_exc()
        print("consumer-python: 0 passed, 1 failed")
        return 1
    print("consumer-python: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
