"""KohakuVault: an embedded datastore in one SQLite file, with a Rust core.

The Python API is a drop-in replacement for kohakuvault 1.1.0 (docs/COMPATIBILITY.md lists the
deliberate differences; docs/FORMAT.md the stored formats).
"""

from importlib import metadata as _metadata

# _errmap (imported first) also provides kohakuvault.errors.map_exception (1.1.0 API);
# _kvault is 1.1.0's native module name.
from . import _errmap, _kvault  # noqa: F401
from ._ffi import N as _N
from .column_proxy import Column, ColumnVault, VarSizeColumn
from .errors import DatabaseBusy, InvalidArgument, IoError, KohakuVaultError, NotFound
from .ordered import CSBTree, SkipList
from .packer import DataPacker
from .proxy import KVault
from .text_proxy import TextVault
from .vector_proxy import VectorKVault
from .wrappers import Cbor, Json, MsgPack, Pickle

# One version number: the package's (pyproject takes it from Cargo.toml) is the core's.
try:
    __version__ = _metadata.version("kohakuvault")
except _metadata.PackageNotFoundError:  # not installed as a distribution
    __version__ = _N.core_version()

# DataPacker, CSBTree and SkipList are provided by the Rust core.
_DATAPACKER_AVAILABLE = True
_CSBTREE_AVAILABLE = True

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
