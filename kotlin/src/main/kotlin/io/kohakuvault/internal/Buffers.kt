package io.kohakuvault.internal

import io.kohakuvault.KohakuVaultException
import java.nio.ByteBuffer
import java.nio.ByteOrder

/*
 * Direct buffers for `[ByRef] bytes` arguments.
 *
 * The generated Kotlin passes `[ByRef] bytes` as a `java.nio.ByteBuffer` that must be direct; the pointer handed to
 * Rust is the buffer's base address and the length is `remaining()`. So every view given to the FFI here is a slice
 * whose position is 0.
 */

internal const val KEEP_LIMIT = 8 shl 20   // a thread keeps at most this much scratch space

/** Per-thread scratch space: one direct buffer reused for the arguments of one FFI call at a time. */
internal class Arena {
    private var keep: ByteBuffer = ByteBuffer.allocateDirect(64 shl 10).order(ByteOrder.LITTLE_ENDIAN)
    private var cur: ByteBuffer = keep

    /** Starts a new call needing [total] bytes of argument space. Invalidates the previous call's views. */
    fun begin(total: Int): Arena {
        if (total > keep.capacity()) {
            if (total <= KEEP_LIMIT) {
                keep = ByteBuffer.allocateDirect(Integer.highestOneBit(total - 1) shl 1).order(ByteOrder.LITTLE_ENDIAN)
                cur = keep
            } else {
                // A one-off buffer: too large to keep around per thread.
                cur = ByteBuffer.allocateDirect(total).order(ByteOrder.LITTLE_ENDIAN)
            }
        } else {
            cur = keep
        }
        cur.clear()
        return this
    }

    /** Copies [a] into the arena and returns a direct view of it (position 0). */
    fun view(a: ByteArray): ByteBuffer {
        val start = cur.position()
        cur.put(a)
        return sliceOf(start, a.size)
    }

    /** The underlying buffer, for writing packed data; finish with [slice]. */
    val buffer: ByteBuffer get() = cur

    /** A view of what was written since [start]. */
    fun sliceFrom(start: Int): ByteBuffer = sliceOf(start, cur.position() - start)

    private fun sliceOf(start: Int, len: Int): ByteBuffer {
        val d = cur.duplicate()
        d.limit(start + len).position(start)
        return d.slice()
    }

    companion object {
        private val tls = ThreadLocal.withInitial { Arena() }

        /** This thread's arena, reset for a call needing [total] bytes. */
        fun get(total: Int): Arena = tls.get().begin(total)

        /** One array as a direct view. */
        fun one(a: ByteArray): ByteBuffer = get(a.size).view(a)
    }
}

/** The largest batch buffer the core accepts (its lengths are u32, and a JVM buffer holds at most 2 GiB). */
private const val MAX_BATCH_BYTES = Int.MAX_VALUE - 8L

private fun batchTooLarge(): Nothing = throw KohakuVaultException.InvalidArgument("batch exceeds 2 GiB")

/**
 * A growable direct little-endian buffer of FORMAT.md §4 items: repeated `[kind u8][klen u32][vlen u32][key][payload]`.
 * Used by the write combiner (cache_put_many), which keeps it for the life of the vault: growing direct memory is
 * expensive (fresh zeroed pages and a copy at every doubling), so one-off batches use [StagedItems] instead.
 */
internal class ItemsBuffer(initial: Int = 64 shl 10) {
    private var buf: ByteBuffer = ByteBuffer.allocateDirect(initial).order(ByteOrder.LITTLE_ENDIAN)
    var count: Int = 0
        private set
    val bytes: Int get() = buf.position()

    fun add(kind: Int, key: ByteArray, payload: ByteArray) {
        val need = 9L + key.size + payload.size
        ensure(need)
        buf.put(kind.toByte())
        buf.putInt(key.size)
        buf.putInt(payload.size)
        buf.put(key)
        buf.put(payload)
        count++
    }

    private fun ensure(extra: Long) {
        val needed = buf.position().toLong() + extra
        if (needed <= buf.capacity()) return
        if (needed > MAX_BATCH_BYTES) batchTooLarge()
        var cap = buf.capacity().toLong().coerceAtLeast(1024)
        while (cap < needed) cap *= 2
        val nb = ByteBuffer.allocateDirect(cap.coerceAtMost(MAX_BATCH_BYTES).toInt()).order(ByteOrder.LITTLE_ENDIAN)
        buf.flip()
        nb.put(buf)
        buf = nb
    }

    /** A direct view of the items (position 0), valid until the next mutation. */
    fun view(): ByteBuffer {
        val d = buf.duplicate()
        d.flip()
        return d.slice()
    }

    /** Empties the buffer, dropping oversized storage. */
    fun reset() {
        count = 0
        if (buf.capacity() > KEEP_LIMIT) {
            buf = ByteBuffer.allocateDirect(64 shl 10).order(ByteOrder.LITTLE_ENDIAN)
        } else {
            buf.clear()
        }
    }
}

/**
 * The items of one `put_many`, staged as array references and packed (FORMAT.md §4) into this thread's [Arena] with a
 * single exactly-sized copy by [pack]. [add] records the arrays as given: the caller passes copies if the arrays may
 * change before [pack] (a [batch][io.kohakuvault.KVault.batch] block), or the originals when it packs right away.
 */
internal class StagedItems(expected: Int = 16) {
    private var kinds = ByteArray(expected.coerceAtLeast(1))
    private var keys = arrayOfNulls<ByteArray>(kinds.size)
    private var payloads = arrayOfNulls<ByteArray>(kinds.size)
    private var total = 0L
    var count: Int = 0
        private set

    fun add(kind: Int, key: ByteArray, payload: ByteArray) {
        val newTotal = total + 9L + key.size + payload.size
        if (newTotal > MAX_BATCH_BYTES) batchTooLarge()
        if (count == kinds.size) grow()
        kinds[count] = kind.toByte()
        keys[count] = key
        payloads[count] = payload
        count++
        total = newTotal
    }

    private fun grow() {
        val cap = kinds.size * 2   // no overflow: at 9+ bytes an item, a 2 GiB batch holds under 2^28 items
        kinds = kinds.copyOf(cap)
        keys = keys.copyOf(cap)
        payloads = payloads.copyOf(cap)
    }

    /** The packed items as a direct view (position 0) in this thread's arena, valid until the arena's next use. */
    fun pack(): ByteBuffer {
        val arena = Arena.get(total.toInt())
        val b = arena.buffer
        for (i in 0 until count) {
            val key = keys[i]!!
            val payload = payloads[i]!!
            b.put(kinds[i])
            b.putInt(key.size)
            b.putInt(payload.size)
            b.put(key)
            b.put(payload)
        }
        return arena.sliceFrom(0)
    }
}

/** Packs keys as FORMAT.md §4 `[klen u32][key]` into this thread's arena. */
internal fun packKeys(keys: List<ByteArray>): ByteBuffer {
    var total = 0L
    for (k in keys) total += 4 + k.size
    if (total > Int.MAX_VALUE - 8) throw KohakuVaultException.InvalidArgument("key batch exceeds 2 GiB")
    val arena = Arena.get(total.toInt())
    val b = arena.buffer
    for (k in keys) {
        b.putInt(k.size)
        b.put(k)
    }
    return arena.sliceFrom(0)
}

/** A little-endian reader over a result buffer returned by the core. */
internal fun leReader(bytes: ByteArray): ByteBuffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)

internal fun ByteBuffer.getBytes(n: Int): ByteArray {
    val out = ByteArray(n)
    get(out)
    return out
}

internal fun ByteBuffer.u32(): Int {
    val v = int
    if (v < 0) throw KohakuVaultException.Internal("length over 2 GiB in a result buffer")
    return v
}

internal val EMPTY_BYTES = ByteArray(0)
