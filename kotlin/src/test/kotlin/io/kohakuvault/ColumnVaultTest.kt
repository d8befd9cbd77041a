package io.kohakuvault

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import kotlin.random.Random

/** ColumnVault catalog, list semantics, bulk arrays, stored rows. */
class ColumnVaultTest {

    @Test
    fun `catalog`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        assertEquals(ColumnVault.DEFAULT_BLOCK_BYTES, cv.blockBytes)
        val ids = cv.createColumn<LongColumn>("ids", "i64")
        val emb = cv.createColumn<FloatTensorColumn>("emb", "vec:f32:2:3", blockBytes = 4096)
        assertEquals(4096, emb.blockBytes)
        assertArrayEquals(intArrayOf(2, 3), emb.shape)
        assertEquals(6, emb.dim)
        assertTrue(cv.hasColumn("ids"))
        assertFalse(cv.hasColumn("nope"))
        assertEquals(ids.id, cv.ensureColumn<LongColumn>("ids", "i64").id)
        ids.appendAll(longArrayOf(1, 2, 3))
        val infos = cv.listColumns()
        assertEquals(listOf("ids", "emb"), infos.map { it.name })
        assertEquals(ColumnInfo(ids.id, "ids", "i64", 8, 3, ColumnVault.DEFAULT_BLOCK_BYTES, ColumnLayout.SCALAR, DType.I64, emptyList(), Kind.RAW), infos[0]) // numeric rows cross raw
        assertEquals(ColumnLayout.TENSOR, infos[1].layout)
        assertEquals(listOf(2, 3), infos[1].shape)
        assertEquals(3, ids.info().length)
        assertEquals(listOf("ids", "emb"), cv.columnNames())
        assertTrue(cv.deleteColumn("ids"))
        assertFalse(cv.deleteColumn("ids"))
        assertThrows<KohakuVaultException.NotFound> { cv.column("ids") }
        assertTrue(cv.checkpoint().busy >= 0)
        assertTrue(cv.toString().contains("open"))
    }

    @Test
    fun `reopen keeps rows`() {
        val path = TestSupport.tempDb()
        ColumnVault(path).use { cv ->
            cv.createColumn<LongColumn>("ids", "i64").appendAll(LongArray(1000) { it * 3L })
            cv.createColumn<StringColumn>("s", "str").appendAll(listOf("x", "y"))
        }
        ColumnVault.open(path) { cv ->
            assertArrayEquals(LongArray(1000) { it * 3L }, cv.column<LongColumn>("ids").toLongArray())
            assertEquals(listOf("x", "y"), cv.column<StringColumn>("s").toList())
        }
        ColumnVault(path, options = OpenOptions(readOnly = true)).use { ro ->
            assertTrue(ro.isReadOnly)
            assertEquals(1000, ro.column("ids").size)
            assertThrows<KohakuVaultException.ReadOnly> { ro.column<LongColumn>("ids").add(1) }
        }
    }

    @Test
    fun `list semantics on a fixed column`() = ColumnVault(TestSupport.tempDb(), blockBytes = 32).use { cv ->
        val c = cv.createColumn<LongColumn>("c", "i64")   // 4 rows per block: changes cross blocks
        assertTrue(c.isEmpty())
        c.addAll(listOf(0L, 1, 2, 3, 4, 5, 6, 7, 8, 9))
        assertEquals(10, c.size)
        assertEquals(3L, c[3])
        assertEquals(3L, c.getLong(3))
        assertEquals(3L, c.set(3, 30))
        assertEquals(30L, c[3])
        c.add(0, -1)                 // insert at the front
        c.add(5, 55)
        c.add(c.size, 100)           // index == size appends
        assertEquals(listOf(-1L, 0, 1, 2, 30, 55, 4, 5, 6, 7, 8, 9, 100), c.toList())
        assertEquals(55L, c.removeAt(5))
        assertEquals(-1L, c.removeAt(0))
        assertEquals(listOf(0L, 1, 2, 30, 4, 5, 6, 7, 8, 9, 100), c)   // List equality
        assertTrue(c.contains(30L))
        assertFalse(c.contains(3L))
        assertEquals(3, c.indexOf(30L))
        assertEquals(listOf(1L, 2, 30), c.subList(1, 4))
        c.subList(1, 4).clear()                                         // one splice
        assertEquals(listOf(0L, 4, 5, 6, 7, 8, 9, 100), c.toList())
        c.subList(0, 2)[1] = 44
        assertEquals(44L, c[1])
        assertTrue(c.remove(100L))
        c.addAll(1, listOf(10L, 11))
        assertEquals(listOf(0L, 10, 11, 44, 5, 6, 7, 8, 9), c.toList())
        // a paged iterator over small pages, with remove()
        c.pageRows = 2
        val it = c.iterator()
        val seen = ArrayList<Long>()
        while (it.hasNext()) {
            val v = it.next()
            seen.add(v)
            if (v % 2 == 1L) it.remove()
        }
        assertEquals(listOf(0L, 10, 11, 44, 5, 6, 7, 8, 9), seen)
        assertEquals(listOf(0L, 10, 44, 6, 8), c.toList())
        assertEquals(listOf(listOf(0L, 10), listOf(44L, 6), listOf(8L)), c.batches(2).toList())
        assertEquals(68L, c.stream().mapToLong { it }.sum())
        assertEquals(5, c.asSequence().count())
        // the List contract: indexes outside the column are IndexOutOfBounds
        assertThrows<IndexOutOfBoundsException> { c[-1] }
        assertThrows<IndexOutOfBoundsException> { c[5] }
        assertThrows<IndexOutOfBoundsException> { c.getLong(5) }
        assertThrows<IndexOutOfBoundsException> { c[5] = 1 }
        assertThrows<IndexOutOfBoundsException> { c.add(6, 1) }
        assertThrows<IndexOutOfBoundsException> { c.removeAt(5) }
        assertThrows<IndexOutOfBoundsException> { c.subList(0, 6) }
        // bulk members report the core's error
        assertThrows<KohakuVaultException.InvalidArgument> { c.read(3, 5) }
        assertEquals(5, c.size)
        c.clear()
        assertEquals(0, c.size)
        assertEquals(emptyList<Long>(), c.toList())
    }

    @Test
    fun `list semantics on text and bytes columns`() = ColumnVault(TestSupport.tempDb(), blockBytes = 64).use { cv ->
        val s = cv.createColumn<StringColumn>("s", "str")
        s += "a"; s += listOf("bé", "日本", "")
        assertEquals(listOf("a", "bé", "日本", ""), s.toList())
        assertEquals("bé", s.set(1, "B"))
        s.add(0, "first")
        assertEquals("日本", s.removeAt(3))
        assertEquals(listOf("first", "a", "B", ""), s)
        assertTrue("B" in s)
        assertEquals(listOf("B", "first"), s.take(longArrayOf(2, 0)))
        assertThrows<IndexOutOfBoundsException> { s[4] }
        val big = List(500) { "row $it ".repeat(it % 7) }
        s.clear(); s.appendAll(big)
        assertEquals(big, s.toList())
        assertEquals(big.subList(100, 110), s.read(100, 10))

        val b = cv.createColumn<BytesColumn>("b", "bytes")
        b.appendAll(listOf(byteArrayOf(1), byteArrayOf(), ByteArray(200) { it.toByte() }))
        assertTrue(b.contains(byteArrayOf()))
        assertEquals(2, b.indexOf(ByteArray(200) { it.toByte() }))
        assertArrayEquals(byteArrayOf(1), b.set(0, byteArrayOf(9, 9)))
        assertEquals(listOf(listOf<Byte>(), listOf<Byte>(9, 9)), b.take(longArrayOf(1, 0)).map { it.toList() })
        val vr = b.readVarRows(0, 2)
        assertArrayEquals(longArrayOf(0, 2, 2), vr.offsets)
        b.appendVarRows(listOf(byteArrayOf(7)))
        assertArrayEquals(byteArrayOf(7), b[3])
        b.spliceRows(1, 2, listOf(byteArrayOf(5, 5, 5)))
        assertEquals(listOf(listOf<Byte>(9, 9), listOf<Byte>(5, 5, 5), listOf<Byte>(7)), b.map { it.toList() })
        assertEquals(Kind.RAW, b.readValues(0, 1)[0].kind)
    }

    @Test
    fun `bulk arrays`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        val rnd = Random(7)
        val longs = LongArray(300_000) { rnd.nextLong() }
        val l = cv.createColumn<LongColumn>("l", "i64")
        l.appendAll(longs)
        assertArrayEquals(longs, l.toLongArray())
        assertArrayEquals(longs.copyOfRange(123_456, 223_456), l.read(123_456, 100_000))
        assertArrayEquals(longArrayOf(longs[5], longs[299_999], longs[5]), l.take(longArrayOf(5, 299_999, 5)))
        l.overwrite(10, longArrayOf(1, 2, 3))
        assertArrayEquals(longArrayOf(1, 2, 3), l.read(10, 3))
        assertEquals(0, l.read(300_000, 0).size)

        val i = cv.createColumn<IntColumn>("i", "i32"); i.appendAll(IntArray(1000) { it }); assertEquals(999, i.toIntArray().last())
        i.overwrite(0, intArrayOf(-5)); assertArrayEquals(intArrayOf(-5, 1), i.read(0, 2)); assertArrayEquals(intArrayOf(3), i.take(longArrayOf(3)))
        val d = cv.createColumn<DoubleColumn>("d", "f64"); d.appendAll(doubleArrayOf(0.5, 1.5)); assertArrayEquals(doubleArrayOf(1.5), d.take(longArrayOf(1)))
        val f = cv.createColumn<FloatColumn>("f", "f32"); f.appendAll(floatArrayOf(1f, 2f)); f[1] = 4f; assertArrayEquals(floatArrayOf(1f, 4f), f.toFloatArray())
        val h = cv.createColumn<FloatColumn>("h", "f16"); h.appendAll(floatArrayOf(0.1f, 65504f, 1e-7f, -0f))
        assertArrayEquals(floatArrayOf(0.099975586f, 65504f, 1.1920929e-7f, -0f), h.toFloatArray())
        val bo = cv.createColumn<BoolColumn>("bo", "bool"); bo.appendAll(booleanArrayOf(true, false, true)); bo[1] = true
        assertArrayEquals(booleanArrayOf(true, true, true), bo.toBooleanArray())
        val by = cv.createColumn<ByteColumn>("by", "u8"); by.appendAll(byteArrayOf(-1, 2)); assertEquals(255, by[0].toUByte().toInt())
        val sh = cv.createColumn<ShortColumn>("sh", "i16"); sh.appendAll(shortArrayOf(1, -2)); assertArrayEquals(shortArrayOf(-2), sh.take(longArrayOf(1)))

        val t = cv.createColumn<FloatTensorColumn>("t", "vec:f32:4")
        val rows = List(2000) { r -> FloatArray(4) { r * 4f + it } }
        t.appendAll(rows.subList(0, 1000))
        t.appendFlat(FloatArray(4000) { 4000f + it })
        assertEquals(2000, t.size)
        assertArrayEquals(rows[1500], t[1500])
        assertArrayEquals(FloatArray(8) { 4 * 1998f + it }, t.readFlat(1998, 2))
        assertEquals(rows.subList(10, 20).map { it.toList() }, t.read(10, 10).map { it.toList() })
        assertTrue(t.contains(rows[7]))
        assertEquals(7, t.indexOf(rows[7]))
        t[0] = FloatArray(4) { -1f }
        assertArrayEquals(FloatArray(4) { -1f }, t.take(longArrayOf(0))[0])
        assertArrayEquals(intArrayOf(4), t.getShaped(3).shape)
        assertThrows<KohakuVaultException.InvalidArgument> { t.appendFlat(FloatArray(3)) }
    }

    @Test
    fun `fast path and UDL reads agree`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        assertTrue(io.kohakuvault.internal.ColumnFastPath.available, "col_fast_read is exported and bound")
        assertTrue(cv.core.fastHandle != 0L)
        val l = cv.createColumn<LongColumn>("l", "i64")
        val big = cv.createColumn<FloatTensorColumn>("t", "vec:f32:1024")   // 4 KiB rows: 8 MiB reads
        l.appendAll(LongArray(5000) { it * 7L })
        big.appendFlat(FloatArray(1024 * 5000) { it.toFloat() })           // 20 MB: over the kept read buffer
        val fast = Triple(l.toLongArray(), l.readRows(10, 3), big.readFlat(0, 5000))
        io.kohakuvault.internal.ColumnFastPath.enabled = false
        try {
            val udl = Triple(l.toLongArray(), l.readRows(10, 3), big.readFlat(0, 5000))
            assertArrayEquals(fast.first, udl.first)
            assertArrayEquals(fast.second, udl.second)
            assertArrayEquals(fast.third, udl.third)
            assertEquals(14L, l[2])
            assertThrows<IndexOutOfBoundsException> { l[5000] }
            assertThrows<KohakuVaultException.InvalidArgument> { l.read(4999, 2) }
        } finally {
            io.kohakuvault.internal.ColumnFastPath.enabled = true
        }
        assertEquals(1024 * 4999f + 1023f, fast.third.last())
    }

    @Test
    fun `stored rows and values`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        val c = cv.createColumn<IntColumn>("c", "i32")
        c.appendRows(byteArrayOf(1, 0, 0, 0, 2, 0, 0, 0))
        assertEquals(listOf(1, 2), c.toList())
        c.overwriteRows(1, byteArrayOf(3, 0, 0, 0))
        assertArrayEquals(byteArrayOf(1, 0, 0, 0, 3, 0, 0, 0), c.readRows(0, 2))
        assertArrayEquals(byteArrayOf(3, 0, 0, 0, 1, 0, 0, 0), c.takeRows(longArrayOf(1, 0)))
        c.spliceRows(0, 1, listOf(byteArrayOf(9, 0, 0, 0), byteArrayOf(8, 0, 0, 0)))
        assertEquals(listOf(9, 8, 3), c.toList())
        c.appendValues(listOf(TaggedValue.raw(byteArrayOf(7, 0, 0, 0))))
        assertEquals(7, c[3])

        val m = cv.createColumn<TaggedColumn>("m", "msgpack")
        assertEquals(Kind.MSGPACK, m.valueKind)
        m.addPlain(mapOf("a" to 1L))
        m.addAllPlain(listOf(listOf(1L, 2L), "s", null))
        assertEquals(listOf(mapOf("a" to 1L), listOf(1L, 2L), "s", null), m.readPlain(0, 4))
        assertEquals("s", m.getPlain(2))
        m.spliceValues(1, 1, listOf(m.toTagged(42L)))
        assertEquals(42L, m.getPlain(1))
        assertNull(m.getPlain(3))
    }
}
