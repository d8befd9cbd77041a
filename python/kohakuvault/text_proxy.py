"""Full-text vault (module name kept from kohakuvault 1.1.0; not implemented yet)."""

from ._unimplemented import TextVault

__all__ = ["TextVault"]
