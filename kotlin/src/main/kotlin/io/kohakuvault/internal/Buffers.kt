package io.kohakuvault.internal

import io.kohakuvault.KohakuVaultException
import java.nio.ByteBuffer
import java.nio.ByteOrder

/*
 * Direct buffers for `[ByRef] bytes` arguments, and the one packer / reader of the packed layouts of
 * docs/FORMAT.md §4.
 *
 * The generated Kotlin passes `[ByRef] bytes` as a `java.nio.ByteBuffer` that must be direct; the pointer handed to
 * Rust is the buffer's base address and the length is `remaining()`. So every view given to the FFI here is a slice
 * whose position is 0.
 */

internal const val KEEP_LIMIT = 8 shl 20   // a thread keeps at most this much scratch space

/** The largest batch buffer the core accepts (its lengths are u32, and a JVM buffer holds at most 2 GiB). */
internal const val MAX_BATCH_BYTES = Int.MAX_VALUE - 8L

internal fun batchTooLarge(): Nothing = throw KohakuVaultException.InvalidArgument("batch exceeds 2 GiB")

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

    /** The underlying buffer, for writing packed data; finish with [sliceFrom]. */
    val buffer: ByteBuffer get() = cur

    /** A view of what was written since [start]. */
    fun sliceFrom(start: Int): ByteBuffer = sliceOf(start, cur.position() - start)

    private fun sliceOf(start: Int, len: Int): ByteBuffer {
        val d = cur.duplicate()
        d.limit(start + len).position(start)
        return d.slice()
    }

    companion object {
        // not ThreadLocal.withInitial: Android has it only from API 26
        private val tls = object : ThreadLocal<Arena>() { override fun initialValue() = Arena() }

        /** This thread's arena, reset for a call needing [total] bytes. */
        fun get(total: Int): Arena = tls.get().begin(total)

        /** One array as a direct view. */
        fun one(a: ByteArray): ByteBuffer = get(a.size).view(a)
    }
}

/**
 * The one writer of packed items (docs/FORMAT.md §4). With a key: `[kind u8][klen u32][vlen u32][key][payload]`
 * (put_many, cache_put_many); without one: `[kind u8][len u32][payload]` (DataPacker.pack_many).
 */
internal object Packing {
    fun itemSize(key: ByteArray?, payload: ByteArray): Long =
        if (key == null) 5L + payload.size else 9L + key.size + payload.size

    fun putItem(b: ByteBuffer, kind: Int, key: ByteArray?, payload: ByteArray) {
        b.put(kind.toByte())
        if (key != null) {
            b.putInt(key.size)
            b.putInt(payload.size)
            b.put(key)
        } else {
            b.putInt(payload.size)
        }
        b.put(payload)
    }
}

/**
 * A growable direct buffer of packed items, kept for the life of a vault by the write combiner: growing direct memory
 * is expensive (fresh zeroed pages and a copy at every doubling), so one-off batches use [StagedItems] instead.
 */
internal class ItemsBuffer(initial: Int = 64 shl 10) {
    private var buf: ByteBuffer = ByteBuffer.allocateDirect(initial).order(ByteOrder.LITTLE_ENDIAN)
    var count: Int = 0
        private set
    val bytes: Int get() = buf.position()

    fun add(kind: Int, key: ByteArray, payload: ByteArray) {
        ensure(Packing.itemSize(key, payload))
        Packing.putItem(buf, kind, key, payload)
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
 * The items of one batch, staged as array references and packed into this thread's [Arena] with a single
 * exactly-sized copy by [pack]. [add] records the arrays as given: the caller passes copies if the arrays may change
 * before [pack] (a [batch][io.kohakuvault.KVault.batch] block), or the originals when it packs right away.
 * [withKeys] false stages key-less value items (DataPacker.pack_many).
 */
internal class StagedItems(expected: Int = 16, private val withKeys: Boolean = true) {
    private var kinds = ByteArray(expected.coerceAtLeast(1))
    private var keys = arrayOfNulls<ByteArray>(kinds.size)
    private var payloads = arrayOfNulls<ByteArray>(kinds.size)
    private var total = 0L
    var count: Int = 0
        private set

    fun add(kind: Int, key: ByteArray?, payload: ByteArray) {
        if (kind !in 0..255) throw KohakuVaultException.InvalidArgument("kind must be 0..255")
        val newTotal = total + Packing.itemSize(if (withKeys) key ?: EMPTY_BYTES else null, payload)
        if (newTotal > MAX_BATCH_BYTES) batchTooLarge()
        if (count == kinds.size) grow()
        kinds[count] = kind.toByte()
        keys[count] = key
        payloads[count] = payload
        count++
        total = newTotal
    }

    private fun grow() {
        val cap = kinds.size * 2   // no overflow: at 5+ bytes an item, a 2 GiB batch holds under 2^29 items
        kinds = kinds.copyOf(cap)
        keys = keys.copyOf(cap)
        payloads = payloads.copyOf(cap)
    }

    /** The packed items as a direct view (position 0) in this thread's arena, valid until the arena's next use. */
    fun pack(): ByteBuffer {
        val arena = Arena.get(total.toInt())
        val b = arena.buffer
        for (i in 0 until count) {
            Packing.putItem(b, kinds[i].toInt() and 0xFF, if (withKeys) keys[i] ?: EMPTY_BYTES else null, payloads[i]!!)
        }
        return arena.sliceFrom(0)
    }
}

/** Keys as the columns `get_many` takes: `key_lens` (n × u32 LE) and the concatenated keys, in this thread's arena. */
internal class KeyColumns(val lens: ByteBuffer, val keys: ByteBuffer) {
    companion object {
        fun of(keys: List<ByteArray>): KeyColumns {
            var total = 4L * keys.size
            for (k in keys) total += k.size
            if (total > MAX_BATCH_BYTES) throw KohakuVaultException.InvalidArgument("key batch exceeds 2 GiB")
            val arena = Arena.get(total.toInt())
            val b = arena.buffer
            for (k in keys) b.putInt(k.size)
            val lens = arena.sliceFrom(0)
            val start = b.position()
            for (k in keys) b.put(k)
            return KeyColumns(lens, arena.sliceFrom(start))
        }
    }
}

/** Status byte of a missing key in a `get_many` result. */
internal const val STATUS_MISSING = 0xFF

/**
 * The one reader of the core's packed results (docs/FORMAT.md §4): `get_many` entries `[status u8][len u32][payload]`,
 * scan entries `[klen u32][key]([kind u8][vlen u32][value])`, value items `[kind u8][len u32][payload]`.
 */
internal class ResultReader(bytes: ByteArray) {
    private val b: ByteBuffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)

    val hasRemaining: Boolean get() = b.hasRemaining()

    fun u8(): Int = b.get().toInt() and 0xFF

    fun u32(): Int {
        val v = b.int
        if (v < 0) throw KohakuVaultException.Internal("length over 2 GiB in a result buffer")
        return v
    }

    fun bytes(n: Int): ByteArray {
        if (n > b.remaining()) throw KohakuVaultException.Internal("truncated result buffer")
        val out = ByteArray(n)
        b.get(out)
        return out
    }

    /** A length-prefixed byte string. */
    fun lenBytes(): ByteArray = bytes(u32())
}

internal val EMPTY_BYTES = ByteArray(0)
