"""Classes of the kohakuvault 1.1.0 API that this version does not implement yet.

They are importable (so existing imports keep working) but constructing one raises
``NotImplementedError``: never a fake result.
"""

from __future__ import annotations

__all__ = [
    "CSBTree",
    "SkipList",
    "PyCSBTreeIterator",
    "PySkipListIterator",
]


def _refuse(cls):
    raise NotImplementedError(
        f"kohakuvault.{cls.__name__} is not implemented in this version of kohakuvault yet"
    )


class _NotImplementedYet:
    def __new__(cls, *args, **kwargs):
        _refuse(cls)


class CSBTree(_NotImplementedYet):
    """An in-memory ordered map (not implemented yet)."""


class SkipList(_NotImplementedYet):
    """An in-memory ordered map (not implemented yet)."""


class PyCSBTreeIterator(_NotImplementedYet):
    """Iterator of CSBTree (not implemented yet)."""


class PySkipListIterator(_NotImplementedYet):
    """Iterator of SkipList (not implemented yet)."""
