package io.kohakuvault

import io.kohakuvault.internal.VaultCleaner
import io.kohakuvault.uniffi.ColumnStore
import java.util.concurrent.atomic.AtomicInteger
import io.kohakuvault.uniffi.ColumnInfo as FfiColumnInfo
import io.kohakuvault.uniffi.ColumnLayout as FfiColumnLayout
import io.kohakuvault.uniffi.WalCheckpoint as FfiWalCheckpoint

/** The core's message for use of a closed column vault; the facade raises the same text for its own checks. */
internal const val COLUMN_CLOSED_MESSAGE = "Cannot operate on closed ColumnVault (ColumnVault is closed)"

/**
 * Typed columns that behave like lists, in one SQLite file (kohakuvault's `ColumnVault`, docs/FORMAT.md §6), backed
 * by the Rust core's `ColumnStore`.
 *
 * ```kotlin
 * ColumnVault("data.db").use { cv ->
 *     val ids = cv.ensureColumn<LongColumn>("ids", "i64")
 *     ids.appendAll(longArrayOf(1, 2, 3))          // one FFI call, one transaction
 *     ids.toLongArray()                            // one bulk read (C fast path)
 *     val names = cv.ensureColumn<StringColumn>("names", "str")
 *     names += "été"; names[0]                      // MutableList<String>
 * }
 * ```
 *
 * **Columns.** [column] returns the class that fits the column's stored layout (the core's `ColumnInfo.layout` and
 * element dtype; dtype strings are never parsed here): [LongColumn], [IntColumn], [ShortColumn], [ByteColumn],
 * [DoubleColumn], [FloatColumn], [BoolColumn] for scalars (`u64`/`u32`/`u16`/`u8` use the signed class of the same
 * width with the bits as stored, see [FixedColumn.isUnsigned]; `f16` uses [FloatColumn], converting), [FloatTensorColumn]
 * for `vec:f32:…`, [TensorColumn] for other fixed-shape vectors, [StringColumn] for `str[:codec]`, [BytesColumn] for
 * `bytes`, and [TaggedColumn] for every DataPacker dtype (`msgpack`, `str:N`, `bytes:N`, `cbor`, …).
 *
 * **Caches.** [enableCache] turns on the core's write-back cache for every column (a column's own cache:
 * [Column.enableCache]). Pending rows count in a column's size, every read of a column flushes it first, and
 * [close] flushes; a vault dropped without close is closed (and flushed) when it is garbage collected.
 *
 * **Errors.** One [KohakuVaultException] kind per failure, as in every language; the `List` members throw
 * [IndexOutOfBoundsException] for an index outside the column (the `List` contract), checked against the size.
 * Thread-safe. Always [close] (or use `use {}`).
 */
class ColumnVault @JvmOverloads @Throws(KohakuVaultException::class) constructor(
    path: String,
    blockBytes: Long = DEFAULT_BLOCK_BYTES,
    options: OpenOptions = OpenOptions(),
) : AutoCloseable {

    internal val core: ColumnCore = ColumnCore(vaultCall {
        if (blockBytes <= 0) throw KohakuVaultException.InvalidArgument("block_bytes must be between 1 and 512 MiB")
        ColumnStore(path, blockBytes.toULong(), options.toFfi())
    })
    private val cleanable: VaultCleaner.Cleanable = VaultCleaner.register(this, core)
    private val cacheLocks = AtomicInteger(0)

    /** The path this vault was opened with. */
    val path: String = vaultCall { core.store.path() }

    /** Whether the vault was opened read-only. */
    val isReadOnly: Boolean = vaultCall { core.store.readOnly() }

    /** The default block size of new columns. */
    val blockBytes: Long = vaultCall { core.store.blockBytes() }.toLong()

    val isClosed: Boolean get() = core.closed

    // ---------------------------------------------------------------- catalog

    /**
     * Creates column [name] with [dtype] (e.g. `"i64"`, `"f32"`, `"str"`, `"bytes"`, `"vec:f32:384"`, `"msgpack"`;
     * docs/FORMAT.md §6.1) and [blockBytes] per block (default: the vault's). InvalidArgument if it exists or the
     * dtype does not parse.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun createColumn(name: String, dtype: String, blockBytes: Long? = null): Column<*> =
        Column.of(this, core.call { it.createColumn(name, dtype, blockSize(blockBytes)) })

    /** The column [name], created with [dtype] when missing; an existing column of another dtype is InvalidArgument. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun ensureColumn(name: String, dtype: String, blockBytes: Long? = null): Column<*> =
        Column.of(this, core.call { it.ensureColumn(name, dtype, blockSize(blockBytes)) })

    /** The column [name]; NotFound if it does not exist. */
    @Throws(KohakuVaultException::class)
    fun column(name: String): Column<*> =
        Column.of(this, core.call { it.info(name) } ?: throw KohakuVaultException.NotFound("Column '$name' not found"))

    /** The column [name] as [type] (e.g. `LongColumn.class`); InvalidArgument if it is another class of column. */
    @Throws(KohakuVaultException::class)
    fun <C : Column<*>> column(name: String, type: Class<C>): C = column(name).requireType(type)

    @Throws(KohakuVaultException::class)
    fun <C : Column<*>> createColumn(name: String, dtype: String, blockBytes: Long?, type: Class<C>): C =
        createColumn(name, dtype, blockBytes).requireType(type)

    @Throws(KohakuVaultException::class)
    fun <C : Column<*>> ensureColumn(name: String, dtype: String, blockBytes: Long?, type: Class<C>): C =
        ensureColumn(name, dtype, blockBytes).requireType(type)

    /** Whether column [name] exists. */
    @Throws(KohakuVaultException::class)
    fun hasColumn(name: String): Boolean = core.call { it.info(name) } != null

    /** Every column, in creation order, with its committed length (pending cached rows not counted). */
    @Throws(KohakuVaultException::class)
    fun listColumns(): List<ColumnInfo> = core.call { it.listColumns() }.map { it.toFacade() }

    /** The column names, in creation order. */
    @Throws(KohakuVaultException::class)
    fun columnNames(): List<String> = listColumns().map { it.name }

    /** Deletes column [name] and its rows (pending ones too); false if it did not exist. */
    @Throws(KohakuVaultException::class)
    fun deleteColumn(name: String): Boolean = core.call { it.deleteColumn(name) }

    // ---------------------------------------------------------------- caches (vault-wide)

    /**
     * Enables the write-back cache of every column (those loaded now and later): appends stay pending up to
     * [capBytes], are committed once [flushThreshold] bytes are pending, and (with [flushIntervalSecs]) by a
     * periodic flush. Sizes must be positive (InvalidArgument).
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun enableCache(capBytes: Long = DEFAULT_CACHE_BYTES, flushThreshold: Long = capBytes / 4,
                    flushIntervalSecs: Double? = null) {
        checkCacheSizes(capBytes, flushThreshold)
        core.call { it.enableCache(null, capBytes.toULong(), flushThreshold.toULong(), flushIntervalSecs) }
    }

    /** Flushes and disables every cache, stopping the periodic flush. */
    @Throws(KohakuVaultException::class)
    fun disableCache() = core.call { it.disableCache(null) }

    /** Commits every column's pending rows; returns the bytes flushed. */
    @Throws(KohakuVaultException::class)
    fun flushCache(): Long = core.call { it.flushCache(null) }.toLong()

    /** The vault-wide cache setting, or null when disabled. */
    @Throws(KohakuVaultException::class)
    fun cacheConfig(): ColumnCacheConfig? = core.call { it.cacheConfig(null) }?.toFacade()

    /** Bytes of pending (cached, uncommitted) rows of every column. */
    @Throws(KohakuVaultException::class)
    fun pendingBytes(): Long = core.call { it.pendingBytes(null) }.toLong()

    /**
     * Runs [block] with the periodic flush paused (nestable); threshold and capacity flushes still happen
     * (kohakuvault's `with vault.lock_cache():`).
     */
    @Throws(KohakuVaultException::class)
    fun <R> withLockedCache(block: ColumnVault.() -> R): R {
        core.ensureOpen()
        if (cacheLocks.incrementAndGet() == 1) core.store.setCacheLocked(true)
        try {
            return block()
        } finally {
            if (cacheLocks.decrementAndGet() == 0 && !core.closed) {
                try { core.store.setCacheLocked(false) } catch (_: IllegalStateException) { }
            }
        }
    }

    /** The last periodic-flush failure (its rows are kept), cleared by this call; null if none. */
    @Throws(KohakuVaultException::class)
    fun backgroundFlushError(): String? = core.call { it.takeBackgroundError() }

    // ---------------------------------------------------------------- maintenance

    /** Flushes every cache, then `PRAGMA wal_checkpoint(PASSIVE)`. */
    @Throws(KohakuVaultException::class)
    fun checkpoint(): WalCheckpoint =
        core.call { it.checkpoint() }.toFacade()

    /**
     * Flushes every cache and closes. Idempotent. If the final flush fails the vault stays open (its rows kept) and
     * close can be retried.
     */
    @Throws(KohakuVaultException::class)
    override fun close() {
        core.close()
        cleanable.clean()
    }

    override fun toString(): String = "ColumnVault('$path', status=${if (isClosed) "closed" else "open"})"

    private fun blockSize(b: Long?): ULong? {
        if (b != null && b <= 0) throw KohakuVaultException.InvalidArgument("block_bytes must be between 1 and 512 MiB")
        return b?.toULong()
    }

    companion object {
        const val DEFAULT_BLOCK_BYTES: Long = 1L shl 20
        const val DEFAULT_CACHE_BYTES: Long = 64L shl 20

        /** Opens [path], runs [block] and closes. */
        @JvmStatic @JvmOverloads
        @Throws(KohakuVaultException::class)
        fun <R> open(path: String, blockBytes: Long = DEFAULT_BLOCK_BYTES, options: OpenOptions = OpenOptions(),
                     block: (ColumnVault) -> R): R = ColumnVault(path, blockBytes, options).use(block)

        internal fun checkCacheSizes(capBytes: Long, flushThreshold: Long) {
            if (capBytes <= 0 || flushThreshold <= 0) {
                throw KohakuVaultException.InvalidArgument("cache sizes must be positive")
            }
        }
    }
}

/** The column [name] as [C]; InvalidArgument if it is another class of column, NotFound if missing. */
@Throws(KohakuVaultException::class)
inline fun <reified C : Column<*>> ColumnVault.column(name: String): C = column(name, C::class.java)

/** [ColumnVault.createColumn] as [C] (e.g. `cv.createColumn<LongColumn>("ids", "i64")`). */
@Throws(KohakuVaultException::class)
inline fun <reified C : Column<*>> ColumnVault.createColumn(name: String, dtype: String, blockBytes: Long? = null): C =
    createColumn(name, dtype, blockBytes, C::class.java)

/** [ColumnVault.ensureColumn] as [C]. */
@Throws(KohakuVaultException::class)
inline fun <reified C : Column<*>> ColumnVault.ensureColumn(name: String, dtype: String, blockBytes: Long? = null): C =
    ensureColumn(name, dtype, blockBytes, C::class.java)

/**
 * The state of one [ColumnVault] shared with its cleaner (so it must not reference the vault): the generated store,
 * its fast-path handle and the closed flag.
 */
internal class ColumnCore(val store: ColumnStore) : Runnable {
    val fastHandle: Long = try { store.fastHandle().toLong() } catch (_: Throwable) { 0L }

    @Volatile var closed = false

    fun ensureOpen() {
        if (closed) throw KohakuVaultException.Closed(COLUMN_CLOSED_MESSAGE)
    }

    /** One core call on an open vault. */
    inline fun <T> call(block: (ColumnStore) -> T): T {
        ensureOpen()
        return try {
            vaultCall { block(store) }
        } catch (e: KohakuVaultException.Closed) {
            throw KohakuVaultException.Closed(COLUMN_CLOSED_MESSAGE, e)
        }
    }

    @Synchronized
    fun close() {
        if (closed) return
        vaultCall { store.closeStore() }
        closed = true
        store.destroy()
    }

    /** The cleaner: a vault dropped without close() is closed, which flushes its caches. */
    @Synchronized
    override fun run() {
        if (!closed) {
            try { store.closeStore() } catch (_: Throwable) { }
            closed = true
        }
        store.destroy()
    }
}

/** How a column's rows are stored (the core's `ColumnLayout`). */
enum class ColumnLayout {
    /** One little-endian number per row. */
    SCALAR,
    /** A fixed-shape vector of numbers per row. */
    TENSOR,
    /** Text in the column's codec. */
    TEXT,
    /** Raw bytes. */
    BYTES,
    /** One DataPacker record per row. */
    PACKED,
}

/**
 * One column as [ColumnVault.listColumns] reports it.
 *
 * @property elemSize bytes per row; 0 for variable-width columns.
 * @property elemDtype the element type of scalar and tensor columns (and of DataPacker vectors), else null.
 * @property shape the dims of a tensor column, else empty.
 * @property valueKind the value kind (see [Kind]) the column's values cross as.
 */
data class ColumnInfo(
    val id: Long,
    val name: String,
    val dtype: String,
    val elemSize: Long,
    val length: Long,
    val blockBytes: Long,
    val layout: ColumnLayout,
    val elemDtype: DType?,
    val shape: List<Int>,
    val valueKind: Int,
)

/** A cache setting ([ColumnVault.cacheConfig], [Column.cacheConfig]). */
data class ColumnCacheConfig(val capBytes: Long, val flushThreshold: Long, val flushIntervalSecs: Double?)

/** Blocks and bytes of one column ([Column.storageInfo]). */
data class ColumnStorageInfo(val blocks: Long, val payloadBytes: Long, val capacityBytes: Long)

/** The three numbers of `PRAGMA wal_checkpoint(PASSIVE)` ([ColumnVault.checkpoint]). */
data class WalCheckpoint(val busy: Long, val logFrames: Long, val checkpointedFrames: Long)

/** The core's checkpoint result as the facade's (every vault's `checkpoint()`). */
internal fun FfiWalCheckpoint.toFacade(): WalCheckpoint = WalCheckpoint(busy, logFrames, checkpointedFrames)

internal fun FfiColumnLayout.toFacade(): ColumnLayout = when (this) {
    FfiColumnLayout.SCALAR -> ColumnLayout.SCALAR
    FfiColumnLayout.TENSOR -> ColumnLayout.TENSOR
    FfiColumnLayout.TEXT -> ColumnLayout.TEXT
    FfiColumnLayout.BYTES -> ColumnLayout.BYTES
    FfiColumnLayout.PACKED -> ColumnLayout.PACKED
}

internal fun FfiColumnInfo.toFacade(): ColumnInfo = ColumnInfo(
    id = id, name = name, dtype = dtype, elemSize = elemSize.toLong(), length = length.toLong(),
    blockBytes = blockBytes.toLong(), layout = layout.toFacade(),
    elemDtype = elemDtype.toInt().takeIf { it != 0 }?.let { DType.of(it) },
    shape = shape.map { it.toInt() }, valueKind = valueKind.toInt(),
)

internal fun io.kohakuvault.uniffi.ColumnCacheConfig.toFacade() =
    ColumnCacheConfig(capBytes.toLong(), flushThreshold.toLong(), flushIntervalSecs)
