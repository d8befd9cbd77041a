package io.kohakuvault

import io.kohakuvault.internal.ResultReader
import io.kohakuvault.uniffi.ColumnInfo as FfiColumnInfo

/**
 * A column whose rows cross as values (kind, payload) that the core encodes and decodes by the dtype: text codecs,
 * raw bytes, DataPacker records. Every value is converted before anything is written, so one bad value changes
 * nothing.
 */
sealed class ValueColumn<T>(vault: ColumnVault, info: FfiColumnInfo) : Column<T>(vault, info) {

    internal abstract fun toValue(v: T): TaggedValue
    internal abstract fun fromValue(v: TaggedValue): T

    override fun readRange(start: Long, count: Int): List<T> {
        checkRange(start, count.toLong())
        val r = ResultReader(core.call { it.readValues(id, start.toULong(), count.toULong()) })
        val out = ArrayList<T>(count)
        while (r.hasRemaining) {
            val kind = r.u8()
            out.add(fromValue(TaggedValue(kind, r.lenBytes())))
        }
        return out
    }

    /**
     * The rows at [indices], in order: one call per row (the core decodes values by range only), except for
     * [BytesColumn] (one call).
     */
    override fun takeList(indices: LongArray): List<T> = takeValues(indices).map { fromValue(it) }

    override fun appendItems(items: Collection<T>) {
        val values = items.map { toValue(it) }
        appendValues(values)
    }

    override fun spliceItems(start: Long, deleteCount: Long, items: Collection<T>) {
        val values = items.map { toValue(it) }
        spliceValues(start, deleteCount, values)
    }

    /** Rows `[start, start + count)` (one call). */
    @Throws(KohakuVaultException::class)
    fun read(start: Long, count: Int): List<T> = readList(start, count)

    /** Appends every value in one call and one transaction (or the cache). */
    @Throws(KohakuVaultException::class)
    fun appendAll(values: Collection<T>) { addAll(values) }

    /** The rows at [indices] (see [takeList]). */
    @Throws(KohakuVaultException::class)
    fun take(indices: LongArray): List<T> = takeList(indices)
}

/**
 * A text column (`str`, `string`, `str:<codec>`): values are Strings; the core stores them in the column's codec
 * (utf-8, utf-16, utf-32, ascii, latin-1). A string the codec cannot encode is InvalidArgument.
 */
class StringColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : ValueColumn<String>(vault, info) {
    override fun toValue(v: String): TaggedValue = TaggedValue.of(v)
    override fun fromValue(v: TaggedValue): String = v.asString()

}

/** A `bytes` column: values are raw byte arrays, stored as they are. `contains` / `indexOf` compare contents. */
class BytesColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : ValueColumn<ByteArray>(vault, info) {
    override fun toValue(v: ByteArray): TaggedValue = TaggedValue.raw(v)
    override fun fromValue(v: TaggedValue): ByteArray = v.payload
    override fun takeList(indices: LongArray): List<ByteArray> = takeVarRows(indices).toList()

    override fun indexOf(element: ByteArray): Int = indexOfFirst { it.contentEquals(element) }
    override fun lastIndexOf(element: ByteArray): Int = indexOfLast { it.contentEquals(element) }
    override fun contains(element: ByteArray): Boolean = indexOf(element) >= 0
}

/**
 * A column of any DataPacker dtype (`msgpack`, `cbor`, `str:N[:enc]`, `bytes:N`, `vec:<e>`, …; fixed width when the
 * packer has one): values are [TaggedValue]s of the packer's kind [valueKind] (see [Kind]); the core checks and
 * converts them. [addPlain] / [getPlain] map plain Kotlin values (msgpack columns take maps, lists and scalars).
 */
class TaggedColumn internal constructor(vault: ColumnVault, info: FfiColumnInfo) : ValueColumn<TaggedValue>(vault, info) {
    override fun toValue(v: TaggedValue): TaggedValue = v
    override fun fromValue(v: TaggedValue): TaggedValue = v

    /** [value] in the form this column takes: MessagePack for msgpack/cbor columns, else [TaggedValue.from]. */
    @Throws(KohakuVaultException::class)
    fun toTagged(value: Any?): TaggedValue =
        if (valueKind == Kind.MSGPACK && value !is TaggedValue) TaggedValue.msgpack(Codec.plainToMsgpack(value))
        else TaggedValue.from(value)

    /** Appends a plain value (see [toTagged]). */
    @Throws(KohakuVaultException::class)
    fun addPlain(value: Any?) { add(toTagged(value)) }

    /** Appends plain values in one call. */
    @Throws(KohakuVaultException::class)
    fun addAllPlain(values: Collection<Any?>) { addAll(values.map { toTagged(it) }) }

    /** Row [index] as a plain Kotlin value (see [KVault.getPlain]). */
    @Throws(KohakuVaultException::class)
    fun getPlain(index: Long): Any? = get(index).toPlain()

    /** Rows `[start, start + count)` as plain values (one read, plus the msgpack conversions). */
    @Throws(KohakuVaultException::class)
    fun readPlain(start: Long, count: Int): List<Any?> = read(start, count).map { it.toPlain() }
}
