package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.ResultReader
import io.kohakuvault.internal.VaultCleaner
import io.kohakuvault.uniffi.HybridRequest
import io.kohakuvault.uniffi.TextOptions
import io.kohakuvault.uniffi.TextStore
import java.nio.CharBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.CodingErrorAction
import io.kohakuvault.uniffi.TaggedValue as FfiTaggedValue
import io.kohakuvault.uniffi.TextHits as FfiTextHits

/** The core's message for use of a closed text vault; the facade raises the same text for its own checks. */
internal const val TEXT_CLOSED_MESSAGE = "Cannot operate on closed TextVault (TextVault is closed)"

/**
 * BM25 full-text search over an FTS5 table in one SQLite file (kohakuvault's `TextVault`, docs/FORMAT.md §8), and
 * hybrid text + vector search when the vault has [dimensions], backed by the Rust core's `TextStore`.
 *
 * ```kotlin
 * TextVault("docs.db").use { tv ->                                   // one column, "content"
 *     val id = tv.insert("The quick brown fox", "doc 1")
 *     tv.insertMany(listOf(TextDoc("A lazy dog", "doc 2"), TextDoc("Quick thinking", "doc 3")))  // one FFI call
 *     for (hit in tv.search("quick", k = 5)) println("${hit.id} ${hit.score} ${hit.value.asString()}")
 * }
 * TextVault("papers.db", columns = listOf("title", "body"), dimensions = 384).use { tv ->
 *     tv.insert(mapOf("title" to title, "body" to body), paperId, embedding)
 *     tv.hybridSearch("sparse attention", queryEmbedding, k = 10)   // BM25 and vector ranks fused (RRF)
 * }
 * ```
 *
 * **Texts.** A vault indexes one or more named [columns]; a document has a text in each. Single-column vaults take a
 * `String`, every vault takes a `Map` of column name to text (every column must be given; an unknown name is
 * InvalidArgument). Ids are the FTS5 rowids, from 1 in a fresh table.
 *
 * **Queries.** With `escape = true` (the default) the whole query is one phrase: its words must appear in order and
 * adjacent, and quotes or FTS5 operators in it are plain text. With `escape = false` the query is raw FTS5 syntax
 * (`a OR b`, `a NOT b`, `"a phrase"`, `pre*`, `NEAR(a b)`); a syntax error is InvalidArgument with FTS5's message.
 * A blank query matches nothing; `k = 0` returns no hits; k over 1,000,000 or negative is InvalidArgument.
 *
 * **Values** are mapped as [KVault] maps them ([TaggedValue.from]: `String`, `Long`, `Double`, `Boolean`, `ByteArray`
 * as raw bytes, arrays, maps and lists as MessagePack, or a [TaggedValue] as it is) and come back as [TaggedValue]s.
 *
 * **Vectors** (a vault opened with [dimensions]): one per document, as [VectorKVault] takes them (`FloatArray` for
 * f32, `ByteArray` for int8 and bit), written in the same transaction as the text. [hybridSearch] fuses the BM25
 * ranking of the query's words with the exact vector ranking by weighted reciprocal rank fusion.
 *
 * **Costs and errors.** Every member is one FFI call (tens of µs under JNA); [insertMany] crosses once for the whole
 * batch. One [KohakuVaultException] kind per failure, as in every language (tests/conformance/errors.json); a failed
 * call changes nothing. Use after [close] is [KohakuVaultException.Closed]. Thread-safe: searches run in parallel
 * with each other and with writes. Always [close] (or use `use {}`).
 */
class TextVault private constructor(
    internal val core: StoreCore<TextStore>,
    vectorMetric: VectorMetric,
    vectorType: VectorType,
) : AutoCloseable {

    /**
     * Opens (creating when missing) the text table [table] of [path] with the indexed [columns] (letters, digits and
     * `_`; FTS5's reserved `rank` and `rowid` and `value_ref` are refused; empty = `["content"]`) and the [tokenizer]
     * ([removeDiacritics]: FTS5's option, 0, 1 or 2; null = the tokenizer's default). An existing table must have the
     * same columns and tokenizer (InvalidArgument naming both otherwise). With [dimensions], every document may carry
     * one vector of that size ([metric] and [type] as for [VectorKVault], checked on reopen too).
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    constructor(
        path: String,
        table: String = DEFAULT_TABLE,
        columns: List<String> = listOf(DEFAULT_COLUMN),
        tokenizer: Tokenizer = Tokenizer.UNICODE61,
        removeDiacritics: Int? = null,
        dimensions: Int? = null,
        metric: VectorMetric = VectorMetric.COSINE,
        type: VectorType = VectorType.F32,
        options: OpenOptions = OpenOptions(),
    ) : this(openCore(path, table, columns, tokenizer, removeDiacritics, dimensions, metric, type, options), metric, type)

    private val cleanable: VaultCleaner.Cleanable = VaultCleaner.register(this, core)

    // ---------------------------------------------------------------- properties

    /** The path this vault was opened with. */
    val path: String = vaultCall { core.store.path() }

    /** The table name. */
    val table: String = vaultCall { core.store.table() }

    /** The indexed columns, in order. */
    val columns: List<String> = vaultCall { core.store.columns() }

    /** The table's tokenizer. */
    val tokenizer: Tokenizer = Tokenizer.ofCoreName(vaultCall { core.store.tokenizer() })

    /** Whether the vault was opened read-only. */
    val isReadOnly: Boolean = vaultCall { core.store.readOnly() }

    /** Elements per vector, or null when the vault has no vectors. */
    val dimensions: Int? = vaultCall { core.store.dimensions() }?.toInt()

    /** The vectors' metric (the core checks it against the table on open), or null without vectors. */
    val metric: VectorMetric? = if (dimensions != null) vectorMetric else null

    /** The vectors' type (checked as [metric]), or null without vectors. */
    val type: VectorType? = if (dimensions != null) vectorType else null

    /** Bytes of one stored vector, or null without vectors. */
    val rowBytes: Int? = vaultCall { core.store.vectorRowBytes() }?.toInt()

    private val rows: VectorRows? = dimensions?.let { VectorRows(type!!, it, rowBytes!!) }

    val isClosed: Boolean get() = core.closed

    /** Whether non-raw values are stored behind the 10-byte header (default true), as in [KVault.headersEnabled]. */
    var headersEnabled: Boolean
        @Throws(KohakuVaultException::class) get() = core.call { it.headersEnabled() }
        @Throws(KohakuVaultException::class) set(value) = core.call { it.setHeadersEnabled(value) }

    // ---------------------------------------------------------------- inserts

    /**
     * Stores a single-column vault's document: [text], [value] (mapped by [TaggedValue.from]) and, when the vault
     * has f32 vectors, [vector], in one transaction; returns the new id.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun insert(text: String, value: Any?, vector: FloatArray? = null): Long = insertDoc(textsOf(text), value, vector)

    /** [insert] with an int8 or bit [vector]. */
    @Throws(KohakuVaultException::class)
    fun insert(text: String, value: Any?, vector: ByteArray): Long = insertDoc(textsOf(text), value, vector)

    /** Stores a document with a text for every column ([texts] by column name); returns the new id. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun insert(texts: Map<String, String>, value: Any?, vector: FloatArray? = null): Long =
        insertDoc(textsOf(texts), value, vector)

    /** [insert] with an int8 or bit [vector]. */
    @Throws(KohakuVaultException::class)
    fun insert(texts: Map<String, String>, value: Any?, vector: ByteArray): Long = insertDoc(textsOf(texts), value, vector)

    /** `tv[text] = value`: [insert] (always a new document; texts need not be unique). */
    @Throws(KohakuVaultException::class)
    operator fun set(text: String, value: Any?) { insertDoc(textsOf(text), value, null) }

    private fun insertDoc(texts: List<String>, value: Any?, vector: Any?): Long {
        core.ensureOpen()
        val row = vector?.let { rowOf(it) }
        val tv = TaggedValue.from(value)
        return call { it.insert(texts, tv.kind.toUByte(), Arena.one(tv.payload), row) }
    }

    /**
     * Stores every document of [docs] in one FFI call and one transaction; returns the new ids in order. Every text,
     * value and vector is checked before anything is written; either every document has a vector or none has.
     */
    @Throws(KohakuVaultException::class)
    fun insertMany(docs: List<TextDoc>): LongArray {
        core.ensureOpen()
        val n = docs.size
        val cols = columns.size
        val texts = ArrayList<ByteArray>(n * cols)
        for (d in docs) for (t in textsOf(d.texts)) texts.add(utf8(t))
        val withVectors = docs.count { it.vector != null }
        if (withVectors != 0 && withVectors != n) {
            throw KohakuVaultException.InvalidArgument(
                "either every document has a vector or none has ($withVectors of $n have one)")
        }
        val vectors = if (withVectors == 0) null else docs.map { d -> d.vector!!.also { checkVector(it) } }
        val tvs = docs.map { TaggedValue.from(it.value) }
        if (n == 0) return LongArray(0)
        // one buffer: text_lens | texts | kinds | value_lens | payloads | vectors (docs/FORMAT.md §8)
        var textBytes = 0L
        for (t in texts) textBytes += t.size
        val payloadBytes = payloadBytesOf(tvs)
        val lensEnd = 4L * texts.size
        val textsEnd = lensEnd + textBytes
        val kindsEnd = textsEnd + n
        val valueLensEnd = kindsEnd + 4L * n
        val payEnd = valueLensEnd + payloadBytes
        val total = payEnd + if (vectors != null) n.toLong() * rowBytes!! else 0L
        val ids = withArgs(total) { a ->
            val b = a.buf
            for (t in texts) b.putInt(t.size)
            for (t in texts) b.put(t)
            b.putValues(tvs)
            if (vectors != null) for (v in vectors) rows!!.put(b, v)
            val args = a.views(lensEnd, textsEnd, kindsEnd, valueLensEnd, payEnd, total)
            call { it.insertMany(args[0], args[1], args[2], args[3], args[4], args[5]) }
        }
        return longsOf(ids, n, "insert_many ids")
    }

    // ---------------------------------------------------------------- text search

    /**
     * The [k] documents matching [query] best by BM25, best first (score = −bm25, higher is better). [column]
     * restricts the match to one column; [escape] false takes raw FTS5 syntax (see the class doc).
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun search(query: String, k: Int = DEFAULT_K, column: String? = null, escape: Boolean = true): List<TextHit> =
        hitsOf(call { it.search(query, kOf(k), column, escape, false, true) }, withTexts = false)

    /** [search], with every column's text of each hit in [TextHit.texts]. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun searchWithText(query: String, k: Int = DEFAULT_K, column: String? = null, escape: Boolean = true): List<TextHit> =
        hitsOf(call { it.search(query, kOf(k), column, escape, true, true) }, withTexts = true)

    /**
     * [search] over every column, with a snippet of [snippetColumn] (null = the first column) for each hit: FTS5's
     * `snippet()` of at most [snippetTokens] tokens (1..64), the matches between [highlightStart] and
     * [highlightEnd] (any text: they are bound, never interpolated), `...` where text was cut.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun searchWithSnippets(
        query: String,
        k: Int = DEFAULT_K,
        snippetColumn: String? = null,
        snippetTokens: Int = 10,
        highlightStart: String = "**",
        highlightEnd: String = "**",
        escape: Boolean = true,
    ): List<TextSnippet> {
        core.ensureOpen()
        if (snippetTokens < 0) {
            throw KohakuVaultException.InvalidArgument("snippet_tokens must be between 1 and 64, got $snippetTokens")
        }
        val h = call {
            it.snippets(query, kOf(k), snippetColumn, snippetTokens.toUInt(), highlightStart, highlightEnd, escape, true)
        }
        return readHits(h, "snippets") { id, score, value, texts ->
            TextSnippet(id, score, value, texts.lenBytes().toString(Charsets.UTF_8))
        }
    }

    /** The number of documents matching [query], in raw FTS5 syntax (never escaped, as in kohakuvault 1.1.0). */
    @Throws(KohakuVaultException::class)
    fun countMatches(query: String): Long = call { it.countMatches(query) }.toLong()

    /**
     * `tv[key]`: the value of the first document of a single-column vault containing [key] as a phrase (anywhere in
     * the text, not equality; any characters allowed). NotFound when none does; InvalidArgument for a vault of
     * several columns (use [search]).
     */
    @Throws(KohakuVaultException::class)
    operator fun get(key: String): TaggedValue = call { it.get(key, true) }.toFacade()

    // ---------------------------------------------------------------- vectors

    /**
     * Hybrid search: the [k] best documents by weighted reciprocal rank fusion of the BM25 ranking of [query]'s words
     * (each word a phrase, OR-ed) and the exact ranking by distance to the f32 [vector]:
     * score = [textWeight] / ([rrfK] + text rank) + [vectorWeight] / ([rrfK] + vector rank), ranks from 1 over the
     * best [candidates] of each side (null = max(4k, 50)); a side that is null or has weight 0 is left out, so the
     * call also serves as a pure text or pure vector search. Ties by id.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun hybridSearch(
        query: String?,
        vector: FloatArray?,
        k: Int = DEFAULT_K,
        textWeight: Double = 1.0,
        vectorWeight: Double = 1.0,
        rrfK: Int = DEFAULT_RRF_K,
        candidates: Int? = null,
    ): List<TextHit> = hybrid(query, vector, k, textWeight, vectorWeight, rrfK, candidates)

    /** [hybridSearch] with an int8 or bit [vector]. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun hybridSearch(
        query: String?,
        vector: ByteArray,
        k: Int = DEFAULT_K,
        textWeight: Double = 1.0,
        vectorWeight: Double = 1.0,
        rrfK: Int = DEFAULT_RRF_K,
        candidates: Int? = null,
    ): List<TextHit> = hybrid(query, vector, k, textWeight, vectorWeight, rrfK, candidates)

    private fun hybrid(query: String?, vector: Any?, k: Int, textWeight: Double, vectorWeight: Double, rrfK: Int,
                       candidates: Int?): List<TextHit> {
        core.ensureOpen()
        val kk = kOf(k)
        if (rrfK < 0) throw KohakuVaultException.InvalidArgument("rrf_k must not be negative, got $rrfK")
        if (candidates != null && candidates < 0) {
            throw KohakuVaultException.InvalidArgument("candidates must not be negative, got $candidates")
        }
        val row = vector?.let { rowOf(it) }
        val req = HybridRequest(query, row, kk, textWeight, vectorWeight, rrfK.toUInt(), candidates?.toUInt(), true)
        return hitsOf(call { it.hybridSearch(req) }, withTexts = false)
    }

    /** The [k] documents whose f32 vectors are nearest to [vector], nearest first (score = the distance). */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun searchByVector(vector: FloatArray, k: Int = DEFAULT_K): List<TextHit> = byVector(vector, k)

    /** [searchByVector] with an int8 or bit [vector]. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun searchByVector(vector: ByteArray, k: Int = DEFAULT_K): List<TextHit> = byVector(vector, k)

    private fun byVector(vector: Any, k: Int): List<TextHit> {
        core.ensureOpen()
        val kk = kOf(k)
        val row = rowOf(vector)
        return hitsOf(call { it.searchByVector(row, kk, true) }, withTexts = false)
    }

    // ---------------------------------------------------------------- documents by id

    /** The stored document [id]: texts, decoded value and vector; NotFound ("ID N not found") when missing. */
    @Throws(KohakuVaultException::class)
    fun getById(id: Long): TextRecord {
        val r = call { it.getById(id, true) }
        return TextRecord(id, byColumn(r.texts), r.value.toFacade(), r.vector?.let { v -> rows?.vectorOf(v) ?: v })
    }

    /**
     * Replaces any of the [texts] (every column), the [value] and the f32 [vector] of document [id] in one
     * transaction; a null argument leaves that part as it is (to store a null value, pass `TaggedValue.from(null)`).
     * At least one must be given (InvalidArgument); NotFound when [id] is missing.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun update(id: Long, texts: Map<String, String>? = null, value: Any? = null, vector: FloatArray? = null) =
        updateDoc(id, texts?.let { textsOf(it) }, value, vector)

    /** [update] of a single-column vault's document with its new [text]. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun update(id: Long, text: String, value: Any? = null, vector: FloatArray? = null) =
        updateDoc(id, textsOf(text), value, vector)

    /** [update] with an int8 or bit [vector]. */
    @Throws(KohakuVaultException::class)
    fun update(id: Long, texts: Map<String, String>? = null, value: Any? = null, vector: ByteArray) =
        updateDoc(id, texts?.let { textsOf(it) }, value, vector)

    /** [update] of a single-column vault's document with an int8 or bit [vector]. */
    @Throws(KohakuVaultException::class)
    fun update(id: Long, text: String, value: Any? = null, vector: ByteArray) = updateDoc(id, textsOf(text), value, vector)

    private fun updateDoc(id: Long, texts: List<String>?, value: Any?, vector: Any?) {
        core.ensureOpen()
        val row = vector?.let { rowOf(it) }
        val tv = value?.let { TaggedValue.from(it) }
        call { it.update(id, texts, tv?.let { t -> FfiTaggedValue(t.kind.toUByte(), t.payload) }, row) }
    }

    /** Deletes document [id] (its text, value and vector, in one transaction); false when it did not exist. */
    @Throws(KohakuVaultException::class)
    fun delete(id: Long): Boolean = call { it.delete(id) }

    /** Whether document [id] exists. */
    @Throws(KohakuVaultException::class)
    fun exists(id: Long): Boolean = call { it.exists(id) }

    /** `id in tv`: [exists] (an id, not a text). */
    @Throws(KohakuVaultException::class)
    operator fun contains(id: Long): Boolean = exists(id)

    /** Number of documents. */
    @Throws(KohakuVaultException::class)
    fun count(): Long = call { it.count() }.toLong()

    /** [count] as an Int (capped). */
    val size: Int @Throws(KohakuVaultException::class) get() = count().coerceAtMost(Int.MAX_VALUE.toLong()).toInt()

    @Throws(KohakuVaultException::class)
    fun isEmpty(): Boolean = count() == 0L

    /** Document ids, ascending: at most [limit] (null = all) after skipping [offset] (one FFI call). */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun keys(limit: Long? = null, offset: Long = 0): LongArray {
        core.ensureOpen()
        if (limit != null && limit < 0) throw KohakuVaultException.InvalidArgument("limit must not be negative, got $limit")
        if (offset < 0) throw KohakuVaultException.InvalidArgument("offset must not be negative, got $offset")
        val b = call { it.keys(limit?.toULong(), offset.toULong()) }
        if (b.size % 8 != 0) throw KohakuVaultException.Internal("keys() returned ${b.size} bytes")
        return longsOf(b, b.size / 8, "keys")
    }

    /** Deletes every document (texts, values and vectors) in one transaction. */
    @Throws(KohakuVaultException::class)
    fun clear() = call { it.clear() }

    // ---------------------------------------------------------------- maintenance

    /** The table as the core reports it (count included). */
    @Throws(KohakuVaultException::class)
    fun info(): TextInfo = call { it.info() }.toFacade()

    /** PRAGMA wal_checkpoint(PASSIVE). */
    @Throws(KohakuVaultException::class)
    fun checkpoint(): WalCheckpoint =
        call { it.checkpoint() }.toFacade()

    /** Closes the vault. Idempotent; every later call raises [KohakuVaultException.Closed]. */
    @Throws(KohakuVaultException::class)
    override fun close() {
        core.close()
        cleanable.clean()
    }

    override fun toString(): String =
        "TextVault(path='$path', table=$table, columns=$columns, tokenizer='${tokenizer.coreName}'" +
            (if (dimensions != null) ", dimensions=$dimensions, metric='${metric!!.coreName}'" else "") +
            ", status=${if (isClosed) "closed" else "open"})"

    // ---------------------------------------------------------------- helpers

    /** One core call; a string that is not valid UTF-16 (a lone surrogate) is InvalidArgument. */
    private inline fun <T> call(block: (TextStore) -> T): T =
        try {
            core.call(block)
        } catch (e: CharacterCodingException) {
            throw KohakuVaultException.InvalidArgument(NOT_UTF16, e)
        }

    /** A single-column vault's texts (checked after the vault's open state, as every argument). */
    private fun textsOf(text: String): List<String> {
        core.ensureOpen()
        if (columns.size != 1) {
            throw KohakuVaultException.InvalidArgument(
                "a single text needs a single-column TextVault; this one has columns ${columnList()}: pass a map of column to text")
        }
        return listOf(text)
    }

    /** [texts] by column name in column order: every column given, no other name. */
    private fun textsOf(texts: Map<String, String>): List<String> {
        core.ensureOpen()
        if (texts.size == 1 && texts.containsKey(TextDoc.ONLY_COLUMN)) return textsOf(texts.getValue(TextDoc.ONLY_COLUMN))
        for (name in texts.keys) {
            if (name !in columns) {
                throw KohakuVaultException.InvalidArgument("Column '$name' not found. Available columns: ${columnList()}")
            }
        }
        return columns.map { texts[it] ?: throw KohakuVaultException.InvalidArgument("Missing column '$it' in input") }
    }

    /** The core's texts (column order) by column name. */
    private fun byColumn(texts: List<String>): Map<String, String> {
        if (texts.size != columns.size) {
            throw KohakuVaultException.Internal("${texts.size} texts for ${columns.size} columns")
        }
        val m = LinkedHashMap<String, String>(2 * texts.size)
        for (i in texts.indices) m[columns[i]] = texts[i]
        return m
    }

    private fun columnList(): String = columns.joinToString(", ", "[", "]") { "\"$it\"" }

    private fun checkVector(v: Any) {
        (rows ?: throw KohakuVaultException.InvalidArgument(NO_VECTORS)).check(v)
    }

    /** A checked vector as its row bytes. */
    private fun rowOf(v: Any): ByteArray {
        checkVector(v)
        return rows!!.rowOf(v)
    }

    private fun countOf(h: FfiTextHits): Int {
        val n = h.ids.size / 8
        if (h.ids.size % 8 != 0 || h.scores.size != 8 * n) {
            throw KohakuVaultException.Internal("search returned ${h.ids.size} id bytes and ${h.scores.size} score bytes")
        }
        return n
    }

    /**
     * The hits of [h] in order, each made by [hit] from its id, score and value and the reader of the hits' texts
     * (which [hit] reads its own texts from); [what] names the call in the Internal error for data left over.
     */
    private inline fun <T> readHits(h: FfiTextHits, what: String, hit: (Long, Double, TaggedValue, ResultReader) -> T): List<T> {
        val n = countOf(h)
        val ids = le(h.ids).asLongBuffer()
        val scores = le(h.scores).asDoubleBuffer()
        val values = ResultReader(h.values)
        val texts = ResultReader(h.texts)
        val out = List(n) { hit(ids.get(), scores.get(), TaggedValue(values.u8(), values.lenBytes()), texts) }
        if (values.hasRemaining || texts.hasRemaining) throw KohakuVaultException.Internal("$what returned extra data")
        return out
    }

    private fun hitsOf(h: FfiTextHits, withTexts: Boolean): List<TextHit> =
        readHits(h, "search") { id, score, value, texts ->
            val t = if (withTexts) {
                val m = LinkedHashMap<String, String>(2 * columns.size)
                for (c in columns) m[c] = texts.lenBytes().toString(Charsets.UTF_8)
                m
            } else {
                null
            }
            TextHit(id, score, value, t)
        }

    companion object {
        const val DEFAULT_TABLE = "text_vault"
        const val DEFAULT_COLUMN = "content"
        const val DEFAULT_K = 10
        const val DEFAULT_RRF_K = 60

        private const val NO_VECTORS = "this TextVault has no vectors (open it with dimensions)"
        private const val NOT_UTF16 = "a string holds a lone surrogate (it is not valid UTF-16)"

        /** Opens the vault, runs [block] and closes. */
        @JvmStatic @JvmOverloads
        @Throws(KohakuVaultException::class)
        fun <R> open(path: String, table: String = DEFAULT_TABLE, columns: List<String> = listOf(DEFAULT_COLUMN),
                     tokenizer: Tokenizer = Tokenizer.UNICODE61, options: OpenOptions = OpenOptions(),
                     block: (TextVault) -> R): R =
            TextVault(path, table, columns, tokenizer, options = options).use(block)

        private fun openCore(path: String, table: String, columns: List<String>, tokenizer: Tokenizer,
                             removeDiacritics: Int?, dimensions: Int?, metric: VectorMetric, type: VectorType,
                             options: OpenOptions): StoreCore<TextStore> {
            if (dimensions != null && dimensions <= 0) throw KohakuVaultException.InvalidArgument("dimensions must be positive")
            if (removeDiacritics != null && removeDiacritics !in 0..255) {
                throw KohakuVaultException.InvalidArgument("remove_diacritics must be 0, 1 or 2, got $removeDiacritics")
            }
            val text = TextOptions(tokenizer.coreName, removeDiacritics?.toUByte(), dimensions?.toUInt(), metric.coreName,
                type.coreName)
            val store = try {
                vaultCall { TextStore(path, table, columns, text, options.toFfi()) }
            } catch (e: CharacterCodingException) {
                throw KohakuVaultException.InvalidArgument(NOT_UTF16, e)
            }
            return StoreCore(store, TEXT_CLOSED_MESSAGE, TextStore::closeStore)
        }

        private val encoder = object : ThreadLocal<java.nio.charset.CharsetEncoder>() {
            override fun initialValue() = Charsets.UTF_8.newEncoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
        }

        /** [s] as UTF-8; InvalidArgument for a lone surrogate (the generated code's rule for every string). */
        private fun utf8(s: String): ByteArray {
            val b = try {
                encoder.get().encode(CharBuffer.wrap(s))
            } catch (e: CharacterCodingException) {
                throw KohakuVaultException.InvalidArgument(NOT_UTF16, e)
            }
            val out = ByteArray(b.remaining())
            b.get(out)
            return out
        }
    }
}
