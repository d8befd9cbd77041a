package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.ResultReader
import io.kohakuvault.internal.VaultCleaner
import io.kohakuvault.uniffi.VectorStore
import io.kohakuvault.uniffi.VectorFilter as FfiVectorFilter
import io.kohakuvault.uniffi.VectorHits as FfiVectorHits

/** The core's message for use of a closed vector vault; the facade raises the same text for its own checks. */
internal const val VECTOR_CLOSED_MESSAGE = "Cannot operate on closed VectorKVault (VectorKVault is closed)"

/**
 * Exact k-nearest-neighbour search over vectors stored with a value (and optional metadata) in one SQLite file
 * (kohakuvault's `VectorKVault`, a sqlite-vec `vec0` table, docs/FORMAT.md §7), backed by the Rust core's
 * `VectorStore`.
 *
 * ```kotlin
 * VectorKVault("emb.db", dimensions = 384).use { vv ->           // cosine, f32
 *     val id = vv.insert(embedding, "doc 1", mapOf("lang" to "en"))
 *     vv.insertMany(embeddings, texts)                           // one FFI call, one transaction
 *     for (hit in vv.search(query, k = 5, VectorFilter.metadata(mapOf("lang" to "en"))))
 *         println("${hit.id} ${hit.distance} ${hit.value.asString()}")
 * }
 * ```
 *
 * **Vectors.** An f32 vault ([VectorType.F32]) takes `FloatArray`s of [dimensions] floats; int8 and bit vaults take
 * `ByteArray`s: [dimensions] signed bytes (int8), or [dimensions] / 8 bytes of bits packed most significant first
 * (bit). A vector of another length, or of the other array type, is InvalidArgument; so is an f32 vector holding NaN
 * or an infinity (checked by the core). Cosine vaults store vectors L2-normalised ([getById] returns them so).
 * Ids are the table's rowids, from 1 in a fresh table, never reused.
 *
 * **Values** are mapped as [KVault] maps them ([TaggedValue.from]: `String`, `Long`, `Double`, `Boolean`, `ByteArray`
 * as raw bytes, arrays, maps and lists as MessagePack, or a [TaggedValue] as it is) and come back as [TaggedValue]s.
 * **Metadata** is a map with string keys, stored as MessagePack; a [VectorFilter] matches scalar entries exactly.
 *
 * **Costs.** Every member is one FFI call (tens of µs under JNA): [insertMany] and [searchMany] cross once for the
 * whole batch. A `Map` value or metadata is converted to MessagePack by one further call each.
 *
 * **Errors.** One [KohakuVaultException] kind per failure, as in every language (tests/conformance/errors.json); a
 * failed call changes nothing. Use after [close] is [KohakuVaultException.Closed]. Thread-safe: searches run in
 * parallel with each other and with writes. Always [close] (or use `use {}`).
 */
class VectorKVault private constructor(internal val core: StoreCore<VectorStore>) : AutoCloseable {

    /**
     * Opens (creating when missing) the vector table [table] of [path]. An existing table must have the same
     * [dimensions], [metric] and [type] (InvalidArgument naming both otherwise); invalid pairs (e.g. COSINE with
     * INT8) and dimensions that bit vectors cannot pack are InvalidArgument.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    constructor(
        path: String,
        table: String = DEFAULT_TABLE,
        dimensions: Int,
        metric: VectorMetric = VectorMetric.COSINE,
        type: VectorType = VectorType.F32,
        options: OpenOptions = OpenOptions(),
    ) : this(openCore(path, table, dimensions, metric.coreName, type.coreName, options))

    /**
     * Opens with the metric and type as the core spells them (case-insensitive): metric `cosine`, `l2` / `euclidean`,
     * `l1` / `manhattan`, `hamming`; type `f32` / `float32`, `int8` / `i8`, `bit`. Unknown names are InvalidArgument
     * with kohakuvault 1.1.0's messages.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    constructor(
        path: String,
        table: String,
        dimensions: Int,
        metric: String,
        vectorType: String,
        options: OpenOptions = OpenOptions(),
    ) : this(openCore(path, table, dimensions, metric, vectorType, options))

    private val cleanable: VaultCleaner.Cleanable = VaultCleaner.register(this, core)

    // ---------------------------------------------------------------- properties

    /** The path this vault was opened with. */
    val path: String = vaultCall { core.store.path() }

    /** The table name. */
    val table: String = vaultCall { core.store.table() }

    /** Whether the vault was opened read-only. */
    val isReadOnly: Boolean = vaultCall { core.store.readOnly() }

    /** Elements per vector. */
    val dimensions: Int = vaultCall { core.store.dimensions() }.toInt()

    val metric: VectorMetric = VectorMetric.ofCoreName(vaultCall { core.store.metric() })

    val type: VectorType = VectorType.ofCoreName(vaultCall { core.store.vectorType() })

    /** Bytes of one stored vector (4 × [dimensions] for f32, [dimensions] for int8, [dimensions] / 8 for bit). */
    val rowBytes: Int = vaultCall { core.store.rowBytes() }.toInt()

    private val rows = VectorRows(type, dimensions, rowBytes)

    val isClosed: Boolean get() = core.closed

    /** Whether non-raw values are stored behind the 10-byte header (default true), as in [KVault.headersEnabled]. */
    var headersEnabled: Boolean
        @Throws(KohakuVaultException::class) get() = core.call { it.headersEnabled() }
        @Throws(KohakuVaultException::class) set(value) = core.call { it.setHeadersEnabled(value) }

    // ---------------------------------------------------------------- inserts

    /**
     * Stores [vector] with [value] (mapped by [TaggedValue.from]) and [metadata] in one transaction; returns the new
     * id. f32 vaults only (int8 and bit vaults take a `ByteArray`).
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun insert(vector: FloatArray, value: Any?, metadata: Map<String, Any?>? = null): Long =
        insertRow(vector, value, metadata)

    /** Stores an int8 or bit [vector] (see the class doc) with [value] and [metadata]; returns the new id. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun insert(vector: ByteArray, value: Any?, metadata: Map<String, Any?>? = null): Long =
        insertRow(vector, value, metadata)

    /** `vv[vector] = value`: [insert] without metadata. */
    @Throws(KohakuVaultException::class)
    operator fun set(vector: FloatArray, value: Any?) { insertRow(vector, value, null) }

    @Throws(KohakuVaultException::class)
    operator fun set(vector: ByteArray, value: Any?) { insertRow(vector, value, null) }

    private fun insertRow(vector: Any, value: Any?, metadata: Map<String, Any?>?): Long {
        core.ensureOpen()
        rows.check(vector)
        val tv = TaggedValue.from(value)
        val meta = metadata?.let { Codec.plainToMsgpack(it) }
        return core.call { store ->
            val a = Arena.get(rowBytes + tv.payload.size)
            val v = rows.put(a.buffer, vector)
            store.insert(v, tv.kind.toUByte(), a.view(tv.payload), meta)
        }
    }

    /**
     * Stores n f32 vectors with their [values] (and [metadata], one map or null per row, or null for none) in one
     * FFI call and one transaction; returns the n new ids in order. The lists must have the same size; every vector
     * and value is checked before anything is written.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun insertMany(vectors: List<FloatArray>, values: List<Any?>, metadata: List<Map<String, Any?>?>? = null): LongArray =
        insertRows(vectors, values, metadata)

    /** [insertMany] for int8 and bit vaults. */
    @JvmOverloads
    @JvmName("insertManyBytes")
    @Throws(KohakuVaultException::class)
    fun insertMany(vectors: List<ByteArray>, values: List<Any?>, metadata: List<Map<String, Any?>?>? = null): LongArray =
        insertRows(vectors, values, metadata)

    private fun insertRows(vectors: List<Any>, values: List<Any?>, metadata: List<Map<String, Any?>?>?): LongArray {
        core.ensureOpen()
        val n = vectors.size
        if (values.size != n) throw KohakuVaultException.InvalidArgument("${values.size} values for $n vectors")
        if (metadata != null && metadata.size != n) {
            throw KohakuVaultException.InvalidArgument("${metadata.size} metadata entries for $n vectors")
        }
        for (v in vectors) rows.check(v)
        if (n == 0) return LongArray(0)
        val tvs = values.map { TaggedValue.from(it) }
        val metas = metadata?.map { m -> m?.let { Codec.plainToMsgpack(it) } }?.takeIf { l -> l.any { it != null } }
        // one buffer: vectors | kinds | value_lens | payloads | meta_lens | metas (docs/FORMAT.md §7)
        val payloadBytes = payloadBytesOf(tvs)
        var metaBytes = 0L
        if (metas != null) for (m in metas) metaBytes += m?.size ?: 0
        val vecEnd = n.toLong() * rowBytes
        val kindsEnd = vecEnd + n
        val lensEnd = kindsEnd + 4L * n
        val payEnd = lensEnd + payloadBytes
        val metaLensEnd = payEnd + if (metas != null) 4L * n else 0L
        val total = metaLensEnd + metaBytes
        val ids = withArgs(total) { a ->
            val b = a.buf
            for (v in vectors) rows.put(b, v)
            b.putValues(tvs)
            if (metas != null) {
                for (m in metas) b.putInt(m?.size ?: 0)   // a msgpack map is never 0 bytes: 0 = none
                for (m in metas) if (m != null) b.put(m)
            }
            val args = a.views(vecEnd, kindsEnd, lensEnd, payEnd, metaLensEnd, total)
            core.call { it.insertMany(args[0], args[1], args[2], args[3], args[4], args[5]) }
        }
        return longsOf(ids, n, "insert_many ids")
    }

    // ---------------------------------------------------------------- search

    /**
     * The [k] rows nearest to the f32 [query] (fewer when fewer rows match [filter]), nearest first, ties by id.
     * `k = 0` returns no hits; k over 1,000,000 or negative is InvalidArgument.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun search(query: FloatArray, k: Int = DEFAULT_K, filter: VectorFilter? = null): List<VectorHit> =
        searchRows(listOf(query), k, filter)[0]

    /** [search] with an int8 or bit [query]. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun search(query: ByteArray, k: Int = DEFAULT_K, filter: VectorFilter? = null): List<VectorHit> =
        searchRows(listOf(query), k, filter)[0]

    /** The hits of every query (as [search]), in order, in one FFI call. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun searchMany(queries: List<FloatArray>, k: Int = DEFAULT_K, filter: VectorFilter? = null): List<List<VectorHit>> =
        searchRows(queries, k, filter)

    /** [searchMany] for int8 and bit vaults. */
    @JvmOverloads
    @JvmName("searchManyBytes")
    @Throws(KohakuVaultException::class)
    fun searchMany(queries: List<ByteArray>, k: Int = DEFAULT_K, filter: VectorFilter? = null): List<List<VectorHit>> =
        searchRows(queries, k, filter)

    /** `vv[query]`: the value of the row nearest to [query]; NotFound when the vault is empty. */
    @Throws(KohakuVaultException::class)
    operator fun get(query: FloatArray): TaggedValue = nearest(query, null)

    @Throws(KohakuVaultException::class)
    operator fun get(query: ByteArray): TaggedValue = nearest(query, null)

    /** The value of the row nearest to [query] among those matching [filter]; NotFound when none matches. */
    @Throws(KohakuVaultException::class)
    fun get(query: FloatArray, filter: VectorFilter?): TaggedValue = nearest(query, filter)

    @Throws(KohakuVaultException::class)
    fun get(query: ByteArray, filter: VectorFilter?): TaggedValue = nearest(query, filter)

    private fun nearest(query: Any, filter: VectorFilter?): TaggedValue =
        searchRows(listOf(query), 1, filter)[0].firstOrNull()?.value
            ?: throw KohakuVaultException.NotFound("No vectors found in database")

    private fun searchRows(queries: List<Any>, k: Int, filter: VectorFilter?): List<List<VectorHit>> {
        core.ensureOpen()
        val uk = kOf(k)
        for (q in queries) rows.check(q)
        if (queries.isEmpty()) return emptyList()
        val f = filter?.toFfi()
        val total = queries.size.toLong() * rowBytes
        val hits = withArgs(total) { a ->
            for (q in queries) rows.put(a.buf, q)
            core.call { it.search(a.view(0, total.toInt()), uk, null, f, true) }
        }
        return parseHits(hits, queries.size)
    }

    private fun parseHits(h: FfiVectorHits, m: Int): List<List<VectorHit>> {
        if (h.counts.size != 4 * m) throw KohakuVaultException.Internal("search returned ${h.counts.size / 4} counts for $m queries")
        val counts = le(h.counts)
        val ids = le(h.ids)
        val dist = le(h.distances)
        val values = ResultReader(h.values)
        val total = h.ids.size / 8
        if (dist.remaining() != 4 * total) throw KohakuVaultException.Internal("search returned mismatched ids and distances")
        val out = ArrayList<List<VectorHit>>(m)
        var seen = 0
        repeat(m) {
            val c = counts.int
            if (c < 0 || seen + c > total) throw KohakuVaultException.Internal("search hit counts exceed the hits")
            seen += c
            out.add(List(c) {
                val id = ids.long
                val d = dist.float
                val kind = values.u8()
                VectorHit(id, d, TaggedValue(kind, values.lenBytes()))
            })
        }
        if (seen != total || values.hasRemaining) throw KohakuVaultException.Internal("search returned extra hits")
        return out
    }

    // ---------------------------------------------------------------- rows by id

    /** The stored row [id] (vector normalised for cosine, decoded value, metadata); NotFound when missing. */
    @Throws(KohakuVaultException::class)
    fun getById(id: Long): VectorRecord {
        val r = core.call { it.getById(id, true) }
        return VectorRecord(id, rows.vectorOf(r.vector), r.value.toFacade(), r.metadata?.let { metadataOf(it) })
    }

    /**
     * Replaces any of the f32 [vector], the [value] and the [metadata] of row [id] in one transaction; a null argument
     * leaves that part as it is (to store a null value, pass `TaggedValue.from(null)`). At least one must be given
     * (InvalidArgument); NotFound when [id] is missing.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun update(id: Long, vector: FloatArray? = null, value: Any? = null, metadata: Map<String, Any?>? = null) =
        updateRow(id, vector, value, metadata)

    /** [update] with an int8 or bit [vector]. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun update(id: Long, vector: ByteArray, value: Any? = null, metadata: Map<String, Any?>? = null) =
        updateRow(id, vector, value, metadata)

    private fun updateRow(id: Long, vector: Any?, value: Any?, metadata: Map<String, Any?>?) {
        core.ensureOpen()
        val row = vector?.let { rows.check(it); rows.rowOf(it) }
        val tv = value?.let { TaggedValue.from(it) }
        val meta = metadata?.let { Codec.plainToMsgpack(it) }
        core.call { it.update(id, row, tv?.let { t -> io.kohakuvault.uniffi.TaggedValue(t.kind.toUByte(), t.payload) }, meta) }
    }

    /** Deletes row [id]; false when it did not exist. */
    @Throws(KohakuVaultException::class)
    fun delete(id: Long): Boolean = core.call { it.delete(id) }

    /** Whether row [id] exists. */
    @Throws(KohakuVaultException::class)
    fun exists(id: Long): Boolean = core.call { it.exists(id) }

    /** `id in vv`: [exists]. */
    @Throws(KohakuVaultException::class)
    operator fun contains(id: Long): Boolean = exists(id)

    /** Number of vectors. */
    @Throws(KohakuVaultException::class)
    fun count(): Long = core.call { it.count() }.toLong()

    /** [count] as an Int (capped). */
    val size: Int @Throws(KohakuVaultException::class) get() = count().coerceAtMost(Int.MAX_VALUE.toLong()).toInt()

    @Throws(KohakuVaultException::class)
    fun isEmpty(): Boolean = count() == 0L

    /** Every id, ascending (one FFI call). */
    @Throws(KohakuVaultException::class)
    fun ids(): LongArray {
        val b = core.call { it.ids() }
        if (b.size % 8 != 0) throw KohakuVaultException.Internal("ids() returned ${b.size} bytes")
        return longsOf(b, b.size / 8, "ids")
    }

    // ---------------------------------------------------------------- maintenance

    /** The table as the core reports it (count and deleted slots included). */
    @Throws(KohakuVaultException::class)
    fun info(): VectorInfo = core.call { it.info() }.toFacade()

    /** Rewrites the table without the slots of deleted vectors; returns the slots reclaimed. Ids are kept. */
    @Throws(KohakuVaultException::class)
    fun compact(): Long = core.call { it.compact() }.toLong()

    /** PRAGMA wal_checkpoint(PASSIVE). */
    @Throws(KohakuVaultException::class)
    fun checkpoint(): WalCheckpoint =
        core.call { it.checkpoint() }.toFacade()

    /** Closes the vault. Idempotent; every later call raises [KohakuVaultException.Closed]. */
    @Throws(KohakuVaultException::class)
    override fun close() {
        core.close()
        cleanable.clean()
    }

    override fun toString(): String =
        "VectorKVault(path='$path', table=$table, dimensions=$dimensions, metric='${metric.coreName}', " +
            "vector_type='${type.coreName}', status=${if (isClosed) "closed" else "open"})"

    // ---------------------------------------------------------------- metadata, filters

    private fun metadataOf(msgpack: ByteArray): Map<String, Any?> {
        val m = Codec.msgpackToPlain(msgpack) as? Map<*, *>
            ?: throw KohakuVaultException.Corrupt("vector metadata is not a map")
        val out = LinkedHashMap<String, Any?>(m.size * 2)
        for ((k, v) in m) out[k as? String ?: throw KohakuVaultException.Corrupt("vector metadata key $k is not a string")] = v
        return out
    }

    private fun VectorFilter.toFfi(): FfiVectorFilter =
        FfiVectorFilter(ids?.toList(), metadataEquals?.let { Codec.plainToMsgpack(it) })

    companion object {
        const val DEFAULT_TABLE = "vec_kvault"
        const val DEFAULT_K = 10

        /** Opens the vault, runs [block] and closes. */
        @JvmStatic @JvmOverloads
        @Throws(KohakuVaultException::class)
        fun <R> open(path: String, table: String = DEFAULT_TABLE, dimensions: Int,
                     metric: VectorMetric = VectorMetric.COSINE, type: VectorType = VectorType.F32,
                     options: OpenOptions = OpenOptions(), block: (VectorKVault) -> R): R =
            VectorKVault(path, table, dimensions, metric, type, options).use(block)

        private fun openCore(path: String, table: String, dimensions: Int, metric: String, vectorType: String,
                             options: OpenOptions): StoreCore<VectorStore> {
            if (dimensions <= 0) throw KohakuVaultException.InvalidArgument("dimensions must be positive")
            val store = vaultCall { VectorStore(path, table, dimensions.toUInt(), metric, vectorType, options.toFfi()) }
            return StoreCore(store, VECTOR_CLOSED_MESSAGE, VectorStore::closeStore)
        }
    }
}
