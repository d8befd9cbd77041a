package io.kohakuvault

import io.kohakuvault.TestSupport.hex
import io.kohakuvault.TestSupport.toHex
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory

/**
 * tests/conformance/ordered.json, read the same way by every suite: per case of a key type Kotlin has (int, float,
 * str, bytes; "mixed" is Python/Rust only) the keys' FORMAT §9.1 encodings, then a CSBTree(order 3) and a SkipList
 * filled in insert_order must iterate in the file's (ascending) order, and answer first/last/ceiling/floor/higher/
 * lower as computed from that order (by index, not by a Kotlin comparison).
 */
class OrderedConformanceTest {
    private val cases = TestSupport.conformanceCases("ordered.json")

    @Suppress("UNCHECKED_CAST")
    private fun keyOf(type: String, j: Any?): Any = when (type) {
        "int" -> j as Long
        "float" -> java.lang.Double.longBitsToDouble(java.lang.Long.parseUnsignedLong((j as Map<String, Any?>)["f64"] as String, 16))
        "str" -> j as String
        "bytes" -> hex((j as Map<String, Any?>)["hex"] as String)
        else -> error("key type $type")
    }

    private fun typeOf(type: String): OrderedKeyType<*> = when (type) {
        "int" -> OrderedKeyType.LONG
        "float" -> OrderedKeyType.DOUBLE
        "str" -> OrderedKeyType.STRING
        "bytes" -> OrderedKeyType.BYTES
        else -> error("key type $type")
    }

    /** Key identity as the file means it: the same value (floats bit for bit, bytes by content). */
    private fun same(a: Any?, b: Any?): Boolean = when {
        a is ByteArray && b is ByteArray -> a.contentEquals(b)
        a is Double && b is Double -> a.toRawBits() == b.toRawBits()
        else -> a == b
    }

    private fun show(k: Any?): String = if (k is ByteArray) "0x" + k.toHex() else k.toString()

    @TestFactory
    fun cases(): List<DynamicTest> {
        val tests = ArrayList<DynamicTest>()
        val kinds = setOf("int", "float", "str", "bytes")
        assertTrue(cases.map { it["key_type"] }.containsAll(kinds), "ordered.json covers ${kinds}")
        for (c in cases) {
            val type = c["key_type"] as String
            if (type !in kinds) continue
            val name = c["name"] as String
            tests.add(DynamicTest.dynamicTest("$name encodings") { checkEncodings(c, type) })
            tests.add(DynamicTest.dynamicTest("$name CSBTree(order 3)") {
                @Suppress("UNCHECKED_CAST")
                CSBTree<Any, Any?>(typeOf(type) as OrderedKeyType<Any>, 3).use { checkOrder(it, c, type) }
            })
            tests.add(DynamicTest.dynamicTest("$name SkipList") {
                @Suppress("UNCHECKED_CAST")
                SkipList<Any, Any?>(typeOf(type) as OrderedKeyType<Any>).use { checkOrder(it, c, type) }
            })
        }
        return tests
    }

    private fun checkEncodings(c: Map<String, Any?>, type: String) {
        @Suppress("UNCHECKED_CAST")
        val kt = typeOf(type) as OrderedKeyType<Any>
        val keys = (c["keys"] as List<*>).map { keyOf(type, it) }
        val encodings = (c["encodings"] as List<*>).map { it as String }
        assertEquals(keys.size, encodings.size)
        for ((k, e) in keys.zip(encodings)) {
            assertEquals(e.uppercase(), kt.encode(k).toHex(), "encoding of ${show(k)}")
        }
        // the comparator (views' bounds, comparator()) agrees with the file's order
        for (i in 0 until keys.size - 1) {
            assertTrue(kt.comparator.compare(keys[i], keys[i + 1]) < 0, "${show(keys[i])} < ${show(keys[i + 1])}")
            assertTrue(kt.comparator.compare(keys[i + 1], keys[i]) > 0)
            assertEquals(0, kt.comparator.compare(keys[i], keys[i]))
        }
    }

    private fun checkOrder(m: OrderedContainer<Any, Any?>, c: Map<String, Any?>, type: String) {
        val keys = (c["keys"] as List<*>).map { keyOf(type, it) }
        val order = (c["insert_order"] as List<*>).map { (it as Long).toInt() }
        assertEquals(keys.indices.toSet(), order.toSet(), "insert_order is a permutation")
        for (i in order) assertEquals(null, m.put(keys[i], "v$i"))
        assertEquals(keys.size, m.size)

        fun assertKeys(expected: List<Any>, actual: List<Any>, what: String) {
            assertEquals(expected.size, actual.size, "$what: ${actual.map(::show)}")
            for (i in expected.indices) assertTrue(same(expected[i], actual[i]), "$what [$i]: ${show(expected[i])} vs ${show(actual[i])}")
        }
        assertKeys(keys, m.keys.toList(), "iteration")
        assertKeys(keys.reversed(), m.descendingKeySet().toList(), "descending iteration")
        assertKeys(keys, m.items().map { it.first }, "items()")
        assertEquals(keys.indices.map { "v$it" }, m.values.toList(), "values in key order")
        assertEquals(keys.indices.map { "v$it" }, m.getAll(keys), "getAll")
        assertTrue(same(keys.first(), m.firstKey()))
        assertTrue(same(keys.last(), m.lastKey()))

        // Remove every third key; the removed ones are probes whose neighbours follow from the indices.
        val removed = keys.indices.filter { it % 3 == 1 }.toSet()
        for (i in removed) assertEquals("v$i", m.remove(keys[i]))
        val present = keys.indices.filter { it !in removed }
        fun at(i: Int?) = i?.let { keys[it] }
        fun check(what: String, expected: Any?, actual: Any?) =
            assertTrue(if (expected == null) actual == null else same(expected, actual), "$what: ${show(expected)} vs ${show(actual)}")
        for ((i, k) in keys.withIndex()) {
            val here = i !in removed
            val ceil = present.firstOrNull { it >= i }
            val higher = present.firstOrNull { it > i }
            val floor = present.lastOrNull { it <= i }
            val lower = present.lastOrNull { it < i }
            check("ceilingKey(${show(k)})", at(ceil), m.ceilingKey(k))
            check("higherKey(${show(k)})", at(higher), m.higherKey(k))
            check("floorKey(${show(k)})", at(floor), m.floorKey(k))
            check("lowerKey(${show(k)})", at(lower), m.lowerKey(k))
            assertEquals(ceil?.let { "v$it" }, m.ceilingEntry(k)?.value)
            assertEquals(here, m.containsKey(k))
        }
        check("firstKey", at(present.first()), m.firstKey())
        check("lastKey", at(present.last()), m.lastKey())
        // a range between two keys of the file: [keys[a], keys[b]) holds the present keys of a until b
        val a = keys.size / 4
        val b = 3 * keys.size / 4
        assertKeys(present.filter { it in a until b }.map { keys[it] }, m.range(keys[a], keys[b]).map { it.first }, "range")
        assertKeys(present.filter { it in a..b }.map { keys[it] }, m.subMap(keys[a], true, keys[b], true).keys.toList(), "subMap")
        assertEquals(present.count { it in a..b }, m.subMap(keys[a], true, keys[b], true).size)
    }
}
