package io.kohakuvault

import io.kohakuvault.serialization.decodeAs
import io.kohakuvault.serialization.getSerializable
import io.kohakuvault.serialization.putSerializable
import io.kohakuvault.serialization.serializableValue
import kotlinx.serialization.Serializable
import kotlinx.serialization.serializer
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

@Serializable
data class Address(val city: String, val zip: String? = null)

@Serializable
data class User(
    val name: String,
    val age: Int,
    val tags: List<String>,
    val score: Double,
    val active: Boolean,
    val address: Address?,
    val counts: Map<String, Long> = emptyMap(),
)

@Serializable
data class Other(val id: Long, val label: String)

class SerializationTest {

    private val user = User("Ada", 36, listOf("math", "eng"), 9.5, true, Address("London"), mapOf("a" to 1L, "b" to (1L shl 40)))

    @Test
    fun `a Serializable class is stored as msgpack and reads back`() = KVault(TestSupport.tempDb()).use { kv ->
        kv.putSerializable("u", user)
        assertEquals(user, kv.getSerializable<User>("u"))
        assertNull(kv.getSerializable<User>("missing"))
        // stored as a msgpack map (what Python reads as a dict), fields by name
        val tv = kv.getTagged("u")!!
        assertEquals(Kind.MSGPACK, tv.kind)
        @Suppress("UNCHECKED_CAST")
        val plain = kv.getPlain("u") as Map<String, Any?>
        assertEquals("Ada", plain["name"])
        assertEquals(36L, plain["age"])
        assertEquals(listOf("math", "eng"), plain["tags"])
        assertEquals(9.5, plain["score"])
        assertEquals(true, plain["active"])
        // kotlinx-serialization's default Json leaves out properties at their default value (zip = null)
        assertEquals(mapOf("city" to "London"), plain["address"])
        assertEquals(mapOf("a" to 1L, "b" to (1L shl 40)), plain["counts"])
    }

    @Test
    fun `a plain msgpack map written without the class decodes into it`() = KVault(TestSupport.tempDb()).use { kv ->
        kv.putPlain("o", mapOf("id" to 5, "label" to "five"))
        assertEquals(Other(5, "five"), kv.getSerializable<Other>("o"))
        // json and cbor payloads too
        val json = """{"id":6,"label":"six"}""".encodeToByteArray()
        kv.putTagged("j", Kind.JSON, json)
        assertEquals(Other(6, "six"), kv.getSerializable<Other>("j"))
        kv.putTagged("c", Kind.CBOR, Codec.transcode(Kind.JSON, Kind.CBOR, json))
        assertEquals(Other(6, "six"), kv.getSerializable<Other>("c"))
    }

    @Test
    fun `in a batch, with an explicit serializer, and as a TaggedValue`() = KVault(TestSupport.tempDb()).use { kv ->
        kv.batch {
            putSerializable("b1", Other(1, "x"))
            putSerializable("b2", serializer<Other>(), Other(2, "y"))
        }
        assertEquals(Other(1, "x"), kv.getSerializable("b1", serializer<Other>()))
        assertEquals(Other(2, "y"), kv.getSerializable<Other>("b2"))
        val tv = serializableValue(serializer<Other>(), Other(3, "z"))
        kv.putManyTagged(mapOf("b3" to tv))
        assertEquals(Other(3, "z"), kv.getTagged("b3")!!.decodeAs(serializer<Other>()))
    }

    @Test
    fun `a value of another shape or kind is InvalidArgument, pickle UnsupportedEncoding`() =
        KVault(TestSupport.tempDb()).use { kv ->
            kv.putSerializable("o", Other(1, "x"))
            assertThrows<KohakuVaultException.InvalidArgument> { kv.getSerializable<User>("o") }
            kv.putString("s", "text")
            assertThrows<KohakuVaultException.InvalidArgument> { kv.getSerializable<Other>("s") }
            kv.putTagged("p", Kind.PICKLE, TestSupport.hex("80044b2a2e"))
            assertThrows<KohakuVaultException.UnsupportedEncoding> { kv.getSerializable<Other>("p") }
        }
}
