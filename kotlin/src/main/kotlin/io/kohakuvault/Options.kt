package io.kohakuvault

/**
 * How a [KVault] opens its file. Defaults are those of kohakuvault 1.1.0 (udl `OpenOptions`).
 *
 * @property readOnly open read-only: no schema writes; the table must already exist.
 * @property enableWal journal_mode=WAL.
 * @property pageSize applies only when the file is created.
 * @property mmapSize bytes of the file mapped by SQLite.
 * @property cacheKb writer connection's page cache.
 * @property readerCacheKb each pooled reader's page cache (> 0).
 * @property readerIdleLimit idle pooled readers kept (0 = reopen for every read).
 * @property busyTimeoutMs how long SQLite waits for a lock before [KohakuVaultException.Busy].
 */
data class OpenOptions @JvmOverloads constructor(
    val readOnly: Boolean = false,
    val enableWal: Boolean = true,
    val pageSize: Int = 32768,
    val mmapSize: Long = 268_435_456L,
    val cacheKb: Int = 100_000,
    val readerCacheKb: Int = 8192,
    val readerIdleLimit: Int = 8,
    val busyTimeoutMs: Int = 5000,
) {
    internal fun toFfi(): io.kohakuvault.uniffi.OpenOptions {
        fun nonNeg(name: String, v: Long) {
            if (v < 0) throw KohakuVaultException.InvalidArgument("$name must not be negative")
        }
        nonNeg("pageSize", pageSize.toLong()); nonNeg("mmapSize", mmapSize); nonNeg("cacheKb", cacheKb.toLong())
        nonNeg("readerCacheKb", readerCacheKb.toLong()); nonNeg("readerIdleLimit", readerIdleLimit.toLong())
        nonNeg("busyTimeoutMs", busyTimeoutMs.toLong())
        return io.kohakuvault.uniffi.OpenOptions(
            readOnly = readOnly,
            enableWal = enableWal,
            pageSize = pageSize.toUInt(),
            mmapSize = mmapSize.toULong(),
            cacheKb = cacheKb.toUInt(),
            readerCacheKb = readerCacheKb.toUInt(),
            readerIdleLimit = readerIdleLimit.toUInt(),
            busyTimeoutMs = busyTimeoutMs.toUInt(),
        )
    }
}

/** Write-back cache counters ([KVault.cacheStats]). */
data class CacheStats(
    val pendingEntries: Long,
    val inflightEntries: Long,
    val bufferedBytes: Long,
    val enabled: Boolean,
    val locked: Boolean,
    val capBytes: Long,
    val flushThreshold: Long,
    /** Puts held by the Kotlin write combiner, not yet handed to the core. */
    val combinerEntries: Int,
)

/** Idle reader connections and their SQLite page cache use ([KVault.readerPoolStats]). */
data class ReaderPoolStats(val idleConnections: Long, val sqliteCacheBytes: Long)
