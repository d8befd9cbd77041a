package io.kohakuvault

import io.kohakuvault.TestSupport.hex
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import java.io.ByteArrayInputStream
import java.io.File
import java.nio.ByteBuffer

/**
 * Every case of tests/conformance/errors.json: the caller-caused failure raises exactly
 * `KohakuVaultException.<kind>`, against a fresh vault in a temporary file. A case this suite does not know fails.
 */
class ErrorConformanceTest {

    @Suppress("UNCHECKED_CAST")
    private val cases = (TestSupport.conformance("errors.json") as Map<String, Any?>)["cases"] as List<Map<String, Any?>>

    private fun kindClass(kind: String): Class<out KohakuVaultException> =
        Class.forName("io.kohakuvault.KohakuVaultException\$$kind").asSubclass(KohakuVaultException::class.java)

    /** Runs [block] and checks it raises exactly [kind] (not another kind, not a non-vault exception). */
    private fun expect(kind: String, what: String, block: () -> Any?): KohakuVaultException {
        val want = kindClass(kind)
        try {
            val r = block()
            // a lazy result (a scan) fails when it is used
            if (r is Sequence<*>) r.toList()
        } catch (e: Throwable) {
            if (want.isInstance(e)) return e as KohakuVaultException
            fail<Unit>("$what: expected KohakuVaultException.$kind, got ${e.javaClass.name}: ${e.message}", e)
        }
        throw AssertionError("$what: expected KohakuVaultException.$kind, nothing was raised")
    }

    private fun num(c: Map<String, Any?>, name: String) = (c[name] as Long).toInt()

    private fun run(c: Map<String, Any?>) {
        val kind = c["kind"] as String
        val dir = TestSupport.tempDir()
        val path = File(dir, "t.db").path
        when (val id = c["id"] as String) {
            "use_after_close" -> {
                val kv = KVault(path)
                kv["k"] = byteArrayOf(1)
                kv.close()
                val ops: List<Pair<String, () -> Any?>> = listOf(
                    "get" to { kv["k"] },
                    "getTagged" to { kv.getTagged("k") },
                    "put" to { kv["k"] = byteArrayOf(2) },
                    "putString" to { kv.putString("s", "x") },
                    "delete" to { kv.delete("k") },
                    "exists" to { kv.containsKey("k") },
                    "len" to { kv.size },
                    "keys" to { kv.keys("").toList() },
                    "items" to { kv.items("").toList() },
                    "keysStream" to { kv.keysStream("").count() },
                    "put_many" to { kv.putMany(mapOf("a" to byteArrayOf())) },
                    "get_many" to { kv.getMany(listOf("k")) },
                    "pop" to { kv.pop("k") },
                    "remove" to { kv.remove("k") },
                    "enable_cache" to { kv.enableCache() },
                )
                for ((name, op) in ops) {
                    assertEquals(CLOSED_MESSAGE, expect(kind, "$id/$name", op).reason)
                }
            }
            "write_read_only" -> {
                KVault(path).use { it["k"] = byteArrayOf(1) }
                KVault(path, options = OpenOptions(readOnly = true)).use { ro ->
                    expect(kind, id) { ro["x"] = byteArrayOf(1) }
                    assertArrayEquals(byteArrayOf(1), ro["k"])
                }
            }
            "bad_table_name" -> expect(kind, id) { KVault(path, c["table"] as String).close() }
            "missing_table_read_only" -> {
                KVault(path).close()
                expect(kind, id) { KVault(path, c["table"] as String, OpenOptions(readOnly = true)).close() }
            }
            "short_stream" -> KVault(path).use { kv ->
                kv["k"] = byteArrayOf(9, 9)
                val e = expect(kind, id) { kv.putStream("k", ByteArrayInputStream(ByteArray(num(c, "bytes")) { 1 }), num(c, "size").toLong()) }
                assertTrue(e.reason.contains("short write"), e.reason)
                assertArrayEquals(byteArrayOf(9, 9), kv["k"], "the old value stays")
            }
            "page_size_zero" -> KVault(path).use { kv ->
                kv["k"] = byteArrayOf(1)
                expect(kind, id) { kv.keys("", pageSize = 0) }
                expect(kind, "$id/items") { kv.items("", pageSize = 0) }
                expect(kind, "$id/stream") { kv.keysStream("", null, 0).count() }
            }
            "negative_limit" -> KVault(path).use { kv ->
                kv["k"] = byteArrayOf(1)
                expect(kind, id) { kv.keys("", limit = -1) }
                expect(kind, "$id/items") { kv.items("", limit = -1) }
            }
            "cache_size_zero" -> KVault(path).use { kv -> expect(kind, id) { kv.enableCache(capBytes = 0) } }
            "close_while_cache_locked" -> KVault(path).use { kv ->
                kv.enableCache()
                kv.lockCache {
                    kv["k"] = byteArrayOf(1)
                    expect(kind, id) { kv.close() }
                }
                assertTrue(!kv.isClosed)
                assertArrayEquals(byteArrayOf(1), kv["k"])
            }
            "key_too_long" -> KVault(path).use { kv ->
                expect(kind, id) { kv[ByteArray(num(c, "key_len")) { 'k'.code.toByte() }] = byteArrayOf(1) }
                expect(kind, "$id/batch") { kv.putMany(listOf(ByteArray(num(c, "key_len")) to byteArrayOf(1))) }
            }
            "newer_file_version" -> {
                File(path).writeBytes(emptySqliteFile(userVersion = num(c, "user_version")))
                val e = expect(kind, id) { KVault(path).close() }
                // refused for its version, not as an unreadable file
                assertTrue(e.reason.contains("newer"), e.reason)
            }
            "pickle_value" -> KVault(path).use { kv ->
                kv.putTagged("p", Kind.PICKLE, hex(c["payload_hex"] as String))
                assertEquals(Kind.PICKLE, kv.getTagged("p")!!.kind)
                expect(kind, id) { kv.getPlain("p") }
                expect(kind, "$id/getLong") { kv.getLong("p") }
                expect(kind, "$id/itemsTagged") { kv.itemsTagged("p").single().second.toPlain() }
            }
            "column_index_out_of_range" -> ColumnVault(path).use { cv ->
                val col = cv.createColumn<LongColumn>("c", c["dtype"] as String)
                col.appendAll(longArrayOf(1))
                expect(kind, id) { col.read(1L, 1) }
                assertEquals(listOf(1L), col.toLongArray().toList())
            }
            "column_dtype_mismatch" -> ColumnVault(path).use { cv ->
                cv.createColumn("c", "i64")
                expect(kind, id) { cv.ensureColumn("c", c["other_dtype"] as String) }
                assertEquals(1, cv.listColumns().size)
            }
            "column_unknown_dtype", "column_unknown_codec" -> ColumnVault(path).use { cv ->
                expect(kind, id) { cv.createColumn("c", c["dtype"] as String) }
                assertTrue(cv.listColumns().isEmpty())
            }
            "column_missing" -> ColumnVault(path).use { cv -> expect(kind, id) { cv.column("absent") } }
            "column_use_after_close" -> {
                val cv = ColumnVault(path)
                val col = cv.createColumn<LongColumn>("c", "i64")
                cv.close()
                expect(kind, "$id/list") { cv.listColumns() }
                expect(kind, "$id/append") { col.appendAll(longArrayOf(1)) }
                expect(kind, "$id/read") { col.toLongArray() }
                expect(kind, "$id/size") { col.size }
                expect(kind, "$id/enableCache") { cv.enableCache() }
            }
            "vector_wrong_dims" -> VectorKVault(path, "v", 4, VectorMetric.COSINE, VectorType.F32).use { vv ->
                vv.insert(floatArrayOf(1f, 0f, 0f, 0f), "one")
                expect(kind, id) { vv.insert(floatArrayOf(1f, 0f, 0f), "x") }
                expect(kind, "$id/search") { vv.search(floatArrayOf(1f, 0f, 0f)) }
                expect(kind, "$id/insertMany") { vv.insertMany(listOf(floatArrayOf(1f, 0f, 0f)), listOf("x")) }
                assertEquals(1L, vv.count())
            }
            "vector_not_finite" -> VectorKVault(path, "v", 4, VectorMetric.L2, VectorType.F32).use { vv ->
                vv.insert(floatArrayOf(1f, 0f, 0f, 0f), "one")
                expect(kind, id) { vv.insert(floatArrayOf(1f, Float.NaN, 0f, 0f), "x") }
                expect(kind, "$id/insertMany") {
                    vv.insertMany(listOf(floatArrayOf(0f, 0f, 0f, 1f), floatArrayOf(1f, Float.NaN, 0f, 0f)), listOf("a", "b"))
                }
                assertEquals(1L, vv.count())
            }
            "vector_k_too_large" -> VectorKVault(path, "v", 4, VectorMetric.COSINE, VectorType.F32).use { vv ->
                vv.insert(floatArrayOf(1f, 0f, 0f, 0f), "one")
                expect(kind, id) { vv.search(floatArrayOf(1f, 0f, 0f, 0f), num(c, "k")) }
                expect(kind, "$id/searchMany") { vv.searchMany(listOf(floatArrayOf(1f, 0f, 0f, 0f)), num(c, "k")) }
            }
            "vector_incompatible_metric" -> {
                expect(kind, id) { VectorKVault(path, "v", 4, c["metric"] as String, c["vector_type"] as String).close() }
                expect(kind, "$id/enums") {
                    VectorKVault(path, "v", 4, VectorMetric.ofCoreName(c["metric"] as String),
                        VectorType.ofCoreName(c["vector_type"] as String)).close()
                }
            }
            "vector_reopen_mismatch" -> {
                VectorKVault(path, "v", 4, VectorMetric.COSINE, VectorType.F32).close()
                val e = expect(kind, id) { VectorKVault(path, "v", 8, VectorMetric.COSINE, VectorType.F32).close() }
                assertTrue(e.reason.contains("dimensions=4") && e.reason.contains("dimensions=8"), e.reason)
                VectorKVault(path, "v", 4, VectorMetric.COSINE, VectorType.F32).use { assertEquals(0L, it.count()) }
            }
            "vector_missing_id" -> VectorKVault(path, "v", 4, VectorMetric.COSINE, VectorType.F32).use { vv ->
                expect(kind, id) { vv.getById(42) }
            }
            "vector_use_after_close" -> {
                val vv = VectorKVault(path, "v", 4, VectorMetric.COSINE, VectorType.F32)
                vv.insert(floatArrayOf(1f, 0f, 0f, 0f), "one")
                vv.close()
                val ops: List<Pair<String, () -> Any?>> = listOf(
                    "insert" to { vv.insert(floatArrayOf(0f, 1f, 0f, 0f), "x") },
                    "search" to { vv.search(floatArrayOf(1f, 0f, 0f, 0f)) },
                    "getById" to { vv.getById(1) },
                    "count" to { vv.count() },
                    "delete" to { vv.delete(1) },
                )
                for ((name, op) in ops) {
                    assertEquals(VECTOR_CLOSED_MESSAGE, expect(kind, "$id/$name", op).reason)
                }
            }
            "text_reserved_column" -> {
                @Suppress("UNCHECKED_CAST")
                val cols = c["columns"] as List<String>
                expect(kind, id) { TextVault(path, "t", cols).close() }
                KVault(path, "probe").use { kv -> assertEquals(listOf("probe"), kv.tables() - "kohakuvault_meta") }
            }
            "text_fts5_syntax" -> TextVault(path).use { tv ->
                tv.insert("hello world", "one")
                val e = expect(kind, id) { tv.search(c["query"] as String, escape = false) }
                assertTrue(e.reason.contains("fts5"), e.reason)
                expect(kind, "$id/countMatches") { tv.countMatches(c["query"] as String) }
                expect(kind, "$id/snippets") { tv.searchWithSnippets(c["query"] as String, escape = false) }
                assertEquals(1L, tv.count())
            }
            "text_unknown_column" -> TextVault(path, columns = listOf("title", "body")).use { tv ->
                tv.insert(mapOf("title" to "x", "body" to "y"), "one")
                val e = expect(kind, id) { tv.search("x", column = "nope") }
                assertEquals("Column 'nope' not found. Available columns: [\"title\", \"body\"]", e.reason)
                expect(kind, "$id/searchWithText") { tv.searchWithText("x", column = "nope") }
                expect(kind, "$id/snippets") { tv.searchWithSnippets("x", snippetColumn = "nope") }
                expect(kind, "$id/insert") { tv.insert(mapOf("title" to "x", "nope" to "y"), "two") }
                assertEquals(1L, tv.count())
            }
            "text_k_too_large" -> TextVault(path).use { tv ->
                tv.insert("x", "one")
                expect(kind, id) { tv.search("x", num(c, "k")) }
                expect(kind, "$id/searchWithText") { tv.searchWithText("x", num(c, "k")) }
                expect(kind, "$id/snippets") { tv.searchWithSnippets("x", num(c, "k")) }
                expect(kind, "$id/hybrid") { tv.hybridSearch("x", null, num(c, "k")) }
            }
            "text_reopen_mismatch" -> {
                TextVault(path, "t", listOf("title", "body")).close()
                val e = expect(kind, id) { TextVault(path, "t", listOf("title")).close() }
                assertTrue(e.reason.contains("[\"title\", \"body\"]") && e.reason.contains("[\"title\"]"), e.reason)
                TextVault(path, "t", listOf("title", "body")).use { assertEquals(0L, it.count()) }
            }
            "text_missing_id" -> TextVault(path).use { tv ->
                val e = expect(kind, id) { tv.getById(42) }
                assertEquals("ID 42 not found", e.reason)
            }
            "text_use_after_close" -> {
                val tv = TextVault(path)
                tv.insert("hello", "one")
                tv.close()
                val ops: List<Pair<String, () -> Any?>> = listOf(
                    "insert" to { tv.insert("x", "y") },
                    "search" to { tv.search("hello") },
                    "getById" to { tv.getById(1) },
                    "count" to { tv.count() },
                    "delete" to { tv.delete(1) },
                )
                for ((name, op) in ops) {
                    assertEquals(TEXT_CLOSED_MESSAGE, expect(kind, "$id/$name", op).reason)
                }
            }
            else -> fail("errors.json case $id has no Kotlin runner")
        }
    }

    @TestFactory
    fun errors(): List<DynamicTest> = cases.map { c ->
        DynamicTest.dynamicTest("${c["id"]} -> ${c["kind"]}") { run(c) }
    }

    @Test
    fun `every kind named in errors json exists in the facade`() {
        assertTrue(cases.size >= 12)
        for (c in cases) kindClass(c["kind"] as String)
    }

    companion object {
        /**
         * An empty SQLite database (one 4096-byte page: the file header and an empty sqlite_schema leaf), with
         * PRAGMA user_version = [userVersion] (header offset 60). See sqlite.org/fileformat2.html.
         */
        fun emptySqliteFile(userVersion: Int): ByteArray {
            val b = ByteBuffer.allocate(4096) // big-endian
            b.put("SQLite format 3\u0000".toByteArray(Charsets.US_ASCII))
            b.putShort(16, 4096.toShort())
            b.put(18, 1); b.put(19, 1); b.put(20, 0)
            b.put(21, 64); b.put(22, 32); b.put(23, 32)
            b.putInt(24, 1)          // file change counter
            b.putInt(28, 1)          // database size in pages
            b.putInt(44, 4)          // schema format
            b.putInt(56, 1)          // UTF-8
            b.putInt(60, userVersion)
            b.putInt(92, 1)          // version-valid-for = change counter
            b.putInt(96, 3_045_000)  // SQLITE_VERSION_NUMBER of the writer
            b.put(100, 0x0D)         // table b-tree leaf, no cells
            b.putShort(105, 4096.toShort()) // cell content area start (4096 -> stored as 4096, fits as 0x1000)
            return b.array()
        }
    }
}
