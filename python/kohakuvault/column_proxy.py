"""Column storage (module name kept from kohakuvault 1.1.0; not implemented yet)."""

from ._unimplemented import Column, ColumnVault, VarSizeColumn

__all__ = ["ColumnVault", "Column", "VarSizeColumn"]
