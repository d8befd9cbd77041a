package io.kohakuvault

import io.kohakuvault.TestSupport.hex
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import kotlin.math.abs

/**
 * tests/conformance/vectors.json, read the same way by every suite: the cases' rows and queries, and the check of a
 * query's hits (also used by XlangTest for the `xlang` case).
 */
object VectorCases {
    val cases: List<Map<String, Any?>> by lazy { TestSupport.conformanceCases("vectors.json") }

    fun case(name: String): Map<String, Any?> = cases.single { it["name"] == name }

    @Suppress("UNCHECKED_CAST")
    fun rows(c: Map<String, Any?>): List<Map<String, Any?>> = c["rows"] as List<Map<String, Any?>>

    @Suppress("UNCHECKED_CAST")
    fun queries(c: Map<String, Any?>): List<Map<String, Any?>> = c["queries"] as List<Map<String, Any?>>

    /** A row's or query's vector as the facade takes it: FloatArray (f32) or ByteArray (int8, packed bits). */
    fun vector(o: Map<String, Any?>, vectorType: String): Any = when (vectorType) {
        "f32" -> (o["vector"] as List<*>).map { (it as Number).toFloat() }.toFloatArray()
        "int8" -> (o["vector"] as List<*>).map { (it as Number).toInt().also { v -> require(v in -128..127) }.toByte() }.toByteArray()
        "bit" -> hex(o["vector_hex"] as String)
        else -> error("unknown vector_type $vectorType")
    }

    @Suppress("UNCHECKED_CAST")
    fun metadata(o: Map<String, Any?>): Map<String, Any?>? = o["metadata"] as Map<String, Any?>?

    @Suppress("UNCHECKED_CAST")
    fun filter(q: Map<String, Any?>): VectorFilter? {
        val f = q["filter"] as Map<String, Any?>? ?: return null
        return VectorFilter(
            ids = (f["ids"] as List<*>?)?.map { it as Long }?.toLongArray(),
            metadataEquals = f["metadata_equals"] as Map<String, Any?>?,
        )
    }

    fun metric(c: Map<String, Any?>): VectorMetric = VectorMetric.ofCoreName(c["metric"] as String)
    fun type(c: Map<String, Any?>): VectorType = VectorType.ofCoreName(c["vector_type"] as String)

    fun open(path: String, c: Map<String, Any?>, table: String, options: OpenOptions = OpenOptions()): VectorKVault =
        VectorKVault(path, table, (c["dimensions"] as Long).toInt(), metric(c), type(c), options)

    /** Inserts the case's rows one by one (ids must come out 1..n). */
    fun insertRows(vv: VectorKVault, c: Map<String, Any?>) {
        val vt = c["vector_type"] as String
        for ((i, r) in rows(c).withIndex()) {
            val id = when (val v = vector(r, vt)) {
                is FloatArray -> vv.insert(v, r["value"] as String, metadata(r))
                else -> vv.insert(v as ByteArray, r["value"] as String, metadata(r))
            }
            assertEquals(i + 1L, id, "id of row ${i + 1}")
        }
    }

    /** Runs one query (search, or searchMany when [many]) and checks ids, distances and values. */
    fun check(vv: VectorKVault, c: Map<String, Any?>, q: Map<String, Any?>, what: String) {
        val vt = c["vector_type"] as String
        val k = (q["k"] as Long).toInt()
        val hits = when (val v = vector(q, vt)) {
            is FloatArray -> vv.search(v, k, filter(q))
            else -> vv.search(v as ByteArray, k, filter(q))
        }
        checkHits(c, q, hits, what)
    }

    fun checkHits(c: Map<String, Any?>, q: Map<String, Any?>, hits: List<VectorHit>, what: String) {
        val ids = (q["ids"] as List<*>).map { it as Long }
        val dists = (q["distances"] as List<*>).map { (it as Number).toDouble() }
        val rows = rows(c)
        assertEquals(ids, hits.map { it.id }, "$what: ids")
        for ((i, h) in hits.withIndex()) {
            assertTrue(abs(h.distance - dists[i]) <= 1e-4, "$what: distance of hit $i: ${h.distance} vs ${dists[i]}")
            assertEquals(rows[(h.id - 1).toInt()]["value"], h.value.asString(), "$what: value of id ${h.id}")
            assertEquals(Kind.UTF8, h.value.kind, "$what: kind of id ${h.id}")
        }
    }
}

/**
 * Every case of tests/conformance/vectors.json: a fresh vault (table "vec_conf"), the rows inserted in order, every
 * query's ids exactly, distances within 1e-4 and values. Each case runs twice: rows by `insert` and queries by
 * `search`; then rows by one `insertMany` and queries by `searchMany` (grouped by k and filter).
 */
class VectorConformanceTest {

    @TestFactory
    fun `one by one`(): List<DynamicTest> = VectorCases.cases.map { c ->
        DynamicTest.dynamicTest("${c["name"]} (${c["metric"]}/${c["vector_type"]})") {
            VectorCases.open(TestSupport.tempDb(), c, "vec_conf").use { vv ->
                assertEquals(VectorCases.metric(c), vv.metric)
                assertEquals(VectorCases.type(c), vv.type)
                VectorCases.insertRows(vv, c)
                assertEquals(VectorCases.rows(c).size.toLong(), vv.count())
                for ((i, q) in VectorCases.queries(c).withIndex()) VectorCases.check(vv, c, q, "${c["name"]} query $i")
            }
        }
    }

    @TestFactory
    fun `batched`(): List<DynamicTest> = VectorCases.cases.map { c ->
        DynamicTest.dynamicTest("${c["name"]} (${c["metric"]}/${c["vector_type"]})") {
            val vt = c["vector_type"] as String
            val rows = VectorCases.rows(c)
            VectorCases.open(TestSupport.tempDb(), c, "vec_conf").use { vv ->
                val vectors = rows.map { VectorCases.vector(it, vt) }
                val values = rows.map { it["value"] as String }
                val metas = rows.map { VectorCases.metadata(it) }
                @Suppress("UNCHECKED_CAST")
                val ids = if (vt == "f32") vv.insertMany(vectors as List<FloatArray>, values, metas)
                else vv.insertMany(vectors as List<ByteArray>, values, metas)
                assertArrayEquals(LongArray(rows.size) { it + 1L }, ids)
                assertArrayEquals(ids, vv.ids())
                val queries = VectorCases.queries(c)
                val groups = queries.withIndex().groupBy { it.value["k"] to it.value["filter"] }
                for ((key, group) in groups) {
                    val qs = group.map { VectorCases.vector(it.value, vt) }
                    val k = (key.first as Long).toInt()
                    val f = VectorCases.filter(group[0].value)
                    @Suppress("UNCHECKED_CAST")
                    val hits = if (vt == "f32") vv.searchMany(qs as List<FloatArray>, k, f)
                    else vv.searchMany(qs as List<ByteArray>, k, f)
                    assertEquals(group.size, hits.size)
                    for ((j, iq) in group.withIndex()) {
                        VectorCases.checkHits(c, iq.value, hits[j], "${c["name"]} query ${iq.index} (searchMany)")
                    }
                }
                // the stored rows and their metadata
                for ((i, r) in rows.withIndex()) {
                    val rec = vv.getById(i + 1L)
                    assertEquals(r["value"], rec.value.asString())
                    assertEquals(VectorCases.metadata(r), rec.metadata)
                    if (vt != "f32") assertArrayEquals(VectorCases.vector(r, vt) as ByteArray, rec.bytes)
                    else if (c["metric"] != "cosine") assertArrayEquals(VectorCases.vector(r, vt) as FloatArray, rec.floats)
                }
            }
        }
    }

    @Test
    fun `the conformance file covers every valid pair and the xlang case`() {
        val pairs = VectorCases.cases.map { it["metric"] to it["vector_type"] }.toSet()
        for (p in listOf("cosine" to "f32", "l2" to "f32", "l1" to "f32", "l2" to "int8", "l1" to "int8", "hamming" to "bit")) {
            assertTrue(p in pairs, "vectors.json has a $p case")
        }
        VectorCases.case("xlang")
    }
}
