"""Exception classes of kohakuvault (the same names and hierarchy as kohakuvault 1.1.0).

This module holds the classes only. Errors from the Rust core arrive as typed ``VaultError``
variants and are mapped by variant in ``kohakuvault._errmap``, which also provides
``map_exception`` here (1.1.0's ``kohakuvault.errors.map_exception``) when it is imported, as
``import kohakuvault`` does. Messages keep the words callers match on ("locked", "closed",
"read-only").
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "KohakuVaultError",
    "NotFound",
    "DatabaseBusy",
    "InvalidArgument",
    "IoError",
]


class KohakuVaultError(Exception):
    """Base class of every kohakuvault error."""


class NotFound(KohakuVaultError):
    """A key (or item) does not exist. ``.key`` holds the key that was asked for."""

    def __init__(self, key: bytes | str):
        super().__init__(f"Key not found: {key!r}")
        self.key = key


class DatabaseBusy(KohakuVaultError):
    """The database (or the write-back cache) is busy or locked."""

    def __init__(self, message: str = "database is busy/locked"):
        super().__init__(message)


class InvalidArgument(KohakuVaultError):
    """An argument or a stored value is not acceptable."""


class IoError(KohakuVaultError):
    """An I/O failure (including writes to a read-only vault)."""

    def __init__(self, message: str, cause: Optional[BaseException] = None):
        text = f"{message}: {cause}" if cause is not None else message
        super().__init__(text)
        if cause is not None:
            self.__cause__ = cause
