package io.kohakuvault

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.util.concurrent.TimeUnit

/** The core's write-back caches through the facade: pending rows, flushes on read and close, drop without close. */
class ColumnCacheTest {

    @Test
    fun `pending rows count in size and reads flush`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        val c = cv.createColumn<LongColumn>("c", "i64")
        cv.enableCache(capBytes = 1 shl 20, flushThreshold = 1 shl 19)
        assertEquals(ColumnCacheConfig(1L shl 20, 1L shl 19, null), cv.cacheConfig())
        for (i in 0 until 100) c.add(i.toLong())
        assertEquals(800, cv.pendingBytes())
        assertEquals(800, c.pendingBytes())
        assertEquals(100, c.size)                                  // pending rows counted
        assertEquals(0, cv.listColumns().single().length)          // committed length only
        assertEquals(99L, c[99])                                   // a read flushes the column first
        assertEquals(0, cv.pendingBytes())
        assertEquals(100, cv.listColumns().single().length)
        c.appendAll(LongArray(10) { 1000L + it })
        assertArrayEquals(LongArray(10) { 1000L + it }, c.read(100, 10))   // the fast path flushes too
        c.appendAll(LongArray(10))
        assertEquals(80, cv.flushCache())
        cv.disableCache()
        assertNull(cv.cacheConfig())
        c.add(5)
        assertEquals(0, cv.pendingBytes())
    }

    @Test
    fun `threshold flushes and column caches`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        val s = cv.createColumn<StringColumn>("s", "str")
        s.enableCache(capBytes = 4096, flushThreshold = 1024)
        assertNotNull(s.cacheConfig())
        assertNull(cv.cacheConfig())
        s.add("x")
        assertTrue(s.pendingBytes() > 0)
        s.add("y".repeat(2000))                                    // over the threshold: committed
        assertEquals(0, s.pendingBytes())
        s.add("z")
        assertTrue(s.flushCache() > 0)
        s.add("w")
        s.disableCache()
        assertEquals(0, s.pendingBytes())
        assertEquals(listOf("x", "y".repeat(2000), "z", "w"), s.toList())
    }

    @Test
    fun `close flushes`() {
        val path = TestSupport.tempDb()
        ColumnVault(path).use { cv ->
            cv.enableCache()
            val c = cv.createColumn<DoubleColumn>("d", "f64")
            c.appendAll(doubleArrayOf(1.0, 2.0))
            c.add(3.0)
            assertTrue(cv.pendingBytes() > 0)
        }
        ColumnVault(path).use { cv -> assertArrayEquals(doubleArrayOf(1.0, 2.0, 3.0), cv.column<DoubleColumn>("d").toDoubleArray()) }
    }

    @Test
    fun `locked cache pauses the periodic flush`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        val c = cv.createColumn<LongColumn>("c", "i64")
        cv.enableCache(capBytes = 1 shl 20, flushThreshold = 1 shl 19, flushIntervalSecs = 0.05)
        cv.withLockedCache {
            c.add(1)
            Thread.sleep(300)
            assertEquals(8, pendingBytes(), "no periodic flush while locked")
            withLockedCache { c.add(2) }                           // nestable
            Thread.sleep(200)
            assertEquals(16, pendingBytes())
        }
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (cv.pendingBytes() > 0 && System.nanoTime() < deadline) Thread.sleep(20)
        assertEquals(0, cv.pendingBytes(), "the periodic flush resumed")
        assertNull(cv.backgroundFlushError())
        assertEquals(2, cv.listColumns().single().length)
    }

    private fun writeAndDrop(path: String) {
        val cv = ColumnVault(path)
        cv.enableCache()
        cv.createColumn<LongColumn>("c", "i64").appendAll(LongArray(100) { it.toLong() })
        // no close(): the vault becomes unreachable here
    }

    @Test
    fun `a vault dropped without close keeps its rows`() {
        val path = TestSupport.tempDb()
        writeAndDrop(path)
        ColumnVault(path).use { other ->
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20)
            while (other.listColumns().single().length < 100 && System.nanoTime() < deadline) {
                System.gc()
                Thread.sleep(50)
            }
            assertEquals(100, other.listColumns().single().length, "the cleaner closed (and flushed) the dropped vault")
            assertArrayEquals(LongArray(100) { it.toLong() }, other.column<LongColumn>("c").toLongArray())
        }
    }

    @Test
    fun `a child JVM that drops its vault keeps the rows`() {
        val path = File(TestSupport.tempDir(), "child.db").path
        val java = File(System.getProperty("java.home"), "bin/java").path
        val p = ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "io.kohakuvault.ColumnDropChild", path)
            .redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        assertTrue(p.waitFor(60, TimeUnit.SECONDS))
        assertEquals(0, p.exitValue(), out)
        ColumnVault(path).use { cv -> assertEquals(listOf("a", "b", "c"), cv.column<StringColumn>("s").toList()) }
    }
}

/** The child of `a child JVM that drops its vault keeps the rows`: appends through the cache, drops the vault. */
object ColumnDropChild {
    @JvmStatic
    fun main(args: Array<String>) {
        fun write() {
            val cv = ColumnVault(args[0])
            cv.enableCache()
            cv.createColumn<StringColumn>("s", "str").appendAll(listOf("a", "b", "c"))
        }
        write()
        // The rows must reach the file once the vault is unreachable and collected.
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20)
        while (System.nanoTime() < deadline) {
            System.gc()
            Thread.sleep(50)
            val n = ColumnVault(args[0]).use { it.column("s").size }
            if (n == 3 && ColumnVault(args[0]).use { it.listColumns().single().length } == 3L) return
        }
        System.err.println("rows were not flushed")
        kotlin.system.exitProcess(1)
    }
}
