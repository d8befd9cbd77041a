package io.kohakuvault

import io.kohakuvault.internal.EMPTY_BYTES
import io.kohakuvault.uniffi.PlainKind
import io.kohakuvault.uniffi.PlainNode
import io.kohakuvault.uniffi.TaggedValue as FfiTaggedValue
import java.math.BigInteger
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** Value kind codes of the FFI value model (docs/FORMAT.md §2). */
object Kind {
    const val RAW = 0
    const val PICKLE = 1
    const val JSON = 3
    const val MSGPACK = 4
    const val CBOR = 5
    const val UTF8 = 6
    const val INT = 16
    const val FLOAT = 17
    const val BOOL = 18
    const val NDARRAY = 19
    const val NUMPY_SCALAR = 20

    @JvmStatic
    fun name(kind: Int): String = when (kind) {
        RAW -> "raw"; PICKLE -> "pickle"; JSON -> "json"; MSGPACK -> "msgpack"; CBOR -> "cbor"
        UTF8 -> "utf8"; INT -> "int"; FLOAT -> "float"; BOOL -> "bool"; NDARRAY -> "ndarray"
        NUMPY_SCALAR -> "numpy scalar"; else -> "kind $kind"
    }
}

/** ndarray element types (docs/FORMAT.md §2): the 1.1.0 DataPacker codes plus bool and f16. */
enum class DType(val code: Int, val size: Int) {
    F32(0x01, 4), F64(0x02, 8), I32(0x03, 4), I64(0x04, 8), U8(0x05, 1), U16(0x06, 2), U32(0x07, 4),
    U64(0x08, 8), I8(0x09, 1), I16(0x0A, 2), BOOL(0x0B, 1), F16(0x0C, 2);

    companion object {
        @JvmStatic
        fun of(code: Int): DType = entries.firstOrNull { it.code == code }
            ?: throw KohakuVaultException.Corrupt("unknown ndarray dtype code $code")
    }
}

/** An array with its shape (C order). Equality compares contents. */
class ShapedArray<out A : Any>(val data: A, val shape: IntArray) {
    override fun equals(other: Any?): Boolean =
        other is ShapedArray<*> && shape.contentEquals(other.shape) &&
            java.util.Objects.deepEquals(data, other.data)

    override fun hashCode(): Int = 31 * shape.contentHashCode() + java.util.Arrays.deepHashCode(arrayOf<Any>(data))

    override fun toString(): String {
        val d = when (val x: Any = data) {
            is FloatArray -> x.contentToString(); is DoubleArray -> x.contentToString()
            is LongArray -> x.contentToString(); is IntArray -> x.contentToString()
            is ByteArray -> x.contentToString(); else -> x.toString()
        }
        return "ShapedArray(shape=${shape.contentToString()}, data=$d)"
    }
}

/**
 * An n-dimensional array as the core stores it: element type, shape and little-endian C-order data.
 * The typed accessors ([KVault.getFloatArray], ...) convert from it.
 */
class NdArray(val dtype: DType, val shape: IntArray, val data: ByteArray) {
    val elementCount: Long get() = shape.fold(1L) { a, d -> a * d }

    fun toFloatArray(): ShapedArray<FloatArray> {
        expect(DType.F32)
        val fb = le().asFloatBuffer(); val out = FloatArray(fb.remaining()); fb.get(out)
        return ShapedArray(out, shape)
    }

    fun toDoubleArray(): ShapedArray<DoubleArray> {
        expect(DType.F64)
        val b = le().asDoubleBuffer(); val out = DoubleArray(b.remaining()); b.get(out)
        return ShapedArray(out, shape)
    }

    fun toLongArray(): ShapedArray<LongArray> {
        expect(DType.I64)
        val b = le().asLongBuffer(); val out = LongArray(b.remaining()); b.get(out)
        return ShapedArray(out, shape)
    }

    fun toIntArray(): ShapedArray<IntArray> {
        expect(DType.I32)
        val b = le().asIntBuffer(); val out = IntArray(b.remaining()); b.get(out)
        return ShapedArray(out, shape)
    }

    private fun le(): ByteBuffer = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN)

    private fun expect(t: DType) {
        if (dtype != t) throw KohakuVaultException.InvalidArgument("array has dtype ${dtype.name.lowercase()}, not ${t.name.lowercase()}")
    }

    /** The kind-19 payload `[dtype u8][ndim u8][dim u32 LE]*ndim[data]`. */
    fun toPayload(): ByteArray {
        val b = ByteBuffer.allocate(2 + 4 * shape.size + data.size).order(ByteOrder.LITTLE_ENDIAN)
        b.put(dtype.code.toByte()).put(shape.size.toByte())
        for (d in shape) b.putInt(d)
        b.put(data)
        return b.array()
    }

    companion object {
        @JvmStatic
        fun fromPayload(payload: ByteArray): NdArray {
            if (payload.size < 2) throw KohakuVaultException.Corrupt("ndarray payload too short")
            val b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN)
            val dtype = DType.of(b.get().toInt() and 0xFF)
            val ndim = b.get().toInt() and 0xFF
            if (b.remaining() < 4 * ndim) throw KohakuVaultException.Corrupt("ndarray payload too short")
            val shape = IntArray(ndim) { b.int }
            var n = 1L
            for (d in shape) {
                if (d < 0) throw KohakuVaultException.Corrupt("ndarray dimension over 2^31")
                n *= d
            }
            if (n * dtype.size != b.remaining().toLong()) {
                throw KohakuVaultException.Corrupt("ndarray data size ${b.remaining()} does not match shape ${shape.contentToString()}")
            }
            val data = ByteArray(b.remaining()); b.get(data)
            return NdArray(dtype, shape, data)
        }

        internal fun checkShape(count: Int, shape: IntArray?): IntArray {
            val s = shape ?: intArrayOf(count)
            if (s.size > 255) throw KohakuVaultException.InvalidArgument("at most 255 dimensions")
            var n = 1L
            for (d in s) {
                if (d < 0) throw KohakuVaultException.InvalidArgument("negative dimension in shape ${s.contentToString()}")
                n *= d
            }
            if (n != count.toLong()) {
                throw KohakuVaultException.InvalidArgument("shape ${s.contentToString()} does not hold $count elements")
            }
            return s
        }

        @JvmStatic @JvmOverloads
        fun of(data: FloatArray, shape: IntArray? = null): NdArray {
            val s = checkShape(data.size, shape)
            val b = ByteBuffer.allocate(data.size * 4).order(ByteOrder.LITTLE_ENDIAN)
            b.asFloatBuffer().put(data)
            return NdArray(DType.F32, s, b.array())
        }

        @JvmStatic @JvmOverloads
        fun of(data: DoubleArray, shape: IntArray? = null): NdArray {
            val s = checkShape(data.size, shape)
            val b = ByteBuffer.allocate(data.size * 8).order(ByteOrder.LITTLE_ENDIAN)
            b.asDoubleBuffer().put(data)
            return NdArray(DType.F64, s, b.array())
        }

        @JvmStatic @JvmOverloads
        fun of(data: LongArray, shape: IntArray? = null): NdArray {
            val s = checkShape(data.size, shape)
            val b = ByteBuffer.allocate(data.size * 8).order(ByteOrder.LITTLE_ENDIAN)
            b.asLongBuffer().put(data)
            return NdArray(DType.I64, s, b.array())
        }

        @JvmStatic @JvmOverloads
        fun of(data: IntArray, shape: IntArray? = null): NdArray {
            val s = checkShape(data.size, shape)
            val b = ByteBuffer.allocate(data.size * 4).order(ByteOrder.LITTLE_ENDIAN)
            b.asIntBuffer().put(data)
            return NdArray(DType.I32, s, b.array())
        }
    }
}

/**
 * A decoded value: its kind (see [Kind]) and payload, as the core returns them (udl `TaggedValue`; the same name in
 * every language). The `as...` conversions raise [KohakuVaultException.UnsupportedEncoding] for pickle values and
 * [KohakuVaultException.InvalidArgument] for a value of another kind.
 *
 * The companion's `of(...)` functions and [from] are the one place where a Kotlin value becomes (kind, payload):
 * every typed put, batch, DataPacker and plain conversion goes through them.
 */
class TaggedValue(val kind: Int, val payload: ByteArray) {

    init {
        if (kind !in 0..255) throw KohakuVaultException.InvalidArgument("kind must be 0..255, not $kind")
    }

    private fun unsupported(): Nothing =
        throw KohakuVaultException.UnsupportedEncoding("pickle values can only be decoded in Python")

    private fun mismatch(want: String): Nothing {
        if (kind == Kind.PICKLE) unsupported()
        throw KohakuVaultException.InvalidArgument("value is ${Kind.name(kind)}, not $want")
    }

    @Throws(KohakuVaultException::class)
    fun asString(): String = if (kind == Kind.UTF8) payload.toString(Charsets.UTF_8) else mismatch("a string")

    @Throws(KohakuVaultException::class)
    fun asBigInteger(): BigInteger {
        if (kind != Kind.INT) mismatch("an int")
        if (payload.isEmpty()) return BigInteger.ZERO
        return BigInteger(payload.reversedArray())
    }

    @Throws(KohakuVaultException::class)
    fun asLong(): Long {
        if (kind != Kind.INT) mismatch("an int")
        if (payload.size <= 8) {
            var v = 0L
            for (i in payload.indices.reversed()) v = (v shl 8) or (payload[i].toLong() and 0xFF)
            val shift = 64 - 8 * payload.size
            return if (payload.isEmpty()) 0L else (v shl shift) shr shift
        }
        val big = asBigInteger()
        if (big.bitLength() > 63) throw KohakuVaultException.InvalidArgument("int $big does not fit in a Long")
        return big.toLong()
    }

    @Throws(KohakuVaultException::class)
    fun asDouble(): Double {
        if (kind != Kind.FLOAT) mismatch("a float")
        if (payload.size != 8) throw KohakuVaultException.Corrupt("float payload of ${payload.size} bytes")
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).double
    }

    @Throws(KohakuVaultException::class)
    fun asBoolean(): Boolean {
        if (kind != Kind.BOOL) mismatch("a bool")
        if (payload.size != 1) throw KohakuVaultException.Corrupt("bool payload of ${payload.size} bytes")
        return payload[0].toInt() != 0
    }

    /** ndarray (kind 19) or numpy scalar (kind 20, shape `[]`). */
    @Throws(KohakuVaultException::class)
    fun asNdArray(): NdArray =
        if (kind == Kind.NDARRAY || kind == Kind.NUMPY_SCALAR) NdArray.fromPayload(payload) else mismatch("an array")

    /** The value as a plain Kotlin value (see [KVault.getPlain]). */
    @Throws(KohakuVaultException::class)
    fun toPlain(): Any? = Codec.toPlain(this)

    override fun equals(other: Any?): Boolean =
        other is TaggedValue && kind == other.kind && payload.contentEquals(other.payload)

    override fun hashCode(): Int = 31 * kind + payload.contentHashCode()

    override fun toString(): String = "TaggedValue(${Kind.name(kind)}, ${payload.size} bytes)"

    companion object {
        @JvmStatic fun raw(b: ByteArray) = TaggedValue(Kind.RAW, b)
        @JvmStatic fun of(s: String) = TaggedValue(Kind.UTF8, s.toByteArray(Charsets.UTF_8))
        @JvmStatic fun of(v: Long) = TaggedValue(Kind.INT, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array())
        @JvmStatic fun of(v: Int) = of(v.toLong())
        @JvmStatic fun of(v: BigInteger) = TaggedValue(Kind.INT, v.toByteArray().reversedArray())
        @JvmStatic fun of(v: Double) = TaggedValue(Kind.FLOAT, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(v).array())
        @JvmStatic fun of(v: Boolean) = TaggedValue(Kind.BOOL, byteArrayOf(if (v) 1 else 0))
        @JvmStatic fun of(a: NdArray) = TaggedValue(Kind.NDARRAY, a.toPayload())

        /** A MessagePack payload (kind 4) as it is, e.g. from [Codec.plainToMsgpack]. */
        @JvmStatic fun msgpack(payload: ByteArray) = TaggedValue(Kind.MSGPACK, payload)

        /**
         * Any supported value: a [TaggedValue] as it is; [String], [Long]/[Int]/[Short]/[Byte], [BigInteger],
         * [Double]/[Float], [Boolean], [NdArray], [ByteArray] (raw) through the typed `of`; primitive arrays as 1-d
         * [NdArray]s; anything else (maps, collections, null) as a MessagePack plain value.
         */
        @JvmStatic
        @Throws(KohakuVaultException::class)
        fun from(value: Any?): TaggedValue = when (value) {
            is TaggedValue -> value
            is String -> of(value)
            is Boolean -> of(value)
            is Long -> of(value)
            is Int -> of(value.toLong())
            is Short -> of(value.toLong())
            is Byte -> of(value.toLong())
            is BigInteger -> of(value)
            is Double -> of(value)
            is Float -> of(value.toDouble())
            is ByteArray -> raw(value)
            is NdArray -> of(value)
            is FloatArray -> of(NdArray.of(value))
            is DoubleArray -> of(NdArray.of(value))
            is LongArray -> of(NdArray.of(value))
            is IntArray -> of(NdArray.of(value))
            else -> msgpack(Codec.plainToMsgpack(value))
        }
    }
}

/** The generated (kind, payload) record as the facade's [TaggedValue]. */
internal fun FfiTaggedValue.toFacade(): TaggedValue = TaggedValue(kind.toInt(), payload)

/**
 * Plain values (maps and lists of scalars) <-> the flat pre-order [PlainNode] list of the UDL.
 *
 * Kotlin side: `null`, [Boolean], [Long] (and other integral types), [BigInteger] (up to u64), [Double] / [Float],
 * [String], [ByteArray], [List] / [Array] / other [Iterable]s, and [Map]s. Decoded maps are [LinkedHashMap]s that keep
 * the stored order; integers decode as [Long] ([BigInteger] above [Long.MAX_VALUE]).
 */
internal object Plain {
    private val U64_MAX = BigInteger.ONE.shiftLeft(64) - BigInteger.ONE

    private fun node(kind: PlainKind, b: Boolean = false, i: Long = 0, u: ULong = 0u, f: Double = 0.0,
                     s: String = "", bin: ByteArray = EMPTY_BYTES, count: Int = 0) =
        PlainNode(kind = kind, boolValue = b, intValue = i, uintValue = u, floatValue = f, text = s, bin = bin,
            count = count.toUInt())

    fun toNodes(value: Any?): List<PlainNode> {
        val out = ArrayList<PlainNode>()
        add(value, out, 0)
        return out
    }

    private fun add(v: Any?, out: MutableList<PlainNode>, depth: Int) {
        if (depth > 512) throw KohakuVaultException.InvalidArgument("plain value nested too deeply")
        when (v) {
            null -> out.add(node(PlainKind.NIL))
            is Boolean -> out.add(node(PlainKind.BOOL, b = v))
            is Long -> out.add(node(PlainKind.INT, i = v))
            is Int -> out.add(node(PlainKind.INT, i = v.toLong()))
            is Short -> out.add(node(PlainKind.INT, i = v.toLong()))
            is Byte -> out.add(node(PlainKind.INT, i = v.toLong()))
            is ULong -> out.add(node(PlainKind.U_INT, u = v))
            is UInt -> out.add(node(PlainKind.INT, i = v.toLong()))
            is BigInteger -> when {
                v.bitLength() <= 63 -> out.add(node(PlainKind.INT, i = v.toLong()))
                v.signum() > 0 && v <= U64_MAX -> out.add(node(PlainKind.U_INT, u = v.toLong().toULong()))
                else -> throw KohakuVaultException.InvalidArgument("int $v is outside the msgpack range")
            }
            is Double -> out.add(node(PlainKind.FLOAT, f = v))
            is Float -> out.add(node(PlainKind.FLOAT, f = v.toDouble()))
            is String -> out.add(node(PlainKind.STR, s = v))
            is ByteArray -> out.add(node(PlainKind.BIN, bin = v))
            is Map<*, *> -> {
                out.add(node(PlainKind.MAP, count = v.size))
                for ((k, x) in v) { add(k, out, depth + 1); add(x, out, depth + 1) }
            }
            is Collection<*> -> {
                out.add(node(PlainKind.ARRAY, count = v.size))
                for (x in v) add(x, out, depth + 1)
            }
            is Array<*> -> {
                out.add(node(PlainKind.ARRAY, count = v.size))
                for (x in v) add(x, out, depth + 1)
            }
            is Iterable<*> -> add(v.toList(), out, depth)
            else -> throw KohakuVaultException.InvalidArgument("not a plain value: ${v.javaClass.name}")
        }
    }

    fun fromNodes(nodes: List<PlainNode>): Any? {
        val pos = intArrayOf(0)
        val v = read(nodes, pos)
        if (pos[0] != nodes.size) throw KohakuVaultException.Corrupt("trailing plain nodes")
        return v
    }

    private fun read(nodes: List<PlainNode>, pos: IntArray): Any? {
        if (pos[0] >= nodes.size) throw KohakuVaultException.Corrupt("truncated plain node list")
        val n = nodes[pos[0]++]
        return when (n.kind) {
            PlainKind.NIL -> null
            PlainKind.BOOL -> n.boolValue
            PlainKind.INT -> n.intValue
            PlainKind.U_INT -> {
                val u = n.uintValue
                if (u <= Long.MAX_VALUE.toULong()) u.toLong() else BigInteger(u.toString())
            }
            PlainKind.FLOAT -> n.floatValue
            PlainKind.STR -> n.text
            PlainKind.BIN -> n.bin
            PlainKind.ARRAY -> {
                val c = n.count.toLong()
                val l = ArrayList<Any?>(c.coerceAtMost(1 shl 16).toInt())
                for (i in 0 until c) l.add(read(nodes, pos))
                l
            }
            PlainKind.MAP -> {
                val c = n.count.toLong()
                val m = LinkedHashMap<Any?, Any?>()
                for (i in 0 until c) {
                    val k = read(nodes, pos)
                    m[k] = read(nodes, pos)
                }
                m
            }
        }
    }
}
