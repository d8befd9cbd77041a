package io.kohakuvault.coroutines

import io.kohakuvault.OpenOptions
import io.kohakuvault.TaggedValue
import io.kohakuvault.TextDoc
import io.kohakuvault.TextHit
import io.kohakuvault.TextInfo
import io.kohakuvault.TextRecord
import io.kohakuvault.TextSnippet
import io.kohakuvault.TextVault
import io.kohakuvault.Tokenizer
import io.kohakuvault.VectorMetric
import io.kohakuvault.VectorType
import io.kohakuvault.WalCheckpoint
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.withContext
import kotlin.coroutines.CoroutineContext

/*
 * Coroutine support for TextVault (optional dependency kotlinx-coroutines-core, as for KVault): every call blocks its
 * thread for the FFI call (a search reads the index, a hybrid search also scans the vectors), so the suspending forms
 * run it on a dispatcher meant for blocking work (Dispatchers.IO by default).
 */

/**
 * Suspending form of a [TextVault]: each member runs the blocking call of the same name on [dispatcher]. Errors are
 * the same [io.kohakuvault.KohakuVaultException]s. Closing this closes the vault.
 */
class SuspendingTextVault(val vault: TextVault, val dispatcher: CoroutineContext = Dispatchers.IO) {

    private suspend inline fun <T> io(crossinline block: TextVault.() -> T): T =
        withContext(dispatcher) { vault.block() }

    /** Runs any blocking calls on the vault on [dispatcher]. */
    suspend fun <R> run(block: (TextVault) -> R): R = withContext(dispatcher) { block(vault) }

    suspend fun insert(text: String, value: Any?, vector: FloatArray? = null): Long = io { insert(text, value, vector) }
    suspend fun insert(text: String, value: Any?, vector: ByteArray): Long = io { insert(text, value, vector) }
    suspend fun insert(texts: Map<String, String>, value: Any?, vector: FloatArray? = null): Long =
        io { insert(texts, value, vector) }
    suspend fun insert(texts: Map<String, String>, value: Any?, vector: ByteArray): Long = io { insert(texts, value, vector) }

    suspend fun insertMany(docs: List<TextDoc>): LongArray = io { insertMany(docs) }

    suspend fun search(query: String, k: Int = TextVault.DEFAULT_K, column: String? = null,
                       escape: Boolean = true): List<TextHit> = io { search(query, k, column, escape) }

    suspend fun searchWithText(query: String, k: Int = TextVault.DEFAULT_K, column: String? = null,
                               escape: Boolean = true): List<TextHit> = io { searchWithText(query, k, column, escape) }

    suspend fun searchWithSnippets(query: String, k: Int = TextVault.DEFAULT_K, snippetColumn: String? = null,
                                   snippetTokens: Int = 10, highlightStart: String = "**", highlightEnd: String = "**",
                                   escape: Boolean = true): List<TextSnippet> =
        io { searchWithSnippets(query, k, snippetColumn, snippetTokens, highlightStart, highlightEnd, escape) }

    /** The hits of [search] as a cold [Flow]: the search runs on [dispatcher] when the flow is collected. */
    fun searchFlow(query: String, k: Int = TextVault.DEFAULT_K, column: String? = null, escape: Boolean = true): Flow<TextHit> =
        flow { for (h in vault.search(query, k, column, escape)) emit(h) }.flowOn(dispatcher)

    suspend fun countMatches(query: String): Long = io { countMatches(query) }
    suspend fun get(key: String): TaggedValue = io { get(key) }

    suspend fun hybridSearch(query: String?, vector: FloatArray?, k: Int = TextVault.DEFAULT_K, textWeight: Double = 1.0,
                             vectorWeight: Double = 1.0, rrfK: Int = TextVault.DEFAULT_RRF_K,
                             candidates: Int? = null): List<TextHit> =
        io { hybridSearch(query, vector, k, textWeight, vectorWeight, rrfK, candidates) }
    suspend fun hybridSearch(query: String?, vector: ByteArray, k: Int = TextVault.DEFAULT_K, textWeight: Double = 1.0,
                             vectorWeight: Double = 1.0, rrfK: Int = TextVault.DEFAULT_RRF_K,
                             candidates: Int? = null): List<TextHit> =
        io { hybridSearch(query, vector, k, textWeight, vectorWeight, rrfK, candidates) }

    suspend fun searchByVector(vector: FloatArray, k: Int = TextVault.DEFAULT_K): List<TextHit> = io { searchByVector(vector, k) }
    suspend fun searchByVector(vector: ByteArray, k: Int = TextVault.DEFAULT_K): List<TextHit> = io { searchByVector(vector, k) }

    suspend fun getById(id: Long): TextRecord = io { getById(id) }
    suspend fun update(id: Long, texts: Map<String, String>? = null, value: Any? = null, vector: FloatArray? = null) =
        io { update(id, texts, value, vector) }
    suspend fun update(id: Long, text: String, value: Any? = null, vector: FloatArray? = null) =
        io { update(id, text, value, vector) }
    suspend fun update(id: Long, texts: Map<String, String>? = null, value: Any? = null, vector: ByteArray) =
        io { update(id, texts, value, vector) }
    suspend fun delete(id: Long): Boolean = io { delete(id) }
    suspend fun exists(id: Long): Boolean = io { exists(id) }
    suspend fun count(): Long = io { count() }
    suspend fun keys(limit: Long? = null, offset: Long = 0): LongArray = io { keys(limit, offset) }

    /** Every document id as a cold [Flow] (read in one call on [dispatcher] when collected). */
    fun keysFlow(): Flow<Long> = flow { for (id in vault.keys()) emit(id) }.flowOn(dispatcher)

    suspend fun clear() = io { clear() }
    suspend fun info(): TextInfo = io { info() }
    suspend fun checkpoint(): WalCheckpoint = io { checkpoint() }
    suspend fun close() = io { close() }
}

/** This vault's suspending form, running its calls on [dispatcher]. */
fun TextVault.suspending(dispatcher: CoroutineContext = Dispatchers.IO): SuspendingTextVault =
    SuspendingTextVault(this, dispatcher)

/** Opens a text vault on [dispatcher] (opening reads and may create the file). */
suspend fun openTextVault(
    path: String,
    table: String = TextVault.DEFAULT_TABLE,
    columns: List<String> = listOf(TextVault.DEFAULT_COLUMN),
    tokenizer: Tokenizer = Tokenizer.UNICODE61,
    removeDiacritics: Int? = null,
    dimensions: Int? = null,
    metric: VectorMetric = VectorMetric.COSINE,
    type: VectorType = VectorType.F32,
    options: OpenOptions = OpenOptions(),
    dispatcher: CoroutineContext = Dispatchers.IO,
): SuspendingTextVault = withContext(dispatcher) {
    SuspendingTextVault(TextVault(path, table, columns, tokenizer, removeDiacritics, dimensions, metric, type, options), dispatcher)
}
