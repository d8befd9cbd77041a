"""VectorKVault: exact k-NN search over vectors with arbitrary values (the kohakuvault 1.1.0 API
over the Rust ``VectorStore``, a sqlite-vec ``vec0`` table; docs/FORMAT.md §7).

The core stores, validates (length, finite values), normalises (cosine) and searches; this facade
turns Python vectors into stored rows (``_vector_rows``), values into (kind, payload) pairs with
KVault's codec (``_codec``, without KVault's bytes-like step, as 1.1.0's VectorKVault), and makes
one FFI call per operation or batch. Differences from 1.1.0 (docs/COMPATIBILITY.md): int8 and bit
vectors and the l1 / l2 / hamming metrics work; dimensions, metric and type are persisted and
checked on reopen; every write is one transaction; metadata is stored and can filter searches;
``close()`` releases the file.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any, Optional

from . import _vector_rows as R
from ._errmap import map_native_error
from ._ffi import FAST, N
from ._kv_buffers import RAW as _RAW
from ._kv_buffers import decode_value, value_columns
from ._search_vault import SearchVault, check_dimensions, check_id, check_k, open_store, path_str
from .errors import InvalidArgument, KohakuVaultError

__all__ = ["VectorKVault"]

VectorInput = Any  # a numpy array, list or tuple of numbers, or the stored row as bytes

CLOSED_MESSAGE = "VectorKVault is closed"
EMPTY_MESSAGE = "No vectors found in database"


# get_by_id without a uniffi call (docs/FORMAT.md §7.4): (handle, id, decoded, out, out_len) -> 0/-1.
_U32 = struct.Struct("<I")
_KIND_LEN = struct.Struct("<BI")

_FAST_GET = FAST.bind(
    "vec_fast_get",
    (ctypes.c_uint64, ctypes.c_int64, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p),
    ctypes.c_int32,
)

# insert without a uniffi call (docs/FORMAT.md §7.4): the new id, or -1 (then the UDL call).
_FAST_INSERT = FAST.bind(
    "vec_fast_insert",
    (
        ctypes.c_uint64,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint32,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_int64,
    ),
    ctypes.c_int64,
)


class VectorKVault(SearchVault):
    """Vector similarity search with arbitrary values, in one SQLite file.

    ``VectorKVault(path, table="vec_kvault", dimensions=768, metric="cosine",
    vector_type="f32", *, read_only=False, allow_pickle=True)``

    * metric: ``cosine``, ``l2`` / ``euclidean``, ``l1`` / ``manhattan`` or ``hamming``;
      vector_type: ``f32`` / ``float32``, ``int8`` / ``i8`` or ``bit``. cosine needs f32, l1/l2
      f32 or int8, hamming bit (dims a multiple of 8).
    * A vector is a numpy array, list or tuple of ``dimensions`` numbers (int8: integers in
      [-128, 127]; bit: 0/1 or bools, or an already packed uint8 array of dims/8), or its stored
      row as ``bytes`` (f32: dims × 4 bytes LE; int8: dims bytes; bit: dims/8 bytes, MSB first).
    * Values are auto-packed as in 1.1.0's VectorKVault (``bytes`` stay raw; a bytearray is
      pickled); ``metadata`` is a dict with str keys (stored as MessagePack) that searches can
      filter on (``metadata_equals``).
    * ``allow_pickle=False`` makes reading a pickled value raise :class:`InvalidArgument`
      instead of running ``pickle.loads``.
    """

    _closed_message = CLOSED_MESSAGE

    def __init__(
        self,
        path,
        table: str = "vec_kvault",
        dimensions: int = 768,
        metric: str = "cosine",
        vector_type: str = "f32",
        *,
        read_only: bool = False,
        allow_pickle: bool = True,
    ):
        self._store = None  # until the core is open
        path_s = path_str(path)
        dims = check_dimensions(dimensions)
        for name, value in (("table", table), ("metric", metric), ("vector_type", vector_type)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {type(value)}")
        options = N.OpenOptions(read_only=bool(read_only))
        store = open_store(N.VectorStore, path_s, table, dims, metric, vector_type, options)
        self._codec = R.RowCodec(store.dimensions(), store.vector_type())
        self._init_values(allow_pickle)
        # 1.1.0's plain attributes, as the caller gave them.
        self.path = path
        self.table = table
        self.dimensions = dimensions
        self.metric = metric
        self.vector_type = vector_type
        self._fh = store.fast_handle() if _FAST_GET is not None else 0
        self._store = store

    # ------------------------------------------------------------------ internals

    def _prepare_vector(self, vector: VectorInput) -> bytes:
        """The stored row of ``vector`` (raises ValueError / TypeError, as 1.1.0's)."""
        return self._codec.one(vector)

    def _row(self, vector) -> bytes:
        try:
            return self._codec.one(vector)
        except (TypeError, ValueError) as exc:
            raise map_native_error(exc) from exc

    def _rows(self, vectors) -> tuple[bytes, int]:
        try:
            return self._codec.many(vectors)
        except (TypeError, ValueError) as exc:
            raise map_native_error(exc) from exc

    def _metadata(self, metadata, what: str = "metadata") -> Optional[bytes]:
        if metadata is None:
            return None
        try:
            return R.pack_metadata(metadata, what)
        except Exception as exc:
            raise map_native_error(exc) from exc

    def _filter(self, ids, metadata_equals):
        if ids is None and metadata_equals is None:
            return None
        try:
            id_list = None if ids is None else R.id_list(ids)
        except (TypeError, ValueError) as exc:
            raise map_native_error(exc) from exc
        meta = self._metadata(metadata_equals, "metadata_equals")
        return N.VectorFilter(ids=id_list, metadata_equals=meta)

    def _search(self, rows: bytes, k, metric, ids, metadata_equals):
        store = self._vault
        k = check_k(k)
        if metric is not None and not isinstance(metric, str):
            raise InvalidArgument(f"metric must be a str or None, got {type(metric)}")
        flt = self._filter(ids, metadata_equals)
        hits = self._call(store.search, rows, k, metric, flt, self._auto_pack, decoding=True)
        return R.split_hits(hits, self._allow_pickle)

    # ------------------------------------------------------------------ writes

    def insert(self, vector: VectorInput, value: Any, metadata: Optional[dict] = None) -> int:
        """Store ``vector`` with ``value`` (and optional ``metadata``) in one transaction;
        returns its id."""
        store = self._vault
        row = self._row(vector)
        kind, payload = self._pack(value)
        meta = self._metadata(metadata)
        fh = self._fh
        if fh and _FAST_INSERT is not None and type(row) is bytes and type(payload) is bytes:
            new_id = _FAST_INSERT(
                fh,
                row,
                len(row),
                kind,
                payload,
                len(payload),
                meta,
                -1 if meta is None else len(meta),
            )
            if new_id > 0:
                return new_id
        return self._call(store.insert, row, kind, payload, meta)

    def insert_many(self, vectors, values, metadata=None) -> list[int]:
        """Store n vectors with their values (and metadata: None, or n dicts / None) in one
        transaction; returns their ids in order. ``vectors``: an (n, dims) ndarray, a list of
        vectors, or bytes of n stored rows."""
        store = self._vault
        rows, n = self._rows(vectors)
        if not isinstance(values, (list, tuple)):
            try:
                values = list(values)
            except TypeError:
                raise InvalidArgument(
                    f"values must be a sequence of one value per vector, got {type(values)}"
                ) from None
        if len(values) != n:
            raise InvalidArgument(f"Expected {n} values (one per vector), got {len(values)}")
        kinds, value_lens, payloads = value_columns(values, self._auto_pack, self._pack)
        try:
            meta_lens, metas = R.metadata_column(metadata, n)
        except Exception as exc:
            raise map_native_error(exc) from exc
        if n == 0:
            return []
        packed = self._call(store.insert_many, rows, kinds, value_lens, payloads, meta_lens, metas)
        return R.ids_of(packed)

    def update(
        self,
        id: int,
        vector: Optional[VectorInput] = None,
        value: Optional[Any] = None,
        metadata: Optional[dict] = None,
    ) -> None:
        """Replace any of the vector, the value and the metadata of ``id`` (one transaction)."""
        store = self._vault
        i = check_id(id)
        if vector is None and value is None and metadata is None:
            raise InvalidArgument("Must provide either vector or value to update")
        row = None if vector is None else self._row(vector)
        tv = None
        if value is not None:
            kind, payload = self._pack(value)
            tv = N.TaggedValue(kind=kind, payload=payload)
        meta = self._metadata(metadata)
        self._call(store.update, i, row, tv, meta)

    def delete(self, id: int) -> bool:
        """Delete ``id``; True if it existed (1.1.0 returned None; a missing id is no error)."""
        store = self._vault
        return self._call(store.delete, check_id(id))

    def compact(self) -> int:
        """Rewrite the table without the slots of deleted vectors; returns the slots reclaimed."""
        return self._call(self._vault.compact)

    # ------------------------------------------------------------------ reads

    def search(
        self,
        query_vector: VectorInput,
        k: int = 10,
        metric: Optional[str] = None,
        *,
        ids=None,
        metadata_equals: Optional[dict] = None,
    ) -> list[tuple[int, float, Any]]:
        """The ``k`` nearest vectors as ``(id, distance, value)``, nearest first (ties by id).

        ``metric`` (1.1.0's argument) must be the vault's. ``ids`` (an iterable of ids) and
        ``metadata_equals`` (a dict of scalar values the metadata must hold) restrict the search;
        a filtered search still returns k hits whenever at least k rows match.
        """
        self._check()
        row = self._row(query_vector)
        return self._search(row, k, metric, ids, metadata_equals)[0]

    def search_many(
        self,
        query_vectors,
        k: int = 10,
        metric: Optional[str] = None,
        *,
        ids=None,
        metadata_equals: Optional[dict] = None,
    ) -> list[list[tuple[int, float, Any]]]:
        """``search`` for m queries in one call: one list of hits per query. ``query_vectors``:
        an (m, dims) ndarray, a list of vectors, or bytes of m stored rows."""
        self._check()
        rows, m = self._rows(query_vectors)
        if m == 0:
            check_k(k)
            return []
        return self._search(rows, k, metric, ids, metadata_equals)

    def get(self, query_vector: VectorInput, metric: Optional[str] = None) -> Any:
        """The value of the nearest vector (``KohakuVaultError`` when the vault is empty)."""
        hits = self.search(query_vector, 1, metric)
        if not hits:
            raise KohakuVaultError(EMPTY_MESSAGE)
        return hits[0][2]

    def get_by_id(self, id: int) -> tuple[Any, Any]:
        """(vector, value) of ``id``. The vector is the stored row as an ndarray: float32
        (normalised for cosine), int8, or the packed uint8 bytes of a bit vector."""
        store = self._vault
        i = check_id(id)
        page = (
            FAST.raw_page_call(_FAST_GET, self._fh, i, int(self._auto_pack)) if self._fh else None
        )
        if page is not None:  # [u32 len][row][kind u8][u32 len][payload][metadata...]
            (n,) = _U32.unpack_from(page, 0)
            at = 4 + n
            kind, size = _KIND_LEN.unpack_from(page, at)
            payload = page[at + 5 : at + 5 + size]
            row = self._codec.array(page[4:at])
            if kind == _RAW:
                return row, payload
            return row, decode_value(kind, payload, self._allow_pickle)
        # No fast path, or an error: the UDL call raises the typed error.
        rec = self._call(store.get_by_id, i, self._auto_pack, by_id=True, decoding=True)
        return self._codec.array(rec.vector), self._value(rec.value)

    def get_metadata(self, id: int) -> Optional[dict]:
        """The metadata dict of ``id``, or None when it has none."""
        store = self._vault
        rec = self._call(store.get_by_id, check_id(id), False, by_id=True)
        try:
            return R.unpack_metadata(rec.metadata)
        except Exception as exc:
            raise InvalidArgument(f"cannot decode stored metadata: {exc}") from exc

    def ids(self) -> list[int]:
        """Every id, ascending."""
        return R.ids_of(self._call(self._vault.ids))

    def info(self) -> dict:
        """``{"table", "dimensions", "metric", "vector_type", "count"}`` as 1.1.0 (metric as
        "cosine" / "L2" / "L1" / "hamming", vector_type as "float32" / "int8" / "bit"), plus
        ``row_bytes`` and ``deleted_slots`` (what ``compact()`` would reclaim)."""
        i = self._call(self._vault.info)
        return {
            "table": i.table,
            "dimensions": i.dimensions,
            "metric": i.metric,
            "vector_type": i.vector_type,
            "count": i.count,
            "row_bytes": i.row_bytes,
            "deleted_slots": i.deleted_slots,
        }

    # ------------------------------------------------------------------ dict-like protocol

    def __setitem__(self, vector: VectorInput, value: Any) -> None:
        """``vkv[vector] = value`` inserts (duplicates are allowed; the id is not returned)."""
        self.insert(vector, value)

    def __getitem__(self, query_vector: VectorInput) -> Any:
        """The value of the nearest vector; ``KeyError`` when the vault is empty."""
        hits = self.search(query_vector, 1)
        if not hits:
            raise KeyError(EMPTY_MESSAGE)
        return hits[0][2]

    def _repr_head(self) -> str:
        return (
            f"VectorKVault(path={self.path!r}, table={self.table!r}, "
            f"dimensions={self.dimensions}, metric={self.metric!r}, "
            f"vector_type={self.vector_type!r}"
        )
