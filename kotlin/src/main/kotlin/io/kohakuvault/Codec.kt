package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.uniffi.decodeValue as ffiDecodeValue
import io.kohakuvault.uniffi.encodeValue as ffiEncodeValue
import io.kohakuvault.uniffi.msgpackToPlain as ffiMsgpackToPlain
import io.kohakuvault.uniffi.plainToMsgpack as ffiPlainToMsgpack
import io.kohakuvault.uniffi.transcode as ffiTranscode
import io.kohakuvault.uniffi.coreVersion as ffiCoreVersion
import java.math.BigInteger

/**
 * The value codec shared by every vault, as implemented by the Rust core (docs/FORMAT.md §1-2).
 * Each function is one FFI call.
 */
object Codec {
    /** Version of the Rust core. */
    @JvmStatic
    fun coreVersion(): String = vaultCall { ffiCoreVersion() }

    /** (kind, payload) -> stored bytes, as a vault would store them. */
    @JvmStatic @JvmOverloads
    fun encode(kind: Int, payload: ByteArray, headers: Boolean = true): ByteArray =
        vaultCall { ffiEncodeValue(kind.toUByte(), Arena.one(payload), headers) }

    /** Stored bytes (any encoding kohakuvault ever wrote) -> (kind, payload). */
    @JvmStatic
    fun decode(stored: ByteArray): VaultValue =
        vaultCall { ffiDecodeValue(Arena.one(stored)).let { VaultValue(it.kind.toInt(), it.payload) } }

    /** Converts between msgpack (4), cbor (5) and json (3) payloads. */
    @JvmStatic
    fun transcode(fromKind: Int, toKind: Int, payload: ByteArray): ByteArray =
        vaultCall { ffiTranscode(fromKind.toUByte(), toKind.toUByte(), Arena.one(payload)) }

    /** A plain value (see [ValueWriter.putPlain]) as a MessagePack payload. */
    @JvmStatic
    fun plainToMsgpack(value: Any?): ByteArray = vaultCall { ffiPlainToMsgpack(Plain.toNodes(value)) }

    /** A MessagePack payload as a plain Kotlin value. */
    @JvmStatic
    fun msgpackToPlain(payload: ByteArray): Any? = Plain.fromNodes(vaultCall { ffiMsgpackToPlain(Arena.one(payload)) })

    /** The (kind, payload) that [ValueWriter.putPlain] stores for [value]. */
    internal fun plainPayload(value: Any?): Pair<Int, ByteArray> = when (value) {
        is String -> Kind.UTF8 to value.encodeToByteArray()
        is Boolean -> Kind.BOOL to byteArrayOf(if (value) 1 else 0)
        is Long -> Kind.INT to VaultValue.longPayload(value)
        is Int -> Kind.INT to VaultValue.longPayload(value.toLong())
        is Short -> Kind.INT to VaultValue.longPayload(value.toLong())
        is Byte -> Kind.INT to VaultValue.longPayload(value.toLong())
        is BigInteger -> Kind.INT to value.toByteArray().reversedArray()
        is Double -> Kind.FLOAT to VaultValue.doublePayload(value)
        is Float -> Kind.FLOAT to VaultValue.doublePayload(value.toDouble())
        is ByteArray -> Kind.RAW to value
        is NdArray -> Kind.NDARRAY to value.toPayload()
        is VaultValue -> value.kind to value.payload
        else -> Kind.MSGPACK to plainToMsgpack(value)
    }

    /** A decoded value as a plain Kotlin value (see [KVault.getPlain]). */
    @JvmStatic
    fun toPlain(v: VaultValue): Any? = when (v.kind) {
        Kind.RAW -> v.payload
        Kind.UTF8 -> v.asString()
        Kind.INT -> v.asBigInteger().let { if (it.bitLength() <= 63) it.toLong() else it }
        Kind.FLOAT -> v.asDouble()
        Kind.BOOL -> v.asBoolean()
        Kind.NDARRAY, Kind.NUMPY_SCALAR -> v.asNdArray()
        Kind.MSGPACK -> msgpackToPlain(v.payload)
        Kind.JSON, Kind.CBOR -> msgpackToPlain(transcode(v.kind, Kind.MSGPACK, v.payload))
        Kind.PICKLE -> throw KohakuVaultException.UnsupportedEncoding("pickle values can only be decoded in Python")
        else -> throw KohakuVaultException.UnsupportedEncoding("unknown value kind ${v.kind}")
    }
}
