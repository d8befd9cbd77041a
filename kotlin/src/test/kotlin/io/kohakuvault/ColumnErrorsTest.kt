package io.kohakuvault

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** One error kind per failure: closed vaults, wrong dtypes, bad input that changes nothing. */
class ColumnErrorsTest {

    private inline fun <reified E : KohakuVaultException> expect(what: String, block: () -> Any?): E {
        try {
            val r = block()
            if (r is Sequence<*>) r.toList()
        } catch (e: Throwable) {
            if (e is E) return e
            fail<Unit>("$what: expected ${E::class.simpleName}, got ${e.javaClass.name}: ${e.message}", e)
        }
        throw AssertionError("$what: expected ${E::class.simpleName}, nothing was raised")
    }

    @Test
    fun `a closed vault misused through every member is Closed`() {
        val cv = ColumnVault(TestSupport.tempDb())
        val l = cv.createColumn<LongColumn>("l", "i64").also { it.appendAll(longArrayOf(1, 2, 3)) }
        val s = cv.createColumn<StringColumn>("s", "str").also { it.add("a") }
        val t = cv.createColumn<FloatTensorColumn>("t", "vec:f32:2").also { it.add(floatArrayOf(1f, 2f)) }
        val m = cv.createColumn<TaggedColumn>("m", "msgpack").also { it.addPlain(1L) }
        cv.close()
        cv.close()   // idempotent
        assertTrue(cv.isClosed)
        val ops: List<Pair<String, () -> Any?>> = listOf(
            "createColumn" to { cv.createColumn("x", "i64") },
            "ensureColumn" to { cv.ensureColumn("l", "i64") },
            "column" to { cv.column("l") },
            "hasColumn" to { cv.hasColumn("l") },
            "listColumns" to { cv.listColumns() },
            "deleteColumn" to { cv.deleteColumn("l") },
            "enableCache" to { cv.enableCache() },
            "disableCache" to { cv.disableCache() },
            "flushCache" to { cv.flushCache() },
            "cacheConfig" to { cv.cacheConfig() },
            "pendingBytes" to { cv.pendingBytes() },
            "withLockedCache" to { cv.withLockedCache { } },
            "backgroundFlushError" to { cv.backgroundFlushError() },
            "checkpoint" to { cv.checkpoint() },
            "size" to { l.size },
            "isEmpty" to { l.isEmpty() },
            "info" to { l.info() },
            "get" to { l[0] },
            "getLong" to { l.getLong(0) },
            "set" to { l[0] = 5 },
            "add" to { l.add(4) },
            "add(index)" to { l.add(0, 4) },
            "addAll" to { l.addAll(listOf(4L)) },
            "addAll(index)" to { l.addAll(0, listOf(4L)) },
            "removeAt" to { l.removeAt(0) },
            "remove" to { l.remove(1L) },
            "removeRange" to { l.subList(0, 1).clear() },
            "clear" to { l.clear() },
            "iterator" to { l.iterator().next() },
            "contains" to { l.contains(1L) },
            "stream" to { l.stream().count() },
            "batches" to { l.batches(2) },
            "readList" to { l.readList(0, 1) },
            "takeList" to { l.takeList(longArrayOf(0)) },
            "read" to { l.read(0, 1) },
            "toLongArray" to { l.toLongArray() },
            "appendAll" to { l.appendAll(longArrayOf(1)) },
            "overwrite" to { l.overwrite(0, longArrayOf(1)) },
            "take" to { l.take(longArrayOf(0)) },
            "readRows" to { l.readRows(0, 1) },
            "appendRows" to { l.appendRows(ByteArray(8)) },
            "overwriteRows" to { l.overwriteRows(0, ByteArray(8)) },
            "takeRows" to { l.takeRows(longArrayOf(0)) },
            "spliceRows" to { l.spliceRows(0, 1, emptyList()) },
            "readValues" to { l.readValues(0, 1) },
            "appendValues" to { l.appendValues(listOf(TaggedValue.raw(ByteArray(8)))) },
            "spliceValues" to { l.spliceValues(0, 0, emptyList()) },
            "column enableCache" to { l.enableCache() },
            "column disableCache" to { l.disableCache() },
            "column flushCache" to { l.flushCache() },
            "column cacheConfig" to { l.cacheConfig() },
            "column pendingBytes" to { l.pendingBytes() },
            "storageInfo" to { l.storageInfo() },
            "string get" to { s[0] },
            "string add" to { s.add("b") },
            "string read" to { s.read(0, 1) },
            "string take" to { s.take(longArrayOf(0)) },
            "readVarRows" to { s.readVarRows(0, 1) },
            "appendVarRows" to { s.appendVarRows(listOf(byteArrayOf(1))) },
            "takeVarRows" to { s.takeVarRows(longArrayOf(0)) },
            "tensor readFlat" to { t.readFlat(0, 1) },
            "tensor appendFlat" to { t.appendFlat(floatArrayOf(1f, 2f)) },
            "tensor get" to { t[0] },
            "tagged getPlain" to { m.getPlain(0) },
            "tagged addPlain" to { m.addPlain(2L) },
        )
        for ((name, op) in ops) {
            assertEquals(COLUMN_CLOSED_MESSAGE, expect<KohakuVaultException.Closed>(name, op).reason, name)
        }
        assertTrue(l.toString().contains("closed"))
    }

    @Test
    fun `wrong dtypes`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        cv.createColumn("ids", "i64")
        val e = expect<KohakuVaultException.InvalidArgument>("ensure other dtype") { cv.ensureColumn("ids", "f32") }
        assertTrue(e.reason.contains("i64") && e.reason.contains("f32"), e.reason)
        expect<KohakuVaultException.InvalidArgument>("typed access") { cv.column<IntColumn>("ids") }
        expect<KohakuVaultException.InvalidArgument>("Java typed access") { cv.column("ids", StringColumn::class.java) }
        expect<KohakuVaultException.InvalidArgument>("bad dtype") { cv.createColumn("x", "no-such-dtype") }
        expect<KohakuVaultException.InvalidArgument>("duplicate") { cv.createColumn("ids", "i64") }
        expect<KohakuVaultException.InvalidArgument>("empty name") { cv.createColumn("", "i64") }
        expect<KohakuVaultException.InvalidArgument>("block size") { cv.createColumn("y", "i64", blockBytes = 0) }
        expect<KohakuVaultException.InvalidArgument>("cache size") { cv.enableCache(capBytes = 0) }
        expect<KohakuVaultException.NotFound>("missing") { cv.column("absent") }
        expect<KohakuVaultException.InvalidArgument>("vault block size") { ColumnVault(TestSupport.tempDb(), blockBytes = 0) }
        expect<KohakuVaultException.InvalidArgument>("uri") { ColumnVault("file:x.db") }
        assertEquals(listOf("ids"), cv.columnNames())
    }

    @Test
    fun `bad input changes nothing`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        val l = cv.createColumn<LongColumn>("l", "i64").also { it.appendAll(longArrayOf(1, 2)) }
        expect<KohakuVaultException.InvalidArgument>("partial row") { l.appendRows(ByteArray(7)) }
        expect<KohakuVaultException.InvalidArgument>("var rows on a fixed column") { l.appendVarRows(listOf(byteArrayOf(1))) }
        expect<KohakuVaultException.InvalidArgument>("a value that is not a raw row") { l.appendValues(listOf(TaggedValue.of(1L))) }
        expect<KohakuVaultException.InvalidArgument>("read past the end") { l.read(1, 2) }
        expect<KohakuVaultException.InvalidArgument>("negative start") { l.readRows(-1, 1) }
        expect<KohakuVaultException.InvalidArgument>("take past the end") { l.take(longArrayOf(0, 2)) }
        expect<KohakuVaultException.InvalidArgument>("overwrite past the end") { l.overwrite(1, longArrayOf(7, 8)) }
        assertEquals(listOf(1L, 2L), l.toList())

        val t = cv.createColumn<FloatTensorColumn>("t", "vec:f32:2")
        expect<KohakuVaultException.InvalidArgument>("a short row in a batch") {
            t.appendAll(listOf(floatArrayOf(1f, 2f), floatArrayOf(3f)))
        }
        assertEquals(0, t.size)
        val v = cv.createColumn<TensorColumn>("v", "vec:i16:2")
        expect<KohakuVaultException.InvalidArgument>("another element type") { v.add(NdArray.of(intArrayOf(1, 2))) }
        assertEquals(0, v.size)

        val s = cv.createColumn<StringColumn>("s", "str:latin1").also { it.add("é") }
        expect<KohakuVaultException.InvalidArgument>("not latin-1") { s.appendAll(listOf("ok", "日本")) }
        expect<KohakuVaultException.InvalidArgument>("not latin-1 in a set") { s[0] = "日本" }
        assertEquals(listOf("é"), s.toList())
        expect<KohakuVaultException.InvalidArgument>("raw value on a text column") { s.appendValues(listOf(TaggedValue.raw(byteArrayOf(1)))) }

        val p = cv.createColumn<TaggedColumn>("p", "str:4")
        expect<KohakuVaultException.InvalidArgument>("an int in a str:4 batch") { p.addAll(listOf(TaggedValue.of("ab"), TaggedValue.of(5L))) }
        assertEquals(0, p.size)
        assertEquals(0, cv.pendingBytes())
    }

    @Test
    fun `index errors follow the List contract`() = ColumnVault(TestSupport.tempDb()).use { cv ->
        for (c in listOf(cv.createColumn<LongColumn>("l", "i64"), cv.createColumn<StringColumn>("s", "str"))) {
            assertThrows<IndexOutOfBoundsException> { c[0] }
            assertThrows<IndexOutOfBoundsException> { c.removeAt(0) }
            assertThrows<IndexOutOfBoundsException> { c.removeAt(-1) }
        }
    }
}
