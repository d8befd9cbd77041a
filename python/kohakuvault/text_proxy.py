"""TextVault: BM25 full-text search with arbitrary values, and hybrid text + vector search (the
kohakuvault 1.1.0 API over the Rust ``TextStore``, FTS5 tables; docs/FORMAT.md §8).

The core builds every query (phrases, column filters, bound snippet markers), ranks, fuses and
stores; this facade turns 1.1.0's text arguments (a str or a dict by column) into texts in column
order (``_text_buffers``), values into (kind, payload) pairs with VectorKVault's code path (1.1.0's
TextVault rules: only exact ``bytes`` stay raw), vectors into stored rows (``_vector_rows``), and
makes one FFI call per operation or batch. Differences from 1.1.0 (docs/COMPATIBILITY.md): every
write is one transaction; quotes in keys, queries and snippet markers are plain text; FTS5 syntax
errors are ``InvalidArgument``; k is at most 1,000,000; an update of a missing id raises
``NotFound``; ``delete`` returns whether the id existed; the tokenizer (unicode61, porter,
trigram) is chosen at creation and checked on reopen, as are the columns; a vault opened with
``dimensions`` keeps one vector per document for ``hybrid_search`` / ``search_by_vector``;
``close()`` releases the file.
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Iterable
from typing import Any, Optional, Union

from . import _text_buffers as T
from . import _vector_rows as R
from ._errmap import map_native_error
from ._ffi import FAST, N
from ._kv_buffers import U32_MAX, value_columns
from ._search_vault import (
    SearchVault,
    check_dimensions,
    check_id,
    check_k,
    index,
    open_store,
    path_str,
)
from .errors import InvalidArgument, KohakuVaultError

# insert without a uniffi call (docs/FORMAT.md §8.4): the new id, or -1 (then the UDL call).
_FAST_INSERT = FAST.bind(
    "text_fast_insert",
    (
        ctypes.c_uint64,
        ctypes.c_char_p,
        ctypes.c_size_t,
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

__all__ = ["TextVault"]

TextInput = Union[str, dict[str, str]]
VectorInput = Any  # a numpy array, list or tuple of numbers, or the stored row as bytes

CLOSED_MESSAGE = "TextVault is closed"
NO_VECTORS = "this TextVault has no vectors (open it with dimensions)"
PAIRS = "insert_many expects (texts, value) pairs"
GET_MULTI = (
    "get() with string key only works for single-column TextVault. "
    "Use get_by_id() or search() instead."
)
U64_MAX = (1 << 64) - 1


def _str(value, name: str) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    raise InvalidArgument(
        f"argument '{name}': '{type(value).__name__}' object cannot be converted to 'PyString'"
    )


def _flag(value, name: str) -> bool:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise InvalidArgument(
        f"argument '{name}': '{type(value).__name__}' object cannot be converted to 'PyBool'"
    )


def _u32(value, name: str) -> int:
    i = index(value, name)
    if not 0 <= i <= U32_MAX:
        raise InvalidArgument(f"{name} must be between 0 and {U32_MAX}, got {i}")
    return i


def _weight(value, name: str) -> float:
    if isinstance(value, (str, bytes)):
        raise InvalidArgument(f"{name} must be a number, got {type(value).__name__}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name} must be a number, got {type(value).__name__}") from None


class TextVault(SearchVault):
    """Full-text search (FTS5, BM25 ranking) with arbitrary values, in one SQLite file.

    ``TextVault(path, table="text_vault", columns=None, *, tokenizer="unicode61",
    remove_diacritics=None, dimensions=None, metric="cosine", vector_type="f32",
    read_only=False, allow_pickle=True)``

    * ``columns``: the indexed text columns (default ``["content"]``): letters, digits and
      ``_``; FTS5's ``rank`` / ``rowid`` and ``value_ref`` are refused. A document's texts are a
      str (single-column vaults) or a dict holding every column.
    * ``tokenizer``: ``unicode61`` (FTS5's default, 1.1.0's), ``porter`` (English stemming over
      unicode61) or ``trigram`` (substrings of 3+ characters: Chinese and Japanese without word
      breaking); ``remove_diacritics`` 0, 1 or 2 (None = the tokenizer's default). Both are
      stored in the table and checked on reopen, as are the columns.
    * ``dimensions`` (with ``metric`` / ``vector_type`` as VectorKVault's): one vector per
      document, for ``hybrid_search`` and ``search_by_vector``.
    * Values are auto-packed as in 1.1.0's TextVault (``bytes`` stay raw; a bytearray is
      pickled). ``allow_pickle=False`` makes reading a pickled value raise
      :class:`InvalidArgument` instead of running ``pickle.loads``.
    """

    # 1.1.0's TextVault and VectorKVault share their value rules (REFERENCE §1.5, §2.4): one
    # code path, SearchVault's ``_pack`` / ``_value``.
    _closed_message = CLOSED_MESSAGE

    def __init__(
        self,
        path,
        table: str = "text_vault",
        columns: Optional[list[str]] = None,
        *,
        tokenizer: str = "unicode61",
        remove_diacritics: Optional[int] = None,
        dimensions: Optional[int] = None,
        metric: str = "cosine",
        vector_type: str = "f32",
        read_only: bool = False,
        allow_pickle: bool = True,
    ):
        self._store = None  # until the core is open
        path_s = path_str(path)
        for name, value in (
            ("table", table),
            ("tokenizer", tokenizer),
            ("metric", metric),
            ("vector_type", vector_type),
        ):
            if not isinstance(value, str):
                raise TypeError(f"argument '{name}': expected str, got {type(value).__name__}")
        if columns is None:
            cols: list[str] = []
        elif isinstance(columns, (str, bytes)) or not isinstance(columns, Iterable):
            raise TypeError("argument 'columns': Can't extract `str` to `Vec`")
        else:
            cols = list(columns)
            for c in cols:
                if not isinstance(c, str):
                    raise TypeError(
                        f"argument 'columns': column names must be str, got {type(c).__name__}"
                    )
        rd = None
        if remove_diacritics is not None:
            rd = operator.index(remove_diacritics)
            if not 0 <= rd <= 2:
                raise ValueError(f"remove_diacritics must be 0, 1 or 2, got {rd}")
        dims = None
        if dimensions is not None:
            dims = check_dimensions(dimensions)
        text = N.TextOptions(
            tokenizer=tokenizer,
            remove_diacritics=rd,
            dimensions=dims,
            metric=metric,
            vector_type=vector_type,
        )
        options = N.OpenOptions(read_only=bool(read_only))
        store = open_store(N.TextStore, path_s, table, cols, text, options)
        try:
            self._texts = T.TextColumns(store.columns())
            found = store.dimensions()
            self._rows = None if found is None else R.RowCodec(found, store.info().vector_type)
            self._fh = store.fast_handle() if _FAST_INSERT is not None else 0
        except BaseException:
            store.close()
            raise
        self._init_values(allow_pickle)
        # 1.1.0's plain attributes, as the caller gave them.
        self.path = path
        self.table = table
        self._store = store

    # ------------------------------------------------------------------ internals

    def _vector(self, vector: VectorInput) -> bytes:
        if self._rows is None:
            raise InvalidArgument(NO_VECTORS)
        try:
            return self._rows.one(vector)
        except (TypeError, ValueError) as exc:
            raise map_native_error(exc) from exc

    def _vectors(self, vectors) -> tuple[bytes, int]:
        if self._rows is None:
            raise InvalidArgument(NO_VECTORS)
        try:
            return self._rows.many(vectors)
        except (TypeError, ValueError) as exc:
            raise map_native_error(exc) from exc

    def _hits(self, hits) -> list[tuple[int, float, Any]]:
        return list(zip(*T.unpack_hits(hits, self._allow_pickle)))

    def _search(self, query, k, column, escape, with_texts: bool):
        store = self._vault
        q = _str(query, "query")
        k = check_k(k)
        col = None if column is None else _str(column, "column")
        esc = _flag(escape, "escape")
        return self._call(store.search, q, k, col, esc, with_texts, self._auto_pack, decoding=True)

    # ------------------------------------------------------------------ writes

    @property
    def columns(self) -> list[str]:
        """The indexed text columns, in order."""
        self._check()
        return list(self._texts.columns)

    def insert(
        self,
        texts: TextInput,
        value: Any,
        metadata: Optional[dict[str, Any]] = None,
        *,
        vector: Optional[VectorInput] = None,
    ) -> int:
        """Store a document (its texts, its value and, on a vault with dimensions, its vector)
        in one transaction; returns its id. ``metadata`` is accepted and ignored, as in 1.1.0."""
        store = self._vault
        t = self._texts.of(texts)
        kind, payload = self._pack(value)
        row = None if vector is None else self._vector(vector)
        fh = self._fh
        if fh and type(payload) is bytes and (row is None or type(row) is bytes):
            try:
                lens, blob = T.text_column(t)
            except InvalidArgument:
                lens = None  # lone surrogates: the UDL call gives the error
            if lens is not None:
                new_id = _FAST_INSERT(
                    fh,
                    lens,
                    len(lens),
                    blob,
                    len(blob),
                    kind,
                    payload,
                    len(payload),
                    row,
                    -1 if row is None else len(row),
                )
                if new_id > 0:
                    return new_id
        return self._call(store.insert, t, kind, payload, row)

    def insert_many(self, items: Iterable, vectors=None) -> list[int]:
        """Store documents in one transaction; returns their ids in order (nothing is stored if
        any item fails). ``items``: any iterable of ``(texts, value)`` pairs or, on a vault with
        dimensions, ``(texts, value, vector)`` triples; or pairs with ``vectors``: an (n, dims)
        ndarray, a list of vectors or bytes of n stored rows."""
        store = self._vault
        try:
            it = iter(items)
        except TypeError as exc:
            raise InvalidArgument(str(exc)) from None
        of = self._texts.of
        texts: list[str] = []
        values: list = []
        inline: list = []
        for item in it:
            if not isinstance(item, tuple) or len(item) not in (2, 3):
                if self._rows is None:
                    raise InvalidArgument(PAIRS)
                raise InvalidArgument(PAIRS + " or (texts, value, vector) triples")
            texts.extend(of(item[0]))
            values.append(item[1])
            if len(item) == 3 and item[2] is not None:
                inline.append(item[2])
        n = len(values)
        if inline:
            if vectors is not None:
                raise InvalidArgument("insert_many: give the vectors in the items or as vectors=")
            if len(inline) != n:
                raise InvalidArgument(
                    f"insert_many: every item needs a vector, or none ({len(inline)} of {n})"
                )
            rows, m = self._vectors(inline)
        elif vectors is not None:
            rows, m = self._vectors(vectors)
            if m != n:
                raise InvalidArgument(f"Expected {n} vectors (one per item), got {m}")
        else:
            rows = b""
        lens, joined = T.text_column(texts)
        kinds, value_lens, payloads = value_columns(values, self._auto_pack, self._pack)
        if n == 0:
            return []
        packed = self._call(store.insert_many, lens, joined, kinds, value_lens, payloads, rows)
        return R.ids_of(packed)

    def update(
        self,
        id: int,
        texts: Optional[TextInput] = None,
        value: Optional[Any] = None,
        *,
        vector: Optional[VectorInput] = None,
    ) -> None:
        """Replace any of the texts, the value and the vector of ``id`` (one transaction).
        A missing id raises :class:`NotFound`."""
        store = self._vault
        i = check_id(id)
        if texts is None and value is None and vector is None:
            raise InvalidArgument("Must provide either texts or value to update")
        t = None if texts is None else self._texts.of(texts)
        tv = None
        if value is not None:
            kind, payload = self._pack(value)
            tv = N.TaggedValue(kind=kind, payload=payload)
        row = None if vector is None else self._vector(vector)
        self._call(store.update, i, t, tv, row)

    def delete(self, id: int) -> bool:
        """Delete ``id`` (texts, value and vector in one transaction); True if it existed
        (1.1.0 returned None; a missing id is no error)."""
        store = self._vault
        return self._call(store.delete, check_id(id))

    def clear(self) -> None:
        """Delete every document (one transaction)."""
        self._call(self._vault.clear)

    # ------------------------------------------------------------------ reads

    def search(
        self,
        query: str,
        k: int = 10,
        column: Optional[str] = None,
        escape: bool = True,
    ) -> list[tuple[int, float, Any]]:
        """The best ``k`` documents as ``(id, score, value)``, best first; score = -bm25
        (higher is better). ``escape=True`` searches the whole query as one phrase (its words
        adjacent, any quotes or operators plain text); ``escape=False`` takes FTS5 query syntax
        (``AND``, ``OR``, ``NOT``, ``prefix*``, ``NEAR``, ``col:``…). ``column`` restricts the
        search to one column. A blank query finds nothing."""
        return self._hits(self._search(query, k, column, escape, False))

    def search_with_text(
        self,
        query: str,
        k: int = 10,
        column: Optional[str] = None,
        escape: bool = True,
    ) -> list[tuple[int, float, TextInput, Any]]:
        """``search`` with each document's texts: ``(id, score, texts, value)``, texts a str
        (single column) or a dict by column."""
        hits = self._search(query, k, column, escape, True)
        found = self._hits(hits)
        c = len(self._texts.columns)
        texts = T.split_texts(hits.texts, len(found) * c)
        back = self._texts.back
        return [
            (i, score, back(texts[j * c : (j + 1) * c]), value)
            for j, (i, score, value) in enumerate(found)
        ]

    def search_with_snippets(
        self,
        query: str,
        k: int = 10,
        snippet_column: Optional[str] = None,
        snippet_tokens: int = 10,
        highlight_start: str = "**",
        highlight_end: str = "**",
        escape: bool = True,
    ) -> list[tuple[int, float, str, Any]]:
        """``search`` with a highlighted snippet of ``snippet_column`` (default the first):
        ``(id, score, snippet, value)``. ``snippet_tokens``: 1 to 64. The markers are plain
        text (quotes are fine)."""
        store = self._vault
        q = _str(query, "query")
        k = check_k(k)
        col = None if snippet_column is None else _str(snippet_column, "snippet_column")
        tokens = index(snippet_tokens, "snippet_tokens")
        if not 0 <= tokens <= U32_MAX:
            raise InvalidArgument(f"snippet_tokens must be between 1 and 64, got {tokens}")
        start = _str(highlight_start, "highlight_start")
        end = _str(highlight_end, "highlight_end")
        esc = _flag(escape, "escape")
        hits = self._call(
            store.snippets, q, k, col, tokens, start, end, esc, self._auto_pack, decoding=True
        )
        found = self._hits(hits)
        snippets = T.split_texts(hits.texts, len(found))
        return [(i, score, s, value) for (i, score, value), s in zip(found, snippets)]

    def count_matches(self, query: str) -> int:
        """The number of documents matching ``query``, in FTS5 query syntax (never escaped, as
        1.1.0; a syntax error is :class:`InvalidArgument`). A blank query matches nothing."""
        store = self._vault
        return self._call(store.count_matches, _str(query, "query"))

    def get(self, key: str) -> Any:
        """The value of the first document containing ``key`` as a phrase (single-column
        vaults; 1.1.0's semantics: a phrase match, not equality). None found ->
        :class:`KohakuVaultError` ("'Key not found: …'")."""
        store = self._vault
        if not self._texts.single:
            raise InvalidArgument(GET_MULTI)
        k = _str(key, "key")
        tv = self._call(store.get, k, self._auto_pack, key=k, decoding=True)
        return self._value(tv)

    def get_by_id(self, id: int) -> tuple[TextInput, Any]:
        """``(texts, value)`` of ``id``: texts a str (single column) or a dict by column.
        Missing -> :class:`KohakuVaultError` ("ID N not found")."""
        store = self._vault
        rec = self._call(store.get_by_id, check_id(id), self._auto_pack, by_id=True, decoding=True)
        return self._texts.back(rec.texts), self._value(rec.value)

    def get_vector(self, id: int):
        """The stored vector of ``id`` as an ndarray (float32 normalised for cosine, int8, or
        the packed uint8 bytes of a bit vector), or None when the document has none."""
        store = self._vault
        i = check_id(id)
        if self._rows is None:
            raise InvalidArgument(NO_VECTORS)
        rec = self._call(store.get_by_id, i, False, by_id=True)
        return None if rec.vector is None else self._rows.array(rec.vector)

    def keys(self, limit: Optional[int] = 10000, offset: int = 0) -> list[int]:
        """Document ids in order, ``limit`` of them (1.1.0's default 10000; None or a negative
        limit = all, as SQLite's LIMIT) after skipping ``offset``."""
        store = self._vault
        lim = None if limit is None else index(limit, "limit")
        if lim is not None and lim < 0:
            lim = None
        off = max(0, index(offset, "offset"))
        return R.ids_of(
            self._call(store.keys, None if lim is None else min(lim, U64_MAX), min(off, U64_MAX))
        )

    def info(self) -> dict:
        """``{"table", "columns", "count"}`` as 1.1.0, plus ``tokenizer`` and, for a vault with
        vectors, ``dimensions``, ``metric`` and ``vector_type`` (else None)."""
        i = self._call(self._vault.info)
        return {
            "table": i.table,
            "columns": list(i.columns),
            "count": i.count,
            "tokenizer": i.tokenizer,
            "dimensions": i.dimensions,
            "metric": i.metric,
            "vector_type": i.vector_type,
        }

    # ------------------------------------------------------------------ hybrid search

    def hybrid_search(
        self,
        query: Optional[str],
        vector: Optional[VectorInput],
        k: int = 10,
        *,
        text_weight: float = 1.0,
        vector_weight: float = 1.0,
        rrf_k: int = 60,
        candidates: Optional[int] = None,
    ) -> list[tuple[int, float, Any]]:
        """Text and vector search fused by weighted reciprocal rank fusion: ``(id, score,
        value)``, best first, score = text_weight / (rrf_k + text rank) + vector_weight /
        (rrf_k + vector rank) over the best ``candidates`` (default max(4k, 50)) of each side.
        The text side ranks by BM25 over the query's words (any of them); either side may be
        None (or weigh 0) for a pure text or vector search. Ties by id."""
        store = self._vault
        q = None if query is None else _str(query, "query")
        row = None if vector is None else self._vector(vector)
        request = N.HybridRequest(
            query=q,
            vector=row,
            k=check_k(k),
            text_weight=_weight(text_weight, "text_weight"),
            vector_weight=_weight(vector_weight, "vector_weight"),
            rrf_k=_u32(rrf_k, "rrf_k"),
            candidates=None if candidates is None else _u32(candidates, "candidates"),
            decoded=self._auto_pack,
        )
        return self._hits(self._call(store.hybrid_search, request, decoding=True))

    def search_by_vector(self, vector: VectorInput, k: int = 10) -> list[tuple[int, float, Any]]:
        """The ``k`` documents whose vectors are nearest to ``vector``: ``(id, distance,
        value)``, nearest first (ties by id)."""
        store = self._vault
        row = self._vector(vector)
        hits = self._call(store.search_by_vector, row, check_k(k), self._auto_pack, decoding=True)
        return self._hits(hits)

    # ------------------------------------------------------------------ dict-like protocol

    def __setitem__(self, key: TextInput, value: Any) -> None:
        """``tv[text] = value`` inserts (duplicates are allowed; the id is not returned)."""
        self.insert(key, value)

    def __getitem__(self, key: str) -> Any:
        """``get(key)``; ``KeyError`` when nothing matches (or ``get`` fails otherwise)."""
        self._check()
        try:
            return self.get(key)
        except KohakuVaultError as exc:
            raise KeyError(key) from exc

    def __delitem__(self, key: str) -> None:
        """Delete the best match of ``key`` searched as a phrase; ``KeyError`` when none."""
        store = self._vault
        k = _str(key, "key")
        hits = self._call(store.search, k, 1, None, True, False, False)
        ids = R.ids_of(hits.ids)
        if not ids:
            raise KeyError(key)
        self.delete(ids[0])

    def _repr_head(self) -> str:
        return f"TextVault(path={self.path!r}, table={self.table!r}"

    def _repr_fields(self) -> str:
        return f"columns={self._texts.columns!r}, "
