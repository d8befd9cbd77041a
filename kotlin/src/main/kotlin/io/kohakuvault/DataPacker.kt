package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.ResultReader
import io.kohakuvault.internal.StagedItems
import io.kohakuvault.uniffi.DataPacker as FfiDataPacker

/**
 * kohakuvault's `DataPacker`: packs values of one dtype (e.g. `"i64"`, `"str:utf8"`, `"vec:f32:128"`, `"msgpack"`)
 * into bytes and back (docs/FORMAT.md §2.4, docs/COMPATIBILITY.md). Values cross as [TaggedValue]s (kind, payload);
 * which kind a packer takes and returns is the core's answer ([valueKind], [elemDtype]), never parsed from the dtype
 * string here.
 */
class DataPacker private constructor(private val p: FfiDataPacker) : AutoCloseable {

    /** A packer for [dtype]; InvalidArgument if it does not parse. */
    @Throws(KohakuVaultException::class)
    constructor(dtype: String) : this(vaultCall { FfiDataPacker(dtype) })

    val dtype: String get() = vaultCall { p.dtype() }

    /** Bytes per item; 0 for variable-size dtypes. */
    val elemSize: Int get() = vaultCall { p.elemSize() }.toInt()

    val isVarsize: Boolean get() = vaultCall { p.isVarsize() }

    /**
     * The value kind (see [Kind]) [pack] takes and [unpack] returns: INT, FLOAT, UTF8, RAW, MSGPACK (cbor and
     * json-schema packers take msgpack too) or NDARRAY (vectors).
     */
    val valueKind: Int by lazy { vaultCall { p.valueKind() }.toInt() }

    /** A vector packer's element type, else null. */
    val elemDtype: DType? by lazy { vaultCall { p.elemDtype() }?.let { DType.of(it.toInt()) } }

    fun describe(): String = vaultCall { p.describe() }

    @Throws(KohakuVaultException::class)
    fun pack(value: TaggedValue): ByteArray = vaultCall { p.pack(value.kind.toUByte(), Arena.one(value.payload)) }

    @Throws(KohakuVaultException::class)
    fun pack(value: Long): ByteArray = pack(TaggedValue.of(value))

    @Throws(KohakuVaultException::class)
    fun pack(value: Double): ByteArray = pack(TaggedValue.of(value))

    @Throws(KohakuVaultException::class)
    fun pack(value: String): ByteArray = pack(TaggedValue.of(value))

    @Throws(KohakuVaultException::class)
    fun pack(value: Boolean): ByteArray = pack(TaggedValue.of(value))

    @Throws(KohakuVaultException::class)
    fun pack(value: ByteArray): ByteArray = pack(TaggedValue.raw(value))

    /**
     * Any value in the form this packer takes ([valueKind]): for msgpack / cbor / json-schema packers every value
     * (also a bare string or number) becomes a MessagePack plain value; otherwise [TaggedValue.from] maps it (so a
     * `FloatArray` fits a `vec:f32` packer).
     */
    @Throws(KohakuVaultException::class)
    fun packPlain(value: Any?): ByteArray = pack(toKind(value))

    private fun toKind(value: Any?): TaggedValue =
        if (valueKind == Kind.MSGPACK && value !is TaggedValue) TaggedValue.msgpack(Codec.plainToMsgpack(value))
        else TaggedValue.from(value)

    /** Packs all [values] (one FFI call) and returns the concatenation. */
    @Throws(KohakuVaultException::class)
    fun packMany(values: List<TaggedValue>): ByteArray {
        val staged = StagedItems(values.size, withKeys = false)
        for (v in values) staged.add(v.kind, null, v.payload)
        val items = staged.pack()
        return vaultCall { p.packMany(items) }
    }

    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun unpack(data: ByteArray, offset: Long = 0): TaggedValue =
        vaultCall { p.unpack(Arena.one(data), offset.toULong()) }.toFacade()

    /** [unpack] as a plain Kotlin value (see [KVault.getPlain]). */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun unpackPlain(data: ByteArray, offset: Long = 0): Any? = Codec.toPlain(unpack(data, offset))

    /**
     * Unpacks several items: fixed-size dtypes need [count]; variable-size ones need [offsets] (start positions, the
     * last item runs to the end of [data]). One FFI call.
     */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun unpackMany(data: ByteArray, count: Long? = null, offsets: List<Long>? = null): List<TaggedValue> {
        val out = vaultCall { p.unpackMany(Arena.one(data), count?.toULong(), offsets?.map { it.toULong() }) }
        val r = ResultReader(out)
        val res = ArrayList<TaggedValue>()
        while (r.hasRemaining) {
            val kind = r.u8()
            res.add(TaggedValue(kind, r.lenBytes()))
        }
        return res
    }

    override fun toString(): String = "DataPacker(${describe()})"

    override fun close() = p.destroy()

    companion object {
        /** A MessagePack packer validating against a JSON Schema (given as JSON text). */
        @JvmStatic
        @Throws(KohakuVaultException::class)
        fun withJsonSchema(schemaJson: String): DataPacker = DataPacker(vaultCall { FfiDataPacker.withJsonSchema(schemaJson) })

        /** A CBOR packer (the schema is stored and ignored, as in 1.1.0). */
        @JvmStatic @JvmOverloads
        fun withCddlSchema(schema: String? = null): DataPacker = DataPacker(vaultCall { FfiDataPacker.withCddlSchema(schema) })
    }
}
