"""Typed core errors -> kohakuvault's exception classes (by variant, never by message).

``errors`` holds the classes only; importing this module also provides 1.1.0's
``kohakuvault.errors.map_exception`` (set on that module here, so neither imports the other
back). ``import kohakuvault`` imports this module first.
"""

from __future__ import annotations

import importlib

from . import _native as N
from . import errors
from .errors import DatabaseBusy, InvalidArgument, IoError, KohakuVaultError, NotFound

__all__ = ["VaultError", "CLOSED_MESSAGE", "closed_error", "map_native_error", "map_exception"]

VaultError = N.VaultError
_gen = importlib.import_module(N.KvStore.__module__)
_InternalError = getattr(_gen, "InternalError", None)

CLOSED_MESSAGE = "Cannot operate on closed KVault"


def closed_error() -> ValueError:
    """The error 1.1.0 raises for any operation on a closed KVault."""
    return ValueError(CLOSED_MESSAGE)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason is not None else str(exc)


def map_native_error(
    exc: BaseException, *, key: bytes | str | None = None, decoding: bool = False
) -> BaseException:
    """Map an exception raised by the generated bindings to kohakuvault's classes, by type.

    * ``NotFound`` -> :class:`NotFound` (callers that follow 1.1.0's ``KeyError`` handle it first)
    * ``Busy`` -> :class:`DatabaseBusy`; ``InvalidArgument`` / ``UnsupportedEncoding`` ->
      :class:`InvalidArgument`
    * ``ReadOnly`` -> :class:`IoError` whose message says "read-only" (1.1.0's PermissionError path)
    * ``Closed`` -> ``ValueError("Cannot operate on closed KVault")`` as 1.1.0
    * ``Io`` / ``DiskFull`` -> :class:`IoError`
    * ``Corrupt`` -> :class:`InvalidArgument` while decoding a stored value (1.1.0's bad-header
      error), else :class:`KohakuVaultError`
    * anything else from the core -> :class:`KohakuVaultError`; Python ``TypeError`` /
      ``ValueError`` (argument conversion) -> :class:`InvalidArgument`
    """
    if isinstance(exc, KohakuVaultError):
        return exc
    if isinstance(exc, VaultError):
        reason = _reason(exc)
        if isinstance(exc, VaultError.NotFound):
            return NotFound(key if key is not None else b"<unknown>")
        if isinstance(exc, VaultError.Busy):
            return DatabaseBusy(reason)
        if isinstance(exc, (VaultError.InvalidArgument, VaultError.UnsupportedEncoding)):
            return InvalidArgument(reason)
        if isinstance(exc, VaultError.ReadOnly):
            if "read-only" not in reason:
                reason = f"KVault is read-only: {reason}"
            return IoError("OS error during I/O", PermissionError(reason))
        if isinstance(exc, VaultError.Closed):
            return closed_error()
        if isinstance(exc, (VaultError.Io, VaultError.DiskFull)):
            return IoError(reason)
        if isinstance(exc, VaultError.Corrupt):
            return InvalidArgument(reason) if decoding else KohakuVaultError(reason)
        return KohakuVaultError(reason)
    if _InternalError is not None and isinstance(exc, _InternalError):
        return KohakuVaultError(str(exc))
    if isinstance(exc, (TypeError, ValueError, OverflowError)):
        return InvalidArgument(str(exc))
    if isinstance(exc, OSError):
        return IoError("OS error during I/O", exc)
    return KohakuVaultError(str(exc))


def map_exception(exc: BaseException, *, key: bytes | str | None = None) -> KohakuVaultError:
    """Turn any exception into the matching :class:`KohakuVaultError` (by type, never by message)."""
    return map_native_error(exc, key=key)


# 1.1.0's ``from kohakuvault.errors import map_exception``.
errors.map_exception = map_exception
if "map_exception" not in errors.__all__:
    errors.__all__.append("map_exception")
