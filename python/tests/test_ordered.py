"""CSBTree and SkipList (REFERENCE.md §1.8-1.9, DECISIONS 10, docs/FORMAT.md §9).

1.1.0's documented behaviour member by member, our fixes (order < 2, incomparable keys, NaN,
update with a mapping), key ordering of every native type and of host keys, value lifetimes,
threads, a seeded random-operation test against a dict + sorted(), and the conformance vectors
of tests/conformance/ordered.json.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
import math
import pickle
import random
import struct
import threading
import weakref
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pytest

import kohakuvault
from conftest import CONFORMANCE, load_conformance
from kohakuvault import CSBTree, SkipList
from kohakuvault import _ordered_keys as keycodec
from kohakuvault._ffi import FAILED
from kohakuvault.ordered import PAGE

KINDS = [CSBTree, SkipList]


def make(cls, order=None):
    if cls is CSBTree:
        return CSBTree() if order is None else CSBTree(order)
    return SkipList()


@pytest.fixture(params=["csbtree", "csbtree-order2", "skiplist"])
def box(request):
    if request.param == "csbtree":
        return CSBTree()
    if request.param == "csbtree-order2":
        return CSBTree(order=2)
    return SkipList()


class Value:
    """A value object that can be weakly referenced."""

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"Value({self.n})"


@dataclass(order=True, frozen=True)
class Version:
    major: int
    minor: int


class Raises:
    """A key whose comparisons raise a custom exception."""

    class Boom(Exception):
        pass

    def __lt__(self, other):
        raise Raises.Boom("no order")

    __gt__ = __lt__


def assert_missing(c, key, message: str) -> None:
    """``c[key]`` and ``del c[key]`` raise ``KeyError(message)``."""
    for op in (c.__getitem__, c.__delitem__):
        with pytest.raises(KeyError) as e:
            op(key)
        assert e.value.args == (message,)


def python_message(a, b) -> str:
    try:
        a < b  # noqa: B015
    except TypeError as exc:
        return str(exc)
    raise AssertionError("comparable")


def same(a, b) -> bool:
    """Same type and value (floats bit for bit, tuples element by element)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


# ---- imports and names ------------------------------------------------------------------------


def test_exports_and_native_module_names():
    from kohakuvault._kvault import CSBTree as C2
    from kohakuvault._kvault import PyCSBTreeIterator, PySkipListIterator
    from kohakuvault._kvault import SkipList as S2

    assert C2 is CSBTree and S2 is SkipList
    assert kohakuvault._CSBTREE_AVAILABLE is True
    assert isinstance(iter(CSBTree()), PyCSBTreeIterator)
    assert isinstance(iter(SkipList()), PySkipListIterator)
    for cls in (PyCSBTreeIterator, PySkipListIterator):
        with pytest.raises(TypeError, match="No constructor defined"):
            cls()


# ---- CSBTree: 1.1.0's members -----------------------------------------------------------------


def test_csbtree_members():
    t = CSBTree()
    assert repr(t) == "CSBTree(len=0)" and len(t) == 0 and t.is_empty() and not t
    assert t.insert(2, "b") is None
    t[1] = "a"
    assert t.insert(2, "B") == "b"  # replaces, returns the old value
    assert t[2] == "B" and t.get(2) == "B" and t.get(9) is None
    assert t.get_default(9, "d") == "d" and t.get_default(1, "d") == "a"
    assert 1 in t and 9 not in t
    assert repr(t) == "CSBTree(len=2)" and len(t) == 2 and not t.is_empty() and t
    assert t.keys() == [1, 2] and t.values() == ["a", "B"] and t.items() == [(1, "a"), (2, "B")]
    assert list(t) == [(1, "a"), (2, "B")]
    assert t.setdefault(3, "c") == "c" and t.setdefault(3, "x") == "c"
    assert t.update([(4, "d"), (5, "e", "ignored")]) is None
    assert t.items() == [(1, "a"), (2, "B"), (3, "c"), (4, "d"), (5, "e")]
    assert t.range(2, 4) == [(2, "B"), (3, "c")]
    assert t.range(3, 3) == [] and t.range(4, 2) == [] and t.range(0, 100) == t.items()
    assert t.range(1.5, 3.5) == [(2, "B"), (3, "c")]
    assert t.remove(4) == "d" and t.remove(4) is None
    del t[5]
    assert_missing(t, 5, "Key not found in CSBTree")
    assert t.clear() is None and len(t) == 0 and t.items() == []
    assert CSBTree(5).items() == [] and CSBTree(order=2).items() == []


def test_csbtree_order_is_validated():
    for bad in (0, 1, -1):
        with pytest.raises(ValueError, match="order"):
            CSBTree(bad)
        with pytest.raises(ValueError):
            CSBTree(order=bad)
    with pytest.raises(TypeError):
        CSBTree("3")
    with pytest.raises(TypeError):
        CSBTree(3.0)
    t = CSBTree(2)
    for i in range(200):
        t[i] = i
    assert t.keys() == list(range(200))


def test_csbtree_update_accepts_mappings_and_keeps_items_before_a_failure():
    t = CSBTree()
    t.update({2: "b", 1: "a"})
    t.update(CSBTree())
    other = CSBTree()
    other[3] = "c"
    t.update(other)
    assert t.items() == [(1, "a"), (2, "b"), (3, "c")]
    with pytest.raises(TypeError):
        t.update(5)
    with pytest.raises(TypeError):  # 1.1.0: pairs are indexed, an int is not
        t.update([(7, "g"), 8])
    assert t.get(7) == "g"

    def pairs():
        yield (10, "x")
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        t.update(pairs())
    assert t[10] == "x"
    with pytest.raises(TypeError):  # "a" cannot be ordered against ints: 11 stays in
        t.update([(11, "y"), ("a", "z"), (12, "w")])
    assert 11 in t and 12 not in t and "a" not in t.keys()


def test_skiplist_members_insert_if_absent():
    s = SkipList()
    assert repr(s) == "SkipList(len=0)" and s.is_empty() and len(s) == 0
    with pytest.raises(TypeError):
        SkipList(3)
    assert s.insert(1, "a") is None
    s[1] = "b"  # insert-if-absent: no change
    assert s[1] == "a"
    assert s.insert(1, "c") == "a" and s[1] == "a"
    assert s.insert(2, "c") is None
    assert s.get(1) == "a" and s.get(7) is None and 1 in s and 7 not in s
    assert s.keys() == [1, 2] and s.values() == ["a", "c"] and s.items() == [(1, "a"), (2, "c")]
    assert list(s) == s.items() and s.range(1, 2) == [(1, "a")] and s.range(2, 1) == []
    assert repr(s) == "SkipList(len=2)"
    assert_missing(s, 9, "Key not found")
    assert s.remove(1) == "a" and s.remove(1) is None
    s[1] = "new"  # replacing = remove then insert
    assert s[1] == "new"
    del s[2]
    assert s.items() == [(1, "new")]
    assert s.clear() is None and len(s) == 0 and list(s) == []
    for name in ("get_default", "setdefault", "update"):
        assert not hasattr(s, name)
        with pytest.raises(AttributeError):
            getattr(s, name)


def test_iteration_is_a_snapshot(box):
    for i in range(10):
        box[i] = i
    it = iter(box)
    assert iter(it) is it and next(it) == (0, 0)
    box[100] = 100
    box.remove(5)
    assert list(it) == [(i, i) for i in range(1, 10)]
    assert [k for k, _ in box] == [0, 1, 2, 3, 4, 6, 7, 8, 9, 100]


def test_not_picklable_but_weakly_referenceable(box):
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(box)
    assert weakref.ref(box)() is box


# ---- key order ----------------------------------------------------------------------------------


def test_numbers_mix_exactly(box):
    keys = [3, -1.5, True, 0.5, 2**53 + 1, 2.0**53, -(2**63), 2**63 - 1, 1e300, -math.inf]
    for k in keys:
        box[k] = repr(k)
    assert box.keys() == sorted(keys)
    assert box[1] == "True" and box[1.0] == "True" and True in box and 0 not in box
    assert box.get(False) is None
    assert box[2**53] == repr(2.0**53) and box[2**53 + 1] == repr(2**53 + 1)
    assert box.floor(2**53 + 0.5) == (2.0**53, repr(2.0**53))


def test_equal_key_keeps_the_original_key_object():
    t = CSBTree()
    t[1] = "int"
    t[1.0] = "float"
    t[True] = "bool"
    [(k, v)] = t.items()
    assert same(k, 1) and v == "bool"
    s = SkipList()
    s[1.0] = "float"
    assert s.insert(1, "int") == "float"
    [(k, v)] = s.items()
    assert same(k, 1.0) and v == "float"
    t = CSBTree()
    t[-0.0] = "neg"
    t[0] = "zero"
    [(k, v)] = t.items()
    assert same(k, -0.0) and v == "zero"


def test_str_bytes_by_code_point_and_unsigned(box):
    words = ["b", "a", "", "é", "\uffff", "\U00010000", "a\x00", "\u00ff", "zz"]
    for w in words:
        box[w] = w
    assert box.keys() == sorted(words)  # "\uffff" < "\U00010000" (not UTF-16 order)
    b = make(type(box))
    blobs = [b"\xff", b"\x00", b"", b"\x7f\x80", b"\x80", b"a" * 300]
    for x in blobs:
        b[x] = x
    assert b.keys() == sorted(blobs)


def test_none_and_tuples(box):
    keys = [(1, "a"), (1,), (0, "z", b""), (1, "a", None), (2,), (), (1, "b"), ((1, 2), 3)]
    for k in keys[:-1]:
        box[k] = k
    assert box.keys() == sorted(keys[:-1])
    with pytest.raises(TypeError, match=python_message((1, 2), 0)):
        box[((1, 2), 3)] = 1
    n = make(type(box))
    n[None] = "none"
    assert n[None] == "none" and n.keys() == [None]
    with pytest.raises(TypeError):
        n[1] = 1
    nt = make(type(box))
    for k in [(None, 2), (None, 1)]:
        nt[k] = k
    assert nt.keys() == [(None, 1), (None, 2)]


def test_incomparable_keys_raise_typeerror_and_change_nothing(box):
    for i in range(50):
        box[i] = i
    before = box.items()
    msg = python_message("a", 1)
    for op in (
        lambda: box.insert("a", 1),
        lambda: box.__setitem__("a", 1),
        lambda: box.get("a"),
        lambda: box["a"],
        lambda: "a" in box,
        lambda: box.remove("a"),
        lambda: box.__delitem__("a"),
        lambda: box.range("a", "b"),
        lambda: box.floor("a"),
        lambda: box.ceiling(b"x"),
        lambda: box.get_many([1, "a"]),
        lambda: box.count_range("a", None),
        lambda: list(box.irange("a")),
    ):
        with pytest.raises(TypeError) as e:
            op()
        assert "not supported between instances of" in str(e.value)
    with pytest.raises(TypeError) as e:
        box["a"] = 1
    assert str(e.value) == msg
    assert box.items() == before and len(box) == 50


def test_nan_keys_raise_valueerror(box):
    box[1.0] = "one"
    nan = float("nan")
    for op in (
        lambda: box.insert(nan, 1),
        lambda: box.__setitem__((1, nan), 1),
        lambda: box.get(nan),
        lambda: nan in box,
        lambda: box.remove(nan),
        lambda: box.range(0, nan),
        lambda: box.floor(nan),
        lambda: list(box.irange(nan)),
        lambda: box.get_many([nan]),
        lambda: box.__setitem__((Decimal(1), nan), 1),
    ):
        with pytest.raises(ValueError, match="NaN"):
            op()
    assert box.items() == [(1.0, "one")]


# ---- host keys ----------------------------------------------------------------------------------


HOST_SETS = [
    [Decimal("1.5"), Decimal("-2"), Decimal("10"), Decimal("0.001")],
    [dt.datetime(2024, 1, 2), dt.datetime(1999, 12, 31), dt.datetime(2024, 1, 1, 23)],
    [dt.date(2020, 5, 1), dt.date(2020, 4, 30)],
    [Version(1, 2), Version(0, 9), Version(1, 10), Version(1, 3)],
    [2**80, -(2**70), 5, 2**63, -(2**63) - 1, 0.5, Decimal("7.25"), Fraction(1, 3), True],
    ["\ud800", "a", "\udfff", "\U00010000", "\ud7ff", "\ue000"],
    [(1, Decimal("2")), (1, 3), (0, Decimal("9")), (1, 2.5)],
]


@pytest.mark.parametrize("keys", HOST_SETS, ids=range(len(HOST_SETS)))
def test_host_keys_order_as_python(box, keys):
    rng = random.Random(7)
    shuffled = keys[:]
    rng.shuffle(shuffled)
    for i, k in enumerate(shuffled):
        box.insert(k, i)
    expected = sorted(keys)
    got = box.keys()
    assert got == expected
    for k in keys:
        assert box[k] == shuffled.index(k) and k in box
    # Host keys come back as the very objects inserted.
    objects = {id(k) for k in keys}
    for k in got:
        if keycodec.encode(k) is None:
            assert id(k) in objects
    lo, hi = expected[1], expected[-1]
    assert [k for k, _ in box.range(lo, hi)] == expected[1:-1]
    assert box.first()[0] == expected[0] and box.last()[0] == expected[-1]
    assert box.higher(expected[0])[0] == expected[1]
    assert box.lower(expected[-1])[0] == expected[-2]
    assert box.get_many(expected) == [shuffled.index(k) for k in expected]
    for k in shuffled:
        box.remove(k)
    assert len(box) == 0 and box._hosts == {} and box._holding() == 0


def test_decimal_mixed_with_int_keeps_the_first_key(box):
    box[1] = "int"
    box[Decimal("1.0")] = "dec"
    box[Decimal("0.5")] = "half"
    box[2] = "two"
    assert box.keys() == [Decimal("0.5"), 1, 2]
    assert same(box.keys()[1], 1)
    expected = "dec" if isinstance(box, CSBTree) else "int"
    assert box[1] == expected and box[Decimal(1)] == expected
    assert box.remove(Decimal("2")) == "two"
    assert box.keys() == [Decimal("0.5"), 1]


def test_host_key_exceptions_propagate_and_change_nothing(box):
    box[Version(1, 0)] = "a"
    box[Version(2, 0)] = "b"
    with pytest.raises(TypeError) as e:
        box["x"] = 1
    assert "not supported between instances of" in str(e.value)
    with pytest.raises(Raises.Boom):
        box[Raises()] = 1
    with pytest.raises(Raises.Boom):
        box.get(Raises())
    with pytest.raises(Raises.Boom):
        box.insert_many([(Raises(), 1)])
    assert box.items() == [(Version(1, 0), "a"), (Version(2, 0), "b")]
    assert len(box._hosts) == 2 and box._holding() == 2


def test_host_keys_are_released_with_their_entries():
    t = CSBTree()
    first = Version(1, 1)
    t[first] = "a"
    equal = Version(1, 1)
    w_equal = weakref.ref(equal)
    t[equal] = "b"  # replaces the value; the first key object stays
    del equal
    gc.collect()
    assert w_equal() is None
    [(k, v)] = t.items()
    assert k is first and v == "b"
    w_first = weakref.ref(first)
    del first, k
    gc.collect()
    assert w_first() is not None  # held by the tree
    t.remove(Version(1, 1))
    gc.collect()
    assert w_first() is None and t._hosts == {} and t._hk_of == {}
    many = [Version(i, 0) for i in range(20)]
    refs = [weakref.ref(v) for v in many]
    t.update([(v, i) for i, v in enumerate(many)])
    del many
    gc.collect()
    assert all(r() is not None for r in refs)
    t.clear()
    gc.collect()
    assert all(r() is None for r in refs) and t._hosts == {}
    s = SkipList()
    key = Version(3, 0)
    s[key] = 1
    dup = Version(3, 0)
    w_dup = weakref.ref(dup)
    s[dup] = 2  # present: nothing stored
    del dup
    gc.collect()
    assert w_dup() is None and s[key] == 1
    del s[Version(3, 0)]
    assert s._hosts == {}


# ---- value lifetimes ---------------------------------------------------------------------------


def _weak_value(n):
    v = Value(n)
    return v, weakref.ref(v)


@pytest.mark.parametrize("cls", KINDS)
def test_values_live_exactly_as_long_as_held(cls):
    box = make(cls)
    v, w = _weak_value(1)
    box[1] = v
    del v
    gc.collect()
    assert w() is not None and box[1].n == 1
    if cls is CSBTree:
        box[1] = Value(2)  # replaced: the old value goes
        gc.collect()
        assert w() is None
    else:
        other, w_other = _weak_value(2)
        assert box.insert(1, other) is w()  # kept: the new value is dropped
        del other
        gc.collect()
        assert w_other() is None and w() is not None
        box.remove(1)
        gc.collect()
        assert w() is None
    v, w = _weak_value(3)
    box[2] = v
    del v
    assert box.remove(2).n == 3
    gc.collect()
    assert w() is None
    v, w = _weak_value(4)
    box[3] = v
    del v
    del box[3]
    gc.collect()
    assert w() is None
    box.clear()
    refs = []
    for i in range(100):
        v, w = _weak_value(i)
        box[("k", i)] = v
        refs.append(w)
    del v
    box.clear()
    gc.collect()
    assert all(r() is None for r in refs) and box._holding() == 0
    refs = []
    pairs = []
    for i in range(100):
        v, w = _weak_value(i)
        pairs.append((i, v))
        refs.append(w)
    box.insert_many(pairs)
    del pairs, v
    gc.collect()
    assert all(r() is not None for r in refs)
    assert [x.n for x in box.remove_many(range(50))] == list(range(50))
    gc.collect()
    assert all(r() is None for r in refs[:50]) and all(r() is not None for r in refs[50:])
    del box
    gc.collect()
    assert all(r() is None for r in refs)


def test_batch_insert_replaces_and_releases():
    t = CSBTree()
    a, wa = _weak_value("a")
    t[1] = a
    del a
    b, wb = _weak_value("b")
    olds = t.insert_many([(1, b), (2, "two"), (1, "again")])
    assert [o.n if isinstance(o, Value) else o for o in olds] == ["a", None, "b"]
    del olds, b
    gc.collect()
    assert wa() is None and wb() is None and t.items() == [(1, "again"), (2, "two")]
    s = SkipList()
    s[1] = "first"
    assert s.insert_many([1, 2, 2], ["x", "y", "z"]) == ["first", None, "y"]
    assert s.items() == [(1, "first"), (2, "y")] and s._holding() == 2


# ---- batches, neighbours, pages ---------------------------------------------------------------------


def test_batches(box):
    keys = list(range(0, 2000, 2))
    assert box.insert_many(keys, [k * 10 for k in keys]) == [None] * len(keys)
    assert box.get_many([0, 1, 2, 1998, 5000]) == [0, None, 20, 19980, None]
    assert box.get_many([1, 3], default="-") == ["-", "-"] and box.get_many([]) == []
    for layout_keys in (
        ["a", "é", "\U00010000"],
        [b"x", b""],
        [0.5, -0.5],
        [(1, "a"), (0,), (2, b"x"), (1,)],
    ):
        other = make(type(box))
        other.insert_many([(k, i) for i, k in enumerate(layout_keys)])
        assert other.get_many(layout_keys) == list(range(len(layout_keys)))
        assert sorted(other.keys()) == sorted(layout_keys) == other.keys()
    assert box.remove_many([0, 1, 2]) == [0, None, 20] and box.remove_many([]) == []
    with pytest.raises(ValueError):
        box.insert_many([1, 2], [1])
    # A failing item: the ones before it are applied, the rest are not.
    with pytest.raises(TypeError):
        box.insert_many([(10001, "a"), ("x", "b"), (10003, "c")])
    assert 10001 in box and 10003 not in box
    with pytest.raises(ValueError, match="NaN"):
        box.insert_many([(10005, "a"), (float("nan"), "b"), (10007, "c")])
    assert 10005 in box and 10007 not in box
    with pytest.raises(TypeError):
        box.remove_many([4, "x", 6])
    assert 4 not in box and 6 in box
    assert len(box) == box._store.len()


def test_neighbours(box):
    assert box.first() is None and box.last() is None and box.floor(3) is None
    for k in (10, 20, 30):
        box[k] = str(k)
    assert box.first() == (10, "10") and box.last() == (30, "30")
    assert box.floor(20) == (20, "20") and box.floor(25) == (20, "20") and box.floor(5) is None
    assert box.lower(20) == (10, "10") and box.lower(10) is None
    assert box.ceiling(20) == (20, "20") and box.ceiling(21) == (30, "30")
    assert box.ceiling(31) is None and box.higher(20) == (30, "30") and box.higher(30) is None
    assert box.floor(20.5) == (20, "20") and box.ceiling(True) == (10, "10")


def test_range_bounds_are_keys(box):
    # range(start, end): both are keys (None is the key None, not "unbounded").
    for k in (1, 2, 3):
        box[k] = k
    with pytest.raises(TypeError):
        box.range(None, 3)
    with pytest.raises(TypeError):
        box.range(1, None)
    only_none = type(box)()
    only_none[None] = "n"
    assert only_none.range(None, None) == [] and only_none.items() == [(None, "n")]


@pytest.mark.parametrize("kind", [int, str, bytes, float])
def test_pages_through_the_udl_equal_the_fast_path(box, kind, monkeypatch):
    from kohakuvault import ordered

    def key(i):
        if kind is int or kind is float:
            return kind(i)
        return kind(f"k{i:05d}", "ascii") if kind is bytes else f"k{i:05d}"

    n = PAGE + 10
    box.insert_many([(key(i), -i) for i in range(n)])

    def reads():
        return (
            ordered._Ordered.range(box, key(3), key(40)),  # the facade's own method
            box.items(),
            box.keys(),
            box.values(),
            list(box),
            list(box.irange(key(5), key(n - 7), (False, True), True)),
            [box.first(), box.last(), box.floor(key(7)), box.lower(key(7)), box.ceiling(key(7))],
            [box.higher(key(7)), box.higher(key(n - 1)), box.lower(key(0))],
        )

    fast = reads()
    assert fast[0] == [(key(i), -i) for i in range(3, 40)] == box.range(key(3), key(40))
    assert fast[1] == [(key(i), -i) for i in range(n)] == fast[4]
    assert fast[5] == [(key(i), -i) for i in range(n - 7, 5, -1)]
    assert fast[6] == [(key(0), 0), (key(n - 1), 1 - n), (key(7), -7), (key(6), -6), (key(7), -7)]
    assert fast[7] == [(key(8), -8), None, None]
    # The lists the core builds (_entries) equal the pages decoded here (ctypes page calls),
    # which equal the UDL's pages.
    built = []

    def no_entries(*args):  # as a failed builtin: the page path is taken instead
        built.append(args[1])
        return FAILED

    monkeypatch.setattr(ordered, "_entries", no_entries)
    assert reads() == fast
    # range, items, keys, values, iter; irange's pages of 64, 256 and the last 702 of its 1022
    # entries; neighbours
    assert len(built) == 5 + 3 + 8
    refused = []

    def refuse(*args):  # as a failed fast call: the UDL call is made instead
        refused.append(args[1])
        return None

    for name in ("_range_page", "_neighbor_page"):
        monkeypatch.setattr(ordered, name, refuse)
    assert reads() == fast
    assert len(refused) == 5 + 3 + 8  # range, items, keys, values, iter; irange; neighbours


def test_irange_pages_and_bounds(box):
    n = PAGE * 2 + 37
    box.insert_many([(i, -i) for i in range(n)])
    assert list(box.irange()) == [(i, -i) for i in range(n)]
    assert list(box.irange(reverse=True)) == [(i, -i) for i in reversed(range(n))]
    hi = n - 30
    assert [k for k, _ in box.irange(5, hi)] == list(range(5, hi))
    assert [k for k, _ in box.irange(5, hi, (False, True))] == list(range(6, hi + 1))
    assert [k for k, _ in box.irange(5, hi, (False, True), True)] == list(range(hi, 5, -1))
    assert [k for k, _ in box.irange(5.5, hi + 0.5, reverse=True)] == list(range(hi, 5, -1))
    assert [k for k, _ in box.irange(end=3, inclusive=(True, True))] == [0, 1, 2, 3]
    assert [k for k, _ in box.irange(start=n - 2)] == [n - 2, n - 1]
    assert list(box.irange(10, 10)) == [] and list(box.irange(10, 5)) == []
    assert box.count_range() == n and box.count_range(10, 20) == 10
    assert box.count_range(10, 20, (False, True)) == 10 and box.count_range(start=n - 5) == 5
    it = box.irange()
    assert next(it) == (0, 0)
    box.remove(1)  # pages are read as the iteration goes
    assert next(it)[0] in (1, 2)


def test_fast_path_int_boundaries(box):
    keys = [-(2**63), 2**63 - 1, -1, 0, 2**31, -(2**31) - 1, 2**32, 2**32 - 1, 2**63, -(2**63) - 1]
    for k in keys:
        box[k] = k
    assert box.keys() == sorted(keys)
    for k in keys:
        assert box[k] == k and k in box
        assert same(box.ceiling(k)[0], k)
    for k in keys:
        assert box.remove(k) == k
    assert len(box) == 0 and box._hosts == {}


# ---- threads -------------------------------------------------------------------------------------


def test_skiplist_threads_lose_nothing():
    s = SkipList()
    threads = 8
    per = 3000
    errors = []
    winners = [0] * threads

    def work(t):
        try:
            base = t * per
            for i in range(per):
                s[base + i] = (t, i)
            for i in range(1, per, 2):
                assert s.remove(base + i) == (t, i)
            for i in range(0, per, 2):
                assert s[base + i] == (t, i)
            keys = [k for k, _ in s]
            assert keys == sorted(set(keys))
            # Every thread inserts the same shared keys: exactly one insert of each wins.
            for i in range(500):
                if s.insert(-1 - i, t) is None:
                    winners[t] += 1
            s.insert_many([(base + i, (t, i)) for i in range(1, per, 2)])
            for k, v in s.irange(base, base + per):
                assert v == (t, k - base)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors, errors
    assert sum(winners) == 500
    items = s.items()
    ints = [(k, v) for k, v in items if k >= 0]
    assert ints == [(t * per + i, (t, i)) for t in range(threads) for i in range(per)]
    assert len(s) == threads * per + 500 == s._store.len()


def test_csbtree_threads():
    t = CSBTree(order=4)
    errors = []

    def work(n):
        try:
            for i in range(2000):
                t[n * 10000 + i] = i
            for i in range(0, 2000, 3):
                del t[n * 10000 + i]
            assert t.range(n * 10000, n * 10000 + 10) == [
                (n * 10000 + i, i) for i in range(10) if i % 3
            ]
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors, errors
    assert t.keys() == [n * 10000 + i for n in range(8) for i in range(2000) if i % 3]
    assert len(t) == t._store.len() == 8 * 1333


@pytest.mark.parametrize("cls", KINDS)
def test_ranges_and_neighbours_while_entries_move(cls):
    """Ranges, pages and neighbours read while other threads remove, re-insert and replace
    entries: every pair read is whole (its value names its key), in order, within bounds."""
    c = make(cls)
    n = 2000
    for k in range(n):
        c[k] = (k, 0)
    stop = threading.Event()
    errors = []

    def churn(seed):
        rng = random.Random(seed)
        try:
            gen = 0
            while not stop.is_set():
                gen += 1
                k = rng.randrange(n)
                c.remove(k)
                c[k] = (k, gen)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def check(pairs, lo, hi):
        keys = [k for k, _ in pairs]
        assert keys == sorted(set(keys))
        for k, v in pairs:
            assert v[0] == k and lo <= k < hi

    pool = [threading.Thread(target=churn, args=(s,)) for s in range(2)]
    for th in pool:
        th.start()
    try:
        rng = random.Random(7)
        for _ in range(300):
            a = rng.randrange(n)
            b = a + rng.randrange(1, 300)
            check(c.range(a, b), a, b)
            check(list(c.irange(a, b)), a, b)
            check(list(c.irange(a, b, reverse=True))[::-1], a, b)
            for pair, ok in (
                (c.floor(a + 0.5), (-1, 0)),
                (c.lower(a), (-1,)),
                (c.ceiling(a - 0.5), (0, 1)),
                (c.higher(a), (1,)),
            ):
                if pair is not None:  # the sign of key - a is one of ``ok``
                    k = pair[0]
                    assert pair[1][0] == k and ((k > a) - (k < a)) in ok
            for pair in (c.first(), c.last()):
                assert pair is None or pair[1][0] == pair[0]
    finally:
        stop.set()
        for th in pool:
            th.join()
    assert not errors, errors
    assert c.keys() == list(range(n))


# ---- random operations against a reference -----------------------------------------------------------


def _random_key(rng):
    r = rng.random()
    if r < 0.6:
        return rng.randrange(-500, 500)
    if r < 0.85:
        return rng.randrange(-1000, 1000) / 2  # floats, equal to ints half of the time
    if r < 0.96:
        return bool(rng.getrandbits(1))
    # Host keys mixed with the numbers (few: every comparison with one is a callback).
    return Decimal(rng.randrange(-2000, 2000)) / 4


class Reference:
    """A dict plus a sorted key list: what the containers must behave like. Equal numbers
    hash alike (1, 1.0, True, Decimal(1)), so the dict finds an equal key and keeps the key
    object stored first, as the containers do."""

    def __init__(self, replace: bool):
        self.replace = replace
        self.d = {}
        self.keys = []

    def insert(self, k, v):
        if k in self.d:
            old = self.d[k]
            if self.replace:
                self.d[k] = v
            return old
        self.d[k] = v
        bisect.insort(self.keys, k)
        return None

    def find(self, k):
        return k in self.d

    def get(self, k):
        return self.d.get(k)

    def remove(self, k):
        if k not in self.d:
            return None
        del self.keys[bisect.bisect_left(self.keys, k)]
        return self.d.pop(k)

    def items(self):
        return [(k, self.d[k]) for k in self.keys]


def _check_same_items(got, want):
    assert len(got) == len(want)
    for (gk, gv), (wk, wv) in zip(got, want):
        assert same(gk, wk) or (gk == wk and isinstance(gk, Decimal)), (gk, wk)
        assert gv == wv


@pytest.mark.parametrize("cls,order", [(CSBTree, 2), (CSBTree, 3), (CSBTree, 63), (SkipList, 0)])
def test_random_operations_match_a_reference(cls, order):
    rng = random.Random(20240 + order)
    box = CSBTree(order) if cls is CSBTree else SkipList()
    ref = Reference(replace=cls is CSBTree)
    ops = 20_000
    counter = 0
    for step in range(ops):
        op = rng.random()
        k = _random_key(rng)
        counter += 1
        if op < 0.30:
            assert box.insert(k, counter) == ref.insert(k, counter)
        elif op < 0.40:
            box[k] = counter
            ref.insert(k, counter)
        elif op < 0.55:
            assert box.get(k) == ref.get(k)
            assert (k in box) == (ref.find(k))
        elif op < 0.70:
            assert box.remove(k) == ref.remove(k)
        elif op < 0.75:
            want = ref.get(k)
            if not ref.find(k):
                with pytest.raises(KeyError):
                    del box[k]
            else:
                del box[k]
                assert ref.remove(k) == want
        elif op < 0.80:
            k2 = _random_key(rng)
            lo, hi = min(k, k2), max(k, k2)
            want = [(a, b) for a, b in ref.items() if lo <= a < hi]
            _check_same_items(box.range(lo, hi), want)
            assert box.count_range(lo, hi) == len(want)
        elif op < 0.85:
            items = ref.items()
            got = {
                "floor": box.floor(k),
                "ceiling": box.ceiling(k),
                "lower": box.lower(k),
                "higher": box.higher(k),
            }
            want = {
                "floor": next((p for p in reversed(items) if p[0] <= k), None),
                "ceiling": next((p for p in items if p[0] >= k), None),
                "lower": next((p for p in reversed(items) if p[0] < k), None),
                "higher": next((p for p in items if p[0] > k), None),
            }
            for name in got:
                if want[name] is None:
                    assert got[name] is None, name
                else:
                    _check_same_items([got[name]], [want[name]])
        elif op < 0.90:
            batch = [(_random_key(rng), counter + j) for j in range(rng.randrange(1, 20))]
            counter += 20
            assert box.insert_many(batch) == [ref.insert(a, b) for a, b in batch]
        elif op < 0.93:
            ks = [_random_key(rng) for _ in range(rng.randrange(1, 20))]
            assert box.get_many(ks) == [ref.get(x) for x in ks]
        elif op < 0.96:
            ks = [_random_key(rng) for _ in range(rng.randrange(1, 10))]
            assert box.remove_many(ks) == [ref.remove(x) for x in ks]
        elif op < 0.98:
            lo_inc, hi_inc, rev = rng.random() < 0.5, rng.random() < 0.5, rng.random() < 0.5
            k2 = _random_key(rng)
            lo, hi = min(k, k2), max(k, k2)
            want = [
                p
                for p in ref.items()
                if (lo < p[0] or (lo_inc and lo == p[0])) and (p[0] < hi or (hi_inc and p[0] == hi))
            ]
            if rev:
                want.reverse()
            _check_same_items(list(box.irange(lo, hi, (lo_inc, hi_inc), rev)), want)
        elif op < 0.99 and cls is CSBTree:
            existing = ref.get(k) if ref.find(k) else None
            got = box.setdefault(k, counter)
            if not ref.find(k):
                ref.insert(k, counter)
                assert got == counter
            else:
                assert got == existing
        else:
            _check_same_items(box.items(), ref.items())
            assert len(box) == box._store.len() == len(ref.keys)
        if step % 2000 == 0:
            _check_same_items(list(box), ref.items())
    _check_same_items(box.items(), ref.items())
    assert len(box) == box._store.len() == len(ref.keys)
    assert len(box._hosts) == sum(1 for x in ref.keys if isinstance(x, Decimal))
    box.clear()
    assert box._holding() == 0 and box._hosts == {} and box._hk_of == {}


# ---- conformance vectors -------------------------------------------------------------------------------


def _from_json(x):
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, dict):
        if "f64" in x:
            return struct.unpack(">d", bytes.fromhex(x["f64"]))[0]
        if "hex" in x:
            return bytes.fromhex(x["hex"])
        if "tuple" in x:
            return tuple(_from_json(e) for e in x["tuple"])
    raise ValueError(f"unknown key in the conformance file: {x!r}")


def test_conformance_vectors():
    if not (CONFORMANCE / "ordered.json").exists():
        pytest.skip("tests/conformance/ordered.json is not written yet")
    data = load_conformance("ordered.json")
    assert data["version"] == 1 and data["cases"]
    for case in data["cases"]:
        keys = [_from_json(x) for x in case["keys"]]
        assert len(keys) == len(case["encodings"]), case["name"]
        for key, hex_enc in zip(keys, case["encodings"]):
            assert keycodec.encode(key).hex() == hex_enc, (case["name"], key)
            assert same(keycodec.decode(bytes.fromhex(hex_enc), {}), key), (case["name"], key)
        for box in (CSBTree(3), SkipList()):
            for i in case["insert_order"]:
                assert box.insert(keys[i], i) is None, (case["name"], keys[i])
            got = box.items()
            assert len(got) == len(keys), case["name"]
            for (gk, gv), (j, want) in zip(got, enumerate(keys)):
                assert same(gk, want) and gv == j, (case["name"], gk, want)
            assert same(box.first()[0], keys[0]) and same(box.last()[0], keys[-1])
            for j in sorted({0, len(keys) // 2, len(keys) - 1}):
                k = keys[j]
                assert same(box.floor(k)[0], k) and same(box.ceiling(k)[0], k)
                lower, higher = box.lower(k), box.higher(k)
                assert (lower is None) == (j == 0) and (higher is None) == (j == len(keys) - 1)
                if lower is not None:
                    assert same(lower[0], keys[j - 1])
                if higher is not None:
                    assert same(higher[0], keys[j + 1])


@pytest.mark.parametrize("cls", [CSBTree, SkipList])
def test_single_key_builtins_agree_with_the_udl_and_refuse_bad_arguments(cls):
    """The single-key builtins (docs/FORMAT.md §9.4) give the held objects for int, str and
    bytes keys, agree with the UDL's handles, and report "failed" (the general call then) for
    arguments they cannot take, changing nothing."""
    from kohakuvault import ordered
    from kohakuvault._ffi import FAILED, MISSING

    if ordered._get_int is ordered._failed:
        pytest.skip("the core cannot build Python objects here")
    t, ts, tb = cls(), cls(), cls()
    t[5] = "five"
    ts["s"] = "str"
    tb[b"b"] = "bytes"
    fh = t._fh
    assert ordered._get_int(fh, 5) == "five" and ordered._get_int(fh, 6) is MISSING
    h5 = t._store.get(keycodec.encode(5))
    assert ordered._value(fh, h5) == "five"
    assert ordered._has_int(fh, 5) is True and ordered._has_int(fh, 6) is False
    assert ordered._get(ts._fh, 1, "s") == "str" and ordered._get(tb._fh, 2, b"b") == "bytes"
    assert ordered._has(tb._fh, 2, b"zz") is False
    assert ordered._get(ts._fh, 0, keycodec.encode("s")) == "str"
    for bad in [
        (ordered._get_int, (fh, "5")),
        (ordered._get_int, (fh,)),
        (ordered._get_int, (-1, 5)),
        (ordered._get_int, (fh + 10_000, 5)),
        (ordered._get_int, (fh, 2**64)),
        (ordered._get, (ts._fh, 1, b"s")),  # kind 1 takes a str
        (ordered._get, (tb._fh, 2, "b")),  # kind 2 takes bytes
        (ordered._get, (ts._fh, 1, "\ud800")),  # lone surrogate: a host key, the UDL's
        (ordered._get, (fh, 9, b"s")),
        (ordered._ins_int, (fh, 7)),
        (ordered._ins_int, (fh, "7", "x", True)),
        (ordered._ins, (fh, 2, "x", "h", True)),  # kind 2 takes bytes
        (ordered._ins, (fh, 0, keycodec.encode(7), "h", True)),  # no key object: general path
        (ordered._rm_int, (fh, 2.5)),
        (ordered._value, (fh, "h")),
        (ordered._values, (fh, b"1234567", None)),  # not whole handles
        (ordered._take_all, (fh, "x")),
    ]:
        assert bad[0](*bad[1]) is FAILED, bad
    assert ordered._value(fh, h5 + (1 << 32)) is MISSING  # another generation names nothing
    assert ordered._value(fh, 0) is MISSING
    assert len(t) == 1 and t[5] == "five" and t.get(7) is None


@pytest.mark.parametrize("cls", KINDS)
def test_batch_builtins_take_plain_keys_and_leave_the_rest_to_the_general_path(cls):
    """The batch builtins (docs/FORMAT.md §9.4) run insert_many / get_many / remove_many of
    plain keys (exactly int, str, bytes) in one call; any other argument is "failed" with
    nothing changed, and a key that stops the batch leaves the results of the items before."""
    from kohakuvault import ordered

    if ordered._get_int is ordered._failed:
        pytest.skip("the core cannot build Python objects here")
    t = cls()
    fh = t._fh
    replace = cls is CSBTree
    assert ordered._ins_many(fh, [3, 1, 2], ["c", "a", "b"], replace) == [None] * 3
    assert ordered._ins_many(fh, [(1, "A"), (4, "d")], None, replace) == ["a", None]
    assert t.items() == [(1, "A" if replace else "a"), (2, "b"), (3, "c"), (4, "d")]
    d = object()
    assert ordered._get_many(fh, [4, 5, 1], d) == ["d", d, t[1]]
    # Stopped by "x" (not comparable with ints): the items before it are applied.
    assert ordered._ins_many(fh, [5, "x", 6], [5, 0, 6], replace) == [None]
    assert 5 in t and 6 not in t and t._holding() == 5
    assert ordered._rm_many(fh, [5, "x", 4]) == [5]
    assert 5 not in t and 4 in t
    before = t.items()
    for bad in [
        (ordered._ins_many, (fh, [7, 8.5], [1, 2], replace)),  # a float key
        (ordered._ins_many, (fh, [7, 8], [1], replace)),  # lengths differ
        (ordered._ins_many, (fh, [(7, 1), (8, 2, 3)], None, replace)),  # not a pair
        (ordered._ins_many, (fh, (7, 8), [1, 2], replace)),  # not a list
        (ordered._get_many, (fh, [1, True], None)),  # bool is not exactly an int
        (ordered._get_many, (fh, [2**64], None)),
        (ordered._rm_many, (fh, ["\ud800"])),
    ]:
        assert bad[0](*bad[1]) is FAILED, bad
    assert t.items() == before and t._holding() == len(t)
    # Through the facade the same calls fall back and agree.
    assert t.insert_many([(7, 1), (8, 2, 3)]) == [None, None] and t[8] == 2
    with pytest.raises(TypeError):
        t.insert_many([(9, 1), 10])
    assert 9 in t
    assert t.get_many([1, True, 2.0]) == [t[1], t[1], "b"]
    # Once a host key was stored, removals leave the host-key bookkeeping to the facade.
    t[Decimal("2.5")] = "dec"
    assert ordered._rm_many(fh, [2]) is FAILED
    assert t.remove_many([Decimal("2.5"), 2]) == ["dec", "b"] and not t._hosts
    assert t._holding() == len(t)


@pytest.mark.parametrize("cls", KINDS)
def test_a_present_entry_keeps_its_first_key_object_on_every_path(cls):
    """An int key through the fast path meeting an equal float or bool key stored first
    (and the reverse) keeps the first key object; a CSBTree takes the new value in place."""
    for first, second in ((1.0, 1), (1, 1.0), (True, 1), ("s", "s"), (b"b", b"b")):
        box = make(cls)
        box[first] = "a"
        box[second] = "b"
        [(k, v)] = box.items()
        assert same(k, first) and type(k) is type(first)
        assert v == ("b" if cls is CSBTree else "a")
        assert box[second] == v and box.get(first) == v and box._holding() == 1
        assert box.remove(second) == v
        assert box._holding() == 0 and len(box) == 0


@pytest.mark.parametrize("cls", KINDS)
def test_core_methods_fall_back_to_the_python_methods(cls):
    """The core's method descriptors (get, [], in, insert, [] =, remove, del) give what the
    facade's Python methods give for every kind of call: keywords, keys they do not take
    (int subclasses, big ints, str subclasses, floats, host keys), absent keys (KeyError with
    the same message) and wrong argument counts (TypeError)."""
    from kohakuvault import ordered

    box = make(cls)
    base = ordered._Ordered
    for key in (3, 2**70, 1.5, True, Version(1, 0)):
        other = make(cls)
        assert other.insert(key, "a") is None and base.get(other, key) == "a"
    box.insert(key=5, value="five")
    assert box.get(key=5) == "five" and box.get(6, default="d") == "d" and box.get(6) is None
    big = 2**70
    box[big] = "big"
    assert box[big] == "big" and big in box and box.get(big) == "big"
    assert box.remove(big) == "big" and big not in box
    with pytest.raises(KeyError) as e:
        box[6]
    assert str(e.value) == repr(box._MISSING)
    with pytest.raises(KeyError) as e:
        del box[6]
    assert str(e.value) == repr(box._MISSING)
    del e  # its traceback holds the fallback's frame, and so the container
    with pytest.raises(TypeError):
        box.get()
    with pytest.raises(TypeError):
        box.insert(1)
    with pytest.raises(TypeError):
        box["str key in an int container"] = 1
    assert box.items() == [(5, "five")] and box._holding() == 1
    fresh = make(cls)
    v, w = _weak_value(9)
    fresh[7] = v
    assert fresh[7] is v and fresh.get(7) is v and 7 in fresh
    del v
    del fresh  # released at once (the methods make no cycle), not at the next collection
    assert w() is None
