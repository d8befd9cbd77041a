package io.kohakuvault

import io.kohakuvault.TestSupport.hex
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.math.BigInteger

class TypedValuesTest {

    private inline fun vault(block: (KVault) -> Unit) = KVault(TestSupport.tempDb()).use(block)

    @Test
    fun `scalars round trip`() = vault { kv ->
        kv.putString("s", "héllo ☃")
        kv.putLong("l", -1234567890123L)
        kv.putLong("max", Long.MAX_VALUE)
        kv.putLong("min", Long.MIN_VALUE)
        kv.putLong("zero", 0)
        kv.putDouble("d", 3.5)
        kv.putDouble("negzero", -0.0)
        kv.putDouble("nan", Double.NaN)
        kv.putBoolean("t", true)
        kv.putBoolean("f", false)
        assertEquals("héllo ☃", kv.getString("s"))
        assertEquals(-1234567890123L, kv.getLong("l"))
        assertEquals(Long.MAX_VALUE, kv.getLong("max"))
        assertEquals(Long.MIN_VALUE, kv.getLong("min"))
        assertEquals(0L, kv.getLong("zero"))
        assertEquals(3.5, kv.getDouble("d"))
        assertEquals((-0.0).toRawBits(), kv.getDouble("negzero")!!.toRawBits())
        assertTrue(kv.getDouble("nan")!!.isNaN())
        assertEquals(true, kv.getBoolean("t"))
        assertEquals(false, kv.getBoolean("f"))
        assertNull(kv.getString("missing"))
        assertNull(kv.getLong("missing"))
    }

    @Test
    fun `big integers stay exact`() = vault { kv ->
        val big = BigInteger.TWO.pow(70).negate().add(BigInteger.valueOf(3))
        kv.putBigInteger("b", big)
        assertEquals(big, kv.getBigInteger("b"))
        assertThrows<KohakuVaultException.InvalidArgument> { kv.getLong("b") }
        kv.putLong("x", 1L shl 40)
        assertEquals(BigInteger.ONE.shiftLeft(40), kv.getBigInteger("x"))
        assertEquals(1L shl 40, kv.getLong("x"))
    }

    @Test
    fun `typed arrays with shapes`() = vault { kv ->
        val f = FloatArray(12) { it.toFloat() }
        kv.putFloatArray("f", f, intArrayOf(3, 4))
        val rf = kv.getFloatArray("f")!!
        assertArrayEquals(f, rf.data)
        assertArrayEquals(intArrayOf(3, 4), rf.shape)
        // the 1.1.0 vector for a float32 (3,4) array
        assertArrayEquals(hex("894B010200000000564B01020300000004000000000000000000803F0000004000004040000080400000A0400000C0400000E04000000041000010410000204100003041"), kv.getStored("f"))

        kv.putDoubleArray("d", doubleArrayOf(1.5, -2.25))
        assertEquals(ShapedArray(doubleArrayOf(1.5, -2.25), intArrayOf(2)), kv.getDoubleArray("d"))
        kv.putLongArray("l", longArrayOf(1, -2, Long.MAX_VALUE, 4), intArrayOf(2, 2))
        assertEquals(ShapedArray(longArrayOf(1, -2, Long.MAX_VALUE, 4), intArrayOf(2, 2)), kv.getLongArray("l"))
        kv.putIntArray("i", intArrayOf(7, 8, 9), intArrayOf(1, 3, 1))
        assertEquals(ShapedArray(intArrayOf(7, 8, 9), intArrayOf(1, 3, 1)), kv.getIntArray("i"))
        kv.putFloatArray("empty", FloatArray(0), intArrayOf(0, 5))
        assertEquals(ShapedArray(FloatArray(0), intArrayOf(0, 5)), kv.getFloatArray("empty"))

        assertThrows<KohakuVaultException.InvalidArgument> { kv.getDoubleArray("f") }
        assertThrows<KohakuVaultException.InvalidArgument> { kv.putFloatArray("bad", FloatArray(5), intArrayOf(2, 2)) }
        val nd = kv.getNdArray("i")!!
        assertEquals(DType.I32, nd.dtype)
        assertEquals(3L, nd.elementCount)
    }

    @Test
    fun `plain maps and lists`() = vault { kv ->
        val v = linkedMapOf<String, Any?>(
            "id" to 7L, "tags" to listOf("one", "two"), "nested" to mapOf("x" to 1.5, "n" to null),
            "flag" to true, "bin" to byteArrayOf(1, 2), "neg" to -3L, "big" to BigInteger("18446744073709551615"),
        )
        kv.putPlain("m", v)
        @Suppress("UNCHECKED_CAST")
        val back = kv.getPlain("m") as Map<String, Any?>
        // the core writes msgpack maps with sorted keys, as 1.1.0 did
        assertEquals(listOf("big", "bin", "flag", "id", "neg", "nested", "tags"), back.keys.toList())
        assertEquals(7L, back["id"])
        assertEquals(listOf("one", "two"), back["tags"])
        assertEquals(mapOf("x" to 1.5, "n" to null), back["nested"])
        assertEquals(true, back["flag"])
        assertArrayEquals(byteArrayOf(1, 2), back["bin"] as ByteArray)
        assertEquals(-3L, back["neg"])
        assertEquals(BigInteger("18446744073709551615"), back["big"])
        assertEquals(Kind.MSGPACK, kv.getTagged("m")!!.kind)

        kv.putPlain("list", listOf(1, "a", listOf<Any>()))
        assertEquals(listOf(1L, "a", emptyList<Any>()), kv.getPlain("list"))
        kv.putPlain("nil", null)
        assertTrue(kv.containsKey("nil"))
        assertNull(kv.getPlain("nil"))
        // scalars go through their typed puts
        kv.putPlain("s", "text"); assertEquals("text", kv.getPlain("s")); assertEquals("text", kv.getString("s"))
        kv.putPlain("n", 5); assertEquals(5L, kv.getPlain("n"))
        kv.putPlain("d", 2.5f); assertEquals(2.5, kv.getPlain("d"))
        kv.putPlain("raw", byteArrayOf(9)); assertArrayEquals(byteArrayOf(9), kv.getPlain("raw") as ByteArray)
        assertThrows<KohakuVaultException.InvalidArgument> { kv.putPlain("bad", Any()) }
    }

    @Test
    fun `the msgpack vector is written exactly`() = vault { kv ->
        kv.putPlain("map", linkedMapOf("id" to 7, "tags" to listOf("one", "two")))
        assertArrayEquals(hex("894B010400000000564B82A2696407A47461677392A36F6E65A374776F"), kv.getStored("map"))
    }

    @Test
    fun `json and cbor values decode as plain values`() = vault { kv ->
        kv.putTagged("j", Kind.JSON, """{"a": 1}""".toByteArray())
        assertEquals(mapOf("a" to 1L), kv.getPlain("j"))
        kv.putTagged("c", Kind.CBOR, hex("A161618201F94100"))
        assertEquals(mapOf("a" to listOf(1L, 2.5)), kv.getPlain("c"))
    }

    @Test
    fun `pickle values - typed reads fail, bytes reads return the stored bytes`() = vault { kv ->
        kv.putTagged("p", Kind.PICKLE, hex("80044E2E"))
        assertArrayEquals(hex("894B010100000000564B80044E2E"), kv["p"])
        assertArrayEquals(hex("894B010100000000564B80044E2E"), kv.getStored("p"))
        assertEquals(Kind.PICKLE, kv.getTagged("p")!!.kind)
        assertThrows<KohakuVaultException.UnsupportedEncoding> { kv.getString("p") }
        assertThrows<KohakuVaultException.UnsupportedEncoding> { kv.getLong("p") }
        assertThrows<KohakuVaultException.UnsupportedEncoding> { kv.getPlain("p") }
        assertThrows<KohakuVaultException.UnsupportedEncoding> { kv.getFloatArray("p") }
    }

    @Test
    fun `typed read of another kind is InvalidArgument`() = vault { kv ->
        kv.putString("s", "x")
        kv["raw"] = byteArrayOf(1)
        assertThrows<KohakuVaultException.InvalidArgument> { kv.getLong("s") }
        assertThrows<KohakuVaultException.InvalidArgument> { kv.getString("raw") }
        assertThrows<KohakuVaultException.InvalidArgument> { kv.getBoolean("s") }
        // the bytes view of a typed value is its stored encoding
        assertArrayEquals(hex("894B010600000000564B78"), kv["s"])
    }

    @Test
    fun `codec helpers`() {
        val stored = Codec.encode(Kind.UTF8, "hello".toByteArray())
        assertArrayEquals(hex("894B010600000000564B68656C6C6F"), stored)
        assertEquals(TaggedValue.of("hello"), Codec.decode(stored))
        val mp = Codec.plainToMsgpack(mapOf("a" to 1))
        assertEquals(mapOf("a" to 1L), Codec.msgpackToPlain(mp))
        assertEquals(mapOf("a" to 1L), Codec.msgpackToPlain(Codec.transcode(Kind.MSGPACK, Kind.CBOR, mp).let {
            Codec.transcode(Kind.CBOR, Kind.MSGPACK, it)
        }))
        assertThrows<KohakuVaultException.Corrupt> { Codec.decode(hex("894B020600000000564B41")) }
    }
}
