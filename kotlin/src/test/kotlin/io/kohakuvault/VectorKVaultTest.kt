package io.kohakuvault

import io.kohakuvault.coroutines.openVectorVault
import io.kohakuvault.coroutines.suspending
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.assertThrows
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicInteger
import kotlin.math.abs
import kotlin.math.sqrt
import kotlin.random.Random

/** VectorKVault: every metric/type pair, exact recall against brute force, filters, lifecycle, errors, threads. */
class VectorKVaultTest {

    // ---------------------------------------------------------------- a brute-force reference (float64)

    private class PairCase(val metric: VectorMetric, val type: VectorType, val dims: Int)

    private val pairs = listOf(
        PairCase(VectorMetric.COSINE, VectorType.F32, 32), PairCase(VectorMetric.L2, VectorType.F32, 32),
        PairCase(VectorMetric.L1, VectorType.F32, 32), PairCase(VectorMetric.L2, VectorType.INT8, 32),
        PairCase(VectorMetric.L1, VectorType.INT8, 32), PairCase(VectorMetric.HAMMING, VectorType.BIT, 64),
    )

    private fun randomVector(rnd: Random, type: VectorType, dims: Int): Any = when (type) {
        VectorType.F32 -> FloatArray(dims) { (rnd.nextDouble() * 2 - 1).toFloat() }
        VectorType.INT8 -> ByteArray(dims) { (rnd.nextInt(256) - 128).toByte() }
        VectorType.BIT -> ByteArray(dims / 8).also { rnd.nextBytes(it) }
    }

    private fun doubles(v: Any): DoubleArray = when (v) {
        is FloatArray -> DoubleArray(v.size) { v[it].toDouble() }
        is ByteArray -> DoubleArray(v.size) { v[it].toDouble() }   // int8: signed
        else -> error("not a vector")
    }

    private fun distance(metric: VectorMetric, a: Any, b: Any): Double = when (metric) {
        VectorMetric.COSINE -> {
            val x = doubles(a); val y = doubles(b)
            var dot = 0.0; var nx = 0.0; var ny = 0.0
            for (i in x.indices) { dot += x[i] * y[i]; nx += x[i] * x[i]; ny += y[i] * y[i] }
            1.0 - dot / (sqrt(nx) * sqrt(ny))
        }
        VectorMetric.L2 -> {
            val x = doubles(a); val y = doubles(b)
            sqrt(x.indices.sumOf { (x[it] - y[it]) * (x[it] - y[it]) })
        }
        VectorMetric.L1 -> {
            val x = doubles(a); val y = doubles(b)
            x.indices.sumOf { abs(x[it] - y[it]) }
        }
        VectorMetric.HAMMING -> {
            val x = a as ByteArray; val y = b as ByteArray
            x.indices.sumOf { Integer.bitCount((x[it].toInt() xor y[it].toInt()) and 0xFF) }.toDouble()
        }
    }

    /** The exact top-k (id, distance) of [query] among [rows] (id = index + 1) accepted by [keep], ties by id. */
    private fun bruteForce(metric: VectorMetric, rows: List<Any>, query: Any, k: Int,
                           keep: (Long) -> Boolean = { true }): List<Pair<Long, Double>> =
        rows.indices.map { (it + 1L) to distance(metric, rows[it], query) }
            .filter { keep(it.first) }
            .sortedWith(compareBy<Pair<Long, Double>> { it.second }.thenBy { it.first })
            .take(k)

    private fun VectorKVault.insertAny(v: Any, value: Any?, meta: Map<String, Any?>? = null): Long =
        if (v is FloatArray) insert(v, value, meta) else insert(v as ByteArray, value, meta)

    private fun VectorKVault.searchAny(q: Any, k: Int, filter: VectorFilter? = null): List<VectorHit> =
        if (q is FloatArray) search(q, k, filter) else search(q as ByteArray, k, filter)

    @Suppress("UNCHECKED_CAST")
    private fun VectorKVault.insertManyAny(vs: List<Any>, values: List<Any?>, metas: List<Map<String, Any?>?>? = null): LongArray =
        if (type == VectorType.F32) insertMany(vs as List<FloatArray>, values, metas)
        else insertMany(vs as List<ByteArray>, values, metas)

    @Suppress("UNCHECKED_CAST")
    private fun VectorKVault.searchManyAny(qs: List<Any>, k: Int, filter: VectorFilter? = null): List<List<VectorHit>> =
        if (type == VectorType.F32) searchMany(qs as List<FloatArray>, k, filter)
        else searchMany(qs as List<ByteArray>, k, filter)

    /** The hits equal the reference: the same ids (as a set: recall 1.0; in order when [ordered]), close distances. */
    private fun assertHits(want: List<Pair<Long, Double>>, got: List<VectorHit>, what: String, ordered: Boolean) {
        assertEquals(want.size, got.size, "$what: hit count")
        if (ordered) assertEquals(want.map { it.first }, got.map { it.id }, "$what: ids")
        else assertEquals(want.map { it.first }.toSet(), got.map { it.id }.toSet(), "$what: recall@${want.size}")
        for (i in got.indices) {
            assertTrue(abs(got[i].distance - want[i].second) <= 1e-4,
                "$what: distance $i ${got[i].distance} vs ${want[i].second}")
            if (i > 0) assertTrue(got[i - 1].distance <= got[i].distance, "$what: nearest first")
        }
    }

    // ---------------------------------------------------------------- every pair, end to end

    @TestFactory
    fun `every metric and type end to end`(): List<DynamicTest> = pairs.map { p ->
        DynamicTest.dynamicTest("${p.metric}/${p.type}") {
            val path = TestSupport.tempDb()
            val rnd = Random(p.metric.ordinal * 10 + p.type.ordinal)
            val rows = List(200) { randomVector(rnd, p.type, p.dims) }
            VectorKVault(path, "vt", p.dims, p.metric, p.type).use { vv ->
                assertEquals(p.metric, vv.metric)
                assertEquals(p.type, vv.type)
                assertEquals(p.dims, vv.dimensions)
                assertEquals(when (p.type) { VectorType.F32 -> 4 * p.dims; VectorType.INT8 -> p.dims; VectorType.BIT -> p.dims / 8 }, vv.rowBytes)
                assertTrue(vv.isEmpty())
                assertThrows<KohakuVaultException.NotFound> { if (rows[0] is FloatArray) vv[rows[0] as FloatArray] else vv[rows[0] as ByteArray] }
                assertTrue(vv.searchAny(rows[0], 5).isEmpty())
                for ((i, v) in rows.withIndex()) assertEquals(i + 1L, vv.insertAny(v, "v$i", mapOf("i" to i, "odd" to (i % 2 == 1))))
                assertEquals(200L, vv.count())
                assertEquals(200, vv.size)
                assertArrayEquals(LongArray(200) { it + 1L }, vv.ids())

                val queries = List(10) { randomVector(rnd, p.type, p.dims) }
                for ((j, q) in queries.withIndex()) {
                    val hits = vv.searchAny(q, 7)
                    assertHits(bruteForce(p.metric, rows, q, 7), hits, "query $j", ordered = p.type != VectorType.F32)
                    for (h in hits) assertEquals("v${h.id - 1}", h.value.asString())
                }
                // a stored row is its own nearest neighbour
                val self = vv.searchAny(rows[41], 1).single()
                assertEquals(42L, self.id)
                assertTrue(abs(self.distance) <= 1e-5, "distance to itself ${self.distance}")
                assertEquals("v41", (if (rows[41] is FloatArray) vv[rows[41] as FloatArray] else vv[rows[41] as ByteArray]).asString())

                val rec = vv.getById(42)
                assertEquals(42L, rec.id)
                assertEquals("v41", rec.value.asString())
                assertEquals(mapOf("i" to 41L, "odd" to true), rec.metadata)
                when (p.type) {
                    VectorType.F32 -> {
                        val stored = rec.floats
                        val orig = rows[41] as FloatArray
                        if (p.metric == VectorMetric.COSINE) {
                            val n = sqrt(orig.sumOf { it.toDouble() * it })
                            for (i in orig.indices) assertEquals(orig[i] / n, stored[i].toDouble(), 1e-6)
                        } else {
                            assertArrayEquals(orig, stored)
                        }
                        assertThrows<KohakuVaultException.InvalidArgument> { rec.bytes }
                    }
                    else -> {
                        assertArrayEquals(rows[41] as ByteArray, rec.bytes)
                        assertThrows<KohakuVaultException.InvalidArgument> { rec.floats }
                    }
                }

                val info = vv.info()
                assertEquals(VectorInfo("vt", p.dims, when (p.metric) {
                    VectorMetric.COSINE -> "cosine"; VectorMetric.L2 -> "L2"; VectorMetric.L1 -> "L1"; VectorMetric.HAMMING -> "hamming"
                }, when (p.type) { VectorType.F32 -> "float32"; VectorType.INT8 -> "int8"; VectorType.BIT -> "bit" },
                    200, vv.rowBytes, 0), info)

                // searchMany equals search, query by query
                val many = vv.searchManyAny(queries, 5)
                assertEquals(queries.size, many.size)
                for ((j, q) in queries.withIndex()) assertEquals(vv.searchAny(q, 5), many[j], "searchMany query $j")
                // insertMany continues the ids
                val more = List(20) { randomVector(rnd, p.type, p.dims) }
                assertArrayEquals(LongArray(20) { 201L + it }, vv.insertManyAny(more, List(20) { "m$it" }))
                assertEquals(220L, vv.count())
                assertEquals("m3", vv.getById(204).value.asString())
                assertNull(vv.getById(204).metadata)
            }
            // reopen: the same table, rows kept
            VectorKVault(path, "vt", p.dims, p.metric, p.type).use { vv ->
                assertEquals(220L, vv.count())
                assertEquals(42L, vv.searchAny(rows[41], 1).single().id)
            }
        }
    }

    @Test
    fun `metric and type names and invalid pairs`() {
        val path = TestSupport.tempDb()
        VectorKVault(path, "a", 4, "Euclidean", "FLOAT32").use { assertEquals(VectorMetric.L2, it.metric); assertEquals(VectorType.F32, it.type) }
        VectorKVault(path, "b", 4, "manhattan", "i8").use { assertEquals(VectorMetric.L1, it.metric); assertEquals(VectorType.INT8, it.type) }
        VectorKVault(path, "c", 16, "HAMMING", "bit").use { assertEquals(VectorMetric.HAMMING, it.metric); assertEquals(16, it.dimensions) }
        VectorKVault(path, dimensions = 3).use {
            assertEquals(VectorKVault.DEFAULT_TABLE, it.table)
            assertEquals(VectorMetric.COSINE, it.metric)
            assertEquals(VectorType.F32, it.type)
            assertEquals(path, it.path)
            assertFalse(it.isReadOnly)
            assertTrue(it.toString().contains("open"))
        }
        fun bad(msg: String, open: () -> VectorKVault) {
            val e = assertThrows<KohakuVaultException.InvalidArgument> { open().close() }
            assertEquals(msg, e.reason)
        }
        bad("Unknown metric 'dot'. Expected: cosine, l2, l1, or hamming") { VectorKVault(path, "x", 4, "dot", "f32") }
        bad("Unknown vector type: f64") { VectorKVault(path, "x", 4, "l2", "f64") }
        bad("Metric 'cosine' is not compatible with vector type 'int8'") { VectorKVault(path, "x", 4, VectorMetric.COSINE, VectorType.INT8) }
        bad("Bit vector dimensions must be divisible by 8, got 7") { VectorKVault(path, "x", 7, VectorMetric.HAMMING, VectorType.BIT) }
        bad("dimensions must be positive") { VectorKVault(path, "x", 0) }
        bad("dimensions must be positive") { VectorKVault(path, "x", -3) }
        assertThrows<KohakuVaultException.InvalidArgument> { VectorKVault(path, "x", 8, VectorMetric.HAMMING, VectorType.F32).close() }
        assertThrows<KohakuVaultException.InvalidArgument> { VectorKVault(path, "x", 8, VectorMetric.L2, VectorType.BIT).close() }
        assertThrows<KohakuVaultException.InvalidArgument> { VectorKVault(path, "bad name;", 8).close() }
    }

    // ---------------------------------------------------------------- recall against brute force

    @TestFactory
    fun `recall at k is 1 on 1000 x 32`(): List<DynamicTest> = pairs.map { p ->
        DynamicTest.dynamicTest("${p.metric}/${p.type}") {
            val rnd = Random(1000 + p.metric.ordinal * 10 + p.type.ordinal)
            val rows = List(1000) { randomVector(rnd, p.type, p.dims) }
            VectorKVault(TestSupport.tempDb(), "r", p.dims, p.metric, p.type).use { vv ->
                assertArrayEquals(LongArray(1000) { it + 1L }, vv.insertManyAny(rows, List(1000) { it.toLong() }))
                val queries = List(25) { randomVector(rnd, p.type, p.dims) }
                for (k in listOf(1, 10, 50)) {
                    val many = vv.searchManyAny(queries, k)
                    for ((j, q) in queries.withIndex()) {
                        val want = bruteForce(p.metric, rows, q, k)
                        // f32: ties are practically absent, compare sets; int8/bit distances are exact integers, so the
                        // order (ties by id) is exact too
                        assertHits(want, many[j], "k=$k query $j", ordered = p.type != VectorType.F32)
                        for (h in many[j]) assertEquals(h.id - 1, h.value.asLong())
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- filters

    @Test
    fun `filters by ids and metadata return k hits when k match`() {
        val rnd = Random(5)
        val dims = 16
        val rows = List(1000) { randomVector(rnd, VectorType.F32, dims) }
        val metas = List(1000) { i ->
            if (i % 7 == 6) null
            else mapOf("group" to (i % 10).toLong(), "tag" to "t${i % 3}", "even" to (i % 2 == 0), "half" to (i % 4) * 0.5,
                "maybe" to null, "nested" to mapOf("x" to 1))
        }
        VectorKVault(TestSupport.tempDb(), "f", dims, VectorMetric.L2).use { vv ->
            vv.insertMany(rows.map { it as FloatArray }, List(1000) { "r$it" }, metas)
            fun meta(id: Long) = metas[(id - 1).toInt()]
            val q = randomVector(rnd, VectorType.F32, dims) as FloatArray

            // ids: 50 ids, k = 10 -> 10 hits among them, exactly the nearest of them
            val idSet = (1..1000L).shuffled(rnd).take(50).toLongArray()
            val byIds = vv.search(q, 10, VectorFilter.ids(*idSet))
            assertHits(bruteForce(VectorMetric.L2, rows, q, 10) { it in idSet }, byIds, "ids filter", ordered = false)

            // metadata: group 3 (about 86 rows) -> k hits, all of group 3
            for (k in listOf(1, 10, 60)) {
                val hits = vv.search(q, k, VectorFilter.metadata(mapOf("group" to 3)))
                assertHits(bruteForce(VectorMetric.L2, rows, q, k) { meta(it)?.get("group") == 3L }, hits, "group=3 k=$k", ordered = false)
            }
            // several entries, each scalar type
            val f2 = mapOf("tag" to "t1", "even" to true)
            assertHits(bruteForce(VectorMetric.L2, rows, q, 20) { meta(it)?.let { m -> m["tag"] == "t1" && m["even"] == true } == true },
                vv.search(q, 20, VectorFilter.metadata(f2)), "tag+even", ordered = false)
            assertHits(bruteForce(VectorMetric.L2, rows, q, 15) { meta(it)?.get("half") == 1.5 },
                vv.search(q, 15, VectorFilter(metadataEquals = mapOf("half" to 1.5))), "half=1.5", ordered = false)
            assertHits(bruteForce(VectorMetric.L2, rows, q, 15) { meta(it) != null },
                vv.search(q, 15, VectorFilter(metadataEquals = mapOf("maybe" to null))), "maybe=null", ordered = false)
            // ids and metadata together
            val both = VectorFilter(idSet, mapOf("even" to false))
            assertHits(bruteForce(VectorMetric.L2, rows, q, 10) { it in idSet && meta(it)?.get("even") == false },
                vv.search(q, 10, both), "ids+metadata", ordered = false)
            // fewer matches than k: all of them
            val few = longArrayOf(3, 500, 999)
            assertEquals(few.toSet(), vv.search(q, 10, VectorFilter.ids(*few)).map { it.id }.toSet())
            // nothing matches
            assertTrue(vv.search(q, 10, VectorFilter.metadata(mapOf("group" to 42))).isEmpty())
            assertTrue(vv.search(q, 10, VectorFilter.metadata(mapOf("absent" to 1))).isEmpty())
            assertTrue(vv.search(q, 10, VectorFilter.ids(5000, 6000)).isEmpty())
            // the filter applies to every query of searchMany; get takes one
            val qs = List(3) { randomVector(rnd, VectorType.F32, dims) as FloatArray }
            for ((j, hits) in vv.searchMany(qs, 5, VectorFilter.metadata(mapOf("tag" to "t2"))).withIndex()) {
                assertHits(bruteForce(VectorMetric.L2, rows, qs[j], 5) { meta(it)?.get("tag") == "t2" }, hits, "searchMany filter $j", ordered = false)
            }
            val top = bruteForce(VectorMetric.L2, rows, q, 1) { meta(it)?.get("group") == 7L }.single()
            assertEquals("r${top.first - 1}", vv.get(q, VectorFilter.metadata(mapOf("group" to 7))).asString())
            assertThrows<KohakuVaultException.NotFound> { vv.get(q, VectorFilter.ids(12345)) }
        }
    }

    // ---------------------------------------------------------------- values and metadata

    @Test
    fun `values map as in KVault`() = VectorKVault(TestSupport.tempDb(), "v", 2, VectorMetric.L2).use { vv ->
        val values = listOf<Any?>("text", 42L, 7, 2.5, true, byteArrayOf(1, 2, 3), mapOf("a" to listOf(1, "x")),
            listOf(1, 2), null, TaggedValue.of("tagged"), NdArray.of(floatArrayOf(1f, 2f)))
        val ids = values.mapIndexed { i, v -> vv.insert(floatArrayOf(i.toFloat(), 0f), v) }
        for ((i, v) in values.withIndex()) {
            val got = vv.getById(ids[i]).value
            val want = TaggedValue.from(v)
            assertEquals(want.kind, got.kind, "kind of value $i")
            assertEquals(comparable(want), comparable(got), "value $i")
            val hit = vv.search(floatArrayOf(i.toFloat(), 0f), 1).single()
            assertEquals(ids[i], hit.id)
            assertEquals(got, hit.value)
        }
        assertEquals(mapOf("a" to listOf(1L, "x")), vv.getById(ids[6]).value.toPlain())
        assertArrayEquals(byteArrayOf(1, 2, 3), vv.getById(ids[5]).value.payload)
        assertEquals(Kind.RAW, vv.getById(ids[5]).value.kind)
        // `vv[vector] = value` and `vv[query]`
        vv[floatArrayOf(100f, 100f)] = "far"
        assertEquals("far", vv[floatArrayOf(99f, 99f)].asString())
        assertTrue(vv.headersEnabled)
        // metadata of every plain type comes back
        val meta = mapOf("s" to "é", "i" to -5L, "f" to 0.25, "b" to false, "n" to null, "l" to listOf(1L, 2L), "m" to mapOf("k" to "v"))
        val id = vv.insert(floatArrayOf(-1f, -1f), "m", meta)
        assertEquals(meta, vv.getById(id).metadata)
        assertNull(vv.getById(ids[0]).metadata)
    }

    /** A decoded value in a form whose equals compares contents (arrays as lists). */
    private fun comparable(v: TaggedValue): Any? = when (val p = v.toPlain()) {
        is ByteArray -> p.toList()
        is NdArray -> Triple(p.dtype, p.shape.toList(), p.data.toList())
        else -> p
    }

    // ---------------------------------------------------------------- persistence

    @Test
    fun `persistence, reopen mismatch and read-only`() {
        val path = TestSupport.tempDb()
        VectorKVault(path, "p", 4, VectorMetric.L2).use { vv ->
            vv.insert(floatArrayOf(1f, 0f, 0f, 0f), "one", mapOf("g" to "x"))
            vv.insert(floatArrayOf(0f, 1f, 0f, 0f), "two")
            assertTrue(vv.checkpoint().busy >= 0)
        }
        VectorKVault.open(path, "p", 4, VectorMetric.L2) { vv ->
            assertEquals(2L, vv.count())
            assertEquals("two", vv.search(floatArrayOf(0f, 0.9f, 0f, 0f), 1).single().value.asString())
            assertEquals(mapOf("g" to "x"), vv.getById(1).metadata)
        }
        fun mismatch(vararg words: String, open: () -> VectorKVault) {
            val e = assertThrows<KohakuVaultException.InvalidArgument> { open().close() }
            for (w in words) {
                assertTrue(w.split('|').any { e.reason.lowercase().contains(it) }, "'${e.reason}' names $w")
            }
        }
        mismatch("4", "8") { VectorKVault(path, "p", 8, VectorMetric.L2) }
        mismatch("l2", "l1") { VectorKVault(path, "p", 4, VectorMetric.L1) }
        mismatch("f32|float", "int8") { VectorKVault(path, "p", 4, VectorMetric.L2, VectorType.INT8) }
        mismatch("l2", "cosine") { VectorKVault(path, "p", 4) }
        // the mismatches changed nothing
        VectorKVault(path, "p", 4, VectorMetric.L2).use { assertEquals(2L, it.count()) }
        // another table in the same file is independent
        VectorKVault(path, "q", 8, VectorMetric.HAMMING, VectorType.BIT).use { vv ->
            assertEquals(0L, vv.count())
            vv.insert(byteArrayOf(0x0F), "bits")
        }
        VectorKVault(path, "p", 4, VectorMetric.L2, options = OpenOptions(readOnly = true)).use { ro ->
            assertTrue(ro.isReadOnly)
            assertEquals(2L, ro.count())
            assertEquals(1L, ro.search(floatArrayOf(1f, 0f, 0f, 0f), 1).single().id)
            assertThrows<KohakuVaultException.ReadOnly> { ro.insert(floatArrayOf(1f, 1f, 1f, 1f), "x") }
            assertThrows<KohakuVaultException.ReadOnly> { ro.insertMany(listOf(floatArrayOf(1f, 1f, 1f, 1f)), listOf("x")) }
            assertThrows<KohakuVaultException.ReadOnly> { ro.update(1, value = "y") }
            assertThrows<KohakuVaultException.ReadOnly> { ro.delete(1) }
            assertThrows<KohakuVaultException.ReadOnly> { ro.compact() }
            assertEquals(2L, ro.count())
            assertEquals("one", ro.getById(1).value.asString())
        }
        assertThrows<KohakuVaultException> { VectorKVault(path, "absent", 4, options = OpenOptions(readOnly = true)).close() }
    }

    // ---------------------------------------------------------------- update, delete, compact

    @Test
    fun `update, delete and compact`() = VectorKVault(TestSupport.tempDb(), "u", 3, VectorMetric.L2).use { vv ->
        val ids = vv.insertMany(List(10) { floatArrayOf(it.toFloat(), 0f, 0f) }, List(10) { "v$it" },
            List(10) { mapOf("n" to it) })
        // vector only
        vv.update(ids[0], floatArrayOf(50f, 0f, 0f))
        assertEquals(ids[0], vv.search(floatArrayOf(49f, 0f, 0f), 1).single().id)
        assertEquals("v0", vv.getById(ids[0]).value.asString())
        assertEquals(mapOf("n" to 0L), vv.getById(ids[0]).metadata)
        // value only
        vv.update(ids[1], value = 99L)
        assertEquals(99L, vv.getById(ids[1]).value.asLong())
        assertArrayEquals(floatArrayOf(1f, 0f, 0f), vv.getById(ids[1]).floats)
        // metadata only: the filter sees it
        vv.update(ids[2], metadata = mapOf("n" to 100))
        assertEquals(listOf(ids[2]), vv.search(floatArrayOf(0f, 0f, 0f), 5, VectorFilter.metadata(mapOf("n" to 100))).map { it.id })
        assertTrue(vv.search(floatArrayOf(0f, 0f, 0f), 5, VectorFilter.metadata(mapOf("n" to 2))).isEmpty())
        // all three
        vv.update(ids[3], floatArrayOf(-7f, 0f, 0f), "new", mapOf("z" to true))
        assertEquals(VectorRecord(ids[3], floatArrayOf(-7f, 0f, 0f), TaggedValue.of("new"), mapOf("z" to true)), vv.getById(ids[3]))
        // nothing to update, a missing id
        assertThrows<KohakuVaultException.InvalidArgument> { vv.update(ids[4]) }
        assertThrows<KohakuVaultException.NotFound> { vv.update(1000, value = "x") }
        assertThrows<KohakuVaultException.InvalidArgument> { vv.update(ids[4], floatArrayOf(1f)) }
        assertThrows<KohakuVaultException.InvalidArgument> { vv.update(ids[4], floatArrayOf(Float.NaN, 0f, 0f)) }
        assertEquals("v4", vv.getById(ids[4]).value.asString())
        assertArrayEquals(floatArrayOf(4f, 0f, 0f), vv.getById(ids[4]).floats)

        // delete
        assertTrue(vv.delete(ids[5]))
        assertFalse(vv.delete(ids[5]))
        assertFalse(ids[5] in vv)
        assertTrue(ids[6] in vv)
        assertFalse(vv.exists(12345))
        val nf = assertThrows<KohakuVaultException.NotFound> { vv.getById(ids[5]) }
        assertEquals("ID ${ids[5]} not found", nf.reason)
        assertTrue(vv.search(floatArrayOf(5f, 0f, 0f), 10).none { it.id == ids[5] })
        assertEquals(9L, vv.count())

        // more rows than one sqlite-vec chunk (1024 slots): the slot of id 6, freed in the newest chunk, is filled
        // again; slots freed in an older chunk stay allocated until compact
        assertEquals(0L, vv.info().deletedSlots)
        val more = vv.insertMany(List(1090) { floatArrayOf(10f + it, 1f, 0f) }, List(1090) { "w$it" })
        assertArrayEquals(LongArray(1090) { 11L + it }, more)
        assertEquals(0L, vv.info().deletedSlots)
        assertTrue(vv.delete(ids[7]))
        assertTrue(vv.delete(ids[8]))
        assertTrue(vv.delete(more.last()))   // the last id (newest chunk): never reused
        assertEquals(1096L, vv.count())
        val slots = vv.info().deletedSlots
        assertEquals(2L, slots, "the deleted slots of the older chunk (ids ${ids[7]} and ${ids[8]})")

        // compact: reclaims them, keeps ids, rows and results
        val probes = listOf(floatArrayOf(3f, 0f, 0f), floatArrayOf(8f, 1f, 0f), floatArrayOf(600f, 1f, 0f))
        val before = vv.searchMany(probes, 10)
        val recordsBefore = vv.ids().map { vv.getById(it) }
        assertEquals(slots, vv.compact())
        assertEquals(0L, vv.info().deletedSlots)
        assertEquals(1096L, vv.info().count)
        assertEquals(0L, vv.compact())
        val kept = (ids.toList() + more.toList()).filter { it != ids[5] && it != ids[7] && it != ids[8] && it != more.last() }
        assertEquals(kept, vv.ids().toList())
        assertEquals(recordsBefore, vv.ids().map { vv.getById(it) })
        assertEquals(before, vv.searchMany(probes, 10))
        val next = vv.insert(floatArrayOf(0f, 0f, 1f), "after")
        assertTrue(next > more.last(), "ids are never reused: $next after ${more.last()}")
        assertEquals(kept + next, vv.ids().toList())
    }

    // ---------------------------------------------------------------- use after close

    @Test
    fun `every member throws Closed after close`() {
        val vv = VectorKVault(TestSupport.tempDb(), "c", 2, VectorMetric.L2)
        vv.insert(floatArrayOf(1f, 2f), "x")
        vv.close()
        vv.close()   // idempotent
        assertTrue(vv.isClosed)
        assertTrue(vv.toString().contains("closed"))
        val q = floatArrayOf(1f, 2f)
        val ops: List<Pair<String, () -> Any?>> = listOf(
            "insert" to { vv.insert(q, "y") },
            "insert bad vector" to { vv.insert(floatArrayOf(1f), "y") },
            "insert bytes" to { vv.insert(byteArrayOf(1, 2), "y") },
            "set" to { vv[q] = "y" },
            "insertMany" to { vv.insertMany(listOf(q), listOf("y")) },
            "insertMany empty" to { vv.insertMany(emptyList<FloatArray>(), emptyList()) },
            "search" to { vv.search(q) },
            "search k=0" to { vv.search(q, 0) },
            "searchMany" to { vv.searchMany(listOf(q, q), 3) },
            "searchMany empty" to { vv.searchMany(emptyList<FloatArray>()) },
            "get" to { vv[q] },
            "get filtered" to { vv.get(q, VectorFilter.ids(1)) },
            "getById" to { vv.getById(1) },
            "update" to { vv.update(1, value = "z") },
            "update vector" to { vv.update(1, q) },
            "delete" to { vv.delete(1) },
            "exists" to { vv.exists(1) },
            "contains" to { 1L in vv },
            "count" to { vv.count() },
            "size" to { vv.size },
            "isEmpty" to { vv.isEmpty() },
            "ids" to { vv.ids() },
            "info" to { vv.info() },
            "compact" to { vv.compact() },
            "checkpoint" to { vv.checkpoint() },
            "headersEnabled" to { vv.headersEnabled },
            "set headersEnabled" to { vv.headersEnabled = false },
        )
        for ((name, op) in ops) {
            val e = assertThrows<KohakuVaultException.Closed>(name) { op() }
            assertTrue(e.reason.contains("VectorKVault is closed"), "$name: ${e.reason}")
        }
    }

    // ---------------------------------------------------------------- bad input changes nothing

    @Test
    fun `bad input throws the typed error and changes nothing`() {
        VectorKVault(TestSupport.tempDb(), "b", 4, VectorMetric.L2).use { vv ->
            val ok = floatArrayOf(1f, 2f, 3f, 4f)
            vv.insert(ok, "keep", mapOf("a" to 1))
            fun unchanged() {
                assertEquals(1L, vv.count())
                assertArrayEquals(longArrayOf(1), vv.ids())
                assertEquals(VectorRecord(1, ok, TaggedValue.of("keep"), mapOf("a" to 1L)), vv.getById(1))
                assertEquals(0L, vv.info().deletedSlots)
            }
            val bad: List<Pair<String, () -> Any?>> = listOf(
                "short vector" to { vv.insert(floatArrayOf(1f, 2f, 3f), "x") },
                "long vector" to { vv.insert(FloatArray(5), "x") },
                "NaN" to { vv.insert(floatArrayOf(1f, Float.NaN, 3f, 4f), "x") },
                "infinity" to { vv.insert(floatArrayOf(1f, Float.POSITIVE_INFINITY, 3f, 4f), "x") },
                "-infinity" to { vv.insert(floatArrayOf(Float.NEGATIVE_INFINITY, 0f, 0f, 0f), "x") },
                "bytes in an f32 vault" to { vv.insert(ByteArray(16), "x") },
                "not a plain value" to { vv.insert(ok, Any()) },
                "bad metadata" to { vv.insert(ok, "x", mapOf("o" to Any())) },
                "insertMany one NaN" to { vv.insertMany(listOf(ok, floatArrayOf(0f, 0f, Float.NaN, 0f), ok), listOf("a", "b", "c")) },
                "insertMany one short" to { vv.insertMany(listOf(ok, floatArrayOf(0f, 0f, 0f), FloatArray(5)), listOf("a", "b", "c")) },
                "insertMany sizes" to { vv.insertMany(listOf(ok, ok), listOf("a")) },
                "insertMany metadata size" to { vv.insertMany(listOf(ok, ok), listOf("a", "b"), listOf(null)) },
                "insertMany bad value" to { vv.insertMany(listOf(ok, ok), listOf("a", Any())) },
                "search short" to { vv.search(floatArrayOf(1f)) },
                "search NaN" to { vv.search(floatArrayOf(Float.NaN, 0f, 0f, 0f)) },
                "search k huge" to { vv.search(ok, 1_000_001) },
                "search k negative" to { vv.search(ok, -1) },
                "searchMany one short" to { vv.searchMany(listOf(ok, floatArrayOf(1f, 2f))) },
                "searchMany k huge" to { vv.searchMany(listOf(ok), Int.MAX_VALUE) },
                "search bytes" to { vv.search(ByteArray(4)) },
                "update short" to { vv.update(1, floatArrayOf(1f)) },
                "update NaN" to { vv.update(1, floatArrayOf(Float.NaN, 0f, 0f, 0f), "new", mapOf("b" to 2)) },
                "update nothing" to { vv.update(1) },
                "update bad value" to { vv.update(1, ok, Any()) },
            )
            for ((name, op) in bad) {
                assertThrows<KohakuVaultException.InvalidArgument>(name) { op() }
                unchanged()
            }
            // k = 1_000_000 is allowed; k = 0 returns nothing
            assertEquals(1, vv.search(ok, 1_000_000).size)
            assertTrue(vv.search(ok, 0).isEmpty())
            assertTrue(vv.searchMany(emptyList<FloatArray>()).isEmpty())
            assertEquals(0, vv.insertMany(emptyList<FloatArray>(), emptyList()).size)
            unchanged()
        }
        VectorKVault(TestSupport.tempDb(), "bi", 16, VectorMetric.HAMMING, VectorType.BIT).use { vv ->
            vv.insert(byteArrayOf(1, 2), "keep")
            assertThrows<KohakuVaultException.InvalidArgument> { vv.insert(byteArrayOf(1), "x") }
            assertThrows<KohakuVaultException.InvalidArgument> { vv.insert(ByteArray(16), "x") }   // 16 bits = 2 bytes
            assertThrows<KohakuVaultException.InvalidArgument> { vv.insert(FloatArray(16), "x") }
            assertThrows<KohakuVaultException.InvalidArgument> { vv.search(byteArrayOf(1, 2, 3)) }
            assertEquals(1L, vv.count())
            assertEquals(0f, vv.search(byteArrayOf(1, 2), 1).single().distance)
            assertEquals(1f, vv.search(byteArrayOf(1, 3), 1).single().distance)
        }
        VectorKVault(TestSupport.tempDb(), "i8", 3, VectorMetric.L1, VectorType.INT8).use { vv ->
            vv.insert(byteArrayOf(-128, 0, 127), "keep")
            assertThrows<KohakuVaultException.InvalidArgument> { vv.insert(byteArrayOf(1, 2), "x") }
            assertThrows<KohakuVaultException.InvalidArgument> { vv.insert(floatArrayOf(1f, 2f, 3f), "x") }
            assertEquals(1L, vv.count())
            assertEquals(255f + 127f, vv.search(byteArrayOf(127, 0, 0), 1).single().distance)
            assertArrayEquals(byteArrayOf(-128, 0, 127), vv.getById(1).bytes)
        }
    }

    // ---------------------------------------------------------------- threads

    @Test
    fun `8 threads search one handle while one inserts`() = VectorKVault(TestSupport.tempDb(), "t", 16, VectorMetric.COSINE).use { vv ->
        val rnd = Random(8)
        vv.insertMany(List(500) { randomVector(rnd, VectorType.F32, 16) as FloatArray }, List(500) { "base$it" })
        val extra = List(200) { randomVector(rnd, VectorType.F32, 16) as FloatArray }
        val queries = List(8) { t -> List(40) { randomVector(Random(100 + t * 40 + it), VectorType.F32, 16) as FloatArray } }
        val errors = Collections.synchronizedList(ArrayList<Throwable>())
        val start = CountDownLatch(1)
        val searches = AtomicInteger()
        val readers = List(8) { t ->
            Thread {
                try {
                    start.await()
                    for ((j, q) in queries[t].withIndex()) {
                        val hits = if (j % 4 == 3) vv.searchMany(listOf(q, q), 5)[1] else vv.search(q, 5)
                        check(hits.size == 5) { "thread $t query $j: ${hits.size} hits" }
                        for (i in 1 until hits.size) check(hits[i - 1].distance <= hits[i].distance) { "unsorted hits" }
                        for (h in hits) check(h.value.asString().let { it == "base${h.id - 1}" || it == "extra${h.id - 501}" }) { "value of ${h.id}" }
                        searches.incrementAndGet()
                    }
                } catch (e: Throwable) {
                    errors.add(e)
                }
            }
        }
        val writer = Thread {
            try {
                start.await()
                for ((i, v) in extra.withIndex()) check(vv.insert(v, "extra$i") == 501L + i) { "id of extra $i" }
            } catch (e: Throwable) {
                errors.add(e)
            }
        }
        (readers + writer).forEach { it.start() }
        start.countDown()
        (readers + writer).forEach { it.join(120_000) }
        assertTrue(errors.isEmpty(), "errors: $errors")
        assertEquals(8 * 40, searches.get())
        assertEquals(700L, vv.count())
        // after the writes every row is found
        assertEquals(700L - 1, vv.search(extra[198], 1).single().id)
    }

    // ---------------------------------------------------------------- coroutines

    @Test
    fun `suspending vault`() = runBlocking {
        val path = TestSupport.tempDb()
        val sv = openVectorVault(path, "s", 2, VectorMetric.L2)
        assertEquals(1L, sv.insert(floatArrayOf(0f, 0f), "origin", mapOf("k" to 1)))
        assertArrayEquals(longArrayOf(2, 3), sv.insertMany(listOf(floatArrayOf(1f, 0f), floatArrayOf(0f, 5f)), listOf("x", "y")))
        assertEquals(listOf(1L, 2L), sv.search(floatArrayOf(0.1f, 0f), 2).map { it.id })
        assertEquals(listOf(listOf(3L)), sv.searchMany(listOf(floatArrayOf(0f, 4f)), 1).map { l -> l.map { it.id } })
        assertEquals("y", sv.get(floatArrayOf(0f, 9f)).asString())
        assertEquals(mapOf("k" to 1L), sv.getById(1).metadata)
        sv.update(2, value = "x2")
        assertEquals("x2", sv.getById(2).value.asString())
        assertTrue(sv.delete(2))
        assertFalse(sv.exists(2))
        assertEquals(2L, sv.count())
        assertArrayEquals(longArrayOf(1, 3), sv.ids())
        val slots = sv.info().deletedSlots
        assertEquals(slots, sv.compact())
        assertEquals(0L, sv.info().deletedSlots)
        sv.checkpoint()
        sv.close()
        assertThrows<KohakuVaultException.Closed> { runBlocking { sv.count() } }
        VectorKVault(path, "s", 2, VectorMetric.L2).suspending().run { s ->
            assertEquals(2L, s.count()); s.close()
        }
        Unit
    }
}
