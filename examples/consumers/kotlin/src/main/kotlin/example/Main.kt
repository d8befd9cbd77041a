package example

import io.kohakuvault.KVault
import java.nio.file.Files
import kotlin.system.exitProcess

/** Opens a vault in a temporary directory, puts and gets values, reopens it; exits non-zero on any mismatch. */
fun main() {
    val dir = Files.createTempDirectory("kv-consumer").toFile()
    try {
        check(System.getProperty("jna.library.path") == null) { "jna.library.path must not be needed" }
        val path = dir.resolve("consumer.db").path
        KVault(path).use { kv ->
            kv.putString("greeting", "hello from a consumer")
            kv["raw"] = byteArrayOf(1, 2, 3)
            kv.putPlain("doc", mapOf("id" to 7, "tags" to listOf("a", "b")))
            check(kv.getString("greeting") == "hello from a consumer") { "getString: ${kv.getString("greeting")}" }
            check(kv["raw"].contentEquals(byteArrayOf(1, 2, 3))) { "raw value" }
            check(kv.getPlain("doc") == mapOf("id" to 7L, "tags" to listOf("a", "b"))) { "plain value: ${kv.getPlain("doc")}" }
            check(kv.keys().toList() == listOf("doc", "greeting", "raw")) { "keys: ${kv.keys().toList()}" }
        }
        KVault(path).use { kv -> check(kv.getString("greeting") == "hello from a consumer") { "not persisted" } }
        check(KVault.version == KVault.coreVersion()) { "version ${KVault.version} != core ${KVault.coreVersion()}" }
        // the optional integrations stay optional: a plain dependency does not pull kotlinx-coroutines in
        val coroutines = runCatching { Class.forName("kotlinx.coroutines.Dispatchers") }.isSuccess
        check(!coroutines) { "kotlinx-coroutines arrived transitively" }
        println("consumer-kotlin: ok (KohakuVault ${KVault.version})")
    } catch (e: Throwable) {
        System.err.println("consumer-kotlin: FAILED: $e")
        exitProcess(1)
    } finally {
        dir.deleteRecursively()
    }
}
