"""CSBTree and SkipList: in-memory ordered maps (kohakuvault 1.1.0's classes over the Rust core).

The containers live in the core (``OrderedStore``, docs/FORMAT.md §9); this module only
translates. Values never cross: each container keeps ``handle -> value`` (``_vals``), the
handles come from one process-wide counter that never repeats, and the core hands a handle
back whenever its entry leaves (replaced, removed, cleared), which is when the value is
dropped here. A value is put into the table *before* the core may store its handle and taken
out only after the core returned it, so any handle read from the core either names its value
or (another thread removed it meanwhile) is missing, and then the call is repeated.

Keys of the common types (None, bool, int within 64 bits, float, str, bytes, tuples of these)
cross as encodings and are ordered by the core exactly as Python orders them. Any other key
(``Decimal``, ``datetime``, ``@dataclass(order=True)`` objects, bigger ints, str with lone
surrogates, tuples holding such) is a *host key*: the object stays here (``_hosts``) and the
core asks :class:`_HostOrder` to compare it, which uses Python's ``<`` and ``>``. A stored host
key is released when its entry leaves (``_hk_of``: value handle -> host key handle).

Single-key operations, ranges, neighbours and whole-container reads use the C fast path
(docs/FORMAT.md §9.4: single keys through builtin functions of the core, §5.1, which run the
``ord_fast_*`` entry points without the GIL; ranges and neighbours through ctypes, filling this
thread's page buffer); batches and counts, and every failure of the fast
path, make the UDL call, which raises the typed error.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
from itertools import repeat
from operator import index as _as_index
from operator import is_, itemgetter
from threading import get_ident

from . import _ordered_keys as _k
from ._errmap import VaultError, map_native_error
from ._ffi import FAILED, FAST, GC_PAUSE, N
from ._ordered_keys import GONE, KeyAt, encode, entry_page, host_encoding

__all__ = ["CSBTree", "SkipList", "PyCSBTreeIterator", "PySkipListIterator"]

_COUNTER = itertools.count(1)
_next = _COUNTER.__next__  # value and host-key handles: unique for the life of the process
_MISS = object()
_OPEN = object()  # an unbounded side of a range

# Entries per crossing when iterating lazily (irange): the first page holds _FIRST_PAGE, each
# next one four times more, up to PAGE.
PAGE = 1024
_FIRST_PAGE = 64
# How often an operation is repeated when a host key it met left the container meanwhile, or
# when the value of a handle it read was replaced or removed meanwhile (other threads).
_RETRIES = 10_000

# ``which`` of ord_fast_neighbor, in the order of the UDL's ``Neighbor``.
_FIRST, _LAST, _FLOOR, _LOWER, _CEILING, _HIGHER = range(6)


def _unavailable(*_args):
    return -1


def _no_page(*_args):
    return None


def _fast_page(name: str):
    """``call(*args) -> entry page bytes, or None`` for a page entry point (§9.4)."""
    fn = FAST.bind(name, None, ctypes.c_int32) if FAST.available else None
    return _no_page if fn is None else functools.partial(FAST.raw_page_call, fn)


def _no_entries(*_args):
    return FAILED


def _builtins():
    """The builtins (docs/FORMAT.md §5.1, §9.4), or stand-ins that report -1 or "failed"
    (then every call takes the general path) when the core cannot build Python objects here."""
    fn = FAST.bind_py("ord_fast_builtins", ()) if FAST.available else None
    return fn() if fn is not None else (_unavailable,) * 8 + (_no_entries,)


# (h, key[, value handle]) for an int key; (h, kind, key bytes[, value handle]) for the others;
# _entries: (h, vals, hosts, mode, lo kind, lo, hi kind, hi, limit) -> a list (§9.4).
_get_int, _has_int, _rm_int, _ins_int, _get, _has, _rm, _ins, _entries = _builtins()

# ``mode`` of _entries: what the list holds, the bounds' flags, the direction, and whether the
# result is ``(done, list)``.
_PAIRS, _KEYS, _VALUES = 0, 1, 2
_LO_INC, _HI_INC, _REVERSE, _WITH_DONE = 4, 8, 16, 32
# A bound's kind for _entries: unbounded, a key encoding, a str, a bytes or an int key.
_B_OPEN, _B_ENC, _B_STR, _B_BYTES, _B_INT = -1, 0, 1, 2, 3


# A neighbour as the first entry of a range: ``which -> (mode, the key bounds it from above)``.
_NEIGHBOR_RANGE = {
    _FIRST: (0, False),
    _LAST: (_REVERSE, True),
    _FLOOR: (_REVERSE | _HI_INC, True),
    _LOWER: (_REVERSE, True),
    _CEILING: (_LO_INC, False),
    _HIGHER: (0, False),
}


def _bound(key):
    """``(kind, obj)`` of a bound key for _entries (``_OPEN``: unbounded), or None for a key
    it cannot take (a host key)."""
    t = type(key)
    if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
        return _B_INT, key
    if t is str:
        return _B_STR, key
    if t is bytes:
        return _B_BYTES, key
    if key is _OPEN:
        return _B_OPEN, None
    enc = encode(key)
    return None if enc is None else (_B_ENC, enc)


# (h, start, start_len, start_inclusive, end, end_len, end_inclusive, limit, reverse)
_range_page = _fast_page("ord_fast_range")
# (h, which, key, key_len)
_neighbor_page = _fast_page("ord_fast_neighbor")


# The hot methods test ``type(key) is int and -2**63 <= key < 2**63``, ``str`` and ``bytes``
# inline and call the builtin directly (a helper's frame measured 3-6% of a call); every other
# key goes through :func:`_by_key`.


def _by_key(fn, fh: int, key, h: int = 0) -> int:
    """The fast-path call ``fn`` (the builtin ord_get / contains / remove, or with a value
    handle ``h`` ord_insert) for a key other than an int within 64 bits: its result, or -1
    when the key has no encoding here (a host key) or the call failed (then make the UDL
    call). Keys of other types than str and bytes cross as their encoding, except for an
    insert (-1: the UDL insert keeps the host-key bookkeeping); raises ValueError for NaN."""
    if type(key) is str:  # the builtin takes the str itself (lone surrogates: -1, a host key)
        b = key
        kind = 1
    elif type(key) is bytes:
        b = key
        kind = 2
    elif h:
        return -1
    else:
        b = encode(key)
        if b is None:
            return -1
        kind = 0
    if h:
        return fn(fh, kind, b, h)
    return fn(fh, kind, b)


def _span(start, start_inclusive, end, end_inclusive, limit, reverse):
    """The UDL's ``OrderedRange`` (bounds are encodings or None)."""
    return N.OrderedRange(
        start=start,
        start_inclusive=start_inclusive,
        end=end,
        end_inclusive=end_inclusive,
        limit=limit,
        reverse=reverse,
    )


# Whole-container reads with at least this many entries build their pairs with the cyclic
# GC paused.
_GC_PAUSE_ENTRIES = 2048


def _values_of(vals: dict, handles: list):
    """The values of ``handles`` (a sequence; KeyError when one is missing), in one C-level
    call: measured faster than ``map(vals.__getitem__, handles)`` here."""
    if len(handles) > 1:
        return itemgetter(*handles)(vals)
    return [vals[h] for h in handles]


class _Stale(Exception):
    """A host key of the container was released while the core compared it (another thread
    removed its entry): the operation changed nothing and is repeated."""


_STALE = _Stale()


class _HostOrder:
    """The container's ``HostKeyOrder`` (UDL callback): orders a host key against any key with
    Python's ``<`` / ``>`` as 1.1.0 did. An exception is kept for the calling thread and 2 is
    returned; the facade raises it when the core call returns."""

    __slots__ = ("hosts", "errors")

    def __init__(self, hosts: dict):
        self.hosts = hosts
        self.errors = {}

    def compare(self, left, right):
        hosts = self.hosts
        try:
            a = hosts.get(left, GONE)
            b = _k.decode(right, hosts)
            if a is GONE or b is GONE:
                self.errors[get_ident()] = _STALE
                return 2
            if a < b:
                return -1
            if a > b:
                return 1
            return 0
        except BaseException as exc:  # noqa: B036 - re-raised by the facade after the call
            self.errors[get_ident()] = exc
            return 2


class _SnapshotIterator(itertools.chain):
    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        raise TypeError(f"No constructor defined for {cls.__name__}")


class PyCSBTreeIterator(_SnapshotIterator):
    """Iterator over a snapshot of a CSBTree's ``(key, value)`` pairs (ascending)."""

    __slots__ = ()


class PySkipListIterator(_SnapshotIterator):
    """Iterator over a snapshot of a SkipList's ``(key, value)`` pairs (ascending)."""

    __slots__ = ()


_new_iter = itertools.chain.__new__


class _Ordered:
    """What CSBTree and SkipList share (the core is the same; insert semantics differ: a
    subclass says whether ``insert`` keeps an existing entry and what it returns then)."""

    __slots__ = ("_store", "_fh", "_vals", "_hosts", "_hk_of", "_order", "__weakref__")

    _KIND = None
    _NAME = "?"
    _MISSING = "Key not found"
    _ITER = None
    _IF_ABSENT = False  # insert keeps an existing entry (SkipList)

    def _open(self, order: int) -> None:
        hosts: dict = {}
        self._vals = {}
        self._hosts = hosts
        self._hk_of = {}
        self._order = _HostOrder(hosts)
        try:
            self._store = N.OrderedStore(self._KIND, order, self._order)
        except VaultError as exc:
            if isinstance(exc, VaultError.InvalidArgument):
                raise ValueError(exc.reason) from None
            raise map_native_error(exc) from None
        self._fh = self._store.fast_handle()

    # ---- errors, keys and handles ------------------------------------------------------

    def _error(self, exc: BaseException) -> BaseException:
        """The exception to raise for a failed core call: the one a host comparison raised,
        else TypeError for keys that cannot be ordered, else the mapped core error."""
        stashed = self._order.errors.pop(get_ident(), None)
        if stashed is not None:
            return stashed
        if isinstance(exc, VaultError.InvalidArgument):
            return TypeError(exc.reason)
        return map_native_error(exc)

    def _udl(self, fn, *args):
        """A UDL call, repeated while it meets a released host key."""
        errors = self._order.errors
        ident = get_ident()
        for _ in range(_RETRIES):
            errors.pop(ident, None)
            try:
                return fn(*args)
            except Exception as exc:
                err = self._error(exc)
                if err is _STALE:
                    continue
                raise err from None
        raise self._restless()

    def _restless(self) -> RuntimeError:
        return RuntimeError(
            f"{self._NAME}: the entries kept changing during the operation "
            f"({_RETRIES} attempts); this is a bug if no other thread was changing them"
        )

    def _key(self, key):
        """``(encoding, host handle or 0)``; a host key is registered until :meth:`_unhost`."""
        enc = encode(key)
        if enc is not None:
            return enc, 0
        h = _next()
        self._hosts[h] = key
        return host_encoding(h), h

    def _register(self, key) -> int:
        h = _next()
        self._hosts[h] = key
        return h

    def _unhost(self, h: int) -> None:
        if h:
            self._hosts.pop(h, None)

    def _op(self, fn, key):
        """The UDL call ``fn(encoding)`` for any key (a host key is registered meanwhile)."""
        enc, hk = self._key(key)
        try:
            return self._udl(fn, enc)
        finally:
            self._unhost(hk)

    def _removed(self, handle: int):
        """The value of an entry the core removed (its host key is released)."""
        value = self._vals.pop(handle)
        hk_of = self._hk_of
        if hk_of:
            hk = hk_of.pop(handle, None)
            if hk is not None:
                self._hosts.pop(hk, None)
        return value

    def _store_key(self, key, h: int, if_absent: bool) -> int:
        """The UDL insert of ``key`` with the value handle ``h`` (already in ``_vals``):
        returns what the core returned; on failure ``h`` is dropped and the error raised."""
        try:
            enc, hk = self._key(key)
        except BaseException:
            self._vals.pop(h, None)
            raise
        store = self._store
        try:
            r = self._udl(store.insert_if_absent if if_absent else store.insert, enc, h)
        except BaseException:
            self._vals.pop(h, None)
            self._unhost(hk)
            raise
        if hk:
            if r == 0:  # the entry is new: it keeps this key object
                self._hk_of[h] = hk
            else:  # an equal key was there and stays
                self._hosts.pop(hk, None)
        return r

    def _if_absent(self, key, value):
        """Inserts ``key -> value`` unless the key is present (UDL insert-if-absent): the
        present value, or ``_MISS`` when this value was inserted."""
        vals = self._vals
        for _ in range(_RETRIES):
            h = _next()
            vals[h] = value
            r = self._store_key(key, h, True)
            if r == 0:
                return _MISS
            del vals[h]
            v = vals.get(r, _MISS)
            if v is not _MISS:
                return v
            # The present entry was removed meanwhile: try again.
        raise self._restless()

    def _lookup(self, key, default):
        """The value of ``key`` or ``default`` (any key; repeats while values move)."""
        vals = self._vals
        enc = encode(key)
        for _ in range(_RETRIES):
            r = -1 if enc is None else _get(self._fh, 0, enc)
            if r < 0:
                r = self._op(self._store.get, key)
            if r == 0:
                return default
            v = vals.get(r, _MISS)
            if v is not _MISS:
                return v
        raise self._restless()

    def _pairs(self, handles: list, keys: list):
        """The ``(key, value)`` pairs of a page, an iterator over the snapshot taken now
        (values are read now); entries that left meanwhile are dropped (a replaced value is
        read again)."""
        vals = self._vals
        if not self._hosts or not any(map(is_, keys, repeat(GONE))):
            try:
                return zip(keys, _values_of(vals, handles))
            except KeyError:  # a value was replaced or removed meanwhile
                pass
        out = []
        for key, h in zip(keys, handles):
            if key is GONE:
                continue
            v = vals.get(h, _MISS)
            if v is _MISS:
                v = self._lookup(key, _MISS)
                if v is _MISS:
                    continue
            out.append((key, v))
        return iter(out)

    # ---- single keys --------------------------------------------------------------------

    def get(self, key, default=None):
        """The value of ``key``, or ``default`` (None) when absent."""
        t = type(key)
        if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            r = _get_int(self._fh, key)
        elif t is str:
            r = _get(self._fh, 1, key)
        elif t is bytes:
            r = _get(self._fh, 2, key)
        else:
            r = _by_key(_get, self._fh, key)
        if r > 0:
            try:
                return self._vals[r]
            except KeyError:  # replaced or removed meanwhile
                pass
        elif r == 0:
            return default
        return self._lookup(key, default)

    def __getitem__(self, key):
        t = type(key)
        if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            r = _get_int(self._fh, key)
        elif t is str:
            r = _get(self._fh, 1, key)
        elif t is bytes:
            r = _get(self._fh, 2, key)
        else:
            r = _by_key(_get, self._fh, key)
        if r > 0:
            try:
                return self._vals[r]
            except KeyError:
                pass
        if r != 0:
            v = self._lookup(key, _MISS)
            if v is not _MISS:
                return v
        raise KeyError(self._MISSING)

    def __contains__(self, key) -> bool:
        if type(key) is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            r = _has_int(self._fh, key)
        else:
            r = _by_key(_has, self._fh, key)
        if r >= 0:
            return r == 1
        return bool(self._op(self._store.contains, key))

    def remove(self, key):
        """Removes ``key``; returns its value, or None when it was absent."""
        t = type(key)
        if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            r = _rm_int(self._fh, key)
        elif t is str:
            r = _rm(self._fh, 1, key)
        elif t is bytes:
            r = _rm(self._fh, 2, key)
        else:
            r = _by_key(_rm, self._fh, key)
        if r < 0:
            r = self._op(self._store.remove, key)
        if r == 0:
            return None
        return self._removed(r) if self._hk_of else self._vals.pop(r)

    def __delitem__(self, key) -> None:
        t = type(key)
        if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            r = _rm_int(self._fh, key)
        elif t is str:
            r = _rm(self._fh, 1, key)
        elif t is bytes:
            r = _rm(self._fh, 2, key)
        else:
            r = _by_key(_rm, self._fh, key)
        if r < 0:
            r = self._op(self._store.remove, key)
        if r == 0:
            raise KeyError(self._MISSING)
        if self._hk_of:
            self._removed(r)
        else:
            del self._vals[r]

    def insert(self, key, value):
        """Inserts ``key -> value``; returns None for a new key. For a present key a CSBTree
        replaces the value and returns the replaced one; a SkipList (insert-if-absent)
        changes nothing and returns the existing value."""
        h = _next()
        self._vals[h] = value
        t = type(key)
        if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            r = _ins_int(self._fh, key, h)
        elif t is str:
            r = _ins(self._fh, 1, key, h)
        elif t is bytes:
            r = _ins(self._fh, 2, key, h)
        else:
            r = _by_key(_ins, self._fh, key, h)
        if r < 0:
            r = self._store_key(key, h, self._IF_ABSENT)
        return self._present(key, value, h, r) if r else None

    # ``c[k] = v`` is ``insert`` (the statement drops what insert returns).
    __setitem__ = insert

    def _present(self, key, value, h: int, r: int):
        """What ``insert`` returns when the core found ``key`` present with the handle ``r``
        (``h``: the handle of the new value)."""
        raise NotImplementedError

    # ---- whole container ----------------------------------------------------------------

    # The value table holds exactly the handles the core holds whenever no operation is under
    # way (every operation restores that before it returns), so its size is the length without
    # a crossing; while other threads change the container it may count their pending values.
    def __len__(self) -> int:
        return len(self._vals)

    def is_empty(self) -> bool:
        return not self._vals

    def clear(self) -> None:
        """Removes every entry (their values and host keys are released)."""
        handles = _k.u64_list(self._store.clear())
        pop = self._vals.pop
        if not self._hk_of:
            for h in handles:
                pop(h, None)
            return
        for h in handles:
            self._removed(h)

    def __repr__(self) -> str:
        return f"{self._NAME}(len={len(self._vals)})"

    def __reduce__(self):
        raise TypeError(f"cannot pickle '{type(self).__name__}' object")

    # ---- pages ----------------------------------------------------------------------------

    def _fetch(self, start, start_inclusive, end, end_inclusive, limit, reverse) -> bytes:
        """One entry page (§9.3) between two bound encodings (None: unbounded)."""
        page = _range_page(
            self._fh,
            start,
            -1 if start is None else len(start),
            start_inclusive,
            end,
            -1 if end is None else len(end),
            end_inclusive,
            limit,
            reverse,
        )
        if page is None:
            page = self._udl(
                self._store.range,
                _span(start, start_inclusive, end, end_inclusive, limit, reverse),
            )
        return page

    def _bounds(self, start, end):
        """``(start encoding, host handle, end encoding, host handle)`` of two bound keys
        (``_OPEN``: unbounded, encoding None); release the host handles with :meth:`_unhost`."""
        s, hs = (None, 0) if start is _OPEN else self._key(start)
        try:
            e, he = (None, 0) if end is _OPEN else self._key(end)
        except BaseException:
            self._unhost(hs)
            raise
        return s, hs, e, he

    def _page(self, start, start_inclusive, end, end_inclusive, limit, reverse) -> bytes:
        """One entry page between two bound keys (``_OPEN``: unbounded)."""
        s, hs, e, he = self._bounds(start, end)
        try:
            return self._fetch(s, start_inclusive, e, end_inclusive, limit, reverse)
        finally:
            self._unhost(hs)
            self._unhost(he)

    def _all(self) -> bytes:
        return self._fetch(None, True, None, False, 0, False)

    def _built(self, mode: int, start, end, limit: int):
        """The list ``ord_entries`` builds (§9.4) for ``mode`` between two bound keys
        (``_OPEN``: unbounded), or FAILED (a host key bound, or the core's refusal: then take
        the page path)."""
        lo = _bound(start)
        hi = _bound(end)
        if lo is None or hi is None:
            return FAILED
        return _entries(self._fh, self._vals, self._hosts, mode, *lo, *hi, limit)

    def items(self) -> list:
        """Every ``(key, value)`` pair in ascending key order (one crossing)."""
        _, handles, keys = entry_page(self._all(), self._hosts)
        if len(handles) < _GC_PAUSE_ENTRIES:
            return list(self._pairs(handles, keys))
        with GC_PAUSE:  # thousands of new tuples, no cycles (see _ffi.GC_PAUSE)
            return list(self._pairs(handles, keys))

    def keys(self) -> list:
        """Every key in ascending order (one crossing)."""
        out = self._built(_KEYS, _OPEN, _OPEN, 0)
        if out is not FAILED:  # the list the core builds (§9.4): faster than a page here
            return out
        _, _, keys = entry_page(self._all(), self._hosts, handles=False)
        if self._hosts and any(map(is_, keys, repeat(GONE))):
            return [k for k in keys if k is not GONE]
        return keys

    def values(self) -> list:
        """Every value in ascending key order (one crossing)."""
        page = self._all()
        _, handles, _ = entry_page(page, self._hosts, keys=False)
        try:
            return list(_values_of(self._vals, handles))
        except KeyError:  # entries moved meanwhile
            _, handles, keys = entry_page(page, self._hosts)
            return [v for _, v in self._pairs(handles, keys)]

    def __iter__(self):
        """A snapshot iterator of ``(key, value)`` pairs in ascending order."""
        _, handles, keys = entry_page(self._all(), self._hosts)
        return _new_iter(self._ITER, self._pairs(handles, keys))

    def range(self, start, end) -> list:
        """``[(key, value)]`` with ``start <= key < end`` (1.1.0: end exclusive; both are keys,
        ``None`` is the key None), ascending, in one crossing."""
        out = self._built(_LO_INC, start, end, 0)
        if out is not FAILED:
            return out
        s = encode(start)
        e = encode(end)
        if s is None or e is None:  # host keys
            page = self._page(start, True, end, False, 0, False)
        else:
            page = self._fetch(s, True, e, False, 0, False)
        _, handles, keys = entry_page(page, self._hosts)
        return list(self._pairs(handles, keys))

    def irange(self, start=None, end=None, inclusive=(True, False), reverse=False):
        """Iterator of ``(key, value)`` between ``start`` and ``end`` (None: unbounded;
        ``inclusive`` says whether each bound belongs to the range), ascending or, with
        ``reverse``, descending. Reads pages of ``PAGE`` entries as it goes, so entries
        inserted or removed meanwhile may or may not be seen."""
        lo_inc, hi_inc = (bool(x) for x in inclusive)
        reverse = bool(reverse)
        start = _OPEN if start is None else start
        end = _OPEN if end is None else end
        # Validate the bounds now (NaN, incomparable), not at the first next().
        first = self._one_page(start, lo_inc, end, hi_inc, reverse, _FIRST_PAGE)
        return self._pages(first, start, lo_inc, end, hi_inc, reverse)

    def _one_page(self, start, lo_inc, end, hi_inc, reverse, limit):
        """``(done, pairs, last key, any)`` of the next ``limit`` entries between two bound keys
        (``_OPEN``: unbounded): ``last`` is the last key still in the container (GONE when none
        is), ``any`` whether the page met any entry."""
        mode = (
            _WITH_DONE
            | (_LO_INC if lo_inc else 0)
            | (_HI_INC if hi_inc else 0)
            | (_REVERSE if reverse else 0)
        )
        r = self._built(mode, start, end, limit)
        if r is not FAILED:
            done, pairs = r
            return done, pairs, pairs[-1][0] if pairs else GONE, bool(pairs)
        page = self._page(start, lo_inc, end, hi_inc, limit, reverse)
        done, handles, keys = entry_page(page, self._hosts)
        # A host key released meanwhile left the container: the last key still known.
        last = next((k for k in reversed(keys) if k is not GONE), GONE)
        return done, list(self._pairs(handles, keys)), last, bool(keys)

    def _pages(self, first, start, lo_inc, end, hi_inc, reverse):
        done, pairs, last, met = first
        limit = _FIRST_PAGE
        while True:
            yield from pairs
            if done or not met:
                return
            # The next page starts after the last key (before it when descending); when no
            # key of the page is known any more, the same bounds no longer meet those entries.
            if last is not GONE:
                if reverse:
                    end, hi_inc = last, False
                else:
                    start, lo_inc = last, False
            limit = min(limit * 4, PAGE)
            done, pairs, last, met = self._one_page(start, lo_inc, end, hi_inc, reverse, limit)

    def count_range(self, start=None, end=None, inclusive=(True, False)) -> int:
        """The number of keys between ``start`` and ``end`` (None: unbounded)."""
        lo_inc, hi_inc = (bool(x) for x in inclusive)
        s, hs, e, he = self._bounds(
            _OPEN if start is None else start, _OPEN if end is None else end
        )
        try:
            return self._udl(self._store.count_range, _span(s, lo_inc, e, hi_inc, 0, False))
        finally:
            self._unhost(hs)
            self._unhost(he)

    # ---- neighbours -----------------------------------------------------------------------

    def _neighbor(self, which: int, key):
        mode, below = _NEIGHBOR_RANGE[which]  # one entry of a range the core builds (§9.4)
        r = self._built(mode, _OPEN, key, 1) if below else self._built(mode, key, _OPEN, 1)
        if r is not FAILED:
            return r[0] if r else None
        for _ in range(_RETRIES):
            enc, hk = (b"", 0) if key is _OPEN else self._key(key)
            try:
                page = _neighbor_page(self._fh, which, enc, len(enc))
                if page is None:
                    page = self._udl(self._store.neighbor, N.Neighbor(which), enc)
            finally:
                self._unhost(hk)
            _, handles, keys = entry_page(page, self._hosts)
            if not handles:
                return None
            pair = next(self._pairs(handles, keys), None)
            if pair is not None:
                return pair
            # The entry left meanwhile: ask again.
        raise self._restless()

    def first(self):
        """The ``(key, value)`` with the smallest key, or None when empty."""
        return self._neighbor(_FIRST, _OPEN)

    def last(self):
        """The ``(key, value)`` with the largest key, or None when empty."""
        return self._neighbor(_LAST, _OPEN)

    def floor(self, key):
        """The entry with the largest key ``<= key``, or None."""
        return self._neighbor(_FLOOR, key)

    def lower(self, key):
        """The entry with the largest key ``< key``, or None."""
        return self._neighbor(_LOWER, key)

    def ceiling(self, key):
        """The entry with the smallest key ``>= key``, or None."""
        return self._neighbor(_CEILING, key)

    def higher(self, key):
        """The entry with the smallest key ``> key``, or None."""
        return self._neighbor(_HIGHER, key)

    # ---- batches --------------------------------------------------------------------------

    def _batch_keys(self, keys: list):
        """``(key page, [(index, host handle)], bad)``: ``bad`` is the KeyAt of the first NaN
        key (the page then holds the keys before it)."""
        try:
            page, hosts = _k.key_page(keys, self._register)
            return page, hosts, None
        except KeyAt as bad:
            self._release(bad.hosts)
            page, hosts = _k.key_page(keys[: bad.index], self._register)
            return page, hosts, bad

    def _release(self, host_keys, first: int = 0) -> None:
        """Releases the host keys ``[(index, handle)]`` of the batch items ``first ...``."""
        hosts = self._hosts
        for i, h in host_keys:
            if i >= first:
                hosts.pop(h, None)

    @staticmethod
    def _outcome(out: list, error, bad):
        """``out``, or the error that stopped a batch, or the error of its first bad key."""
        if error is not None:
            raise error
        if bad is not None:
            raise bad.error
        return out

    def _batch_error(self, message: str, index: int) -> BaseException:
        stashed = self._order.errors.pop(get_ident(), None)
        if stashed is not None:
            return stashed
        prefix = f"item {index}: "
        if message.startswith(prefix):
            message = message[len(prefix) :]
        return TypeError(message)

    def _send(self, fn, *args):
        """A batch UDL call: ``(handles the core returned for the items it applied, the
        error that stopped it or None)``."""
        self._order.errors.pop(get_ident(), None)
        try:
            batch = fn(*args)
        except Exception as exc:
            return [], self._error(exc)
        prev = _k.u64_list(batch.previous)
        if batch.error is None:
            return prev, None
        return prev, self._batch_error(batch.error, len(prev))

    def _insert_many(self, keys: list, values: list, if_absent: bool) -> list:
        """Inserts ``keys[i] -> values[i]`` in order with one crossing (as ``insert`` each, or
        insert-if-absent); returns what ``insert`` would have returned for each applied item.
        Stops at the first key that cannot be used, after applying the ones before it."""
        n = len(keys)
        if n != len(values):
            raise ValueError(f"insert_many: {n} keys but {len(values)} values")
        if n == 0:
            return []
        vals = self._vals
        handles = list(itertools.islice(_COUNTER, n))
        vals.update(zip(handles, values))
        try:
            page, host_keys, bad = self._batch_keys(keys)
        except BaseException:
            for h in handles:
                vals.pop(h, None)
            raise
        count = n if bad is None else bad.index
        out: list = []
        done = 0
        error = None
        send = self._store.insert_many
        try:
            while done < count:
                prev, error = self._send(send, page, _k.u64_bytes(handles[done:count]), if_absent)
                if prev:
                    self._settle(prev, handles, done, host_keys, out, if_absent)
                    done += len(prev)
                if error is not _STALE:
                    break
                # A host key left meanwhile: go on with the items not applied yet.
                error = None
                self._release(host_keys, done)
                page, rest, _ = self._batch_keys(keys[done:count])
                host_keys = [(i + done, h) for i, h in rest]
        finally:
            # Items that were not applied: their values and host keys go.
            for h in handles[done:]:
                vals.pop(h, None)
            self._release(host_keys, done)
        return self._outcome(out, error, bad)

    def _settle(self, prev, handles, base, host_keys, out, if_absent):
        """Releases what the core handed back for the items ``base ...`` of a batch insert."""
        vals = self._vals
        hk_of = self._hk_of
        hosts = self._hosts
        hk_at = {i: h for i, h in host_keys if i >= base} if host_keys else None
        if not hk_of and not hk_at and not any(prev):
            out.extend(repeat(None, len(prev)))
            return
        keeps = if_absent or self._IF_ABSENT
        for j, p in enumerate(prev):
            i = base + j
            h = handles[i]
            hk = hk_at.get(i) if hk_at else None
            if p == 0:
                if hk is not None:
                    hk_of[h] = hk
                out.append(None)
                continue
            if hk is not None:  # an equal key was there and stays
                hosts.pop(hk, None)
            if keeps:  # nothing stored: the existing value stays
                vals.pop(h, None)
                out.append(vals.get(p))
            else:  # replaced: the entry keeps its key (and its host key)
                out.append(vals.pop(p, None))
                if hk_of:
                    old = hk_of.pop(p, None)
                    if old is not None:
                        hk_of[h] = old

    def insert_many(self, items, values=None) -> list:
        """Inserts many entries with one crossing: ``insert_many(pairs)`` or
        ``insert_many(keys, values)``. Each item behaves as :meth:`insert`, in order; returns
        the list of what ``insert`` returned for each."""
        if values is None:
            keys = []
            vals = []
            for pair in items:
                keys.append(pair[0])
                vals.append(pair[1])
        else:
            keys = list(items)
            vals = list(values)
        return self._insert_many(keys, vals, False)

    def get_many(self, keys, default=None) -> list:
        """The values of ``keys`` (``default`` for absent ones) with one crossing."""
        keys = list(keys)
        if not keys:
            return []
        page, host_keys, bad = self._batch_keys(keys)
        try:
            if bad is not None:
                raise bad.error
            found = _k.u64_list(self._udl(self._store.get_many, page))
        finally:
            self._release(host_keys)
        vals = self._vals
        try:
            if 0 not in found:
                return list(_values_of(vals, found))
            return [vals[h] if h else default for h in found]
        except KeyError:  # moved meanwhile
            out = []
            for key, h in zip(keys, found):
                v = vals.get(h, _MISS) if h else default
                out.append(self._lookup(key, default) if v is _MISS else v)
            return out

    def remove_many(self, keys) -> list:
        """Removes ``keys`` in order with one crossing; returns their values (None for absent
        keys). Stops at the first key that cannot be ordered, after removing the ones before."""
        keys = list(keys)
        page, host_keys, bad = self._batch_keys(keys)
        count = len(keys) if bad is None else bad.index
        out: list = []
        error = None
        try:
            while len(out) < count:
                prev, error = self._send(self._store.remove_many, page)
                if not self._hk_of and 0 not in prev:
                    out.extend(map(self._vals.pop, prev))
                else:
                    for h in prev:
                        out.append(self._removed(h) if h else None)
                if error is not _STALE:
                    break
                error = None
                self._release(host_keys)
                page, host_keys, _ = self._batch_keys(keys[len(out) : count])
        finally:
            self._release(host_keys)
        return self._outcome(out, error, bad)


class CSBTree(_Ordered):
    """A cache-sensitive B+ tree: an in-memory ordered map of any comparable keys to any
    values (kohakuvault 1.1.0's ``CSBTree``). ``insert`` replaces; an equal key keeps the key
    object stored first (``1`` then ``1.0`` keeps ``1``).

    ``order`` is the maximum number of keys per node (>= 2).
    """

    __slots__ = ()

    _KIND = N.OrderedKind.CSB_TREE
    _NAME = "CSBTree"
    _MISSING = "Key not found in CSBTree"
    _ITER = PyCSBTreeIterator

    def __init__(self, order: int = 63):
        order = _as_index(order)
        if order < 2:
            raise ValueError(f"CSBTree order must be at least 2, got {order}")
        if order > 0xFFFFFFFF:
            raise ValueError(f"CSBTree order {order} is too large")
        self._open(order)

    def _present(self, key, value, h: int, r: int):
        # Replaced: the old value goes, the entry keeps its key (and its host key).
        old = self._vals.pop(r)
        hk_of = self._hk_of
        if hk_of:
            hk = hk_of.pop(r, None)
            if hk is not None:
                hk_of[h] = hk
        return old

    def get_default(self, key, default):
        """The value of ``key``, or ``default`` when absent."""
        return self.get(key, default)

    def setdefault(self, key, value):
        """The value of ``key``; when absent, inserts ``value`` and returns it."""
        v = self._if_absent(key, value)
        return value if v is _MISS else v

    def update(self, items) -> None:
        """Inserts (replacing) every pair of ``items``: an iterable of ``(key, value)`` pairs
        or a mapping. Items before a failing one stay inserted."""
        if hasattr(items, "keys"):
            keys = list(items.keys())
            values = [items[k] for k in keys]
            self._insert_many(keys, values, False)
            return
        keys = []
        values = []
        try:
            for pair in items:
                k = pair[0]
                v = pair[1]
                keys.append(k)
                values.append(v)
        except BaseException:
            self._insert_many(keys, values, False)
            raise
        self._insert_many(keys, values, False)


class SkipList(_Ordered):
    """A lock-free skip list: an in-memory ordered map safe to share between threads
    (kohakuvault 1.1.0's ``SkipList``). ``insert`` and ``sl[k] = v`` are insert-if-absent:
    an existing key keeps its value (``remove`` it first to replace it)."""

    __slots__ = ()

    _KIND = N.OrderedKind.SKIP_LIST
    _NAME = "SkipList"
    _MISSING = "Key not found"
    _ITER = PySkipListIterator
    _IF_ABSENT = True

    def __init__(self):
        self._open(0)

    def _present(self, key, value, h: int, r: int):
        # Nothing was stored: the new value goes, the existing one is returned.
        vals = self._vals
        del vals[h]
        try:
            return vals[r]
        except KeyError:  # removed meanwhile: the key is absent now
            v = self._if_absent(key, value)
            return None if v is _MISS else v

    def insert_many(self, items, values=None) -> list:
        """Inserts many entries with one crossing: ``insert_many(pairs)`` or
        ``insert_many(keys, values)``. Each item behaves as :meth:`insert` (insert-if-absent),
        in order; returns the list of what ``insert`` returned for each."""
        return super().insert_many(items, values)
