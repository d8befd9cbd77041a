package io.kohakuvault

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.util.Random

class IterationCacheStreamTest {

    private inline fun vault(block: (KVault) -> Unit) = KVault(TestSupport.tempDb()).use(block)

    // ------------------------------------------------------------ prefix iteration

    @Test
    fun `prefix iteration pages through scan`() = vault { kv ->
        kv.putMany((0 until 300).associate { "user:%03d".format(it) to byteArrayOf(it.toByte()) })
        kv.putMany((0 until 50).associate { "item:%03d".format(it) to byteArrayOf() })
        kv["user"] = byteArrayOf()
        kv["uses"] = byteArrayOf()

        val users = kv.keys("user:", pageSize = 7).toList()
        assertEquals((0 until 300).map { "user:%03d".format(it) }, users)
        assertEquals(352, kv.keys().count())
        assertEquals(listOf("item:000", "item:001"), kv.keys("item:", limit = 2).toList())
        assertEquals(0, kv.keys("item:", limit = 0).count())
        assertEquals(0, kv.keys("nothing").count())
        assertThrows<KohakuVaultException.InvalidArgument> { kv.keys("a", limit = -1).toList() }

        val items = kv.items("user:", pageSize = 16).toList()
        assertEquals(300, items.size)
        assertEquals("user:042", items[42].first)
        assertArrayEquals(byteArrayOf(42), items[42].second)
        // lazy: taking 3 reads only one page
        assertEquals(3, kv.items("user:").take(3).count())
    }

    @Test
    fun `binary prefixes including 0xFF`() = vault { kv ->
        val ff = byteArrayOf(-1, -1)
        kv[ff + byteArrayOf(1)] = byteArrayOf(1)
        kv[ff] = byteArrayOf(0)
        kv[byteArrayOf(-1, -2)] = byteArrayOf(2)
        kv[byteArrayOf(0)] = byteArrayOf(3)
        val ks = kv.keys(ff).toList()
        assertEquals(2, ks.size)
        assertArrayEquals(ff, ks[0])
        assertArrayEquals(ff + byteArrayOf(1), ks[1])
        assertEquals(4, kv.keys(ByteArray(0)).count())
        assertEquals(2, kv.items(ff).count())
    }

    @Test
    fun `decoded items`() = vault { kv ->
        kv.putString("a:s", "x")
        kv.putLong("a:n", 1)
        val m = kv.itemsTagged("a:").toMap()
        assertEquals("x", m["a:s"]!!.asString())
        assertEquals(1L, m["a:n"]!!.asLong())
    }

    // ------------------------------------------------------------ cache

    @Test
    fun `cache block gives read-your-writes and flushes at the end`() {
        val path = TestSupport.tempDb()
        KVault(path).use { kv ->
            kv.cache(capBytes = 1L shl 20) {
                for (i in 0 until 1000) this["c%04d".format(i)] = byteArrayOf(i.toByte())
                putString("s", "cached")
                assertArrayEquals(byteArrayOf(5), this["c0005"])
                assertEquals("cached", getString("s"))
                assertTrue(containsKey("c0999"))
                assertEquals(1001, size)
                assertEquals(1000, keys("c").count())
                assertArrayEquals(byteArrayOf(7), getMany(listOf("c0007"))[0])
                assertTrue(cacheStats().enabled)
                // a delete after buffered puts wins
                assertTrue(delete("c0001"))
                assertNull(this["c0001"])
            }
            assertFalse(kv.cacheStats().enabled)
            assertEquals(1000, kv.size)
        }
        KVault(path).use { kv ->
            assertEquals(1000, kv.size)
            assertEquals("cached", kv.getString("s"))
        }
    }

    @Test
    fun `close hands over buffered puts`() {
        val path = TestSupport.tempDb()
        val kv = KVault(path)
        kv.enableCache(capBytes = 64L shl 20)
        for (i in 0 until 500) kv.putLong("n$i", i.toLong())
        kv.close()
        KVault(path).use { r ->
            assertEquals(500, r.size)
            assertEquals(499L, r.getLong("n499"))
        }
    }

    private fun abandonVaultWithBufferedPuts(path: String) {
        val kv = KVault(path)
        kv.enableCache()
        for (i in 0 until 100) kv.putLong("gc$i", i.toLong())
        // no close(): the cleaner must hand the buffer over when the vault is collected
    }

    @Test
    fun `a vault dropped without close keeps its buffered puts`() {
        val path = TestSupport.tempDb()
        abandonVaultWithBufferedPuts(path)
        val deadline = System.nanoTime() + 20_000_000_000L
        var seen = 0
        while (System.nanoTime() < deadline) {
            System.gc()
            Thread.sleep(50)
            seen = KVault(path).use { it.size }
            if (seen == 100) break
        }
        assertEquals(100, seen)
    }

    @Test
    fun `concurrent cached puts and reads`() = vault { kv ->
        kv.cache {
            val threads = (0 until 4).map { t ->
                Thread {
                    for (i in 0 until 1000) {
                        kv.putLong("t$t:$i", i.toLong())
                        if (i % 100 == 0) assertEquals(i.toLong(), kv.getLong("t$t:$i"))
                    }
                }
            }
            val errors = java.util.concurrent.ConcurrentLinkedQueue<Throwable>()
            threads.forEach { th -> th.setUncaughtExceptionHandler { _, e -> errors.add(e) }; th.start() }
            threads.forEach { it.join() }
            assertTrue(errors.isEmpty(), errors.toString())
            assertEquals(4000, size)
        }
        assertEquals(4000, kv.size)
        assertEquals(999L, kv.getLong("t3:999"))
    }

    @Test
    fun `flushCache commits and lockCache rejects batch writes`() = vault { kv ->
        kv.enableCache(capBytes = 1L shl 20, flushThreshold = 1L shl 19)
        kv["a"] = byteArrayOf(1)
        assertTrue(kv.flushCache() >= 1)
        assertEquals(0L, kv.cacheStats().pendingEntries)
        kv.lockCache {
            kv["b"] = byteArrayOf(2)
            assertArrayEquals(byteArrayOf(2), kv["b"])
            assertEquals(0L, kv.flushCache())
            assertTrue(kv.cacheStats().locked)
            assertThrows<KohakuVaultException.Busy> { kv.putMany(mapOf("x" to byteArrayOf())) }
            assertThrows<KohakuVaultException.Busy> { kv.close() }
        }
        assertFalse(kv.isClosed)
        assertFalse(kv.cacheStats().locked)
        kv.disableCache()
        assertArrayEquals(byteArrayOf(2), kv["b"])
        assertThrows<KohakuVaultException.InvalidArgument> { kv.enableCache(capBytes = 0) }
    }

    // ------------------------------------------------------------ streaming

    @Test
    fun `stream a few MB in and out`() = vault { kv ->
        val data = ByteArray(5 * 1024 * 1024 + 123).also { Random(1).nextBytes(it) }
        kv.putStream("blob", ByteArrayInputStream(data), data.size.toLong(), chunkSize = 256 * 1024)
        assertArrayEquals(data, kv["blob"])
        val out = ByteArrayOutputStream()
        assertEquals(data.size.toLong(), kv.getStream("blob", out, chunkSize = 300_000))
        assertArrayEquals(data, out.toByteArray())
        // the default chunk size too
        val out2 = ByteArrayOutputStream()
        kv.getStream("blob", out2)
        assertArrayEquals(data, out2.toByteArray())
    }

    @Test
    fun `stream an empty value`() = vault { kv ->
        kv.putStream("e", ByteArrayInputStream(ByteArray(0)), 0)
        assertArrayEquals(ByteArray(0), kv["e"])
        assertEquals(0L, kv.getStream("e", ByteArrayOutputStream()))
        kv["e2"] = ByteArray(0)
        assertEquals(0L, kv.getStream("e2", ByteArrayOutputStream()))
    }

    @Test
    fun `stream edge cases`() = vault { kv ->
        kv["k"] = byteArrayOf(1, 2, 3)
        // short input: the old value stays
        assertThrows<KohakuVaultException> {
            kv.putStream("k", ByteArrayInputStream(ByteArray(10)), 20)
        }
        assertArrayEquals(byteArrayOf(1, 2, 3), kv["k"])
        // extra input bytes are ignored
        kv.putStream("k", ByteArrayInputStream(ByteArray(10) { 7 }), 4)
        assertArrayEquals(ByteArray(4) { 7 }, kv["k"])
        // typed values stream their stored bytes
        kv.putString("s", "hello")
        val o = ByteArrayOutputStream()
        kv.getStream("s", o)
        assertArrayEquals(kv.getStored("s"), o.toByteArray())
        assertThrows<KohakuVaultException.NotFound> { kv.getStream("missing", ByteArrayOutputStream()) }
    }
}
