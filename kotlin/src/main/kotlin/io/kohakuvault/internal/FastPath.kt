package io.kohakuvault.internal

import com.sun.jna.Native
import com.sun.jna.Pointer
import io.kohakuvault.uniffi.Neighbor
import io.kohakuvault.uniffi.OrderedRange
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Binds the `external` functions of [holder] (JNA direct mapping) to the library the generated bindings load, under
 * the same name and options (uniffi's findLibraryName), so JNA hands back the same loaded copy. False when the fast
 * path is off (`-Dkohakuvault.fastpath=false`), size_t is not 64-bit, or the library lacks one of the symbols (each
 * vault's fast path is registered on its own, so a missing symbol leaves the others on).
 */
internal fun bindFastPath(holder: Class<*>): Boolean {
    if (System.getProperty("kohakuvault.fastpath") == "false" || Native.SIZE_T_SIZE != 8) return false
    return try {
        val name = System.getProperty("uniffi.component.kohakuvault.libraryOverride") ?: "kohakuvault"
        Native.register(holder, name)
        true
    } catch (_: UnsatisfiedLinkError) {
        false
    } catch (_: Exception) {
        false
    }
}

/**
 * The C fast path of docs/FORMAT.md §5 (`kv_fast_get`, `kv_fast_put`, `kv_fast_stream_read`), bound with JNA direct mapping and
 * only primitive arguments (addresses into per-thread direct buffers): one cheap native call instead of a uniffi
 * call (handle clone + call + RustBuffer free). It is an optimisation of `KvStore.get` / `get_stored` / `put` /
 * `GetStream.read` with the same semantics; on -1 the caller repeats the operation through the UDL to get the typed
 * error.
 *
 * The library is registered under the same name and options as the generated bindings (`Native.register(Class,
 * String)`), so JNA hands back the same loaded copy, also when it was extracted from the jar's resources.
 *
 * Disabled with `-Dkohakuvault.fastpath=false`, or when the library lacks the symbols or size_t is not 64-bit.
 */
internal object FastPath {
    /** `int64_t kv_fast_get(uint32_t handle, const uint8_t* key, int32_t key_len, uint8_t* buf, int32_t cap, int32_t flags)` */
    @JvmStatic external fun kv_fast_get(handle: Int, key: Long, keyLen: Int, buf: Long, cap: Int, flags: Int): Long
    @JvmStatic external fun kv_fast_stream_read(handle: Long, buf: Long, cap: Long): Long

    /** `int32_t kv_fast_put(uint32_t handle, const uint8_t* key, int32_t key_len, int32_t kind, const uint8_t* payload, int32_t payload_len)` */
    @JvmStatic external fun kv_fast_put(handle: Int, key: Long, keyLen: Int, kind: Int, payload: Long, payloadLen: Int): Int

    /** `kv_fast_get` flag: the stored bytes as kind 0 (`get_stored`) instead of the decoded value. */
    const val GET_STORED = 1

    @JvmField val available: Boolean

    init {
        available = bindFastPath(FastPath::class.java)
    }

    /** Largest value fetched through the fast path; bigger ones use the UDL call. */
    const val MAX_FAST = 8 shl 20

    /** Per-thread native scratch: [key][pad][value...]. */
    class Scratch {
        var buf: ByteBuffer = ByteBuffer.allocateDirect(64 shl 10).order(ByteOrder.LITTLE_ENDIAN)
        var addr: Long = Pointer.nativeValue(Native.getDirectBufferPointer(buf))

        fun ensure(size: Int) {
            if (size <= buf.capacity()) return
            var cap = buf.capacity()
            while (cap < size) cap *= 2
            buf = ByteBuffer.allocateDirect(cap).order(ByteOrder.LITTLE_ENDIAN)
            addr = Pointer.nativeValue(Native.getDirectBufferPointer(buf))
        }
    }

    // not ThreadLocal.withInitial: Android has it only from API 26
    private val tls = object : ThreadLocal<Scratch>() { override fun initialValue() = Scratch() }

    /** Result of [get]: found (kind, payload), [MISSING], or [FALLBACK] (use the UDL call). */
    class Hit(val kind: Int, val payload: ByteArray)

    @JvmField val MISSING = Hit(-1, EMPTY_BYTES)
    @JvmField val FALLBACK = Hit(-2, EMPTY_BYTES)

    /** `get` (or `get_stored` with [GET_STORED] in [flags]) of [key] through the fast path. */
    fun get(handle: Long, key: ByteArray, flags: Int = 0): Hit {
        if (!available || handle <= 0L || handle > 0xFFFF_FFFFL) return FALLBACK
        val s = tls.get()
        val valueOff = (key.size + 7) and 7.inv()
        s.ensure(valueOff + 256)
        var b = s.buf
        b.position(0); b.put(key)
        repeat(2) {
            val cap = b.capacity() - valueOff
            val rc = kv_fast_get(handle.toInt(), s.addr, key.size, s.addr + valueOff, cap, flags)
            when {
                rc >= 0 -> {
                    val len = (rc ushr 8).toInt()
                    val kind = (rc and 0xFF).toInt()
                    val out = ByteArray(len)
                    val d = b.duplicate()
                    d.position(valueOff)
                    d.get(out)
                    return Hit(kind, out)
                }
                rc == -2L -> return MISSING
                rc <= -3L -> {
                    val need = -3L - rc
                    if (need > MAX_FAST) return FALLBACK
                    s.ensure(valueOff + need.toInt())
                    b = s.buf
                    b.position(0); b.put(key)
                }
                else -> return FALLBACK
            }
        }
        return FALLBACK
    }

    /**
     * `KvStore.put` of (kind, payload) under [key] through the fast path (key and payload copied into this thread's
     * direct buffer). False means nothing was stored: make the UDL call, which raises the typed error.
     */
    fun put(handle: Long, key: ByteArray, kind: Int, payload: ByteArray): Boolean {
        if (!available || handle <= 0L || handle > 0xFFFF_FFFFL) return false
        val payloadOff = (key.size + 7) and 7.inv()
        if (payloadOff.toLong() + payload.size > MAX_FAST) return false
        val s = tls.get()
        s.ensure(payloadOff + payload.size)
        val b = s.buf
        b.position(0); b.put(key)
        b.position(payloadOff); b.put(payload)
        return kv_fast_put(handle.toInt(), s.addr, key.size, kind, s.addr + payloadOff, payload.size) == 0
    }

    /** Reads up to [max] bytes of a stream; null means "use the UDL call". */
    fun streamRead(handle: Long, max: Int): ByteArray? {
        if (!available || handle == 0L) return null
        val s = tls.get()
        s.ensure(max)
        val n = kv_fast_stream_read(handle, s.addr, max.toLong())
        if (n < 0) return null
        val out = ByteArray(n.toInt())
        val d = s.buf.duplicate()
        d.position(0)
        d.get(out)
        return out
    }
}

/**
 * ColumnVault's C fast path (docs/FORMAT.md §5, §6.2): `col_fast_read` copies fixed-width rows straight into a
 * direct buffer, so a bulk read costs one copy out of SQLite's pages and no per-byte lowering through a RustBuffer.
 * It is an optimisation of `ColumnStore.read_rows` with the same meaning (the column's cache is flushed first); on
 * -1 the caller makes the UDL call for the typed error. Registered on its own (a library without `col_fast_read`
 * leaves the KVault fast path on). Disabled with `-Dkohakuvault.fastpath=false`.
 */
internal object ColumnFastPath {
    /** `int64_t col_fast_read(uint64_t h, int64_t col_id, uint64_t start, uint64_t count, uint8_t* buf, size_t cap)` */
    @JvmStatic external fun col_fast_read(handle: Long, colId: Long, start: Long, count: Long, buf: Long, cap: Long): Long

    /** `int32_t col_fast_append(uint64_t h, int64_t col_id, const uint8_t* data, size_t len)`: 0 committed, 1 cached, -1 error */
    @JvmStatic external fun col_fast_append(handle: Long, colId: Long, data: Long, len: Long): Int

    /** `void kohakuvault_fast_advise(uint8_t* p, size_t len)`: huge pages for a large buffer about to be filled */
    @JvmStatic external fun kohakuvault_fast_advise(p: Long, len: Long)

    @JvmField val available: Boolean

    /** Whether reads use the fast path (tests turn it off to exercise the UDL path). */
    @JvmField @Volatile var enabled: Boolean

    init {
        available = bindFastPath(ColumnFastPath::class.java)
        enabled = available
    }

    /** A read buffer this size or smaller is kept per thread; larger reads use a one-off native block. */
    const val KEEP = 16 shl 20

    private class ReadScratch {
        var buf: ByteBuffer = ByteBuffer.allocateDirect(64 shl 10)
        var addr: Long = Pointer.nativeValue(Native.getDirectBufferPointer(buf))

        fun ensure(size: Int) {
            if (size <= buf.capacity()) return
            var cap = buf.capacity()
            while (cap < size) cap = if (cap > KEEP / 2) KEEP else cap * 2
            buf = ByteBuffer.allocateDirect(cap)
            addr = Pointer.nativeValue(Native.getDirectBufferPointer(buf))
        }
    }

    private val tls = object : ThreadLocal<ReadScratch>() { override fun initialValue() = ReadScratch() }

    /**
     * Reads rows `[start, start + count)` (exactly [size] bytes) of column [colId] and hands them to [consume] as a
     * little-endian buffer (position 0, limit [size]) valid only during the call. Returns false (nothing consumed)
     * when the fast path is off or the core reported an error: then make the UDL call.
     */
    inline fun read(handle: Long, colId: Long, start: Long, count: Long, size: Int, consume: (ByteBuffer) -> Unit): Boolean {
        if (!enabled || handle == 0L) return false
        if (size <= KEEP) {
            val s = scratch(size)
            if (col_fast_read(handle, colId, start, count, s.first, size.toLong()) != size.toLong()) return false
            val v = s.second.duplicate()
            v.position(0).limit(size)
            consume(v.slice().order(ByteOrder.LITTLE_ENDIAN))
            return true
        }
        val mem = com.sun.jna.Memory(size.toLong())
        try {
            kohakuvault_fast_advise(Pointer.nativeValue(mem), size.toLong())
            if (col_fast_read(handle, colId, start, count, Pointer.nativeValue(mem), size.toLong()) != size.toLong()) {
                return false
            }
            consume(mem.getByteBuffer(0, size.toLong()).order(ByteOrder.LITTLE_ENDIAN))
            return true
        } finally {
            mem.close()
        }
    }

    /**
     * Appends the fixed-width rows in the direct buffer [buf] (position 0, [size] bytes) straight from its memory
     * (`col_fast_append`: no uniffi buffer). True when committed; false (nothing stored) when the fast path is off,
     * the column is cached in the core or the core reported an error: then make the UDL call, which applies the
     * cache or raises the typed error.
     */
    fun append(handle: Long, colId: Long, buf: ByteBuffer, size: Int): Boolean {
        if (!enabled || handle == 0L || size == 0) return false
        val addr = Pointer.nativeValue(Native.getDirectBufferPointer(buf))
        return col_fast_append(handle, colId, addr, size.toLong()) == 0
    }

    /** Huge-page advice for a large one-off native block about to be filled (no-op when the fast path is off). */
    fun advise(mem: com.sun.jna.Memory) {
        if (enabled) kohakuvault_fast_advise(Pointer.nativeValue(mem), mem.size())
    }

    /** This thread's read buffer, at least [size] bytes: (address, buffer). */
    @PublishedApi
    internal fun scratch(size: Int): Pair<Long, ByteBuffer> {
        val s = tls.get()
        s.ensure(size)
        return s.addr to s.buf
    }
}

/**
 * The C fast path of CSBTree and SkipList (docs/FORMAT.md §9.4, `src/ordered/fast.rs`), bound with JNA direct mapping.
 * `h` is the store's `fast_handle()`. Single-key `get`, `contains`, `remove` and `insert` take int-sized arguments
 * only: a Long key or a value handle travels as two 32-bit halves `(lo, hi)`; the other keys are written into a
 * per-thread direct buffer and passed as `(kind, address, len)`: kind 0 a key encoding (§9.1), 1 the UTF-8 of a String
 * key, 2 a ByteArray key. Their results are those of the UDL calls (a value handle or 0; `contains` 1 or 0), or -1 on
 * any error. `ord_fast_range` and `ord_fast_neighbor` leave an entry page (§9.3) in the calling thread's page buffer
 * (valid until its next page call) and write its address and length into two out-words of this thread's direct
 * buffer; [range] and [neighbor] copy it out. On -1 (any error) the caller makes the UDL call, which raises the typed
 * error. Registered on its own (a library without the `ord_fast_*` symbols leaves the other fast paths on). Disabled
 * with `-Dkohakuvault.fastpath=false`.
 */
internal object OrderedFastPath {
    @JvmStatic external fun ord_fast_get_int(h: Int, lo: Int, hi: Int): Long
    @JvmStatic external fun ord_fast_get(h: Int, kind: Int, p: Long, len: Int): Long
    @JvmStatic external fun ord_fast_contains_int(h: Int, lo: Int, hi: Int): Long
    @JvmStatic external fun ord_fast_contains(h: Int, kind: Int, p: Long, len: Int): Long
    @JvmStatic external fun ord_fast_remove_int(h: Int, lo: Int, hi: Int): Long
    @JvmStatic external fun ord_fast_remove(h: Int, kind: Int, p: Long, len: Int): Long
    @JvmStatic external fun ord_fast_insert_int(h: Int, lo: Int, hi: Int, vlo: Int, vhi: Int): Long
    @JvmStatic external fun ord_fast_insert(h: Int, kind: Int, p: Long, len: Int, vlo: Int, vhi: Int): Long

    /**
     * `int32_t ord_fast_range(uint32_t h, const uint8_t* start, int32_t start_len, int32_t start_inclusive,
     * const uint8_t* end, int32_t end_len, int32_t end_inclusive, int32_t limit, int32_t reverse,
     * const uint8_t** out, size_t* out_len)`
     */
    @JvmStatic external fun ord_fast_range(
        h: Int, start: Long, startLen: Int, startInclusive: Int, end: Long, endLen: Int, endInclusive: Int,
        limit: Int, reverse: Int, out: Long, outLen: Long,
    ): Int

    /** `int32_t ord_fast_neighbor(uint32_t h, int32_t which, const uint8_t* key, int32_t key_len, const uint8_t** out, size_t* out_len)` */
    @JvmStatic external fun ord_fast_neighbor(h: Int, which: Int, key: Long, keyLen: Int, out: Long, outLen: Long): Int

    /** A single-key operation, for [int] and [keyed]. */
    enum class Op { GET, CONTAINS, REMOVE, INSERT }

    /** `kind` of [keyed]: a key encoding (§9.1), the UTF-8 of a str key, a bytes key. */
    const val KIND_ENCODING = 0
    const val KIND_UTF8 = 1
    const val KIND_BYTES = 2

    @JvmField val available: Boolean

    /** Whether single-key operations, ranges and neighbours use the fast path (tests turn it off for the UDL path). */
    @JvmField @Volatile var enabled: Boolean

    init {
        available = bindFastPath(OrderedFastPath::class.java)
        enabled = available
    }

    // not ThreadLocal.withInitial: Android has it only from API 26
    private val tls = object : ThreadLocal<FastPath.Scratch>() { override fun initialValue() = FastPath.Scratch() }

    /** This thread's key buffer, at least [size] bytes, cleared (position 0, little-endian). */
    fun scratch(size: Int): FastPath.Scratch {
        val s = tls.get()
        s.ensure(size)
        s.buf.clear()
        return s
    }

    /** [op] on the Long key [key] ([value]: the value handle of [Op.INSERT]). */
    fun int(op: Op, h: Int, key: Long, value: Long): Long {
        val lo = key.toInt()
        val hi = (key ushr 32).toInt()
        return when (op) {
            Op.GET -> ord_fast_get_int(h, lo, hi)
            Op.CONTAINS -> ord_fast_contains_int(h, lo, hi)
            Op.REMOVE -> ord_fast_remove_int(h, lo, hi)
            Op.INSERT -> ord_fast_insert_int(h, lo, hi, value.toInt(), (value ushr 32).toInt())
        }
    }

    /** [op] on the key of [len] bytes written at the start of [s] (see [scratch]), of [kind]. */
    fun keyed(op: Op, h: Int, kind: Int, s: FastPath.Scratch, len: Int, value: Long): Long = when (op) {
        Op.GET -> ord_fast_get(h, kind, s.addr, len)
        Op.CONTAINS -> ord_fast_contains(h, kind, s.addr, len)
        Op.REMOVE -> ord_fast_remove(h, kind, s.addr, len)
        Op.INSERT -> ord_fast_insert(h, kind, s.addr, len, value.toInt(), (value ushr 32).toInt())
    }

    /** [op] on a key given as bytes of [kind] (copied into this thread's buffer). */
    fun keyed(op: Op, h: Int, kind: Int, key: ByteArray, value: Long): Long {
        val s = scratch(key.size)
        s.buf.put(key)
        return keyed(op, h, kind, s, key.size, value)
    }

    // ------------------------------------------------------------------------------------------ pages

    /** Bytes of this thread's buffer before the keys of a page call: the `out` and `out_len` words. */
    private const val OUT_WORDS = 16

    /** The longest page copied out of the core (a longer one is taken through the UDL call). */
    private const val MAX_PAGE = Int.MAX_VALUE - 8L

    private fun flag(b: Boolean): Int = if (b) 1 else 0

    private fun FastPath.Scratch.putAt(at: Int, bytes: ByteArray?) {
        if (bytes == null) return
        buf.position(at)
        buf.put(bytes)
    }

    /**
     * `range` as the UDL's, through `ord_fast_range`: the bounds are the key encodings of [r] (null: unbounded). The
     * entry page, or null on any error (make the UDL call).
     */
    fun range(h: Int, r: OrderedRange): ByteArray? {
        val start = r.start
        val end = r.end
        val endAt = OUT_WORDS + (((start?.size ?: 0) + 7) and 7.inv())
        val s = scratch(endAt + (end?.size ?: 0))
        s.putAt(OUT_WORDS, start)
        s.putAt(endAt, end)
        val rc = ord_fast_range(
            h, s.addr + OUT_WORDS, start?.size ?: -1, flag(r.startInclusive), s.addr + endAt, end?.size ?: -1,
            flag(r.endInclusive), r.limit.toInt(), flag(r.reverse), s.addr, s.addr + 8,
        )
        return if (rc == 0) pageOf(s) else null
    }

    /**
     * `neighbor` as the UDL's, through `ord_fast_neighbor`: [which] of the key encoding [key] (ignored for FIRST and
     * LAST). The entry page, or null on any error (make the UDL call).
     */
    fun neighbor(h: Int, which: Neighbor, key: ByteArray): ByteArray? {
        val code = when (which) {
            Neighbor.FIRST -> 0
            Neighbor.LAST -> 1
            Neighbor.FLOOR -> 2
            Neighbor.LOWER -> 3
            Neighbor.CEILING -> 4
            Neighbor.HIGHER -> 5
        }
        val s = scratch(OUT_WORDS + key.size)
        s.putAt(OUT_WORDS, key)
        val rc = ord_fast_neighbor(h, code, s.addr + OUT_WORDS, key.size, s.addr, s.addr + 8)
        return if (rc == 0) pageOf(s) else null
    }

    /** A copy of the page the last page call left in this thread's page buffer (its out-words are in [s]). */
    private fun pageOf(s: FastPath.Scratch): ByteArray? {
        val p = s.buf.getLong(0)
        val n = s.buf.getLong(8)
        if (p == 0L || n !in 16L..MAX_PAGE) return null // a page has at least its two headers
        return Pointer(p).getByteArray(0, n.toInt())
    }
}
