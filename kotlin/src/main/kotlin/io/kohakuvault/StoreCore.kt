package io.kohakuvault

import io.kohakuvault.uniffi.Disposable
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The state of one vault whose facade keeps no state of its own besides the generated store ([VectorKVault],
 * [TextVault]): the store and the closed flag, shared with the vault's cleaner (so it must not reference the vault).
 * [closedMessage] is the core's message for use of the closed vault (the facade raises the same text for its own
 * checks); [closeStore] is the store's `close_store`.
 */
internal class StoreCore<S : Disposable>(
    val store: S,
    val closedMessage: String,
    private val closeStore: (S) -> Unit,
) : Runnable {
    @Volatile var closed = false

    fun ensureOpen() {
        if (closed) throw KohakuVaultException.Closed(closedMessage)
    }

    /** One core call on an open vault (a call racing [close] also fails with the vault's closed message). */
    inline fun <T> call(block: (S) -> T): T {
        ensureOpen()
        return try {
            vaultCall { block(store) }
        } catch (e: KohakuVaultException.Closed) {
            throw KohakuVaultException.Closed(closedMessage, e)
        }
    }

    @Synchronized
    fun close() {
        if (closed) return
        vaultCall { closeStore(store) }
        closed = true
        store.destroy()
    }

    /** The cleaner: a vault dropped without close() is closed. */
    @Synchronized
    override fun run() {
        if (!closed) {
            try { closeStore(store) } catch (_: Throwable) { }
            closed = true
        }
        store.destroy()
    }
}

/** [b] as a little-endian buffer (the layout of every FFI result). */
internal fun le(b: ByteArray): ByteBuffer = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN)

/** [n] i64 LE ids of an FFI result; Internal when the buffer has another size. */
internal fun longsOf(b: ByteArray, n: Int, what: String): LongArray {
    if (b.size != 8 * n) throw KohakuVaultException.Internal("$what: ${b.size} bytes for $n ids")
    val out = LongArray(n)
    le(b).asLongBuffer().get(out)
    return out
}

/** A search's [k] for the core (VectorKVault and TextVault): InvalidArgument when negative. */
internal fun kOf(k: Int): UInt {
    if (k < 0) throw KohakuVaultException.InvalidArgument("k must not be negative, got $k")
    return k.toUInt()
}

/** The payload bytes of a batch's [values] (the payloads part of its kinds | value_lens | payloads section). */
internal fun payloadBytesOf(values: List<TaggedValue>): Long {
    var n = 0L
    for (t in values) n += t.payload.size
    return n
}

/** Writes a batch's [values] as its kinds | value_lens | payloads section (docs/FORMAT.md §7, §8). */
internal fun ByteBuffer.putValues(values: List<TaggedValue>) {
    for (t in values) put(t.kind.toByte())
    for (t in values) putInt(t.payload.size)
    for (t in values) put(t.payload)
}
