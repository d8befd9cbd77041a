"""Vector vault (module name kept from kohakuvault 1.1.0; not implemented yet)."""

from ._unimplemented import VectorKVault

__all__ = ["VectorKVault"]
