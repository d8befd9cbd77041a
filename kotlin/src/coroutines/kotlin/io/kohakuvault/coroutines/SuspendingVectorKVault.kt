package io.kohakuvault.coroutines

import io.kohakuvault.OpenOptions
import io.kohakuvault.TaggedValue
import io.kohakuvault.VectorFilter
import io.kohakuvault.VectorHit
import io.kohakuvault.VectorInfo
import io.kohakuvault.VectorKVault
import io.kohakuvault.VectorMetric
import io.kohakuvault.VectorRecord
import io.kohakuvault.VectorType
import io.kohakuvault.WalCheckpoint
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import kotlin.coroutines.CoroutineContext

/*
 * Coroutine support for VectorKVault (optional dependency kotlinx-coroutines-core, as for KVault): every call blocks
 * its thread for the FFI call (a search scans the table), so the suspending forms run it on a dispatcher meant for
 * blocking work (Dispatchers.IO by default).
 */

/**
 * Suspending form of a [VectorKVault]: each member runs the blocking call of the same name on [dispatcher]. Errors are
 * the same [io.kohakuvault.KohakuVaultException]s. Closing this closes the vault.
 */
class SuspendingVectorKVault(val vault: VectorKVault, val dispatcher: CoroutineContext = Dispatchers.IO) {

    private suspend inline fun <T> io(crossinline block: VectorKVault.() -> T): T =
        withContext(dispatcher) { vault.block() }

    /** Runs any blocking calls on the vault on [dispatcher]. */
    suspend fun <R> run(block: (VectorKVault) -> R): R = withContext(dispatcher) { block(vault) }

    suspend fun insert(vector: FloatArray, value: Any?, metadata: Map<String, Any?>? = null): Long =
        io { insert(vector, value, metadata) }
    suspend fun insert(vector: ByteArray, value: Any?, metadata: Map<String, Any?>? = null): Long =
        io { insert(vector, value, metadata) }

    suspend fun insertMany(vectors: List<FloatArray>, values: List<Any?>,
                           metadata: List<Map<String, Any?>?>? = null): LongArray =
        io { insertMany(vectors, values, metadata) }
    @JvmName("insertManyBytes")
    suspend fun insertMany(vectors: List<ByteArray>, values: List<Any?>,
                           metadata: List<Map<String, Any?>?>? = null): LongArray =
        io { insertMany(vectors, values, metadata) }

    suspend fun search(query: FloatArray, k: Int = VectorKVault.DEFAULT_K, filter: VectorFilter? = null): List<VectorHit> =
        io { search(query, k, filter) }
    suspend fun search(query: ByteArray, k: Int = VectorKVault.DEFAULT_K, filter: VectorFilter? = null): List<VectorHit> =
        io { search(query, k, filter) }

    suspend fun searchMany(queries: List<FloatArray>, k: Int = VectorKVault.DEFAULT_K,
                           filter: VectorFilter? = null): List<List<VectorHit>> = io { searchMany(queries, k, filter) }
    @JvmName("searchManyBytes")
    suspend fun searchMany(queries: List<ByteArray>, k: Int = VectorKVault.DEFAULT_K,
                           filter: VectorFilter? = null): List<List<VectorHit>> = io { searchMany(queries, k, filter) }

    suspend fun get(query: FloatArray, filter: VectorFilter? = null): TaggedValue = io { get(query, filter) }
    suspend fun get(query: ByteArray, filter: VectorFilter? = null): TaggedValue = io { get(query, filter) }

    suspend fun getById(id: Long): VectorRecord = io { getById(id) }
    suspend fun update(id: Long, vector: FloatArray? = null, value: Any? = null, metadata: Map<String, Any?>? = null) =
        io { update(id, vector, value, metadata) }
    suspend fun update(id: Long, vector: ByteArray, value: Any? = null, metadata: Map<String, Any?>? = null) =
        io { update(id, vector, value, metadata) }
    suspend fun delete(id: Long): Boolean = io { delete(id) }
    suspend fun exists(id: Long): Boolean = io { exists(id) }
    suspend fun count(): Long = io { count() }
    suspend fun ids(): LongArray = io { ids() }
    suspend fun info(): VectorInfo = io { info() }
    suspend fun compact(): Long = io { compact() }
    suspend fun checkpoint(): WalCheckpoint = io { checkpoint() }
    suspend fun close() = io { close() }
}

/** This vault's suspending form, running its calls on [dispatcher]. */
fun VectorKVault.suspending(dispatcher: CoroutineContext = Dispatchers.IO): SuspendingVectorKVault =
    SuspendingVectorKVault(this, dispatcher)

/** Opens a vector vault on [dispatcher] (opening reads and may create the file). */
suspend fun openVectorVault(
    path: String,
    table: String = VectorKVault.DEFAULT_TABLE,
    dimensions: Int,
    metric: VectorMetric = VectorMetric.COSINE,
    type: VectorType = VectorType.F32,
    options: OpenOptions = OpenOptions(),
    dispatcher: CoroutineContext = Dispatchers.IO,
): SuspendingVectorKVault =
    withContext(dispatcher) { SuspendingVectorKVault(VectorKVault(path, table, dimensions, metric, type, options), dispatcher) }
