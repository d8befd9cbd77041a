package io.kohakuvault

import io.kohakuvault.coroutines.openTextVault
import io.kohakuvault.coroutines.suspending
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicInteger
import kotlin.math.abs
import kotlin.random.Random

/**
 * TextVault: search and its options, multi-column documents, hostile input (typed error, nothing changed), use after
 * close, tokenizers (Chinese and Japanese with trigram), hybrid search against a fusion computed here from search()
 * and searchByVector(), values, batches, threads, coroutines.
 */
class TextVaultTest {

    private val sample = listOf(
        "Hello world, this is a test",
        "It's a 'quoted' world of \"tests\"",
        "nothing to see here",
        "The quick brown fox jumps over the lazy dog",
        "A quick test of the search engine",
    )

    private fun filled(path: String = TestSupport.tempDb()): TextVault =
        TextVault(path).also { tv -> for ((i, t) in sample.withIndex()) assertEquals(i + 1L, tv.insert(t, "v$i")) }

    /** Everything a vault holds, to check that a failed call changed nothing. */
    private fun snapshot(tv: TextVault): List<Any?> =
        listOf(tv.count(), tv.keys().toList()) + tv.keys().map { tv.getById(it) }   // records compare vectors by content

    // ---------------------------------------------------------------- basics

    @Test
    fun `insert, search, get and the other members`() {
        val path = TestSupport.tempDb()
        filled(path).use { tv ->
            assertEquals(listOf("content"), tv.columns)
            assertEquals(TextVault.DEFAULT_TABLE, tv.table)
            assertEquals(path, tv.path)
            assertEquals(Tokenizer.UNICODE61, tv.tokenizer)
            assertNull(tv.dimensions); assertNull(tv.metric); assertNull(tv.type); assertNull(tv.rowBytes)
            assertFalse(tv.isReadOnly)
            assertTrue(tv.toString().contains("open"))
            assertEquals(5L, tv.count()); assertEquals(5, tv.size); assertFalse(tv.isEmpty())

            // escaped: the whole query is one phrase
            assertEquals(listOf(1L), tv.search("hello world").map { it.id })
            assertTrue(tv.search("world test").isEmpty())
            val quick = tv.search("quick")
            assertEquals(setOf(4L, 5L), quick.map { it.id }.toSet())
            assertTrue(quick[0].score >= quick[1].score && quick.all { it.score > 0 })
            assertEquals(listOf("v3", "v4").toSet(), quick.map { it.value.asString() }.toSet())
            assertTrue(quick.all { it.texts == null })
            // raw FTS5 syntax
            assertEquals(listOf(1L), tv.search("world AND test", escape = false).map { it.id })
            assertEquals(setOf(1L, 2L, 4L), tv.search("world OR fox", escape = false).map { it.id }.toSet())
            assertEquals(setOf(2L), tv.search("world NOT hello", escape = false).map { it.id }.toSet())
            assertEquals(setOf(2L), tv.search("quot*", escape = false).map { it.id }.toSet())
            // k
            assertEquals(1, tv.search("quick", 1).size)
            assertTrue(tv.search("quick", 0).isEmpty())
            assertEquals(2, tv.search("quick", 1_000_000).size)
            // with texts
            val wt = tv.searchWithText("lazy dog")
            assertEquals(listOf(4L), wt.map { it.id })
            assertEquals(mapOf("content" to sample[3]), wt[0].texts)
            assertEquals(quick.map { it.id to it.score }, tv.searchWithText("quick").map { it.id to it.score })
            // snippets
            val sn = tv.searchWithSnippets("fox", snippetTokens = 4, highlightStart = "[", highlightEnd = "]")
            assertEquals(1, sn.size)
            assertEquals(4L, sn[0].id)
            assertEquals("v3", sn[0].value.asString())
            assertTrue(sn[0].snippet.contains("[fox]"), sn[0].snippet)
            assertTrue(sn[0].snippet.contains("..."), sn[0].snippet)
            assertEquals(tv.search("fox")[0].score, sn[0].score)
            // count_matches: raw syntax
            assertEquals(2L, tv.countMatches("quick"))
            assertEquals(3L, tv.countMatches("world OR fox"))
            assertEquals(0L, tv.countMatches("   "))
            // get: a phrase anywhere
            assertEquals("v0", tv["hello"].asString())
            assertEquals("v1", tv.get("it's a").asString())
            val nf = assertThrows<KohakuVaultException.NotFound> { tv["absent words"] }
            assertEquals("Key not found: absent words", nf.reason)
            // by id
            val r = tv.getById(4)
            assertEquals(TextRecord(4, mapOf("content" to sample[3]), TaggedValue.of("v3"), null), r)
            assertEquals(sample[3], r.text)
            assertNull(r.floats)
            assertEquals("ID 42 not found", assertThrows<KohakuVaultException.NotFound> { tv.getById(42) }.reason)
            assertTrue(4L in tv); assertFalse(42L in tv); assertTrue(tv.exists(1))
            // keys
            assertArrayEquals(longArrayOf(1, 2, 3, 4, 5), tv.keys())
            assertArrayEquals(longArrayOf(2, 3), tv.keys(2, 1))
            assertArrayEquals(longArrayOf(5), tv.keys(offset = 4))
            assertArrayEquals(longArrayOf(), tv.keys(0))
            assertArrayEquals(longArrayOf(), tv.keys(offset = 10))
            // info
            assertEquals(TextInfo(TextVault.DEFAULT_TABLE, listOf("content"), 5, Tokenizer.UNICODE61, null, null, null), tv.info())
            // `tv[text] = value` inserts (texts need not be unique)
            tv["hello world again"] = 7L
            tv["hello world again"] = 8L
            assertEquals(listOf(6L, 7L), tv.search("world again").map { it.id }.sorted())
            assertEquals(7L, tv.getById(6).value.asLong())
            assertTrue(tv.checkpoint().busy >= 0)
        }
        // reopen: everything kept; read-only reads and refuses writes
        TextVault(path).use { tv ->
            assertEquals(7L, tv.count())
            assertEquals(listOf(1L), tv.search("this is a test", 1).map { it.id })
            assertEquals(listOf(6L, 7L, 1L), tv.search("hello world").map { it.id })   // shorter documents rank higher
        }
        TextVault(path, options = OpenOptions(readOnly = true)).use { ro ->
            assertTrue(ro.isReadOnly)
            val before = snapshot(ro)
            assertThrows<KohakuVaultException.ReadOnly> { ro.insert("x", "y") }
            assertThrows<KohakuVaultException.ReadOnly> { ro.insertMany(listOf(TextDoc("x", "y"))) }
            assertThrows<KohakuVaultException.ReadOnly> { ro.update(1, "new") }
            assertThrows<KohakuVaultException.ReadOnly> { ro.delete(1) }
            assertThrows<KohakuVaultException.ReadOnly> { ro.clear() }
            assertEquals(before, snapshot(ro))
            assertEquals(2, ro.search("quick").size)
        }
        assertThrows<KohakuVaultException.NotFound> { TextVault(path, "absent", options = OpenOptions(readOnly = true)).close() }
    }

    @Test
    fun `update, delete and clear`() = filled().use { tv ->
        tv.update(1, "replaced text", "r")
        assertEquals(listOf(1L), tv.search("replaced").map { it.id })
        assertTrue(tv.search("hello").isEmpty())
        assertEquals(TextRecord(1, mapOf("content" to "replaced text"), TaggedValue.of("r"), null), tv.getById(1))
        tv.update(2, value = 99L)                       // value only: the text stays
        assertEquals(99L, tv.getById(2).value.asLong())
        assertEquals(sample[1], tv.getById(2).text)
        tv.update(3, mapOf("content" to "new words"))   // texts only: the value stays
        assertEquals("v2", tv.getById(3).value.asString())
        assertEquals(listOf(3L), tv.search("new words").map { it.id })
        tv.update(4, value = TaggedValue.from(null))    // a null value is stored through TaggedValue.from(null)
        assertNull(tv.getById(4).value.toPlain())
        val e = assertThrows<KohakuVaultException.InvalidArgument> { tv.update(5) }
        assertEquals("Must provide either texts or value to update", e.reason)
        assertThrows<KohakuVaultException.NotFound> { tv.update(42, value = "x") }
        assertThrows<KohakuVaultException.NotFound> { tv.update(42, "x") }

        assertTrue(tv.delete(5))
        assertFalse(tv.delete(5))
        assertFalse(tv.exists(5))
        assertTrue(tv.search("engine").isEmpty())
        assertEquals(4L, tv.count())
        assertArrayEquals(longArrayOf(1, 2, 3, 4), tv.keys())
        tv.clear()
        assertEquals(0L, tv.count())
        assertTrue(tv.isEmpty())
        assertTrue(tv.search("world").isEmpty())
        // ids are FTS5 rowids (as in kohakuvault 1.1.0): after a clear they start again from 1
        val id = tv.insert("after clear", "a")
        assertEquals(listOf(id), tv.search("after clear").map { it.id })
        assertEquals(1L, tv.count())
    }

    @Test
    fun `several columns`() {
        val path = TestSupport.tempDb()
        TextVault(path, "papers", listOf("title", "body")).use { tv ->
            assertEquals(listOf("title", "body"), tv.columns)
            val a = tv.insert(mapOf("title" to "Rivers of Europe", "body" to "The Danube flows east"), "a")
            val b = tv.insert(mapOf("body" to "Rivers and lakes of Asia", "title" to "Asian water"), "b")
            // a column filter
            assertEquals(listOf(a), tv.search("rivers", column = "title").map { it.id })
            assertEquals(listOf(b), tv.search("rivers", column = "body").map { it.id })
            assertEquals(setOf(a, b), tv.search("rivers").map { it.id }.toSet())
            assertEquals(setOf(a, b), tv.search("lakes OR danube", column = "body", escape = false).map { it.id }.toSet())
            assertEquals(listOf(a), tv.search("europe OR lakes", column = "title", escape = false).map { it.id })
            val col = assertThrows<KohakuVaultException.InvalidArgument> { tv.search("rivers", column = "nope") }
            assertEquals("Column 'nope' not found. Available columns: [\"title\", \"body\"]", col.reason)
            // texts by column name, in column order
            val hit = tv.searchWithText("asian").single()
            assertEquals(mapOf("title" to "Asian water", "body" to "Rivers and lakes of Asia"), hit.texts)
            assertEquals(listOf("title", "body"), hit.texts!!.keys.toList())
            assertEquals(listOf("title", "body"), tv.getById(b).texts.keys.toList())
            // snippets of one column
            val sn = tv.searchWithSnippets("rivers", snippetColumn = "body", highlightStart = "<", highlightEnd = ">")
            assertEquals(2, sn.size)
            assertEquals("Rivers and lakes of Asia".replace("Rivers", "<Rivers>"), sn.single { it.id == b }.snippet)
            assertEquals("The Danube flows east", sn.single { it.id == a }.snippet)
            assertThrows<KohakuVaultException.InvalidArgument> { tv.searchWithSnippets("rivers", snippetColumn = "nope") }

            val before = snapshot(tv)
            val missing = assertThrows<KohakuVaultException.InvalidArgument> { tv.insert(mapOf("title" to "x"), "v") }
            assertEquals("Missing column 'body' in input", missing.reason)
            val unknown = assertThrows<KohakuVaultException.InvalidArgument> {
                tv.insert(mapOf("title" to "x", "body" to "y", "extra" to "z"), "v")
            }
            assertEquals("Column 'extra' not found. Available columns: [\"title\", \"body\"]", unknown.reason)
            assertThrows<KohakuVaultException.InvalidArgument> { tv.insert("one text", "v") }
            assertThrows<KohakuVaultException.InvalidArgument> { tv["one text"] = "v" }
            assertThrows<KohakuVaultException.InvalidArgument> { tv.insertMany(listOf(TextDoc("one text", "v"))) }
            assertThrows<KohakuVaultException.InvalidArgument> { tv.update(a, "one text") }
            assertThrows<KohakuVaultException.InvalidArgument> { tv.update(a, mapOf("title" to "only")) }
            val getMulti = assertThrows<KohakuVaultException.InvalidArgument> { tv["rivers"] }
            assertTrue(getMulti.reason.contains("single-column"), getMulti.reason)
            assertEquals(before, snapshot(tv))

            tv.update(a, mapOf("title" to "Mountains", "body" to "The Alps"))
            assertEquals(mapOf("title" to "Mountains", "body" to "The Alps"), tv.getById(a).texts)
            assertEquals(listOf(a), tv.search("alps").map { it.id })
            assertEquals(listOf(a), tv.search("mountains", column = "title").map { it.id })
        }
        // reopen with other columns or another tokenizer: refused, naming both; nothing changed
        for ((cols, tok) in listOf(listOf("title") to Tokenizer.UNICODE61, listOf("body", "title") to Tokenizer.UNICODE61,
            listOf("title", "body", "x") to Tokenizer.UNICODE61, listOf("title", "body") to Tokenizer.PORTER)) {
            val e = assertThrows<KohakuVaultException.InvalidArgument> { TextVault(path, "papers", cols, tok).close() }
            assertTrue(e.reason.contains("\"title\", \"body\"") && e.reason.contains(cols.joinToString(", ") { "\"$it\"" }), e.reason)
            if (tok == Tokenizer.PORTER) assertTrue(e.reason.contains("porter") && e.reason.contains("unicode61"), e.reason)
        }
        TextVault(path, "papers", listOf("title", "body")).use { assertEquals(2L, it.count()) }
    }

    // ---------------------------------------------------------------- hostile input

    @Test
    fun `hostile queries are text when escaped and typed errors when raw`() = filled().use { tv ->
        val before = snapshot(tv)
        // quotes, FTS5 operators and SQL are plain text in an escaped query
        for (q in listOf("It's", "'quoted'", "\"tests\"", "\"", "\"\"", "NEAR(", "AND OR NOT", "*", "content:x", "x:y",
            "'; DROP TABLE text_vault; --", "^world", "(", ")", "-", "+", "\\", "%", "_", "\u00e9", "🙂")) {
            tv.search(q)
            tv.searchWithText(q)
            tv.searchWithSnippets(q)
            tv.hybridSearch(q, null)
            assertThrows<KohakuVaultException.NotFound>(q) { tv[q + " nowhere to be found"] }
        }
        assertEquals(listOf(2L), tv.search("It's").map { it.id })
        assertEquals(listOf(2L), tv.search("\"tests\"").map { it.id })
        assertEquals(listOf(2L), tv.search("'quoted' world").map { it.id })
        assertEquals("v1", tv["'quoted' world of"].asString())
        // blank queries match nothing
        for (q in listOf("", " ", "   ", "\t\n", "\u3000")) {
            assertTrue(tv.search(q).isEmpty(), "'$q'")
            assertTrue(tv.search(q, escape = false).isEmpty(), "'$q' raw")
            assertTrue(tv.searchWithSnippets(q).isEmpty(), "'$q' snippets")
            assertTrue(tv.hybridSearch(q, null).isEmpty(), "'$q' hybrid")
            if (q.isBlank()) assertEquals(0L, tv.countMatches(q))
            assertThrows<KohakuVaultException.NotFound> { tv[q] }
        }
        // raw syntax errors: InvalidArgument with FTS5's message
        for (q in listOf("AND (", "world AND", "NEAR(a b", "col:x", "OR", "hello?", "a:b")) {
            val e = assertThrows<KohakuVaultException.InvalidArgument>(q) { tv.search(q, escape = false) }
            assertTrue(e.reason.contains("fts5") || e.reason.contains("column"), "$q: ${e.reason}")
            assertThrows<KohakuVaultException.InvalidArgument>(q) { tv.countMatches(q) }
            assertThrows<KohakuVaultException.InvalidArgument>(q) { tv.searchWithSnippets(q, escape = false) }
        }
        // k, tokens, columns
        val bad: List<Pair<String, () -> Any?>> = listOf(
            "k huge" to { tv.search("quick", 1_000_001) },
            "k max int" to { tv.search("quick", Int.MAX_VALUE) },
            "k negative" to { tv.search("quick", -1) },
            "withText k huge" to { tv.searchWithText("quick", 1_000_001) },
            "snippets k huge" to { tv.searchWithSnippets("quick", 1_000_001) },
            "snippets k negative" to { tv.searchWithSnippets("quick", -5) },
            "snippet tokens 0" to { tv.searchWithSnippets("quick", snippetTokens = 0) },
            "snippet tokens 65" to { tv.searchWithSnippets("quick", snippetTokens = 65) },
            "snippet tokens negative" to { tv.searchWithSnippets("quick", snippetTokens = -1) },
            "unknown column" to { tv.search("quick", column = "nope") },
            "hostile column" to { tv.search("quick", column = "content\" : x OR \"content") },
            "unknown snippet column" to { tv.searchWithSnippets("quick", snippetColumn = "nope") },
            "hybrid k huge" to { tv.hybridSearch("quick", null, 1_000_001) },
            "hybrid k negative" to { tv.hybridSearch("quick", null, -1) },
            "hybrid rrf_k negative" to { tv.hybridSearch("quick", null, rrfK = -1) },
            "hybrid candidates negative" to { tv.hybridSearch("quick", null, candidates = -1) },
            "hybrid weight negative" to { tv.hybridSearch("quick", null, textWeight = -1.0) },
            "hybrid weight NaN" to { tv.hybridSearch("quick", null, textWeight = Double.NaN) },
            "hybrid vector without dimensions" to { tv.hybridSearch("quick", floatArrayOf(1f)) },
            "searchByVector without dimensions" to { tv.searchByVector(floatArrayOf(1f)) },
            "insert vector without dimensions" to { tv.insert("x", "v", floatArrayOf(1f)) },
            "insert bytes vector without dimensions" to { tv.insert("x", "v", byteArrayOf(1)) },
            "update vector without dimensions" to { tv.update(1, vector = floatArrayOf(1f)) },
            "insertMany vector without dimensions" to { tv.insertMany(listOf(TextDoc("x", "v", floatArrayOf(1f)))) },
            "keys limit negative" to { tv.keys(-1) },
            "keys offset negative" to { tv.keys(offset = -1) },
            "insert unknown column" to { tv.insert(mapOf("nope" to "x"), "v") },
            "insert no texts" to { tv.insert(emptyMap(), "v") },
            "insert not a plain value" to { tv.insert("x", Any()) },
            "insertMany one bad doc" to { tv.insertMany(listOf(TextDoc("ok", "v"), TextDoc(mapOf("nope" to "x"), "v"))) },
            "insertMany one bad value" to { tv.insertMany(listOf(TextDoc("ok", "v"), TextDoc("ok", Any()))) },
            "insertMany a bad vector type" to { tv.insertMany(listOf(TextDoc("ok", "v", "not a vector"))) },
            "update nothing" to { tv.update(1) },
            "update unknown column" to { tv.update(1, mapOf("nope" to "x")) },
            "update bad value" to { tv.update(1, "x", Any()) },
            "lone surrogate query" to { tv.search("a\uD800b") },
            "lone surrogate raw" to { tv.countMatches("\uDC00") },
            "lone surrogate get" to { tv["\uD800"] },
            "lone surrogate insert" to { tv.insert("bad \uD800 text", "v") },
            "lone surrogate insertMany" to { tv.insertMany(listOf(TextDoc("ok", "v"), TextDoc("bad \uDFFF", "v"))) },
            "lone surrogate update" to { tv.update(1, "bad \uD800") },
            "lone surrogate marker" to { tv.searchWithSnippets("quick", highlightStart = "\uD800") },
        )
        for ((name, op) in bad) {
            assertThrows<KohakuVaultException.InvalidArgument>(name) { op() }
            assertEquals(before, snapshot(tv), "$name changed the vault")
        }
        assertThrows<KohakuVaultException.NotFound> { tv.update(42, "x") }
        assertFalse(tv.delete(42))
        assertEquals(before, snapshot(tv))
        // hostile snippet markers are bound, not interpolated
        for ((s, e) in listOf("<'b'>" to "</'b'>", "'); DROP TABLE text_vault; --" to "'", "\"" to "\\", "" to "", "…" to "…")) {
            val sn = tv.searchWithSnippets("world", highlightStart = s, highlightEnd = e)
            assertEquals(2, sn.size, "markers $s $e")
            assertTrue(sn.all { it.snippet.contains("${s}world$e") || it.snippet.contains("${s}World$e") }, "$s $e: $sn")
        }
        assertEquals(before, snapshot(tv))
    }

    /** FTS5 reports an unterminated string without its "fts5:" prefix; it is still the caller's syntax error. */
    @Test
    fun `an unterminated string in a raw query is InvalidArgument`() = filled().use { tv ->
        val before = snapshot(tv)
        for (q in listOf("\"unclosed", "world \"and more")) {
            val e = assertThrows<KohakuVaultException.InvalidArgument>(q) { tv.search(q, escape = false) }
            assertTrue(e.reason.contains("unterminated string"), e.reason)
            assertThrows<KohakuVaultException.InvalidArgument>(q) { tv.countMatches(q) }
            assertThrows<KohakuVaultException.InvalidArgument>(q) { tv.searchWithSnippets(q, escape = false) }
        }
        assertEquals(before, snapshot(tv))
    }

    /** FTS5 parses a query as a C string: a NUL would end it inside the phrase's quotes. */
    @Test
    fun `a NUL character in an escaped query is text`() = filled().use { tv ->
        tv.insert("nul a\u0000b here", "nul")
        for (q in listOf("a\u0000b", "\u0000", "hello\u0000")) {
            tv.search(q)
            tv.searchWithSnippets(q)
            tv.hybridSearch(q, null)
        }
    }

    @Test
    fun `hostile table and column names are refused and create nothing`() {
        val path = TestSupport.tempDb()
        val badTables = listOf("bad name;", "x\"; DROP TABLE y; --", "", "1abc", "sqlite_master", "sqlite_x", "a-b", "é",
            "t'", "a".repeat(200), "tab\u0000le")
        for (t in badTables) {
            assertThrows<KohakuVaultException.InvalidArgument>(t) { TextVault(path, t).close() }
        }
        val badColumns = listOf(listOf("rank"), listOf("rowid"), listOf("RANK"), listOf("value_ref"), listOf("a b"),
            listOf("q\"x"), listOf(""), listOf("x;y"), listOf("x", "X"), listOf("title", "title"), listOf("a", "rank"),
            listOf("c'"), listOf("a-b"), listOf("x)"))
        for (cols in badColumns) {
            assertThrows<KohakuVaultException.InvalidArgument>(cols.toString()) { TextVault(path, "docs", cols).close() }
        }
        assertThrows<KohakuVaultException.InvalidArgument> { TextVault(path, "docs", removeDiacritics = 3).close() }
        assertThrows<KohakuVaultException.InvalidArgument> { TextVault(path, "docs", removeDiacritics = -1).close() }
        assertThrows<KohakuVaultException.InvalidArgument> { TextVault(path, "docs", removeDiacritics = 300).close() }
        assertThrows<KohakuVaultException.InvalidArgument> {
            TextVault(path, "docs", tokenizer = Tokenizer.TRIGRAM, removeDiacritics = 2).close()
        }
        assertThrows<KohakuVaultException.InvalidArgument> { TextVault(path, "docs", dimensions = 0).close() }
        assertThrows<KohakuVaultException.InvalidArgument> { TextVault(path, "docs", dimensions = -4).close() }
        assertThrows<KohakuVaultException.InvalidArgument> {
            TextVault(path, "docs", dimensions = 4, metric = VectorMetric.COSINE, type = VectorType.INT8).close()
        }
        assertThrows<KohakuVaultException.InvalidArgument> { Tokenizer.ofCoreName("klingon") }
        // nothing was created by any of these
        KVault(path, "probe").use { kv -> assertEquals(listOf("probe"), kv.tables() - "kohakuvault_meta") }
        // unusual but valid names work (quoted in SQL)
        TextVault(path, "_Docs_2", listOf("Title_1", "body", "from", "select", "Ünïcode")).use { tv ->
            tv.insert(mapOf("Title_1" to "a", "body" to "b", "from" to "c", "select" to "d", "Ünïcode" to "e"), "v")
            assertEquals(1, tv.search("d", column = "select").size)
            assertEquals(1, tv.search("e", column = "Ünïcode").size)
        }
    }

    // ---------------------------------------------------------------- use after close

    @Test
    fun `every member throws Closed after close`() {
        val tv = TextVault(TestSupport.tempDb(), dimensions = 2, metric = VectorMetric.L2)
        tv.insert("hello world", "x", floatArrayOf(1f, 2f))
        tv.close()
        tv.close()   // idempotent
        assertTrue(tv.isClosed)
        assertTrue(tv.toString().contains("closed"))
        val v = floatArrayOf(1f, 2f)
        val ops: List<Pair<String, () -> Any?>> = listOf(
            "insert" to { tv.insert("y", "y") },
            "insert vector" to { tv.insert("y", "y", v) },
            "insert bad vector" to { tv.insert("y", "y", floatArrayOf(1f)) },
            "insert bytes" to { tv.insert("y", "y", byteArrayOf(1)) },
            "insert map" to { tv.insert(mapOf("content" to "y"), "y") },
            "insert bad map" to { tv.insert(mapOf("nope" to "y"), "y") },
            "set" to { tv["y"] = "y" },
            "insertMany" to { tv.insertMany(listOf(TextDoc("y", "y"))) },
            "insertMany empty" to { tv.insertMany(emptyList()) },
            "search" to { tv.search("hello") },
            "search blank" to { tv.search(" ") },
            "search k=0" to { tv.search("hello", 0) },
            "search k negative" to { tv.search("hello", -1) },
            "searchWithText" to { tv.searchWithText("hello") },
            "searchWithSnippets" to { tv.searchWithSnippets("hello") },
            "searchWithSnippets bad tokens" to { tv.searchWithSnippets("hello", snippetTokens = -1) },
            "countMatches" to { tv.countMatches("hello") },
            "get" to { tv["hello"] },
            "hybridSearch" to { tv.hybridSearch("hello", v) },
            "hybridSearch text only" to { tv.hybridSearch("hello", null) },
            "hybridSearch bytes" to { tv.hybridSearch(null, byteArrayOf(1)) },
            "searchByVector" to { tv.searchByVector(v) },
            "searchByVector bytes" to { tv.searchByVector(byteArrayOf(1)) },
            "getById" to { tv.getById(1) },
            "update" to { tv.update(1, "z") },
            "update value" to { tv.update(1, value = "z") },
            "update nothing" to { tv.update(1) },
            "update vector" to { tv.update(1, vector = v) },
            "delete" to { tv.delete(1) },
            "exists" to { tv.exists(1) },
            "contains" to { 1L in tv },
            "count" to { tv.count() },
            "size" to { tv.size },
            "isEmpty" to { tv.isEmpty() },
            "keys" to { tv.keys() },
            "keys bad limit" to { tv.keys(-1) },
            "clear" to { tv.clear() },
            "info" to { tv.info() },
            "checkpoint" to { tv.checkpoint() },
            "headersEnabled" to { tv.headersEnabled },
            "set headersEnabled" to { tv.headersEnabled = false },
            "suspending search" to { runBlocking { tv.suspending().search("hello") } },
        )
        for ((name, op) in ops) {
            val e = assertThrows<KohakuVaultException.Closed>(name) { op() }
            assertEquals(TEXT_CLOSED_MESSAGE, e.reason, name)
            assertTrue(e.reason.contains("TextVault is closed"), "$name: ${e.reason}")
        }
        // the properties read at open stay readable
        assertEquals(listOf("content"), tv.columns)
        assertEquals(2, tv.dimensions)
    }

    // ---------------------------------------------------------------- tokenizers

    @Test
    fun `trigram searches Chinese and Japanese`() = TextVault(TestSupport.tempDb(), "cjk", tokenizer = Tokenizer.TRIGRAM).use { tv ->
        assertEquals(Tokenizer.TRIGRAM, tv.tokenizer)
        val zh = tv.insert("我们今天去北京大学参观图书馆", "zh")
        val zh2 = tv.insert("图书馆里有很多关于中国历史的书", "zh2")
        val ja = tv.insert("東京駅から新幹線で京都へ行きます", "ja")
        val ja2 = tv.insert("ひらがなとカタカナを勉強しています", "ja2")
        val en = tv.insert("substring search in english text", "en")
        assertEquals(listOf(zh), tv.search("北京大学").map { it.id })
        assertEquals(setOf(zh, zh2), tv.search("图书馆").map { it.id }.toSet())
        assertEquals(listOf(ja), tv.search("新幹線").map { it.id })
        assertEquals(listOf(ja), tv.search("東京駅").map { it.id })
        assertEquals(listOf(ja2), tv.search("カタカナ").map { it.id })
        assertEquals(listOf(en), tv.search("bstrin").map { it.id })      // inside a word
        assertEquals(listOf(en), tv.search("BSTRIN").map { it.id })      // case-folded
        // fewer than 3 characters: nothing (FTS5's trigram rule)
        assertTrue(tv.search("京都").isEmpty())
        assertTrue(tv.search("北京").isEmpty())
        // texts, values and snippets in CJK
        assertEquals(mapOf("content" to "我们今天去北京大学参观图书馆"), tv.searchWithText("北京大学")[0].texts)
        assertEquals("ja", tv["新幹線"].asString())
        val sn = tv.searchWithSnippets("新幹線", highlightStart = "【", highlightEnd = "】").single()
        assertTrue(sn.snippet.contains("【新幹線】"), sn.snippet)
        assertEquals(1L, tv.countMatches("\"北京大学\""))
        assertEquals(TextInfo("cjk", listOf("content"), 5, Tokenizer.TRIGRAM, null, null, null), tv.info())
    }

    @Test
    fun `porter stems and remove_diacritics is applied and persisted`() {
        val path = TestSupport.tempDb()
        TextVault(path, "p", tokenizer = Tokenizer.PORTER).use { tv ->
            val id = tv.insert("running quickly through forests", "p")
            assertEquals(listOf(id), tv.search("run").map { it.id })
            assertEquals(listOf(id), tv.search("forest").map { it.id })
            assertEquals(listOf(id), tv.search("quickly through forest").map { it.id })
            assertTrue(tv.search("runs quick").isEmpty())             // quickly stems to quickli
        }
        TextVault(path, "u").use { tv ->
            tv.insert("running café", "u")
            assertTrue(tv.search("run").isEmpty())                     // unicode61 does not stem
            assertEquals(1, tv.search("cafe").size)                    // default: diacritics removed
        }
        TextVault(path, "d0", removeDiacritics = 0).use { tv ->
            tv.insert("running café", "d")
            assertTrue(tv.search("cafe").isEmpty())
            assertEquals(1, tv.search("café").size)
        }
        // persisted: reopening with another setting is refused
        assertThrows<KohakuVaultException.InvalidArgument> { TextVault(path, "d0").close() }
        assertThrows<KohakuVaultException.InvalidArgument> { TextVault(path, "p").close() }
        assertThrows<KohakuVaultException.InvalidArgument> { TextVault(path, "u", tokenizer = Tokenizer.TRIGRAM).close() }
        TextVault(path, "u", removeDiacritics = 1).use { assertEquals(1L, it.count()) }   // 1 is unicode61's default
        TextVault(path, "p", tokenizer = Tokenizer.PORTER).use { assertEquals(Tokenizer.PORTER, it.info().tokenizer) }
    }

    // ---------------------------------------------------------------- hybrid search

    private val vocabulary = listOf("apple", "banana", "cherry", "date", "elder", "fig", "grape", "honey", "iris",
        "juniper", "kiwi", "lemon", "mango", "nectar", "olive", "pear", "quince", "rose", "sage", "thyme")

    /** Each word of [query] as its own phrase, OR-ed: the text side of a hybrid search (docs/FORMAT.md §8.3). */
    private fun wordsQuery(query: String): String =
        query.trim().split(Regex("\\s+")).joinToString(" OR ") { "\"" + it.replace("\"", "\"\"") + "\"" }

    /** Weighted RRF of two ranked id lists, computed here: Σ w / (rrfK + rank), ranks from 1, ties by id. */
    private fun fuse(text: List<Long>, vector: List<Long>, tw: Double, vw: Double, rrfK: Int, k: Int): List<Pair<Long, Double>> {
        val score = LinkedHashMap<Long, Double>()
        if (tw != 0.0) for ((i, id) in text.withIndex()) score[id] = (score[id] ?: 0.0) + tw / (rrfK + i + 1).toDouble()
        if (vw != 0.0) for ((i, id) in vector.withIndex()) score[id] = (score[id] ?: 0.0) + vw / (rrfK + i + 1).toDouble()
        return score.entries.map { it.key to it.value }
            .sortedWith(compareByDescending<Pair<Long, Double>> { it.second }.thenBy { it.first })
            .take(k)
    }

    private fun assertFused(want: List<Pair<Long, Double>>, got: List<TextHit>, what: String) {
        assertEquals(want.map { it.first }, got.map { it.id }, "$what: ids")
        for ((i, h) in got.withIndex()) {
            assertTrue(abs(h.score - want[i].second) <= 1e-12, "$what: score $i ${h.score} vs ${want[i].second}")
        }
    }

    @Test
    fun `hybrid search equals an RRF of search and searchByVector`() {
        val rnd = Random(77)
        val dims = 16
        val n = 400
        val docs = List(n) { List(3 + rnd.nextInt(8)) { vocabulary[rnd.nextInt(vocabulary.size)] }.joinToString(" ") }
        val vectors = List(n) { FloatArray(dims) { rnd.nextFloat() * 2 - 1 } }
        for (metric in listOf(VectorMetric.COSINE, VectorMetric.L2)) {
            TextVault(TestSupport.tempDb(), "h", dimensions = dims, metric = metric).use { tv ->
                assertEquals(dims, tv.dimensions); assertEquals(metric, tv.metric); assertEquals(VectorType.F32, tv.type)
                assertEquals(4 * dims, tv.rowBytes)
                val ids = tv.insertMany(docs.indices.map { TextDoc(docs[it], "d$it", vectors[it]) })
                assertArrayEquals(LongArray(n) { it + 1L }, ids)
                assertEquals(TextInfo("h", listOf("content"), n.toLong(), Tokenizer.UNICODE61, dims, metric, VectorType.F32), tv.info())
                val queries = listOf("apple", "cherry fig", "grape honey iris", "rose", "kiwi lemon mango olive", "absentword",
                    "sage \"thyme\"")
                for ((qi, q) in queries.withIndex()) {
                    val qv = FloatArray(dims) { rnd.nextFloat() * 2 - 1 }
                    for ((k, tw, vw, rrfK, cands) in listOf(
                        Quint(10, 1.0, 1.0, 60, null), Quint(5, 1.0, 2.0, 60, null), Quint(20, 0.5, 1.0, 10, 100),
                        Quint(10, 1.0, 0.0, 60, null), Quint(10, 0.0, 1.0, 60, 30), Quint(3, 2.0, 1.0, 1, 7),
                        Quint(60, 1.0, 1.0, 0, null))) {
                        val c = (cands ?: maxOf(4 * k, 50)).coerceAtLeast(k)
                        val textRank = tv.search(wordsQuery(q), c, escape = false).map { it.id }
                        val vecRank = tv.searchByVector(qv, c).map { it.id }
                        val want = fuse(textRank, vecRank, tw, vw, rrfK, k)
                        val got = tv.hybridSearch(q, qv, k, tw, vw, rrfK, cands)
                        val what = "$metric query $qi '$q' k=$k tw=$tw vw=$vw rrfK=$rrfK candidates=$cands"
                        assertFused(want, got, what)
                        for (h in got) assertEquals("d${h.id - 1}", h.value.asString(), what)
                        // pure sides: a null query or vector leaves that side out
                        assertFused(fuse(textRank, emptyList(), tw, vw, rrfK, k), tv.hybridSearch(q, null, k, tw, vw, rrfK, cands), "$what text only")
                        assertFused(fuse(emptyList(), vecRank, tw, vw, rrfK, k), tv.hybridSearch(null, qv, k, tw, vw, rrfK, cands), "$what vector only")
                    }
                }
                // searchByVector: distances, nearest first, against a brute force here
                val qv = vectors[123]
                val near = tv.searchByVector(qv, 5)
                assertEquals(124L, near[0].id)
                assertTrue(abs(near[0].score) <= 1e-5, "self distance ${near[0].score}")
                for (i in 1 until near.size) assertTrue(near[i - 1].score <= near[i].score)
                val brute = vectors.indices.sortedBy { i ->
                    val a = vectors[i]
                    if (metric == VectorMetric.L2) a.indices.sumOf { ((a[it] - qv[it]) * (a[it] - qv[it])).toDouble() }
                    else -a.indices.sumOf { (a[it] * qv[it]).toDouble() } / (norm(a) * norm(qv))
                }.take(5).map { it + 1L }
                assertEquals(brute, near.map { it.id })
                // k = 0, no sides, the stored vector
                assertTrue(tv.hybridSearch("apple", qv, 0).isEmpty())
                assertTrue(tv.hybridSearch(null, null).isEmpty())
                assertTrue(tv.hybridSearch("apple", qv, 10, 0.0, 0.0).isEmpty())
                val rec = tv.getById(7)
                if (metric == VectorMetric.L2) assertArrayEquals(vectors[6], rec.floats)
                else for (i in 0 until dims) assertEquals(vectors[6][i] / norm(vectors[6]), rec.floats!![i].toDouble(), 1e-6)
                // bad vectors: typed error, nothing changed
                val before = snapshot(tv)
                assertThrows<KohakuVaultException.InvalidArgument> { tv.hybridSearch("apple", FloatArray(dims - 1)) }
                assertThrows<KohakuVaultException.InvalidArgument> { tv.hybridSearch("apple", ByteArray(dims)) }
                assertThrows<KohakuVaultException.InvalidArgument> { tv.searchByVector(FloatArray(dims + 1)) }
                assertThrows<KohakuVaultException.InvalidArgument> { tv.searchByVector(FloatArray(dims) { Float.NaN }) }
                assertThrows<KohakuVaultException.InvalidArgument> { tv.insert("x", "v", FloatArray(3)) }
                assertThrows<KohakuVaultException.InvalidArgument> { tv.insert("x", "v", FloatArray(dims) { Float.POSITIVE_INFINITY }) }
                assertThrows<KohakuVaultException.InvalidArgument> { tv.update(1, "x", "v", FloatArray(3)) }
                assertThrows<KohakuVaultException.InvalidArgument> {
                    tv.insertMany(listOf(TextDoc("a", "v", FloatArray(dims)), TextDoc("b", "v")))   // mixed
                }
                assertThrows<KohakuVaultException.InvalidArgument> {
                    tv.insertMany(listOf(TextDoc("a", "v", FloatArray(dims)), TextDoc("b", "v", FloatArray(dims) { Float.NaN })))
                }
                assertEquals(before, snapshot(tv))
            }
        }
    }

    private data class Quint(val k: Int, val tw: Double, val vw: Double, val rrfK: Int, val candidates: Int?)

    private fun norm(a: FloatArray): Double = kotlin.math.sqrt(a.sumOf { (it * it).toDouble() })

    @Test
    fun `vectors follow updates and deletes, documents may have none, int8 vectors work`() {
        TextVault(TestSupport.tempDb(), "v", dimensions = 2, metric = VectorMetric.L2).use { tv ->
            val a = tv.insert("alpha", "a", floatArrayOf(0f, 0f))
            val b = tv.insert("beta", "b", floatArrayOf(10f, 0f))
            val c = tv.insert("gamma", "c")                          // no vector
            assertNull(tv.getById(c).vector)
            assertEquals(listOf(a, b), tv.searchByVector(floatArrayOf(1f, 0f)).map { it.id })
            assertEquals(listOf(1.0, 9.0), tv.searchByVector(floatArrayOf(1f, 0f)).map { Math.round(it.score * 1e4) / 1e4 })
            tv.update(b, vector = floatArrayOf(1f, 0f))              // vector only
            assertEquals(listOf(b, a), tv.searchByVector(floatArrayOf(1f, 0f)).map { it.id })
            assertEquals("beta", tv.getById(b).text)
            tv.update(c, "gamma two", "c2", floatArrayOf(1f, 0.1f))   // all three, and a first vector
            assertEquals(b, tv.searchByVector(floatArrayOf(1f, 0f), 1).single().id)
            assertEquals(c, tv.searchByVector(floatArrayOf(1f, 0.1f), 1).single().id)
            assertTrue(tv.delete(c))
            assertEquals(listOf(b, a), tv.searchByVector(floatArrayOf(1f, 0.1f)).map { it.id })
            // the last id is given again after its delete (FTS5 rowids); the new document's vector replaces nothing stale
            val last = tv.insert("delta", "d", floatArrayOf(5f, 5f))
            assertTrue(tv.delete(last))
            val again = tv.insert("epsilon", "e", floatArrayOf(-5f, -5f))
            assertEquals(listOf(again), tv.searchByVector(floatArrayOf(-5f, -5f), 1).map { it.id })
            assertEquals("e", tv.searchByVector(floatArrayOf(5f, 5f)).single { it.id == again }.value.asString())
            assertArrayEquals(floatArrayOf(-5f, -5f), tv.getById(again).floats)
            val plain = tv.insert("zeta", "z")                       // no vector, after a deleted one with the same id
            assertTrue(tv.delete(plain))
            val reused = tv.insert("eta", "h")
            assertNull(tv.getById(reused).vector)
            assertTrue(tv.searchByVector(floatArrayOf(0f, 0f)).none { it.id == reused })
            tv.clear()
            assertTrue(tv.searchByVector(floatArrayOf(1f, 0f)).isEmpty())
        }
        TextVault(TestSupport.tempDb(), "i8", dimensions = 3, metric = VectorMetric.L1, type = VectorType.INT8).use { tv ->
            assertEquals(3, tv.rowBytes)
            val ids = tv.insertMany(listOf(TextDoc("one", 1L, byteArrayOf(-128, 0, 127)), TextDoc("two", 2L, byteArrayOf(0, 0, 0))))
            assertArrayEquals(longArrayOf(1, 2), ids)
            assertArrayEquals(byteArrayOf(-128, 0, 127), tv.getById(1).vector as ByteArray)
            assertThrows<KohakuVaultException.InvalidArgument> { tv.getById(1).floats }
            val hits = tv.searchByVector(byteArrayOf(0, 0, 1))
            assertEquals(listOf(2L, 1L), hits.map { it.id })
            assertEquals(1.0, hits[0].score)
            assertEquals(128.0 + 126.0, hits[1].score)
            assertEquals(listOf(2L, 1L), tv.hybridSearch("one two", byteArrayOf(0, 0, 1), vectorWeight = 5.0).map { it.id })
            tv.update(2, vector = byteArrayOf(-128, 0, 126))
            assertEquals(listOf(2L, 1L), tv.searchByVector(byteArrayOf(-128, 0, 126)).map { it.id })
            assertThrows<KohakuVaultException.InvalidArgument> { tv.insert("x", 3L, floatArrayOf(1f, 2f, 3f)) }
            assertThrows<KohakuVaultException.InvalidArgument> { tv.insert("x", 3L, byteArrayOf(1, 2)) }
            assertEquals(2L, tv.count())
        }
    }

    /**
     * A vault with vectors opened without dimensions must not let a document inherit another one's vector: either the
     * open is refused, or its writes keep the vector table right.
     */
    @Test
    fun `opening a vault with vectors without dimensions keeps vectors right`() {
        val path = TestSupport.tempDb()
        TextVault(path, "t", dimensions = 2, metric = VectorMetric.L2).use { tv ->
            tv.insert("a", "a", floatArrayOf(0f, 0f))
            tv.insert("b", "b", floatArrayOf(1f, 1f))
        }
        val plain = try {
            TextVault(path, "t")
        } catch (e: KohakuVaultException.InvalidArgument) {
            null   // refused: nothing to check
        }
        if (plain != null) {
            val c = plain.use { tv ->
                assertTrue(tv.delete(2))
                tv.insert("c", "c").also { assertEquals(3L, it, "ids are never reused") }
            }
            TextVault(path, "t", dimensions = 2, metric = VectorMetric.L2).use { tv ->
                assertNull(tv.getById(c).vector, "document 'c' has the vector of the deleted 'b'")
                assertTrue(tv.searchByVector(floatArrayOf(1f, 1f)).none { it.id == 2L || it.id == c })
            }
        }
    }

    // ---------------------------------------------------------------- values and batches

    @Test
    fun `values map as in KVault`() = TextVault(TestSupport.tempDb()).use { tv ->
        val values = listOf<Any?>("text", 42L, 7, 2.5, true, byteArrayOf(1, 2, 3), mapOf("a" to listOf(1, "x")),
            listOf(1, 2), null, TaggedValue.of("tagged"), NdArray.of(floatArrayOf(1f, 2f)))
        val ids = values.mapIndexed { i, v -> tv.insert("document number w$i", v) }
        for ((i, v) in values.withIndex()) {
            val want = TaggedValue.from(v)
            assertEquals(want, tv.getById(ids[i]).value, "value $i")
            assertEquals(want, tv.search("w$i").single().value, "hit value $i")
            assertEquals(want, tv["w$i"], "get value $i")
        }
        assertEquals(mapOf("a" to listOf(1L, "x")), tv.getById(ids[6]).value.toPlain())
        assertEquals(Kind.RAW, tv.getById(ids[5]).value.kind)
        // headers off: non-raw values are stored bare and read back as raw bytes
        assertTrue(tv.headersEnabled)
        tv.headersEnabled = false
        val bare = tv.insert("bare value", "plain")
        assertEquals(Kind.RAW, tv.getById(bare).value.kind)
        assertArrayEquals("plain".toByteArray(), tv.getById(bare).value.payload)
        tv.headersEnabled = true
        // the same through insertMany, in order
        val more = tv.insertMany(values.mapIndexed { i, v -> TextDoc("batch m$i", v) })
        for ((i, id) in more.withIndex()) assertEquals(TaggedValue.from(values[i]), tv.getById(id).value)
    }

    @Test
    fun `insertMany is one transaction`() = TextVault(TestSupport.tempDb(), "b", listOf("title", "body")).use { tv ->
        assertEquals(0, tv.insertMany(emptyList()).size)
        val docs = List(1000) { TextDoc(mapOf("title" to "title $it", "body" to "body text number n$it ünï 文字"), it.toLong()) }
        assertArrayEquals(LongArray(1000) { it + 1L }, tv.insertMany(docs))
        assertEquals(1000L, tv.count())
        assertEquals(listOf(501L), tv.search("n500").map { it.id })
        assertEquals(docs[500].texts, tv.getById(501).texts)
        assertEquals(500L, tv.getById(501).value.asLong())
        // one bad document: nothing of the batch is written
        val before = snapshot(tv)
        assertThrows<KohakuVaultException.InvalidArgument> {
            tv.insertMany(docs.take(10) + TextDoc(mapOf("title" to "only a title"), 0L))
        }
        assertEquals(before, snapshot(tv))
        // TextDoc equality, the "" key of a single text
        assertEquals(TextDoc("a", "v"), TextDoc(mapOf("" to "a"), "v"))
        assertEquals(TextDoc("a", "v", floatArrayOf(1f)), TextDoc("a", "v", floatArrayOf(1f)))
        assertFalse(TextDoc("a", "v", floatArrayOf(1f)) == TextDoc("a", "v", floatArrayOf(2f)))
    }

    // ---------------------------------------------------------------- threads

    @Test
    fun `4 threads search while one inserts`() = TextVault(TestSupport.tempDb(), "t", dimensions = 8).use { tv ->
        val rnd = Random(4)
        val base = 500
        tv.insertMany(List(base) { i ->
            TextDoc("base doc $i ${vocabulary[i % vocabulary.size]} ${vocabulary[(i * 7) % vocabulary.size]}", "base$i",
                FloatArray(8) { rnd.nextFloat() - 0.5f })
        })
        val extra = 300
        val errors = Collections.synchronizedList(ArrayList<Throwable>())
        val start = CountDownLatch(1)
        val searches = AtomicInteger()
        val writerDone = java.util.concurrent.atomic.AtomicBoolean(false)
        fun checkHit(h: TextHit) {
            val v = h.value.asString()
            check(v == "base${h.id - 1}" || v == "extra${h.id - base - 1}") { "value of ${h.id}: $v" }
        }
        val readers = List(4) { t ->
            Thread {
                try {
                    start.await()
                    var j = 0
                    while (!writerDone.get() || j < 50) {
                        val word = vocabulary[(t * 13 + j) % vocabulary.size]
                        val hits = when (j % 4) {
                            0 -> tv.search(word, 10)
                            1 -> tv.searchWithText(word, 10).onEach { h -> check(h.texts!!["content"]!!.contains(word)) { "text of ${h.id}" } }
                            2 -> tv.hybridSearch(word, FloatArray(8) { (it - 4) / 8f }, 10)
                            else -> tv.search("doc", 20)
                        }
                        check(hits.isNotEmpty()) { "thread $t: no hits for $word" }
                        if (j % 4 != 2) for (i in 1 until hits.size) check(hits[i - 1].score >= hits[i].score) { "unsorted hits" }
                        for (h in hits) checkHit(h)
                        searches.incrementAndGet()
                        j++
                    }
                } catch (e: Throwable) {
                    errors.add(e)
                }
            }
        }
        val writer = Thread {
            try {
                start.await()
                for (i in 0 until extra) {
                    val id = tv.insert("extra doc $i ${vocabulary[i % vocabulary.size]}", "extra$i", FloatArray(8) { 0.1f * it })
                    check(id == base + 1L + i) { "id of extra $i: $id" }
                }
            } catch (e: Throwable) {
                errors.add(e)
            } finally {
                writerDone.set(true)
            }
        }
        (readers + writer).forEach { it.start() }
        start.countDown()
        (readers + writer).forEach { it.join(120_000) }
        if (errors.isNotEmpty()) throw AssertionError("${errors.size} thread errors", errors[0])
        assertTrue(searches.get() >= 200, "${searches.get()} searches")
        assertEquals((base + extra).toLong(), tv.count())
        assertEquals(extra.toLong(), tv.countMatches("extra"))
        assertEquals(listOf(base + extra.toLong()), tv.search("extra doc ${extra - 1}").map { it.id })
    }

    // ---------------------------------------------------------------- coroutines

    @Test
    fun `suspending variants`() = runBlocking {
        val tv = openTextVault(TestSupport.tempDb(), "co", listOf("title", "body"), dimensions = 2, metric = VectorMetric.L2)
        try {
            val id = tv.insert(mapOf("title" to "async title", "body" to "coroutine body"), "v", floatArrayOf(1f, 0f))
            assertArrayEquals(longArrayOf(id + 1, id + 2), tv.insertMany(listOf(
                TextDoc(mapOf("title" to "second", "body" to "more coroutine text"), 2L, floatArrayOf(0f, 1f)),
                TextDoc(mapOf("title" to "third", "body" to "none"), 3L, floatArrayOf(1f, 1f)))))
            assertEquals(setOf(id, id + 1), tv.search("coroutine").map { it.id }.toSet())
            assertEquals(tv.search("coroutine"), tv.searchFlow("coroutine").toList())
            assertEquals("async title", tv.searchWithText("async")[0].texts!!["title"])
            assertTrue(tv.searchWithSnippets("async", snippetColumn = "title")[0].snippet.contains("**async**"))
            assertEquals(2L, tv.countMatches("coroutine"))
            assertEquals(id, tv.searchByVector(floatArrayOf(1f, 0.1f), 1).single().id)
            assertEquals(id, tv.hybridSearch("async", floatArrayOf(1f, 0f), 1).single().id)
            tv.update(id, value = "w")
            assertEquals("w", tv.getById(id).value.asString())
            assertTrue(tv.exists(id))
            assertEquals(3L, tv.count())
            assertEquals(listOf(id, id + 1, id + 2), tv.keysFlow().toList())
            assertArrayEquals(longArrayOf(id + 1), tv.keys(1, 1))
            assertTrue(tv.delete(id + 2))
            assertEquals(2L, tv.info().count)
            assertThrows<KohakuVaultException.InvalidArgument> { runBlocking { tv.get("x") } }
            tv.clear()
            assertEquals(0L, tv.count())
            tv.checkpoint()
        } finally {
            tv.close()
        }
        assertTrue(tv.vault.isClosed)
        assertThrows<KohakuVaultException.Closed> { runBlocking { tv.count() } }
    }
}
