"""KohakuVault: an embedded datastore in one SQLite file, with a Rust core.

The Python API is a drop-in replacement for kohakuvault 1.1.0 (see docs/FORMAT.md and the
project's DECISIONS for the deliberate differences).
"""

from importlib import metadata as _metadata

from . import _kvault  # noqa: F401  (1.1.0's native module name)
from ._unimplemented import CSBTree, SkipList
from .column_proxy import Column, ColumnVault, VarSizeColumn
from .errors import DatabaseBusy, InvalidArgument, IoError, KohakuVaultError, NotFound
from .packer import DataPacker
from .proxy import KVault
from .text_proxy import TextVault
from .vector_proxy import VectorKVault
from .wrappers import Cbor, Json, MsgPack, Pickle

try:
    __version__ = _metadata.version("kohakuvault")
except _metadata.PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

# DataPacker is provided by the Rust core. CSBTree and SkipList are importable but not
# implemented yet (constructing one raises NotImplementedError), hence False.
_DATAPACKER_AVAILABLE = True
_CSBTREE_AVAILABLE = False

__all__ = [
    "KVault",
    "VectorKVault",
    "TextVault",
    "ColumnVault",
    "Column",
    "VarSizeColumn",
    "DataPacker",
    "CSBTree",
    "SkipList",
    "MsgPack",
    "Json",
    "Cbor",
    "Pickle",
    "KohakuVaultError",
    "NotFound",
    "DatabaseBusy",
    "InvalidArgument",
    "IoError",
    "_CSBTREE_AVAILABLE",
    "_DATAPACKER_AVAILABLE",
    "__version__",
]
