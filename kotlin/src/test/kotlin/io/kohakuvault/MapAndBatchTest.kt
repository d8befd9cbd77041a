package io.kohakuvault

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class MapAndBatchTest {

    private inline fun vault(block: (KVault) -> Unit) = KVault(TestSupport.tempDb()).use(block)

    private fun b(s: String) = s.toByteArray()

    @Test
    fun `MutableMap contract`() = vault { kv ->
        val m: MutableMap<String, ByteArray> = kv
        assertTrue(m.isEmpty())
        assertEquals(0, m.size)
        assertNull(m.put("a", b("1")))
        assertArrayEquals(b("1"), m.put("a", b("2")))
        m["b"] = b("3")
        m.putAll(mapOf("c" to b("4"), "d" to b("5")))
        assertEquals(4, m.size)
        assertFalse(m.isEmpty())
        assertEquals(setOf("a", "b", "c", "d"), m.keys.toSet())
        assertEquals(listOf("a", "b", "c", "d"), m.keys.toList())
        assertEquals(listOf("2", "3", "4", "5"), m.values.map { String(it) })
        assertEquals(listOf("a" to "2", "b" to "3"), m.entries.take(2).map { it.key to String(it.value) })
        assertTrue("c" in m.keys)
        assertTrue(m.containsValue(b("4")))
        assertFalse(m.containsValue(b("nope")))
        assertArrayEquals(b("4"), m.remove("c"))
        assertNull(m.remove("c"))
        assertEquals(3, m.keys.size)
        assertEquals(3, m.entries.size)
        assertEquals(3, m.values.size)
        assertArrayEquals(b("x"), m.getOrDefault("zzz", b("x")))
        assertArrayEquals(b("y"), m.getOrPut("e") { b("y") })
        assertArrayEquals(b("y"), m["e"])

        // iterator removal through the views
        val it = m.keys.iterator()
        while (it.hasNext()) if (it.next() == "a") it.remove()
        assertFalse("a" in m)
        m.values.removeIf { String(it) == "3" }
        assertFalse(m.containsKey("b"))
        // entry setValue writes through
        val e = m.entries.first { it.key == "d" }
        assertArrayEquals(b("5"), e.setValue(b("50")))
        assertArrayEquals(b("50"), m["d"])
        m.keys.remove("d")
        assertEquals(listOf("e"), m.keys.toList())
        m.entries.clear()
        assertTrue(m.isEmpty())
        assertThrows<UnsupportedOperationException> { m.keys.add("x") }
    }

    @Test
    fun `putMany and getMany in one call`() = vault { kv ->
        val items = (0 until 10_000).associate { "k%05d".format(it) to ByteArray(64) { i -> (i + it).toByte() } }
        kv.putMany(items)
        assertEquals(10_000, kv.size)
        val keys = listOf("k00000", "missing", "k09999", "k00000")
        val got = kv.getMany(keys)
        assertEquals(4, got.size)
        assertArrayEquals(items["k00000"], got[0])
        assertNull(got[1])
        assertArrayEquals(items["k09999"], got[2])
        assertArrayEquals(items["k00000"], got[3])
        assertEquals(emptyList<ByteArray?>(), kv.getMany(emptyList()))
        val all = kv.getMany(items.keys.toList())
        items.values.forEachIndexed { i, v -> assertArrayEquals(v, all[i]) }
    }

    @Test
    fun `putMany with binary keys, duplicates and tagged values`() = vault { kv ->
        kv.putMany(listOf(byteArrayOf(0) to b("a"), byteArrayOf(0) to b("b"), byteArrayOf(1, 2) to b("")))
        assertArrayEquals(b("b"), kv[byteArrayOf(0)])
        assertArrayEquals(b(""), kv[byteArrayOf(1, 2)])
        val r = kv.getManyBytes(listOf(byteArrayOf(0), byteArrayOf(9)))
        assertArrayEquals(b("b"), r[0]); assertNull(r[1])
        kv.putManyTagged(mapOf("s" to TaggedValue.of("t"), "n" to TaggedValue.of(9L), "r" to TaggedValue.raw(b("r"))))
        assertEquals(listOf(TaggedValue.of("t"), null, TaggedValue.raw(b("r"))),
            kv.getManyTagged(listOf("s", "zz", "r")))
        assertEquals(9L, kv.getManyTagged(listOf("n"))[0]!!.asLong())
    }

    @Test
    fun `batch is atomic and typed`() = vault { kv ->
        kv.batch {
            this["raw"] = b("r")
            putString("s", "text")
            putLong("n", 3)
            putDouble("d", 0.5)
            putBoolean("t", true)
            putFloatArray("f", floatArrayOf(1f, 2f))
            putPlain("m", mapOf("k" to listOf(1, 2)))
        }
        assertArrayEquals(b("r"), kv["raw"])
        assertEquals("text", kv.getString("s"))
        assertEquals(3L, kv.getLong("n"))
        assertEquals(0.5, kv.getDouble("d"))
        assertEquals(true, kv.getBoolean("t"))
        assertArrayEquals(floatArrayOf(1f, 2f), kv.getFloatArray("f")!!.data)
        assertEquals(mapOf("k" to listOf(1L, 2L)), kv.getPlain("m"))

        assertThrows<IllegalStateException> {
            kv.batch {
                putString("never", "x")
                error("boom")
            }
        }
        assertFalse(kv.containsKey("never"))
    }

    @Test
    fun `batch copies the arrays it is given`() = vault { kv ->
        val key = b("k0")
        val value = b("v0")
        kv.batch {
            for (i in 0 until 3) {
                key[1] = '0'.code.plus(i).toByte()
                value[1] = '0'.code.plus(i).toByte()
                this[key] = value
                // reads inside the block use this thread's scratch buffer; the batch must not live there
                assertNull(kv["k$i"])
            }
            assertEquals(3, count)
        }
        assertEquals(listOf("v0", "v1", "v2"), kv.getMany(listOf("k0", "k1", "k2")).map { String(it!!) })
    }

    @Test
    fun `putMany after combined cache puts, large and empty batches`() = vault { kv ->
        kv.cache {
            this["a"] = b("cached")
            this["b"] = b("cached")
            assertEquals(2, cacheStats().combinerEntries)
            // the buffered puts are handed over first, then the batch supersedes them
            putMany(mapOf("a" to b("batch"), "c" to b("batch")))
            assertEquals(0, cacheStats().combinerEntries)
        }
        assertEquals(listOf("batch", "cached", "batch"), kv.getMany(listOf("a", "b", "c")).map { String(it!!) })

        // larger than the per-thread scratch space kept between calls, then small again
        val big = (0 until 40).associate { "big%02d".format(it) to ByteArray(256 shl 10) { i -> (i * 31 + it).toByte() } }
        kv.putMany(big)
        kv.putMany(listOf(b("small") to b("s")))
        kv.batch { big.forEach { (k, v) -> this["copy-$k"] = v } }
        big.forEach { (k, v) ->
            assertArrayEquals(v, kv[k])
            assertArrayEquals(v, kv["copy-$k"])
        }
        assertArrayEquals(b("s"), kv["small"])

        val before = kv.size
        kv.putMany(emptyMap())
        kv.putMany(emptyList())
        kv.putManyTagged(emptyMap())
        kv.batch { }
        assertEquals(before, kv.size)
    }
}
