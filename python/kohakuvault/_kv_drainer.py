"""The daemon thread that, with ``flush_interval``, hands a KVault's combined puts to the core
periodically (so the core's background flush sees them) and reports the first failure of that
flush as a ``RuntimeWarning`` (as 1.1.0's flush daemon did), then stops."""

from __future__ import annotations

import threading
import warnings
import weakref

from ._errmap import map_native_error

__all__ = ["start_drainer"]


def start_drainer(vault, interval: float) -> threading.Event:
    """Start the drainer of ``vault`` (held weakly); setting the returned event stops it."""
    stop = threading.Event()
    ref = weakref.ref(vault)
    period = min(interval, 0.25)

    def run() -> None:
        while not stop.wait(period):
            vault = ref()
            if vault is None or vault._closed:
                return
            try:
                if vault._wc.items and vault._wc.lock.acquire(timeout=period):
                    try:
                        vault._drain_locked()
                    finally:
                        vault._wc.lock.release()
                failure = vault._store.background_flush_error()
            except Exception as exc:
                if vault._closed or stop.is_set():
                    return
                vault._bg_error = map_native_error(exc)
                failure = f"KVault background flush failed: {exc}; call flush_cache() to retry"
            finally:
                del vault
            if failure is not None and not stop.is_set():
                warnings.warn(failure, RuntimeWarning, stacklevel=1)
                return

    thread = threading.Thread(target=run, name="kohakuvault-drain", daemon=True)
    thread.start()
    return stop
