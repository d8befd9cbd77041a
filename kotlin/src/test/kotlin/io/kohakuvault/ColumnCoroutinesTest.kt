package io.kohakuvault

import io.kohakuvault.coroutines.asFlow
import io.kohakuvault.coroutines.batchesFlow
import io.kohakuvault.coroutines.openColumnVault
import io.kohakuvault.coroutines.suspending
import kotlinx.coroutines.flow.count
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class ColumnCoroutinesTest {

    @Test
    fun `suspending vault and columns, flows of batches`() = runBlocking {
        val cv = openColumnVault(TestSupport.tempDb())
        val ids = cv.ensureColumn("ids", "i64") as LongColumn
        val s = ids.suspending()
        s.addAll(listOf(1L, 2L, 3L))
        s.io { appendAll(LongArray(997) { 4L + it }) }
        assertEquals(1000L, s.size())
        assertEquals(2L, s.get(1))
        assertEquals(2L, s.set(1, 20))
        assertArrayEquals(longArrayOf(1, 20, 3), s.io { read(0, 3) })
        assertEquals(listOf(3L), s.takeList(longArrayOf(2)))
        assertEquals(listOf(100, 100, 100, 100, 100, 100, 100, 100, 100, 100), s.batches(100).toList().map { it.size })
        assertEquals(listOf(listOf(999L, 1000L)), ids.batchesFlow(10, start = 998).toList())
        assertEquals(1000, ids.asFlow().count())
        assertEquals(listOf("ids"), cv.listColumns().map { it.name })
        cv.enableCache()
        s.add(5)
        assertEquals(8L, cv.flushCache())
        assertEquals(1L, s.removeAt(0))
        cv.close()
        assertThrows<KohakuVaultException.Closed> { runBlocking { s.size() } }
        assertThrows<KohakuVaultException.Closed> { runBlocking { ids.batchesFlow().toList() } }
        Unit
    }
}
