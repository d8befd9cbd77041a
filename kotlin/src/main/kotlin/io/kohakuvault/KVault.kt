package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.FastPath
import io.kohakuvault.internal.StagedItems
import io.kohakuvault.uniffi.KvStore
import java.io.InputStream
import java.io.OutputStream
import io.kohakuvault.internal.VaultCleaner
import java.util.stream.Stream
import kotlin.concurrent.withLock

/**
 * A key-value vault in one SQLite file (kohakuvault's `KVault`), backed by the Rust core's `KvStore`.
 *
 * **The map view.** `KVault` is a `MutableMap<String, ByteArray>`: string keys are UTF-8 encoded, and every member
 * also has a `ByteArray`-key overload. The `ByteArray` view of a value is: raw bytes as they were put; any other value
 * (a string, int, msgpack map, pickle, ... written by a typed put or by another language) as its stored encoding,
 * header included (the same bytes as [getStored]). Typed accessors ([getString], [getLong], [getPlain], ...) decode.
 * `kv[key] = bytes` is one FFI call; `put(key, bytes)` also fetches the previous value as the `Map` contract asks.
 * [keys], [values] and [entries] are live views backed by paged scans (MapViews.kt); `equals`/`hashCode` are
 * identity.
 *
 * **Costs.** Every FFI call costs tens of microseconds on the JVM (JNA), so batch: [putMany] / [getMany] / [batch]
 * cross once for the whole batch, scans cross once per page (Scans.kt). While a cache is enabled ([cache],
 * [enableCache], without a flush interval) single puts are combined on the Kotlin side (WriteCombiner.kt) and handed
 * to the core's write-back cache in runs: every other operation first hands over what is buffered, so reads always
 * see earlier writes, and [close] (or garbage collection of an unclosed vault) hands it over before closing. With a
 * combiner, an error of a buffered put (e.g. the cache locked and full) is raised by the next operation.
 *
 * **Java.** Every member that can fail declares `@Throws(KohakuVaultException::class)` (unchecked); scans are also
 * [Iterable]s ([keysIterable], ...) and [Stream]s ([keysStream], [itemsStream], ...); defaults have overloads.
 *
 * Errors: one [KohakuVaultException] kind per failure, the same as every other language
 * (tests/conformance/errors.json, docs/COMPATIBILITY.md). Thread-safe. Always [close] (or use `use {}`).
 */
class KVault @JvmOverloads @Throws(KohakuVaultException::class) constructor(
    path: String,
    table: String = "kv",
    options: OpenOptions = OpenOptions(),
) : MutableMap<String, ByteArray>, ValueWriter, AutoCloseable {

    internal val core: VaultCore = VaultCore(vaultCall { KvStore(path, table, options.toFfi()) })
    private val cleanable: VaultCleaner.Cleanable = VaultCleaner.register(this, core)

    // ---------------------------------------------------------------- properties

    /** The path this vault was opened with. */
    val path: String = vaultCall { core.store.path() }

    /** The table name. */
    val table: String = vaultCall { core.store.table() }

    /** Whether the vault was opened read-only. */
    val isReadOnly: Boolean = vaultCall { core.store.readOnly() }

    val isClosed: Boolean get() = core.closed

    /** Whether non-raw values are stored behind the 10-byte header (default true). */
    var headersEnabled: Boolean
        @Throws(KohakuVaultException::class) get() = core.call { it.headersEnabled() }
        @Throws(KohakuVaultException::class) set(value) = core.read { it.setHeadersEnabled(value) }

    // ---------------------------------------------------------------- point operations

    @Throws(KohakuVaultException::class)
    override fun putTagged(key: ByteArray, kind: Int, payload: ByteArray) {
        core.ensureOpen()
        if (kind !in 0..255) throw KohakuVaultException.InvalidArgument("kind must be 0..255")
        if (core.combiner.offer(kind, key, payload)) return
        if (FastPath.put(core.fastHandle, key, kind, payload)) return
        core.read { store ->
            val a = Arena.get(key.size + payload.size)
            store.put(a.view(key), kind.toUByte(), a.view(payload))
        }
    }

    /** The decoded value: kind and payload (see [TaggedValue]), or null. */
    @Throws(KohakuVaultException::class)
    fun getTagged(key: ByteArray): TaggedValue? {
        core.ensureOpen()
        core.drain()
        val hit = FastPath.get(core.fastHandle, key)
        if (hit === FastPath.MISSING) return null
        if (hit !== FastPath.FALLBACK) return TaggedValue(hit.kind, hit.payload)
        return core.read { it.get(Arena.one(key)) }?.toFacade()
    }

    @Throws(KohakuVaultException::class)
    fun getTagged(key: String): TaggedValue? = getTagged(key.encodeToByteArray())

    /**
     * The stored bytes as kohakuvault 1.1.0 returns them with auto-pack off (header included; the core removes
     * only its own raw-escape header, so raw values come back exactly as put), or null. This is the `ByteArray`
     * view of the value. One native call (the C fast path, else the UDL's `get_stored`).
     */
    @Throws(KohakuVaultException::class)
    fun getStored(key: ByteArray): ByteArray? {
        core.ensureOpen()
        core.drain()
        val hit = FastPath.get(core.fastHandle, key, FastPath.GET_STORED)
        if (hit === FastPath.MISSING) return null
        if (hit !== FastPath.FALLBACK) return hit.payload
        return core.read { it.getStored(Arena.one(key)) }
    }

    @Throws(KohakuVaultException::class)
    fun getStored(key: String): ByteArray? = getStored(key.encodeToByteArray())

    /** The `ByteArray` view of the value (see the class doc, = [getStored]), or null. */
    @Throws(KohakuVaultException::class)
    operator fun get(key: ByteArray): ByteArray? = getStored(key)

    @Throws(KohakuVaultException::class)
    override operator fun get(key: String): ByteArray? = getStored(key.encodeToByteArray())

    /** Stores raw bytes and returns the previous value's `ByteArray` view (two FFI calls; `kv[key] = v` is one). */
    @Throws(KohakuVaultException::class)
    override fun put(key: String, value: ByteArray): ByteArray? = put(key.encodeToByteArray(), value)

    @Throws(KohakuVaultException::class)
    fun put(key: ByteArray, value: ByteArray): ByteArray? {
        val old = get(key)
        set(key, value)
        return old
    }

    /** Deletes the key; true if it existed. */
    @Throws(KohakuVaultException::class)
    fun delete(key: ByteArray): Boolean = core.read { it.delete(Arena.one(key)) }

    @Throws(KohakuVaultException::class)
    fun delete(key: String): Boolean = delete(key.encodeToByteArray())

    /** Atomically reads and deletes; returns the `ByteArray` view of the removed value (as stored), or null. */
    @Throws(KohakuVaultException::class)
    fun remove(key: ByteArray): ByteArray? = core.read { it.pop(Arena.one(key), false) }?.payload

    @Throws(KohakuVaultException::class)
    override fun remove(key: String): ByteArray? = remove(key.encodeToByteArray())

    /** Atomic read-and-delete returning the decoded value, or null. */
    @Throws(KohakuVaultException::class)
    fun pop(key: ByteArray): TaggedValue? = core.read { it.pop(Arena.one(key), true) }?.toFacade()

    @Throws(KohakuVaultException::class)
    fun pop(key: String): TaggedValue? = pop(key.encodeToByteArray())

    @Throws(KohakuVaultException::class)
    fun containsKey(key: ByteArray): Boolean = core.read { it.exists(Arena.one(key)) }

    @Throws(KohakuVaultException::class)
    override fun containsKey(key: String): Boolean = containsKey(key.encodeToByteArray())

    @Throws(KohakuVaultException::class)
    override fun containsValue(value: ByteArray): Boolean = items("").any { it.second.contentEquals(value) }

    /**
     * Stores raw [value] unless the key exists (atomically). Returns null when it stored, else the existing
     * value's `ByteArray` view.
     */
    @Throws(KohakuVaultException::class)
    override fun putIfAbsent(key: String, value: ByteArray): ByteArray? =
        setDefault(key.encodeToByteArray(), TaggedValue.raw(value), decoded = false)?.payload

    /** Returns the existing decoded value, or stores (kind, payload) and returns null. Atomic. */
    @Throws(KohakuVaultException::class)
    fun setDefaultTagged(key: ByteArray, kind: Int, payload: ByteArray): TaggedValue? =
        setDefault(key, TaggedValue(kind, payload), decoded = true)

    /** Returns the existing decoded value, or stores [value] and returns null. Atomic. */
    @Throws(KohakuVaultException::class)
    fun setDefault(key: String, value: TaggedValue): TaggedValue? =
        setDefault(key.encodeToByteArray(), value, decoded = true)

    private fun setDefault(key: ByteArray, value: TaggedValue, decoded: Boolean): TaggedValue? = core.read { store ->
        val a = Arena.get(key.size + value.payload.size)
        store.setdefault(a.view(key), value.kind.toUByte(), a.view(value.payload), decoded)
    }?.toFacade()

    /** Number of entries (one COUNT query, plus pending cache entries). */
    val sizeLong: Long @Throws(KohakuVaultException::class) get() = core.read { it.len() }.toLong()

    override val size: Int @Throws(KohakuVaultException::class) get() =
        sizeLong.coerceAtMost(Int.MAX_VALUE.toLong()).toInt()

    @Throws(KohakuVaultException::class)
    override fun isEmpty(): Boolean = core.scan(null, false, false, 1, 1L).none()

    @Throws(KohakuVaultException::class)
    override fun clear() = core.read { it.clear() }

    @Throws(KohakuVaultException::class)
    override fun putAll(from: Map<out String, ByteArray>) {
        val chunk = LinkedHashMap<String, ByteArray>()
        var bytes = 0L
        for ((k, v) in from) {
            chunk[k] = v
            bytes += 9L + k.length * 3 + v.size
            if (bytes > PUT_ALL_CHUNK) {
                putMany(chunk); chunk.clear(); bytes = 0
            }
        }
        if (chunk.isNotEmpty()) putMany(chunk)
    }

    // ---------------------------------------------------------------- typed reads

    /** A UTF-8 string value, or null if missing. */
    @Throws(KohakuVaultException::class)
    fun getString(key: String): String? = getTagged(key)?.asString()

    /** An int value as a Long (InvalidArgument if it does not fit), or null. */
    @Throws(KohakuVaultException::class)
    fun getLong(key: String): Long? = getTagged(key)?.asLong()

    @Throws(KohakuVaultException::class)
    fun getBigInteger(key: String): java.math.BigInteger? = getTagged(key)?.asBigInteger()

    @Throws(KohakuVaultException::class)
    fun getDouble(key: String): Double? = getTagged(key)?.asDouble()

    @Throws(KohakuVaultException::class)
    fun getBoolean(key: String): Boolean? = getTagged(key)?.asBoolean()

    /** An ndarray (or numpy scalar) value with its dtype and shape, or null. */
    @Throws(KohakuVaultException::class)
    fun getNdArray(key: String): NdArray? = getTagged(key)?.asNdArray()

    /** A float32 array with its shape, or null. InvalidArgument for another dtype. */
    @Throws(KohakuVaultException::class)
    fun getFloatArray(key: String): ShapedArray<FloatArray>? = getNdArray(key)?.toFloatArray()

    @Throws(KohakuVaultException::class)
    fun getDoubleArray(key: String): ShapedArray<DoubleArray>? = getNdArray(key)?.toDoubleArray()

    @Throws(KohakuVaultException::class)
    fun getLongArray(key: String): ShapedArray<LongArray>? = getNdArray(key)?.toLongArray()

    @Throws(KohakuVaultException::class)
    fun getIntArray(key: String): ShapedArray<IntArray>? = getNdArray(key)?.toIntArray()

    /**
     * Any value as a plain Kotlin value: msgpack / json / cbor as [Map] (a [LinkedHashMap]) / [List] / scalars,
     * strings as [String], ints as [Long] (or [java.math.BigInteger]), floats as [Double], bools, arrays as
     * [NdArray], raw bytes as [ByteArray]. Pickle: UnsupportedEncoding. Missing: null (use [containsKey] to tell
     * a stored msgpack nil apart).
     */
    @Throws(KohakuVaultException::class)
    fun getPlain(key: String): Any? = getTagged(key)?.let { Codec.toPlain(it) }

    // ---------------------------------------------------------------- batches (one FFI call each, Batches.kt)

    /** Puts raw values in one atomic transaction (one FFI call). Bypasses and supersedes the cache. */
    @Throws(KohakuVaultException::class)
    fun putMany(items: Map<String, ByteArray>) {
        val staged = StagedItems(items.size)
        for ((k, v) in items) staged.add(Kind.RAW, k.encodeToByteArray(), v)
        core.putMany(staged)
    }

    @JvmName("putManyBytes")
    @Throws(KohakuVaultException::class)
    fun putMany(items: List<Pair<ByteArray, ByteArray>>) {
        val staged = StagedItems(items.size)
        for ((k, v) in items) staged.add(Kind.RAW, k, v)
        core.putMany(staged)
    }

    /** Puts values of any kind (e.g. `TaggedValue.of("text")`) in one atomic transaction. */
    @Throws(KohakuVaultException::class)
    fun putManyTagged(items: Map<String, TaggedValue>) {
        val staged = StagedItems(items.size)
        for ((k, v) in items) staged.add(v.kind, k.encodeToByteArray(), v.payload)
        core.putMany(staged)
    }

    /**
     * Collects puts (all the typed puts of [ValueWriter]) and writes them in one atomic `put_many` when [block]
     * returns; nothing is written if it throws.
     */
    @Throws(KohakuVaultException::class)
    fun <R> batch(block: Batch.() -> R): R {
        val b = Batch()
        val r = b.block()
        core.putMany(b.items)
        return r
    }

    /** The receiver of [batch]. */
    class Batch internal constructor() : ValueWriter {
        internal val items = StagedItems()
        val count: Int get() = items.count

        /** Copies [key] and [payload]: the batch writes them as they are now, even if the caller reuses the arrays. */
        @Throws(KohakuVaultException::class)
        override fun putTagged(key: ByteArray, kind: Int, payload: ByteArray) =
            items.add(kind, key.copyOf(), payload.copyOf())
    }

    /** The `ByteArray` views of [keys] in order (null when missing). One FFI call. */
    @Throws(KohakuVaultException::class)
    fun getMany(keys: List<String>): List<ByteArray?> = getManyBytes(keys.map { it.encodeToByteArray() })

    @Throws(KohakuVaultException::class)
    fun getManyBytes(keys: List<ByteArray>): List<ByteArray?> = core.getMany(keys, decoded = false).map { it?.payload }

    /** The decoded values of [keys] in order (null when missing). One FFI call. */
    @Throws(KohakuVaultException::class)
    fun getManyTagged(keys: List<String>): List<TaggedValue?> =
        core.getMany(keys.map { it.encodeToByteArray() }, decoded = true)

    // ---------------------------------------------------------------- iteration (paged scans, Scans.kt)
    // pageSize <= 0 and limit < 0 raise InvalidArgument when the scan is created.

    /** Keys starting with [prefix], in byte order, decoded as UTF-8. Paged (one FFI call per [pageSize] keys). */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun keys(prefix: String = "", limit: Long? = null, pageSize: Int = 1024): Sequence<String> =
        core.scan(prefix.encodeToByteArray(), false, false, pageSize, limit).map { it.key.decodeToString() }

    /** Binary keys starting with [prefix], in byte order. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun keys(prefix: ByteArray, limit: Long? = null, pageSize: Int = 1024): Sequence<ByteArray> =
        core.scan(prefix, false, false, pageSize, limit).map { it.key }

    /** (key, `ByteArray` view) pairs for keys starting with [prefix], in key order. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun items(prefix: String = "", limit: Long? = null, pageSize: Int = 128): Sequence<Pair<String, ByteArray>> =
        core.scan(prefix.encodeToByteArray(), true, false, pageSize, limit)
            .map { it.key.decodeToString() to it.value!! }

    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun items(prefix: ByteArray, limit: Long? = null, pageSize: Int = 128): Sequence<Pair<ByteArray, ByteArray>> =
        core.scan(prefix, true, false, pageSize, limit).map { it.key to it.value!! }

    /** (key, decoded value) pairs for keys starting with [prefix], in key order. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun itemsTagged(prefix: String = "", limit: Long? = null, pageSize: Int = 128): Sequence<Pair<String, TaggedValue>> =
        core.scan(prefix.encodeToByteArray(), true, true, pageSize, limit)
            .map { it.key.decodeToString() to TaggedValue(it.kind, it.value!!) }

    /** [keys] as an [Iterable] (for Java's for-each); every `iterator()` starts a new scan. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun keysIterable(prefix: String = "", limit: Long? = null, pageSize: Int = 1024): Iterable<String> =
        keys(prefix, limit, pageSize).asIterable()

    /** [keys] as a lazy, ordered [Stream] (read page by page by its terminal operation). */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun keysStream(prefix: String = "", limit: Long? = null, pageSize: Int = 1024): Stream<String> =
        keys(prefix, limit, pageSize).asJavaStream()

    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun keysStream(prefix: ByteArray, limit: Long? = null, pageSize: Int = 1024): Stream<ByteArray> =
        keys(prefix, limit, pageSize).asJavaStream()

    /** [items] as an [Iterable] of entries (key, `ByteArray` view). */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun itemsIterable(prefix: String = "", limit: Long? = null, pageSize: Int = 128): Iterable<Map.Entry<String, ByteArray>> =
        items(prefix, limit, pageSize).map { entryOf(it.first, it.second) }.asIterable()

    /** [items] as a lazy, ordered [Stream] of entries (key, `ByteArray` view). */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun itemsStream(prefix: String = "", limit: Long? = null, pageSize: Int = 128): Stream<Map.Entry<String, ByteArray>> =
        items(prefix, limit, pageSize).map { entryOf(it.first, it.second) }.asJavaStream()

    /** [itemsTagged] as a lazy, ordered [Stream] of entries (key, decoded value). */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun itemsTaggedStream(prefix: String = "", limit: Long? = null, pageSize: Int = 128): Stream<Map.Entry<String, TaggedValue>> =
        itemsTagged(prefix, limit, pageSize).map { entryOf(it.first, it.second) }.asJavaStream()

    override val keys: MutableSet<String> get() = KeyView(this)
    override val values: MutableCollection<ByteArray> get() = ValueView(this)
    override val entries: MutableSet<MutableMap.MutableEntry<String, ByteArray>> get() = EntryView(this)

    // ---------------------------------------------------------------- write-back cache (WriteCombiner.kt)

    /**
     * Enables the core's write-back cache (flushing an existing one first). Without [flushIntervalSecs], single
     * puts are also combined on the Kotlin side (see the class doc). Sizes must be positive (InvalidArgument).
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun enableCache(capBytes: Long = 64L shl 20, flushThreshold: Long = capBytes / 4, flushIntervalSecs: Double? = null) {
        if (capBytes <= 0 || flushThreshold <= 0) {
            throw KohakuVaultException.InvalidArgument("cache sizes must be positive")
        }
        core.ensureOpen()
        core.lock.withLock {
            core.combiner.drainLocked()
            core.call { it.enableCache(capBytes.toULong(), flushThreshold.toULong(), flushIntervalSecs) }
            core.combiner.cacheChanged(true, flushIntervalSecs, capBytes, flushThreshold)
        }
    }

    /** Flushes and removes the cache. */
    @Throws(KohakuVaultException::class)
    fun disableCache() {
        core.ensureOpen()
        core.lock.withLock {
            core.combiner.drainLocked()
            core.call { it.disableCache() }
            core.combiner.cacheChanged(false, null, 0, 0)
        }
    }

    /** Commits pending cache entries; returns how many (0 while locked). */
    @Throws(KohakuVaultException::class)
    fun flushCache(): Long = core.read { it.flushCache() }.toLong()

    /**
     * Runs [block] with a write-back cache of [capBytes] enabled, then flushes (if [autoFlush]) and disables it
     * (kohakuvault's `with vault.cache():`; a previously enabled cache is not restored).
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun <R> cache(capBytes: Long = 64L shl 20, flushThreshold: Long = capBytes / 4, autoFlush: Boolean = true,
                  block: KVault.() -> R): R {
        enableCache(capBytes, flushThreshold)
        var ok = false
        try {
            val r = block()
            ok = true
            return r
        } finally {
            if (ok) {
                if (autoFlush) flushCache()
                disableCache()
            } else {
                try { disableCache() } catch (_: Throwable) { }
            }
        }
    }

    /**
     * Runs [block] with cache flushing suppressed (nestable). Buffered puts that fit stay pending; puts that need a
     * flush, batch writes and [close] raise Busy meanwhile.
     */
    @Throws(KohakuVaultException::class)
    fun <R> lockCache(block: KVault.() -> R): R {
        core.ensureOpen()
        core.lock.withLock {
            core.combiner.drainLocked()
            if (core.combiner.lockChanged(+1) == 1) {
                try {
                    vaultCall { core.store.setCacheLocked(true) }
                } catch (t: Throwable) {
                    core.combiner.lockChanged(-1); throw t
                }
            }
        }
        try {
            return block()
        } finally {
            core.lock.withLock {
                if (core.combiner.lockChanged(-1) == 0 && !core.closed) vaultCall { core.store.setCacheLocked(false) }
            }
        }
    }

    @Throws(KohakuVaultException::class)
    fun cacheStats(): CacheStats {
        val s = core.call { it.cacheStats() }
        return CacheStats(s.pendingEntries.toLong(), s.inflightEntries.toLong(), s.bufferedBytes.toLong(), s.enabled,
            s.locked, s.capBytes.toLong(), s.flushThreshold.toLong(), core.combiner.count())
    }

    /** The last background flush error, or null. */
    @Throws(KohakuVaultException::class)
    fun backgroundFlushError(): String? = core.call { it.backgroundFlushError() }

    // ---------------------------------------------------------------- streaming (Streams.kt)

    /**
     * Streams exactly [size] bytes from [input] into [key] as a raw value, in chunks of [chunkSize]; the value is
     * published atomically at the end (a failure keeps the old value). Fewer bytes in [input] → InvalidArgument
     * ("short write", reported by the core).
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun putStream(key: String, input: InputStream, size: Long, chunkSize: Int = DEFAULT_CHUNK) =
        core.putStream(key.encodeToByteArray(), input, size, chunkSize)

    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun putStream(key: ByteArray, input: InputStream, size: Long, chunkSize: Int = DEFAULT_CHUNK) =
        core.putStream(key, input, size, chunkSize)

    /**
     * Streams the stored bytes of [key] (header included, as [getStored]) to [output] in chunks, from one
     * consistent snapshot. Returns the number of bytes written; NotFound if the key is missing.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun getStream(key: String, output: OutputStream, chunkSize: Int = DEFAULT_CHUNK): Long =
        core.getStream(key.encodeToByteArray(), output, chunkSize)

    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun getStream(key: ByteArray, output: OutputStream, chunkSize: Int = DEFAULT_CHUNK): Long =
        core.getStream(key, output, chunkSize)

    // ---------------------------------------------------------------- maintenance

    @Throws(KohakuVaultException::class)
    fun registerFeature(feature: String) = core.call { it.registerFeature(feature) }

    @Throws(KohakuVaultException::class)
    fun features(): List<String> = core.call { it.features() }

    /** PRAGMA wal_checkpoint(PASSIVE). */
    @Throws(KohakuVaultException::class)
    fun checkpoint() = core.read { it.checkpoint() }

    /** PRAGMA optimize; VACUUM. */
    @Throws(KohakuVaultException::class)
    fun optimize() = core.read { it.optimize() }

    /** PRAGMA integrity_check of the whole file: `["ok"]` when sound, else SQLite's messages. */
    @Throws(KohakuVaultException::class)
    fun integrityCheck(): List<String> = core.read { it.integrityCheck() }

    /** The file's user tables (every vault's, not only this one's). */
    @Throws(KohakuVaultException::class)
    fun tables(): List<String> = core.read { it.tables() }

    @Throws(KohakuVaultException::class)
    fun readerPoolStats(): ReaderPoolStats =
        core.call { it.readerPoolStats() }.let { ReaderPoolStats(it.idleConnections.toLong(), it.sqliteCacheBytes.toLong()) }

    /** Interrupts a running query from another thread (it fails with Interrupted). */
    @Throws(KohakuVaultException::class)
    fun interrupt() = core.call { it.interrupt() }

    /**
     * Hands over buffered puts, flushes the cache, checkpoints and closes. Idempotent. If the final flush fails
     * (e.g. Busy inside [lockCache]) the vault stays open and close can be retried.
     */
    @Throws(KohakuVaultException::class)
    override fun close() {
        core.close()
        cleanable.clean()
    }

    override fun toString(): String = "KVault('$path', table=$table, status=${if (isClosed) "closed" else "open"})"

    companion object {
        private const val PUT_ALL_CHUNK = 32L shl 20
        const val DEFAULT_CHUNK = 1 shl 20

        /** This package's version (the Maven artifact's); always equal to [coreVersion]. */
        @JvmStatic
        val version: String by lazy {
            val p = java.util.Properties()
            KVault::class.java.getResourceAsStream("version.properties")?.use { p.load(it) }
            p.getProperty("version") ?: "unknown"
        }

        /** Version of the Rust core. */
        @JvmStatic
        fun coreVersion(): String = Codec.coreVersion()

        /** Opens [path], runs [block] and closes. */
        @JvmStatic @JvmOverloads
        @Throws(KohakuVaultException::class)
        fun <R> open(path: String, table: String = "kv", options: OpenOptions = OpenOptions(), block: (KVault) -> R): R =
            KVault(path, table, options).use(block)
    }
}
