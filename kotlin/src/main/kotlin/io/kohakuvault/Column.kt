package io.kohakuvault

import io.kohakuvault.internal.ColumnFastPath
import io.kohakuvault.internal.MAX_BATCH_BYTES
import io.kohakuvault.internal.ResultReader
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.Spliterator
import java.util.Spliterators
import java.util.stream.Stream
import java.util.stream.StreamSupport
import io.kohakuvault.uniffi.ColumnInfo as FfiColumnInfo
import io.kohakuvault.uniffi.VarRows as FfiVarRows

/**
 * One column of a [ColumnVault]: a `MutableList<T>` whose rows live in the vault's file. Get it with
 * [ColumnVault.column] (or `createColumn` / `ensureColumn`); the class follows the column's stored layout.
 *
 * **Costs.** Every member is at least one FFI call (tens of µs under JNA), so use the bulk members: [addAll] /
 * `appendAll(array)` cross once per batch (one transaction), [readList] / `read(start, count)` / [takeList] once per
 * range, [iterator] (also for-each, `contains`, `indexOf`, [stream]) reads pages of [pageRows] rows. Fixed-width
 * reads go through the C fast path `col_fast_read` into a direct buffer.
 *
 * **List semantics.** [get] / [set] / [removeAt] / `add(index, …)` check the index against the size and throw
 * [IndexOutOfBoundsException] (the `List` contract; the core's own "column index out of range" is InvalidArgument).
 * `set`, `add(index, …)`, [removeAt], `subList(…).clear()` and `addAll(index, …)` are one core call each
 * (`overwrite_rows` / `splice_rows` / `splice_values`, one transaction); on variable-width columns they rewrite the
 * rows after the change. [size] includes pending cached rows. `equals` / `hashCode` compare contents (the `List`
 * contract: they read the whole column); [toString] does not read rows. Iterators see the size when they start.
 *
 * **Stored rows.** [readRows] / [appendRows] / [overwriteRows] / [takeRows] move fixed-width rows as stored
 * (elemSize little-endian bytes each); [readVarRows] / [appendVarRows] / [takeVarRows] variable-width ones;
 * [readValues] / [appendValues] / [spliceValues] values as (kind, payload), encoded by the core for the dtype.
 */
sealed class Column<T> constructor(internal val vault: ColumnVault, info: FfiColumnInfo) :
    AbstractMutableList<T>(), RandomAccess {

    internal val core: ColumnCore get() = vault.core

    /** The core's id of the column (never reused in a file). */
    val id: Long = info.id
    val name: String = info.name

    /** The dtype string as stored (docs/FORMAT.md §6.1). */
    val dtype: String = info.dtype

    /** Bytes per row; 0 for variable-width columns. */
    val elemSize: Int = info.elemSize.toInt()
    val layout: ColumnLayout = info.layout.toFacade()

    /** The value kind ([Kind]) the column's values cross as ([readValues], [appendValues]). */
    val valueKind: Int = info.valueKind.toInt()
    val blockBytes: Long = info.blockBytes.toLong()

    /** Rows read per FFI call by [iterator] and [batches]. */
    var pageRows: Int = if (elemSize > 0) (PAGE_BYTES / elemSize).coerceIn(1, 65536) else 1024
        set(value) {
            if (value <= 0) throw KohakuVaultException.InvalidArgument("pageRows must be positive")
            field = value
        }

    /** The column as the core reports it now (length included). */
    @Throws(KohakuVaultException::class)
    fun info(): ColumnInfo = core.call { it.infoById(id) }.toFacade()

    /** Committed plus pending rows (one FFI call; does not flush). */
    val sizeLong: Long @Throws(KohakuVaultException::class) get() = core.call { it.length(id) }.toLong()

    override val size: Int @Throws(KohakuVaultException::class) get() = sizeLong.coerceAtMost(Int.MAX_VALUE.toLong()).toInt()

    @Throws(KohakuVaultException::class)
    override fun isEmpty(): Boolean = sizeLong == 0L

    // ---------------------------------------------------------------- the typed rows (each class implements these)

    /** Rows `[start, start + count)` as values (one read). */
    internal abstract fun readRange(start: Long, count: Int): List<T>

    /** Appends [items] in one call (one transaction, or the cache). Converts every item before anything is written. */
    internal abstract fun appendItems(items: Collection<T>)

    /** Replaces rows `[start, start + deleteCount)` by [items] in one call. */
    internal abstract fun spliceItems(start: Long, deleteCount: Long, items: Collection<T>)

    /** Replaces row [index] by [element] (one call). */
    internal open fun replaceAt(index: Long, element: T) = spliceItems(index, 1, listOf(element))

    // ---------------------------------------------------------------- MutableList

    @Throws(KohakuVaultException::class)
    override fun get(index: Int): T = get(index.toLong())

    /** Row [index] (one FFI call; [IndexOutOfBoundsException] outside the column). */
    @Throws(KohakuVaultException::class)
    operator fun get(index: Long): T {
        if (index < 0) throw outOfBounds(index, null)
        core.ensureOpen()
        return try {
            readRange(index, 1)[0]
        } catch (e: KohakuVaultException.InvalidArgument) {
            outOfRangeOr(index, e)
        }
    }

    /** Overwrites row [index] and returns its previous value. */
    @Throws(KohakuVaultException::class)
    override fun set(index: Int, element: T): T = set(index.toLong(), element)

    @Throws(KohakuVaultException::class)
    operator fun set(index: Long, element: T): T {
        val old = get(index)
        replaceAt(index, element)
        return old
    }

    /** Appends one row (one FFI call; through the cache when enabled). */
    @Throws(KohakuVaultException::class)
    override fun add(element: T): Boolean {
        appendItems(listOf(element))
        return true
    }

    /** Inserts a row before [index] (`index == size` appends). */
    @Throws(KohakuVaultException::class)
    override fun add(index: Int, element: T) = insert(index.toLong(), listOf(element))

    @Throws(KohakuVaultException::class)
    override fun removeAt(index: Int): T = removeAt(index.toLong())

    /** Removes row [index] and returns it (rows after it move up). */
    @Throws(KohakuVaultException::class)
    fun removeAt(index: Long): T {
        val old = get(index)
        spliceItems(index, 1, emptyList())
        return old
    }

    /** Appends every element in one FFI call and one transaction (or the cache). */
    @Throws(KohakuVaultException::class)
    override fun addAll(elements: Collection<T>): Boolean {
        core.ensureOpen()
        if (elements.isEmpty()) return false
        appendItems(elements)
        return true
    }

    /** Inserts every element before [index] in one call. */
    @Throws(KohakuVaultException::class)
    override fun addAll(index: Int, elements: Collection<T>): Boolean {
        core.ensureOpen()
        if (elements.isEmpty()) {
            checkPosition(index.toLong())
            return false
        }
        insert(index.toLong(), elements)
        return true
    }

    private fun insert(index: Long, elements: Collection<T>) {
        val n = checkPosition(index)
        if (index == n) appendItems(elements) else spliceItems(index, 0, elements)
    }

    /** Removes rows `[fromIndex, toIndex)` in one call (also `subList(from, to).clear()`). */
    @Throws(KohakuVaultException::class)
    public override fun removeRange(fromIndex: Int, toIndex: Int) = removeRange(fromIndex.toLong(), toIndex.toLong())

    @Throws(KohakuVaultException::class)
    fun removeRange(fromIndex: Long, toIndex: Long) {
        val n = sizeLong
        if (fromIndex < 0 || toIndex > n || fromIndex > toIndex) {
            throw IndexOutOfBoundsException("range [$fromIndex, $toIndex) outside a column of $n rows")
        }
        if (fromIndex < toIndex) spliceItems(fromIndex, toIndex - fromIndex, emptyList())
    }

    /** Deletes every row (pending ones too). */
    @Throws(KohakuVaultException::class)
    override fun clear() = core.call { it.clear(id) }

    /** An iterator reading [pageRows] rows per FFI call, over the rows present when it starts. */
    @Throws(KohakuVaultException::class)
    override fun iterator(): MutableIterator<T> = PagedIterator()

    override fun spliterator(): Spliterator<T> =
        Spliterators.spliterator(iterator(), sizeLong, Spliterator.ORDERED or Spliterator.SIZED)

    /** The rows as a lazy, ordered [Stream] read page by page. */
    @Throws(KohakuVaultException::class)
    override fun stream(): Stream<T> = StreamSupport.stream(spliterator(), false)

    /** The rows in batches of up to [batchSize] (one FFI call each), lazily; the size is taken when it starts. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun batches(batchSize: Int = pageRows, start: Long = 0, end: Long? = null): Sequence<List<T>> {
        if (batchSize <= 0) throw KohakuVaultException.InvalidArgument("batchSize must be positive")
        return sequence {
            val stop = end ?: sizeLong
            var at = start
            while (at < stop) {
                val n = minOf(batchSize.toLong(), stop - at).toInt()
                yield(readRange(at, n))
                at += n
            }
        }
    }

    /** Rows `[start, start + count)` as a list (one FFI call). */
    @Throws(KohakuVaultException::class)
    fun readList(start: Long, count: Int): List<T> {
        checkRange(start, count.toLong())
        core.ensureOpen()
        return readRange(start, count)
    }

    /** The rows at [indices] in that order, duplicates kept (one FFI call). */
    @Throws(KohakuVaultException::class)
    abstract fun takeList(indices: LongArray): List<T>

    override fun toString(): String =
        "${javaClass.simpleName}('$name', dtype=$dtype${if (vault.isClosed) ", vault closed" else ""})"

    // ---------------------------------------------------------------- stored rows and values (the UDL's forms)

    /** Fixed-width rows as stored: `count * elemSize` little-endian bytes (C fast path). */
    @Throws(KohakuVaultException::class)
    fun readRows(start: Long, count: Long): ByteArray {
        checkRange(start, count)
        val size = count * elemSize
        if (elemSize > 0 && size <= MAX_BATCH_BYTES) {
            core.ensureOpen()
            var out: ByteArray? = null
            if (ColumnFastPath.read(core.fastHandle, id, start, count, size.toInt()) { b ->
                    out = ByteArray(size.toInt()).also { a -> b.get(a) }
                }) return out!!
        }
        return core.call { it.readRows(id, start.toULong(), count.toULong()) }
    }

    /** Appends fixed-width rows as stored (a whole number of elemSize-byte rows). */
    @Throws(KohakuVaultException::class)
    fun appendRows(data: ByteArray) {
        core.ensureOpen()
        withArgs(data.size.toLong()) { a ->
            a.buf.put(data)
            if (!ColumnFastPath.append(core.fastHandle, id, a.buf, data.size)) {
                core.call { it.appendRows(id, a.view(0, data.size)) }
            }
        }
    }

    /** Overwrites fixed-width rows from [start] in place with rows as stored. */
    @Throws(KohakuVaultException::class)
    fun overwriteRows(start: Long, data: ByteArray) {
        checkRange(start, 0)
        core.ensureOpen()
        withArgs(data.size.toLong()) { a ->
            a.buf.put(data)
            core.call { it.overwriteRows(id, start.toULong(), a.view(0, data.size)) }
        }
    }

    /** Fixed-width rows at [indices] (in order, duplicates kept), as stored. */
    @Throws(KohakuVaultException::class)
    fun takeRows(indices: LongArray): ByteArray {
        core.ensureOpen()
        return withArgs(8L * indices.size) { a ->
            a.buf.asLongBuffer().put(indices)
            core.call { it.takeRows(id, a.view(0, 8 * indices.size)) }
        }
    }

    /** Variable-width rows as stored. */
    @Throws(KohakuVaultException::class)
    fun readVarRows(start: Long, count: Long): VarRows {
        checkRange(start, count)
        return core.call { it.readVarRows(id, start.toULong(), count.toULong()) }.toFacade()
    }

    /** Appends variable-width rows as stored (one call). */
    @Throws(KohakuVaultException::class)
    fun appendVarRows(rows: List<ByteArray>) {
        core.ensureOpen()
        packVar(rows) { lens, data -> core.call { it.appendVarRows(id, lens, data) } }
    }

    /** Variable-width rows at [indices], as stored. */
    @Throws(KohakuVaultException::class)
    fun takeVarRows(indices: LongArray): VarRows {
        core.ensureOpen()
        return withArgs(8L * indices.size) { a ->
            a.buf.asLongBuffer().put(indices)
            core.call { it.takeVarRows(id, a.view(0, 8 * indices.size)) }.toFacade()
        }
    }

    /** Replaces rows `[start, start + deleteCount)` by [rows] as stored (one call, one transaction). */
    @Throws(KohakuVaultException::class)
    fun spliceRows(start: Long, deleteCount: Long, rows: List<ByteArray>) {
        checkRange(start, deleteCount)
        core.ensureOpen()
        if (elemSize > 0) {
            var total = 0L
            for (r in rows) total += r.size
            withArgs(total) { a ->
                for (r in rows) a.buf.put(r)
                core.call { it.spliceRows(id, start.toULong(), deleteCount.toULong(), EMPTY_DIRECT, a.view(0, total.toInt())) }
            }
        } else {
            packVar(rows) { lens, data ->
                core.call { it.spliceRows(id, start.toULong(), deleteCount.toULong(), lens, data) }
            }
        }
    }

    /** Values (kind, payload) of the rows at [indices] (order and duplicates kept), decoded by the dtype (one call). */
    @Throws(KohakuVaultException::class)
    fun takeValues(indices: LongArray): List<TaggedValue> {
        core.ensureOpen()
        val bytes = withArgs(8L * indices.size) { a ->
            a.buf.asLongBuffer().put(indices)
            core.call { it.takeValues(id, a.view(0, 8 * indices.size)) }
        }
        val r = ResultReader(bytes)
        val out = ArrayList<TaggedValue>(indices.size)
        while (r.hasRemaining) {
            val kind = r.u8()
            out.add(TaggedValue(kind, r.lenBytes()))
        }
        return out
    }

    /** Values (kind, payload) of rows `[start, start + count)`, decoded by the dtype (one call). */
    @Throws(KohakuVaultException::class)
    fun readValues(start: Long, count: Long): List<TaggedValue> {
        checkRange(start, count)
        val r = ResultReader(core.call { it.readValues(id, start.toULong(), count.toULong()) })
        val out = ArrayList<TaggedValue>(count.coerceAtMost(1 shl 16).toInt())
        while (r.hasRemaining) {
            val kind = r.u8()
            out.add(TaggedValue(kind, r.lenBytes()))
        }
        return out
    }

    /** Appends values (kind, payload), encoded by the core for the dtype; one bad value changes nothing. */
    @Throws(KohakuVaultException::class)
    fun appendValues(values: List<TaggedValue>) {
        core.ensureOpen()
        packValues(values) { k, l, p -> core.call { it.appendValues(id, k, l, p) } }
    }

    /** Replaces rows `[start, start + deleteCount)` by [values], encoded by the core (one call, one transaction). */
    @Throws(KohakuVaultException::class)
    fun spliceValues(start: Long, deleteCount: Long, values: List<TaggedValue>) {
        checkRange(start, deleteCount)
        core.ensureOpen()
        packValues(values) { k, l, p ->
            core.call { it.spliceValues(id, start.toULong(), deleteCount.toULong(), k, l, p) }
        }
    }

    // ---------------------------------------------------------------- this column's cache and storage

    /** Enables this column's write-back cache (flushing it first). Sizes must be positive. */
    @JvmOverloads
    @Throws(KohakuVaultException::class)
    fun enableCache(capBytes: Long = ColumnVault.DEFAULT_CACHE_BYTES, flushThreshold: Long = capBytes / 4) {
        ColumnVault.checkCacheSizes(capBytes, flushThreshold)
        core.call { it.enableCache(id, capBytes.toULong(), flushThreshold.toULong(), null) }
    }

    /** Flushes and disables this column's cache. */
    @Throws(KohakuVaultException::class)
    fun disableCache() = core.call { it.disableCache(id) }

    /** Commits this column's pending rows; returns the bytes flushed. */
    @Throws(KohakuVaultException::class)
    fun flushCache(): Long = core.call { it.flushCache(id) }.toLong()

    @Throws(KohakuVaultException::class)
    fun cacheConfig(): ColumnCacheConfig? = core.call { it.cacheConfig(id) }?.toFacade()

    /** Bytes of this column's pending rows. */
    @Throws(KohakuVaultException::class)
    fun pendingBytes(): Long = core.call { it.pendingBytes(id) }.toLong()

    /** Blocks and bytes of this column (flushes it first). */
    @Throws(KohakuVaultException::class)
    fun storageInfo(): ColumnStorageInfo =
        core.call { it.storageInfo(id) }.let { ColumnStorageInfo(it.blocks.toLong(), it.payloadBytes.toLong(), it.capacityBytes.toLong()) }

    // ---------------------------------------------------------------- helpers

    internal fun checkRange(start: Long, count: Long) {
        if (start < 0 || count < 0) throw KohakuVaultException.InvalidArgument("column index out of range")
    }

    /** 0 <= index <= size, else IndexOutOfBounds; returns the size. */
    private fun checkPosition(index: Long): Long {
        val n = sizeLong
        if (index < 0 || index > n) throw IndexOutOfBoundsException("index $index outside 0..$n")
        return n
    }

    private fun outOfBounds(index: Long, n: Long?): IndexOutOfBoundsException =
        IndexOutOfBoundsException(if (n == null) "index $index" else "index $index outside a column of $n rows")

    /** After a failed read of row [index]: IndexOutOfBounds if it is outside the column, else [e]. */
    internal fun outOfRangeOr(index: Long, e: KohakuVaultException): Nothing {
        val n = sizeLong
        if (index >= n) throw outOfBounds(index, n)
        throw e
    }

    internal inline fun <R> packVar(rows: List<ByteArray>, call: (ByteBuffer, ByteBuffer) -> R): R {
        var total = 0L
        for (r in rows) total += r.size
        val lensSize = 4 * rows.size
        return withArgs(lensSize + total) { a ->
            val b = a.buf
            for (r in rows) b.putInt(r.size)
            for (r in rows) b.put(r)
            call(a.view(0, lensSize), a.view(lensSize, lensSize + total.toInt()))
        }
    }

    internal inline fun <R> packValues(values: List<TaggedValue>, call: (ByteBuffer, ByteBuffer, ByteBuffer) -> R): R {
        val n = values.size
        var total = 0L
        for (v in values) total += v.payload.size
        val kEnd = n
        val lEnd = n + 4 * n
        return withArgs(lEnd + total) { a ->
            val b = a.buf
            for (v in values) b.put(v.kind.toByte())
            for (v in values) b.putInt(v.payload.size)
            for (v in values) b.put(v.payload)
            call(a.view(0, kEnd), a.view(kEnd, lEnd), a.view(lEnd, lEnd + total.toInt()))
        }
    }

    private inner class PagedIterator : MutableIterator<T> {
        private var end = sizeLong
        private var next = 0L
        private var page: List<T> = emptyList()
        private var pageStart = 0L
        private var last = -1L

        override fun hasNext(): Boolean = next < end

        override fun next(): T {
            if (next >= end) throw NoSuchElementException()
            if (next < pageStart || next >= pageStart + page.size) {
                page = readRange(next, minOf(pageRows.toLong(), end - next).toInt())
                pageStart = next
            }
            last = next
            return page[(next++ - pageStart).toInt()]
        }

        override fun remove() {
            check(last >= 0) { "next() was not called, or remove() was already called" }
            spliceItems(last, 1, emptyList())
            next = last
            end--
            last = -1
            page = emptyList()
        }
    }

    companion object {
        private const val PAGE_BYTES = 1 shl 20
        internal val EMPTY_DIRECT: ByteBuffer = ByteBuffer.allocateDirect(0)

        /** The class for the column's stored layout and element type (never from the dtype string). */
        internal fun of(vault: ColumnVault, info: FfiColumnInfo): Column<*> {
            val code = info.elemDtype.toInt()
            return when (info.layout.toFacade()) {
                ColumnLayout.SCALAR -> when (code) {
                    0x04, 0x08 -> LongColumn(vault, info)
                    0x03, 0x07 -> IntColumn(vault, info)
                    0x0A, 0x06 -> ShortColumn(vault, info)
                    0x09, 0x05 -> ByteColumn(vault, info)
                    0x02 -> DoubleColumn(vault, info)
                    0x01, 0x0C -> FloatColumn(vault, info)
                    0x0B -> BoolColumn(vault, info)
                    else -> throw KohakuVaultException.Corrupt("column '${info.name}' has unknown element type $code")
                }
                ColumnLayout.TENSOR -> if (code == 0x01) FloatTensorColumn(vault, info) else TensorColumn(vault, info)
                ColumnLayout.TEXT -> StringColumn(vault, info)
                ColumnLayout.BYTES -> BytesColumn(vault, info)
                ColumnLayout.PACKED -> TaggedColumn(vault, info)
            }
        }
    }
}

/** [type] or InvalidArgument naming both classes. */
internal fun <C : Column<*>> Column<*>.requireType(type: Class<C>): C {
    if (!type.isInstance(this)) {
        throw KohakuVaultException.InvalidArgument(
            "Column '$name' has dtype '$dtype' (a ${javaClass.simpleName}), not a ${type.simpleName}")
    }
    return type.cast(this)
}

/**
 * Variable-width rows as stored ([Column.readVarRows]): the concatenated [data] and `n + 1` end [offsets] from 0.
 */
class VarRows(val data: ByteArray, val offsets: LongArray) {
    val size: Int get() = offsets.size - 1

    /** Row [i]'s bytes. */
    fun row(i: Int): ByteArray = data.copyOfRange(offsets[i].toInt(), offsets[i + 1].toInt())

    fun toList(): List<ByteArray> = List(size) { row(it) }
}

internal fun FfiVarRows.toFacade(): VarRows {
    val b = ByteBuffer.wrap(offsets).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer()
    val o = LongArray(b.remaining()).also { b.get(it) }
    return VarRows(data, o)
}
