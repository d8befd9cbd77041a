package io.kohakuvault

import java.math.BigInteger

/**
 * The typed put operations shared by [KVault] (one call per put, or buffered while a cache is enabled) and
 * [KVault.Batch] (everything sent in one atomic `put_many`).
 *
 * Values cross to the core as (kind, payload) pairs (docs/FORMAT.md §2), built by [TaggedValue.of] /
 * [TaggedValue.from] only; the core chooses the stored bytes, so a value written here reads back the same in Python
 * and Swift.
 */
interface ValueWriter {
    /** Stores [payload] as a value of [kind] (see [Kind]). */
    @Throws(KohakuVaultException::class)
    fun putTagged(key: ByteArray, kind: Int, payload: ByteArray)

    @Throws(KohakuVaultException::class)
    fun putTagged(key: String, kind: Int, payload: ByteArray) = putTagged(key.encodeToByteArray(), kind, payload)

    /** Stores a decoded value as it is. */
    @Throws(KohakuVaultException::class)
    fun putValue(key: ByteArray, value: TaggedValue) = putTagged(key, value.kind, value.payload)

    @Throws(KohakuVaultException::class)
    fun putValue(key: String, value: TaggedValue) = putValue(key.encodeToByteArray(), value)

    /** Stores raw bytes (kind 0). */
    @Throws(KohakuVaultException::class)
    operator fun set(key: String, value: ByteArray) = putValue(key, TaggedValue.raw(value))

    /** Stores raw bytes (kind 0) under a binary key. */
    @Throws(KohakuVaultException::class)
    operator fun set(key: ByteArray, value: ByteArray) = putValue(key, TaggedValue.raw(value))

    @Throws(KohakuVaultException::class)
    fun putString(key: String, value: String) = putValue(key, TaggedValue.of(value))

    @Throws(KohakuVaultException::class)
    fun putLong(key: String, value: Long) = putValue(key, TaggedValue.of(value))

    /** Integers of any size (Python's big ints stay exact). */
    @Throws(KohakuVaultException::class)
    fun putBigInteger(key: String, value: BigInteger) = putValue(key, TaggedValue.of(value))

    @Throws(KohakuVaultException::class)
    fun putDouble(key: String, value: Double) = putValue(key, TaggedValue.of(value))

    @Throws(KohakuVaultException::class)
    fun putBoolean(key: String, value: Boolean) = putValue(key, TaggedValue.of(value))

    @Throws(KohakuVaultException::class)
    fun putNdArray(key: String, value: NdArray) = putValue(key, TaggedValue.of(value))

    /** A float32 array; [shape] defaults to one dimension (C order, the product must equal the size). */
    @Throws(KohakuVaultException::class)
    fun putFloatArray(key: String, value: FloatArray, shape: IntArray?) = putNdArray(key, NdArray.of(value, shape))

    @Throws(KohakuVaultException::class)
    fun putFloatArray(key: String, value: FloatArray) = putFloatArray(key, value, null)

    @Throws(KohakuVaultException::class)
    fun putDoubleArray(key: String, value: DoubleArray, shape: IntArray?) = putNdArray(key, NdArray.of(value, shape))

    @Throws(KohakuVaultException::class)
    fun putDoubleArray(key: String, value: DoubleArray) = putDoubleArray(key, value, null)

    @Throws(KohakuVaultException::class)
    fun putLongArray(key: String, value: LongArray, shape: IntArray?) = putNdArray(key, NdArray.of(value, shape))

    @Throws(KohakuVaultException::class)
    fun putLongArray(key: String, value: LongArray) = putLongArray(key, value, null)

    @Throws(KohakuVaultException::class)
    fun putIntArray(key: String, value: IntArray, shape: IntArray?) = putNdArray(key, NdArray.of(value, shape))

    @Throws(KohakuVaultException::class)
    fun putIntArray(key: String, value: IntArray) = putIntArray(key, value, null)

    /**
     * Stores a plain value (see [TaggedValue.from]): a [Map] or a collection as MessagePack (kind 4), a scalar through
     * its typed put ([String], [Long]/[Int], [BigInteger], [Double]/[Float], [Boolean], [ByteArray] as raw bytes,
     * [NdArray]). `null` is stored as MessagePack nil.
     */
    @Throws(KohakuVaultException::class)
    fun putPlain(key: String, value: Any?) = putValue(key, TaggedValue.from(value))
}
