"""``kohakuvault._kvault``: 1.1.0's native module name, kept as an alias of the public classes
(docs/COMPATIBILITY.md §6) so that imports such as ``from kohakuvault._kvault import DataPacker`` work.
"""

from .column_proxy import ColumnVault as _ColumnVault
from .ordered import CSBTree, PyCSBTreeIterator, PySkipListIterator, SkipList
from .packer import DataPacker
from .proxy import KVault as _KVault
from .text_proxy import TextVault as _TextVault
from .vector_proxy import VectorKVault as _VectorKVault

__all__ = [
    "_KVault",
    "_ColumnVault",
    "_TextVault",
    "_VectorKVault",
    "DataPacker",
    "CSBTree",
    "SkipList",
    "PyCSBTreeIterator",
    "PySkipListIterator",
]
