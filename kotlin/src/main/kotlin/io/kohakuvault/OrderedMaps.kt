package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.EMPTY_BYTES
import io.kohakuvault.internal.MAX_BATCH_BYTES
import io.kohakuvault.internal.OrderedFastPath
import io.kohakuvault.internal.batchTooLarge
import io.kohakuvault.uniffi.Neighbor
import io.kohakuvault.uniffi.OrderedBatch
import io.kohakuvault.uniffi.OrderedKind
import io.kohakuvault.uniffi.OrderedRange
import io.kohakuvault.uniffi.OrderedStore
import java.nio.ByteBuffer
import java.util.NavigableMap
import java.util.NavigableSet
import java.util.SortedMap
import java.util.SortedSet
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong

/*
 * CSBTree and SkipList (kohakuvault 1.1.0's in-memory ordered containers, docs/FORMAT.md §9): the containers live in
 * the Rust core (`OrderedStore`), ordered there; values never cross. The facade keeps each value in its own handle
 * table under a handle (a per-container counter, never reused) and gives the core the handle; the core hands handles
 * back when it replaces, removes or clears entries, and the facade then drops them. So a value lives exactly as long
 * as the container holds it.
 *
 * Every operation is one crossing: single keys through the C fast path (§9.4), ranges, neighbours and iteration pages
 * (1024 entries each) through its page entry points (`ord_fast_range`, `ord_fast_neighbor`: entry pages, §9.3), with
 * the UDL call as the fallback that raises the typed error; batches are one UDL call with key pages (§9.2), and a
 * view's size one `count_range`.
 */

// ================================================================================================ the engine

/** The handle table's stand-in for a null value. */
private object NullValue

/** A key found by a navigation call, with its value (raw: [NullValue] for null) when it was asked for. */
internal class Found<K : Any>(val key: K, val raw: Any?)

/** A key range in the natural (ascending) order; a null bound is unbounded (its inclusive flag is then unused). */
internal class KeyBounds<K : Any>(val lo: K?, val loIncl: Boolean, val hi: K?, val hiIncl: Boolean) {
    val isAll: Boolean get() = lo == null && hi == null

    fun tooLow(k: K, cmp: Comparator<K>): Boolean {
        val l = lo ?: return false
        val c = cmp.compare(k, l)
        return c < 0 || (c == 0 && !loIncl)
    }

    fun tooHigh(k: K, cmp: Comparator<K>): Boolean {
        val h = hi ?: return false
        val c = cmp.compare(k, h)
        return c > 0 || (c == 0 && !hiIncl)
    }

    fun inRange(k: K, cmp: Comparator<K>): Boolean = isAll || (!tooLow(k, cmp) && !tooHigh(k, cmp))

    /** Whether [k] may bound a view of this range (TreeMap's rule: an exclusive bound may sit on our bound). */
    private fun mayBound(k: K, inclusive: Boolean, cmp: Comparator<K>): Boolean {
        cmp.compare(k, k) // refuses NaN
        if (inclusive) return inRange(k, cmp)
        return (lo == null || cmp.compare(k, lo) >= 0) && (hi == null || cmp.compare(k, hi) <= 0)
    }

    fun withLo(k: K, incl: Boolean) = KeyBounds(k, incl, hi, hiIncl)
    fun withHi(k: K, incl: Boolean) = KeyBounds(lo, loIncl, k, incl)

    fun sub(l: K, lIncl: Boolean, h: K, hIncl: Boolean, cmp: Comparator<K>): KeyBounds<K> {
        if (cmp.compare(l, h) > 0) throw IllegalArgumentException("fromKey > toKey")
        if (!mayBound(l, lIncl, cmp)) throw IllegalArgumentException("fromKey out of range")
        if (!mayBound(h, hIncl, cmp)) throw IllegalArgumentException("toKey out of range")
        return KeyBounds(l, lIncl, h, hIncl)
    }

    fun head(h: K, incl: Boolean, cmp: Comparator<K>): KeyBounds<K> {
        if (!mayBound(h, incl, cmp)) throw IllegalArgumentException("toKey out of range")
        return withHi(h, incl)
    }

    fun tail(l: K, incl: Boolean, cmp: Comparator<K>): KeyBounds<K> {
        if (!mayBound(l, incl, cmp)) throw IllegalArgumentException("fromKey out of range")
        return withLo(l, incl)
    }

    companion object {
        fun <K : Any> all(): KeyBounds<K> = KeyBounds(null, true, null, false)
    }
}

/** Iteration page size (entries per crossing). */
internal const val ORDERED_PAGE = 1024

/** More consecutive stale handles than this for one key means a broken core, not a race. */
private const val MAX_STALE = 1_000_000

/**
 * One container: the core's `OrderedStore`, the handle table and the calls. [replaces]: a CsbTree (core `insert`
 * replaces), else a SkipList (core `insert` is insert-if-absent).
 */
internal class OrderedEngine<K : Any, V>(val keyType: OrderedKeyType<K>, val replaces: Boolean, order: Int) {
    val name: String = if (replaces) "CSBTree" else "SkipList"

    /** The store and the closed state (the core has no close_store: destroying the store frees the container). */
    val core: StoreCore<OrderedStore>
    val store: OrderedStore get() = core.store
    private val fastOk: Boolean
    private val fh: Int

    /** handle -> value ([NullValue] for null). */
    private val table = ConcurrentHashMap<Long, Any>()
    private val next = AtomicLong(0)

    val closed: Boolean get() = core.closed

    init {
        if (order < 0) throw KohakuVaultException.InvalidArgument("order must be at least 2, got $order")
        val kind = if (replaces) OrderedKind.CSB_TREE else OrderedKind.SKIP_LIST
        val store = vaultCall { OrderedStore(kind, order.toUInt(), null) }
        core = StoreCore(store, "Cannot operate on closed $name ($name is closed)") {}
        val h = try { vaultCall { store.fastHandle() }.toLong() } catch (_: KohakuVaultException) { 0L }
        fastOk = OrderedFastPath.available && h in 1L..0xFFFF_FFFFL
        fh = h.toInt() // the u32 id's bits
    }

    val order: Int get() = call { it.order() }.toInt()

    /** Values held (the handle table's size), for tests. */
    val handleCount: Int get() = table.size

    fun ensureOpen() = core.ensureOpen()

    inline fun <T> call(block: (OrderedStore) -> T): T = core.call(block)

    fun close() {
        core.close()
        table.clear()
    }

    // ------------------------------------------------------------------------------------------ handles

    fun newHandle(value: V): Long {
        val h = next.incrementAndGet()
        table[h] = value ?: NullValue
        return h
    }

    /** Drops the value of a handle the core handed back; returns it (raw), or null if it was not held. */
    fun release(h: Long): Any? = if (h == 0L) null else table.remove(h)

    /** A value of a handle the core gave back (present: [NullValue] stands for null). */
    private fun released(h: Long): Any = release(h) ?: NullValue

    /** The value held under [h] (raw), or null when it was released meanwhile. */
    fun held(h: Long): Any? = table[h]

    @Suppress("UNCHECKED_CAST")
    fun unwrap(raw: Any?): V? = if (raw == null || raw === NullValue) null else raw as V

    // ------------------------------------------------------------------------------------------ single keys

    private fun fastOn(): Boolean = fastOk && OrderedFastPath.enabled

    private fun keyArg(k: K): ByteBuffer = Arena.one(keyType.encode(k))

    /** [op] on [k] through the fast path, or (when it is off or fails) through [udl], which raises the typed error. */
    private inline fun single(op: OrderedFastPath.Op, k: K, value: Long, udl: (OrderedStore) -> Long): Long {
        ensureOpen()
        if (fastOn()) {
            val r = keyType.fast(op, fh, k, value)
            if (r >= 0) return r
        }
        return call(udl)
    }

    private fun coreGet(k: K): Long = single(OrderedFastPath.Op.GET, k, 0L) { it.get(keyArg(k)).toLong() }

    private fun coreRemove(k: K): Long = single(OrderedFastPath.Op.REMOVE, k, 0L) { it.remove(keyArg(k)).toLong() }

    /** The core's `insert` (CsbTree: replace; SkipList: insert-if-absent). */
    private fun coreInsert(k: K, h: Long): Long =
        single(OrderedFastPath.Op.INSERT, k, h) { it.insert(keyArg(k), h.toULong()).toLong() }

    private fun coreInsertIfAbsent(k: K, h: Long): Long =
        if (replaces) call { it.insertIfAbsent(keyArg(k), h.toULong()) }.toLong() else coreInsert(k, h)

    fun contains(k: K): Boolean =
        single(OrderedFastPath.Op.CONTAINS, k, 0L) { if (it.contains(keyArg(k))) 1L else 0L } != 0L

    /** The value of [k] (raw), or null when absent. A handle released meanwhile (race) makes it ask again. */
    fun lookup(k: K): Any? {
        var stale = 0
        while (true) {
            val h = coreGet(k)
            if (h == 0L) return null
            table[h]?.let { return it }
            if (++stale > MAX_STALE) throw KohakuVaultException.Internal("$name: the core keeps returning a released handle")
        }
    }

    /** Removes [k]; its value (raw), or null when it was absent. */
    fun remove(k: K): Any? {
        val h = coreRemove(k)
        return if (h == 0L) null else released(h)
    }

    /** Map.put: stores [v] under [k], replacing; the previous value (raw) or null. */
    fun put(k: K, v: V): Any? {
        val h = newHandle(v)
        try {
            if (replaces) {
                val old = coreInsert(k, h)
                return if (old == 0L) null else released(old)
            }
            // SkipList: the core only inserts if absent, so remove and retry until our insert wins.
            var old: Any? = null
            while (true) {
                if (coreInsert(k, h) == 0L) return old
                val r = coreRemove(k)
                if (r != 0L) old = released(r)
            }
        } catch (t: Throwable) {
            release(h)
            throw t
        }
    }

    /** Insert-if-absent (atomic in the core): null when [v] was stored, else the existing value (raw). */
    fun putIfAbsent(k: K, v: V): Any? {
        val h = newHandle(v)
        try {
            var stale = 0
            while (true) {
                val e = coreInsertIfAbsent(k, h)
                if (e == 0L) return null
                val raw = table[e]
                if (raw != null) {
                    release(h)
                    return raw
                }
                // the existing entry was removed meanwhile: try again
                if (++stale > MAX_STALE) throw KohakuVaultException.Internal("$name: the core keeps returning a released handle")
            }
        } catch (t: Throwable) {
            release(h)
            throw t
        }
    }

    val len: Long get() = call { it.len() }.toLong()

    fun clear() {
        val hs = call { it.clear() }
        if (hs.size % 8 != 0) throw KohakuVaultException.Internal("clear: ${hs.size} bytes of handles")
        for (h in handlesOf(hs, hs.size / 8, "clear")) release(h)
    }

    // ------------------------------------------------------------------------------------------ batches

    /**
     * A batch write: `previous` (what `insert` / `remove` returned for each applied item) and the error that stopped
     * it; [handles]: the new handles of an insert (those of the items not tried are already dropped).
     */
    private class Applied(val previous: LongArray, val error: String?, val handles: LongArray) {
        fun raise() {
            if (error != null) throw KohakuVaultException.InvalidArgument(error)
        }
    }

    /**
     * One core call [op] with the key page of [keys] (and, 8-aligned after it, [handles] as u64 LE when given) in this
     * thread's arena: `op(store, keyPage, handles)`.
     */
    private inline fun <T> withKeyPage(
        keys: List<K>,
        handles: LongArray?,
        op: (OrderedStore, ByteBuffer, ByteBuffer?) -> T,
    ): T {
        val page = keyType.page(keys)
        val keysEnd = (page.size + 7) and 7L.inv()
        val total = keysEnd + 8L * (handles?.size ?: 0)
        if (total > MAX_BATCH_BYTES) batchTooLarge()
        return call { st ->
            val a = Arena.get(total.toInt())
            val b = a.buffer
            page.write(b)
            val kp = a.sliceFrom(0)
            if (handles == null) {
                op(st, kp, null)
            } else {
                while (b.position() < keysEnd) b.put(0)
                for (h in handles) b.putLong(h)
                op(st, kp, a.sliceFrom(keysEnd.toInt()))
            }
        }
    }

    private fun applied(r: OrderedBatch, n: Int, what: String, handles: LongArray = LongArray(0)): Applied {
        if (r.previous.size % 8 != 0 || r.previous.size / 8 > n) {
            throw KohakuVaultException.Internal("$what: ${r.previous.size} bytes for $n items")
        }
        return Applied(handlesOf(r.previous, r.previous.size / 8, what), r.error, handles)
    }

    /** The core's `insert_many` of [values] under new handles; a failed call (or an item not tried) drops its handle. */
    private fun insertMany(keys: List<K>, values: List<V>, ifAbsent: Boolean): Applied {
        val hs = LongArray(keys.size) { newHandle(values[it]) }
        val r = try {
            applied(withKeyPage(keys, hs) { st, kp, vp -> st.insertMany(kp, vp!!, ifAbsent) }, keys.size, "insert_many", hs)
        } catch (t: Throwable) {
            for (h in hs) release(h)
            throw t
        }
        for (i in r.previous.size until hs.size) release(hs[i])
        return r
    }

    private fun removeMany(keys: List<K>): Applied =
        applied(withKeyPage(keys, null) { st, kp, _ -> st.removeMany(kp) }, keys.size, "remove_many")

    /**
     * Each item as [insert], in order, in one call; the previous (CsbTree) or existing (SkipList) values, raw. A key
     * the core refuses (NaN) stops the batch: the items before it stay applied, and InvalidArgument is raised.
     */
    fun insertAll(keys: List<K>, values: List<V>): List<Any?> {
        require(keys.size == values.size) { "${keys.size} keys for ${values.size} values" }
        if (keys.isEmpty()) { ensureOpen(); return emptyList() }
        val r = insertMany(keys, values, ifAbsent = !replaces)
        val out = ArrayList<Any?>(r.previous.size)
        for ((i, p) in r.previous.withIndex()) {
            when {
                p == 0L -> out.add(null)
                replaces -> out.add(released(p))
                else -> {
                    release(r.handles[i]) // not stored
                    out.add(table[p] ?: putIfAbsent(keys[i], values[i]))
                }
            }
        }
        r.raise()
        return out
    }

    /** Map.putAll: every item replaces (SkipList: items whose key exists are removed and inserted again, batched). */
    fun putAll(keys: List<K>, values: List<V>) {
        if (replaces) { insertAll(keys, values); return }
        var ks = keys
        var vs = values
        var removeFirst = false
        while (ks.isNotEmpty()) {
            if (removeFirst) {
                val rm = removeMany(ks)
                for (h in rm.previous) release(h)
                rm.raise()
            }
            val r = insertMany(ks, vs, ifAbsent = true)
            val again = ArrayList<Int>()
            for ((i, p) in r.previous.withIndex()) {
                if (p != 0L) { release(r.handles[i]); again.add(i) }
            }
            r.raise()
            // keys that existed (or repeat within the batch): remove them and insert the rest again
            val k2 = again.map { ks[it] }
            vs = again.map { vs[it] }
            ks = k2
            removeFirst = true
        }
    }

    /** The values (raw; null = absent) of [keys], in one call. */
    fun getAll(keys: List<K>): List<Any?> {
        if (keys.isEmpty()) { ensureOpen(); return emptyList() }
        val res = withKeyPage(keys, null) { st, kp, _ -> st.getMany(kp) }
        val hs = handlesOf(res, keys.size, "get_many")
        return hs.mapIndexed { i, h -> if (h == 0L) null else table[h] ?: lookup(keys[i]) }
    }

    /** Removes [keys] in one call; their values (raw; null = absent). */
    fun removeAll(keys: List<K>): List<Any?> {
        if (keys.isEmpty()) { ensureOpen(); return emptyList() }
        val r = removeMany(keys)
        val out = r.previous.map { if (it == 0L) null else released(it) }
        r.raise()
        return out
    }

    // ------------------------------------------------------------------------------------------ navigation

    /** The core's neighbour [which] of [key] (null for FIRST and LAST): a page of 0 or 1 entry, one crossing. */
    fun neighbor(which: Neighbor, key: K?): EntryPage<K> {
        val enc = if (key == null) EMPTY_BYTES else keyType.encode(key)
        ensureOpen()
        val page = (if (fastOn()) OrderedFastPath.neighbor(fh, which, enc) else null)
            ?: call { it.neighbor(which, Arena.one(enc)) }
        return readEntryPage(page, keyType)
    }

    private fun rangeOf(b: KeyBounds<K>, limit: Int, reverse: Boolean) = OrderedRange(
        start = b.lo?.let { keyType.encode(it) },
        startInclusive = b.loIncl,
        end = b.hi?.let { keyType.encode(it) },
        endInclusive = b.hiIncl,
        limit = limit.toUInt(),
        reverse = reverse,
    )

    /** One page of the entries within [b] (limit 0: all of them), descending when [reverse]; one crossing. */
    fun range(b: KeyBounds<K>, limit: Int, reverse: Boolean): EntryPage<K> {
        val r = rangeOf(b, limit, reverse)
        ensureOpen()
        val page = (if (fastOn()) OrderedFastPath.range(fh, r) else null) ?: call { it.range(r) }
        return readEntryPage(page, keyType)
    }

    fun countRange(b: KeyBounds<K>): Long {
        val r = rangeOf(b, 0, false)
        return call { it.countRange(r) }.toLong()
    }

    /** The first entry of a page, with its value when [wantValue]; asks again when the handle went stale. */
    private inline fun first(wantValue: Boolean, fetch: () -> EntryPage<K>): Found<K>? {
        var stale = 0
        while (true) {
            val p = fetch()
            if (p.count == 0) return null
            if (!wantValue) return Found(p.keys[0], null)
            val raw = table[p.handles[0]]
            if (raw != null) return Found(p.keys[0], raw)
            if (++stale > MAX_STALE) throw KohakuVaultException.Internal("$name: the core keeps returning a released handle")
        }
    }

    /** The lowest (or highest when [reverse]) entry within [b]. */
    fun edge(b: KeyBounds<K>, reverse: Boolean, wantValue: Boolean): Found<K>? = first(wantValue) {
        if (b.isAll) neighbor(if (reverse) Neighbor.LAST else Neighbor.FIRST, null) else range(b, 1, reverse)
    }

    /** The core's neighbour of [key] on the whole container. */
    fun near(which: Neighbor, key: K, wantValue: Boolean): Found<K>? = first(wantValue) { neighbor(which, key) }

    /** Entry [i] of a page as a value (raw), or null when it is gone (replaced values are looked up again). */
    fun resolve(p: EntryPage<K>, i: Int): Any? = table[p.handles[i]] ?: lookup(p.keys[i])

    /** All entries of [b] in one call, values resolved; entries removed meanwhile are left out. */
    fun <T> collect(b: KeyBounds<K>, make: (K, V?) -> T): List<T> {
        val p = range(b, 0, false)
        val out = ArrayList<T>(p.count)
        for (i in 0 until p.count) {
            val raw = resolve(p, i) ?: continue
            out.add(make(p.keys[i], unwrap(raw)))
        }
        return out
    }

    /** Removes every entry within [b] (page by page). */
    fun clearRange(b: KeyBounds<K>) {
        while (true) {
            val p = range(b, ORDERED_PAGE, false)
            if (p.count == 0) return
            removeAll(p.keys)
        }
    }
}

// ================================================================================================ entries

/**
 * An entry of a CSBTree or SkipList. Entries of the entry-set iterators write through ([setValue] puts into the
 * container); the others ([firstEntry][NavigableMap.firstEntry], ...) are snapshots and refuse [setValue].
 */
private class OrderedEntry<K : Any, V>(
    override val key: K,
    private var v: V,
    private val keyType: OrderedKeyType<K>,
    private val owner: OrderedMap<K, V>?,
) : MutableMap.MutableEntry<K, V> {
    override val value: V get() = v

    override fun setValue(newValue: V): V {
        val m = owner ?: throw UnsupportedOperationException("a snapshot entry; put into the map instead")
        val old = v
        m.put(key, newValue)
        v = newValue
        return old
    }

    override fun equals(other: Any?): Boolean =
        other is Map.Entry<*, *> && keyType.keyEquals(key, other.key) && v == other.value

    override fun hashCode(): Int = keyType.keyHash(key) xor (v?.hashCode() ?: 0)

    override fun toString(): String = "${keyType.show(key)}=$v"
}

// ================================================================================================ iteration

/** Entries of [b] in pages of [ORDERED_PAGE], ascending or [desc]ending; [wantValues] false skips the values. */
private class PageIterator<K : Any, V, T>(
    private val engine: OrderedEngine<K, V>,
    private val b: KeyBounds<K>,
    private val desc: Boolean,
    private val wantValues: Boolean,
    private val make: (K, V?) -> T,
    private val removeKey: (K) -> Unit,
) : MutableIterator<T> {
    private var page: EntryPage<K>? = null
    private var idx = 0
    private var cursor: K? = null
    private var hasNextItem = false
    private var nextItem: T? = null
    private var finished = false
    private var last: K? = null

    private fun fetch(): EntryPage<K>? {
        val p = page
        if (p != null && p.done) return null
        val c = cursor
        val bounds = when {
            c == null -> b
            desc -> b.withHi(c, false)
            else -> b.withLo(c, false)
        }
        val np = engine.range(bounds, ORDERED_PAGE, desc)
        if (np.count == 0) return null
        cursor = np.keys[np.count - 1]
        return np
    }

    private fun advance() {
        while (!hasNextItem && !finished) {
            val p = page
            if (p == null || idx >= p.count) {
                val np = fetch()
                if (np == null) { finished = true; page = null; return }
                page = np
                idx = 0
                continue
            }
            val i = idx++
            val k = p.keys[i]
            if (wantValues) {
                val raw = engine.resolve(p, i) ?: continue // removed meanwhile
                nextItem = make(k, engine.unwrap(raw))
            } else {
                nextItem = make(k, null)
            }
            last = k
            hasNextItem = true
        }
    }

    private var lastReturned: K? = null

    override fun hasNext(): Boolean {
        advance()
        return hasNextItem
    }

    override fun next(): T {
        advance()
        if (!hasNextItem) throw NoSuchElementException()
        hasNextItem = false
        lastReturned = last
        @Suppress("UNCHECKED_CAST")
        return nextItem as T
    }

    override fun remove() {
        val k = lastReturned ?: throw IllegalStateException("next() has not been called")
        lastReturned = null
        removeKey(k)
    }
}

// ================================================================================================ views

/**
 * The navigable map of a [CSBTree] or [SkipList], and of its live views ([subMap], [headMap], [tailMap],
 * [descendingMap]): a `java.util.NavigableMap` whose keys are ordered by the core (see [OrderedKeyType]).
 *
 * A view holds the keys within its bounds (a key outside them is absent for `get`/`remove`, and `put` of one is
 * IllegalArgumentException, as for TreeMap's views); it is live: it reads and writes the container. Its size is one
 * core call (`count_range`). Iterators are weakly consistent, like ConcurrentSkipListMap's: they never fail because
 * of concurrent changes and never return a key twice, in order; an entry changed meanwhile may or may not be seen.
 * They fetch 1024 entries per core call. `comparator()` is the core's order ([OrderedKeyType.comparator]); views use
 * it to check their bounds.
 *
 * Every operation on a closed container (or a view of one) raises [KohakuVaultException.Closed]; a NaN key is
 * [KohakuVaultException.InvalidArgument].
 */
abstract class OrderedMap<K : Any, V> internal constructor(
    internal val engine: OrderedEngine<K, V>,
    internal val bounds: KeyBounds<K>,
    internal val descending: Boolean,
) : java.util.AbstractMap<K, V>(), NavigableMap<K, V> {

    /** The key type (and order) of the container. */
    val keyType: OrderedKeyType<K> get() = engine.keyType

    /** Whether the container was closed. */
    val isClosed: Boolean get() = engine.closed

    private val cmp: Comparator<K> get() = engine.keyType.comparator

    internal fun inRange(k: K): Boolean = bounds.isAll || bounds.inRange(k, cmp)

    private fun checkRange(k: K) {
        if (!inRange(k)) throw IllegalArgumentException("key out of range: ${keyType.show(k)}")
    }

    private fun entryOf(f: Found<K>): Map.Entry<K, V> = OrderedEntry(f.key, engine.unwrap(f.raw) as V, keyType, null)

    // ------------------------------------------------------------------------------------------ Map

    /** The number of entries (of this view: one `count_range` call). */
    val sizeLong: Long get() = if (bounds.isAll) engine.len else engine.countRange(bounds)

    override val size: Int get() = sizeLong.coerceAtMost(Int.MAX_VALUE.toLong()).toInt()

    override fun isEmpty(): Boolean = if (bounds.isAll) engine.len == 0L else lowest(false) == null

    override fun containsKey(key: K): Boolean = inRange(key) && engine.contains(key)

    override fun get(key: K): V? = if (inRange(key)) engine.unwrap(engine.lookup(key)) else null

    /**
     * Stores [value] under [key], replacing a present value; returns the previous value. For a SkipList (whose core
     * only inserts if absent) this removes and re-inserts until its insert wins: not atomic against another thread
     * writing the same key (the last writer wins, and each writer gets some earlier value back).
     */
    override fun put(key: K, value: V): V? {
        checkRange(key)
        return engine.unwrap(engine.put(key, value))
    }

    /** Removes [key]; its value, or null when it was absent (or outside this view). */
    override fun remove(key: K): V? = if (inRange(key)) engine.unwrap(engine.remove(key)) else null

    internal fun removeKey(key: K): Boolean = inRange(key) && engine.remove(key) != null

    /** Stores [value] only if [key] is absent (atomic in the core); returns the existing value, or null. */
    override fun putIfAbsent(key: K, value: V): V? {
        checkRange(key)
        return engine.unwrap(engine.putIfAbsent(key, value))
    }

    /** Puts every entry (replacing) in one core call (a SkipList needs two more for keys that exist). */
    override fun putAll(from: Map<out K, V>) {
        val ks = ArrayList<K>(from.size)
        val vs = ArrayList<V>(from.size)
        for ((k, v) in from) {
            checkRange(k)
            ks.add(k)
            vs.add(v)
        }
        engine.putAll(ks, vs)
    }

    /** Removes every entry (of this view). */
    override fun clear() {
        if (bounds.isAll) engine.clear() else engine.clearRange(bounds)
    }

    override val entries: MutableSet<MutableMap.MutableEntry<K, V>> get() = EntrySetView(this)

    override val keys: NavigableSet<K> get() = KeySetView(this)

    override val values: MutableCollection<V> get() = ValuesView(this)

    internal fun <T> iterate(reverse: Boolean, wantValues: Boolean, make: (K, V?) -> T): MutableIterator<T> =
        PageIterator(engine, bounds, descending xor reverse, wantValues, make) { removeKey(it) }

    @Suppress("UNCHECKED_CAST")
    internal fun entryIterator(): MutableIterator<MutableMap.MutableEntry<K, V>> =
        iterate(false, true) { k, v -> OrderedEntry(k, v as V, keyType, this) }

    // ------------------------------------------------------------------------------------------ navigation

    /**
     * The entry nearest to [k] within the bounds, in the ascending order: at or above it when [up] (ceiling, higher),
     * else at or below it (floor, lower); [k] itself qualifies when [incl]. With bounds, one range page of 1 entry.
     */
    private fun near(k: K, up: Boolean, incl: Boolean, v: Boolean): Found<K>? = when {
        bounds.isAll -> engine.near(
            if (up) (if (incl) Neighbor.CEILING else Neighbor.HIGHER) else (if (incl) Neighbor.FLOOR else Neighbor.LOWER),
            k, v,
        )
        // k lies before the view (in the walking direction): its first entry; after the view: none
        (if (up) bounds.tooLow(k, cmp) else bounds.tooHigh(k, cmp)) -> engine.edge(bounds, !up, v)
        (if (up) bounds.tooHigh(k, cmp) else bounds.tooLow(k, cmp)) -> null
        up -> engine.edge(bounds.withLo(k, incl), false, v)
        else -> engine.edge(bounds.withHi(k, incl), true, v)
    }

    // in this view's order (descending views walk the other way)
    private fun lowest(v: Boolean) = engine.edge(bounds, descending, v)
    private fun highest(v: Boolean) = engine.edge(bounds, !descending, v)
    private fun ceiling(k: K, v: Boolean) = near(k, !descending, true, v)
    private fun floor(k: K, v: Boolean) = near(k, descending, true, v)
    private fun higher(k: K, v: Boolean) = near(k, !descending, false, v)
    private fun lower(k: K, v: Boolean) = near(k, descending, false, v)

    override fun firstEntry(): Map.Entry<K, V>? = lowest(true)?.let(::entryOf)
    override fun lastEntry(): Map.Entry<K, V>? = highest(true)?.let(::entryOf)
    override fun ceilingEntry(key: K): Map.Entry<K, V>? = ceiling(key, true)?.let(::entryOf)
    override fun floorEntry(key: K): Map.Entry<K, V>? = floor(key, true)?.let(::entryOf)
    override fun higherEntry(key: K): Map.Entry<K, V>? = higher(key, true)?.let(::entryOf)
    override fun lowerEntry(key: K): Map.Entry<K, V>? = lower(key, true)?.let(::entryOf)

    override fun firstKey(): K = lowest(false)?.key ?: throw NoSuchElementException()
    override fun lastKey(): K = highest(false)?.key ?: throw NoSuchElementException()
    override fun ceilingKey(key: K): K? = ceiling(key, false)?.key
    override fun floorKey(key: K): K? = floor(key, false)?.key
    override fun higherKey(key: K): K? = higher(key, false)?.key
    override fun lowerKey(key: K): K? = lower(key, false)?.key

    private fun poll(first: Boolean): Map.Entry<K, V>? {
        while (true) {
            val f = (if (first) lowest(false) else highest(false)) ?: return null
            val raw = engine.remove(f.key) ?: continue // removed by another thread meanwhile
            return entryOf(Found(f.key, raw))
        }
    }

    /** Removes and returns the first entry (null when empty). */
    override fun pollFirstEntry(): Map.Entry<K, V>? = poll(true)

    /** Removes and returns the last entry (null when empty). */
    override fun pollLastEntry(): Map.Entry<K, V>? = poll(false)

    // ------------------------------------------------------------------------------------------ views

    override fun comparator(): Comparator<in K> = if (descending) cmp.reversed() else cmp

    override fun descendingMap(): NavigableMap<K, V> = OrderedSubMap(engine, bounds, !descending)

    override fun navigableKeySet(): NavigableSet<K> = KeySetView(this)

    override fun descendingKeySet(): NavigableSet<K> = descendingMap().navigableKeySet()

    override fun subMap(fromKey: K, fromInclusive: Boolean, toKey: K, toInclusive: Boolean): NavigableMap<K, V> =
        OrderedSubMap(
            engine,
            if (!descending) bounds.sub(fromKey, fromInclusive, toKey, toInclusive, cmp)
            else bounds.sub(toKey, toInclusive, fromKey, fromInclusive, cmp),
            descending,
        )

    override fun headMap(toKey: K, inclusive: Boolean): NavigableMap<K, V> =
        OrderedSubMap(
            engine,
            if (!descending) bounds.head(toKey, inclusive, cmp) else bounds.tail(toKey, inclusive, cmp),
            descending,
        )

    override fun tailMap(fromKey: K, inclusive: Boolean): NavigableMap<K, V> =
        OrderedSubMap(
            engine,
            if (!descending) bounds.tail(fromKey, inclusive, cmp) else bounds.head(fromKey, inclusive, cmp),
            descending,
        )

    override fun subMap(fromKey: K, toKey: K): SortedMap<K, V> = subMap(fromKey, true, toKey, false)
    override fun headMap(toKey: K): SortedMap<K, V> = headMap(toKey, false)
    override fun tailMap(fromKey: K): SortedMap<K, V> = tailMap(fromKey, true)
}

/** A live bounded and/or descending view of a container. */
private class OrderedSubMap<K : Any, V>(engine: OrderedEngine<K, V>, bounds: KeyBounds<K>, descending: Boolean) :
    OrderedMap<K, V>(engine, bounds, descending)

private class EntrySetView<K : Any, V>(private val m: OrderedMap<K, V>) :
    java.util.AbstractSet<MutableMap.MutableEntry<K, V>>() {
    override val size: Int get() = m.size
    override fun isEmpty(): Boolean = m.isEmpty()
    override fun clear() = m.clear()
    override fun iterator(): MutableIterator<MutableMap.MutableEntry<K, V>> = m.entryIterator()

    override fun contains(element: MutableMap.MutableEntry<K, V>): Boolean {
        val k = element.key
        if (!m.inRange(k)) return false
        val raw = m.engine.lookup(k) ?: return false
        return m.engine.unwrap(raw) == element.value
    }

    override fun remove(element: MutableMap.MutableEntry<K, V>): Boolean =
        contains(element) && m.removeKey(element.key)

    override fun add(element: MutableMap.MutableEntry<K, V>): Boolean {
        m[element.key] = element.value
        return true
    }
}

private class ValuesView<K : Any, V>(private val m: OrderedMap<K, V>) : java.util.AbstractCollection<V>() {
    override val size: Int get() = m.size
    override fun isEmpty(): Boolean = m.isEmpty()
    override fun clear() = m.clear()

    @Suppress("UNCHECKED_CAST")
    override fun iterator(): MutableIterator<V> = m.iterate(false, true) { _, v -> v as V }
}

private class KeySetView<K : Any, V>(private val m: OrderedMap<K, V>) : java.util.AbstractSet<K>(), NavigableSet<K> {
    override val size: Int get() = m.size
    override fun isEmpty(): Boolean = m.isEmpty()
    override fun contains(element: K): Boolean = m.containsKey(element)
    override fun remove(element: K): Boolean = m.removeKey(element)
    override fun clear() = m.clear()
    override fun add(element: K): Boolean = throw UnsupportedOperationException("add a key with a value (put)")

    override fun iterator(): MutableIterator<K> = m.iterate(false, false) { k, _ -> k }
    override fun descendingIterator(): MutableIterator<K> = m.iterate(true, false) { k, _ -> k }

    override fun lower(e: K): K? = m.lowerKey(e)
    override fun floor(e: K): K? = m.floorKey(e)
    override fun ceiling(e: K): K? = m.ceilingKey(e)
    override fun higher(e: K): K? = m.higherKey(e)
    override fun pollFirst(): K? = m.pollFirstEntry()?.key
    override fun pollLast(): K? = m.pollLastEntry()?.key
    override fun first(): K = m.firstKey()
    override fun last(): K = m.lastKey()
    override fun comparator(): Comparator<in K> = m.comparator()

    override fun descendingSet(): NavigableSet<K> = m.descendingMap().navigableKeySet()

    override fun subSet(fromElement: K, fromInclusive: Boolean, toElement: K, toInclusive: Boolean): NavigableSet<K> =
        m.subMap(fromElement, fromInclusive, toElement, toInclusive).navigableKeySet()

    override fun headSet(toElement: K, inclusive: Boolean): NavigableSet<K> = m.headMap(toElement, inclusive).navigableKeySet()
    override fun tailSet(fromElement: K, inclusive: Boolean): NavigableSet<K> = m.tailMap(fromElement, inclusive).navigableKeySet()
    override fun subSet(fromElement: K, toElement: K): SortedSet<K> = subSet(fromElement, true, toElement, false)
    override fun headSet(toElement: K): SortedSet<K> = headSet(toElement, false)
    override fun tailSet(fromElement: K): SortedSet<K> = tailSet(fromElement, true)
}

// ================================================================================================ containers

/**
 * The members CSBTree and SkipList share besides the [NavigableMap] ones: kohakuvault 1.1.0's names ([range],
 * [items]), batches that cross once ([insertAll], [getAll], [removeAll]; `putAll` too), and [close].
 *
 * Values may be any object, null included; the container holds them (strongly) until it replaces, removes or clears
 * their entry, or is closed.
 */
abstract class OrderedContainer<K : Any, V> internal constructor(engine: OrderedEngine<K, V>) :
    OrderedMap<K, V>(engine, KeyBounds.all(), false), AutoCloseable {

    /**
     * The entries with `start <= key < end` in key order, in one core call (kohakuvault 1.1.0's `range`: the end is
     * exclusive, so `range(42, 42)` is empty, and so is a range whose start is above its end).
     */
    fun range(start: K, end: K): List<Pair<K, V>> = engine.collect(KeyBounds(start, true, end, false)) { k, v ->
        @Suppress("UNCHECKED_CAST")
        Pair(k, v as V)
    }

    /** Every entry in key order (a snapshot list, one core call). */
    fun items(): List<Pair<K, V>> = engine.collect(KeyBounds.all()) { k, v ->
        @Suppress("UNCHECKED_CAST")
        Pair(k, v as V)
    }

    /**
     * Each item as [insert] would store it, in order, in one core call; returns what [insert] returns for each
     * (CSBTree: the replaced value; SkipList: the existing value, kept). A NaN key stops the batch with
     * InvalidArgument: the items before it stay applied, the later ones are not tried.
     */
    fun insertAll(keys: List<K>, values: List<V>): List<V?> = engine.insertAll(keys, values).map { engine.unwrap(it) }

    /** The values of [keys] (null where absent), in one core call. */
    fun getAll(keys: List<K>): List<V?> = engine.getAll(keys).map { engine.unwrap(it) }

    /**
     * Removes [keys] in one core call; returns their removed values (null where absent). A NaN key stops the batch
     * with InvalidArgument (the keys before it are removed).
     */
    fun removeAll(keys: List<K>): List<V?> = engine.removeAll(keys).map { engine.unwrap(it) }

    /**
     * kohakuvault 1.1.0's `insert`: [CSBTree.insert] stores [value], replacing, and returns the old value;
     * [SkipList.insert] stores it only if [key] is absent and returns the existing value (which stays). Null when
     * [key] was absent.
     */
    abstract fun insert(key: K, value: V): V?

    /** Releases the core's container and every value; then every member raises [KohakuVaultException.Closed]. */
    override fun close() = engine.close()

    /** Values held by the facade's handle table (tests check that released values are dropped). */
    internal val heldValues: Int get() = engine.handleCount

    /** kohakuvault 1.1.0's repr: `CSBTree(len=N)` (`CSBTree(closed)` once closed). */
    override fun toString(): String = if (engine.closed) "${engine.name}(closed)" else "${engine.name}(len=${engine.len})"
}

/**
 * kohakuvault 1.1.0's `CSBTree`: an in-memory cache-sensitive B+ tree (in the Rust core) of at most [order] keys per
 * node, as a `java.util.NavigableMap` ([OrderedMap]) with [OrderedContainer]'s extras.
 *
 * ```kotlin
 * CSBTree<Long, String>().use { t ->
 *     t[3] = "c"; t[1] = "a"; t.putAll(mapOf(2L to "b"))     // put replaces, as a Map's
 *     t.firstKey()              // 1
 *     t.ceilingEntry(2)         // 2=b
 *     t.subMap(1, 3).keys       // [1, 2]
 *     t.range(1, 3)             // [(1, a), (2, b)]: end exclusive, one call
 * }
 * ```
 *
 * Keys are Long, Double, String or ByteArray ([OrderedKeyType], ordered by the core); values any object (null too).
 * `put` and [insert] replace (the key first stored is kept: -0.0 stays -0.0 when 0.0 replaces its value);
 * `putIfAbsent` is atomic. Thread-safe (the core's tree sits behind a read-write lock). Always [close] (or `use {}`).
 * Costs: a single-key operation, a neighbour query (`firstKey`, `ceilingEntry`, ...) or a range is one native call
 * (the C fast path), a batch one UDL call, iteration one native call per 1024 entries.
 *
 * @param order maximum keys per node, at least 2 (InvalidArgument otherwise).
 */
class CSBTree<K : Any, V> @JvmOverloads constructor(keyType: OrderedKeyType<K>, order: Int = DEFAULT_ORDER) :
    OrderedContainer<K, V>(OrderedEngine(keyType, true, order)) {

    /** The maximum number of keys per node. */
    val order: Int = engine.order

    /** kohakuvault 1.1.0's `insert`: stores [value], replacing; returns the old value (or null). Same as `put`. */
    override fun insert(key: K, value: V): V? = put(key, value)

    companion object {
        /** kohakuvault 1.1.0's default order. */
        const val DEFAULT_ORDER = 63
    }
}

/**
 * kohakuvault 1.1.0's `SkipList`: an in-memory lock-free skip list (in the Rust core, crossbeam-epoch), as a
 * `java.util.NavigableMap` ([OrderedMap]) with [OrderedContainer]'s extras. Safe from any number of threads without
 * locks; iterators are weakly consistent.
 *
 * [insert] and `putIfAbsent` are the core's atomic insert-if-absent (1.1.0's `insert`, which never replaces: it
 * returns the existing value). `put` honours the `Map` contract (replace) by removing and re-inserting, which is not
 * atomic against another thread writing the same key: the last writer wins. Keys as for [CSBTree]. Always [close]
 * (or `use {}`).
 */
class SkipList<K : Any, V>(keyType: OrderedKeyType<K>) :
    OrderedContainer<K, V>(OrderedEngine(keyType, false, CSBTree.DEFAULT_ORDER)) {

    /**
     * kohakuvault 1.1.0's `insert`: stores [value] only if [key] is absent (atomic). Returns null when it stored,
     * else the existing value (which stays).
     */
    override fun insert(key: K, value: V): V? = putIfAbsent(key, value)
}

/** A CSBTree of [K] keys (`Long`, `Double`, `String` or `ByteArray`): `CSBTree<Long, String>()`. */
inline fun <reified K : Any, V> CSBTree(order: Int = CSBTree.DEFAULT_ORDER): CSBTree<K, V> =
    CSBTree(OrderedKeyType.of<K>(), order)

/** A SkipList of [K] keys (`Long`, `Double`, `String` or `ByteArray`): `SkipList<String, Any>()`. */
inline fun <reified K : Any, V> SkipList(): SkipList<K, V> = SkipList(OrderedKeyType.of<K>())
