"""The slot table of the ordered containers in Python (docs/FORMAT.md §9.5), for a process
where the core cannot build Python objects (``KOHAKUVAULT_NO_FAST_PATH=1``, or no C-API table).

The functions have the signatures and results of the core's builtins of the same names
(``ord_hold`` ... ``ord_release``, src/ordered/fast.rs), so the facade makes the same calls
either way: each container (by its fast handle) has a table ``handle -> (key, value)``; a
present entry keeps its handle, and a CSBTree's replacement puts ``(its key, new value)``
under it. Only the general (UDL) calls use them; the single-key builtins are absent then.
"""

from __future__ import annotations

import itertools
import threading

from ._ffi import FAILED, MISSING
from ._ordered_keys import u64_bytes, u64_list

__all__ = [
    "hold",
    "hold_all",
    "settle",
    "settle_all",
    "take",
    "take_all",
    "value",
    "values",
    "held",
    "release",
]

_next = itertools.count(1).__next__
_TABLES: dict = {}
_LOCK = threading.Lock()


def _table(fh: int) -> dict:
    t = _TABLES.get(fh)
    if t is None:
        with _LOCK:
            t = _TABLES.setdefault(fh, {})
    return t


def hold(fh: int, key, value) -> int:
    h = _next()
    _table(fh)[h] = (key, value)
    return h


def hold_all(fh: int, keys: list, values: list) -> bytes:
    t = _table(fh)
    handles = [_next() for _ in keys]
    t.update(zip(handles, zip(keys, values)))
    return u64_bytes(handles)


def _settle(t: dict, h: int, found: int, replace: bool):
    if found == 0:
        return MISSING
    mine = t.pop(h, None)
    old = t.get(found)
    if old is None:
        return FAILED
    if replace and mine is not None:
        t[found] = (old[0], mine[1])
    return old[1]


def settle(fh: int, h: int, found: int, replace: bool):
    return _settle(_table(fh), h, found, replace)


def settle_all(fh: int, handles: bytes, found: bytes, replace: bool) -> list:
    t = _table(fh)
    out = []
    for h, r in zip(u64_list(handles), u64_list(found)):
        v = _settle(t, h, r, replace)
        out.append(None if v is MISSING else v)
    return out


def take(fh: int, h: int):
    pair = _table(fh).pop(h, None)
    return MISSING if pair is None else pair[1]


def take_all(fh: int, handles: bytes) -> list:
    pop = _table(fh).pop
    out = []
    for h in u64_list(handles):
        pair = pop(h, None) if h else None
        out.append(None if pair is None else pair[1])
    return out


def value(fh: int, h: int):
    pair = _table(fh).get(h)
    return MISSING if pair is None else pair[1]


def values(fh: int, handles: bytes, default) -> list:
    t = _table(fh)
    out = []
    for h in u64_list(handles):
        if h == 0:
            out.append(default)
            continue
        pair = t.get(h)
        if pair is None:
            return FAILED
        out.append(pair[1])
    return out


def held(fh: int) -> int:
    return len(_table(fh))


def release(fh: int) -> None:
    with _LOCK:
        _TABLES.pop(fh, None)
