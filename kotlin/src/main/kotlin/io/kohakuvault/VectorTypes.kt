package io.kohakuvault

import io.kohakuvault.uniffi.VectorInfo as FfiVectorInfo

/**
 * The distance a [VectorKVault] ranks by ([coreName] is the core's canonical name; the core also accepts
 * `euclidean` for [L2] and `manhattan` for [L1] through the string constructor).
 *
 * Distances: [COSINE] = 1 − cos (the vectors are L2-normalised when stored), [L2] = Euclidean distance, [L1] = sum of
 * absolute differences, [HAMMING] = number of differing bits.
 */
enum class VectorMetric(val coreName: String) {
    COSINE("cosine"), L2("l2"), L1("l1"), HAMMING("hamming");

    companion object {
        /** The metric of a canonical core name ("cosine", "l2", "l1", "hamming"). */
        @JvmStatic
        fun ofCoreName(name: String): VectorMetric = entries.firstOrNull { it.coreName == name }
            ?: throw KohakuVaultException.Internal("unknown vector metric '$name' reported by the core")
    }
}

/**
 * How a [VectorKVault] stores a vector, and the Kotlin array it takes: [F32] a `FloatArray` of `dimensions` floats,
 * [INT8] a `ByteArray` of `dimensions` signed bytes, [BIT] a `ByteArray` of `dimensions / 8` bytes, the bits packed
 * most significant first (element 0 is bit 7 of byte 0, as numpy.packbits). Valid pairs (checked by the core):
 * COSINE with F32, L1 / L2 with F32 or INT8, HAMMING with BIT.
 */
enum class VectorType(val coreName: String) {
    F32("f32"), INT8("int8"), BIT("bit");

    companion object {
        /** The type of a canonical core name ("f32", "int8", "bit"). */
        @JvmStatic
        fun ofCoreName(name: String): VectorType = entries.firstOrNull { it.coreName == name }
            ?: throw KohakuVaultException.Internal("unknown vector type '$name' reported by the core")
    }
}

/**
 * Restricts a search to the rows whose id is in [ids] (when given) and whose metadata has every entry of
 * [metadataEquals] (when given) with an equal scalar value (String, integer, Double/Float, Boolean or null). A filtered
 * search still returns k hits whenever at least k rows match. Equality compares [ids] by content.
 */
data class VectorFilter @JvmOverloads constructor(
    val ids: LongArray? = null,
    val metadataEquals: Map<String, Any?>? = null,
) {
    override fun equals(other: Any?): Boolean =
        other is VectorFilter && (ids?.contentEquals(other.ids) ?: (other.ids == null)) &&
            metadataEquals == other.metadataEquals

    override fun hashCode(): Int = 31 * (ids?.contentHashCode() ?: 0) + (metadataEquals?.hashCode() ?: 0)

    override fun toString(): String = "VectorFilter(ids=${ids?.contentToString()}, metadataEquals=$metadataEquals)"

    companion object {
        /** Only the rows with these ids. */
        @JvmStatic
        fun ids(vararg ids: Long): VectorFilter = VectorFilter(ids = ids)

        /** Only the rows whose metadata has these entries. */
        @JvmStatic
        fun metadata(equals: Map<String, Any?>): VectorFilter = VectorFilter(metadataEquals = equals)
    }
}

/**
 * One search hit: the row's [id], its [distance] to the query (see [VectorMetric]) and its decoded [value] (the same
 * [TaggedValue] a [KVault] read returns: `hit.value.asString()`, `hit.value.toPlain()`, ...).
 */
data class VectorHit(val id: Long, val distance: Float, val value: TaggedValue)

/**
 * One stored row ([VectorKVault.getById]): [vector] is the stored vector (normalised for cosine): a `FloatArray` for
 * [VectorType.F32], a `ByteArray` for [VectorType.INT8] and [VectorType.BIT] (packed bits); [value] the decoded value;
 * [metadata] the row's metadata map, or null when it has none. Equality compares the vector by content.
 */
data class VectorRecord(
    val id: Long,
    val vector: Any,
    val value: TaggedValue,
    val metadata: Map<String, Any?>?,
) {
    /** The vector of an f32 vault; InvalidArgument for another type. */
    val floats: FloatArray
        @Throws(KohakuVaultException::class) get() = vector as? FloatArray
            ?: throw KohakuVaultException.InvalidArgument("the vector is not f32 (it is a ByteArray)")

    /** The vector of an int8 or bit vault; InvalidArgument for f32. */
    val bytes: ByteArray
        @Throws(KohakuVaultException::class) get() = vector as? ByteArray
            ?: throw KohakuVaultException.InvalidArgument("the vector is f32 (it is a FloatArray)")

    override fun equals(other: Any?): Boolean =
        other is VectorRecord && id == other.id && java.util.Objects.deepEquals(vector, other.vector) &&
            value == other.value && metadata == other.metadata

    override fun hashCode(): Int =
        java.util.Arrays.deepHashCode(arrayOf(id, vector, value, metadata))

    override fun toString(): String {
        val v = when (val x = vector) {
            is FloatArray -> x.contentToString(); is ByteArray -> x.contentToString(); else -> x.toString()
        }
        return "VectorRecord(id=$id, vector=$v, value=$value, metadata=$metadata)"
    }
}

/**
 * A vector table as the core reports it ([VectorKVault.info]), unchanged: [metric] and [vectorType] in kohakuvault
 * 1.1.0's spelling ("cosine", "L2", "L1", "hamming"; "float32", "int8", "bit").
 *
 * @property rowBytes bytes of one stored vector.
 * @property deletedSlots slots of deleted vectors still allocated in the file (what [VectorKVault.compact] reclaims).
 */
data class VectorInfo(
    val table: String,
    val dimensions: Int,
    val metric: String,
    val vectorType: String,
    val count: Long,
    val rowBytes: Int,
    val deletedSlots: Long,
)

internal fun FfiVectorInfo.toFacade(): VectorInfo = VectorInfo(
    table = table, dimensions = dimensions.toInt(), metric = metric, vectorType = vectorType,
    count = count.toLong(), rowBytes = rowBytes.toInt(), deletedSlots = deletedSlots.toLong(),
)
