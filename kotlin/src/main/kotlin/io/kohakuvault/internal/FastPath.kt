package io.kohakuvault.internal

import com.sun.jna.Native
import com.sun.jna.Pointer
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The C fast path of docs/FORMAT.md §5 (`kv_fast_get`, `kv_fast_stream_read`), bound with JNA direct mapping and
 * only primitive arguments (addresses into per-thread direct buffers): one cheap native call instead of a uniffi
 * call (handle clone + call + RustBuffer free). It is an optimisation of `KvStore.get` / `get_stored` /
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

    /** `kv_fast_get` flag: the stored bytes as kind 0 (`get_stored`) instead of the decoded value. */
    const val GET_STORED = 1

    @JvmField val available: Boolean

    init {
        var ok = false
        if (System.getProperty("kohakuvault.fastpath") != "false" && Native.SIZE_T_SIZE == 8) {
            try {
                // The same library, name and options as the generated bindings (uniffi's findLibraryName).
                val name = System.getProperty("uniffi.component.kohakuvault.libraryOverride") ?: "kohakuvault"
                Native.register(FastPath::class.java, name)
                ok = true
            } catch (_: UnsatisfiedLinkError) {
            } catch (_: Exception) {
            }
        }
        available = ok
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

    @JvmField val available: Boolean

    /** Whether reads use the fast path (tests turn it off to exercise the UDL path). */
    @JvmField @Volatile var enabled: Boolean

    init {
        var ok = false
        if (System.getProperty("kohakuvault.fastpath") != "false" && Native.SIZE_T_SIZE == 8) {
            try {
                val name = System.getProperty("uniffi.component.kohakuvault.libraryOverride") ?: "kohakuvault"
                Native.register(ColumnFastPath::class.java, name)
                ok = true
            } catch (_: UnsatisfiedLinkError) {
            } catch (_: Exception) {
            }
        }
        available = ok
        enabled = ok
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
            if (col_fast_read(handle, colId, start, count, Pointer.nativeValue(mem), size.toLong()) != size.toLong()) {
                return false
            }
            consume(mem.getByteBuffer(0, size.toLong()).order(ByteOrder.LITTLE_ENDIAN))
            return true
        } finally {
            mem.close()
        }
    }

    /** This thread's read buffer, at least [size] bytes: (address, buffer). */
    @PublishedApi
    internal fun scratch(size: Int): Pair<Long, ByteBuffer> {
        val s = tls.get()
        s.ensure(size)
        return s.addr to s.buf
    }
}
