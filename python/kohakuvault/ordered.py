"""CSBTree and SkipList: in-memory ordered maps (kohakuvault 1.1.0's classes over the Rust core).

The containers live in the core (``OrderedStore``, docs/FORMAT.md §9); this module only
translates. The values are held by the core too (§9.5): each entry stores the handle of a
``(key, value)`` tuple in the container's slot table, which the core's builtins turn back into
the objects with the GIL held; a handle whose entry left meanwhile names nothing any more (the
call is repeated). A present entry keeps its slot: a CSBTree's replacement puts ``(its first
key, new value)`` into it. Where the core cannot build Python objects the same table lives in
:mod:`._ordered_slots` and every call takes the general path.

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
from operator import is_
from threading import get_ident

from . import _ordered_keys as _k
from . import _ordered_slots
from ._errmap import VaultError, map_native_error
from ._ffi import FAILED, FAST, MISSING, N
from ._ordered_keys import GONE, KeyAt, encode, entry_page, host_encoding

__all__ = ["CSBTree", "SkipList", "PyCSBTreeIterator", "PySkipListIterator"]

_next = itertools.count(1).__next__  # host-key handles: unique for the life of the process
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


def _no_page(*_args):
    return None


def _fast_page(name: str):
    """``call(*args) -> entry page bytes, or None`` for a page entry point (§9.4)."""
    fn = FAST.bind(name, None, ctypes.c_int32) if FAST.available else None
    return _no_page if fn is None else functools.partial(FAST.raw_page_call, fn)


def _failed(*_args):
    return FAILED


def _as_list(items) -> list:
    """``items`` itself when it is a list (the core's batch builtins read it), else a list."""
    return items if type(items) is list else list(items)


def _builtins():
    """The builtins (docs/FORMAT.md §5.1, §9.4, §9.5), or stand-ins when the core cannot build
    Python objects here: the single-key and range builtins report "failed" (every call takes
    the general path) and the slot table is :mod:`._ordered_slots`."""
    fn = FAST.bind_py("ord_fast_builtins", ()) if FAST.available else None
    if fn is not None:
        return fn()
    t = _ordered_slots
    return (_failed,) * 9 + (
        t.hold,
        t.hold_all,
        t.settle,
        t.settle_all,
        t.take,
        t.take_all,
        t.value,
        t.values,
        t.held,
        t.release,
        _failed,
        _failed,
        _failed,
    )


# Single keys: (h, key[, value, replace]) for an int key, (h, kind, key[, value, replace]) for
# the others -> the value, MISSING (absent; for an insert: the key was new) or FAILED (make
# the general call); contains -> a bool or FAILED. _entries: (h, mode, lo kind, lo, hi kind,
# hi, limit) -> a list. The slot table (§9.5): _hold (h, key, value) -> handle; _hold_all (h,
# keys, values) -> handles (u64 LE bytes); _settle (h, handle, found, replace) and _settle_all
# settle an insert the UDL answered; _take / _take_all free handles the container gave back;
# _value / _values read them; _held counts them; _release frees them all. Batches of plain keys
# (exactly int, str, bytes): _ins_many (h, keys, values or None for pairs, replace), _get_many
# (h, keys, default), _rm_many (h, keys) -> the result list (shorter when a key stopped the
# batch: the general call goes on from there) or FAILED (nothing changed).
(
    _get_int,
    _has_int,
    _rm_int,
    _ins_int,
    _get,
    _has,
    _rm,
    _ins,
    _entries,
    _hold,
    _hold_all,
    _settle,
    _settle_all,
    _take,
    _take_all,
    _value,
    _values,
    _held,
    _release,
    _ins_many,
    _get_many,
    _rm_many,
) = _builtins()

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


def _by_key(fn, fh: int, key):
    """The builtin ``fn`` (ord_get / contains / remove) for a key other than an int within 64
    bits: its result, or FAILED when the key has no encoding here (a host key: make the
    general call). Keys of other types than str and bytes cross as their encoding; raises
    ValueError for NaN."""
    if type(key) is str:  # the builtin takes the str itself (lone surrogates: a host key)
        return fn(fh, 1, key)
    if type(key) is bytes:
        return fn(fh, 2, key)
    b = encode(key)
    if b is None:
        return FAILED
    return fn(fh, 0, b)


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

    __slots__ = ("_store", "_fh", "_hosts", "_hk_of", "_order", "__weakref__")

    _KIND = None
    _NAME = "?"
    _MISSING = "Key not found"
    _ITER = None
    _REPLACE = True  # insert replaces a present entry's value (CSBTree)

    def _open(self, order: int) -> None:
        hosts: dict = {}
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

    def __del__(self):
        # The held values go with the container (the core can release them only now, with
        # the GIL held).
        try:
            _release(self._fh)
        except Exception:  # noqa: S110 - a half-built container or interpreter shutdown
            pass

    def _holding(self) -> int:
        """How many ``(key, value)`` pairs the slot table holds (tests)."""
        return _held(self._fh)

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
        """The value of an entry the core removed (its slot is freed, its host key released)."""
        value = _take(self._fh, handle)
        hk_of = self._hk_of
        if hk_of:
            hk = hk_of.pop(handle, None)
            if hk is not None:
                self._hosts.pop(hk, None)
        return None if value is MISSING else value

    def _store_key(self, key, h: int) -> int:
        """The UDL insert-if-absent of ``key`` with the held handle ``h``: returns what the
        core returned; on failure ``h`` is freed and the error raised."""
        try:
            enc, hk = self._key(key)
        except BaseException:
            _take(self._fh, h)
            raise
        try:
            r = self._udl(self._store.insert_if_absent, enc, h)
        except BaseException:
            _take(self._fh, h)
            self._unhost(hk)
            raise
        if hk:
            if r == 0:  # the entry is new: it keeps this key object
                self._hk_of[h] = hk
            else:  # an equal key was there and stays
                self._hosts.pop(hk, None)
        return r

    def _put(self, key, value, replace: bool):
        """Inserts ``key -> value`` (any key): MISSING when the key was new, else the present
        value (replaced with ``replace``, else kept)."""
        fh = self._fh
        t = type(key)
        if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            v = _ins_int(fh, key, value, replace)
        elif t is str:
            v = _ins(fh, 1, key, value, replace)
        elif t is bytes:
            v = _ins(fh, 2, key, value, replace)
        else:
            v = FAILED
        if v is not FAILED:
            return v
        for _ in range(_RETRIES):
            h = _hold(fh, key, value)
            v = _settle(fh, h, self._store_key(key, h), replace)
            if v is not FAILED:
                return v
            # The present entry was removed meanwhile: try again.
        raise self._restless()

    def _lookup(self, key, default):
        """The value of ``key`` or ``default`` through the UDL (any key; repeats while
        entries move)."""
        for _ in range(_RETRIES):
            r = self._op(self._store.get, key)
            if r == 0:
                return default
            v = _value(self._fh, r)
            if v is not MISSING:
                return v
        raise self._restless()

    def _pairs(self, handles: list, keys: list):
        """The ``(key, value)`` pairs of a page, an iterator over the snapshot taken now
        (values are read now); entries that left meanwhile are dropped."""
        fh = self._fh
        if not self._hosts or not any(map(is_, keys, repeat(GONE))):
            vals = _values(fh, _k.u64_bytes(handles), None)
            if vals is not FAILED:
                return zip(keys, vals)
        out = []
        for key, h in zip(keys, handles):
            if key is GONE:
                continue
            v = _value(fh, h)
            if v is not MISSING:
                out.append((key, v))
        return iter(out)

    # ---- single keys --------------------------------------------------------------------

    def get(self, key, default=None):
        """The value of ``key``, or ``default`` (None) when absent."""
        t = type(key)
        if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            v = _get_int(self._fh, key)
        elif t is str:
            v = _get(self._fh, 1, key)
        elif t is bytes:
            v = _get(self._fh, 2, key)
        else:
            v = _by_key(_get, self._fh, key)
        if v is MISSING:
            return default
        if v is FAILED:
            return self._lookup(key, default)
        return v

    def __getitem__(self, key):
        t = type(key)
        if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            v = _get_int(self._fh, key)
        elif t is str:
            v = _get(self._fh, 1, key)
        elif t is bytes:
            v = _get(self._fh, 2, key)
        else:
            v = _by_key(_get, self._fh, key)
        if v is FAILED:
            v = self._lookup(key, MISSING)
        if v is MISSING:
            raise KeyError(self._MISSING)
        return v

    def __contains__(self, key) -> bool:
        if type(key) is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            r = _has_int(self._fh, key)
        else:
            r = _by_key(_has, self._fh, key)
        if r is FAILED:
            return bool(self._op(self._store.contains, key))
        return r

    def _take_key(self, key):
        """Removes ``key``: its value, or MISSING when it was absent."""
        t = type(key)
        if self._hk_of:  # host keys are stored: their bookkeeping needs the handle
            v = FAILED
        elif t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            v = _rm_int(self._fh, key)
        elif t is str:
            v = _rm(self._fh, 1, key)
        elif t is bytes:
            v = _rm(self._fh, 2, key)
        else:
            v = _by_key(_rm, self._fh, key)
        if v is FAILED:
            r = self._op(self._store.remove, key)
            return MISSING if r == 0 else self._removed(r)
        return v

    def remove(self, key):
        """Removes ``key``; returns its value, or None when it was absent."""
        v = self._take_key(key)
        return None if v is MISSING else v

    def __delitem__(self, key) -> None:
        if self._take_key(key) is MISSING:
            raise KeyError(self._MISSING)

    def insert(self, key, value):
        """Inserts ``key -> value``; returns None for a new key. For a present key a CSBTree
        replaces the value and returns the replaced one; a SkipList (insert-if-absent)
        changes nothing and returns the existing value."""
        t = type(key)
        if t is int and -0x8000000000000000 <= key <= 0x7FFFFFFFFFFFFFFF:
            v = _ins_int(self._fh, key, value, self._REPLACE)
        elif t is str:
            v = _ins(self._fh, 1, key, value, self._REPLACE)
        elif t is bytes:
            v = _ins(self._fh, 2, key, value, self._REPLACE)
        else:
            v = FAILED
        if v is FAILED:
            v = self._put(key, value, self._REPLACE)
        return None if v is MISSING else v

    # ``c[k] = v`` is ``insert`` (the statement drops what insert returns).
    __setitem__ = insert

    # ---- whole container ----------------------------------------------------------------

    # The slot table holds exactly the entries' pairs whenever no insert is under way, so its
    # count is the length without a crossing into the container; while other threads insert
    # it may count their pending pairs.
    def __len__(self) -> int:
        return _held(self._fh)

    def is_empty(self) -> bool:
        return not _held(self._fh)

    def clear(self) -> None:
        """Removes every entry (their values and host keys are released)."""
        handles = self._store.clear()
        if self._hk_of:
            for h in _k.u64_list(handles):
                self._removed(h)
            return
        _take_all(self._fh, handles)

    def __repr__(self) -> str:
        return f"{self._NAME}(len={len(self)})"

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
        return _entries(self._fh, mode, *lo, *hi, limit)

    def items(self) -> list:
        """Every ``(key, value)`` pair in ascending key order (one crossing)."""
        out = _entries(self._fh, _PAIRS, _B_OPEN, None, _B_OPEN, None, 0)
        if out is not FAILED:  # the held pairs themselves (§9.4)
            return out
        _, handles, keys = entry_page(self._all(), self._hosts)
        return list(self._pairs(handles, keys))

    def keys(self) -> list:
        """Every key in ascending order (one crossing)."""
        out = _entries(self._fh, _KEYS, _B_OPEN, None, _B_OPEN, None, 0)
        if out is not FAILED:
            return out
        _, _, keys = entry_page(self._all(), self._hosts, handles=False)
        if self._hosts and any(map(is_, keys, repeat(GONE))):
            return [k for k in keys if k is not GONE]
        return keys

    def values(self) -> list:
        """Every value in ascending key order (one crossing)."""
        out = _entries(self._fh, _VALUES, _B_OPEN, None, _B_OPEN, None, 0)
        if out is not FAILED:
            return out
        _, handles, keys = entry_page(self._all(), self._hosts)
        return [v for _, v in self._pairs(handles, keys)]

    def __iter__(self):
        """A snapshot iterator of ``(key, value)`` pairs in ascending order."""
        return _new_iter(self._ITER, self.items())

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
        """A batch UDL call: ``(handles the core returned for the items it applied (u64 LE
        bytes), the error that stopped it or None)``."""
        self._order.errors.pop(get_ident(), None)
        try:
            batch = fn(*args)
        except Exception as exc:
            return b"", self._error(exc)
        prev = batch.previous
        if batch.error is None:
            return prev, None
        return prev, self._batch_error(batch.error, len(prev) // 8)

    def _insert_many(self, keys: list, values: list, if_absent: bool) -> list:
        """Inserts ``keys[i] -> values[i]`` in order with one crossing (as ``insert`` each, or
        insert-if-absent); returns what ``insert`` would have returned for each applied item.
        Stops at the first key that cannot be used, after applying the ones before it."""
        n = len(keys)
        if n != len(values):
            raise ValueError(f"insert_many: {n} keys but {len(values)} values")
        if n == 0:
            return []
        fh = self._fh
        replace = self._REPLACE and not if_absent
        held = _hold_all(fh, keys, values)  # the pairs, held until stored or settled
        try:
            page, host_keys, bad = self._batch_keys(keys)
        except BaseException:
            _take_all(fh, held)
            raise
        count = n if bad is None else bad.index
        out: list = []
        done = 0
        error = None
        send = self._store.insert_many
        try:
            while done < count:
                prev, error = self._send(send, page, held[8 * done : 8 * count], True)
                applied = len(prev) // 8
                if applied:
                    mine = held[8 * done : 8 * (done + applied)]
                    got = _settle_all(fh, mine, prev, replace)
                    if host_keys:
                        self._settle_hosts(mine, prev, done, host_keys)
                    if any(v is FAILED for v in got):  # a present entry left meanwhile
                        for j, v in enumerate(got):
                            if v is FAILED:
                                v = self._put(keys[done + j], values[done + j], replace)
                                got[j] = None if v is MISSING else v
                    out.extend(got)
                    done += applied
                if error is not _STALE:
                    break
                # A host key left meanwhile: go on with the items not applied yet.
                error = None
                self._release(host_keys, done)
                page, rest, _ = self._batch_keys(keys[done:count])
                host_keys = [(i + done, h) for i, h in rest]
        finally:
            # Items that were not applied: their pairs and host keys go.
            if done < n:
                _take_all(fh, held[8 * done :])
            self._release(host_keys, done)
        return self._outcome(out, error, bad)

    def _settle_hosts(self, mine: bytes, prev: bytes, base: int, host_keys) -> None:
        """The host keys of the applied batch items ``base ...``: a new entry keeps its key
        object (released with the entry), a present one keeps its own."""
        hk_at = {i: h for i, h in host_keys if i >= base}
        for j, (h, p) in enumerate(zip(_k.u64_list(mine), _k.u64_list(prev))):
            hk = hk_at.pop(base + j, None)
            if hk is None:
                continue
            if p == 0:
                self._hk_of[h] = hk
            else:
                self._hosts.pop(hk, None)

    def _insert_batch(self, keys: list, values, if_absent: bool) -> list:
        """``insert_many`` of ``keys[i] -> values[i]`` (``values`` None: ``keys`` is a list of
        pairs) in one call of the core when every key is plain (§9.4), else the general call."""
        replace = self._REPLACE and not if_absent
        out = _ins_many(self._fh, keys, values, replace)
        if out is FAILED:
            return self._insert_general(keys, values, if_absent)
        if type(out) is tuple:  # present entries that kept leaving (other threads): one by one
            out, lost = out
            for j in lost:
                k, v = keys[j] if values is None else (keys[j], values[j])
                v = self._put(k, v, replace)
                out[j] = None if v is MISSING else v
        done = len(out)
        if done < len(keys):  # a key stopped the batch: the general call raises its error
            rest = None if values is None else values[done:]
            out.extend(self._insert_general(keys[done:], rest, if_absent))
        return out

    def _insert_general(self, keys: list, values, if_absent: bool) -> list:
        """:meth:`_insert_many` of ``keys`` and ``values`` or, ``values`` None, of the pairs
        ``keys`` (the pairs before one that is not a pair are inserted, then its error raised)."""
        if values is not None:
            return self._insert_many(keys, values, if_absent)
        ks: list = []
        vs: list = []
        try:
            for pair in keys:
                k = pair[0]
                v = pair[1]
                ks.append(k)
                vs.append(v)
        except BaseException:
            self._insert_many(ks, vs, if_absent)
            raise
        return self._insert_many(ks, vs, if_absent)

    def insert_many(self, items, values=None) -> list:
        """Inserts many entries with one crossing: ``insert_many(pairs)`` or
        ``insert_many(keys, values)``. Each item behaves as :meth:`insert`, in order; returns
        the list of what ``insert`` returned for each. Stops at the first item that cannot be
        used (not a pair, a key that cannot be ordered), after applying the ones before it."""
        if values is None:
            return self._insert_batch(_as_list(items), None, False)
        # Lengths that differ: the core refuses, and the general call raises ValueError.
        return self._insert_batch(list(items), list(values), False)

    def get_many(self, keys, default=None) -> list:
        """The values of ``keys`` (``default`` for absent ones) with one crossing."""
        keys = _as_list(keys)
        out = _get_many(self._fh, keys, default)
        if out is not FAILED:
            return out
        if not keys:
            return []
        page, host_keys, bad = self._batch_keys(keys)
        try:
            if bad is not None:
                raise bad.error
            found = self._udl(self._store.get_many, page)
        finally:
            self._release(host_keys)
        out = _values(self._fh, found, default)
        if out is not FAILED:
            return out
        # An entry left meanwhile: those keys again.
        out = []
        for key, h in zip(keys, _k.u64_list(found)):
            v = _value(self._fh, h) if h else default
            out.append(self._lookup(key, default) if v is MISSING else v)
        return out

    def remove_many(self, keys) -> list:
        """Removes ``keys`` in order with one crossing; returns their values (None for absent
        keys). Stops at the first key that cannot be ordered, after removing the ones before."""
        keys = _as_list(keys)
        out = _rm_many(self._fh, keys)
        if out is FAILED:
            return self._remove_general(keys)
        if len(out) < len(keys):  # a key stopped the batch: the general call raises its error
            out.extend(self._remove_general(keys[len(out) :]))
        return out

    def _remove_general(self, keys: list) -> list:
        page, host_keys, bad = self._batch_keys(keys)
        count = len(keys) if bad is None else bad.index
        out: list = []
        error = None
        try:
            while len(out) < count:
                prev, error = self._send(self._store.remove_many, page)
                if not self._hk_of:
                    out.extend(_take_all(self._fh, prev))
                else:
                    for h in _k.u64_list(prev):
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

    def get_default(self, key, default):
        """The value of ``key``, or ``default`` when absent."""
        return self.get(key, default)

    def setdefault(self, key, value):
        """The value of ``key``; when absent, inserts ``value`` and returns it."""
        v = self._put(key, value, False)
        return value if v is MISSING else v

    def update(self, items) -> None:
        """Inserts (replacing) every pair of ``items``: an iterable of ``(key, value)`` pairs
        or a mapping. Items before a failing one stay inserted."""
        if hasattr(items, "keys"):
            keys = list(items.keys())
            self._insert_batch(keys, [items[k] for k in keys], False)
            return
        if type(items) is list:
            self._insert_batch(items, None, False)
            return
        pairs = []
        try:
            for pair in items:
                pairs.append(pair)
        except BaseException:
            self._insert_batch(pairs, None, False)
            raise
        self._insert_batch(pairs, None, False)


class SkipList(_Ordered):
    """A lock-free skip list: an in-memory ordered map safe to share between threads
    (kohakuvault 1.1.0's ``SkipList``). ``insert`` and ``sl[k] = v`` are insert-if-absent:
    an existing key keeps its value (``remove`` it first to replace it)."""

    __slots__ = ()

    _KIND = N.OrderedKind.SKIP_LIST
    _NAME = "SkipList"
    _MISSING = "Key not found"
    _ITER = PySkipListIterator
    _REPLACE = False

    def __init__(self):
        self._open(0)

    def insert_many(self, items, values=None) -> list:
        """Inserts many entries with one crossing: ``insert_many(pairs)`` or
        ``insert_many(keys, values)``. Each item behaves as :meth:`insert` (insert-if-absent),
        in order; returns the list of what ``insert`` returned for each."""
        return super().insert_many(items, values)


def _install_methods() -> None:
    """Puts the core's method descriptors (docs/FORMAT.md §9.4) in place of ``get``, ``[]``,
    ``in``, ``insert``, ``[] =``, ``remove``, ``del`` and ``range`` on both classes: a call then runs no
    Python frame. Anything the core does not take there (other keys, keywords, an absent key
    where KeyError is due) calls the Python method of ``_Ordered``, which stays the fallback."""
    fn = FAST.bind_py("ord_fast_method_factory", ()) if FAST.available else None
    if fn is None:
        return
    (make,) = fn()
    base = _Ordered
    names = (
        "get",
        "__getitem__",
        "__contains__",
        "insert",
        "__setitem__",
        "remove",
        "__delitem__",
        "range",
    )
    fallbacks = tuple(getattr(base, n) for n in names) + ("_fh",)
    for cls, replace in ((CSBTree, True), (SkipList, False)):
        descriptors = make(cls, replace, fallbacks)
        if descriptors is FAILED:
            return
        for name, d in zip(names, descriptors):
            setattr(cls, name, d)


_install_methods()
