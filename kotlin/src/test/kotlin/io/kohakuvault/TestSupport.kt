package io.kohakuvault

import java.io.File
import java.nio.file.Files

/** Helpers shared by the tests. */
object TestSupport {
    /** The repository root: system property kv.repoRoot (set by surefire), else searched upwards from user.dir. */
    val repoRoot: File by lazy {
        System.getProperty("kv.repoRoot")?.let { File(it).canonicalFile }?.takeIf { File(it, "tests/conformance").isDirectory }
            ?: generateSequence(File(System.getProperty("user.dir")).canonicalFile) { it.parentFile }
                .firstOrNull { File(it, "tests/conformance/values.json").isFile }
            ?: error("cannot find the repository root (tests/conformance)")
    }

    fun conformance(name: String): Any? = Json.parse(File(repoRoot, "tests/conformance/$name").readText())

    /** The `cases` of the version-1 conformance file [name] (vectors.json, texts.json). */
    @Suppress("UNCHECKED_CAST")
    fun conformanceCases(name: String): List<Map<String, Any?>> {
        val doc = conformance(name) as Map<String, Any?>
        check(doc["version"] == 1L) { "$name version ${doc["version"]}" }
        return doc["cases"] as List<Map<String, Any?>>
    }

    fun tempDir(): File = Files.createTempDirectory("kvtest").toFile().also { it.deleteOnExit() }

    fun tempDb(): String = File(tempDir(), "t.db").path

    fun hex(s: String): ByteArray {
        require(s.length % 2 == 0) { "odd hex length" }
        return ByteArray(s.length / 2) { s.substring(2 * it, 2 * it + 2).toInt(16).toByte() }
    }

    fun ByteArray.toHex(): String = joinToString("") { "%02X".format(it.toInt() and 0xFF) }
}

/** A minimal JSON reader for the conformance files: objects keep their order; numbers are Long or Double. */
object Json {
    fun parse(text: String): Any? {
        val p = P(text)
        val v = p.value()
        p.ws()
        require(p.i == text.length) { "trailing JSON at ${p.i}" }
        return v
    }

    private class P(val s: String) {
        var i = 0
        fun ws() { while (i < s.length && s[i].isWhitespace()) i++ }
        fun value(): Any? {
            ws()
            return when (val c = s[i]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> str()
                't' -> lit("true", true)
                'f' -> lit("false", false)
                'n' -> lit("null", null)
                else -> if (c == '-' || c.isDigit()) num() else error("bad JSON at $i")
            }
        }
        fun lit(w: String, v: Any?): Any? { require(s.startsWith(w, i)); i += w.length; return v }
        fun obj(): Map<String, Any?> {
            val m = LinkedHashMap<String, Any?>()
            i++; ws()
            if (s[i] == '}') { i++; return m }
            while (true) {
                ws(); val k = str(); ws(); require(s[i] == ':'); i++
                m[k] = value(); ws()
                if (s[i] == ',') { i++; continue }
                require(s[i] == '}'); i++; return m
            }
        }
        fun arr(): List<Any?> {
            val l = ArrayList<Any?>()
            i++; ws()
            if (s[i] == ']') { i++; return l }
            while (true) {
                l.add(value()); ws()
                if (s[i] == ',') { i++; continue }
                require(s[i] == ']'); i++; return l
            }
        }
        fun str(): String {
            require(s[i] == '"'); i++
            val b = StringBuilder()
            while (true) {
                val c = s[i++]
                when (c) {
                    '"' -> return b.toString()
                    '\\' -> {
                        when (val e = s[i++]) {
                            'n' -> b.append('\n'); 't' -> b.append('\t'); 'r' -> b.append('\r')
                            'b' -> b.append('\b'); 'f' -> b.append('\u000C')
                            'u' -> { b.append(s.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                            else -> b.append(e)
                        }
                    }
                    else -> b.append(c)
                }
            }
        }
        fun num(): Any {
            val st = i
            while (i < s.length && (s[i].isDigit() || s[i] in "+-.eE")) i++
            val t = s.substring(st, i)
            return if (t.any { it in ".eE" }) t.toDouble() else t.toLong()
        }
    }
}
