package io.kohakuvault

import io.kohakuvault.uniffi.TextInfo as FfiTextInfo

/**
 * How a [TextVault] splits text into tokens (an FTS5 tokenizer, written into the table's DDL and checked on reopen).
 *
 * - [UNICODE61]: FTS5's default (words of Unicode letters and digits, case-folded, diacritics removed); the only
 *   tokenizer of kohakuvault 1.1.0.
 * - [PORTER]: unicode61 words reduced to their English stem (`running` matches `run`).
 * - [TRIGRAM]: every 3-character substring, so a query matches anywhere inside words and Chinese or Japanese text is
 *   searched without word breaking; queries shorter than 3 characters match nothing (FTS5's rule).
 */
enum class Tokenizer(val coreName: String) {
    UNICODE61("unicode61"), PORTER("porter"), TRIGRAM("trigram");

    companion object {
        /** The tokenizer of a core name ("unicode61", "porter", "trigram"; case-insensitive). */
        @JvmStatic
        fun ofCoreName(name: String): Tokenizer = entries.firstOrNull { it.coreName.equals(name, ignoreCase = true) }
            ?: throw KohakuVaultException.InvalidArgument("Unknown tokenizer '$name'. Expected: unicode61, porter, or trigram")
    }
}

/**
 * One document for [TextVault.insertMany]: its [texts] by column name, its [value] (mapped as [TaggedValue.from]
 * maps it) and, in a vault with dimensions, its [vector] (a `FloatArray` for f32, a `ByteArray` for int8 and bit
 * vaults, or null for none; in one batch either every document has a vector or none has).
 *
 * `TextDoc(text, value)` is the document of a single-column vault: its [texts] are `mapOf("" to text)`, where the key
 * `""` (never a column name) stands for the vault's only column. Equality compares the vector by content.
 */
data class TextDoc @JvmOverloads constructor(
    val texts: Map<String, String>,
    val value: Any?,
    val vector: Any? = null,
) {
    /** A single-column vault's document. */
    @JvmOverloads
    constructor(text: String, value: Any?, vector: Any? = null) : this(mapOf(ONLY_COLUMN to text), value, vector)

    override fun equals(other: Any?): Boolean =
        other is TextDoc && texts == other.texts && java.util.Objects.deepEquals(value, other.value) &&
            java.util.Objects.deepEquals(vector, other.vector)

    override fun hashCode(): Int = java.util.Arrays.deepHashCode(arrayOf(texts, value, vector))

    override fun toString(): String = "TextDoc(texts=$texts, value=$value, vector=${vectorString(vector)})"

    companion object {
        /** The key of [texts] that stands for a single-column vault's only column. */
        const val ONLY_COLUMN = ""
    }
}

/**
 * One search hit, best first: the document's [id], its [score] and its decoded [value] (the same [TaggedValue] a
 * [KVault] read returns: `hit.value.asString()`, `hit.value.toPlain()`, ...).
 *
 * [score] is −bm25 for [TextVault.search] (higher is better; tiny, around 1e-6, for words found in nearly every
 * document), the fused reciprocal-rank score for [TextVault.hybridSearch] (higher is better) and the distance for
 * [TextVault.searchByVector] (smaller is nearer). [texts] holds every column's text by column name for
 * [TextVault.searchWithText], and is null otherwise.
 */
data class TextHit(val id: Long, val score: Double, val value: TaggedValue, val texts: Map<String, String>?)

/** One [TextVault.searchWithSnippets] hit: as [TextHit], with the [snippet] of the matching text (markers included). */
data class TextSnippet(val id: Long, val score: Double, val value: TaggedValue, val snippet: String)

/**
 * One stored document ([TextVault.getById]): its [texts] by column name (in column order), its decoded [value], and
 * its stored [vector] when the vault has vectors and the document one (a `FloatArray` for f32, L2-normalised for
 * cosine; a `ByteArray` for int8 and bit), else null. Equality compares the vector by content.
 */
data class TextRecord(
    val id: Long,
    val texts: Map<String, String>,
    val value: TaggedValue,
    val vector: Any?,
) {
    /** The text of the first column: the document's text in a single-column vault. */
    val text: String get() = texts.values.first()

    /** The vector of an f32 vault (null when the document has none); InvalidArgument for int8 and bit vectors. */
    val floats: FloatArray?
        @Throws(KohakuVaultException::class) get() = when (val v = vector) {
            null -> null
            is FloatArray -> v
            else -> throw KohakuVaultException.InvalidArgument("the vector is not f32 (it is a ByteArray)")
        }

    override fun equals(other: Any?): Boolean =
        other is TextRecord && id == other.id && texts == other.texts && value == other.value &&
            java.util.Objects.deepEquals(vector, other.vector)

    override fun hashCode(): Int = java.util.Arrays.deepHashCode(arrayOf(id, texts, value, vector))

    override fun toString(): String = "TextRecord(id=$id, texts=$texts, value=$value, vector=${vectorString(vector)})"
}

/**
 * A text table as the core reports it ([TextVault.info]): its indexed [columns], its document [count], its
 * [tokenizer], and for a vault with vectors their [dimensions], [metric] and vector [type] (null otherwise).
 */
data class TextInfo(
    val table: String,
    val columns: List<String>,
    val count: Long,
    val tokenizer: Tokenizer,
    val dimensions: Int?,
    val metric: VectorMetric?,
    val type: VectorType?,
)

internal fun FfiTextInfo.toFacade(): TextInfo = TextInfo(
    table = table, columns = columns, count = count.toLong(), tokenizer = Tokenizer.ofCoreName(tokenizer),
    dimensions = dimensions?.toInt(), metric = metric?.let { VectorMetric.ofCoreName(it) },
    type = vectorType?.let { VectorType.ofCoreName(it) },
)

private fun vectorString(v: Any?): String = when (v) {
    is FloatArray -> v.contentToString()
    is ByteArray -> v.contentToString()
    else -> v.toString()
}
