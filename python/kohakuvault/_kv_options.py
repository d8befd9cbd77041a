"""KVault constructor arguments: validated (as 1.1.0 validated them) and turned into the core's
``OpenOptions``."""

from __future__ import annotations

import math
import os

from ._ffi import N
from ._kv_buffers import U32_MAX
from .errors import InvalidArgument

__all__ = ["open_options", "check_chunk_size"]


def check_chunk_size(chunk_size) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise InvalidArgument("chunk_size must be an integer")
    if chunk_size <= 0:
        raise InvalidArgument("chunk_size must be positive")


def open_options(
    path,
    *,
    chunk_size,
    retries,
    backoff_base,
    table,
    enable_wal,
    page_size,
    mmap_size,
    cache_kb,
    read_only,
    reader_cache_kb,
    reader_idle_limit,
) -> tuple[str, N.OpenOptions]:
    """``(path as str, OpenOptions)``; :class:`InvalidArgument` for any unacceptable argument."""
    try:
        path_str = os.fspath(path)
    except TypeError as exc:
        raise InvalidArgument(f"Invalid path: {path!r}") from exc
    if isinstance(path_str, bytes):
        path_str = os.fsdecode(path_str)
    if not isinstance(path_str, str):
        raise InvalidArgument(f"Invalid path: {path!r}")
    check_chunk_size(chunk_size)
    if (
        not isinstance(retries, int)
        or retries < 1
        or not isinstance(backoff_base, (int, float))
        or not math.isfinite(backoff_base)
        or backoff_base < 0
    ):
        raise InvalidArgument("retries must be positive and backoff_base finite/nonnegative")
    if not isinstance(table, str):
        raise InvalidArgument("table must be a str")
    for name, value, top in (
        ("page_size", page_size, U32_MAX),
        ("mmap_size", mmap_size, (1 << 64) - 1),
        ("cache_kb", cache_kb, U32_MAX),
        ("reader_idle_limit", reader_idle_limit, U32_MAX),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(f"{name} must be an integer")
        if value < 0:
            raise InvalidArgument(f"{name} must be nonnegative")
        if value > top:
            raise InvalidArgument(f"{name} is too large")
    if (
        isinstance(reader_cache_kb, bool)
        or not isinstance(reader_cache_kb, int)
        or reader_cache_kb <= 0
    ):
        raise InvalidArgument("reader_cache_kb must be positive")
    if reader_cache_kb > U32_MAX:
        raise InvalidArgument("reader_cache_kb is too large")
    options = N.OpenOptions(
        read_only=bool(read_only),
        enable_wal=bool(enable_wal),
        page_size=page_size,
        mmap_size=mmap_size,
        cache_kb=cache_kb,
        reader_cache_kb=reader_cache_kb,
        reader_idle_limit=reader_idle_limit,
        busy_timeout_ms=5000,
    )
    return path_str, options
