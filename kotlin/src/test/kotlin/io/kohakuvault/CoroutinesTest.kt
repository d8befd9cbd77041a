package io.kohakuvault

import io.kohakuvault.coroutines.keysFlow
import io.kohakuvault.coroutines.openVault
import io.kohakuvault.coroutines.suspending
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.flow.count
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.asCoroutineDispatcher
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger

class CoroutinesTest {

    @Test
    fun `suspending calls run on Dispatchers IO and see each other's writes`() = runBlocking {
        val kv = openVault(TestSupport.tempDb())
        try {
            kv.putString("s", "x")
            kv.set("raw", byteArrayOf(1, 2))
            kv.putLong("n", 7)
            assertEquals("x", kv.getString("s"))
            assertArrayEquals(byteArrayOf(1, 2), kv.get("raw"))
            assertEquals(7L, kv.getLong("n"))
            assertEquals(3L, kv.size())
            kv.putMany((0 until 50).associate { "m%02d".format(it) to byteArrayOf(it.toByte()) })
            assertEquals(listOf<Byte>(3, 49), kv.getMany(listOf("m03", "m49")).map { it!![0] })
            kv.batch { putString("b1", "one"); putLong("b2", 2) }
            assertEquals("one", kv.getString("b1"))
            assertEquals(7L, kv.pop("n")!!.asLong())
            assertNull(kv.getLong("n"))
            assertTrue(kv.delete("s"))
            assertEquals(listOf("ok"), kv.integrityCheck())
            // many coroutines at once, one vault
            (0 until 20).map { i -> async { kv.putLong("c$i", i.toLong()); kv.getLong("c$i") } }.awaitAll()
                .forEachIndexed { i, v -> assertEquals(i.toLong(), v) }
        } finally {
            kv.close()
        }
        assertTrue(kv.vault.isClosed)
    }

    @Test
    fun `scans are cold flows on the given dispatcher`() {
        val pool = Executors.newSingleThreadExecutor { r -> Thread(r, "kv-io") }
        val dispatched = AtomicInteger()
        val dispatcher = Executor { task -> dispatched.incrementAndGet(); pool.execute(task) }.asCoroutineDispatcher()
        try {
            KVault(TestSupport.tempDb()).use { vault ->
                vault.putMany((0 until 300).associate { "k:%03d".format(it) to byteArrayOf(it.toByte()) })
                vault["other"] = byteArrayOf()
                runBlocking {
                    val s = vault.suspending(dispatcher)
                    assertEquals((0 until 300).map { "k:%03d".format(it) }, s.keys("k:", pageSize = 7).toList())
                    assertEquals(301, vault.keysFlow().count())
                    assertEquals(listOf("k:000", "k:001"), s.keys("k:").take(2).toList())
                    val items = s.items("k:", pageSize = 16).toList()
                    assertEquals(300, items.size)
                    assertArrayEquals(byteArrayOf(42), items[42].second)
                    // the pages are read on the caller's dispatcher, not on the collecting thread
                    val before = dispatched.get()
                    assertEquals(300, vault.keysFlow("k:", pageSize = 50, dispatcher = dispatcher).count())
                    assertTrue(dispatched.get() > before)
                    vault.putLong("t:n", 1)
                    assertEquals(1L, s.itemsTagged("t:").toList().single().second.asLong())
                    // cold: nothing is validated or read until collected; then the usual error kind
                    val bad = s.keys("", pageSize = 0)
                    assertThrows<KohakuVaultException.InvalidArgument> { runBlocking { bad.toList() } }
                }
            }
        } finally {
            pool.shutdown()
        }
    }

    @Test
    fun `errors keep their kind through withContext`() = runBlocking {
        val kv = KVault(TestSupport.tempDb()).suspending(Dispatchers.Default)
        kv.close()
        assertThrows<KohakuVaultException.Closed> { runBlocking { kv.get("k") } }
        Unit
    }
}
