package io.kohakuvault

import io.kohakuvault.TestSupport.hex
import io.kohakuvault.TestSupport.toHex
import io.kohakuvault.uniffi.VaultException
import io.kohakuvault.uniffi.decodeValue
import io.kohakuvault.uniffi.encodeValue
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.assertThrows
import java.nio.ByteBuffer

/** Every vector of tests/conformance/values.json through the generated encodeValue / decodeValue. */
class ConformanceTest {

    @Suppress("UNCHECKED_CAST")
    private val doc = TestSupport.conformance("values.json") as Map<String, Any?>

    @Suppress("UNCHECKED_CAST")
    private fun section(name: String) = doc[name] as List<Map<String, Any?>>

    private fun direct(b: ByteArray): ByteBuffer = ByteBuffer.allocateDirect(b.size).put(b).flip() as ByteBuffer

    @TestFactory
    fun encode(): List<DynamicTest> = section("encode").map { v ->
        DynamicTest.dynamicTest("encode: ${v["name"]}") {
            val kind = (v["kind"] as Long).toInt()
            val payload = hex(v["payload"] as String)
            val headers = v["headers"] as Boolean
            val stored = v["stored"] as String
            assertEquals(stored, encodeValue(kind.toUByte(), direct(payload), headers).toHex())

            @Suppress("UNCHECKED_CAST")
            val decodesAs = v["decodes_as"] as Map<String, Any?>?
            val wantKind = (decodesAs?.get("kind") as Long?)?.toInt() ?: kind
            val wantPayload = (decodesAs?.get("payload") ?: v["decoded_payload"] ?: v["payload"]) as String
            val tv = decodeValue(direct(hex(stored)))
            assertEquals(wantKind, tv.kind.toInt())
            assertEquals(wantPayload, tv.payload.toHex())
        }
    }

    @TestFactory
    fun decodeLegacy(): List<DynamicTest> = section("decode_legacy").map { v ->
        DynamicTest.dynamicTest("decode_legacy: ${v["name"]}") {
            val tv = decodeValue(direct(hex(v["stored"] as String)))
            assertEquals((v["kind"] as Long).toInt(), tv.kind.toInt())
            assertEquals(v["payload"] as String, tv.payload.toHex())
        }
    }

    @TestFactory
    fun corrupt(): List<DynamicTest> = section("corrupt").map { v ->
        DynamicTest.dynamicTest("corrupt: ${v["name"]}") {
            assertThrows<VaultException.Corrupt> { decodeValue(direct(hex(v["stored"] as String))) }
            // and the facade maps it
            assertThrows<KohakuVaultException.Corrupt> { Codec.decode(hex(v["stored"] as String)) }
        }
    }

    @TestFactory
    fun `stored through a vault`(): List<DynamicTest> = section("encode").filter { it["headers"] == true }.map { v ->
        DynamicTest.dynamicTest("vault: ${v["name"]}") {
            KVault(TestSupport.tempDb()).use { kv ->
                val kind = (v["kind"] as Long).toInt()
                kv.putTagged("k", kind, hex(v["payload"] as String))
                // getStored removes only the core's raw-escape header: a raw value reads back as put
                val want = if (kind == Kind.RAW) v["payload"] as String else v["stored"] as String
                assertEquals(want, kv.getStored("k")!!.toHex())
            }
        }
    }

    @org.junit.jupiter.api.Test
    fun `vectors are present`() {
        assertTrue(section("encode").size >= 10)
    }
}
