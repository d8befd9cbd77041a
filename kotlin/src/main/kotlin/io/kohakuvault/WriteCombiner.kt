package io.kohakuvault

import io.kohakuvault.internal.ItemsBuffer
import io.kohakuvault.internal.Packing
import kotlin.concurrent.withLock

/**
 * The Kotlin-side write combiner: while the core's write-back cache is enabled without a flush interval and not
 * locked, single puts are buffered here and handed to the core in runs (`cache_put_many`, one FFI call for up to
 * [MAX_COMBINED] puts or [limit] bytes). Every other operation drains it first ([VaultCore.read]), so reads see
 * earlier writes; close and the cleaner drain it too. The mutable state is guarded by the vault's lock.
 */
internal class WriteCombiner(private val core: VaultCore) {
    private val buffer = ItemsBuffer(16 shl 10)

    @Volatile private var pending = 0
    @Volatile private var active = false
    private var combinable = false      // guarded by lock
    private var lockDepth = 0           // guarded by lock
    private var limit = COMBINE_LIMIT   // guarded by lock

    /** Hands the buffered puts to the core. */
    fun drain() {
        if (pending == 0) return
        core.lock.withLock { drainLocked() }
    }

    fun drainLocked() {
        if (buffer.count == 0) return
        try {
            vaultCall { core.store.cachePutMany(buffer.view()) }
        } finally {
            buffer.reset()
            pending = 0
        }
    }

    /** Buffers one put if combining is on; false when the caller must send it itself. */
    fun offer(kind: Int, key: ByteArray, payload: ByteArray): Boolean {
        if (!active) return false
        val size = Packing.itemSize(key, payload)
        core.lock.withLock {
            if (!active || size > limit) return false
            if (buffer.bytes + size > limit || buffer.count >= MAX_COMBINED) drainLocked()
            buffer.add(kind, key, payload)
            pending = buffer.count
        }
        return true
    }

    /** Puts held here, not yet handed to the core. */
    fun count(): Int = core.lock.withLock { buffer.count }

    /** The cache was enabled (combining only without a flush interval) or disabled; call with the lock held. */
    fun cacheChanged(enabled: Boolean, flushInterval: Double?, capBytes: Long, flushThreshold: Long) {
        combinable = enabled && flushInterval == null
        if (enabled) limit = minOf(minOf(flushThreshold, capBytes), COMBINE_LIMIT.toLong()).toInt()
        update()
    }

    /** Enters (+1) or leaves (-1) a lockCache block; returns the new depth. Call with the lock held. */
    fun lockChanged(delta: Int): Int {
        lockDepth += delta
        update()
        return lockDepth
    }

    fun stop() {
        active = false
    }

    private fun update() {
        active = combinable && lockDepth == 0
    }

    companion object {
        const val MAX_COMBINED = 8192
        const val COMBINE_LIMIT = 1 shl 20
    }
}
