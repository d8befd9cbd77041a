package io.kohakuvault

/*
 * The live MutableMap views of a KVault (keys, values, entries), backed by paged scans. Removal through a view or
 * its iterator deletes from the vault; adding a key without a value is unsupported.
 */

private class RemovingIterator<T>(
    private val it: Iterator<T>,
    private val keyOf: (T) -> String,
    private val del: (String) -> Boolean,
) : MutableIterator<T> {
    private var last: T? = null
    private var has = false
    override fun hasNext() = it.hasNext()
    override fun next(): T = it.next().also { last = it; has = true }
    override fun remove() {
        check(has) { "next() has not been called" }
        has = false
        @Suppress("UNCHECKED_CAST")
        del(keyOf(last as T))
    }
}

internal class KeyView(private val kv: KVault) : AbstractMutableSet<String>() {
    override val size: Int get() = kv.size
    override fun isEmpty() = kv.isEmpty()
    override fun add(element: String): Boolean = throw UnsupportedOperationException("add a key with a value")
    override fun contains(element: String) = kv.containsKey(element)
    override fun remove(element: String) = kv.delete(element)
    override fun clear() = kv.clear()
    override fun iterator(): MutableIterator<String> =
        RemovingIterator(kv.keys("").iterator(), { it }, { kv.delete(it) })
}

internal class ValueView(private val kv: KVault) : AbstractMutableCollection<ByteArray>() {
    override val size: Int get() = kv.size
    override fun isEmpty() = kv.isEmpty()
    override fun add(element: ByteArray): Boolean = throw UnsupportedOperationException("add a value with a key")
    override fun clear() = kv.clear()
    override fun iterator(): MutableIterator<ByteArray> {
        val it = kv.items("").iterator()
        var lastKey: String? = null
        return object : MutableIterator<ByteArray> {
            override fun hasNext() = it.hasNext()
            override fun next(): ByteArray = it.next().let { (k, v) -> lastKey = k; v }
            override fun remove() {
                kv.delete(checkNotNull(lastKey) { "next() has not been called" }); lastKey = null
            }
        }
    }
}

private class Entry(private val kv: KVault, override val key: String, private var v: ByteArray) :
    MutableMap.MutableEntry<String, ByteArray> {
    override val value: ByteArray get() = v
    override fun setValue(newValue: ByteArray): ByteArray {
        val old = v
        kv[key] = newValue
        v = newValue
        return old
    }
    override fun equals(other: Any?) = other is Map.Entry<*, *> && other.key == key && other.value === v
    override fun hashCode() = key.hashCode() xor System.identityHashCode(v)
    override fun toString() = "$key=${v.size} bytes"
}

internal class EntryView(private val kv: KVault) : AbstractMutableSet<MutableMap.MutableEntry<String, ByteArray>>() {
    override val size: Int get() = kv.size
    override fun isEmpty() = kv.isEmpty()
    override fun add(element: MutableMap.MutableEntry<String, ByteArray>): Boolean {
        kv[element.key] = element.value; return true
    }
    override fun clear() = kv.clear()
    override fun contains(element: MutableMap.MutableEntry<String, ByteArray>): Boolean =
        kv[element.key]?.contentEquals(element.value) == true
    override fun remove(element: MutableMap.MutableEntry<String, ByteArray>): Boolean =
        contains(element) && kv.delete(element.key)
    override fun iterator(): MutableIterator<MutableMap.MutableEntry<String, ByteArray>> =
        RemovingIterator(
            kv.items("").map { (k, v) -> Entry(kv, k, v) as MutableMap.MutableEntry<String, ByteArray> }.iterator(),
            { it.key }, { kv.delete(it) },
        )
}
