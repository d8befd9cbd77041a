package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.OrderedFastPath
import io.kohakuvault.uniffi.Neighbor
import io.kohakuvault.uniffi.OrderedRange
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.function.Executable
import java.lang.ref.WeakReference
import java.util.Collections
import java.util.NavigableMap
import java.util.TreeMap
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.random.Random

class OrderedMapsTest {

    /** Both containers, for tests of what they share. */
    private fun <K : Any, V> both(type: OrderedKeyType<K>): List<OrderedContainer<K, V>> =
        listOf<OrderedContainer<K, V>>(CSBTree(type, 3), SkipList(type))

    private inline fun <K : Any, V> eachContainer(type: OrderedKeyType<K>, block: (OrderedContainer<K, V>) -> Unit) {
        for (m in both<K, V>(type)) m.use { block(it) }
    }

    private fun invalid(what: String, e: Executable) {
        assertThrows(KohakuVaultException.InvalidArgument::class.java, e, what)
    }

    // ---------------------------------------------------------------------------------------------- basics

    @Test
    fun mapMembers() = eachContainer<Long, String>(OrderedKeyType.LONG) { m ->
        val name = m.javaClass.simpleName
        assertTrue(m.isEmpty())
        assertEquals(0, m.size)
        assertNull(m.put(3, "c"))
        assertNull(m.put(1, "a"))
        assertNull(m.put(2, "b"))
        assertEquals("c", m.put(3, "C"), "$name put replaces (Map contract)")
        assertEquals("C", m[3])
        assertEquals(3, m.size)
        assertEquals(3L, m.sizeLong)
        assertFalse(m.isEmpty())
        assertTrue(m.containsKey(2))
        assertFalse(m.containsKey(4))
        assertTrue(m.containsValue("b"))
        assertFalse(m.containsValue("z"))
        assertNull(m[4])
        assertEquals("z", m.getOrDefault(4, "z"))
        assertEquals("a", m.putIfAbsent(1, "x"))
        assertNull(m.putIfAbsent(4, "d"))
        assertEquals("d", m.remove(4))
        assertNull(m.remove(4))
        assertEquals(listOf(1L, 2L, 3L), m.keys.toList())
        assertEquals(listOf("a", "b", "C"), m.values.toList())
        assertEquals(listOf(1L to "a", 2L to "b", 3L to "C"), m.entries.map { it.key to it.value })
        assertEquals(listOf(1L to "a", 2L to "b", 3L to "C"), m.items())
        assertEquals(TreeMap(mapOf(1L to "a", 2L to "b", 3L to "C")), m)
        assertEquals(m, TreeMap(mapOf(1L to "a", 2L to "b", 3L to "C")))
        assertEquals(TreeMap(mapOf(1L to "a", 2L to "b", 3L to "C")).hashCode(), m.hashCode())

        assertEquals(1L, m.firstKey())
        assertEquals(3L, m.lastKey())
        assertEquals(1L to "a", m.firstEntry()!!.let { it.key to it.value })
        assertEquals(3L to "C", m.lastEntry()!!.let { it.key to it.value })
        assertEquals(2L, m.ceilingKey(2))
        assertEquals(3L, m.higherKey(2))
        assertEquals(2L, m.floorKey(2))
        assertEquals(1L, m.lowerKey(2))
        assertNull(m.ceilingKey(4))
        assertNull(m.lowerKey(1))
        assertEquals("b", m.ceilingEntry(2)!!.value)
        assertEquals("C", m.higherEntry(2)!!.value)
        assertEquals("b", m.floorEntry(2)!!.value)
        assertEquals("a", m.lowerEntry(2)!!.value)
        assertNull(m.higherEntry(3))
        assertNull(m.floorEntry(0))
        assertThrows(UnsupportedOperationException::class.java) { m.firstEntry()!!.let { (it as MutableMap.MutableEntry<Long, String>).setValue("q") } }

        assertEquals(1L to "a", m.pollFirstEntry()!!.let { it.key to it.value })
        assertEquals(3L to "C", m.pollLastEntry()!!.let { it.key to it.value })
        assertEquals(listOf(2L), m.keys.toList())
        m.clear()
        assertTrue(m.isEmpty())
        assertNull(m.pollFirstEntry())
        assertNull(m.firstEntry())
        assertThrows(NoSuchElementException::class.java) { m.firstKey() }
        assertThrows(NoSuchElementException::class.java) { m.lastKey() }
        assertEquals("$name(len=0)", m.toString())
        assertEquals(OrderedKeyType.LONG, m.keyType)
    }

    @Test
    fun nullValuesAndAnyObjects() = eachContainer<Long, Any?>(OrderedKeyType.LONG) { m ->
        val obj = Any()
        assertNull(m.put(1, null))
        assertTrue(m.containsKey(1))
        assertNull(m[1])
        assertEquals(1, m.size)
        assertNull(m.put(2, obj))
        assertSame(obj, m[2])
        assertNull(m.putIfAbsent(1, "not stored"), "the existing value is null")
        assertNull(m[1])
        assertTrue(m.containsKey(1))
        assertTrue(m.containsValue(null))
        assertEquals(listOf(null, obj), m.values.toList())
        assertEquals(listOf(null, obj), m.getAll(listOf(1L, 2L)))
        assertNull(m.firstEntry()!!.value)
        assertTrue(m.keys.remove(1L), "a null value is present")
        assertFalse(m.keys.remove(1L))
        assertEquals(1, m.size)
        assertEquals(m.heldValues, m.size)
    }

    @Test
    fun insertSemanticsOf110() {
        CSBTree<Long, String>().use { assertEquals(CSBTree.DEFAULT_ORDER, it.order) }
        eachContainer<Long, String>(OrderedKeyType.LONG) { m ->
            // CSBTree insert replaces and returns the old value; SkipList insert is insert-if-absent and returns the
            // existing value, which stays
            val replaces = m is CSBTree<Long, String>
            val name = m.javaClass.simpleName
            assertNull(m.insert(1, "a"))
            assertEquals("a", m.insert(1, "b"), "$name insert returns the value that was there")
            val kept = if (replaces) "b" else "a"
            assertEquals(kept, m[1], name)
            assertEquals(listOf<String?>(kept, null), m.insertAll(listOf(1L, 2L), listOf("c", "d")), name)
            assertEquals(if (replaces) "c" else kept, m[1], name)
            assertEquals("d", m[2])
            assertEquals(m[1], m.put(1, "e"), "$name put honours the Map contract")
            assertEquals("e", m[1])
            assertEquals(2, m.heldValues)
        }
    }

    @Test
    fun rangeAndItems() = eachContainer<Long, String>(OrderedKeyType.LONG) { m ->
        for (i in 0L until 100L) m[i] = "v$i"
        assertEquals((40L until 45L).map { it to "v$it" }, m.range(40, 45), "start <= k < end")
        assertEquals(emptyList<Pair<Long, String>>(), m.range(42, 42))
        assertEquals(emptyList<Pair<Long, String>>(), m.range(50, 10))
        assertEquals((90L until 100L).map { it to "v$it" }, m.range(90, 1000))
        assertEquals((0L until 100L).map { it to "v$it" }, m.items())
    }

    @Test
    fun reifiedFactoriesAndKeyTypes() {
        CSBTree<Long, String>().use { assertEquals(OrderedKeyType.LONG, it.keyType) }
        CSBTree<String, Int>(5).use { assertEquals(5, it.order); assertEquals(OrderedKeyType.STRING, it.keyType) }
        SkipList<ByteArray, Int>().use { assertEquals(OrderedKeyType.BYTES, it.keyType) }
        SkipList<Double, Int>().use { assertEquals(OrderedKeyType.DOUBLE, it.keyType) }
        assertSame(OrderedKeyType.LONG, OrderedKeyType.of(java.lang.Long::class.java))
        assertSame(OrderedKeyType.LONG, OrderedKeyType.of<Long>())
        assertSame(OrderedKeyType.BYTES, OrderedKeyType.of<ByteArray>())
        invalid("Int keys") { OrderedKeyType.of<Int>() }
        invalid("Any keys") { CSBTree<Any, Int>() }
    }

    @Test
    fun orderIsValidated() {
        for (bad in listOf(-1, 0, 1)) invalid("order $bad") { CSBTree<Long, Int>(bad) }
        CSBTree<Long, Int>(2).use { t ->
            assertEquals(2, t.order)
            val keys = (0L until 2000L).shuffled(Random(7))
            for (k in keys) t[k] = k.toInt()
            assertEquals((0L until 2000L).toList(), t.keys.toList())
            for (k in keys.take(1000)) assertEquals(k.toInt(), t.remove(k))
            assertEquals(keys.drop(1000).sorted(), t.keys.toList())
        }
    }

    // ---------------------------------------------------------------------------------------------- key types

    @Test
    fun doubleZerosAndNaN() {
        CSBTree<Double, String>().use { t ->
            assertNull(t.put(-0.0, "neg"))
            assertEquals("neg", t[0.0], "-0.0 == 0.0")
            assertTrue(t.containsKey(0.0))
            assertEquals("neg", t.put(0.0, "pos"))
            assertEquals(1, t.size)
            assertEquals((-0.0).toRawBits(), t.firstKey().toRawBits(), "the key first stored is kept")
            assertEquals("pos", t[-0.0])
        }
        SkipList<Double, String>().use { s ->
            assertNull(s.insert(0.0, "pos"))
            assertEquals("pos", s.insert(-0.0, "neg"))
            assertEquals(1, s.size)
            assertEquals(0.0.toRawBits(), s.firstKey().toRawBits())
        }
        eachContainer<Double, String>(OrderedKeyType.DOUBLE) { m ->
            m[1.0] = "one"
            m[Double.NEGATIVE_INFINITY] = "-inf"
            m[Double.POSITIVE_INFINITY] = "inf"
            m[Double.MIN_VALUE] = "tiny"
            m[-Double.MIN_VALUE] = "-tiny"
            assertEquals(listOf(Double.NEGATIVE_INFINITY, -Double.MIN_VALUE, Double.MIN_VALUE, 1.0, Double.POSITIVE_INFINITY), m.keys.toList())
            checkNaN(m)
        }
    }

    private fun checkNaN(m: OrderedContainer<Double, String>) {
        val nan = Double.NaN
        val before = m.items()
        invalid("get") { m[nan] }
        invalid("containsKey") { m.containsKey(nan) }
        invalid("put") { m[nan] = "x" }
        invalid("putIfAbsent") { m.putIfAbsent(nan, "x") }
        invalid("insert") { m.insert(nan, "x") }
        invalid("remove") { m.remove(nan) }
        invalid("ceilingKey") { m.ceilingKey(nan) }
        invalid("floorEntry") { m.floorEntry(nan) }
        invalid("higherKey") { m.higherKey(nan) }
        invalid("lowerKey") { m.lowerKey(nan) }
        invalid("headMap") { m.headMap(nan) }
        invalid("tailMap") { m.tailMap(nan, true) }
        invalid("subMap") { m.subMap(0.0, true, nan, true) }
        invalid("range") { m.range(0.0, nan) }
        invalid("getAll") { m.getAll(listOf(1.0, nan)) }
        invalid("comparator") { m.comparator().compare(1.0, nan) }
        invalid("view get") { m.headMap(10.0)[nan] }
        assertEquals(before, m.items(), "nothing changed")
        assertEquals(m.size, m.heldValues, "no value leaked")
        // batches stop at the NaN: the items before it are applied, the later ones are not tried
        invalid("insertAll") { m.insertAll(listOf(10.0, 11.0, nan, 12.0), listOf("a", "b", "c", "d")) }
        assertEquals("a", m[10.0])
        assertEquals("b", m[11.0])
        assertFalse(m.containsKey(12.0))
        invalid("putAll") { m.putAll(linkedMapOf(13.0 to "e", nan to "f", 14.0 to "g")) }
        assertEquals("e", m[13.0])
        assertFalse(m.containsKey(14.0))
        invalid("removeAll") { m.removeAll(listOf(10.0, nan, 11.0)) }
        assertFalse(m.containsKey(10.0))
        assertTrue(m.containsKey(11.0))
        assertEquals(m.size, m.heldValues, "no value leaked")
    }

    @Test
    fun bytesKeysUnsignedAndCopied() = eachContainer<ByteArray, Int>(OrderedKeyType.BYTES) { m ->
        fun b(vararg x: Int) = ByteArray(x.size) { x[it].toByte() }
        val sorted = listOf(b(), b(0x00), b(0x00, 0x00), b(0x01), b(0x7f), b(0x7f, 0xff), b(0x80), b(0x80, 0x00), b(0xfe), b(0xff), b(0xff, 0x00), b(0xff, 0xff))
        for ((i, k) in sorted.withIndex().shuffled(Random(3))) m[k] = i
        val got = m.keys.toList()
        assertEquals(sorted.size, got.size)
        for (i in sorted.indices) assertArrayEquals(sorted[i], got[i], "key $i")
        assertEquals(sorted.indices.toList(), m.values.toList())
        // by content, and copied on insert
        val k = b(0x90, 0x01)
        m[k] = 99
        k[0] = 0x10
        assertEquals(99, m[b(0x90, 0x01)])
        assertNull(m[k])
        val first = m.firstKey()
        first.fill(0x55)
        assertArrayEquals(b(), m.firstKey())
        assertArrayEquals(b(0x80), m.ceilingKey(b(0x7f, 0xff, 0x00)))
        assertArrayEquals(b(0xff, 0xff), m.lastKey())
        assertEquals(listOf(6, 7), m.subMap(b(0x80), b(0x90)).values.toList())
        // Map.Entry equality by content
        assertTrue(m.entries.contains(java.util.AbstractMap.SimpleEntry(b(0x80), 6) as MutableMap.MutableEntry<ByteArray, Int>))
        assertEquals(m.firstEntry(), m.firstEntry())
        assertEquals(m.firstEntry().hashCode(), m.firstEntry().hashCode())
    }

    @Test
    fun stringsByCodePoint() = eachContainer<String, Int>(OrderedKeyType.STRING) { m ->
        val keys = listOf("", "A", "a", "a\u0000", "ab", "é", "\uD7FF", "\uE000", "\uFFFF", "\uD800\uDC00", "😀", "😀a")
        for ((i, k) in keys.withIndex().shuffled(Random(5))) m[k] = i
        assertEquals(keys, m.keys.toList(), "code point order: \\uFFFF < U+10000")
        assertTrue("\uFFFF" > "😀", "(String.compareTo differs)")
        assertTrue(m.comparator().compare("\uFFFF", "😀") < 0)
        assertEquals("\uD800\uDC00", m.higherKey("\uFFFF"))
        assertEquals("\uFFFF", m.lowerKey("\uD800\uDC00"))
        assertEquals(listOf("\uFFFF", "\uD800\uDC00", "😀"), m.subMap("\uFFFF", true, "😀", true).keys.toList())
        for (k in listOf("\uD800", "a\uDC00", "\uDBFF")) {
            invalid("put lone surrogate") { m[k] = 1 }
            invalid("get lone surrogate") { m[k] }
            invalid("putAll lone surrogate") { m.putAll(mapOf(k to 1)) }
        }
        assertEquals(keys.size, m.size)
        // a page of non-BMP keys (the core's offsets count code points)
        val many = (0 until 3000).map { "k😀${"%05d".format(it)}é" }
        m.putAll(many.associateWith { it.length })
        assertEquals(many, m.subMap("k", true, "l", false).keys.toList())
        assertEquals(many.reversed(), m.subMap("k", true, "l", false).descendingKeySet().toList())
        assertEquals(many.size, m.subMap("k", true, "l", false).size)
    }

    // ---------------------------------------------------------------------------------------------- views

    @Test
    fun boundedViews() = eachContainer<Long, String>(OrderedKeyType.LONG) { m ->
        for (i in 0L until 20L) m[i * 10] = "v$i"  // 0, 10, ..., 190
        val sub = m.subMap(30, true, 80, false)
        assertEquals(listOf(30L, 40L, 50L, 60L, 70L), sub.keys.toList())
        assertEquals(5, sub.size)
        assertEquals(30L, sub.firstKey())
        assertEquals(70L, sub.lastKey())
        assertEquals(30L, sub.ceilingKey(0))
        assertNull(sub.ceilingKey(75))
        assertEquals(70L, sub.floorKey(1000))
        assertNull(sub.lowerKey(30))
        assertNull(sub.higherKey(70))
        assertNull(sub[20])
        assertNull(sub[80])
        assertFalse(sub.containsKey(80))
        assertEquals("v4", sub[40])
        assertThrows(IllegalArgumentException::class.java) { sub[80] = "x" }
        assertThrows(IllegalArgumentException::class.java) { sub[29] = "x" }
        assertNull(sub.remove(90L))
        assertTrue(m.containsKey(90L))
        sub[35] = "new"
        assertEquals("new", m[35], "views write through")
        m[36] = "base"
        assertTrue(sub.containsKey(36), "views are live")
        assertThrows(IllegalArgumentException::class.java) { m.subMap(50L, 40L) }
        assertThrows(IllegalArgumentException::class.java) { sub.subMap(20L, 50L) }
        assertThrows(IllegalArgumentException::class.java) { sub.headMap(90L) }
        assertEquals(listOf(30L, 35L, 36L), sub.headMap(40L).keys.toList())
        assertEquals(listOf(30L, 35L, 36L, 40L), sub.headMap(40L, true).keys.toList())
        assertEquals(listOf(60L, 70L), sub.tailMap(60L).keys.toList())
        assertEquals(listOf(70L), sub.tailMap(60L, false).keys.toList())
        assertEquals(listOf(40L, 50L), sub.subMap(36L, false, 60L, false).keys.toList())

        val desc = sub.descendingMap()
        assertEquals(listOf(70L, 60L, 50L, 40L, 36L, 35L, 30L), desc.keys.toList())
        assertEquals(70L, desc.firstKey())
        assertEquals(30L, desc.lastKey())
        assertEquals(60L, desc.ceilingKey(65))
        assertEquals(70L, desc.floorKey(65))
        assertEquals(50L, desc.higherKey(60))
        assertEquals(70L, desc.lowerKey(60))
        assertEquals(listOf(60L, 50L), desc.subMap(60L, true, 40L, false).keys.toList())
        assertEquals(listOf(70L, 60L), desc.headMap(50L).keys.toList())
        assertEquals(listOf(50L, 40L, 36L, 35L, 30L), desc.tailMap(50L).keys.toList())
        assertThrows(IllegalArgumentException::class.java) { desc.subMap(40L, 60L) }
        assertTrue(desc.comparator().compare(1L, 2L) > 0)
        assertEquals(listOf(30L, 35L, 36L, 40L, 50L, 60L, 70L), desc.descendingMap().keys.toList())
        assertEquals(listOf(30L, 35L, 36L, 40L, 50L, 60L, 70L), desc.descendingKeySet().toList())
        assertEquals(70L, desc.pollFirstEntry()!!.key)
        assertFalse(m.containsKey(70L))
        assertEquals(30L, desc.pollLastEntry()!!.key)
        assertEquals(listOf(35L, 36L, 40L, 50L, 60L), sub.keys.toList())

        val ks = m.navigableKeySet()
        assertEquals(40L, ks.ceiling(38))
        assertEquals(36L, ks.floor(38))
        assertEquals(listOf(40L, 50L), ks.subSet(38L, 60L).toList())
        assertEquals(listOf(0L, 10L), ks.headSet(20L).toList())
        assertEquals(listOf(190L, 180L), ks.descendingSet().headSet(170L).toList())
        assertEquals(listOf(190L, 180L), ks.descendingIterator().asSequence().take(2).toList())
        assertEquals(0L, ks.pollFirst())
        assertEquals(190L, ks.pollLast())
        assertEquals(10L, ks.first())
        assertEquals(180L, ks.last())
        assertThrows(UnsupportedOperationException::class.java) { ks.add(5L) }

        sub.clear()
        assertTrue(sub.isEmpty())
        assertEquals(0, sub.size)
        assertEquals(listOf(10L, 20L, 80L, 90L), m.headMap(100L).keys.toList())
        m.headMap(20L, true).clear()
        assertEquals(80L, m.firstKey())
        assertEquals(m.size, m.heldValues)
    }

    @Test
    fun collectionViewsWriteThrough() = eachContainer<Long, String>(OrderedKeyType.LONG) { m ->
        for (i in 0L until 10L) m[i] = "v$i"
        val it = m.entries.iterator()
        while (it.hasNext()) {
            val e = it.next()
            when {
                e.key % 3 == 0L -> it.remove()
                e.key % 3 == 1L -> assertEquals("v${e.key}", e.setValue("w${e.key}"))
            }
        }
        assertEquals(listOf(1L, 2L, 4L, 5L, 7L, 8L), m.keys.toList())
        assertEquals("w1", m[1])
        assertEquals("v2", m[2])
        assertThrows(IllegalStateException::class.java) { m.keys.iterator().remove() }
        assertTrue(m.values.remove("v2"))
        assertFalse(m.containsKey(2))
        assertTrue(m.keys.remove(4L))
        assertFalse(m.keys.remove(4L))
        assertTrue(m.keys.contains(5L))
        assertTrue(m.entries.remove(java.util.AbstractMap.SimpleEntry(5L, "v5") as MutableMap.MutableEntry<Long, String>))
        assertFalse(m.entries.remove(java.util.AbstractMap.SimpleEntry(7L, "other") as MutableMap.MutableEntry<Long, String>))
        assertEquals(listOf(1L, 7L, 8L), m.keys.toList())
        m.keys.removeAll(listOf(7L, 8L))
        assertEquals(listOf(1L), m.keys.toList())
        m.values.clear()
        assertTrue(m.isEmpty())
        assertEquals(0, m.heldValues)
        // Collections helpers and a TreeMap copy work through the NavigableMap interface
        m.putAll((1L..5L).associateWith { "v$it" })
        assertEquals(TreeMap(m), m)
        assertEquals(5L, Collections.max(m.keys))
        assertEquals(listOf(5L, 4L), TreeMap(m).descendingKeySet().take(2))
    }

    @Test
    fun iterationAcrossPages() = eachContainer<Long, Long>(OrderedKeyType.LONG) { m ->
        val n = 5000L
        m.putAll((0 until n).associate { it * 2 to it })
        assertEquals(n.toInt(), m.size)
        assertEquals((0 until n).map { it * 2 }, m.keys.toList())
        assertEquals((0 until n).toList(), m.values.toList())
        assertEquals((0 until n).map { it * 2 }.reversed(), m.descendingMap().keys.toList())
        val sub = m.subMap(1001L, true, 7001L, false)
        assertEquals((501L..3500L).map { it * 2 }, sub.keys.toList())
        assertEquals((501L..3500L).map { it * 2 }.reversed(), sub.descendingMap().keys.toList())
        assertEquals(3000, sub.size)
        // removing every other key while iterating
        val it = m.keys.iterator()
        var i = 0
        while (it.hasNext()) { it.next(); if (i++ % 2 == 0) it.remove() }
        assertEquals((0 until n).filter { it % 2 == 1L }.map { it * 2 }, m.keys.toList())
        assertEquals(m.size, m.heldValues)
    }

    // ---------------------------------------------------------------------------------------------- batches

    @Test
    fun batches() = eachContainer<String, Int>(OrderedKeyType.STRING) { m ->
        val keys = (0 until 500).map { "k%03d".format(it) }
        m.putAll(keys.associateWith { it.length })
        assertEquals(500, m.size)
        assertEquals(keys.map { 4 }, m.getAll(keys))
        assertEquals(listOf(4, null, 4), m.getAll(listOf("k000", "nope", "k499")))
        m.putAll(keys.take(10).associateWith { -1 })
        assertEquals(List(10) { -1 }, m.getAll(keys.take(10)), "putAll replaces for both containers")
        assertEquals(listOf(-1, null, 4), m.removeAll(listOf("k000", "nope", "k100")))
        assertEquals(498, m.size)
        assertEquals(emptyList<Int?>(), m.getAll(emptyList()))
        assertEquals(emptyList<Int?>(), m.removeAll(emptyList()))
        assertEquals(emptyList<Int?>(), m.insertAll(emptyList(), emptyList()))
        m.putAll(emptyMap())
        // repeated keys within one batch (equal ByteArray keys): the last one wins, as with puts one by one
        val ba = SkipList<ByteArray, Int>(OrderedKeyType.BYTES)
        ba.use {
            val a = byteArrayOf(1, 2)
            it.putAll(linkedMapOf(a to 1, byteArrayOf(1, 2) to 2, byteArrayOf(1, 2) to 3))
            assertEquals(1, it.size)
            assertEquals(3, it[a])
            assertEquals(1, it.heldValues)
        }
        CSBTree<ByteArray, Int>(OrderedKeyType.BYTES).use {
            it.putAll(linkedMapOf(byteArrayOf(1) to 1, byteArrayOf(1) to 2))
            assertEquals(2, it[byteArrayOf(1)])
            assertEquals(1, it.heldValues)
        }
        assertEquals(m.size, m.heldValues)
    }

    // ---------------------------------------------------------------------------------------------- against TreeMap

    private class Domain<K : Any>(
        val type: OrderedKeyType<K>,
        val ref: Comparator<K>,
        val gen: (Random) -> K,
        val same: (K?, K?) -> Boolean = { a, b -> a == b },
    )

    /** Code point order written independently of the facade's. */
    private val codePoints = Comparator<String> { a, b ->
        val x = a.codePoints().toArray()
        val y = b.codePoints().toArray()
        var i = 0
        while (i < x.size && i < y.size && x[i] == y[i]) i++
        if (i < x.size && i < y.size) x[i].compareTo(y[i]) else x.size.compareTo(y.size)
    }

    private val unsignedBytes = Comparator<ByteArray> { a, b ->
        var i = 0
        while (i < a.size && i < b.size && a[i] == b[i]) i++
        if (i < a.size && i < b.size) (a[i].toInt() and 0xFF).compareTo(b[i].toInt() and 0xFF) else a.size.compareTo(b.size)
    }

    private val longs = Domain(OrderedKeyType.LONG, naturalOrder(), { r ->
        when (r.nextInt(20)) {
            0 -> Long.MIN_VALUE + r.nextLong(3)
            1 -> Long.MAX_VALUE - r.nextLong(3)
            else -> r.nextLong(-150, 150)
        }
    })

    private val doubles = Domain(OrderedKeyType.DOUBLE, { a: Double, b: Double -> if (a == b) 0 else a.compareTo(b) }, { r ->
        when (r.nextInt(12)) {
            0 -> Double.NEGATIVE_INFINITY
            1 -> Double.POSITIVE_INFINITY
            2 -> -0.0
            3 -> 0.0
            4 -> Double.MIN_VALUE * r.nextInt(-2, 3)
            else -> r.nextInt(-100, 100) / 4.0
        }
    }, { a, b -> if (a == null || b == null) a === b else java.lang.Double.compare(a + 0.0, b + 0.0) == 0 })

    private val alphabet = listOf("a", "b", "é", "中", "\uE000", "\uFFFF", "😀", "𐀀", "\u0000", "Z")
    private val strings = Domain(OrderedKeyType.STRING, codePoints, { r ->
        buildString { repeat(r.nextInt(4)) { append(alphabet[r.nextInt(alphabet.size)]) } }
    })

    private val byteValues = intArrayOf(0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff)
    private val bytes = Domain(OrderedKeyType.BYTES, unsignedBytes, { r ->
        ByteArray(r.nextInt(4)) { byteValues[r.nextInt(byteValues.size)].toByte() }
    }, { a, b -> if (a == null || b == null) a == b else a.contentEquals(b) })

    private fun <K : Any> checkAgainstTreeMap(d: Domain<K>, m: OrderedContainer<K, Int>, seed: Int, ops: Int = 20_000) {
        val ref = TreeMap<K, Int>(d.ref)
        val r = Random(seed)
        val name = "${m.javaClass.simpleName}<${d.type}> seed $seed"
        fun k() = d.gen(r)
        fun sameKey(what: String, a: K?, b: K?) = assertTrue(d.same(a, b), "$name $what: ${d.type.show(a)} vs ${d.type.show(b)}")
        fun sameEntry(what: String, a: Map.Entry<K, Int>?, b: Map.Entry<K, Int>?) {
            sameKey(what, a?.key, b?.key)
            assertEquals(a?.value, b?.value, "$name $what value")
        }
        fun sameKeys(what: String, a: Collection<K>, b: Collection<K>) {
            assertEquals(a.size, b.size, "$name $what size")
            for ((x, y) in a.zip(b)) sameKey(what, x, y)
        }
        fun compareViews(what: String, a: NavigableMap<K, Int>, b: NavigableMap<K, Int>) {
            assertEquals(a.size, b.size, "$name $what size")
            assertEquals(a.isEmpty(), b.isEmpty())
            if (a.isNotEmpty()) {
                sameKey("$what firstKey", a.firstKey(), b.firstKey())
                sameEntry("$what lastEntry", a.lastEntry(), b.lastEntry())
            }
            val p = k()
            sameKey("$what ceilingKey", a.ceilingKey(p), b.ceilingKey(p))
            sameEntry("$what floorEntry", a.floorEntry(p), b.floorEntry(p))
            sameKey("$what higherKey", a.higherKey(p), b.higherKey(p))
            sameKey("$what lowerKey", a.lowerKey(p), b.lowerKey(p))
            assertEquals(a[p], b[p], "$name $what get")
            assertEquals(a.containsKey(p), b.containsKey(p), "$name $what containsKey")
            sameKeys("$what keys", a.keys, b.keys)
            assertEquals(a.values.toList(), b.values.toList(), "$name $what values")
        }
        for (step in 0 until ops) {
            when (r.nextInt(100)) {
                in 0..24 -> { val x = k(); val v = r.nextInt(1000); assertEquals(ref.put(x, v), m.put(x, v), "$name put") }
                in 25..34 -> { val x = k(); assertEquals(ref.remove(x), m.remove(x), "$name remove") }
                in 35..44 -> { val x = k(); assertEquals(ref[x], m[x], "$name get"); assertEquals(ref.containsKey(x), m.containsKey(x)) }
                in 45..49 -> { val x = k(); val v = r.nextInt(1000); assertEquals(ref.putIfAbsent(x, v), m.putIfAbsent(x, v), "$name putIfAbsent") }
                in 50..57 -> {
                    val x = k()
                    sameKey("ceilingKey", ref.ceilingKey(x), m.ceilingKey(x))
                    sameKey("floorKey", ref.floorKey(x), m.floorKey(x))
                    sameEntry("higherEntry", ref.higherEntry(x), m.higherEntry(x))
                    sameEntry("lowerEntry", ref.lowerEntry(x), m.lowerEntry(x))
                }
                in 58..60 -> {
                    sameEntry("firstEntry", ref.firstEntry(), m.firstEntry())
                    sameEntry("lastEntry", ref.lastEntry(), m.lastEntry())
                    assertEquals(ref.size, m.size, "$name size")
                }
                61 -> sameEntry("pollFirstEntry", ref.pollFirstEntry(), m.pollFirstEntry())
                62 -> sameEntry("pollLastEntry", ref.pollLastEntry(), m.pollLastEntry())
                in 63..66 -> {
                    val batch = List(r.nextInt(1, 8)) { k() to r.nextInt(1000) }
                    val asMap = LinkedHashMap<K, Int>()
                    for ((x, v) in batch) asMap[x] = v
                    ref.putAll(asMap)
                    m.putAll(asMap)
                }
                in 67..69 -> {
                    val ks = List(r.nextInt(1, 8)) { k() }
                    assertEquals(ks.map { ref[it] }, m.getAll(ks), "$name getAll")
                }
                in 70..71 -> {
                    val ks = List(r.nextInt(1, 6)) { k() }
                    assertEquals(ks.map { ref.remove(it) }, m.removeAll(ks), "$name removeAll")
                }
                in 72..73 -> {
                    val ks = List(r.nextInt(1, 6)) { k() }
                    val vs = List(ks.size) { r.nextInt(1000) }
                    val expected = if (m is CSBTree<K, Int>) ks.zip(vs).map { (x, v) -> ref.put(x, v) }
                    else ks.zip(vs).map { (x, v) -> ref.putIfAbsent(x, v) }
                    assertEquals(expected, m.insertAll(ks, vs), "$name insertAll")
                }
                in 74..85 -> {
                    // a random view of both, compared member by member
                    var a = k()
                    var b = k()
                    if (d.ref.compare(a, b) > 0) { val t = a; a = b; b = t }
                    val ai = r.nextBoolean()
                    val bi = r.nextBoolean()
                    val (rv, mv) = when (r.nextInt(5)) {
                        0 -> ref.subMap(a, ai, b, bi) to m.subMap(a, ai, b, bi)
                        1 -> ref.headMap(b, bi) to m.headMap(b, bi)
                        2 -> ref.tailMap(a, ai) to m.tailMap(a, ai)
                        3 -> ref.descendingMap().subMap(b, bi, a, ai) to m.descendingMap().subMap(b, bi, a, ai)
                        else -> ref.subMap(a, ai, b, bi).descendingMap() to m.subMap(a, ai, b, bi).descendingMap()
                    }
                    compareViews("view", rv, mv)
                    // writes through the view
                    val x = k()
                    val v = r.nextInt(1000)
                    val rr = runCatching { rv.put(x, v) }
                    val mr = runCatching { mv.put(x, v) }
                    if (rr.isSuccess) assertEquals(rr.getOrNull(), mr.getOrThrow(), "$name view put")
                    else assertTrue(mr.exceptionOrNull() is IllegalArgumentException, "$name view put out of range: $mr")
                    if (r.nextInt(10) == 0) { rv.pollFirstEntry()?.let { e -> sameEntry("view poll", e, mv.pollFirstEntry()) } }
                    if (r.nextInt(20) == 0) { rv.clear(); mv.clear() }
                }
                in 86..88 -> {
                    // iterator removal of some entries
                    val it = m.entries.iterator()
                    val rit = ref.entries.iterator()
                    while (rit.hasNext()) {
                        val re = rit.next()
                        val me = it.next()
                        sameEntry("iteration", re, me)
                        if (r.nextInt(30) == 0) { rit.remove(); it.remove() }
                    }
                    assertFalse(it.hasNext())
                }
                else -> {
                    assertEquals(ref.size, m.size, "$name size")
                    if (step % 10 == 0) {
                        sameKeys("keys", ref.keys, m.keys)
                        sameKeys("descending keys", ref.descendingKeySet(), m.descendingKeySet())
                    }
                }
            }
        }
        compareViews("final", ref, m)
        assertEquals(ref.size, m.heldValues, "$name: the handle table holds exactly the live values")
        m.clear()
        assertEquals(0, m.heldValues)
    }

    @Test
    fun longsAgainstTreeMap() = eachContainer<Long, Int>(OrderedKeyType.LONG) { checkAgainstTreeMap(longs, it, 11) }

    @Test
    fun doublesAgainstTreeMap() = eachContainer<Double, Int>(OrderedKeyType.DOUBLE) { checkAgainstTreeMap(doubles, it, 12) }

    @Test
    fun stringsAgainstTreeMap() = eachContainer<String, Int>(OrderedKeyType.STRING) { checkAgainstTreeMap(strings, it, 13) }

    @Test
    fun bytesAgainstTreeMap() = eachContainer<ByteArray, Int>(OrderedKeyType.BYTES) { checkAgainstTreeMap(bytes, it, 14) }

    @Test
    fun udlPathWithoutFastPath() {
        assertTrue(OrderedFastPath.available, "ord_fast_* are exported and bound")
        OrderedFastPath.enabled = false
        try {
            eachContainer<Long, Int>(OrderedKeyType.LONG) { checkAgainstTreeMap(longs, it, 21, ops = 3000) }
            eachContainer<String, Int>(OrderedKeyType.STRING) { checkAgainstTreeMap(strings, it, 22, ops = 3000) }
            eachContainer<Double, String>(OrderedKeyType.DOUBLE) { checkNaN(it) }
            eachContainer<String, Int>(OrderedKeyType.STRING) { m -> invalid("lone surrogate") { m["\uD800"] = 1 } }
        } finally {
            OrderedFastPath.enabled = true
        }
    }

    /** The page entry points (ord_fast_range, ord_fast_neighbor) answer exactly the UDL's pages, or -1 on errors. */
    @Test
    fun fastPagesAreTheUdlPages() {
        assertTrue(OrderedFastPath.available, "ord_fast_* are exported and bound")
        fun <K : Any> check(m: OrderedContainer<K, Int>, keys: List<K>, probes: List<K>) {
            for ((i, k) in keys.withIndex()) m[k] = i
            val st = m.engine.store
            val h = st.fastHandle().toInt()
            val enc = probes.map { m.keyType.encode(it) }
            val name = "${m.javaClass.simpleName}<${m.keyType}>"
            var n = 0
            for (which in Neighbor.entries) for (e in enc) {
                val udl = st.neighbor(which, Arena.one(e))
                assertArrayEquals(udl, OrderedFastPath.neighbor(h, which, e), "$name neighbor $which")
                n++
            }
            val bounds = listOf<ByteArray?>(null) + enc
            for (lo in bounds) for (hi in bounds) for (limit in listOf(0, 1, 3, 1024)) for (flags in 0 until 8) {
                val r = OrderedRange(lo, flags and 1 != 0, hi, flags and 2 != 0, limit.toUInt(), flags and 4 != 0)
                assertArrayEquals(st.range(r), OrderedFastPath.range(h, r), "$name range $flags limit $limit")
                n++
            }
            assertTrue(n > 100)
            // errors: -1, then the UDL call raises the typed error
            val bad = byteArrayOf(99)
            assertNull(OrderedFastPath.neighbor(h, Neighbor.CEILING, bad))
            assertNull(OrderedFastPath.range(h, OrderedRange(bad, true, null, false, 0u, false)))
            assertNull(OrderedFastPath.range(0, OrderedRange(null, true, null, false, 0u, false)), "no such store")
            invalid("the UDL's typed error") { m.engine.call { c -> c.range(OrderedRange(bad, true, null, false, 0u, false)) } }
        }
        for (m in both<Long, Int>(OrderedKeyType.LONG)) m.use {
            check(it, (0L until 3000L).map { k -> k * 3 }.shuffled(Random(1)), listOf(-5L, 0L, 1L, 3L, 4500L, 8997L, 9000L))
        }
        for (m in both<String, Int>(OrderedKeyType.STRING)) m.use {
            check(it, (0 until 2000).map { k -> "k😀%04dé".format(k) }, listOf("", "k😀0100é", "k😀01", "z"))
        }
        for (m in both<Double, Int>(OrderedKeyType.DOUBLE)) m.use {
            check(it, (0 until 500).map { k -> k / 4.0 - 20 }, listOf(-0.0, Double.NEGATIVE_INFINITY, 3.3, 1e9))
            val nan = m.keyType.encode(Double.NaN)
            val h = m.engine.store.fastHandle().toInt()
            assertNull(OrderedFastPath.neighbor(h, Neighbor.FLOOR, nan), "NaN is an error of the fast path too")
            assertNull(OrderedFastPath.range(h, OrderedRange(null, true, nan, false, 0u, false)))
        }
        // a closed container's handle is gone
        val t = CSBTree<Long, Int>(OrderedKeyType.LONG)
        t[1] = 1
        val h = t.engine.store.fastHandle().toInt()
        assertNotNull(OrderedFastPath.neighbor(h, Neighbor.FIRST, ByteArray(0)))
        t.close()
        assertNull(OrderedFastPath.neighbor(h, Neighbor.FIRST, ByteArray(0)))
        assertThrows(KohakuVaultException.Closed::class.java) { t.firstKey() }
    }

    // ---------------------------------------------------------------------------------------------- lifetime

    @Test
    fun valuesAreReleased() {
        for (c in both<Long, Any>(OrderedKeyType.LONG)) c.use { valuesAreReleased(it) }
    }

    private fun valuesAreReleased(m: OrderedContainer<Long, Any>) {
        for (i in 0L until 100L) m[i] = Any()
        assertEquals(100, m.heldValues)
        m[5] = Any()
        assertEquals(100, m.heldValues, "the replaced value is dropped")
        m.putIfAbsent(6, Any())
        assertEquals(100, m.heldValues, "a value not stored is dropped")
        m.insert(7, Any())
        assertEquals(100, m.heldValues)
        m.remove(8)
        m.pollFirstEntry()
        m.pollLastEntry()
        assertEquals(97, m.heldValues)
        m.putAll((50L until 60L).associateWith { Any() })
        m.insertAll((55L until 65L).toList(), List(10) { Any() })
        assertEquals(m.size, m.heldValues)
        m.removeAll((10L until 20L).toList())
        m.subMap(20L, 30L).clear()
        m.keys.iterator().let { it.next(); it.remove() }
        assertEquals(m.size, m.heldValues)
        m.clear()
        assertEquals(0, m.heldValues)

        // the objects themselves become unreachable
        fun stored(): WeakReference<Any> { val o = Any(); m[1000] = o; return WeakReference(o) }
        val removed = stored()
        m.remove(1000)
        val replaced = stored()
        m[1000] = "other"
        val cleared = stored()
        m.clear()
        val closed = stored()
        m.close()
        for (i in 0 until 50) {
            if (removed.get() == null && replaced.get() == null && cleared.get() == null && closed.get() == null) break
            System.gc()
            Thread.sleep(20)
        }
        assertNull(removed.get(), "removed value collected")
        assertNull(replaced.get(), "replaced value collected")
        assertNull(cleared.get(), "cleared value collected")
        assertNull(closed.get(), "values of a closed container collected")
    }

    @Test
    fun closedContainers() {
        for (m in both<Long, String>(OrderedKeyType.LONG)) {
            for (i in 0L until 3000L) m[i] = "v$i"
            val view = m.subMap(10L, 20L)
            val early = m.keys.iterator()
            val midway = m.keys.iterator()
            midway.next()
            m.close()
            m.close() // twice is fine
            assertTrue(m.isClosed)
            assertEquals("${m.javaClass.simpleName}(closed)", m.toString())
            val calls = listOf<Pair<String, () -> Any?>>(
                "get" to { m[1] }, "put" to { m.put(1, "x") }, "remove" to { m.remove(1) },
                "containsKey" to { m.containsKey(1) }, "size" to { m.size }, "isEmpty" to { m.isEmpty() },
                "putIfAbsent" to { m.putIfAbsent(5, "x") }, "firstKey" to { m.firstKey() },
                "lastEntry" to { m.lastEntry() }, "ceilingKey" to { m.ceilingKey(3) }, "lowerEntry" to { m.lowerEntry(3) },
                "pollFirstEntry" to { m.pollFirstEntry() }, "clear" to { m.clear() },
                "putAll" to { m.putAll(mapOf(1L to "a")) }, "getAll" to { m.getAll(listOf(1L)) },
                "removeAll" to { m.removeAll(listOf(1L)) }, "insertAll" to { m.insertAll(listOf(1L), listOf("a")) },
                "range" to { m.range(1, 5) }, "items" to { m.items() }, "keys" to { m.keys.toList() },
                "values" to { m.values.toList() }, "entries" to { m.entries.iterator().hasNext() },
                "view get" to { view[12] }, "view size" to { view.size }, "view keys" to { view.keys.toList() },
                "new view" to { m.headMap(5L).firstKey() }, "descending" to { m.descendingMap().firstKey() },
                "iterator" to { early.hasNext() },
                "iterator next page" to { var n = 0; while (midway.hasNext()) { midway.next(); n++ }; n },
            )
            for ((what, call) in calls) {
                assertThrows(KohakuVaultException.Closed::class.java, { call() }, "${m.javaClass.simpleName} $what after close")
            }
            assertEquals(0, m.heldValues)
        }
    }

    // ---------------------------------------------------------------------------------------------- threads

    /**
     * [writers] threads write disjoint keys (insert, remove, re-insert, batches) and contend on shared keys
     * (insert-if-absent and put), while two readers iterate (the whole map, a bounded view, descending) and check that
     * every iteration is strictly ordered with values that belong to their keys. Afterwards the keys are exactly the
     * expected ones: none lost, none twice.
     */
    private fun concurrent(m: OrderedContainer<Long, String>, writers: Int, perThread: Int) {
        val errors = ConcurrentLinkedQueue<Throwable>()
        val start = CountDownLatch(1)
        val running = AtomicBoolean(true)
        val iterations = AtomicInteger()
        val shared = 3_000_000L until 3_000_200L
        fun own(t: Int, i: Int) = i.toLong() * writers + t
        fun batchKey(t: Int, i: Int) = 1_000_000L + i.toLong() * writers + t

        fun valid(k: Long, v: String): Boolean = when {
            k in shared -> v.startsWith("t")
            k >= 1_000_000L -> v == "b$k"
            else -> v == "v$k" || v == "w$k"
        }

        val writerThreads = (0 until writers).map { t ->
            Thread {
                try {
                    start.await()
                    val r = Random(t)
                    for (i in 0 until perThread) {
                        val k = own(t, i)
                        check(m.putIfAbsent(k, "v$k") == null) { "own key $k was present" }
                        if (i % 4 == 0) check(m.remove(k) == "v$k") { "own key $k: wrong value removed" }
                        if (i % 8 == 0) check(m.put(k, "w$k") == null) { "own key $k reappeared" }
                        if (i % 50 == 0) {
                            val ks = (0 until 10).map { batchKey(t, i / 50 * 10 + it) }
                            m.putAll(ks.associateWith { "b$it" })
                            check(m.getAll(ks) == ks.map { "b$it" }) { "batch keys" }
                        }
                        val s = shared.first + r.nextInt(200)
                        if (r.nextBoolean()) m.putIfAbsent(s, "t$t") else m.put(s, "t$t")
                        m[shared.first + r.nextInt(200)]?.let { v -> check(v.startsWith("t")) { "shared value $v" } }
                    }
                } catch (e: Throwable) {
                    errors.add(e)
                }
            }
        }
        val readers = (0 until 2).map { t ->
            Thread {
                try {
                    start.await()
                    while (running.get()) {
                        var prev: Long? = null
                        for ((k, v) in m.entries) {
                            check(prev == null || prev < k) { "not ascending: $prev then $k" }
                            check(valid(k, v)) { "value $v under $k" }
                            prev = k
                        }
                        prev = null
                        val view = if (t == 0) m.subMap(1000L, true, 2_000_000L, false) else m.descendingMap()
                        for (k in view.keys) {
                            if (t == 0) check(prev == null || prev < k) { "view not ascending: $prev then $k" }
                            else check(prev == null || prev > k) { "not descending: $prev then $k" }
                            prev = k
                        }
                        m.firstEntry()?.let { e -> check(valid(e.key, e.value)) }
                        m.ceilingEntry(1_000_000L)?.let { e -> check(valid(e.key, e.value)) }
                        iterations.incrementAndGet()
                    }
                } catch (e: Throwable) {
                    errors.add(e)
                }
            }
        }
        (writerThreads + readers).forEach { it.start() }
        start.countDown()
        writerThreads.forEach { it.join() }
        running.set(false)
        readers.forEach { it.join() }
        errors.firstOrNull()?.let { throw AssertionError("${errors.size} thread failure(s)", it) }
        assertTrue(iterations.get() > 0)

        val expected = sortedSetOf<Long>()
        for (t in 0 until writers) for (i in 0 until perThread) {
            if (i % 4 != 0 || i % 8 == 0) expected.add(own(t, i))
            if (i % 50 == 0) for (j in 0 until 10) expected.add(batchKey(t, i / 50 * 10 + j))
        }
        val sharedSeen = m.subMap(shared.first, shared.last + 1).keys.toList()
        assertEquals(shared.toList(), sharedSeen, "every shared key once")
        expected.addAll(sharedSeen)
        val keys = m.keys.toList()
        assertEquals(expected.toList(), keys, "no lost or duplicated keys, in order")
        assertEquals(expected.size, m.size)
        for ((k, v) in m.entries) assertTrue(valid(k, v), "value $v under $k")
        for (i in 0 until perThread step 8) assertEquals("w${own(0, i)}", m[own(0, i)])
        assertEquals(m.size, m.heldValues, "the handle table holds exactly the live values")
    }

    @Test
    fun skipListFromEightThreads() = SkipList<Long, String>().use { concurrent(it, writers = 6, perThread = 10_000) }

    @Test
    fun csbTreeFromManyThreads() = CSBTree<Long, String>(8).use { concurrent(it, writers = 4, perThread = 5000) }
}
