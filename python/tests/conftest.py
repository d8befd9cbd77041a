import json
import os
import pathlib
import sqlite3
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


def load_conformance(name: str) -> dict:
    with open(CONFORMANCE / name, encoding="utf-8") as fh:
        return json.load(fh)


def stored_bytes(path, key, table="kv"):
    """The bytes SQLite holds for ``key`` (read through a separate read-only connection)."""
    if isinstance(key, str):
        key = key.encode()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute(f'SELECT value FROM "{table}" WHERE key = ?', (key,)).fetchone()
    finally:
        con.close()
    return None if row is None else bytes(row[0])


def run_python(code: str, *args: str, timeout: float = 120, check: bool = True):
    """Run ``code`` in a fresh interpreter (same environment); returns CompletedProcess."""
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = "default"
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"child failed ({proc.returncode}):\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "vault.db")


@pytest.fixture
def kv(db_path):
    from kohakuvault import KVault

    vault = KVault(db_path)
    yield vault
    try:
        vault.close()
    except Exception:
        pass
