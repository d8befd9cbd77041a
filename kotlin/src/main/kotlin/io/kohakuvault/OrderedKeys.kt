package io.kohakuvault

import io.kohakuvault.internal.OrderedFastPath
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.charset.CharacterCodingException
import java.util.Arrays

/*
 * The key types of CSBTree and SkipList and the codec of docs/FORMAT.md §9.1-9.3: one key's encoding, key pages
 * (many keys, one crossing) and entry pages (the core's results: value handles and their keys).
 */

/**
 * The type of the keys of a [CSBTree] or [SkipList], in the core's order (docs/FORMAT.md §9, the order Python gives
 * the same values, identical in every language):
 * - [LONG]: `Long`, numerically;
 * - [DOUBLE]: `Double`, numerically; `-0.0` equals `0.0` (the key first stored is kept), NaN is refused
 *   (InvalidArgument) by every operation;
 * - [STRING]: `String`, by Unicode code point (not by UTF-16 unit as `String.compareTo`: "\uFFFF" < "😀" here); a
 *   string with an unpaired surrogate cannot be a key (InvalidArgument);
 * - [BYTES]: `ByteArray`, unsigned lexicographically (a shorter prefix first); compared by content, copied on insert.
 *
 * [comparator] is this order, for code that needs it outside a container (it is what the containers' `comparator()`
 * returns); the containers themselves order keys in the core.
 */
abstract class OrderedKeyType<K : Any> internal constructor(
    /** `LONG`, `DOUBLE`, `STRING` or `BYTES`. */
    val name: String,
    /** The key class (`java.lang.Long`, `java.lang.Double`, `java.lang.String`, `byte[]`). */
    val keyClass: Class<K>,
) {
    /** The core's order of these keys (see the class doc); Double NaN is InvalidArgument. */
    abstract val comparator: Comparator<K>

    override fun toString(): String = name

    /** FORMAT §9.1: the key's encoding (tag byte and body). */
    internal abstract fun encode(key: K): ByteArray

    /** A fast-path operation (FORMAT §9.4) on [key]: the core's result, or -1 (make the UDL call). */
    internal abstract fun fast(op: OrderedFastPath.Op, h: Int, key: K, value: Long): Long

    /** The key page (FORMAT §9.2) of [keys], sized before it is written. */
    internal abstract fun page(keys: List<K>): KeyPageWriter

    /** A key of the core's pages as this type; Internal when the page holds another type. */
    internal open fun ofLong(v: Long): K = wrongType("int")
    internal open fun ofDouble(v: Double): K = wrongType("float")
    internal open fun ofString(v: String): K = wrongType("str")
    internal open fun ofBytes(v: ByteArray): K = wrongType("bytes")

    private fun wrongType(what: String): Nothing =
        throw KohakuVaultException.Internal("a $what key in a page of a $name container")

    /** `equals` of two keys as Map.Entry compares them (content for ByteArray). */
    internal open fun keyEquals(a: Any?, b: Any?): Boolean = a == b

    /** `hashCode` of a key consistent with [keyEquals]. */
    internal open fun keyHash(k: Any?): Int = k?.hashCode() ?: 0

    /** A key for messages and toString. */
    internal open fun show(k: Any?): String = k.toString()

    companion object {
        /** `Long` keys. */
        @JvmField val LONG: OrderedKeyType<Long> = LongKeys

        /** `Double` keys (-0.0 == 0.0, NaN refused). */
        @JvmField val DOUBLE: OrderedKeyType<Double> = DoubleKeys

        /** `String` keys in code point order. */
        @JvmField val STRING: OrderedKeyType<String> = StringKeys

        /** `ByteArray` keys, unsigned lexicographic. */
        @JvmField val BYTES: OrderedKeyType<ByteArray> = BytesKeys

        /** The key type of [type] (`Long`, `Double`, `String` or `ByteArray`); InvalidArgument for any other. */
        @JvmStatic
        @Suppress("UNCHECKED_CAST")
        fun <K : Any> of(type: Class<K>): OrderedKeyType<K> = when (type as Class<*>) {
            java.lang.Long::class.java, java.lang.Long.TYPE -> LONG
            java.lang.Double::class.java, java.lang.Double.TYPE -> DOUBLE
            String::class.java -> STRING
            ByteArray::class.java -> BYTES
            else -> throw KohakuVaultException.InvalidArgument(
                "unsupported key type ${type.name}: CSBTree and SkipList keys are Long, Double, String or ByteArray",
            )
        } as OrderedKeyType<K>

        /** The key type of [K] (`Long`, `Double`, `String` or `ByteArray`). */
        inline fun <reified K : Any> of(): OrderedKeyType<K> = of(K::class.javaObjectType)
    }
}

// ------------------------------------------------------------------------------------------------ encodings

/** FORMAT §9.1 tags. */
internal const val TAG_INT = 3
internal const val TAG_FLOAT = 4
internal const val TAG_STR = 5
internal const val TAG_BYTES = 6

/** FORMAT §9.2 layouts. */
internal const val LAYOUT_MIXED = 0
internal const val LAYOUT_INT = 1
internal const val LAYOUT_FLOAT = 2
internal const val LAYOUT_STR = 3
internal const val LAYOUT_BYTES = 4

/** A key page of known size, written into a little-endian buffer by [write]. */
internal abstract class KeyPageWriter(val size: Long) {
    abstract fun write(b: ByteBuffer)
}

/** The UTF-8 of a String key; an unpaired surrogate (which UTF-8 cannot hold) is InvalidArgument. */
internal fun utf8Key(s: String): ByteArray = try {
    s.encodeToByteArray(throwOnInvalidSequence = true)
} catch (e: CharacterCodingException) {
    throw KohakuVaultException.InvalidArgument("a String key must be valid Unicode (it has an unpaired surrogate)", e)
}

private fun encodingOf(tag: Int, bodySize: Int): ByteBuffer =
    ByteBuffer.allocate(1 + bodySize).order(ByteOrder.LITTLE_ENDIAN).put(tag.toByte())

private object LongKeys : OrderedKeyType<Long>("LONG", Long::class.javaObjectType) {
    override val comparator: Comparator<Long> = Comparator { a, b -> a.compareTo(b) }
    override fun encode(key: Long): ByteArray = encodingOf(TAG_INT, 8).putLong(key).array()
    override fun fast(op: OrderedFastPath.Op, h: Int, key: Long, value: Long): Long = OrderedFastPath.int(op, h, key, value)
    override fun ofLong(v: Long): Long = v

    override fun page(keys: List<Long>) = object : KeyPageWriter(8L + 8L * keys.size) {
        override fun write(b: ByteBuffer) {
            b.putInt(LAYOUT_INT).putInt(keys.size)
            for (k in keys) b.putLong(k)
        }
    }
}

private object DoubleKeys : OrderedKeyType<Double>("DOUBLE", Double::class.javaObjectType) {
    override val comparator: Comparator<Double> = Comparator { a, b ->
        val x: Double = a
        val y: Double = b
        when {
            x < y -> -1
            x > y -> 1
            x == y -> 0   // also -0.0 == 0.0
            else -> throw KohakuVaultException.InvalidArgument(NAN_MESSAGE)
        }
    }

    override fun encode(key: Double): ByteArray = encodingOf(TAG_FLOAT, 8).putDouble(key).array()

    override fun fast(op: OrderedFastPath.Op, h: Int, key: Double, value: Long): Long {
        val s = OrderedFastPath.scratch(9)
        s.buf.put(TAG_FLOAT.toByte()).putDouble(key)
        return OrderedFastPath.keyed(op, h, OrderedFastPath.KIND_ENCODING, s, 9, value)
    }

    override fun ofDouble(v: Double): Double = v

    override fun page(keys: List<Double>) = object : KeyPageWriter(8L + 8L * keys.size) {
        override fun write(b: ByteBuffer) {
            b.putInt(LAYOUT_FLOAT).putInt(keys.size)
            for (k in keys) b.putDouble(k)
        }
    }
}

/** The facade's own message for a NaN met outside the core (a view's bound check, [OrderedKeyType.comparator]). */
internal const val NAN_MESSAGE = "NaN cannot be used as a key: it is unordered (every comparison with it is false)"

/** Code point order of two valid strings (UTF-16 order differs from it only around surrogates). */
internal fun compareCodePoints(a: String, b: String): Int {
    val n = minOf(a.length, b.length)
    var i = 0
    while (i < n) {
        val ca = a[i]
        val cb = b[i]
        if (ca != cb) {
            // The strings agree before i, so both code points start at i, or both are the low halves of pairs
            // with the same high half (then the low halves decide, as the code points do).
            return a.codePointAt(i).compareTo(b.codePointAt(i))
        }
        i++
    }
    return a.length.compareTo(b.length)
}

private object StringKeys : OrderedKeyType<String>("STRING", String::class.java) {
    override val comparator: Comparator<String> = Comparator { a, b -> compareCodePoints(a, b) }

    override fun encode(key: String): ByteArray {
        val u = utf8Key(key)
        return encodingOf(TAG_STR, 4 + u.size).putInt(u.size).put(u).array()
    }

    override fun fast(op: OrderedFastPath.Op, h: Int, key: String, value: Long): Long =
        OrderedFastPath.keyed(op, h, OrderedFastPath.KIND_UTF8, utf8Key(key), value)

    override fun ofString(v: String): String = v

    override fun page(keys: List<String>): KeyPageWriter {
        val bytes = arrayOfNulls<ByteArray>(keys.size)
        val cps = LongArray(keys.size)
        var total = 0L
        for ((i, k) in keys.withIndex()) {
            val u = utf8Key(k)
            bytes[i] = u
            cps[i] = k.codePointCount(0, k.length).toLong()
            total += u.size
        }
        return object : KeyPageWriter(8L + 8L * (keys.size + 1) + total) {
            override fun write(b: ByteBuffer) {
                b.putInt(LAYOUT_STR).putInt(keys.size)
                var off = 0L
                b.putLong(0L)
                for (c in cps) { off += c; b.putLong(off) }
                for (u in bytes) b.put(u!!)
            }
        }
    }
}

private object BytesKeys : OrderedKeyType<ByteArray>("BYTES", ByteArray::class.java) {
    override val comparator: Comparator<ByteArray> = Comparator { a, b -> Arrays.compareUnsigned(a, b) }

    override fun encode(key: ByteArray): ByteArray = encodingOf(TAG_BYTES, 4 + key.size).putInt(key.size).put(key).array()

    override fun fast(op: OrderedFastPath.Op, h: Int, key: ByteArray, value: Long): Long =
        OrderedFastPath.keyed(op, h, OrderedFastPath.KIND_BYTES, key, value)

    override fun ofBytes(v: ByteArray): ByteArray = v

    override fun page(keys: List<ByteArray>): KeyPageWriter {
        var total = 0L
        for (k in keys) total += k.size
        return object : KeyPageWriter(8L + 8L * (keys.size + 1) + total) {
            override fun write(b: ByteBuffer) {
                b.putInt(LAYOUT_BYTES).putInt(keys.size)
                var off = 0L
                b.putLong(0L)
                for (k in keys) { off += k.size; b.putLong(off) }
                for (k in keys) b.put(k)
            }
        }
    }

    override fun keyEquals(a: Any?, b: Any?): Boolean =
        if (a is ByteArray && b is ByteArray) a.contentEquals(b) else a == b

    override fun keyHash(k: Any?): Int = if (k is ByteArray) k.contentHashCode() else k?.hashCode() ?: 0

    override fun show(k: Any?): String =
        if (k is ByteArray) k.joinToString("", "0x") { "%02x".format(it.toInt() and 0xFF) } else k.toString()
}

// ------------------------------------------------------------------------------------------------ pages

/** An entry page (FORMAT §9.3): [handles] and [keys] of [count] entries; [done]: no more entries within the bounds. */
internal class EntryPage<K : Any>(val done: Boolean, val handles: LongArray, val keys: List<K>) {
    val count: Int get() = handles.size
}

private fun corrupt(what: String): Nothing = throw KohakuVaultException.Internal("malformed $what from the core")

private fun u32(b: ByteBuffer, what: String): Int {
    if (b.remaining() < 4) corrupt(what)
    val v = b.int
    if (v < 0) corrupt(what)
    return v
}

/** Reads an entry page (FORMAT §9.3) whose keys are of [type]. */
internal fun <K : Any> readEntryPage(bytes: ByteArray, type: OrderedKeyType<K>): EntryPage<K> {
    val b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
    if (b.remaining() < 8) corrupt("entry page")
    val flags = b.int
    val count = u32(b, "entry page")
    if (b.remaining().toLong() < 8L * count) corrupt("entry page")
    val handles = LongArray(count)
    b.asLongBuffer().get(handles)
    b.position(b.position() + 8 * count)
    val keys = readKeyPage(b, type)
    if (keys.size != count) corrupt("entry page (${keys.size} keys for $count handles)")
    return EntryPage(flags and 1 != 0, handles, keys)
}

/** Reads a key page (FORMAT §9.2) from the position of [b] to its end, as keys of [type]. */
internal fun <K : Any> readKeyPage(b: ByteBuffer, type: OrderedKeyType<K>): List<K> {
    if (b.remaining() < 8) corrupt("key page")
    val layout = b.int
    val n = u32(b, "key page")
    val out = ArrayList<K>(n)
    when (layout) {
        LAYOUT_INT -> {
            if (b.remaining().toLong() < 8L * n) corrupt("key page")
            repeat(n) { out.add(type.ofLong(b.long)) }
        }
        LAYOUT_FLOAT -> {
            if (b.remaining().toLong() < 8L * n) corrupt("key page")
            repeat(n) { out.add(type.ofDouble(b.double)) }
        }
        LAYOUT_STR, LAYOUT_BYTES -> {
            if (b.remaining().toLong() < 8L * (n + 1)) corrupt("key page")
            val offs = LongArray(n + 1) { b.long }
            val data = b.position()
            val len = b.remaining()
            if (offs[0] != 0L) corrupt("key page")
            for (i in 0 until n) if (offs[i + 1] < offs[i]) corrupt("key page")
            if (layout == LAYOUT_BYTES) {
                if (offs[n] != len.toLong()) corrupt("key page")
                for (i in 0 until n) {
                    val k = ByteArray((offs[i + 1] - offs[i]).toInt())
                    b.position(data + offs[i].toInt())
                    b.get(k)
                    out.add(type.ofBytes(k))
                }
            } else {
                val all = String(b.array(), b.arrayOffset() + data, len, Charsets.UTF_8)
                if (all.length.toLong() == offs[n]) {
                    // one UTF-16 unit per code point: the offsets index the string directly
                    for (i in 0 until n) out.add(type.ofString(all.substring(offs[i].toInt(), offs[i + 1].toInt())))
                } else {
                    var at = 0
                    for (i in 0 until n) {
                        val cps = (offs[i + 1] - offs[i]).toInt()
                        val end = try { all.offsetByCodePoints(at, cps) } catch (e: IndexOutOfBoundsException) {
                            corrupt("key page")
                        }
                        out.add(type.ofString(all.substring(at, end)))
                        at = end
                    }
                }
            }
            b.position(data + len)
        }
        LAYOUT_MIXED -> repeat(n) { out.add(readEncoding(b, type)) }
        else -> corrupt("key page (layout $layout)")
    }
    return out
}

/** One key encoding (FORMAT §9.1) as a key of [type]. */
private fun <K : Any> readEncoding(b: ByteBuffer, type: OrderedKeyType<K>): K {
    if (!b.hasRemaining()) corrupt("key page")
    return when (val tag = b.get().toInt() and 0xFF) {
        TAG_INT -> { if (b.remaining() < 8) corrupt("key page"); type.ofLong(b.long) }
        TAG_FLOAT -> { if (b.remaining() < 8) corrupt("key page"); type.ofDouble(b.double) }
        TAG_STR, TAG_BYTES -> {
            val n = u32(b, "key page")
            if (b.remaining() < n) corrupt("key page")
            val k = ByteArray(n)
            b.get(k)
            if (tag == TAG_STR) type.ofString(String(k, Charsets.UTF_8)) else type.ofBytes(k)
        }
        else -> throw KohakuVaultException.Internal("a key of tag $tag in a page of a ${type.name} container")
    }
}

/** [n] u64 LE handles of a batch result; Internal when the buffer has another size. */
internal fun handlesOf(b: ByteArray, n: Int, what: String): LongArray {
    if (b.size != 8 * n) throw KohakuVaultException.Internal("$what: ${b.size} bytes for $n handles")
    val out = LongArray(n)
    le(b).asLongBuffer().get(out)
    return out
}
