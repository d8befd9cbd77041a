package io.kohakuvault

import io.kohakuvault.internal.ResultReader
import io.kohakuvault.uniffi.ScanRequest
import java.util.Spliterator
import java.util.Spliterators
import java.util.stream.Stream
import java.util.stream.StreamSupport

/*
 * Paged scans (KvStore.scan, docs/FORMAT.md §4): the one place that turns scan pages into entries. KVault's keys /
 * items / itemsTagged (Sequence), their Iterable and java.util.stream.Stream forms, the map views and the coroutine
 * Flows are all built on [scan].
 */

/** One scan entry: key, and for scans with values the kind (0 unless decoded) and value. */
internal class ScanEntry(val key: ByteArray, val kind: Int, val value: ByteArray?)

/** Checks the scan arguments; both failures are InvalidArgument in every language (tests/conformance/errors.json). */
internal fun checkScanArgs(pageSize: Int, limit: Long?) {
    if (pageSize <= 0) throw KohakuVaultException.InvalidArgument("pageSize must be positive, not $pageSize")
    if (limit != null && limit < 0) throw KohakuVaultException.InvalidArgument("limit must not be negative, not $limit")
}

/**
 * Entries whose key starts with [prefix] (null or empty: all), in key order, [pageSize] per FFI call, at most [limit].
 * Lazy: a page is read when the previous one is used up; a page whose `end` flag is set is the last.
 */
internal fun VaultCore.scan(prefix: ByteArray?, withValues: Boolean, decoded: Boolean, pageSize: Int, limit: Long?):
    Sequence<ScanEntry> {
    checkScanArgs(pageSize, limit)
    val pfx = prefix?.takeIf { it.isNotEmpty() }
    return sequence {
        var after: ByteArray? = null
        var left = limit ?: Long.MAX_VALUE
        while (left > 0) {
            val want = minOf(pageSize.toLong(), left).toInt()
            val page = read { it.scan(ScanRequest(pfx, after, want.toUInt(), withValues, decoded)) }
            val r = ResultReader(page.entries)
            var last: ByteArray? = null
            while (r.hasRemaining) {
                val key = r.lenBytes()
                var kind = 0
                var value: ByteArray? = null
                if (withValues) {
                    kind = r.u8()
                    value = r.lenBytes()
                }
                left--
                last = key
                yield(ScanEntry(key, kind, value))
            }
            if (page.end || last == null) break
            after = last
        }
    }
}

/** A lazy [Stream] over a sequence (ordered; nothing is read before the stream's terminal operation). */
internal fun <T : Any> Sequence<T>.asJavaStream(): Stream<T> =
    StreamSupport.stream(
        { Spliterators.spliteratorUnknownSize(iterator(), Spliterator.ORDERED or Spliterator.NONNULL) },
        Spliterator.ORDERED or Spliterator.NONNULL,
        false,
    )

/** A (key, value) pair as a [Map.Entry], for Java callers. */
internal fun <K, V> entryOf(k: K, v: V): Map.Entry<K, V> = java.util.AbstractMap.SimpleImmutableEntry(k, v)
