package io.kohakuvault

import io.kohakuvault.internal.ColumnFastPath
import io.kohakuvault.internal.MAX_BATCH_BYTES
import java.nio.ByteBuffer
import java.nio.ByteOrder
import io.kohakuvault.uniffi.ColumnInfo as FfiColumnInfo

/**
 * A column of fixed-width rows (scalars and fixed-shape vectors): every row is [elemSize] little-endian bytes.
 * Reads use the C fast path (`col_fast_read`, one copy into a direct buffer, then a bulk copy into the array).
 */
sealed class FixedColumn<T>(vault: ColumnVault, info: FfiColumnInfo) : Column<T>(vault, info) {

    /** The element type (docs/FORMAT.md §2). */
    val elemDtype: DType = DType.of(info.elemDtype.toInt())

    /**
     * Whether the column stores unsigned integers (`u8`..`u64`): this class then holds the same bits in the signed
     * type of the same width (e.g. `u8` 255 reads as `(-1).toByte()`; use `toUByte()`, `toULong()`,
     * `java.lang.Long.toUnsignedString`), and writes store them unchanged.
     */
    val isUnsigned: Boolean = elemDtype in setOf(DType.U8, DType.U16, DType.U32, DType.U64)

    /** Decodes row [i] of [b] (absolute: byte offset `i * elemSize`). */
    internal abstract fun decodeRow(b: ByteBuffer, i: Int): T

    /** Encodes [v] at [b]'s position (relative). */
    internal abstract fun encodeRow(b: ByteBuffer, v: T)

    /** Checks a value before anything is encoded (tensors: its length). */
    internal open fun checkValue(v: T) {}

    override fun readRange(start: Long, count: Int): List<T> =
        readBuf(start, count) { b -> ArrayList<T>(count).also { l -> for (i in 0 until count) l.add(decodeRow(b, i)) } }

    override fun takeList(indices: LongArray): List<T> {
        val rows = takeRows(indices)
        val b = ByteBuffer.wrap(rows).order(ByteOrder.LITTLE_ENDIAN)
        return List(indices.size) { decodeRow(b, it) }
    }

    override fun appendItems(items: Collection<T>) {
        for (v in items) checkValue(v)
        core.ensureOpen()
        val size = items.size.toLong() * elemSize
        withArgs(size) { a ->
            for (v in items) encodeRow(a.buf, v)
            core.call { it.appendRows(id, a.view(0, size.toInt())) }
        }
    }

    override fun spliceItems(start: Long, deleteCount: Long, items: Collection<T>) {
        for (v in items) checkValue(v)
        core.ensureOpen()
        val size = items.size.toLong() * elemSize
        withArgs(size) { a ->
            for (v in items) encodeRow(a.buf, v)
            core.call { it.spliceRows(id, start.toULong(), deleteCount.toULong(), EMPTY_DIRECT, a.view(0, size.toInt())) }
        }
    }

    override fun replaceAt(index: Long, element: T) {
        checkValue(element)
        withArgs(elemSize.toLong()) { a ->
            encodeRow(a.buf, element)
            core.call { it.overwriteRows(id, index.toULong(), a.view(0, elemSize)) }
        }
    }

    /**
     * Rows `[start, start + count)` as one little-endian buffer (position 0) handed to [f], valid only during the
     * call: the C fast path into a direct buffer, else the UDL's `read_rows` (which also raises the typed error).
     */
    internal inline fun <R> readBuf(start: Long, count: Int, f: (ByteBuffer) -> R): R {
        checkRange(start, count.toLong())
        val size = count.toLong() * elemSize
        if (size > MAX_BATCH_BYTES) throw KohakuVaultException.InvalidArgument("read exceeds 2 GiB; read in parts")
        core.ensureOpen()
        var out: Any? = null
        if (ColumnFastPath.read(core.fastHandle, id, start, count.toLong(), size.toInt()) { b -> out = f(b) }) {
            @Suppress("UNCHECKED_CAST")
            return out as R
        }
        val bytes = core.call { it.readRows(id, start.toULong(), count.toULong()) }
        return f(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN))
    }

    /** Appends [n] rows written by [fill] into one direct buffer (one call). */
    internal inline fun appendBuf(n: Int, fill: (ByteBuffer) -> Unit) {
        core.ensureOpen()
        val size = n.toLong() * elemSize
        withArgs(size) { a ->
            fill(a.buf)
            if (!ColumnFastPath.append(core.fastHandle, id, a.buf, size.toInt())) {
                core.call { it.appendRows(id, a.view(0, size.toInt())) }
            }
        }
    }

    /** Overwrites [n] rows from [start] with rows written by [fill] (one call). */
    internal inline fun overwriteBuf(start: Long, n: Int, fill: (ByteBuffer) -> Unit) {
        checkRange(start, n.toLong())
        core.ensureOpen()
        val size = n.toLong() * elemSize
        withArgs(size) { a ->
            fill(a.buf)
            core.call { it.overwriteRows(id, start.toULong(), a.view(0, size.toInt())) }
        }
    }

    /** The rows at [indices] as one little-endian buffer. */
    internal fun takeBuf(indices: LongArray): ByteBuffer = ByteBuffer.wrap(takeRows(indices)).order(ByteOrder.LITTLE_ENDIAN)

    /** The whole column's size as an array length. */
    internal fun arraySize(): Int {
        val n = sizeLong
        if (n > Int.MAX_VALUE - 8) throw KohakuVaultException.InvalidArgument("column of $n rows does not fit one array; read in parts")
        return n.toInt()
    }
}

/** An `i64` (or `u64`, see [FixedColumn.isUnsigned]) column. */
class LongColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : FixedColumn<Long>(vault, info) {
    override fun decodeRow(b: ByteBuffer, i: Int): Long = b.getLong(i * 8)
    override fun encodeRow(b: ByteBuffer, v: Long) { b.putLong(v) }

    /** Row [index] without boxing. */
    @Throws(KohakuVaultException::class)
    fun getLong(index: Long): Long {
        if (index < 0) throw IndexOutOfBoundsException("index $index")
        return try { readBuf(index, 1) { it.getLong(0) } } catch (e: KohakuVaultException.InvalidArgument) { outOfRangeOr(index, e) }
    }

    /** Rows `[start, start + count)` (one bulk read). */
    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): LongArray = readBuf(start, count) { b -> LongArray(count).also { b.asLongBuffer().get(it) } }

    @Throws(KohakuVaultException::class)
    fun toLongArray(): LongArray = read(0, arraySize())

    /** Appends every value in one call and one transaction (or the cache). */
    @Throws(KohakuVaultException::class)
    fun appendAll(values: LongArray) = appendBuf(values.size) { it.asLongBuffer().put(values) }

    /** Overwrites rows from [start] in place. */
    @Throws(KohakuVaultException::class)
    fun overwrite(start: Long, values: LongArray) = overwriteBuf(start, values.size) { it.asLongBuffer().put(values) }

    /** The rows at [indices] (in order, duplicates kept). */
    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): LongArray = takeBuf(indices).asLongBuffer().let { b -> LongArray(b.remaining()).also { b.get(it) } }
}

/** An `i32` (or `u32`) column. */
class IntColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : FixedColumn<Int>(vault, info) {
    override fun decodeRow(b: ByteBuffer, i: Int): Int = b.getInt(i * 4)
    override fun encodeRow(b: ByteBuffer, v: Int) { b.putInt(v) }

    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): IntArray = readBuf(start, count) { b -> IntArray(count).also { b.asIntBuffer().get(it) } }

    @Throws(KohakuVaultException::class)
    fun toIntArray(): IntArray = read(0, arraySize())

    @Throws(KohakuVaultException::class)
    fun appendAll(values: IntArray) = appendBuf(values.size) { it.asIntBuffer().put(values) }

    @Throws(KohakuVaultException::class)
    fun overwrite(start: Long, values: IntArray) = overwriteBuf(start, values.size) { it.asIntBuffer().put(values) }

    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): IntArray = takeBuf(indices).asIntBuffer().let { b -> IntArray(b.remaining()).also { b.get(it) } }
}

/** An `i16` (or `u16`) column. */
class ShortColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : FixedColumn<Short>(vault, info) {
    override fun decodeRow(b: ByteBuffer, i: Int): Short = b.getShort(i * 2)
    override fun encodeRow(b: ByteBuffer, v: Short) { b.putShort(v) }

    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): ShortArray = readBuf(start, count) { b -> ShortArray(count).also { b.asShortBuffer().get(it) } }

    @Throws(KohakuVaultException::class)
    fun toShortArray(): ShortArray = read(0, arraySize())

    @Throws(KohakuVaultException::class)
    fun appendAll(values: ShortArray) = appendBuf(values.size) { it.asShortBuffer().put(values) }

    @Throws(KohakuVaultException::class)
    fun overwrite(start: Long, values: ShortArray) = overwriteBuf(start, values.size) { it.asShortBuffer().put(values) }

    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): ShortArray = takeBuf(indices).asShortBuffer().let { b -> ShortArray(b.remaining()).also { b.get(it) } }
}

/** An `i8` (or `u8`) column. */
class ByteColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : FixedColumn<Byte>(vault, info) {
    override fun decodeRow(b: ByteBuffer, i: Int): Byte = b.get(i)
    override fun encodeRow(b: ByteBuffer, v: Byte) { b.put(v) }

    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): ByteArray = readBuf(start, count) { b -> ByteArray(count).also { b.get(it) } }

    @Throws(KohakuVaultException::class)
    fun toByteArray(): ByteArray = read(0, arraySize())

    @Throws(KohakuVaultException::class)
    fun appendAll(values: ByteArray) = appendBuf(values.size) { it.put(values) }

    @Throws(KohakuVaultException::class)
    fun overwrite(start: Long, values: ByteArray) = overwriteBuf(start, values.size) { it.put(values) }

    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): ByteArray = takeRows(indices)
}

/** An `f64` column. */
class DoubleColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : FixedColumn<Double>(vault, info) {
    override fun decodeRow(b: ByteBuffer, i: Int): Double = b.getDouble(i * 8)
    override fun encodeRow(b: ByteBuffer, v: Double) { b.putDouble(v) }

    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): DoubleArray = readBuf(start, count) { b -> DoubleArray(count).also { b.asDoubleBuffer().get(it) } }

    @Throws(KohakuVaultException::class)
    fun toDoubleArray(): DoubleArray = read(0, arraySize())

    @Throws(KohakuVaultException::class)
    fun appendAll(values: DoubleArray) = appendBuf(values.size) { it.asDoubleBuffer().put(values) }

    @Throws(KohakuVaultException::class)
    fun overwrite(start: Long, values: DoubleArray) = overwriteBuf(start, values.size) { it.asDoubleBuffer().put(values) }

    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): DoubleArray = takeBuf(indices).asDoubleBuffer().let { b -> DoubleArray(b.remaining()).also { b.get(it) } }
}

/**
 * An `f32` column, or an `f16` one ([isHalf]): half-precision rows are converted to and from `Float` (round to
 * nearest even on write).
 */
class FloatColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : FixedColumn<Float>(vault, info) {
    /** Whether rows are stored as IEEE half precision (`f16`). */
    val isHalf: Boolean = elemDtype == DType.F16

    override fun decodeRow(b: ByteBuffer, i: Int): Float = if (isHalf) Half.toFloat(b.getShort(i * 2)) else b.getFloat(i * 4)
    override fun encodeRow(b: ByteBuffer, v: Float) { if (isHalf) b.putShort(Half.fromFloat(v)) else b.putFloat(v) }

    private fun fill(b: ByteBuffer, values: FloatArray) {
        if (isHalf) { val s = b.asShortBuffer(); for (v in values) s.put(Half.fromFloat(v)) } else b.asFloatBuffer().put(values)
    }

    private fun drain(b: ByteBuffer, out: FloatArray): FloatArray {
        if (isHalf) { val s = b.asShortBuffer(); for (i in out.indices) out[i] = Half.toFloat(s.get(i)) } else b.asFloatBuffer().get(out)
        return out
    }

    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): FloatArray = readBuf(start, count) { b -> drain(b, FloatArray(count)) }

    @Throws(KohakuVaultException::class)
    fun toFloatArray(): FloatArray = read(0, arraySize())

    @Throws(KohakuVaultException::class)
    fun appendAll(values: FloatArray) = appendBuf(values.size) { fill(it, values) }

    @Throws(KohakuVaultException::class)
    fun overwrite(start: Long, values: FloatArray) = overwriteBuf(start, values.size) { fill(it, values) }

    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): FloatArray = drain(takeBuf(indices), FloatArray(indices.size))
}

/** A `bool` column (one byte per row, 0 or 1; any non-zero byte reads as true). */
class BoolColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : FixedColumn<Boolean>(vault, info) {
    override fun decodeRow(b: ByteBuffer, i: Int): Boolean = b.get(i).toInt() != 0
    override fun encodeRow(b: ByteBuffer, v: Boolean) { b.put(if (v) 1 else 0) }

    private fun drain(b: ByteBuffer, n: Int) = BooleanArray(n) { b.get(it).toInt() != 0 }
    private fun fill(b: ByteBuffer, values: BooleanArray) { for (v in values) b.put(if (v) 1 else 0) }

    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): BooleanArray = readBuf(start, count) { b -> drain(b, count) }

    @Throws(KohakuVaultException::class)
    fun toBooleanArray(): BooleanArray = read(0, arraySize())

    @Throws(KohakuVaultException::class)
    fun appendAll(values: BooleanArray) = appendBuf(values.size) { fill(it, values) }

    @Throws(KohakuVaultException::class)
    fun overwrite(start: Long, values: BooleanArray) = overwriteBuf(start, values.size) { fill(it, values) }

    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): BooleanArray = drain(takeBuf(indices), indices.size)
}

/**
 * A `vec:f32:d1[:d2…]` column: every row is a `FloatArray` of [dim] = Π [shape] elements (C order). Rows of another
 * length are InvalidArgument before anything is written. `contains` / `indexOf` compare contents.
 */
class FloatTensorColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : FixedColumn<FloatArray>(vault, info) {
    /** The dims of one row. */
    val shape: IntArray = info.shape.map { it.toInt() }.toIntArray()

    /** Floats per row. */
    val dim: Int = elemSize / 4

    override fun checkValue(v: FloatArray) {
        if (v.size != dim) throw KohakuVaultException.InvalidArgument("a row of this column has $dim floats, not ${v.size}")
    }

    override fun decodeRow(b: ByteBuffer, i: Int): FloatArray {
        val d = b.duplicate().order(ByteOrder.LITTLE_ENDIAN)
        d.position(i * elemSize)
        return FloatArray(dim).also { d.asFloatBuffer().get(it) }
    }

    override fun encodeRow(b: ByteBuffer, v: FloatArray) {
        b.asFloatBuffer().put(v)
        b.position(b.position() + elemSize)
    }

    override fun readRange(start: Long, count: Int): List<FloatArray> = readBuf(start, count) { b ->
        val fb = b.asFloatBuffer()
        List(count) { FloatArray(dim).also { fb.get(it) } }
    }

    /** Rows `[start, start + count)` (one bulk read). */
    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): List<FloatArray> = readList(start, count)

    /** Rows `[start, start + count)` as one flat array of `count * dim` floats (one bulk read). */
    @Throws(KohakuVaultException::class)
    fun readFlat(start: Long, count: Int): FloatArray {
        if (count.toLong() * dim > Int.MAX_VALUE - 8) throw KohakuVaultException.InvalidArgument("read does not fit one array; read in parts")
        return readBuf(start, count) { b -> FloatArray(count * dim).also { b.asFloatBuffer().get(it) } }
    }

    /** Row [index] with its shape. */
    @Throws(KohakuVaultException::class)
    fun getShaped(index: Long): ShapedArray<FloatArray> = ShapedArray(get(index), shape)

    /** Appends every row in one call and one transaction (or the cache). */
    @Throws(KohakuVaultException::class)
    fun appendAll(rows: List<FloatArray>) { addAll(rows) }

    /** Appends `values.size / dim` rows given as one flat array (a multiple of [dim] floats). */
    @Throws(KohakuVaultException::class)
    fun appendFlat(values: FloatArray) {
        if (values.size % dim != 0) throw KohakuVaultException.InvalidArgument("${values.size} floats are not a whole number of $dim-float rows")
        appendBuf(values.size / dim) { it.asFloatBuffer().put(values) }
    }

    /** The rows at [indices]. */
    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): List<FloatArray> = takeList(indices)

    override fun indexOf(element: FloatArray): Int = indexOfFirst { it.contentEquals(element) }
    override fun lastIndexOf(element: FloatArray): Int = indexOfLast { it.contentEquals(element) }
    override fun contains(element: FloatArray): Boolean = indexOf(element) >= 0
}

/**
 * A fixed-shape vector column of another element type (`vec:i16:2:2`, `vec:f64:8`, …): every row is an [NdArray] of
 * [elemDtype] and [shape]. A value of another dtype or element count is InvalidArgument before anything is written.
 */
class TensorColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : FixedColumn<NdArray>(vault, info) {
    val shape: IntArray = info.shape.map { it.toInt() }.toIntArray()

    override fun checkValue(v: NdArray) {
        if (v.dtype != elemDtype || v.data.size != elemSize) {
            throw KohakuVaultException.InvalidArgument(
                "a row of this column is ${elemDtype.name.lowercase()} ${shape.contentToString()}, not ${v.dtype.name.lowercase()} ${v.shape.contentToString()}")
        }
    }

    override fun decodeRow(b: ByteBuffer, i: Int): NdArray {
        val out = ByteArray(elemSize)
        val d = b.duplicate()
        d.position(i * elemSize)
        d.get(out)
        return NdArray(elemDtype, shape, out)
    }

    override fun encodeRow(b: ByteBuffer, v: NdArray) { b.put(v.data) }

    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): List<NdArray> = readList(start, count)

    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): List<NdArray> = takeList(indices)
}
