package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.uniffi.decodeValue as ffiDecodeValue
import io.kohakuvault.uniffi.encodeValue as ffiEncodeValue
import io.kohakuvault.uniffi.msgpackToPlain as ffiMsgpackToPlain
import io.kohakuvault.uniffi.plainToMsgpack as ffiPlainToMsgpack
import io.kohakuvault.uniffi.transcode as ffiTranscode
import io.kohakuvault.uniffi.coreVersion as ffiCoreVersion

/**
 * The value codec shared by every vault, as implemented by the Rust core (docs/FORMAT.md §1-2).
 * Each function is one FFI call.
 */
object Codec {
    /** Version of the Rust core. */
    @JvmStatic
    fun coreVersion(): String = vaultCall { ffiCoreVersion() }

    /** (kind, payload) -> stored bytes, as a vault would store them. */
    @JvmStatic @JvmOverloads @Throws(KohakuVaultException::class)
    fun encode(kind: Int, payload: ByteArray, headers: Boolean = true): ByteArray =
        vaultCall { ffiEncodeValue(kind.toUByte(), Arena.one(payload), headers) }

    /** Stored bytes (any encoding kohakuvault ever wrote) -> (kind, payload). */
    @JvmStatic @Throws(KohakuVaultException::class)
    fun decode(stored: ByteArray): TaggedValue =
        vaultCall { ffiDecodeValue(Arena.one(stored)).toFacade() }

    /** Converts between msgpack (4), cbor (5) and json (3) payloads. */
    @JvmStatic @Throws(KohakuVaultException::class)
    fun transcode(fromKind: Int, toKind: Int, payload: ByteArray): ByteArray =
        vaultCall { ffiTranscode(fromKind.toUByte(), toKind.toUByte(), Arena.one(payload)) }

    /** A plain value (see [ValueWriter.putPlain]) as a MessagePack payload. */
    @JvmStatic @Throws(KohakuVaultException::class)
    fun plainToMsgpack(value: Any?): ByteArray = vaultCall { ffiPlainToMsgpack(Plain.toNodes(value)) }

    /** A MessagePack payload as a plain Kotlin value. */
    @JvmStatic @Throws(KohakuVaultException::class)
    fun msgpackToPlain(payload: ByteArray): Any? = Plain.fromNodes(vaultCall { ffiMsgpackToPlain(Arena.one(payload)) })

    /** A decoded value as a plain Kotlin value (see [KVault.getPlain]). */
    @JvmStatic @Throws(KohakuVaultException::class)
    fun toPlain(v: TaggedValue): Any? = when (v.kind) {
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
