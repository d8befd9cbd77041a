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
        val many = p.packMany(listOf(VaultValue.of(1L), VaultValue.of(-2L), VaultValue.of(3L)))
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
    fun `bad dtype is InvalidArgument`() {
        assertThrows<KohakuVaultException.InvalidArgument> { DataPacker("nope") }
    }
}
