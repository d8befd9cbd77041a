"""Classes of the kohakuvault 1.1.0 API that this version does not implement yet.

They are importable (so existing imports keep working) but constructing one raises
``NotImplementedError``: never a fake result.
"""

from __future__ import annotations

from collections.abc import MutableSequence

__all__ = [
    "ColumnVault",
    "Column",
    "VarSizeColumn",
    "VectorKVault",
    "TextVault",
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


class ColumnVault(_NotImplementedYet):
    """Columnar storage (not implemented yet)."""


class Column(_NotImplementedYet, MutableSequence):
    """A fixed-width column (not implemented yet)."""

    def __new__(cls, *args, **kwargs):
        _refuse(cls)

    def __getitem__(self, index):  # pragma: no cover - unreachable
        raise NotImplementedError

    def __setitem__(self, index, value):  # pragma: no cover - unreachable
        raise NotImplementedError

    def __delitem__(self, index):  # pragma: no cover - unreachable
        raise NotImplementedError

    def __len__(self):  # pragma: no cover - unreachable
        raise NotImplementedError

    def insert(self, index, value):  # pragma: no cover - unreachable
        raise NotImplementedError


class VarSizeColumn(Column):
    """A variable-width column (not implemented yet)."""


class VectorKVault(_NotImplementedYet):
    """Vector search storage (not implemented yet)."""


class TextVault(_NotImplementedYet):
    """Full-text search storage (not implemented yet)."""


class CSBTree(_NotImplementedYet):
    """An in-memory ordered map (not implemented yet)."""


class SkipList(_NotImplementedYet):
    """An in-memory ordered map (not implemented yet)."""


class PyCSBTreeIterator(_NotImplementedYet):
    """Iterator of CSBTree (not implemented yet)."""


class PySkipListIterator(_NotImplementedYet):
    """Iterator of SkipList (not implemented yet)."""
