"""KVault's streamed values: ``put_file`` / ``get_to_file`` (raw stored bytes, bounded memory)
and the guard against reentrant calls from a stream's reader/writer callbacks."""

from __future__ import annotations

import ctypes
import io
import os
import stat
import threading
from contextlib import contextmanager
from typing import BinaryIO, Optional, Union

from ._errmap import VaultError, map_native_error
from ._ffi import FAILED, FAST
from ._kv_buffers import BLOB_MAX, to_bytes_key
from ._kv_options import check_chunk_size
from .errors import InvalidArgument, KohakuVaultError, NotFound

__all__ = ["StreamsMixin", "stream_copy", "in_callback", "REENTRANT"]

REENTRANT = "reentrant access from a stream callback is not supported"

_callbacks = threading.local()  # ids of vaults whose stream callback is running on this thread


def in_callback(vault) -> bool:
    """True while a stream callback of ``vault`` runs on this thread."""
    return id(vault) in getattr(_callbacks, "ids", ())


def stream_copy(reader: BinaryIO, writer: BinaryIO, chunk_size: int = 1 << 20) -> int:
    """Copy binary chunks, accounting only for bytes accepted by the sink."""
    total = 0
    while True:
        chunk = reader.read(chunk_size)
        if not chunk:
            return total
        total += _write_all(writer, chunk)


def _write_all(writer, view) -> int:
    """Write ``view`` (bytes or memoryview) fully; ``write`` must return an int in 1..len
    (short writes resend the rest)."""
    length = len(view)
    done = 0
    while done < length:
        part = view[done:] if done else view
        n = writer.write(part)
        if type(n) is not int or n <= 0 or n > length - done:
            raise InvalidArgument("writer.write() must return a positive byte count")
        done += n
    return length


def _remaining_size(reader) -> Optional[int]:
    """Bytes left in a file-like reader (fstat, then seek/tell), or None if unknown."""
    try:
        fileno = reader.fileno()
        st = os.fstat(fileno)
        if stat.S_ISREG(st.st_mode):
            try:
                pos = reader.tell()
            except (OSError, AttributeError, ValueError):
                pos = os.lseek(fileno, 0, os.SEEK_CUR)
            return max(st.st_size - pos, 0)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass
    try:
        if reader.seekable():
            pos = reader.tell()
            end = reader.seek(0, os.SEEK_END)
            reader.seek(pos, os.SEEK_SET)
            return max(end - pos, 0)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass
    return None


class StreamsMixin:
    """``put_file`` / ``get_to_file`` of KVault (uses its ``_check``, ``_drain``, ``_call``,
    ``put``, ``_store``, ``_chunk`` and ``_streams``)."""

    __slots__ = ()

    @contextmanager
    def _callback_scope(self):
        ids = getattr(_callbacks, "ids", None)
        if ids is None:
            ids = _callbacks.ids = set()
        mine = id(self)
        nested = mine in ids
        ids.add(mine)
        self._streams += 1
        try:
            yield
        finally:
            self._streams -= 1
            if not nested:
                ids.discard(mine)

    def _chunk_size(self, chunk_size) -> int:
        if chunk_size is None:
            return self._chunk
        check_chunk_size(chunk_size)
        if chunk_size > BLOB_MAX:
            raise InvalidArgument("chunk_size exceeds 2^31-1")
        return chunk_size

    def put_file(
        self,
        key,
        reader: Union[BinaryIO, bytes, bytearray, memoryview],
        *,
        size: Optional[int] = None,
        chunk_size: Optional[int] = None,
    ) -> None:
        """Stream ``size`` bytes from ``reader`` into ``key`` (stored raw; published atomically).

        ``reader`` is bytes-like (a plain put) or has ``read(n)`` returning ``bytes``. Without
        ``size`` the remaining length is taken from fstat or seek/tell; if neither works the
        stream is read into memory first.
        """
        self._check()
        k = to_bytes_key(key)
        if isinstance(reader, (bytes, bytearray, memoryview)):
            self.put(k, bytes(reader))
            return
        if not hasattr(reader, "read"):
            raise InvalidArgument("reader must be file-like or bytes-like")
        chunk = self._chunk_size(chunk_size)
        if size is None:
            size = _remaining_size(reader)
            if size is None:  # unknown length: buffer the stream, then a plain put
                parts = []
                with self._callback_scope():
                    while True:
                        data = reader.read(chunk)
                        if not isinstance(data, (bytes, bytearray)):
                            raise InvalidArgument("reader.read() must return bytes")
                        if not data:
                            break
                        parts.append(bytes(data))
                self.put(k, b"".join(parts))
                return
        if isinstance(size, bool) or not isinstance(size, int):
            raise InvalidArgument("size must be an integer")
        if size < 0:
            raise InvalidArgument("size must be nonnegative")
        if size > BLOB_MAX:
            raise InvalidArgument("stream size exceeds SQLite BLOB limit")
        self._drain()
        stream = self._call(self._store.put_stream, k, size)
        try:
            written = 0
            write = stream.write
            with self._callback_scope():
                while written < size:
                    want = min(chunk, size - written)
                    data = reader.read(want)
                    if type(data) is not bytes or len(data) > want:
                        raise InvalidArgument("reader.read() must return bytes")
                    if not data:
                        raise KohakuVaultError(f"short write: wrote {written} of {size} bytes")
                    write(data)
                    written += len(data)
            stream.finish()
        except BaseException as exc:
            try:
                stream.abort()
            except Exception:
                pass
            if isinstance(exc, Exception) and not isinstance(exc, KohakuVaultError):
                raise map_native_error(exc) from exc
            raise

    def get_to_file(self, key, writer: BinaryIO, *, chunk_size: Optional[int] = None) -> int:
        """Stream the raw stored bytes of ``key`` (header included) into ``writer``; returns the size."""
        self._check()
        k = to_bytes_key(key)
        if not hasattr(writer, "write"):
            raise InvalidArgument("writer must be a file-like object with write()")
        chunk = self._chunk_size(chunk_size)
        self._drain()
        try:
            stream = self._store.get_stream(k)
        except VaultError.NotFound as exc:
            raise NotFound(k) from exc
        except Exception as exc:
            raise map_native_error(exc, key=k) from exc
        try:
            total = stream.size()
            if total == 0:
                return 0
            cap = min(chunk, total)
            buf = bytearray(cap)
            view = memoryview(buf)
            # io objects copy what they are given, so they can take views of one reused buffer;
            # other writers get their own bytes (they may keep them).
            zero_copy = isinstance(writer, io.IOBase)
            handle = stream.fast_handle() if FAST.available else 0
            address = 0
            if handle:
                carrier = (ctypes.c_char * cap).from_buffer(buf)
                address = ctypes.addressof(carrier)
            # Other writers get a new bytes per chunk, which the core fills in place (one copy).
            fresh = None if zero_copy or not handle else FAST.stream_read_py
            done = 0
            with self._callback_scope():
                while True:
                    if fresh is not None:
                        part = fresh(handle, cap)
                        if part is FAILED:
                            fresh = handle = None  # the UDL read gives the typed error
                            continue
                        if not part:
                            break
                        _write_all(writer, part)
                        done += len(part)
                        continue
                    if handle:
                        n = FAST.stream_read(handle, address, cap)
                        if n < 0:
                            handle = 0
                            continue
                        part = view[:n]
                    else:
                        data = self._call(stream.read, cap)
                        n = len(data)
                        part = memoryview(data)
                    if n == 0:
                        break
                    _write_all(writer, part if zero_copy else part.tobytes())
                    done += n
            return done
        finally:
            try:
                stream.close()
            except Exception:
                pass
