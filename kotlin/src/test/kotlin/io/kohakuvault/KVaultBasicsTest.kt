package io.kohakuvault

import io.kohakuvault.TestSupport.hex
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File

class KVaultBasicsTest {

    @Test
    fun `core version is reported`() {
        assertTrue(KVault.coreVersion().isNotBlank())
    }

    @Test
    fun `one version everywhere - the facade's version is the core's`() {
        assertEquals(KVault.coreVersion(), KVault.version)
        assertTrue(Regex("""\d+\.\d+\.\d+.*""").matches(KVault.version), KVault.version)
    }

    @Test
    fun `the native library is loaded from the classpath in JNA's layout, without jna_library_path`() {
        assertNull(System.getProperty("jna.library.path"))
        val res = System.getProperty("kv.nativeResource") ?: "linux-x86-64/libkohakuvault.so"
        assertTrue(KVault::class.java.classLoader.getResource(res) != null, "missing resource $res")
        KVault(TestSupport.tempDb()).use { kv ->
            kv.putString("k", "v")
            assertEquals("v", kv.getString("k"))
            // the C fast path found the same loaded library as the generated bindings (one handle registry)
            assertTrue(io.kohakuvault.internal.FastPath.available)
            val hit = io.kohakuvault.internal.FastPath.get(kv.core.fastHandle, "k".encodeToByteArray())
            assertEquals(Kind.UTF8, hit.kind)
            assertEquals("v", String(hit.payload))
            val stored = io.kohakuvault.internal.FastPath.get(kv.core.fastHandle, "k".encodeToByteArray(),
                io.kohakuvault.internal.FastPath.GET_STORED)
            assertEquals(Kind.RAW, stored.kind)
            assertArrayEquals(Codec.encode(Kind.UTF8, "v".toByteArray()), stored.payload)
            assertTrue(io.kohakuvault.internal.FastPath.get(kv.core.fastHandle, "nope".encodeToByteArray()) ===
                io.kohakuvault.internal.FastPath.MISSING)
        }
    }

    @Test
    fun `single puts cross through kv_fast_put with the UDL put's meaning`() {
        val path = TestSupport.tempDb()
        val fp = io.kohakuvault.internal.FastPath
        KVault(path).use { kv ->
            assertTrue(fp.available)
            val key = "k".encodeToByteArray()
            assertTrue(fp.put(kv.core.fastHandle, key, Kind.UTF8, "v".toByteArray()))
            assertEquals("v", kv.getString("k"))
            kv["big"] = ByteArray(200_000) { it.toByte() } // larger than the 64 KiB scratch
            assertArrayEquals(ByteArray(200_000) { it.toByte() }, kv["big"])
            // a payload the core refuses: nothing stored, and the UDL call raises it typed
            val bad = byteArrayOf(0xc1.toByte(), 1, 2)
            assertFalse(fp.put(kv.core.fastHandle, "bad".encodeToByteArray(), Kind.MSGPACK, bad))
            assertThrows<KohakuVaultException> { kv.putTagged("bad".encodeToByteArray(), Kind.MSGPACK, bad) }
            assertFalse(kv.containsKey("bad"))
        }
        KVault(path).use { kv -> assertEquals("v", kv.getString("k")) }
    }

    @Test
    fun `integrity check and tables`() {
        val path = TestSupport.tempDb()
        KVault(path).use { kv ->
            KVault(path, "second").use { two ->
                kv["a"] = byteArrayOf(1)
                two["b"] = byteArrayOf(2)
                assertEquals(listOf("ok"), kv.integrityCheck())
                val tables = kv.tables()
                assertTrue("kv" in tables && "second" in tables, tables.toString())
                assertEquals(tables, two.tables())
            }
        }
    }

    @Test
    fun `open, put, get, delete raw bytes`() {
        val path = TestSupport.tempDb()
        KVault(path).use { kv ->
            assertFalse(kv.isClosed)
            assertFalse(kv.isReadOnly)
            assertEquals("kv", kv.table)
            assertTrue(kv.path.endsWith("t.db"))
            assertNull(kv["missing"])
            kv["a"] = byteArrayOf(1, 2, 3)
            assertArrayEquals(byteArrayOf(1, 2, 3), kv["a"])
            kv["a"] = byteArrayOf(4)
            assertArrayEquals(byteArrayOf(4), kv["a"])
            assertTrue(kv.containsKey("a"))
            assertTrue(kv.delete("a"))
            assertFalse(kv.delete("a"))
            assertFalse(kv.containsKey("a"))
            assertNull(kv["a"])
        }
        // persisted
        KVault(path).use { kv -> assertEquals(0, kv.size) }
    }

    @Test
    fun `binary keys and the ByteArray overloads`() {
        KVault(TestSupport.tempDb()).use { kv ->
            val k = byteArrayOf(0, -1, 0x7F, 0)
            kv[k] = "v".toByteArray()
            assertArrayEquals("v".toByteArray(), kv[k])
            assertTrue(kv.containsKey(k))
            assertFalse(kv.containsKey(byteArrayOf(0, -1)))
            assertArrayEquals("v".toByteArray(), kv.remove(k))
            assertNull(kv.remove(k))
            assertFalse(kv.containsKey(k))
        }
    }

    @Test
    fun `empty values and header-looking raw bytes round trip`() {
        KVault(TestSupport.tempDb()).use { kv ->
            kv["empty"] = ByteArray(0)
            assertArrayEquals(ByteArray(0), kv["empty"])
            assertTrue(kv.containsKey("empty"))
            val tricky = hex("894B010600000000564B41")
            kv["tricky"] = tricky
            assertArrayEquals(tricky, kv["tricky"])
            // stored escaped behind an encoding-0x00 header (FORMAT.md §1), which getStored removes again
            assertArrayEquals(tricky, kv.getStored("tricky"))
            // raw bytes that look like the escape header itself
            val escLike = hex("894B010000000000564B894B010600000000564B41")
            kv["esc"] = escLike
            assertArrayEquals(escLike, kv["esc"])
            assertArrayEquals(escLike, kv.getStored("esc"))
            assertArrayEquals(escLike, kv.getMany(listOf("esc"))[0])
            assertEquals(TaggedValue.raw(escLike), kv.getTagged("esc"))
            assertEquals(TaggedValue.raw(tricky), kv.getTagged("tricky"))
            assertArrayEquals(tricky, kv.getMany(listOf("tricky"))[0])
            assertArrayEquals(tricky, kv.items("tri").single().second)
        }
    }

    @Test
    fun `a large value`() {
        KVault(TestSupport.tempDb()).use { kv ->
            val big = ByteArray(3 shl 20) { (it * 31).toByte() }
            kv["big"] = big
            assertArrayEquals(big, kv["big"])
        }
    }

    @Test
    fun `use after close raises Closed`() {
        val kv = KVault(TestSupport.tempDb())
        kv["a"] = byteArrayOf(1)
        kv.close()
        assertTrue(kv.isClosed)
        kv.close() // idempotent
        assertThrows<KohakuVaultException.Closed> { kv["a"] }
        assertThrows<KohakuVaultException.Closed> { kv["b"] = byteArrayOf(2) }
        assertThrows<KohakuVaultException.Closed> { kv.size }
        assertThrows<KohakuVaultException.Closed> { kv.keys("").toList() }
        assertThrows<KohakuVaultException.Closed> { kv.putMany(mapOf("x" to byteArrayOf())) }
        assertTrue(kv.toString().contains("closed"))
    }

    @Test
    fun `read-only handle rejects writes with ReadOnly`() {
        val path = TestSupport.tempDb()
        KVault(path).use { it.putString("s", "x") }
        KVault(path, options = OpenOptions(readOnly = true)).use { ro ->
            assertTrue(ro.isReadOnly)
            assertEquals("x", ro.getString("s"))
            assertThrows<KohakuVaultException.ReadOnly> { ro["a"] = byteArrayOf(1) }
            assertThrows<KohakuVaultException.ReadOnly> { ro.putString("a", "b") }
            assertThrows<KohakuVaultException.ReadOnly> { ro.delete("s") }
            assertThrows<KohakuVaultException.ReadOnly> { ro.putMany(mapOf("a" to byteArrayOf())) }
            assertThrows<KohakuVaultException.ReadOnly> { ro.clear() }
            assertEquals("x", ro.getString("s"))
        }
    }

    @Test
    fun `invalid table names and missing read-only files fail`() {
        val dir = TestSupport.tempDir()
        assertThrows<KohakuVaultException> { KVault(File(dir, "a.db").path, table = "bad name") }
        assertThrows<KohakuVaultException> {
            KVault(File(dir, "missing.db").path, options = OpenOptions(readOnly = true))
        }
    }

    @Test
    fun `two tables in one file are separate`() {
        val path = TestSupport.tempDb()
        KVault(path, "one").use { a ->
            KVault(path, "two").use { b ->
                a["k"] = byteArrayOf(1)
                b["k"] = byteArrayOf(2)
                assertArrayEquals(byteArrayOf(1), a["k"])
                assertArrayEquals(byteArrayOf(2), b["k"])
            }
        }
    }

    @Test
    fun `pop and setdefault`() {
        KVault(TestSupport.tempDb()).use { kv ->
            kv.putLong("n", 5)
            assertEquals(5L, kv.pop("n")!!.asLong())
            assertNull(kv.pop("n"))
            assertNull(kv.putIfAbsent("p", byteArrayOf(1)))
            assertArrayEquals(byteArrayOf(1), kv.putIfAbsent("p", byteArrayOf(2)))
            assertArrayEquals(byteArrayOf(1), kv["p"])
            // remove and putIfAbsent of a typed value give its stored bytes as the core wrote them
            kv.putString("t", "typed")
            val stored = kv.getStored("t")!!
            assertArrayEquals(stored, kv.putIfAbsent("t", byteArrayOf(0)))
            assertArrayEquals(stored, kv.remove("t"))
            assertNull(kv.remove("t"))
            assertNull(kv.setDefault("d", TaggedValue.of(8L)))
            assertEquals(8L, kv.setDefault("d", TaggedValue.of(9L))!!.asLong())
        }
    }

    @Test
    fun `headers can be disabled`() {
        KVault(TestSupport.tempDb()).use { kv ->
            assertTrue(kv.headersEnabled)
            kv.headersEnabled = false
            kv.putLong("n", 42)
            // stored bare; reads back as raw bytes
            assertArrayEquals(hex("2A00000000000000"), kv.getStored("n"))
            assertEquals(Kind.RAW, kv.getTagged("n")!!.kind)
            kv.headersEnabled = true
        }
    }

    @Test
    fun `features, checkpoint, optimize, stats`() {
        KVault(TestSupport.tempDb()).use { kv ->
            kv["a"] = byteArrayOf(1)
            kv.registerFeature("kotlin_test_v1")
            assertTrue("kotlin_test_v1" in kv.features())
            kv.checkpoint()
            kv.optimize()
            val s = kv.readerPoolStats()
            assertTrue(s.idleConnections >= 0)
            assertArrayEquals(byteArrayOf(1), kv["a"])
        }
    }
}
