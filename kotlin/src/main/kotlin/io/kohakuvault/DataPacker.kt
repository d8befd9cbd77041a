package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.getBytes
import io.kohakuvault.internal.leReader
import io.kohakuvault.internal.u32
import java.nio.ByteBuffer
import java.nio.ByteOrder
import io.kohakuvault.uniffi.DataPacker as FfiDataPacker

/**
 * kohakuvault's `DataPacker`: packs values of one dtype (e.g. `"i64"`, `"str:utf8"`, `"vec:f32:128"`, `"msgpack"`)
 * into bytes and back (REFERENCE.md §1.7 / §2.1). Values cross as [VaultValue]s (kind, payload).
 */
class DataPacker private constructor(private val p: FfiDataPacker) : AutoCloseable {

    /** A packer for [dtype]; InvalidArgument if it does not parse. */
    constructor(dtype: String) : this(vaultCall { FfiDataPacker(dtype) })

    val dtype: String get() = vaultCall { p.dtype() }

    /** Bytes per item; 0 for variable-size dtypes. */
    val elemSize: Int get() = vaultCall { p.elemSize() }.toInt()

    val isVarsize: Boolean get() = vaultCall { p.isVarsize() }

    fun describe(): String = vaultCall { p.describe() }

    fun pack(value: VaultValue): ByteArray = vaultCall { p.pack(value.kind.toUByte(), Arena.one(value.payload)) }

    fun pack(value: Long): ByteArray = pack(VaultValue.of(value))
    fun pack(value: Double): ByteArray = pack(VaultValue.of(value))
    fun pack(value: String): ByteArray = pack(VaultValue.of(value))
    fun pack(value: Boolean): ByteArray = pack(VaultValue.of(value))
    fun pack(value: ByteArray): ByteArray = pack(VaultValue.raw(value))

    /** Plain values (maps, lists, scalars) for msgpack / cbor / json-schema packers. */
    fun packPlain(value: Any?): ByteArray {
        val (kind, payload) = Codec.plainPayload(value)
        return pack(VaultValue(kind, payload))
    }

    /** Packs all [values] (one FFI call) and returns the concatenation. */
    fun packMany(values: List<VaultValue>): ByteArray {
        var total = 0L
        for (v in values) total += 5 + v.payload.size
        val a = Arena.get(Math.toIntExact(total))
        val b = a.buffer
        for (v in values) {
            b.put(v.kind.toByte()); b.putInt(v.payload.size); b.put(v.payload)
        }
        val items = a.sliceFrom(0)
        return vaultCall { p.packMany(items) }
    }

    fun unpack(data: ByteArray, offset: Long = 0): VaultValue =
        vaultCall { p.unpack(Arena.one(data), offset.toULong()) }.let { VaultValue(it.kind.toInt(), it.payload) }

    /**
     * Unpacks several items: fixed-size dtypes need [count]; variable-size ones need [offsets] (start positions, the
     * last item runs to the end of [data]). One FFI call.
     */
    fun unpackMany(data: ByteArray, count: Long? = null, offsets: List<Long>? = null): List<VaultValue> {
        val out = vaultCall { p.unpackMany(Arena.one(data), count?.toULong(), offsets?.map { it.toULong() }) }
        val r: ByteBuffer = leReader(out)
        val res = ArrayList<VaultValue>()
        while (r.hasRemaining()) {
            val kind = r.get().toInt() and 0xFF
            res.add(VaultValue(kind, r.getBytes(r.u32())))
        }
        return res
    }

    override fun toString(): String = "DataPacker(${describe()})"

    override fun close() = p.destroy()

    companion object {
        /** A MessagePack packer validating against a JSON Schema (given as JSON text). */
        @JvmStatic
        fun withJsonSchema(schemaJson: String): DataPacker = DataPacker(vaultCall { FfiDataPacker.withJsonSchema(schemaJson) })

        /** A CBOR packer (the schema is stored and ignored, as in 1.1.0). */
        @JvmStatic @JvmOverloads
        fun withCddlSchema(schema: String? = null): DataPacker = DataPacker(vaultCall { FfiDataPacker.withCddlSchema(schema) })

        @Suppress("unused")
        private val LE = ByteOrder.LITTLE_ENDIAN
    }
}
