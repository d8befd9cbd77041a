package io.kohakuvault.bench

import io.kohakuvault.ColumnVault
import io.kohakuvault.FloatTensorColumn
import io.kohakuvault.KVault
import io.kohakuvault.LongColumn
import io.kohakuvault.TextDoc
import io.kohakuvault.TextVault
import io.kohakuvault.VectorKVault
import io.kohakuvault.VectorMetric
import io.kohakuvault.createColumn
import io.kohakuvault.uniffi.KvStore
import io.kohakuvault.uniffi.OpenOptions
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.io.File
import java.nio.file.Files
import kotlin.random.Random

/*
 * Kotlin/JVM micro-benchmark of the KVault facade (run: scripts/bench-kotlin.sh). Not a test.
 * Each figure is the median of several timed rounds after a warm-up (see medianNanos); one FFI call costs tens of µs
 * under JNA, so batches are one call. The last section (OrderedBench.kt) compares CSBTree and SkipList with the JDK's
 * ordered maps; KV_BENCH_ONLY=ordered (or columns) in the environment runs only that section.
 */

private const val N = 10_000
private const val VALUE_SIZE = 256
private const val SINGLE_GETS = 1000
private const val ROUNDS = 7
private const val WARMUP_NANOS = 1_000_000_000L

/**
 * The median of [rounds] timed runs of [block], after at least [warmup] untimed runs and at least a second of
 * them (JIT compilation, direct buffers and SQLite's WAL reach their steady state; right after start-up the JVM's
 * background compilation also competes for the CPU).
 */
private fun medianNanos(rounds: Int = ROUNDS, warmup: Int = 2, block: () -> Unit): Long {
    val start = System.nanoTime()
    var runs = 0
    while (runs < warmup || System.nanoTime() - start < WARMUP_NANOS) {
        block()
        runs++
    }
    val t = LongArray(rounds) {
        val s = System.nanoTime()
        block()
        System.nanoTime() - s
    }
    t.sort()
    return t[rounds / 2]
}

private fun report(name: String, nanos: Long, items: Int) {
    val ms = nanos / 1e6
    val per = nanos / 1e3 / items
    println("%-34s %9.2f ms total  %8.2f µs/item  (%d items)".format(name, ms, per, items))
}

fun main() {
    val dir = Files.createTempDirectory("kvbench").toFile()
    try {
        val rnd = Random(42)
        val keys = List(N) { "key:%06d".format(it) }
        val values = List(N) { ByteArray(VALUE_SIZE).also { b -> rnd.nextBytes(b) } }
        val items = LinkedHashMap<String, ByteArray>().apply { keys.indices.forEach { put(keys[it], values[it]) } }

        println("KohakuVault Kotlin/JVM benchmark, core ${KVault.coreVersion()}, JVM ${System.getProperty("java.version")}")
        if (System.getenv("KV_BENCH_ONLY") == "ordered") {
            benchOrdered()
            return
        }
        if (System.getenv("KV_BENCH_ONLY") == "columns") {
            benchColumns(dir)
            return
        }
        KVault(File(dir, "bench.db").path).use { kv ->
            report("put_many ${N}x${VALUE_SIZE}B (1 call)", medianNanos { kv.putMany(items) }, N)
            report("batch {} ${N}x${VALUE_SIZE}B (1 call)", medianNanos {
                kv.batch { for (i in 0 until N) this[keys[i]] = values[i] }
            }, N)

            var sink = 0
            report("get_many $N keys (1 call)", medianNanos {
                sink += kv.getMany(keys).size
            }, N)
            report("get_many_tagged $N keys", medianNanos {
                sink += kv.getManyTagged(keys).size
            }, N)

            val probe = List(SINGLE_GETS) { keys[rnd.nextInt(N)] }
            report("single get x$SINGLE_GETS (kv[key])", medianNanos {
                for (k in probe) sink += kv[k]!!.size
            }, SINGLE_GETS)
            report("single getTagged x$SINGLE_GETS", medianNanos {
                for (k in probe) sink += kv.getTagged(k)!!.payload.size
            }, SINGLE_GETS)
            report("single put x$SINGLE_GETS (no cache)", medianNanos(rounds = 3, warmup = 1) {
                for (k in probe) kv[k] = values[0]
            }, SINGLE_GETS)
            report("cached put x$N (combined)", medianNanos(rounds = 3, warmup = 1) {
                kv.cache(capBytes = 64L shl 20) { for (i in 0 until N) this[keys[i]] = values[i] }
            }, N)
            report("scan items $N (pages of 128)", medianNanos(rounds = 3, warmup = 1) {
                sink += kv.items("key:").count()
            }, N)
            report("scan items $N (pages of 1024)", medianNanos(rounds = 3, warmup = 1) {
                sink += kv.items("key:", pageSize = 1024).count()
            }, N)
            report("scan keys $N (pages of 1024)", medianNanos(rounds = 3, warmup = 1) {
                sink += kv.keys("key:").count()
            }, N)
            if (sink == 42) println()
        }

        // The generated API directly, for comparison: what the facade saves (fast path) or adds (packing).
        KvStore(File(dir, "bench.db").path, "kv", OpenOptions()).use { st ->
            val packed = ByteBuffer.allocateDirect(N * (9 + 10 + VALUE_SIZE)).order(ByteOrder.LITTLE_ENDIAN)
            for (i in 0 until N) {
                val k = keys[i].toByteArray()
                packed.put(0).putInt(k.size).putInt(VALUE_SIZE).put(k).put(values[i])
            }
            packed.flip()
            report("uniffi put_many, prebuilt buffer", medianNanos { st.putMany(packed.duplicate()) }, N)
            val probe = List(SINGLE_GETS) { keys[rnd.nextInt(N)].toByteArray() }
            val kb = ByteBuffer.allocateDirect(64)
            var n = 0
            report("uniffi KvStore.get x$SINGLE_GETS (no fast path)", medianNanos {
                for (k in probe) {
                    kb.clear(); kb.put(k); kb.flip()
                    n += st.get(kb.slice())!!.payload.size
                }
            }, SINGLE_GETS)
            st.closeStore()
            if (n == 42) println()
        }
        benchColumns(dir)
        benchVectors(dir)
        benchTexts(dir)
        benchOrdered()
    } finally {
        dir.deleteRecursively()
    }
}

private const val COL_N = 1_000_000
private const val TENSOR_N = 100_000
private const val TENSOR_DIM = 384

/** The median of [rounds] timings of [block], each after an untimed [setup] (not counted), after [warmup] rounds. */
private fun <S> medianWithSetup(rounds: Int, warmup: Int, setup: (Int) -> S, block: (S) -> Unit): Long {
    repeat(warmup) { block(setup(-1 - it)) }
    val t = LongArray(rounds) {
        val s = setup(it)
        val t0 = System.nanoTime()
        block(s)
        System.nanoTime() - t0
    }
    t.sort()
    return t[rounds / 2]
}

private fun reportBytes(name: String, nanos: Long, bytes: Long) {
    println("%-34s %9.2f ms total  %8.2f GB/s".format(name, nanos / 1e6, bytes / (nanos / 1e9) / 1e9))
}

/** ColumnVault: bulk Long appends and reads (C fast path), 384-d float tensors (benchmarks/rust/col.rs's sizes). */
private fun benchColumns(dir: File) {
    println("-- ColumnVault")
    val longs = LongArray(COL_N) { it.toLong() }
    ColumnVault(File(dir, "col.db").path).use { cv ->
        var k = 0
        reportBytes("append 1M Long (appendAll)", medianWithSetup(7, 2, { cv.createColumn<LongColumn>("i${k++}", "i64") }) {
            it.appendAll(longs)
        }, 8L * COL_N)
        val c = cv.column("i0") as LongColumn
        var sink = 0L
        reportBytes("read 1M Long (toLongArray)", medianNanos(rounds = 11) { sink += c.toLongArray()[COL_N - 1] }, 8L * COL_N)
        reportBytes("read 1M Long (read 0..1M)", medianNanos(rounds = 11) { sink += c.read(0, COL_N)[7] }, 8L * COL_N)
        report("get(i) x1000 (fast path)", medianNanos { for (i in 0 until 1000) sink += c.getLong(i * 997L) }, 1000)
        report("iterate 1M Long (paged)", medianNanos(rounds = 3, warmup = 1) { for (v in c) sink += v }, COL_N)
        for (i in 1 until k) cv.deleteColumn("i$i")

        val flat = FloatArray(TENSOR_N * TENSOR_DIM) { it.toFloat() }
        val rows = List(TENSOR_N) { r -> flat.copyOfRange(r * TENSOR_DIM, (r + 1) * TENSOR_DIM) }
        val bytes = 4L * TENSOR_N * TENSOR_DIM
        var t = 0
        reportBytes("append 100k x 384 f32 (rows)", medianWithSetup(3, 1, {
            cv.createColumn<FloatTensorColumn>("t${t++}", "vec:f32:$TENSOR_DIM")
        }) { it.appendAll(rows) }, bytes)
        reportBytes("append 100k x 384 f32 (flat)", medianWithSetup(3, 1, {
            cv.createColumn<FloatTensorColumn>("t${t++}", "vec:f32:$TENSOR_DIM")
        }) { it.appendFlat(flat) }, bytes)
        val tc = cv.column("t0") as FloatTensorColumn
        reportBytes("read 100k x 384 f32 (readFlat)", medianNanos(rounds = 5) { sink += tc.readFlat(0, TENSOR_N).size }, bytes)
        reportBytes("read 100k x 384 f32 (rows)", medianNanos(rounds = 5) { sink += tc.read(0, TENSOR_N).size }, bytes)
        // The Python row's workload: one column in a file of its own (the reads above share a
        // file of ~1.2 GB with seven other tensor columns).
        ColumnVault(File(dir, "tensor-read.db").path).use { own ->
            val e = own.createColumn<FloatTensorColumn>("e", "vec:f32:$TENSOR_DIM")
            e.appendFlat(flat)
            reportBytes("read 100k x 384 f32 (readFlat, own file)", medianNanos(rounds = 5) {
                sink += e.readFlat(0, TENSOR_N).size
            }, bytes)
        }
        if (sink == 42L) println()
    }
}

private const val VEC_N = 100_000
private const val VEC_DIM = 384
private const val VEC_CHUNK = 10_000
private const val VEC_QUERIES = 10
private const val VEC_MANY = 100
private const val SMALL_N = 2_000
private const val SMALL_DIM = 128
private const val SMALL_SEARCHES = 200

/** A search row: time per query and millions of stored vectors scanned per second. */
private fun reportScan(name: String, nanos: Long, queries: Int, rows: Int) {
    val per = nanos / 1e3 / queries
    println("%-34s %9.2f ms total  %8.2f µs/query  %7.1f M vectors/s".format(name, nanos / 1e6, per,
        rows.toDouble() * queries / (nanos / 1e9) / 1e6))
}

/**
 * VectorKVault: insertMany and exact search over 100k x 384 f32 (cosine and l2; every search scans the table), one
 * searchMany call of 100 queries, and 2k x 128 inserts one by one with 200 searches (sizes of
 * benchmarks/python/bench_vec.py).
 */
private fun benchVectors(dir: File) {
    println("-- VectorKVault")
    val rnd = Random(384)
    val rows = List(VEC_N) { FloatArray(VEC_DIM) { rnd.nextFloat() * 2 - 1 } }
    val values = List(VEC_N) { "doc $it" }
    val queries = List(VEC_MANY) { FloatArray(VEC_DIM) { rnd.nextFloat() * 2 - 1 } }
    val few = queries.subList(0, VEC_QUERIES)
    var sink = 0L
    for (metric in listOf(VectorMetric.COSINE, VectorMetric.L2)) {
        val name = metric.coreName
        VectorKVault(File(dir, "vec_$name.db").path, "vec", VEC_DIM, metric).use { vv ->
            val t0 = System.nanoTime()
            for (s in 0 until VEC_N step VEC_CHUNK) {
                sink += vv.insertMany(rows.subList(s, s + VEC_CHUNK), values.subList(s, s + VEC_CHUNK)).size
            }
            report("insertMany 100k x $VEC_DIM $name (${VEC_N / VEC_CHUNK} calls)", System.nanoTime() - t0, VEC_N)
            reportScan("search k=10 100k x $VEC_DIM $name", medianNanos(rounds = 5, warmup = 1) {
                for (q in few) sink += vv.search(q, 10).size
            }, VEC_QUERIES, VEC_N)
            if (metric == VectorMetric.COSINE) {
                reportScan("search k=100 100k x $VEC_DIM $name", medianNanos(rounds = 5, warmup = 1) {
                    for (q in few) sink += vv.search(q, 100).size
                }, VEC_QUERIES, VEC_N)
                reportScan("searchMany $VEC_MANY queries k=10 (1 call)", medianNanos(rounds = 5, warmup = 1) {
                    sink += vv.searchMany(queries, 10).size
                }, VEC_MANY, VEC_N)
            }
        }
        File(dir, "vec_$name.db").delete()
    }

    val small = List(SMALL_N) { FloatArray(SMALL_DIM) { rnd.nextFloat() * 2 - 1 } }
    val smallQueries = List(SMALL_SEARCHES) { small[rnd.nextInt(SMALL_N)] }
    val opened = ArrayList<VectorKVault>()
    try {
        report("insert x$SMALL_N one by one ($SMALL_DIM-d)", medianWithSetup(3, 1, {
            VectorKVault(File(dir, "vec_small.db").path, "s${opened.size}", SMALL_DIM).also { opened.add(it) }
        }) { vv ->
            for ((i, v) in small.withIndex()) sink += vv.insert(v, i.toLong())
        }, SMALL_N)
        val vv = opened[0]
        reportScan("search k=10 x$SMALL_SEARCHES ($SMALL_N x $SMALL_DIM)", medianNanos {
            for (q in smallQueries) sink += vv.search(q, 10).size
        }, SMALL_SEARCHES, SMALL_N)
    } finally {
        for (v in opened) v.close()
    }
    if (sink == 42L) println()
}

private const val TEXT_N = 100_000
private const val TEXT_VOCAB = 5_000
private const val TEXT_SINGLE = 2_000
private const val TEXT_QUERIES = 1_000
private const val TEXT_HYBRID_QUERIES = 100
private const val TEXT_DIM = 384
private const val TEXT_CHUNK = 10_000

/** Latency of single calls: median and 99th percentile of [nanos] (one entry per call). */
private fun reportLatency(name: String, nanos: LongArray) {
    nanos.sort()
    val p = { q: Double -> nanos[((nanos.size - 1) * q).toInt()] / 1e3 }
    println("%-34s p50 %9.1f µs  p99 %9.1f µs  (%d calls)".format(name, p(0.50), p(0.99), nanos.size))
}

/** Times [call] once per element of [inputs] (after one untimed pass over the first tenth). */
private fun <T> latencies(inputs: List<T>, call: (T) -> Int): LongArray {
    var sink = 0
    for (x in inputs.subList(0, maxOf(1, inputs.size / 10))) sink += call(x)
    val out = LongArray(inputs.size) { i ->
        val t0 = System.nanoTime()
        sink += call(inputs[i])
        System.nanoTime() - t0
    }
    if (sink == 42) println()
    return out
}

/**
 * TextVault (sizes of benchmarks/python/bench_text.py): insertMany of 100k short documents in one call, inserts one
 * by one, top-10 search and snippet latency on the 100k documents (one-word queries drawn as the words are, so both
 * common and rare words; and two-word phrases), and hybrid search latency on 100k documents × 384-d f32 vectors.
 * Words follow a Zipf-like law over a synthetic vocabulary of 5,000 words; documents have 8 to 23 words.
 */
private fun benchTexts(dir: File) {
    println("-- TextVault")
    val rnd = Random(1234)
    val vocab = List(TEXT_VOCAB) { i -> buildString { var x = i + 1; while (x > 0) { append('a' + x % 26); x /= 26 }; append("x") } }
    // P(word i) ~ 1 / (i + 1): the cumulative weights, sampled by binary search
    val cum = DoubleArray(TEXT_VOCAB).also { c -> var t = 0.0; for (i in c.indices) { t += 1.0 / (i + 1); c[i] = t } }
    fun word(): String {
        val r = rnd.nextDouble() * cum.last()
        var i = java.util.Arrays.binarySearch(cum, r)
        if (i < 0) i = -i - 1
        return vocab[i.coerceAtMost(TEXT_VOCAB - 1)]
    }
    val texts = List(TEXT_N) { List(8 + rnd.nextInt(16)) { word() }.joinToString(" ") }
    val docs = texts.mapIndexed { i, t -> TextDoc(t, i.toLong()) }
    val oneWord = List(TEXT_QUERIES) { word() }
    val phrases = List(TEXT_QUERIES) { texts[rnd.nextInt(TEXT_N)].split(' ').take(2).joinToString(" ") }
    var sink = 0L

    val opened = ArrayList<TextVault>()
    try {
        val nanos = medianWithSetup(3, 1, {
            TextVault(File(dir, "text_${opened.size}.db").path, "t").also { opened.add(it) }
        }) { tv -> sink += tv.insertMany(docs).size }
        println("%-34s %9.2f ms total  %8.0f docs/s  (%d docs)".format("insertMany 100k short docs (1 call)",
            nanos / 1e6, TEXT_N / (nanos / 1e9), TEXT_N))
        report("insert x$TEXT_SINGLE one by one", medianWithSetup(3, 1, {
            TextVault(File(dir, "text_single_${opened.size}.db").path, "s").also { opened.add(it) }
        }) { tv -> for (i in 0 until TEXT_SINGLE) sink += tv.insert(texts[i], i.toLong()) }, TEXT_SINGLE)

        val tv = opened[0]
        check(tv.count() == TEXT_N.toLong())
        reportLatency("search k=10, one word (100k docs)", latencies(oneWord) { tv.search(it, 10).size })
        reportLatency("search k=10, 2-word phrase", latencies(phrases) { tv.search(it, 10).size })
        reportLatency("searchWithText k=10, one word", latencies(oneWord) { tv.searchWithText(it, 10).size })
        reportLatency("snippets k=10, one word", latencies(oneWord) { tv.searchWithSnippets(it, 10).size })
        reportLatency("countMatches, one word", latencies(oneWord) { tv.countMatches(it).toInt() })
    } finally {
        for (v in opened) v.close()
    }

    val rows = List(TEXT_N) { FloatArray(TEXT_DIM) { rnd.nextFloat() * 2 - 1 } }
    TextVault(File(dir, "text_hybrid.db").path, "h", dimensions = TEXT_DIM).use { tv ->
        val t0 = System.nanoTime()
        for (s in 0 until TEXT_N step TEXT_CHUNK) {
            sink += tv.insertMany((s until s + TEXT_CHUNK).map { TextDoc(texts[it], it.toLong(), rows[it]) }).size
        }
        report("insertMany 100k docs x $TEXT_DIM-d (${TEXT_N / TEXT_CHUNK} calls)", System.nanoTime() - t0, TEXT_N)
        val queries = List(TEXT_HYBRID_QUERIES) { i ->
            (if (i % 2 == 0) oneWord[i] else phrases[i]) to FloatArray(TEXT_DIM) { rnd.nextFloat() * 2 - 1 }
        }
        reportLatency("hybridSearch k=10 (100k x $TEXT_DIM)", latencies(queries) { (q, v) -> tv.hybridSearch(q, v, 10).size })
        reportLatency("searchByVector k=10 (100k x $TEXT_DIM)", latencies(queries) { (_, v) -> tv.searchByVector(v, 10).size })
    }
    if (sink == 42L) println()
}
