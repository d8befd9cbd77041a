package io.kohakuvault.coroutines

import io.kohakuvault.Column
import io.kohakuvault.ColumnInfo
import io.kohakuvault.ColumnVault
import io.kohakuvault.OpenOptions
import io.kohakuvault.WalCheckpoint
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.withContext
import kotlin.coroutines.CoroutineContext

/*
 * Coroutine support for ColumnVault (optional dependency kotlinx-coroutines-core, as for KVault): every call blocks
 * its thread for the FFI call, so the suspending forms run it on a dispatcher meant for blocking work
 * (Dispatchers.IO by default), and batch scans are cold Flows read on that dispatcher.
 */

/** Suspending form of a [ColumnVault]: each member runs the blocking call of the same name on [dispatcher]. */
class SuspendingColumnVault(val vault: ColumnVault, val dispatcher: CoroutineContext = Dispatchers.IO) {

    private suspend inline fun <T> io(crossinline block: ColumnVault.() -> T): T = withContext(dispatcher) { vault.block() }

    /** Runs any blocking calls on the vault (or its columns) on [dispatcher]. */
    suspend fun <R> run(block: (ColumnVault) -> R): R = withContext(dispatcher) { block(vault) }

    suspend fun createColumn(name: String, dtype: String, blockBytes: Long? = null): Column<*> =
        io { createColumn(name, dtype, blockBytes) }
    suspend fun ensureColumn(name: String, dtype: String, blockBytes: Long? = null): Column<*> =
        io { ensureColumn(name, dtype, blockBytes) }
    suspend fun column(name: String): Column<*> = io { column(name) }
    suspend fun <C : Column<*>> column(name: String, type: Class<C>): C = io { column(name, type) }
    suspend fun listColumns(): List<ColumnInfo> = io { listColumns() }
    suspend fun deleteColumn(name: String): Boolean = io { deleteColumn(name) }

    suspend fun enableCache(capBytes: Long = ColumnVault.DEFAULT_CACHE_BYTES, flushThreshold: Long = capBytes / 4,
                            flushIntervalSecs: Double? = null) = io { enableCache(capBytes, flushThreshold, flushIntervalSecs) }
    suspend fun disableCache() = io { disableCache() }
    suspend fun flushCache(): Long = io { flushCache() }
    suspend fun checkpoint(): WalCheckpoint = io { checkpoint() }
    suspend fun close() = io { close() }
}

/** This vault's suspending form, running its calls on [dispatcher]. */
fun ColumnVault.suspending(dispatcher: CoroutineContext = Dispatchers.IO): SuspendingColumnVault =
    SuspendingColumnVault(this, dispatcher)

/** Opens a column vault on [dispatcher] (opening reads and may create the file). */
suspend fun openColumnVault(
    path: String,
    blockBytes: Long = ColumnVault.DEFAULT_BLOCK_BYTES,
    options: OpenOptions = OpenOptions(),
    dispatcher: CoroutineContext = Dispatchers.IO,
): SuspendingColumnVault = withContext(dispatcher) { SuspendingColumnVault(ColumnVault(path, blockBytes, options), dispatcher) }

/**
 * Suspending form of a column: the list members and any typed bulk member through [io] (e.g.
 * `ids.suspending().io { read(0, 1_000_000) }`), and [batches] as a cold Flow.
 */
class SuspendingColumn<T, C : Column<T>>(val column: C, val dispatcher: CoroutineContext = Dispatchers.IO) {

    /** Runs [block] on the column on [dispatcher]. */
    suspend fun <R> io(block: C.() -> R): R = withContext(dispatcher) { column.block() }

    suspend fun size(): Long = io { sizeLong }
    suspend fun get(index: Long): T = io { get(index) }
    suspend fun set(index: Long, element: T): T = io { set(index, element) }
    suspend fun add(element: T): Boolean = io { add(element) }
    suspend fun addAll(elements: Collection<T>): Boolean = io { addAll(elements) }
    suspend fun removeAt(index: Long): T = io { removeAt(index) }
    suspend fun readList(start: Long, count: Int): List<T> = io { readList(start, count) }
    suspend fun takeList(indices: LongArray): List<T> = io { takeList(indices) }
    suspend fun clear() = io { clear() }
    suspend fun flushCache(): Long = io { flushCache() }

    /** The rows in batches of [batchSize] as a cold Flow (one FFI call per batch, on [dispatcher]). */
    fun batches(batchSize: Int = column.pageRows, start: Long = 0, end: Long? = null): Flow<List<T>> =
        column.batchesFlow(batchSize, start, end, dispatcher)
}

/** This column's suspending form. */
fun <T, C : Column<T>> C.suspending(dispatcher: CoroutineContext = Dispatchers.IO): SuspendingColumn<T, C> =
    SuspendingColumn(this, dispatcher)

/** [Column.batches] as a cold Flow: nothing is read until it is collected; batches are read on [dispatcher]. */
fun <T> Column<T>.batchesFlow(batchSize: Int = pageRows, start: Long = 0, end: Long? = null,
                              dispatcher: CoroutineContext = Dispatchers.IO): Flow<List<T>> =
    flow { for (b in batches(batchSize, start, end)) emit(b) }.flowOn(dispatcher)

/** The rows one by one as a cold Flow (read in pages of [Column.pageRows] on [dispatcher]). */
fun <T> Column<T>.asFlow(dispatcher: CoroutineContext = Dispatchers.IO): Flow<T> =
    flow { for (b in batches(pageRows)) for (v in b) emit(v) }.flowOn(dispatcher)
