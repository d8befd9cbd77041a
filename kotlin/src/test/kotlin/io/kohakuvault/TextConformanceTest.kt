package io.kohakuvault

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import kotlin.math.abs
import kotlin.math.max

/**
 * tests/conformance/texts.json, read the same way by every suite: the cases' documents and queries, and the check of
 * a case's queries (also used by TextXlangTest for the `xlang` case).
 */
object TextCases {
    val cases: List<Map<String, Any?>> by lazy { TestSupport.conformanceCases("texts.json") }

    fun case(name: String): Map<String, Any?> = cases.single { it["name"] == name }

    @Suppress("UNCHECKED_CAST")
    fun columns(c: Map<String, Any?>): List<String> = c["columns"] as List<String>

    @Suppress("UNCHECKED_CAST")
    fun docs(c: Map<String, Any?>): List<Map<String, Any?>> = c["docs"] as List<Map<String, Any?>>

    @Suppress("UNCHECKED_CAST")
    fun queries(c: Map<String, Any?>, key: String): List<Map<String, Any?>> =
        c[key] as List<Map<String, Any?>>? ?: emptyList()

    /** A document's texts by column name (texts.json lists them in column order). */
    fun texts(c: Map<String, Any?>, d: Map<String, Any?>): Map<String, String> {
        val t = (d["texts"] as List<*>).map { it as String }
        val cols = columns(c)
        assertEquals(cols.size, t.size, "texts of ${d["value"]}")
        return cols.indices.associate { cols[it] to t[it] }
    }

    fun floats(v: Any?): FloatArray? = (v as List<*>?)?.map { (it as Number).toFloat() }?.toFloatArray()

    fun open(path: String, c: Map<String, Any?>, table: String, options: OpenOptions = OpenOptions()): TextVault =
        TextVault(
            path, table, columns(c), Tokenizer.ofCoreName(c["tokenizer"] as String),
            dimensions = (c["dimensions"] as Long?)?.toInt(),
            metric = (c["metric"] as String?)?.let { VectorMetric.ofCoreName(it) } ?: VectorMetric.COSINE,
            options = options,
        )

    /** Inserts the case's documents one by one (ids must come out 1..n): maps for every case, a String when single-column. */
    fun insertDocs(tv: TextVault, c: Map<String, Any?>) {
        for ((i, d) in docs(c).withIndex()) {
            val texts = texts(c, d)
            val value = d["value"] as String
            val vector = floats(d["vector"])
            val id = if (texts.size == 1 && i % 2 == 0) tv.insert(texts.values.single(), value, vector)
            else tv.insert(texts, value, vector)
            assertEquals(i + 1L, id, "id of document ${i + 1}")
        }
    }

    /** Inserts the case's documents with one insertMany (ids 1..n). */
    fun insertBatch(tv: TextVault, c: Map<String, Any?>) {
        val ds = docs(c)
        val batch = ds.map { d -> TextDoc(texts(c, d), d["value"] as String, floats(d["vector"])) }
        assertArrayEquals(LongArray(ds.size) { it + 1L }, tv.insertMany(batch))
    }

    /** Every `queries` entry (search) and `hybrid_queries` entry of the case: ids in order, scores and values. */
    fun check(tv: TextVault, c: Map<String, Any?>, who: String) {
        val name = c["name"]
        for ((i, q) in queries(c, "queries").withIndex()) {
            val what = "$who $name query $i '${q["query"]}'"
            val hits = tv.search(q["query"] as String, (q["k"] as Long).toInt(), q["column"] as String?,
                q["escape"] as Boolean? ?: true)
            checkHits(c, q, hits, what, relative = 1e-6)
        }
        for ((i, q) in queries(c, "hybrid_queries").withIndex()) {
            val what = "$who $name hybrid query $i '${q["query"]}'"
            val hits = tv.hybridSearch(q["query"] as String?, floats(q["vector"]), (q["k"] as Long).toInt(),
                (q["text_weight"] as Number).toDouble(), (q["vector_weight"] as Number).toDouble(),
                (q["rrf_k"] as Long).toInt())
            checkHits(c, q, hits, what, absolute = 1e-9)
        }
    }

    private fun checkHits(c: Map<String, Any?>, q: Map<String, Any?>, hits: List<TextHit>, what: String,
                          relative: Double = 0.0, absolute: Double = 0.0) {
        val ids = (q["ids"] as List<*>).map { it as Long }
        val scores = (q["scores"] as List<*>).map { (it as Number).toDouble() }
        assertEquals(ids, hits.map { it.id }, "$what: ids")
        val ds = docs(c)
        for ((j, h) in hits.withIndex()) {
            val tol = max(absolute, relative * max(abs(scores[j]), 1e-9))
            assertTrue(abs(h.score - scores[j]) <= tol, "$what: score of hit $j: ${h.score} vs ${scores[j]}")
            assertEquals(ds[(h.id - 1).toInt()]["value"], h.value.asString(), "$what: value of id ${h.id}")
            assertEquals(Kind.UTF8, h.value.kind, "$what: kind of id ${h.id}")
            assertEquals(null, h.texts)
        }
    }

    /** The stored documents: texts by column, values, and the vectors' presence. */
    fun checkRecords(tv: TextVault, c: Map<String, Any?>, who: String) {
        val ds = docs(c)
        assertArrayEquals(LongArray(ds.size) { it + 1L }, tv.keys(), "$who: keys")
        for ((i, d) in ds.withIndex()) {
            val r = tv.getById(i + 1L)
            assertEquals(texts(c, d), r.texts, "$who: texts of ${i + 1}")
            assertEquals(columns(c), r.texts.keys.toList(), "$who: column order of ${i + 1}")
            assertEquals(d["value"], r.value.asString(), "$who: value of ${i + 1}")
            assertEquals(d["vector"] != null && tv.dimensions != null, r.vector != null, "$who: vector of ${i + 1}")
        }
    }
}

/**
 * Every case of tests/conformance/texts.json: a fresh vault (table "txt_conf", the case's columns, tokenizer and
 * vectors), the documents inserted in order, every search query's ids exactly, scores within 1e-6 relative, values;
 * every hybrid query's ids and fused scores within 1e-9. Each case runs with the documents inserted one by one and
 * with one insertMany, and again after a reopen.
 */
class TextConformanceTest {

    private fun run(c: Map<String, Any?>, batched: Boolean) {
        val path = TestSupport.tempDb()
        val how = if (batched) "insertMany" else "insert"
        TextCases.open(path, c, "txt_conf").use { tv ->
            assertEquals(TextCases.columns(c), tv.columns)
            assertEquals(Tokenizer.ofCoreName(c["tokenizer"] as String), tv.tokenizer)
            if (batched) TextCases.insertBatch(tv, c) else TextCases.insertDocs(tv, c)
            assertEquals(TextCases.docs(c).size.toLong(), tv.count())
            TextCases.check(tv, c, how)
            TextCases.checkRecords(tv, c, how)
        }
        TextCases.open(path, c, "txt_conf").use { tv -> TextCases.check(tv, c, "$how, reopened") }
        TextCases.open(path, c, "txt_conf", OpenOptions(readOnly = true)).use { tv ->
            TextCases.check(tv, c, "$how, read-only")
            TextCases.checkRecords(tv, c, "$how, read-only")
        }
    }

    @TestFactory
    fun `one by one`(): List<DynamicTest> = TextCases.cases.map { c ->
        DynamicTest.dynamicTest("${c["name"]} (${c["tokenizer"]})") { run(c, batched = false) }
    }

    @TestFactory
    fun `batched`(): List<DynamicTest> = TextCases.cases.map { c ->
        DynamicTest.dynamicTest("${c["name"]} (${c["tokenizer"]})") { run(c, batched = true) }
    }

    @Test
    fun `the conformance file covers every tokenizer, hybrid search and the xlang case`() {
        val toks = TextCases.cases.map { it["tokenizer"] }.toSet()
        assertEquals(setOf("unicode61", "porter", "trigram"), toks)
        assertTrue(TextCases.cases.any { TextCases.queries(it, "hybrid_queries").isNotEmpty() })
        assertTrue(TextCases.cases.any { c -> TextCases.queries(c, "queries").any { it["escape"] == false } })
        assertTrue(TextCases.cases.any { c -> TextCases.queries(c, "queries").any { it["column"] != null } })
        TextCases.case("xlang")
    }
}
