import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import time

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


# ---------------------------------------------------------------- SIGKILL reliability tests
# A crash writer (test_vector_reliability, test_text_reliability) prints "I seq n" before a
# batch, "S id seq" after a single insert and "B first last seq0" after a batch.


def parse_ack_log(text):
    """acked {id: seq}, and the batch announced but not acknowledged (seq0, n) or None."""
    acked, pending = {}, None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        tag = parts[0]
        assert tag != "X", line
        if tag == "I":
            pending = (int(parts[1]), int(parts[2]))
        elif tag == "S":
            acked[int(parts[1])] = int(parts[2])
            pending = None
        elif tag == "B":
            first, last, seq0 = int(parts[1]), int(parts[2]), int(parts[3])
            for off, i in enumerate(range(first, last + 1)):
                acked[i] = seq0 + off
            pending = None
    return acked, pending


def wait_for_output(log, child, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline and child.poll() is None:
        if log.stat().st_size > 0:
            return
        time.sleep(0.01)


def kill_writer(argv, log, rnd, rng):
    """Run the writer ``argv`` (its stdout to ``log``) and SIGKILL it: during start-up every
    sixth round, else while it writes; returns ``parse_ack_log`` of what it printed."""
    with open(log, "wb") as out:
        child = subprocess.Popen(argv, stdout=out)
        if rnd % 6 == 0:  # during start-up: opening the file, creating the table(s)
            time.sleep(0.02 + rng.random() * 0.3)
        else:  # while it inserts
            wait_for_output(log, child)
            time.sleep(rng.random() * 0.3)
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL, "the writer ended before it was killed"
    return parse_ack_log(log.read_text())


def check_batch_in_flight(seqs, acked, pending):
    """The batch in flight at the kill (``pending``) is there whole or not at all, and entries
    not acknowledged (``seqs``: {id: seq} found) may only be that batch."""
    if pending is not None:
        seq0, n = pending
        got = sorted(s for s in seqs.values() if seq0 <= s < seq0 + n)
        assert got in ([], list(range(seq0, seq0 + n))), (pending, got)
    for i, s in seqs.items():
        if i not in acked:
            assert pending is not None and pending[0] <= s < pending[0] + pending[1]


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
