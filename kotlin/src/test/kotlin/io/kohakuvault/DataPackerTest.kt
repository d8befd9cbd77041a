package io.kohakuvault

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class DataPackerTest {

    @Test
    fun `i64 packs little-endian and unpacks`() = DataPacker("i64").use { p ->
        assertEquals(8, p.elemSize)
        assertFalse(p.isVarsize)
        val b = p.pack(258L)
        assertArrayEquals(byteArrayOf(2, 1, 0, 0, 0, 0, 0, 0), b)
        assertEquals(258L, p.unpack(b).asLong())
        val many = p.packMany(listOf(TaggedValue.of(1L), TaggedValue.of(-2L), TaggedValue.of(3L)))
        assertEquals(24, many.size)
        assertEquals(listOf(1L, -2L, 3L), p.unpackMany(many, count = 3).map { it.asLong() })
        assertEquals(-2L, p.unpack(many, 8).asLong())
    }

    @Test
    fun `strings and msgpack`() {
        DataPacker("str:utf8").use { p ->
            assertTrue(p.isVarsize)
            assertEquals("héllo", p.unpack(p.pack("héllo")).asString())
        }
        DataPacker("msgpack").use { p ->
            val b = p.packPlain(mapOf("a" to listOf(1, 2)))
            assertEquals(mapOf("a" to listOf(1L, 2L)), Codec.toPlain(p.unpack(b)))
        }
    }

    @Test
    fun `value kind and element dtype come from the core`() {
        DataPacker("i64").use { assertEquals(Kind.INT, it.valueKind); assertEquals(null, it.elemDtype) }
        DataPacker("f64").use { assertEquals(Kind.FLOAT, it.valueKind) }
        DataPacker("str:utf8").use { assertEquals(Kind.UTF8, it.valueKind) }
        DataPacker("bytes").use { assertEquals(Kind.RAW, it.valueKind) }
        DataPacker("msgpack").use { assertEquals(Kind.MSGPACK, it.valueKind) }
        DataPacker.withCddlSchema().use { assertEquals(Kind.MSGPACK, it.valueKind) }
        DataPacker("vec:f32:3").use { p ->
            assertEquals(Kind.NDARRAY, p.valueKind)
            assertEquals(DType.F32, p.elemDtype)
            val b = p.packPlain(floatArrayOf(1f, 2f, 3f))
            // 1.1.0's vector layout: the element type code, then 3 x f32
            assertEquals(13, b.size)
            assertEquals(DType.F32.code, b[0].toInt())
            assertArrayEquals(floatArrayOf(1f, 2f, 3f), p.unpack(b).asNdArray().toFloatArray().data)
        }
        DataPacker("vec:i64:2").use { assertEquals(DType.I64, it.elemDtype) }
        // a msgpack packer takes every plain value as msgpack, a bare string too
        DataPacker("msgpack").use { p ->
            assertEquals("just text", p.unpackPlain(p.packPlain("just text")))
            assertEquals(7L, p.unpackPlain(p.packPlain(7)))
        }
    }

    @Test
    fun `bad dtype is InvalidArgument`() {
        assertThrows<KohakuVaultException.InvalidArgument> { DataPacker("nope") }
    }
}
