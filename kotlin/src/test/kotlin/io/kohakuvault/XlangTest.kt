package io.kohakuvault

import io.kohakuvault.TestSupport.hex
import io.kohakuvault.TestSupport.toHex
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.DynamicNode
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.MethodOrderer
import org.junit.jupiter.api.Order
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.TestMethodOrder
import java.io.File

/**
 * Cross-language .db check (tests/conformance/xlang.json). Runs only when KV_XLANG_DIR is set:
 * writes `$KV_XLANG_DIR/kotlin.db` with the facade's typed API, then reads every other `<lang>.db` there.
 * Languages listed in KV_XLANG_REQUIRE (comma-separated) must have a file. Re-run alone: `-Dtest=XlangTest`.
 * Columns: writes `$KV_XLANG_DIR/kotlin-columns.db` ("ids" i64 [1,2,3], "names" str ["a","é"], "emb" vec:f32:2
 * [[1,2],[3,4]]) and reads every `<lang>-columns.db` present (not required yet).
 * Vectors: writes `$KV_XLANG_DIR/kotlin-vectors.db` (table "vec_xlang", the rows of the "xlang" case of
 * tests/conformance/vectors.json) and runs that case's queries on every `<lang>-vectors.db` present.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation::class)
class XlangTest {

    private val dir: File? = System.getenv("KV_XLANG_DIR")?.takeIf { it.isNotBlank() }?.let { File(it) }

    @Suppress("UNCHECKED_CAST")
    private val entries: List<Map<String, Any?>> =
        (TestSupport.conformance("xlang.json") as Map<String, Any?>)["entries"] as List<Map<String, Any?>>

    private fun floats(v: Any?): FloatArray = (v as List<*>).map { (it as Number).toFloat() }.toFloatArray()
    private fun ints(v: Any?): IntArray = (v as List<*>).map { (it as Number).toInt() }.toIntArray()

    @Test
    @Order(1)
    fun `write kotlin db`() {
        assumeTrue(dir != null, "KV_XLANG_DIR not set")
        dir!!.mkdirs()
        for (suffix in listOf("", "-wal", "-shm", "-journal")) File(dir, "kotlin.db$suffix").delete()
        KVault(File(dir, "kotlin.db").path).use { kv ->
            for (e in entries) {
                val key = e["key"] as String
                when (val type = e["type"] as String) {
                    "bytes" -> kv[key] = hex(e["value_hex"] as String)
                    "string" -> kv.putString(key, e["value"] as String)
                    "int" -> kv.putLong(key, e["value"] as Long)
                    "float" -> kv.putDouble(key, (e["value"] as Number).toDouble())
                    "bool" -> kv.putBoolean(key, e["value"] as Boolean)
                    "msgpack_hex" -> kv.putPlain(key, e["value"])
                    "f32_array" -> kv.putFloatArray(key, floats(e["value"]), ints(e["shape"]))
                    else -> fail("unknown xlang entry type $type")
                }
            }
        }
    }

    @TestFactory
    @Order(2)
    fun `read every language's db`(): List<DynamicNode> {
        assumeTrue(dir != null, "KV_XLANG_DIR not set")
        val required = System.getenv("KV_XLANG_REQUIRE").orEmpty().split(',').map { it.trim() }.filter { it.isNotEmpty() }
        val langs = (listOf("kotlin", "rust", "python", "swift") + required +
            (dir!!.listFiles { f -> f.name.endsWith(".db") && !f.name.endsWith("-columns.db") && !f.name.endsWith("-vectors.db") && !f.name.endsWith("-texts.db") }?.map { it.name.removeSuffix(".db") } ?: emptyList()))
            .distinct()
        val nodes = ArrayList<DynamicNode>()
        for (lang in langs) {
            val f = File(dir, "$lang.db")
            if (!f.isFile) {
                if (lang in required) nodes.add(DynamicTest.dynamicTest("$lang.db is present") {
                    fail<Unit>("KV_XLANG_REQUIRE lists $lang but ${f.path} is missing")
                })
                continue
            }
            for (e in entries) {
                nodes.add(DynamicTest.dynamicTest("$lang.db: ${e["key"]}") { check(f, e) })
            }
        }
        return nodes
    }

    @Test
    @Order(3)
    fun `write kotlin columns db`() {
        assumeTrue(dir != null, "KV_XLANG_DIR not set")
        dir!!.mkdirs()
        for (suffix in listOf("", "-wal", "-shm", "-journal")) File(dir, "kotlin-columns.db$suffix").delete()
        ColumnVault(File(dir, "kotlin-columns.db").path).use { cv ->
            cv.createColumn<LongColumn>("ids", "i64").appendAll(longArrayOf(1, 2, 3))
            cv.createColumn<StringColumn>("names", "str").appendAll(listOf("a", "é"))
            cv.createColumn<FloatTensorColumn>("emb", "vec:f32:2").appendAll(listOf(floatArrayOf(1f, 2f), floatArrayOf(3f, 4f)))
        }
    }

    @TestFactory
    @Order(4)
    fun `read every language's columns db`(): List<DynamicNode> {
        assumeTrue(dir != null, "KV_XLANG_DIR not set")
        val files = dir!!.listFiles { f -> f.name.endsWith("-columns.db") }?.sortedBy { it.name } ?: emptyList()
        return files.map { f ->
            DynamicTest.dynamicTest(f.name) {
                ColumnVault(f.path, options = OpenOptions(readOnly = true)).use { cv ->
                    assertEquals(listOf("ids", "names", "emb"), cv.columnNames())
                    assertArrayEquals(longArrayOf(1, 2, 3), cv.column<LongColumn>("ids").toLongArray())
                    assertEquals(listOf("a", "é"), cv.column<StringColumn>("names").toList())
                    assertEquals("61c3a9", cv.column("names").readVarRows(0, 2).data.toHex().lowercase())
                    val emb = cv.column<FloatTensorColumn>("emb")
                    assertArrayEquals(intArrayOf(2), emb.shape)
                    assertArrayEquals(floatArrayOf(1f, 2f, 3f, 4f), emb.readFlat(0, 2))
                }
            }
        }
    }

    @Test
    @Order(5)
    fun `write kotlin vectors db`() {
        assumeTrue(dir != null, "KV_XLANG_DIR not set")
        dir!!.mkdirs()
        for (suffix in listOf("", "-wal", "-shm", "-journal")) File(dir, "kotlin-vectors.db$suffix").delete()
        val c = VectorCases.case("xlang")
        VectorCases.open(File(dir, "kotlin-vectors.db").path, c, "vec_xlang").use { vv -> VectorCases.insertRows(vv, c) }
    }

    @TestFactory
    @Order(6)
    fun `read every language's vectors db`(): List<DynamicNode> {
        assumeTrue(dir != null, "KV_XLANG_DIR not set")
        val c = VectorCases.case("xlang")
        val files = dir!!.listFiles { f -> f.name.endsWith("-vectors.db") }?.sortedBy { it.name } ?: emptyList()
        return files.map { f ->
            DynamicTest.dynamicTest(f.name) {
                VectorCases.open(f.path, c, "vec_xlang", OpenOptions(readOnly = true)).use { vv ->
                    val rows = VectorCases.rows(c)
                    assertArrayEquals(LongArray(rows.size) { it + 1L }, vv.ids())
                    for ((i, r) in rows.withIndex()) {
                        val rec = vv.getById(i + 1L)
                        assertEquals(r["value"], rec.value.asString(), "${f.name}: value of ${i + 1}")
                        assertEquals(VectorCases.metadata(r), rec.metadata, "${f.name}: metadata of ${i + 1}")
                    }
                    for ((i, q) in VectorCases.queries(c).withIndex()) VectorCases.check(vv, c, q, "${f.name} query $i")
                }
            }
        }
    }

    private fun check(f: File, e: Map<String, Any?>) {
        KVault(f.path, options = OpenOptions(readOnly = true)).use { kv ->
            val key = e["key"] as String
            val stored = kv.getStored(key)
            assertNotNull(stored, "missing key $key")
            assertEquals(e["stored"] as String, stored!!.toHex(), "stored bytes of $key")
            when (e["type"] as String) {
                "bytes" -> assertArrayEquals(hex(e["value_hex"] as String), kv[key])
                "string" -> assertEquals(e["value"], kv.getString(key))
                "int" -> assertEquals(e["value"], kv.getLong(key))
                "float" -> assertEquals((e["value"] as Number).toDouble(), kv.getDouble(key))
                "bool" -> assertEquals(e["value"], kv.getBoolean(key))
                "msgpack_hex" -> {
                    assertEquals(e["value"], kv.getPlain(key))
                    assertEquals(e["value_hex"] as String, kv.getTagged(key)!!.payload.toHex())
                }
                "f32_array" -> {
                    val a = kv.getFloatArray(key)!!
                    assertArrayEquals(floats(e["value"]), a.data)
                    assertArrayEquals(ints(e["shape"]), a.shape)
                }
                else -> fail("unknown xlang entry type ${e["type"]}")
            }
        }
    }
}
