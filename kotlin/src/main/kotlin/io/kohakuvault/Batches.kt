package io.kohakuvault

import io.kohakuvault.internal.KeyColumns
import io.kohakuvault.internal.ResultReader
import io.kohakuvault.internal.STATUS_MISSING
import io.kohakuvault.internal.StagedItems

/*
 * Batches, one FFI call each: put_many (packed items, docs/FORMAT.md §4) and get_many (keys as columns).
 */

/** Writes the staged items in one atomic `put_many` (bypasses and supersedes the cache). */
internal fun VaultCore.putMany(items: StagedItems) {
    if (items.count == 0) { ensureOpen(); drain(); return }
    val packed = items.pack()
    read { it.putMany(packed) }
}

/**
 * The values of [keys] in order, null when missing: decoded, or with [decoded] false the stored bytes (kind 0, the
 * `ByteArray` view).
 */
internal fun VaultCore.getMany(keys: List<ByteArray>, decoded: Boolean): List<TaggedValue?> {
    if (keys.isEmpty()) { ensureOpen(); return emptyList() }
    val r = ResultReader(read { val c = KeyColumns.of(keys); it.getMany(c.lens, c.keys, decoded) })
    val out = ArrayList<TaggedValue?>(keys.size)
    repeat(keys.size) {
        val status = r.u8()
        val payload = r.lenBytes()
        out.add(if (status == STATUS_MISSING) null else TaggedValue(status, payload))
    }
    return out
}
