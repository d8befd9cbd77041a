package io.kohakuvault

import io.kohakuvault.uniffi.KvStore
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock

/** The core's message for use of a closed vault; the facade raises the same text for its own checks. */
internal const val CLOSED_MESSAGE = "Cannot operate on closed KVault (KVault is closed)"

/**
 * The state of one [KVault] shared with its cleaner (so it must not reference the [KVault]): the generated store,
 * the lock guarding the write combiner and the cache state, and the open/closed flag.
 */
internal class VaultCore(val store: KvStore) : Runnable {
    val lock = ReentrantLock()
    val fastHandle: Long = try { store.fastHandle().toLong() } catch (_: Throwable) { 0L }
    val combiner = WriteCombiner(this)

    @Volatile var closed = false

    fun ensureOpen() {
        if (closed) throw KohakuVaultException.Closed(CLOSED_MESSAGE)
    }

    /** Hands the combiner's buffered puts to the core. */
    fun drain() = combiner.drain()

    /** One core call on an open vault. */
    inline fun <T> call(block: (KvStore) -> T): T {
        ensureOpen()
        return vaultCall { block(store) }
    }

    /** One core call that must see every earlier write (the combiner is drained first). */
    inline fun <T> read(block: (KvStore) -> T): T {
        ensureOpen()
        drain()
        return vaultCall { block(store) }
    }

    fun close() {
        lock.withLock {
            if (closed) return
            var err: Throwable? = null
            try {
                combiner.drainLocked()
            } catch (t: Throwable) {
                err = t
            }
            vaultCall { store.closeStore() }
            closed = true
            combiner.stop()
            store.destroy()
            err?.let { throw it }
        }
    }

    /** The cleaner: a vault dropped without close() still hands over its buffer and closes. */
    override fun run() {
        lock.withLock {
            if (!closed) {
                try { combiner.drainLocked() } catch (_: Throwable) { }
                try { store.closeStore() } catch (_: Throwable) { }
                closed = true
            }
        }
        store.destroy()
    }
}
