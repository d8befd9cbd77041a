package io.kohakuvault

import java.math.BigInteger

/**
 * The typed put operations shared by [KVault] (one call per put, or buffered while a cache is enabled) and
 * [KVault.Batch] (everything sent in one atomic `put_many`).
 *
 * Values cross to the core as (kind, payload) pairs (docs/FORMAT.md §2); the core chooses the stored bytes, so a
 * value written here reads back the same in Python and Swift.
 */
interface ValueWriter {
    /** Stores [payload] as a value of [kind] (see [Kind]). */
    fun putTagged(key: ByteArray, kind: Int, payload: ByteArray)

    fun putTagged(key: String, kind: Int, payload: ByteArray) = putTagged(key.encodeToByteArray(), kind, payload)

    /** Stores raw bytes (kind 0). */
    operator fun set(key: String, value: ByteArray) = putTagged(key.encodeToByteArray(), Kind.RAW, value)

    /** Stores raw bytes (kind 0) under a binary key. */
    operator fun set(key: ByteArray, value: ByteArray) = putTagged(key, Kind.RAW, value)

    fun putString(key: String, value: String) = putTagged(key, Kind.UTF8, value.encodeToByteArray())

    fun putLong(key: String, value: Long) = putTagged(key, Kind.INT, VaultValue.longPayload(value))

    /** Integers of any size (Python's big ints stay exact). */
    fun putBigInteger(key: String, value: BigInteger) = putTagged(key, Kind.INT, value.toByteArray().reversedArray())

    fun putDouble(key: String, value: Double) = putTagged(key, Kind.FLOAT, VaultValue.doublePayload(value))

    fun putBoolean(key: String, value: Boolean) = putTagged(key, Kind.BOOL, byteArrayOf(if (value) 1 else 0))

    fun putNdArray(key: String, value: NdArray) = putTagged(key, Kind.NDARRAY, value.toPayload())

    /** A float32 array; [shape] defaults to one dimension (C order, the product must equal the size). */
    fun putFloatArray(key: String, value: FloatArray, shape: IntArray? = null) = putNdArray(key, NdArray.of(value, shape))

    fun putDoubleArray(key: String, value: DoubleArray, shape: IntArray? = null) = putNdArray(key, NdArray.of(value, shape))

    fun putLongArray(key: String, value: LongArray, shape: IntArray? = null) = putNdArray(key, NdArray.of(value, shape))

    fun putIntArray(key: String, value: IntArray, shape: IntArray? = null) = putNdArray(key, NdArray.of(value, shape))

    /**
     * Stores a plain value: a [Map] or a collection (as MessagePack, kind 4), or a scalar through its typed put
     * ([String], [Long]/[Int], [BigInteger], [Double]/[Float], [Boolean], [ByteArray] as raw bytes, [NdArray]).
     * `null` is stored as MessagePack nil.
     */
    fun putPlain(key: String, value: Any?) {
        val (kind, payload) = Codec.plainPayload(value)
        putTagged(key, kind, payload)
    }
}
