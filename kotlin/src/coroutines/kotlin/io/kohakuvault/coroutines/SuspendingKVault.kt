package io.kohakuvault.coroutines

import io.kohakuvault.KVault
import io.kohakuvault.OpenOptions
import io.kohakuvault.TaggedValue
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.withContext
import java.io.InputStream
import java.io.OutputStream
import kotlin.coroutines.CoroutineContext

/*
 * Coroutine support (optional: needs org.jetbrains.kotlinx:kotlinx-coroutines-core on the classpath; the core jar
 * declares it optional, so plain JVM users do not get it). Every call into the vault blocks its thread for the FFI
 * call, so the suspending forms run it on a dispatcher meant for blocking work (Dispatchers.IO by default, or the
 * caller's), and scans are cold Flows whose pages are read on that dispatcher.
 */

/**
 * Suspending form of a [KVault]: each member runs the blocking call of the same name on [dispatcher]. Errors are the
 * same [io.kohakuvault.KohakuVaultException]s. Closing this closes the vault.
 */
class SuspendingKVault(val vault: KVault, val dispatcher: CoroutineContext = Dispatchers.IO) {

    private suspend inline fun <T> io(crossinline block: KVault.() -> T): T = withContext(dispatcher) { vault.block() }

    suspend fun get(key: String): ByteArray? = io { get(key) }
    suspend fun get(key: ByteArray): ByteArray? = io { get(key) }
    suspend fun set(key: String, value: ByteArray) = io { set(key, value) }
    suspend fun set(key: ByteArray, value: ByteArray) = io { set(key, value) }
    suspend fun getTagged(key: String): TaggedValue? = io { getTagged(key) }
    suspend fun putValue(key: String, value: TaggedValue) = io { putValue(key, value) }
    suspend fun getString(key: String): String? = io { getString(key) }
    suspend fun putString(key: String, value: String) = io { putString(key, value) }
    suspend fun getLong(key: String): Long? = io { getLong(key) }
    suspend fun putLong(key: String, value: Long) = io { putLong(key, value) }
    suspend fun getDouble(key: String): Double? = io { getDouble(key) }
    suspend fun putDouble(key: String, value: Double) = io { putDouble(key, value) }
    suspend fun getPlain(key: String): Any? = io { getPlain(key) }
    suspend fun putPlain(key: String, value: Any?) = io { putPlain(key, value) }
    suspend fun containsKey(key: String): Boolean = io { containsKey(key) }
    suspend fun delete(key: String): Boolean = io { delete(key) }
    suspend fun remove(key: String): ByteArray? = io { remove(key) }
    suspend fun pop(key: String): TaggedValue? = io { pop(key) }
    suspend fun size(): Long = io { sizeLong }
    suspend fun clear() = io { clear() }

    suspend fun putMany(items: Map<String, ByteArray>) = io { putMany(items) }
    suspend fun putManyTagged(items: Map<String, TaggedValue>) = io { putManyTagged(items) }
    suspend fun getMany(keys: List<String>): List<ByteArray?> = io { getMany(keys) }
    suspend fun getManyTagged(keys: List<String>): List<TaggedValue?> = io { getManyTagged(keys) }

    /** [KVault.batch]: [block] collects the puts (it does not suspend), then one `put_many` runs on the dispatcher. */
    suspend fun <R> batch(block: KVault.Batch.() -> R): R = io { batch(block) }

    suspend fun enableCache(capBytes: Long = 64L shl 20, flushThreshold: Long = capBytes / 4) =
        io { enableCache(capBytes, flushThreshold) }
    suspend fun flushCache(): Long = io { flushCache() }
    suspend fun disableCache() = io { disableCache() }

    suspend fun putStream(key: String, input: InputStream, size: Long, chunkSize: Int = KVault.DEFAULT_CHUNK) =
        io { putStream(key, input, size, chunkSize) }
    suspend fun getStream(key: String, output: OutputStream, chunkSize: Int = KVault.DEFAULT_CHUNK): Long =
        io { getStream(key, output, chunkSize) }

    suspend fun checkpoint() = io { checkpoint() }
    suspend fun optimize() = io { optimize() }
    suspend fun integrityCheck(): List<String> = io { integrityCheck() }
    suspend fun close() = io { close() }

    /** [KVault.keys] as a cold Flow; pages are read on [dispatcher]. */
    fun keys(prefix: String = "", limit: Long? = null, pageSize: Int = 1024): Flow<String> =
        vault.keysFlow(prefix, limit, pageSize, dispatcher)

    /** [KVault.items] as a cold Flow of (key, `ByteArray` view). */
    fun items(prefix: String = "", limit: Long? = null, pageSize: Int = 128): Flow<Pair<String, ByteArray>> =
        vault.itemsFlow(prefix, limit, pageSize, dispatcher)

    /** [KVault.itemsTagged] as a cold Flow of (key, decoded value). */
    fun itemsTagged(prefix: String = "", limit: Long? = null, pageSize: Int = 128): Flow<Pair<String, TaggedValue>> =
        flow { for (e in vault.itemsTagged(prefix, limit, pageSize)) emit(e) }.flowOn(dispatcher)
}

/** This vault's suspending form, running its calls on [dispatcher]. */
fun KVault.suspending(dispatcher: CoroutineContext = Dispatchers.IO): SuspendingKVault = SuspendingKVault(this, dispatcher)

/** Opens a vault on [dispatcher] (opening reads and may create the file). */
suspend fun openVault(
    path: String,
    table: String = "kv",
    options: OpenOptions = OpenOptions(),
    dispatcher: CoroutineContext = Dispatchers.IO,
): SuspendingKVault = withContext(dispatcher) { SuspendingKVault(KVault(path, table, options), dispatcher) }

/** [KVault.keys] as a cold Flow: nothing is read until it is collected; pages are read on [dispatcher]. */
fun KVault.keysFlow(prefix: String = "", limit: Long? = null, pageSize: Int = 1024,
                    dispatcher: CoroutineContext = Dispatchers.IO): Flow<String> =
    flow { for (k in keys(prefix, limit, pageSize)) emit(k) }.flowOn(dispatcher)

/** [KVault.items] as a cold Flow of (key, `ByteArray` view); pages are read on [dispatcher]. */
fun KVault.itemsFlow(prefix: String = "", limit: Long? = null, pageSize: Int = 128,
                     dispatcher: CoroutineContext = Dispatchers.IO): Flow<Pair<String, ByteArray>> =
    flow { for (e in items(prefix, limit, pageSize)) emit(e) }.flowOn(dispatcher)
