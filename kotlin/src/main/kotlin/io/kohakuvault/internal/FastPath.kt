package io.kohakuvault.internal

import com.sun.jna.Native
import com.sun.jna.NativeLibrary
import com.sun.jna.Pointer
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The C fast path of docs/FORMAT.md §5 (`kv_fast_get`, `kv_fast_stream_read`), bound with JNA direct mapping and
 * only primitive arguments (addresses into per-thread direct buffers): one cheap native call instead of a uniffi
 * call (handle clone + call + RustBuffer free). It is an optimisation of `KvStore.get` / `GetStream.read` with the
 * same semantics; on -1 the caller repeats the operation through the UDL to get the typed error.
 *
 * Disabled with `-Dkohakuvault.fastpath=false`, or when the library lacks the symbols or size_t is not 64-bit.
 */
internal object FastPath {
    @JvmStatic external fun kv_fast_get(handle: Long, key: Long, keyLen: Long, buf: Long, cap: Long, outLen: Long, outKind: Long): Int
    @JvmStatic external fun kv_fast_stream_read(handle: Long, buf: Long, cap: Long): Long

    @JvmField val available: Boolean

    init {
        var ok = false
        if (System.getProperty("kohakuvault.fastpath") != "false" && Native.SIZE_T_SIZE == 8) {
            try {
                // The same library the generated bindings load (uniffi's findLibraryName).
                val name = System.getProperty("uniffi.component.kohakuvault.libraryOverride") ?: "kohakuvault"
                Native.register(FastPath::class.java, NativeLibrary.getInstance(name))
                ok = true
            } catch (_: UnsatisfiedLinkError) {
            } catch (_: Exception) {
            }
        }
        available = ok
    }

    /** Largest value fetched through the fast path; bigger ones use the UDL call. */
    const val MAX_FAST = 8 shl 20

    /** Per-thread native scratch: [out_len u64][out_kind u8][pad][key][value...]. */
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

    private val tls = ThreadLocal.withInitial { Scratch() }

    /** Result of [get]: found (kind, payload), [MISSING], or [FALLBACK] (use the UDL call). */
    class Hit(val kind: Int, val payload: ByteArray)

    @JvmField val MISSING = Hit(-1, EMPTY_BYTES)
    @JvmField val FALLBACK = Hit(-2, EMPTY_BYTES)

    fun get(handle: Long, key: ByteArray): Hit {
        if (!available || handle == 0L) return FALLBACK
        val s = tls.get()
        val valueOff = (16 + key.size + 7) and 7.inv()
        s.ensure(valueOff + 256)
        var b = s.buf
        b.position(16); b.put(key)
        repeat(2) {
            val cap = b.capacity() - valueOff
            val rc = kv_fast_get(handle, s.addr + 16, key.size.toLong(), s.addr + valueOff, cap.toLong(), s.addr, s.addr + 8)
            when (rc) {
                0 -> {
                    val len = b.getLong(0).toInt()
                    val kind = b.get(8).toInt() and 0xFF
                    val out = ByteArray(len)
                    val d = b.duplicate()
                    d.position(valueOff)
                    d.get(out)
                    return Hit(kind, out)
                }
                1 -> return MISSING
                2 -> {
                    val need = b.getLong(0)
                    if (need > MAX_FAST) return FALLBACK
                    s.ensure(valueOff + need.toInt())
                    b = s.buf
                    b.position(16); b.put(key)
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
