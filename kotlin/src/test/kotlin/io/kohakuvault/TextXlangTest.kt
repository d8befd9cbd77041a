package io.kohakuvault

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
 * Cross-language TextVault file (the "xlang" case of tests/conformance/texts.json). Runs only when KV_XLANG_DIR is
 * set: writes `$KV_XLANG_DIR/kotlin-texts.db` (table "txt_xlang", that case's documents, inserted one by one), then
 * opens every `<lang>-texts.db` there read-only and checks its documents and runs the case's queries. Languages
 * listed in KV_XLANG_REQUIRE (comma-separated) must have a file. Re-run alone: `-Dtest=TextXlangTest`.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation::class)
class TextXlangTest {

    private val dir: File? = System.getenv("KV_XLANG_DIR")?.takeIf { it.isNotBlank() }?.let { File(it) }

    private val case = TextCases.case("xlang")

    @Test
    @Order(1)
    fun `write kotlin texts db`() {
        assumeTrue(dir != null, "KV_XLANG_DIR not set")
        dir!!.mkdirs()
        for (suffix in listOf("", "-wal", "-shm", "-journal")) File(dir, "kotlin-texts.db$suffix").delete()
        TextCases.open(File(dir, "kotlin-texts.db").path, case, "txt_xlang").use { tv -> TextCases.insertDocs(tv, case) }
    }

    @TestFactory
    @Order(2)
    fun `read every language's texts db`(): List<DynamicNode> {
        assumeTrue(dir != null, "KV_XLANG_DIR not set")
        val required = System.getenv("KV_XLANG_REQUIRE").orEmpty().split(',').map { it.trim() }.filter { it.isNotEmpty() }
        val present = dir!!.listFiles { f -> f.name.endsWith("-texts.db") }?.map { it.name.removeSuffix("-texts.db") } ?: emptyList()
        val langs = (listOf("kotlin", "rust", "python", "swift") + required + present.sorted()).distinct()
        val nodes = ArrayList<DynamicNode>()
        for (lang in langs) {
            val f = File(dir, "$lang-texts.db")
            if (!f.isFile) {
                if (lang in required) nodes.add(DynamicTest.dynamicTest("$lang-texts.db is present") {
                    fail<Unit>("KV_XLANG_REQUIRE lists $lang but ${f.path} is missing")
                })
                continue
            }
            nodes.add(DynamicTest.dynamicTest(f.name) {
                TextCases.open(f.path, case, "txt_xlang", OpenOptions(readOnly = true)).use { tv ->
                    TextCases.checkRecords(tv, case, f.name)
                    TextCases.check(tv, case, f.name)
                }
            })
        }
        return nodes
    }
}
