"""Exception classes of kohakuvault (the same names and hierarchy as kohakuvault 1.1.0).

Errors from the Rust core arrive as typed ``VaultError`` variants and are mapped by variant
(see :func:`map_exception`); messages keep the words callers match on ("locked", "closed",
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
    "map_exception",
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


def map_exception(exc: BaseException, *, key: bytes | str | None = None) -> KohakuVaultError:
    """Turn any exception into the matching :class:`KohakuVaultError` (by type, never by message)."""
    # Imported lazily: errors.py must stay importable without the native library.
    from ._ffi import map_native_error

    return map_native_error(exc, key=key)
