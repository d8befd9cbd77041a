package io.kohakuvault.bench

import io.kohakuvault.CSBTree
import io.kohakuvault.OrderedContainer
import io.kohakuvault.OrderedKeyType
import io.kohakuvault.SkipList
import java.util.NavigableMap
import java.util.TreeMap
import java.util.concurrent.ConcurrentSkipListMap
import kotlin.random.Random

/*
 * CSBTree and SkipList (in-memory, the Rust core behind JNA) against java.util.TreeMap and ConcurrentSkipListMap:
 * 100k random keys (Long, then String), per operation (put, get, containsKey, remove, ceilingKey: one native call
 * each through the C fast path; 1000 subMap ranges of 100 entries: one ord_fast_range call each; full iteration: one
 * call per 1024 entries) and in batches (putAll / getAll: one UDL call for the whole batch; the JDK maps loop). Each figure is the median of 3 timed
 * rounds after one untimed round; a fresh map is built (untimed) for every round that needs one.
 */

private const val ORD_N = 100_000
private const val ORD_RANGES = 1000
private const val ORD_RANGE_LEN = 100
private const val ORD_ROUNDS = 3

/** The median of [ORD_ROUNDS] timings of [block] on a fresh [setup] (after one untimed round); [done] disposes. */
private fun <S> ordTimed(setup: () -> S, done: (S) -> Unit, block: (S) -> Unit): Long {
    setup().also { block(it); done(it) }
    val t = LongArray(ORD_ROUNDS) {
        val s = setup()
        val t0 = System.nanoTime()
        block(s)
        val dt = System.nanoTime() - t0
        done(s)
        dt
    }
    t.sort()
    return t[ORD_ROUNDS / 2]
}

private fun ordReport(name: String, nanos: Long, items: Int) {
    println("%-44s %9.2f ms total  %8.2f µs/item  (%d items)".format(name, nanos / 1e6, nanos / 1e3 / items, items))
}

/** One map implementation under test: how to make, fill in one batch, read in one batch, and dispose of it. */
private class Subject<K : Any>(
    val name: String,
    val make: () -> NavigableMap<K, Any>,
    val putAll: (NavigableMap<K, Any>, Map<K, Any>) -> Unit = { m, items -> m.putAll(items) },
    val getAll: (NavigableMap<K, Any>, List<K>) -> Int = { m, ks -> var n = 0; for (k in ks) if (m[k] != null) n++; n },
    val dispose: (NavigableMap<K, Any>) -> Unit = {},
)

private fun <K : Any> subjects(type: OrderedKeyType<K>): List<Subject<K>> {
    fun ours(name: String, make: () -> OrderedContainer<K, Any>) = Subject<K>(
        name, make,
        getAll = { m, ks -> (m as OrderedContainer<K, Any>).getAll(ks).count { it != null } },
        dispose = { (it as OrderedContainer<K, Any>).close() },
    )
    return listOf(
        ours("CSBTree") { CSBTree(type) },
        ours("SkipList") { SkipList(type) },
        Subject("TreeMap", { TreeMap() }),
        Subject("ConcurrentSkipListMap", { ConcurrentSkipListMap() }),
    )
}

private fun <K : Any> benchKeys(label: String, keys: List<K>, subjects: List<Subject<K>>, cmp: Comparator<K>) {
    println("-- CSBTree / SkipList vs JDK maps: ${keys.size / 1000}k random $label keys")
    val values: List<Any> = List(keys.size) { it }
    val items = LinkedHashMap<K, Any>(keys.size * 2).apply { for (i in keys.indices) put(keys[i], values[i]) }
    val sorted = keys.sortedWith(cmp)
    val rnd = Random(99)
    val starts = List(ORD_RANGES) { rnd.nextInt(sorted.size - ORD_RANGE_LEN) }
    var sink = 0L
    val n = keys.size
    for (s in subjects) {
        val filled = { s.make().also { s.putAll(it, items) } }
        val empty = { s.make() }
        ordReport("put x$n  ${s.name}", ordTimed(empty, s.dispose) { m -> for (i in 0 until n) m[keys[i]] = values[i] }, n)
        ordReport("get x$n  ${s.name}", ordTimed(filled, s.dispose) { m -> for (k in keys) if (m[k] != null) sink++ }, n)
        ordReport("containsKey x$n  ${s.name}", ordTimed(filled, s.dispose) { m -> for (k in keys) if (m.containsKey(k)) sink++ }, n)
        ordReport("ceilingKey x$n  ${s.name}", ordTimed(filled, s.dispose) { m -> for (k in keys) if (m.ceilingKey(k) != null) sink++ }, n)
        ordReport("remove x$n  ${s.name}", ordTimed(filled, s.dispose) { m -> for (k in keys) if (m.remove(k) != null) sink++ }, n)
        ordReport("$ORD_RANGES subMap of $ORD_RANGE_LEN  ${s.name}", ordTimed(filled, s.dispose) { m ->
            for (j in starts) for (e in m.subMap(sorted[j], true, sorted[j + ORD_RANGE_LEN], false).entries) sink += 1
        }, ORD_RANGES)
        ordReport("iterate x$n  ${s.name}", ordTimed(filled, s.dispose) { m -> for (e in m.entries) sink++ }, n)
        ordReport("putAll x$n  ${s.name}", ordTimed(empty, s.dispose) { m -> s.putAll(m, items) }, n)
        ordReport("getAll x$n  ${s.name}", ordTimed(filled, s.dispose) { m -> sink += s.getAll(m, keys) }, n)
    }
    if (sink == 42L) println()
}

/** The ordered containers' section of the Kotlin benchmark. */
internal fun benchOrdered() {
    val rnd = Random(2024)
    val longSet = LinkedHashSet<Long>(ORD_N * 2)
    while (longSet.size < ORD_N) longSet.add(rnd.nextLong())
    val longs = longSet.toList()
    benchKeys("Long", longs, subjects(OrderedKeyType.LONG), naturalOrder())

    val strings = longs.map { "%016x".format(it) }
    // hex strings are ASCII, so String.compareTo is the core's code point order
    benchKeys("String (16 chars)", strings, subjects(OrderedKeyType.STRING), naturalOrder())
}
