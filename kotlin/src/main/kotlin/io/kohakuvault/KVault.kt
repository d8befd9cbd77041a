package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.FastPath
import io.kohakuvault.internal.ItemsBuffer
import io.kohakuvault.internal.StagedItems
import io.kohakuvault.internal.getBytes
import io.kohakuvault.internal.leReader
import io.kohakuvault.internal.packKeys
import io.kohakuvault.internal.u32
import io.kohakuvault.uniffi.KvStore
import io.kohakuvault.uniffi.ScanRequest
import java.io.InputStream
import java.io.OutputStream
import java.lang.ref.Cleaner
import java.nio.ByteBuffer
import java.nio.channels.Channels
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock

/**
 * A key-value vault in one SQLite file (kohakuvault's `KVault`), backed by the Rust core's `KvStore`.
 *
 * **The map view.** `KVault` is a `MutableMap<String, ByteArray>`: string keys are UTF-8 encoded, and every member
 * also has a `ByteArray`-key overload. The `ByteArray` view of a value is: raw bytes as they were put; any other value
 * (a string, int, msgpack map, pickle, ... written by a typed put or by another language) as its stored encoding,
 * header included (the same bytes as [getStored]). Typed accessors ([getString], [getLong], [getPlain], ...) decode.
 * `kv[key] = bytes` is one FFI call; `put(key, bytes)` also fetches the previous value as the `Map` contract asks.
 * [keys], [values] and [entries] are live views backed by paged scans; `equals`/`hashCode` are identity.
 *
 * **Costs.** Every FFI call costs tens of microseconds on the JVM (JNA), so batch: [putMany] / [getMany] / [batch]
 * cross once for the whole batch, scans cross once per page. While a cache is enabled ([cache], [enableCache],
 * without a flush interval) single puts are combined on the Kotlin side and handed to the core's write-back cache
 * in runs (`cache_put_many`): every other operation first hands over what is buffered, so reads always see earlier
 * writes, and [close] (or garbage collection of an unclosed vault) hands it over before closing. With a combiner,
 * an error of a buffered put (e.g. the cache locked and full) is raised by the next operation.
 *
 * Thread-safe. Always [close] (or use `use {}`).
 */
class KVault @JvmOverloads constructor(
    path: String,
    table: String = "kv",
    options: OpenOptions = OpenOptions(),
) : MutableMap<String, ByteArray>, ValueWriter, AutoCloseable {

    private val core: Core = Core(vaultCall { KvStore(path, table, options.toFfi()) })
    private val cleanable: Cleaner.Cleanable = CLEANER.register(this, core)
    private val store: KvStore get() = core.store

    /** The state shared with the cleaner; it must not reference the [KVault]. */
    private class Core(val store: KvStore) : Runnable {
        val lock = ReentrantLock()
        val fastHandle: Long = try { store.fastHandle().toLong() } catch (_: Throwable) { 0L }
        private val combiner = ItemsBuffer(16 shl 10)

        @Volatile var pending = 0
        @Volatile var combine = false
        @Volatile var closed = false
        var combinable = false          // guarded by lock
        var lockDepth = 0               // guarded by lock
        var combineLimit = 1 shl 20     // guarded by lock

        fun ensureOpen() {
            if (closed) throw KohakuVaultException.Closed("KVault is closed")
        }

        /** Hands the buffered puts to the core. */
        fun drain() {
            if (pending == 0) return
            lock.withLock { drainLocked() }
        }

        fun drainLocked() {
            if (combiner.count == 0) return
            try {
                vaultCall { store.cachePutMany(combiner.view()) }
            } finally {
                combiner.reset()
                pending = 0
            }
        }

        /** Buffers one put if combining is on; false when the caller must send it itself. */
        fun offer(kind: Int, key: ByteArray, payload: ByteArray): Boolean {
            if (!combine) return false
            val size = 9L + key.size + payload.size
            lock.withLock {
                if (!combine || size > combineLimit) return false
                if (combiner.bytes + size > combineLimit || combiner.count >= MAX_COMBINED) drainLocked()
                combiner.add(kind, key, payload)
                pending = combiner.count
            }
            return true
        }

        fun updateCombine() {
            combine = combinable && lockDepth == 0
        }

        fun bufferedCount(): Int = lock.withLock { combiner.count }

        fun close() {
            lock.withLock {
                if (closed) return
                var err: Throwable? = null
                try {
                    drainLocked()
                } catch (t: Throwable) {
                    err = t
                }
                vaultCall { store.closeStore() }
                closed = true
                combine = false
                store.destroy()
                err?.let { throw it }
            }
        }

        /** The cleaner: a vault dropped without close() still hands over its buffer and closes. */
        override fun run() {
            lock.withLock {
                if (!closed) {
                    try { drainLocked() } catch (_: Throwable) { }
                    try { store.closeStore() } catch (_: Throwable) { }
                    closed = true
                }
            }
            store.destroy()
        }
    }

    private inline fun <T> call(block: () -> T): T {
        core.ensureOpen()
        return vaultCall(block)
    }

    private inline fun <T> read(block: () -> T): T {
        core.ensureOpen()
        core.drain()
        return vaultCall(block)
    }

    // ---------------------------------------------------------------- properties

    /** The path this vault was opened with. */
    val path: String = vaultCall { store.path() }

    /** The table name. */
    val table: String = vaultCall { store.table() }

    /** Whether the vault was opened read-only. */
    val isReadOnly: Boolean = vaultCall { store.readOnly() }

    val isClosed: Boolean get() = core.closed

    /** Whether non-raw values are stored behind the 10-byte header (default true). */
    var headersEnabled: Boolean
        get() = call { store.headersEnabled() }
        set(value) = call { core.drain(); store.setHeadersEnabled(value) }

    // ---------------------------------------------------------------- point operations

    override fun putTagged(key: ByteArray, kind: Int, payload: ByteArray) {
        core.ensureOpen()
        if (kind !in 0..255) throw KohakuVaultException.InvalidArgument("kind must be 0..255")
        if (core.offer(kind, key, payload)) return
        core.drain()
        vaultCall {
            val a = Arena.get(key.size + payload.size)
            store.put(a.view(key), kind.toUByte(), a.view(payload))
        }
    }

    /** The decoded value: kind and payload (see [VaultValue]), or null. */
    fun getTagged(key: ByteArray): VaultValue? {
        core.ensureOpen()
        core.drain()
        val hit = FastPath.get(core.fastHandle, key)
        if (hit === FastPath.MISSING) return null
        if (hit !== FastPath.FALLBACK) return VaultValue(hit.kind, hit.payload)
        return vaultCall { store.get(Arena.one(key)) }?.let { VaultValue(it.kind.toInt(), it.payload) }
    }

    fun getTagged(key: String): VaultValue? = getTagged(key.encodeToByteArray())

    /**
     * The stored bytes as kohakuvault 1.1.0 returns them with auto-pack off (header included; the core removes
     * only its own raw-escape header, so raw values come back exactly as put), or null. This is the `ByteArray`
     * view of the value.
     */
    fun getStored(key: ByteArray): ByteArray? = read { store.getStored(Arena.one(key)) }

    fun getStored(key: String): ByteArray? = getStored(key.encodeToByteArray())

    /** The `ByteArray` view of the value (see the class doc), or null. One FFI call for raw values. */
    operator fun get(key: ByteArray): ByteArray? {
        core.ensureOpen()
        core.drain()
        val hit = FastPath.get(core.fastHandle, key)
        if (hit === FastPath.MISSING) return null
        if (hit !== FastPath.FALLBACK && hit.kind == Kind.RAW) return hit.payload
        return getStored(key)
    }

    override operator fun get(key: String): ByteArray? = get(key.encodeToByteArray())

    /** Stores raw bytes and returns the previous value's `ByteArray` view (two FFI calls; `kv[key] = v` is one). */
    override fun put(key: String, value: ByteArray): ByteArray? = put(key.encodeToByteArray(), value)

    fun put(key: ByteArray, value: ByteArray): ByteArray? {
        val old = get(key)
        set(key, value)
        return old
    }

    /** Deletes the key; true if it existed. */
    fun delete(key: ByteArray): Boolean = read { store.delete(Arena.one(key)) }

    fun delete(key: String): Boolean = delete(key.encodeToByteArray())

    /**
     * Atomically reads and deletes; returns the `ByteArray` view of the removed value (for a non-raw value, its
     * encoding as the core writes it now), or null.
     */
    fun remove(key: ByteArray): ByteArray? {
        val v = read { store.pop(Arena.one(key)) } ?: return null
        return if (v.kind.toInt() == Kind.RAW) v.payload else Codec.encode(v.kind.toInt(), v.payload, true)
    }

    override fun remove(key: String): ByteArray? = remove(key.encodeToByteArray())

    /** Atomic read-and-delete returning the decoded value, or null. */
    fun pop(key: String): VaultValue? =
        read { store.pop(Arena.one(key.encodeToByteArray())) }?.let { VaultValue(it.kind.toInt(), it.payload) }

    fun containsKey(key: ByteArray): Boolean = read { store.exists(Arena.one(key)) }

    override fun containsKey(key: String): Boolean = containsKey(key.encodeToByteArray())

    override fun containsValue(value: ByteArray): Boolean = items("").any { it.second.contentEquals(value) }

    /**
     * Stores raw [value] unless the key exists (atomically). Returns null when it stored, else the existing
     * value's `ByteArray` view.
     */
    override fun putIfAbsent(key: String, value: ByteArray): ByteArray? {
        val kb = key.encodeToByteArray()
        val existing = setDefaultTagged(kb, Kind.RAW, value) ?: return null
        return if (existing.kind == Kind.RAW) existing.payload else getStored(kb)
    }

    /** Returns the existing decoded value, or stores (kind, payload) and returns null. Atomic. */
    fun setDefaultTagged(key: ByteArray, kind: Int, payload: ByteArray): VaultValue? = read {
        val a = Arena.get(key.size + payload.size)
        store.setdefault(a.view(key), kind.toUByte(), a.view(payload))
    }?.let { VaultValue(it.kind.toInt(), it.payload) }

    /** Number of entries (one COUNT query, plus pending cache entries). */
    val sizeLong: Long get() = read { store.len() }.toLong()

    override val size: Int get() = sizeLong.coerceAtMost(Int.MAX_VALUE.toLong()).toInt()

    override fun isEmpty(): Boolean = scanPages(null, false, false, 1, 1L).none()

    override fun clear() = read { store.clear() }

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
    fun getString(key: String): String? = getTagged(key)?.asString()

    /** An int value as a Long (InvalidArgument if it does not fit), or null. */
    fun getLong(key: String): Long? = getTagged(key)?.asLong()

    fun getBigInteger(key: String): java.math.BigInteger? = getTagged(key)?.asBigInteger()

    fun getDouble(key: String): Double? = getTagged(key)?.asDouble()

    fun getBoolean(key: String): Boolean? = getTagged(key)?.asBoolean()

    /** An ndarray (or numpy scalar) value with its dtype and shape, or null. */
    fun getNdArray(key: String): NdArray? = getTagged(key)?.asNdArray()

    /** A float32 array with its shape, or null. InvalidArgument for another dtype. */
    fun getFloatArray(key: String): ShapedArray<FloatArray>? = getNdArray(key)?.toFloatArray()

    fun getDoubleArray(key: String): ShapedArray<DoubleArray>? = getNdArray(key)?.toDoubleArray()

    fun getLongArray(key: String): ShapedArray<LongArray>? = getNdArray(key)?.toLongArray()

    fun getIntArray(key: String): ShapedArray<IntArray>? = getNdArray(key)?.toIntArray()

    /**
     * Any value as a plain Kotlin value: msgpack / json / cbor as [Map] (a [LinkedHashMap]) / [List] / scalars,
     * strings as [String], ints as [Long] (or [java.math.BigInteger]), floats as [Double], bools, arrays as
     * [NdArray], raw bytes as [ByteArray]. Pickle: UnsupportedEncoding. Missing: null (use [containsKey] to tell
     * a stored msgpack nil apart).
     */
    fun getPlain(key: String): Any? = getTagged(key)?.let { Codec.toPlain(it) }

    // ---------------------------------------------------------------- batches (one FFI call each)

    /** Puts raw values in one atomic transaction (one FFI call). Bypasses and supersedes the cache. */
    fun putMany(items: Map<String, ByteArray>) {
        val staged = StagedItems(items.size)
        for ((k, v) in items) staged.add(Kind.RAW, k.encodeToByteArray(), v)
        commitItems(staged.pack())
    }

    @JvmName("putManyBytes")
    fun putMany(items: List<Pair<ByteArray, ByteArray>>) {
        val staged = StagedItems(items.size)
        for ((k, v) in items) staged.add(Kind.RAW, k, v)
        commitItems(staged.pack())
    }

    /** Puts values of any kind (e.g. `VaultValue.of("text")`) in one atomic transaction. */
    @JvmName("putManyTagged")
    fun putManyTagged(items: Map<String, VaultValue>) {
        val staged = StagedItems(items.size)
        for ((k, v) in items) staged.add(v.kind, k.encodeToByteArray(), v.payload)
        commitItems(staged.pack())
    }

    /** Hands a packed items buffer (direct, position 0) to `put_many`. */
    private fun commitItems(packed: ByteBuffer) = read { store.putMany(packed) }

    /**
     * Collects puts (all the typed puts of [ValueWriter]) and writes them in one atomic `put_many` when [block]
     * returns; nothing is written if it throws.
     */
    fun <R> batch(block: Batch.() -> R): R {
        val b = Batch()
        val r = b.block()
        if (b.items.count > 0) commitItems(b.items.pack())
        return r
    }

    /** The receiver of [batch]. */
    class Batch internal constructor() : ValueWriter {
        internal val items = StagedItems()
        val count: Int get() = items.count

        /** Copies [key] and [payload]: the batch writes them as they are now, even if the caller reuses the arrays. */
        override fun putTagged(key: ByteArray, kind: Int, payload: ByteArray) {
            if (kind !in 0..255) throw KohakuVaultException.InvalidArgument("kind must be 0..255")
            items.add(kind, key.copyOf(), payload.copyOf())
        }
    }

    /** The `ByteArray` views of [keys] in order (null when missing). One FFI call. */
    fun getMany(keys: List<String>): List<ByteArray?> = getManyBytes(keys.map { it.encodeToByteArray() })

    @JvmName("getManyBytes")
    fun getManyBytes(keys: List<ByteArray>): List<ByteArray?> {
        if (keys.isEmpty()) { core.ensureOpen(); return emptyList() }
        val r = leReader(read { store.getManyStored(packKeys(keys)) })
        val out = ArrayList<ByteArray?>(keys.size)
        repeat(keys.size) {
            val status = r.get().toInt() and 0xFF
            val len = r.u32()
            out.add(if (status == MISSING) null else r.getBytes(len))
        }
        return out
    }

    /** The decoded values of [keys] in order (null when missing). One FFI call. */
    fun getManyTagged(keys: List<String>): List<VaultValue?> {
        if (keys.isEmpty()) { core.ensureOpen(); return emptyList() }
        val r = leReader(read { store.getMany(packKeys(keys.map { it.encodeToByteArray() })) })
        val out = ArrayList<VaultValue?>(keys.size)
        repeat(keys.size) {
            val status = r.get().toInt() and 0xFF
            val len = r.u32()
            out.add(if (status == MISSING) null else VaultValue(status, r.getBytes(len)))
        }
        return out
    }

    // ---------------------------------------------------------------- iteration (paged scans)

    private class ScanEntry(val key: ByteArray, val kind: Int, val value: ByteArray?)

    private fun scanPages(prefix: ByteArray?, withValues: Boolean, decoded: Boolean, pageSize: Int, limit: Long?):
        Sequence<ScanEntry> {
        require(pageSize > 0) { "pageSize must be positive" }
        if (limit != null && limit < 0) throw KohakuVaultException.InvalidArgument("limit must not be negative")
        val pfx = prefix?.takeIf { it.isNotEmpty() }
        return sequence {
            var after: ByteArray? = null
            var left = limit ?: Long.MAX_VALUE
            while (left > 0) {
                val want = minOf(pageSize.toLong(), left).toInt()
                val page = read { store.scan(ScanRequest(pfx, after, want.toUInt(), withValues, decoded)) }
                val r = leReader(page)
                var n = 0
                var last: ByteArray? = null
                while (r.hasRemaining()) {
                    val key = r.getBytes(r.u32())
                    var kind = 0
                    var value: ByteArray? = null
                    if (withValues) {
                        kind = r.get().toInt() and 0xFF
                        value = r.getBytes(r.u32())
                    }
                    n++
                    last = key
                    yield(ScanEntry(key, kind, value))
                }
                left -= n
                if (n < want || last == null) break
                after = last
            }
        }
    }

    /** Keys starting with [prefix], in byte order, decoded as UTF-8. Paged (one FFI call per [pageSize] keys). */
    @JvmOverloads
    fun keys(prefix: String = "", limit: Long? = null, pageSize: Int = 1024): Sequence<String> =
        scanPages(prefix.encodeToByteArray(), false, false, pageSize, limit).map { it.key.decodeToString() }

    /** Binary keys starting with [prefix], in byte order. */
    @JvmOverloads
    fun keys(prefix: ByteArray, limit: Long? = null, pageSize: Int = 1024): Sequence<ByteArray> =
        scanPages(prefix, false, false, pageSize, limit).map { it.key }

    /** (key, `ByteArray` view) pairs for keys starting with [prefix], in key order. */
    @JvmOverloads
    fun items(prefix: String = "", limit: Long? = null, pageSize: Int = 128): Sequence<Pair<String, ByteArray>> =
        scanPages(prefix.encodeToByteArray(), true, false, pageSize, limit)
            .map { it.key.decodeToString() to it.value!! }

    @JvmOverloads
    fun items(prefix: ByteArray, limit: Long? = null, pageSize: Int = 128): Sequence<Pair<ByteArray, ByteArray>> =
        scanPages(prefix, true, false, pageSize, limit).map { it.key to it.value!! }

    /** (key, decoded value) pairs for keys starting with [prefix], in key order. */
    @JvmOverloads
    fun itemsTagged(prefix: String = "", limit: Long? = null, pageSize: Int = 128): Sequence<Pair<String, VaultValue>> =
        scanPages(prefix.encodeToByteArray(), true, true, pageSize, limit)
            .map { it.key.decodeToString() to VaultValue(it.kind, it.value!!) }

    override val keys: MutableSet<String> get() = KeyView()
    override val values: MutableCollection<ByteArray> get() = ValueView()
    override val entries: MutableSet<MutableMap.MutableEntry<String, ByteArray>> get() = EntryView()

    private class RemovingIterator<T>(private val it: Iterator<T>, private val keyOf: (T) -> String,
                                      private val del: (String) -> Boolean) : MutableIterator<T> {
        private var last: T? = null
        private var has = false
        override fun hasNext() = it.hasNext()
        override fun next(): T = it.next().also { last = it; has = true }
        override fun remove() {
            check(has) { "next() has not been called" }
            has = false
            @Suppress("UNCHECKED_CAST")
            del(keyOf(last as T))
        }
    }

    private inner class KeyView : AbstractMutableSet<String>() {
        override val size: Int get() = this@KVault.size
        override fun isEmpty() = this@KVault.isEmpty()
        override fun add(element: String): Boolean = throw UnsupportedOperationException("add a key with a value")
        override fun contains(element: String) = containsKey(element)
        override fun remove(element: String) = delete(element)
        override fun clear() = this@KVault.clear()
        override fun iterator(): MutableIterator<String> =
            RemovingIterator(keys("").iterator(), { it }, { delete(it) })
    }

    private inner class ValueView : AbstractMutableCollection<ByteArray>() {
        override val size: Int get() = this@KVault.size
        override fun isEmpty() = this@KVault.isEmpty()
        override fun add(element: ByteArray): Boolean = throw UnsupportedOperationException("add a value with a key")
        override fun clear() = this@KVault.clear()
        override fun iterator(): MutableIterator<ByteArray> {
            val it = items("").iterator()
            var lastKey: String? = null
            return object : MutableIterator<ByteArray> {
                override fun hasNext() = it.hasNext()
                override fun next(): ByteArray = it.next().let { (k, v) -> lastKey = k; v }
                override fun remove() {
                    delete(checkNotNull(lastKey) { "next() has not been called" }); lastKey = null
                }
            }
        }
    }

    private inner class Entry(override val key: String, private var v: ByteArray) :
        MutableMap.MutableEntry<String, ByteArray> {
        override val value: ByteArray get() = v
        override fun setValue(newValue: ByteArray): ByteArray {
            val old = v
            set(key, newValue)
            v = newValue
            return old
        }
        override fun equals(other: Any?) = other is Map.Entry<*, *> && other.key == key && other.value === v
        override fun hashCode() = key.hashCode() xor System.identityHashCode(v)
        override fun toString() = "$key=${v.size} bytes"
    }

    private inner class EntryView : AbstractMutableSet<MutableMap.MutableEntry<String, ByteArray>>() {
        override val size: Int get() = this@KVault.size
        override fun isEmpty() = this@KVault.isEmpty()
        override fun add(element: MutableMap.MutableEntry<String, ByteArray>): Boolean {
            set(element.key, element.value); return true
        }
        override fun clear() = this@KVault.clear()
        override fun contains(element: MutableMap.MutableEntry<String, ByteArray>): Boolean =
            get(element.key)?.contentEquals(element.value) == true
        override fun remove(element: MutableMap.MutableEntry<String, ByteArray>): Boolean =
            contains(element) && delete(element.key)
        override fun iterator(): MutableIterator<MutableMap.MutableEntry<String, ByteArray>> =
            RemovingIterator(items("").map { (k, v) -> Entry(k, v) as MutableMap.MutableEntry<String, ByteArray> }
                .iterator(), { it.key }, { delete(it) })
    }

    // ---------------------------------------------------------------- write-back cache

    /**
     * Enables the core's write-back cache (flushing an existing one first). Without [flushIntervalSecs], single
     * puts are also combined on the Kotlin side (see the class doc).
     */
    @JvmOverloads
    fun enableCache(capBytes: Long = 64L shl 20, flushThreshold: Long = capBytes / 4, flushIntervalSecs: Double? = null) {
        if (capBytes <= 0 || flushThreshold <= 0) throw KohakuVaultException.InvalidArgument("cache sizes must be positive")
        core.ensureOpen()
        core.lock.withLock {
            core.drainLocked()
            vaultCall { store.enableCache(capBytes.toULong(), flushThreshold.toULong(), flushIntervalSecs) }
            core.combinable = flushIntervalSecs == null
            core.combineLimit = minOf(minOf(flushThreshold, capBytes), COMBINE_LIMIT.toLong()).toInt()
            core.updateCombine()
        }
    }

    /** Flushes and removes the cache. */
    fun disableCache() {
        core.ensureOpen()
        core.lock.withLock {
            core.drainLocked()
            vaultCall { store.disableCache() }
            core.combinable = false
            core.updateCombine()
        }
    }

    /** Commits pending cache entries; returns how many (0 while locked). */
    fun flushCache(): Long = read { store.flushCache() }.toLong()

    /**
     * Runs [block] with a write-back cache of [capBytes] enabled, then flushes (if [autoFlush]) and disables it
     * (kohakuvault's `with vault.cache():`; a previously enabled cache is not restored).
     */
    @JvmOverloads
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
    fun <R> lockCache(block: KVault.() -> R): R {
        core.ensureOpen()
        core.lock.withLock {
            core.drainLocked()
            if (core.lockDepth == 0) vaultCall { store.setCacheLocked(true) }
            core.lockDepth++
            core.updateCombine()
        }
        try {
            return block()
        } finally {
            core.lock.withLock {
                core.lockDepth--
                if (core.lockDepth == 0 && !core.closed) vaultCall { store.setCacheLocked(false) }
                core.updateCombine()
            }
        }
    }

    fun cacheStats(): CacheStats {
        val s = call { store.cacheStats() }
        return CacheStats(s.pendingEntries.toLong(), s.inflightEntries.toLong(), s.bufferedBytes.toLong(), s.enabled,
            s.locked, s.capBytes.toLong(), s.flushThreshold.toLong(), core.bufferedCount())
    }

    /** The last background flush error, or null. */
    fun backgroundFlushError(): String? = call { store.backgroundFlushError() }

    // ---------------------------------------------------------------- streaming

    /**
     * Streams exactly [size] bytes from [input] into [key] as a raw value, in chunks of [chunkSize]; the value is
     * published atomically at the end (a failure keeps the old value). Fewer bytes in [input] → Io ("short write").
     */
    @JvmOverloads
    fun putStream(key: String, input: InputStream, size: Long, chunkSize: Int = DEFAULT_CHUNK) =
        putStream(key.encodeToByteArray(), input, size, chunkSize)

    @JvmOverloads
    fun putStream(key: ByteArray, input: InputStream, size: Long, chunkSize: Int = DEFAULT_CHUNK) {
        if (size < 0) throw KohakuVaultException.InvalidArgument("size must not be negative")
        if (chunkSize <= 0) throw KohakuVaultException.InvalidArgument("chunk_size must be positive")
        val ps = read { store.putStream(Arena.one(key), size.toULong()) }
        try {
            val ch = Channels.newChannel(input)
            val buf = ByteBuffer.allocateDirect(minOf(chunkSize.toLong(), maxOf(size, 1L)).toInt())
            var left = size
            while (left > 0) {
                buf.clear()
                if (left < buf.capacity()) buf.limit(left.toInt())
                while (buf.hasRemaining()) {
                    if (ch.read(buf) < 0) break
                }
                val n = buf.position()
                if (n == 0) throw KohakuVaultException.Io("short write: wrote ${size - left} of $size bytes")
                buf.flip()
                vaultCall { ps.write(buf) }
                left -= n
            }
            vaultCall { ps.finish() }
        } catch (t: Throwable) {
            try { ps.abort() } catch (_: Throwable) { }
            throw t
        } finally {
            ps.destroy()
        }
    }

    /**
     * Streams the stored bytes of [key] (header included, as [getStored]) to [output] in chunks, from one
     * consistent snapshot. Returns the number of bytes written; NotFound if the key is missing.
     */
    @JvmOverloads
    fun getStream(key: String, output: OutputStream, chunkSize: Int = DEFAULT_CHUNK): Long =
        getStream(key.encodeToByteArray(), output, chunkSize)

    @JvmOverloads
    fun getStream(key: ByteArray, output: OutputStream, chunkSize: Int = DEFAULT_CHUNK): Long {
        if (chunkSize <= 0) throw KohakuVaultException.InvalidArgument("chunk_size must be positive")
        val gs = read { store.getStream(Arena.one(key)) }
        try {
            val fh = if (chunkSize <= FastPath.MAX_FAST) vaultCall { gs.fastHandle() }.toLong() else 0L
            var total = 0L
            while (true) {
                val chunk = FastPath.streamRead(fh, chunkSize) ?: vaultCall { gs.read(chunkSize.toUInt()) }
                if (chunk.isEmpty()) break
                output.write(chunk)
                total += chunk.size
            }
            return total
        } finally {
            try { gs.closeStream() } catch (_: Throwable) { }
            gs.destroy()
        }
    }

    // ---------------------------------------------------------------- maintenance

    fun registerFeature(feature: String) = call { store.registerFeature(feature) }

    fun features(): List<String> = call { store.features() }

    /** PRAGMA wal_checkpoint(PASSIVE). */
    fun checkpoint() = read { store.checkpoint() }

    /** PRAGMA optimize; VACUUM. */
    fun optimize() = read { store.optimize() }

    fun readerPoolStats(): ReaderPoolStats =
        call { store.readerPoolStats() }.let { ReaderPoolStats(it.idleConnections.toLong(), it.sqliteCacheBytes.toLong()) }

    /** Interrupts a running query from another thread (it fails with Interrupted). */
    fun interrupt() = call { store.interrupt() }

    /**
     * Hands over buffered puts, flushes the cache, checkpoints and closes. Idempotent. If the final flush fails
     * (e.g. Busy inside [lockCache]) the vault stays open and close can be retried.
     */
    override fun close() {
        core.close()
        cleanable.clean()
    }

    override fun toString(): String = "KVault('$path', table=$table, status=${if (isClosed) "closed" else "open"})"

    companion object {
        private val CLEANER: Cleaner = Cleaner.create()
        private const val MISSING = 0xFF
        private const val MAX_COMBINED = 8192
        private const val COMBINE_LIMIT = 1 shl 20
        private const val PUT_ALL_CHUNK = 32L shl 20
        const val DEFAULT_CHUNK = 1 shl 20

        /** Version of the Rust core. */
        @JvmStatic
        fun coreVersion(): String = Codec.coreVersion()

        /** Opens [path], runs [block] and closes. */
        @JvmStatic @JvmOverloads
        fun <R> open(path: String, table: String = "kv", options: OpenOptions = OpenOptions(), block: (KVault) -> R): R =
            KVault(path, table, options).use(block)
    }
}
