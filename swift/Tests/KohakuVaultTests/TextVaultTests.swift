import Foundation
import XCTest
@testable import KohakuVault

/// A fresh text vault in a temporary directory.
func makeTextVault(_ test: XCTestCase, table: String = "text_vault", columns: [String] = ["content"],
                   tokenizer: Tokenizer = .unicode61, dimensions: Int? = nil,
                   metric: VectorMetric = .cosine) throws -> (TextVault, URL) {
    let url = try makeTempDir(test).appendingPathComponent("text.db")
    return (try TextVault(path: url.path, table: table, columns: columns, tokenizer: tokenizer,
                          dimensions: dimensions, metric: metric), url)
}

/// TextVault end to end: escaping and raw FTS5 syntax, hostile input, tokenizers (CJK through
/// trigram), snippets, updates, persistence, hybrid search against an RRF computed here from
/// search() and searchByVector(), closed vaults, threads and async.
final class TextVaultTests: XCTestCase {
    // MARK: - Search basics

    func testSearchEscapingRawSyntaxAndTexts() throws {
        let (v, _) = try makeTextVault(self)
        defer { try? v.close() }
        XCTAssertEqual(v.columns, ["content"])
        XCTAssertEqual(v.tokenizer, .unicode61)
        XCTAssertNil(v.dimensions)
        XCTAssertNil(v.metric)
        XCTAssertNil(v.vectorType)
        XCTAssertNil(v.rowBytes)
        let a = try v.insert("Hello world, this is a test", value: "a")
        let b = try v.insert("It's a 'quoted' world of \"tests\"", value: "b")
        let c = try v.insert(texts: ["content": "nothing to see here"], value: Int64(3))
        XCTAssertEqual([a, b, c], [1, 2, 3])

        // escaped (the default): the whole query is one phrase, words adjacent and in order
        XCTAssertEqual(try v.search("hello world").map(\.id), [a])
        XCTAssertEqual(try v.search("world test"), [], "not adjacent")
        XCTAssertEqual(try v.search("world hello"), [], "not in order")
        XCTAssertEqual(Set(try v.search("world").map(\.id)), [a, b])
        XCTAssertEqual(try v.search("It's").map(\.id), [b])
        XCTAssertEqual(try v.search("\"tests\"").map(\.id), [b], "quotes are text")
        XCTAssertEqual(try v.search("'quoted'").map(\.id), [b])
        // raw FTS5 syntax
        XCTAssertEqual(try v.search("world AND test", escape: false).map(\.id), [a])
        XCTAssertEqual(try v.search("world NOT test", escape: false).map(\.id), [b])
        XCTAssertEqual(Set(try v.search("see OR hello", escape: false).map(\.id)), [a, c])
        XCTAssertEqual(try v.search("hel*", escape: false).map(\.id), [a])
        XCTAssertEqual(try v.search("NEAR(hello test, 5)", escape: false).map(\.id), [a])

        // scores: -bm25, positive, best first; k limits
        let hits = try v.search("world", k: 10)
        XCTAssertEqual(hits.count, 2)
        XCTAssertTrue(hits.allSatisfy { $0.score > 0 }, "\(hits)")
        XCTAssertGreaterThanOrEqual(hits[0].score, hits[1].score)
        XCTAssertEqual(try v.search("world", k: 1), Array(hits.prefix(1)))
        XCTAssertEqual(try v.search("world", k: 0), [])
        XCTAssertEqual(try v.search("world", k: 1_000_000).count, 2, "k up to 1,000,000 is fine")
        XCTAssertEqual(try hits.first { $0.id == a }?.value.string(), "a")
        XCTAssertEqual(try v.search("nothing").first?.value.int64(), 3)

        // with texts and with snippets
        let wt = try v.searchWithText("hello")
        XCTAssertEqual(wt.map(\.id), [a])
        XCTAssertEqual(wt.first?.texts, ["content": "Hello world, this is a test"])
        XCTAssertEqual(wt.first?.score, try v.search("hello").first?.score)
        let sn = try v.searchWithSnippets("test", snippetTokens: 3, highlightStart: "<'b'>", highlightEnd: "</\"b\">")
        XCTAssertEqual(sn.map(\.id), [a])
        let snippet = try XCTUnwrap(sn.first?.texts?["content"])
        XCTAssertTrue(snippet.contains("<'b'>test</\"b\">"), snippet)
        XCTAssertTrue(snippet.hasPrefix("..."), "cut text is marked: \(snippet)")
        let full = try v.searchWithSnippets("world", k: 5)
        XCTAssertEqual(Set(full.map(\.id)), [a, b])
        for h in full {
            let s = try XCTUnwrap(h.texts?["content"])
            XCTAssertTrue(s.contains("**world**"), s)
        }

        // countMatches is raw syntax; get is a phrase anywhere (quotes are fine)
        XCTAssertEqual(try v.countMatches("world"), 2)
        XCTAssertEqual(try v.countMatches("world OR nothing"), 3)
        XCTAssertEqual(try v.countMatches("   "), 0)
        XCTAssertEqual(try v.get("hello").string(), "a")
        XCTAssertEqual(try v.get("it's a").string(), "b")
        XCTAssertEqual(try v.get("\"tests\"").string(), "b")
        assertThrowsVault(.notFound(""), try v.get("absent"))
        assertThrowsVault(.notFound(""), try v.get("  "))
        do {
            _ = try v.get("absent")
        } catch let e as KohakuVaultError {
            XCTAssertEqual(e, .notFound("Key not found: absent"))
        }

        // records, keys, contains, count, info
        let r = try v.record(id: b)
        XCTAssertEqual(r.id, b)
        XCTAssertEqual(r.texts, ["content": "It's a 'quoted' world of \"tests\""])
        XCTAssertEqual(try r.value.string(), "b")
        XCTAssertNil(r.vector)
        XCTAssertNil(r.floats)
        XCTAssertEqual(try v.keys(), [a, b, c])
        XCTAssertEqual(try v.keys(limit: 2), [a, b])
        XCTAssertEqual(try v.keys(limit: 2, offset: 2), [c])
        XCTAssertEqual(try v.keys(offset: 5), [])
        XCTAssertEqual(try v.keys(limit: 0), [])
        XCTAssertTrue(try v.contains(a))
        XCTAssertFalse(try v.contains(99))
        XCTAssertEqual(try v.count(), 3)
        let info = try v.info()
        XCTAssertEqual(info.table, "text_vault")
        XCTAssertEqual(info.columns, ["content"])
        XCTAssertEqual(info.count, 3)
        XCTAssertEqual(info.tokenizer, "unicode61")
        XCTAssertNil(info.dimensions)
        XCTAssertNil(info.metric)
        XCTAssertNil(info.vectorType)
        XCTAssertEqual(v.description, "TextVault(path: \(v.path), table: text_vault, columns: [\"content\"], tokenizer: unicode61)")
    }

    func testMultiColumnVault() throws {
        let (v, _) = try makeTextVault(self, table: "docs", columns: ["title", "body", "título"])
        defer { try? v.close() }
        XCTAssertEqual(v.columns, ["title", "body", "título"])
        let a = try v.insert(texts: ["title": "Rivers", "body": "cold water flows", "título": "ríos"], value: "a")
        let b = try v.insert(texts: ["title": "Cold nights", "body": "stars and rivers", "título": "noches"], value: "b")
        XCTAssertEqual(Set(try v.search("rivers").map(\.id)), [a, b])
        XCTAssertEqual(try v.search("rivers", column: "title").map(\.id), [a])
        XCTAssertEqual(try v.search("rivers", column: "body").map(\.id), [b])
        XCTAssertEqual(try v.search("rios", column: "título").map(\.id), [a], "diacritics removed by default")
        XCTAssertEqual(try v.search("title", column: "title"), [], "a column name is not a match")
        XCTAssertEqual(try v.search("cold", column: "title", escape: false).map(\.id), [b])
        let wt = try v.searchWithText("stars", column: "body")
        XCTAssertEqual(wt.first?.texts, ["title": "Cold nights", "body": "stars and rivers", "título": "noches"])
        // snippets of another column than the one that matched
        let sn = try v.searchWithSnippets("stars", snippetColumn: "title")
        XCTAssertEqual(sn.map(\.id), [b])
        XCTAssertEqual(sn.first?.texts, ["title": "Cold nights"])
        let body = try v.searchWithSnippets("stars", snippetColumn: "body")
        XCTAssertEqual(body.first?.texts, ["body": "**stars** and rivers"])
        // get works on single-column vaults only
        assertThrowsVault(.invalidArgument(""), try v.get("rivers"))
        // update by column, then value only
        try v.update(a, texts: ["title": "Lakes", "body": "still water", "título": "lagos"])
        XCTAssertEqual(try v.search("rivers").map(\.id), [b])
        XCTAssertEqual(try v.search("lakes").map(\.id), [a])
        XCTAssertEqual(try v.record(id: a).value.string(), "a", "the value is kept")
        try v.update(a, value: PlainValue.map([PlainValue.Entry("n", 1)]))
        XCTAssertEqual(try v.record(id: a).value.plain(), .map([PlainValue.Entry("n", 1)]))
        XCTAssertEqual(try v.record(id: a).texts["title"], "Lakes", "the texts are kept")
        XCTAssertEqual(try v.info().columns, ["title", "body", "título"])
    }

    // MARK: - Hostile input

    func testHostileInputThrowsTypedErrorsAndChangesNothing() throws {
        let (v, url) = try makeTextVault(self, table: "docs", columns: ["title", "body"])
        defer { try? v.close() }
        let keep = try v.insert(texts: ["title": "Keep me", "body": "the only document"], value: "keep")
        func unchanged(_ ctx: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(try v.count(), 1, ctx, file: file, line: line)
            XCTAssertEqual(try v.keys(), [keep], ctx, file: file, line: line)
            XCTAssertEqual(try v.record(id: keep).texts, ["title": "Keep me", "body": "the only document"], ctx,
                           file: file, line: line)
            XCTAssertEqual(try v.record(id: keep).value.string(), "keep", ctx, file: file, line: line)
            XCTAssertEqual(try v.search("only document").map(\.id), [keep], ctx, file: file, line: line)
        }

        // escaped queries: quotes, FTS5 operators, SQL are plain text (no error, no match)
        for q in ["It's", "\"", "\"\"", "'", "''", "\"unbalanced", "NEAR(", "AND OR NOT", "*", "title:x", "body : keep",
                  "(", ")", "^", "-", "+", "a AND", "'; DROP TABLE docs; --", "\"); DROP TABLE docs_values; --",
                  "\\", "%", "_", "😀", "keep me\"", String(repeating: "x ", count: 10_000)] {
            XCTAssertNoThrow(try v.search(q), q)
            XCTAssertNoThrow(try v.searchWithText(q, column: "body"), q)
            XCTAssertNoThrow(try v.searchWithSnippets(q, highlightStart: q, highlightEnd: q), q)
        }
        XCTAssertEqual(try v.search("keep me\"").map(\.id), [keep], "a quote is punctuation to the tokenizer, not syntax")
        XCTAssertEqual(try v.search("\"keep\" \"me\"").map(\.id), [keep])
        XCTAssertEqual(try v.search("title:keep"), [], "no column filter through the query")
        unchanged("escaped queries")

        // raw syntax errors: .invalidArgument with FTS5's message
        for q in ["AND (", "NEAR(", "a AND", "title:", "nope:word", "(", "OR", "hello?", "a + + b"] {
            do {
                _ = try v.search(q, escape: false)
                XCTFail("\(q): nothing thrown")
            } catch let e as KohakuVaultError {
                XCTAssertEqual(e.name, "invalidArgument", "\(q): \(e)")
            }
            assertThrowsVault(.invalidArgument(""), try v.searchWithText(q, escape: false))
            assertThrowsVault(.invalidArgument(""), try v.searchWithSnippets(q, escape: false))
            assertThrowsVault(.invalidArgument(""), try v.countMatches(q))
        }
        do {
            _ = try v.search("AND (", escape: false)
        } catch let e as KohakuVaultError {
            XCTAssertTrue(e.reason.contains("fts5"), "FTS5's message: \(e)")
        }
        assertThrowsVault(.invalidArgument(""), try v.countMatches("hello?"), "countMatches is never escaped")
        unchanged("raw syntax errors")

        // empty and whitespace queries: no hits
        for q in ["", " ", "   ", "\t\n", "\u{3000}"] {
            XCTAssertEqual(try v.search(q), [], "'\(q)'")
            XCTAssertEqual(try v.search(q, escape: false), [], "'\(q)' raw")
            XCTAssertEqual(try v.searchWithText(q), [])
            XCTAssertEqual(try v.searchWithSnippets(q), [])
            XCTAssertEqual(try v.countMatches(q), 0)
        }

        // k and the other numbers
        for k in [1_000_001, 2_000_000, Int(UInt32.max), Int.max] {
            assertThrowsVault(.invalidArgument(""), try v.search("keep", k: k), "k \(k)")
            assertThrowsVault(.invalidArgument(""), try v.searchWithText("keep", k: k))
            assertThrowsVault(.invalidArgument(""), try v.searchWithSnippets("keep", k: k))
            assertThrowsVault(.invalidArgument(""), try v.hybridSearch(query: "keep", vector: nil, k: k))
        }
        assertThrowsVault(.invalidArgument(""), try v.search("keep", k: -1))
        assertThrowsVault(.invalidArgument(""), try v.search("keep", k: Int.min))
        for t in [0, 65, -1, Int.max] {
            assertThrowsVault(.invalidArgument(""), try v.searchWithSnippets("keep", snippetTokens: t), "tokens \(t)")
        }
        XCTAssertEqual(try v.searchWithSnippets("keep", snippetTokens: 64).count, 1)
        XCTAssertEqual(try v.searchWithSnippets("keep", snippetTokens: 1).count, 1)
        assertThrowsVault(.invalidArgument(""), try v.keys(limit: -1))
        assertThrowsVault(.invalidArgument(""), try v.keys(offset: -1))
        assertThrowsVault(.invalidArgument(""), try v.hybridSearch(query: "keep", vector: nil, rrfK: -1))
        assertThrowsVault(.invalidArgument(""), try v.hybridSearch(query: "keep", vector: nil, candidates: -1))
        assertThrowsVault(.invalidArgument(""), try v.hybridSearch(query: "keep", vector: nil, textWeight: -1))
        assertThrowsVault(.invalidArgument(""), try v.hybridSearch(query: "keep", vector: nil, textWeight: .nan))
        assertThrowsVault(.invalidArgument(""), try v.hybridSearch(query: "keep", vector: nil, vectorWeight: .infinity))

        // unknown columns
        for col in ["nope", "", "TITLE ", "title\"", "rank", "value_ref", "rowid", "docs"] {
            do {
                _ = try v.search("keep", column: col)
                XCTFail("column \(col): nothing thrown")
            } catch let e as KohakuVaultError {
                XCTAssertEqual(e.name, "invalidArgument", "column \(col): \(e)")
                XCTAssertTrue(e.reason.contains("Available columns"), "\(e)")
            }
            assertThrowsVault(.invalidArgument(""), try v.searchWithText("keep", column: col))
            assertThrowsVault(.invalidArgument(""), try v.searchWithSnippets("keep", snippetColumn: col))
        }
        unchanged("bad arguments")

        // bad documents: a single text on a multi-column vault, missing or unknown columns
        assertThrowsVault(.invalidArgument(""), try v.insert("one text", value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.insert(texts: ["title": "only the title"], value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.insert(texts: [:], value: "x"))
        assertThrowsVault(.invalidArgument(""),
                          try v.insert(texts: ["title": "t", "body": "b", "extra": "e"], value: "x"))
        do {
            _ = try v.insert(texts: ["title": "only the title"], value: "x")
        } catch let e as KohakuVaultError {
            XCTAssertEqual(e, .invalidArgument("Missing column 'body' in input"))
        }
        // a vector on a vault without vectors
        assertThrowsVault(.invalidArgument(""), try v.insert(texts: ["title": "t", "body": "b"], value: "x", vector: [1, 2]))
        assertThrowsVault(.invalidArgument(""),
                          try v.insert(texts: ["title": "t", "body": "b"], value: "x", vectorRow: Data(count: 8)))
        assertThrowsVault(.invalidArgument(""), try v.searchByVector([1, 2]))
        assertThrowsVault(.invalidArgument(""), try v.searchByVector(Data(count: 8)))
        assertThrowsVault(.invalidArgument(""), try v.hybridSearch(query: "keep", vector: [1, 2]))
        assertThrowsVault(.invalidArgument(""), try v.hybridSearch(query: "keep", vectorRow: Data(count: 8)))
        // a batch with one bad document stores nothing
        let good = try TextDoc(texts: ["title": "good", "body": "document"], value: "g")
        assertThrowsVault(.invalidArgument(""), try v.insert(contentsOf: [good, try TextDoc("single", value: "s")]))
        assertThrowsVault(.invalidArgument(""),
                          try v.insert(contentsOf: [good, try TextDoc(texts: ["title": "no body"], value: "s")]))
        assertThrowsVault(.invalidArgument(""),
                          try v.insert(contentsOf: [good, try TextDoc(texts: ["title": "t", "body": "b"], value: "v",
                                                                      vector: [1])]))
        XCTAssertEqual(try v.insert(contentsOf: []), [])
        unchanged("bad documents")

        // updates: nothing to update, missing ids, bad texts change nothing
        assertThrowsVault(.invalidArgument(""), try v.update(keep))
        do {
            try v.update(keep)
        } catch let e as KohakuVaultError {
            XCTAssertEqual(e, .invalidArgument("Must provide either texts or value to update"))
        }
        assertThrowsVault(.notFound(""), try v.update(999, value: "x"))
        assertThrowsVault(.notFound(""), try v.update(999, texts: ["title": "t", "body": "b"]))
        assertThrowsVault(.invalidArgument(""), try v.update(keep, text: "one text", value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.update(keep, texts: ["title": "t"], value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.update(keep, value: "x", vector: [1, 2, 3]))
        assertThrowsVault(.invalidArgument(""), try v.update(keep, texts: nil, value: "x", vectorRow: Data(count: 4)))
        assertThrowsVault(.notFound(""), try v.record(id: 999))
        assertThrowsVault(.notFound(""), try v.record(id: 0))
        assertThrowsVault(.notFound(""), try v.record(id: -1))
        XCTAssertFalse(try v.delete(999))
        XCTAssertFalse(try v.contains(-5))
        unchanged("bad updates")

        // hostile table and column names, reserved names: .invalidArgument, nothing created
        let p = url.path
        for table in ["bad name;", "", "x\"; DROP TABLE docs; --", "1abc", "a-b", "docs_values; --", "sqlite_master",
                      "t'", "ta\u{0}ble", "ß", String(repeating: "t", count: 200)] {
            assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: table), "table \(table)")
        }
        for cols in [["a b"], ["x\"y"], ["a;b"], [""], ["rank"], ["RANK"], ["rowid"], ["RowId"], ["oid"], ["_rowid_"],
                     ["value_ref"], ["VALUE_REF"], ["x", "X"], ["ok", "ok"], ["a-b"], ["c'd"], ["tab\tle"],
                     ["content", "rank"], [String(repeating: "c", count: 129)]] {
            assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: "fresh", columns: cols), "columns \(cols)")
        }
        // options out of range
        for r in [3, -1, 256, Int.max] {
            assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: "fresh", removeDiacritics: r), "rd \(r)")
        }
        assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: "fresh", tokenizer: .trigram, removeDiacritics: 2))
        for d in [0, -1, Int.max] {
            assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: "fresh", dimensions: d), "dims \(d)")
        }
        assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: "fresh", dimensions: 8, metric: .cosine, type: .int8))
        assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: "fresh", dimensions: 7, metric: .hamming, type: .bit))
        let tables = try KVault(path: p, table: "probe_kv")
        defer { try? tables.close() }
        // reopening with other columns or another tokenizer names both
        do {
            _ = try TextVault(path: p, table: "docs", columns: ["title"])
            XCTFail("other columns: nothing thrown")
        } catch let e as KohakuVaultError {
            XCTAssertEqual(e.name, "invalidArgument")
            XCTAssertTrue(e.reason.contains("\"body\"") && e.reason.contains("[\"title\"]"), "\(e)")
        }
        do {
            _ = try TextVault(path: p, table: "docs", columns: ["title", "body"], tokenizer: .porter)
            XCTFail("another tokenizer: nothing thrown")
        } catch let e as KohakuVaultError {
            XCTAssertEqual(e.name, "invalidArgument")
            XCTAssertTrue(e.reason.contains("porter") && e.reason.contains("unicode61"), "\(e)")
        }
        assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: "docs", columns: ["body", "title"]))
        assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: "docs", columns: ["title", "body"],
                                                              removeDiacritics: 0))
        // a non-text table of that name
        assertThrowsVault(.invalidArgument(""), try TextVault(path: p, table: "probe_kv"))
        unchanged("hostile names")
        // the same (or equivalent) spec reopens fine, also alongside the open handle
        let same = try TextVault(path: p, table: "docs", columns: ["title", "body"], removeDiacritics: 1)
        XCTAssertEqual(try same.count(), 1)
        try same.close()
        unchanged("reopen")
    }

    /// FTS5 failures whose message does not start with "fts5:" are the caller's too: a raw
    /// query with an unterminated string or a bare `*`, an escaped query holding NUL (FTS5 reads
    /// the query as a C string), a column named like its table (FTS5's hidden column).
    func testFts5ErrorsOutsideItsSyntaxMessagesAreTypedErrors() throws {
        let (v, url) = try makeTextVault(self)
        defer { try? v.close() }
        let keep = try v.insert("the only document", value: "keep")
        for q in ["\"unbalanced", "*", "a \"b"] {
            assertThrowsVault(.invalidArgument(""), try v.search(q, escape: false), "raw '\(q)'")
            assertThrowsVault(.invalidArgument(""), try v.countMatches(q), "countMatches '\(q)'")
        }
        // escaped text with NUL: a NUL separates words like a space (FTS5 would stop reading
        // the query there), never an internal error
        XCTAssertEqual(try v.search("\u{0}"), [], "a lone NUL is a blank query")
        XCTAssertEqual(try v.search("only\u{0}document").map(\.id), [keep], "NUL as a space")
        assertThrowsVault(.invalidArgument(""), try TextVault(path: url.path, table: "same", columns: ["same"]),
                          "a column named like its table")
        XCTAssertEqual(try v.keys(), [keep])
        XCTAssertEqual(try v.search("only document").map(\.id), [keep])
    }

    // MARK: - Tokenizers

    func testChineseAndJapaneseWithTrigram() throws {
        let (v, url) = try makeTextVault(self, table: "cjk", tokenizer: .trigram)
        XCTAssertEqual(v.tokenizer, .trigram)
        let zh1 = try v.insert("我们今天去北京大学参观图书馆", value: "zh1")
        let zh2 = try v.insert("上海大学的图书馆很大", value: "zh2")
        let ja1 = try v.insert("東京駅から新幹線で京都へ行きます", value: "ja1")
        let ja2 = try v.insert("新幹線は速くて便利です", value: "ja2")
        let ja3 = try v.insert("ひらがなとカタカナの文章です", value: "ja3")
        let en = try v.insert("Substring search in English text", value: "en")
        let batch = try v.insert(contentsOf: [try TextDoc("北京的冬天很冷，但是很美", value: "zh3"),
                                              try TextDoc("京都の寺はとても静かです", value: "ja4")])
        XCTAssertEqual(batch, [7, 8])

        XCTAssertEqual(try v.search("北京大学").map(\.id), [zh1])
        XCTAssertEqual(Set(try v.search("图书馆").map(\.id)), [zh1, zh2])
        XCTAssertEqual(Set(try v.search("新幹線").map(\.id)), [ja1, ja2])
        XCTAssertEqual(try v.search("カタカナ").map(\.id), [ja3])
        XCTAssertEqual(try v.search("ひらがな").map(\.id), [ja3])
        XCTAssertEqual(try v.search("很冷，但").map(\.id), [batch[0]], "punctuation inside the substring")
        XCTAssertEqual(try v.search("とても静か").map(\.id), [batch[1]])
        XCTAssertEqual(try v.search("bstrin").map(\.id), [en], "any substring of 3+ characters")
        XCTAssertEqual(try v.search("ENGLISH").map(\.id), [en], "case folded")
        // shorter than 3 characters: no match (FTS5's trigram rule)
        XCTAssertEqual(try v.search("京都"), [])
        XCTAssertEqual(try v.search("北"), [])
        XCTAssertEqual(try v.search("北京大学 图书馆"), [], "one phrase: not a substring")
        XCTAssertEqual(Set(try v.search("北京大学 OR 图书馆", escape: false).map(\.id)), [zh1, zh2])
        XCTAssertEqual(try v.countMatches("新幹線"), 2)
        XCTAssertEqual(try v.get("北京大学").string(), "zh1")
        let sn = try v.searchWithSnippets("北京大学", highlightStart: "[", highlightEnd: "]")
        XCTAssertTrue(try XCTUnwrap(sn.first?.texts?["content"]).contains("[北京大学]"), "\(sn)")
        let wt = try v.searchWithText("便利")
        XCTAssertEqual(wt, [], "two characters")
        XCTAssertEqual(try v.searchWithText("便利です").first?.texts, ["content": "新幹線は速くて便利です"])
        try v.close()

        // the tokenizer is part of the table
        assertThrowsVault(.invalidArgument(""), try TextVault(path: url.path, table: "cjk"))
        let again = try TextVault(path: url.path, table: "cjk", tokenizer: .trigram)
        defer { try? again.close() }
        XCTAssertEqual(try again.info().tokenizer, "trigram")
        XCTAssertEqual(try again.search("北京大学").map(\.id), [zh1])

        // unicode61 does not break CJK text into words: the same query finds nothing there
        let (u, _) = try makeTextVault(self, table: "words")
        defer { try? u.close() }
        try u.insert("我们今天去北京大学参观图书馆", value: "zh1")
        XCTAssertEqual(try u.search("北京大学"), [])
    }

    func testPorterAndDiacritics() throws {
        let (p, _) = try makeTextVault(self, table: "stems", tokenizer: .porter)
        defer { try? p.close() }
        let id = try p.insert("running quickly through forests", value: "r")
        XCTAssertEqual(try p.search("run").map(\.id), [id])
        XCTAssertEqual(try p.search("forest").map(\.id), [id])
        XCTAssertEqual(try p.search("runs quickly").map(\.id), [id])
        XCTAssertEqual(try p.info().tokenizer, "porter")

        let dir = try makeTempDir(self)
        let keep = try TextVault(path: dir.appendingPathComponent("d.db").path, removeDiacritics: 0)
        defer { try? keep.close() }
        try keep.insert("café crème", value: "c")
        XCTAssertEqual(try keep.search("cafe"), [], "diacritics kept")
        XCTAssertEqual(try keep.search("café").count, 1)
        let drop = try TextVault(path: dir.appendingPathComponent("d.db").path, table: "drop", removeDiacritics: 2)
        defer { try? drop.close() }
        try drop.insert("café crème", value: "c")
        XCTAssertEqual(try drop.search("cafe creme").count, 1)
    }

    // MARK: - Values

    func testValuesRoundTrip() throws {
        let (v, _) = try makeTextVault(self)
        defer { try? v.close() }
        let plain: PlainValue = ["a": [1, 2, "x"], "b": nil]
        let values: [any VaultValueConvertible] = [
            "text", Data([0, 1, 2]), Int64(-7), 2.5, true, plain, TaggedValue(kind: .json, payload: Data("[1]".utf8)),
        ]
        var ids: [Int64] = []
        for (i, value) in values.enumerated() {
            ids.append(try v.insert("doc number\(i) common", value: value))
        }
        let batch = try v.insert(contentsOf: try values.enumerated().map { try TextDoc("batch number\($0) common", value: $1) })
        for group in [ids, batch] {
            XCTAssertEqual(try v.record(id: group[0]).value.string(), "text")
            XCTAssertEqual(try v.record(id: group[1]).value.data(), Data([0, 1, 2]))
            XCTAssertEqual(try v.record(id: group[2]).value.int64(), -7)
            XCTAssertEqual(try v.record(id: group[3]).value.double(), 2.5)
            XCTAssertEqual(try v.record(id: group[4]).value.bool(), true)
            XCTAssertEqual(try v.record(id: group[5]).value.plain().normalized, plain.normalized)
            XCTAssertEqual(try v.record(id: group[6]).value, TaggedValue(kind: .json, payload: Data("[1]".utf8)))
        }
        // hits carry the same values
        let hits = try v.search("common", k: 100)
        XCTAssertEqual(Set(hits.map(\.id)), Set(ids + batch))
        for h in hits { XCTAssertEqual(h.value, try v.record(id: h.id).value) }
        // decoded: false gives the stored bytes (the value header for typed values)
        let asStored = try v.record(id: ids[0], decoded: false).value
        XCTAssertEqual(asStored.kindCode, ValueKind.raw.rawValue)
        XCTAssertNotEqual(asStored.payload, Data("text".utf8), "a typed value is stored with its header")
        XCTAssertEqual(try v.search("number0", decoded: false).first { $0.id == ids[0] }?.value, asStored)
        XCTAssertEqual(try v.get("doc number0", decoded: false), asStored)
        XCTAssertEqual(try v.record(id: ids[1], decoded: false).value, TaggedValue(kind: .raw, payload: Data([0, 1, 2])))
        // headers off: the payload is stored bare
        v.headersEnabled = false
        XCTAssertFalse(v.headersEnabled)
        let bare = try v.insert("bare value", value: "bare")
        XCTAssertEqual(try v.record(id: bare, decoded: false).value.payload, Data("bare".utf8))
        v.headersEnabled = true
        XCTAssertTrue(v.headersEnabled)
        // empty and large texts
        let empty = try v.insert("", value: "empty")
        XCTAssertEqual(try v.record(id: empty).texts, ["content": ""])
        let big = String(repeating: "lorem ipsum ", count: 50_000) + "needle"
        let bigId = try v.insert(big, value: "big")
        XCTAssertEqual(try v.search("ipsum needle").map(\.id), [bigId])
        XCTAssertEqual(try v.record(id: bigId).texts["content"], big)
    }

    // MARK: - Updates, deletes, persistence

    func testUpdateDeleteClearAndPersistence() throws {
        let (v, url) = try makeTextVault(self, table: "notes")
        let ids = try v.insert(contentsOf: (0..<50).map { try TextDoc("note \($0) about topic\($0 % 5)", value: Int64($0)) })
        XCTAssertEqual(ids, (1...50).map { Int64($0) })
        XCTAssertEqual(try v.search("topic3", k: 100).count, 10)
        try v.update(ids[3], text: "rewritten entirely")
        XCTAssertEqual(try v.search("topic3", k: 100).count, 9)
        XCTAssertEqual(try v.search("rewritten").map(\.id), [ids[3]])
        XCTAssertEqual(try v.record(id: ids[3]).value.int64(), 3, "the value is kept")
        try v.update(ids[3], text: "rewritten again", value: "new value")
        XCTAssertEqual(try v.get("rewritten again").string(), "new value")
        try v.update(ids[4], texts: .single("single via texts"), value: nil, vectorRow: nil)
        XCTAssertEqual(try v.search("single via").map(\.id), [ids[4]])

        XCTAssertTrue(try v.delete(ids[10]))
        XCTAssertFalse(try v.delete(ids[10]))
        XCTAssertFalse(try v.contains(ids[10]))
        assertThrowsVault(.notFound(""), try v.record(id: ids[10]))
        assertThrowsVault(.notFound(""), try v.update(ids[10], value: "x"))
        XCTAssertEqual(try v.search("note 10"), [])
        XCTAssertEqual(try v.count(), 49)
        try v.checkpoint()
        try v.close()
        XCTAssertTrue(v.isClosed)

        let again = try TextVault(path: url.path, table: "notes")
        XCTAssertEqual(try again.count(), 49)
        XCTAssertEqual(try again.keys(), ids.filter { $0 != ids[10] })
        XCTAssertEqual(try again.search("rewritten again").map(\.id), [ids[3]])
        XCTAssertEqual(try again.insert("after reopen", value: "n"), 51, "ids are not reused")
        try again.close()

        // read-only: reads work, writes throw .readOnly and change nothing
        let ro = try TextVault(path: url.path, table: "notes", options: OpenOptions(readOnly: true))
        XCTAssertTrue(ro.isReadOnly)
        XCTAssertEqual(try ro.count(), 50)
        XCTAssertEqual(try ro.search("topic1", k: 3).count, 3)
        assertThrowsVault(.readOnly(""), try ro.insert("x", value: "x"))
        assertThrowsVault(.readOnly(""), try ro.insert(contentsOf: [try TextDoc("x", value: "x")]))
        assertThrowsVault(.readOnly(""), try ro.update(ids[0], value: "x"))
        assertThrowsVault(.readOnly(""), try ro.delete(ids[0]))
        assertThrowsVault(.readOnly(""), try ro.clear())
        XCTAssertEqual(try ro.count(), 50)
        try ro.close()
        assertThrowsVault(.notFound(""), try TextVault(path: url.path, table: "absent", options: OpenOptions(readOnly: true)))

        // clear: everything, in one transaction
        let w = try TextVault(path: url.path, table: "notes")
        defer { try? w.close() }
        try w.clear()
        XCTAssertEqual(try w.count(), 0)
        XCTAssertEqual(try w.keys(), [])
        XCTAssertEqual(try w.search("note"), [])
        XCTAssertEqual(try w.countMatches("note"), 0)
        // two tables in one file are independent
        let other = try TextVault(path: url.path, table: "other")
        defer { try? other.close() }
        XCTAssertEqual(try other.count(), 0)
        XCTAssertEqual(try other.insert("o", value: "o"), 1)
    }

    // MARK: - Hybrid search

    /// The text side of hybrid search, written here: each word a phrase, OR-ed.
    private func wordsQuery(_ q: String) -> String {
        q.split(whereSeparator: \.isWhitespace)
            .map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
            .joined(separator: " OR ")
    }

    /// Weighted RRF of two ranked id lists (ranks from 1), the best k by score, ties by id.
    private func rrf(_ lists: [([Int64], Double)], rrfK: Double, k: Int) -> [(id: Int64, score: Double)] {
        var score: [Int64: Double] = [:]
        for (list, w) in lists where w != 0 {
            for (i, id) in list.enumerated() { score[id, default: 0] += w / (rrfK + Double(i + 1)) }
        }
        return Array(score.map { (id: $0.key, score: $0.value) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
            .prefix(k))
    }

    func testHybridSearchIsTheRRFOfSearchAndSearchByVector() throws {
        let dims = 8
        let (v, _) = try makeTextVault(self, dimensions: dims)
        defer { try? v.close() }
        XCTAssertEqual(v.dimensions, dims)
        XCTAssertEqual(v.metric, .cosine)
        XCTAssertEqual(v.vectorType, .f32)
        XCTAssertEqual(v.rowBytes, 4 * dims)
        var rng = SeededRNG(seed: 99)
        let words = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "honey", "iris", "jade", "kiwi",
                     "lemon", "mango", "nut", "olive", "pear", "quince", "rose", "sage", "thyme"]
        let n = 240
        var vectors: [[Float]] = []
        var docs: [TextDoc] = []
        for i in 0..<n {
            let len = Int.random(in: 3...9, using: &rng)
            let text = (0..<len).map { _ in words[Int.random(in: 0..<words.count, using: &rng)] }.joined(separator: " ")
            let vec = (0..<dims).map { _ in Float.random(in: -1...1, using: &rng) }
            vectors.append(vec)
            docs.append(try TextDoc(text, value: "d\(i)", vector: vec))
        }
        // half one by one, half in one batch (vectors as rows)
        var ids: [Int64] = []
        for d in docs[0..<(n / 2)] {
            guard case .single(let text) = d.texts else { return XCTFail("single texts") }
            ids.append(try v.insert(text, value: d.value, vector: d.vector))
        }
        ids += try v.insert(contentsOf: docs[(n / 2)...].map { d in
            TextDoc(texts: d.texts, value: d.value, vector: nil, vectorRow: VectorRows.row(d.vector!))
        })
        XCTAssertEqual(ids, (1...Int64(n)).map { $0 })
        let rec = try v.record(id: 5)
        let norm = vectors[4].reduce(0) { $0 + $1 * $1 }.squareRoot()
        for (g, w) in zip(try XCTUnwrap(rec.floats), vectors[4]) { XCTAssertEqual(g, w / norm, accuracy: 1e-5) }
        XCTAssertEqual(rec.vector?.count, 4 * dims)
        XCTAssertEqual(rec.vectorType, .f32)

        let queries = ["apple cherry", "honey", "kiwi lemon mango", "zebra", "rose \"sage", "nut nut olive"]
        let settings: [(k: Int, tw: Double, vw: Double, rrfK: Int, candidates: Int?)] = [
            (10, 1, 1, 60, nil), (5, 1, 2, 60, nil), (20, 0.5, 1, 10, nil), (7, 1, 1, 60, 15), (3, 2, 0.25, 1, 100),
            (10, 1, 0, 60, nil), (10, 0, 1, 60, nil), (60, 1, 1, 60, 30),
        ]
        for (qi, q) in queries.enumerated() {
            let qv = (0..<dims).map { _ in Float.random(in: -1...1, using: &rng) }
            for s in settings {
                let ctx = "query \(qi) '\(q)' k \(s.k) w \(s.tw)/\(s.vw) rrf \(s.rrfK) cand \(String(describing: s.candidates))"
                let cands = min(max(s.candidates ?? max(4 * s.k, 50), s.k), 1_000_000)
                let textRank = try v.search(wordsQuery(q), k: cands, escape: false).map(\.id)
                let vecRank = try v.searchByVector(qv, k: cands).map(\.id)
                XCTAssertLessThanOrEqual(textRank.count, cands, ctx)
                XCTAssertEqual(vecRank.count, min(cands, n), ctx)
                let want = rrf([(textRank, s.tw), (vecRank, s.vw)], rrfK: Double(s.rrfK), k: s.k)
                let got = try v.hybridSearch(query: q, vector: qv, k: s.k, textWeight: s.tw, vectorWeight: s.vw,
                                             rrfK: s.rrfK, candidates: s.candidates)
                XCTAssertEqual(got.map(\.id), want.map(\.id), ctx)
                XCTAssertEqual(got.count, want.count, ctx)
                for (g, w) in zip(got, want) {
                    XCTAssertEqual(g.score, w.score, accuracy: 1e-12, "\(ctx): score of \(g.id)")
                    XCTAssertEqual(try g.value.string(), "d\(g.id - 1)", ctx)
                    XCTAssertNil(g.texts)
                }
                let rowGot = try v.hybridSearch(query: q, vectorRow: VectorRows.row(qv), k: s.k, textWeight: s.tw,
                                                vectorWeight: s.vw, rrfK: s.rrfK, candidates: s.candidates)
                XCTAssertEqual(rowGot, got, "\(ctx) (row)")
            }
            // pure sides: the one ranking, in order
            let k = 12, cands = 50
            let textRank = try v.search(wordsQuery(q), k: cands, escape: false).map(\.id)
            let vecRank = try v.searchByVector(qv, k: cands).map(\.id)
            XCTAssertEqual(try v.hybridSearch(query: nil, vector: qv, k: k).map(\.id), Array(vecRank.prefix(k)))
            XCTAssertEqual(try v.hybridSearch(query: q, vector: nil, k: k).map(\.id), Array(textRank.prefix(k)))
            XCTAssertEqual(try v.hybridSearch(query: "   ", vector: qv, k: k).map(\.id), Array(vecRank.prefix(k)))
            XCTAssertEqual(try v.hybridSearch(query: q, vector: qv, k: 0), [])
        }
        XCTAssertEqual(try v.hybridSearch(query: nil, vector: nil, k: 5), [])

        // searchByVector: distances ascending, a document's own vector first
        let own = try v.searchByVector(vectors[17], k: 3)
        XCTAssertEqual(own.first?.id, 18)
        XCTAssertEqual(own.first?.score ?? 1, 0, accuracy: 1e-5)
        XCTAssertEqual(try own.first?.value.string(), "d17")
        XCTAssertTrue(zip(own, own.dropFirst()).allSatisfy { $0.score <= $1.score })
        XCTAssertEqual(try v.searchByVector(VectorRows.row(vectors[17]), k: 3), own)
        XCTAssertEqual(try v.searchByVector(vectors[17], k: 0), [])

        // bad vectors: wrong length, not finite; nothing changes
        assertThrowsVault(.invalidArgument(""), try v.insert("x", value: "x", vector: [1, 2, 3]))
        assertThrowsVault(.invalidArgument(""), try v.insert("x", value: "x", vector: [Float](repeating: .nan, count: dims)))
        assertThrowsVault(.invalidArgument(""), try v.insert("x", value: "x", vectorRow: Data(count: 5)))
        assertThrowsVault(.invalidArgument(""),
                          try v.insert(contentsOf: [try TextDoc("x", value: "x", vector: [Float](repeating: 1, count: dims)),
                                                    try TextDoc("y", value: "y")]),
                          "a batch mixing documents with and without vectors")
        assertThrowsVault(.invalidArgument(""),
                          try v.insert(contentsOf: [try TextDoc("x", value: "x", vector: [Float](repeating: 1, count: dims)),
                                                    try TextDoc("y", value: "y", vector: [1, .infinity] + [Float](repeating: 1, count: dims - 2))]))
        assertThrowsVault(.invalidArgument(""), try v.searchByVector([1, 2]))
        assertThrowsVault(.invalidArgument(""), try v.searchByVector([Float](repeating: 1, count: dims), k: 1_000_001))
        assertThrowsVault(.invalidArgument(""), try v.hybridSearch(query: "apple", vector: [1, 2]))
        assertThrowsVault(.invalidArgument(""), try v.update(1, vector: [1]))
        XCTAssertEqual(try v.count(), n)
        XCTAssertEqual(try v.record(id: 5).floats, rec.floats)

        // documents without vectors are found by text only; a vector update moves a document
        let plain = try v.insert("apple only text", value: "novec")
        XCTAssertNil(try v.record(id: plain).vector)
        XCTAssertTrue(try v.search("apple only").map(\.id) == [plain])
        XCTAssertFalse(try v.searchByVector(vectors[0], k: n + 10).contains { $0.id == plain })
        let far: [Float] = [Float](repeating: 0, count: dims - 1) + [1]
        try v.update(plain, vector: far)
        XCTAssertEqual(try v.searchByVector(far, k: 1).first?.id, plain)
        try v.update(plain, texts: .single("moved"), value: "moved", vectorRow: VectorRows.row(vectors[0]))
        XCTAssertEqual(try v.record(id: plain).floats?.count, dims)
        XCTAssertEqual(try v.searchByVector(vectors[0], k: 2).map(\.id).sorted(), [1, plain])
        // a delete removes the vector too, in the same transaction
        XCTAssertTrue(try v.delete(1))
        XCTAssertEqual(try v.searchByVector(vectors[0], k: 1).first?.id, plain)
        let info = try v.info()
        XCTAssertEqual(info.dimensions, dims)
        XCTAssertEqual(info.metric, "cosine")
        XCTAssertEqual(info.vectorType, "f32")
        XCTAssertTrue(v.description.hasSuffix("dimensions: 8, metric: cosine, type: f32)"), v.description)
    }

    func testVectorSpecIsPersistedAndOtherTypesUseRows() throws {
        let (v, url) = try makeTextVault(self, table: "hy", dimensions: 4, metric: .l2)
        try v.insert("one", value: "1", vector: [1, 0, 0, 0])
        try v.close()
        assertThrowsVault(.invalidArgument(""), try TextVault(path: url.path, table: "hy", dimensions: 8, metric: .l2))
        assertThrowsVault(.invalidArgument(""), try TextVault(path: url.path, table: "hy", dimensions: 4, metric: .l1))
        let again = try TextVault(path: url.path, table: "hy", dimensions: 4, metric: .l2)
        XCTAssertEqual(try again.searchByVector([1, 0, 0, 0], k: 1).first?.score, 0)
        try again.close()

        // int8 and bit vaults take stored rows; [Float] vectors are refused there
        let dir = try makeTempDir(self)
        let i8 = try TextVault(path: dir.appendingPathComponent("i8.db").path, dimensions: 4, metric: .l1, type: .int8)
        defer { try? i8.close() }
        XCTAssertEqual(i8.rowBytes, 4)
        assertThrowsVault(.invalidArgument(""), try i8.insert("x", value: "x", vector: [1, 2, 3, 4]))
        let a = try i8.insert("alpha", value: "a", vectorRow: VectorRows.row([1, 2, 3, 4] as [Int8]))
        let b = try i8.insert("beta", value: "b", vectorRow: VectorRows.row([-4, -3, -2, -1] as [Int8]))
        let near = try i8.searchByVector(VectorRows.row([1, 2, 3, 5] as [Int8]), k: 2)
        XCTAssertEqual(near.map(\.id), [a, b])
        XCTAssertEqual(near.map(\.score), [1, 21])
        XCTAssertEqual(try i8.record(id: a).vector, VectorRows.row([1, 2, 3, 4] as [Int8]))
        XCTAssertNil(try i8.record(id: a).floats)
        XCTAssertEqual(try i8.hybridSearch(query: "beta", vectorRow: VectorRows.row([1, 2, 3, 4] as [Int8]), k: 2)
            .map(\.id).sorted(), [a, b])
        let bits = try TextVault(path: dir.appendingPathComponent("b.db").path, dimensions: 16, metric: .hamming, type: .bit)
        defer { try? bits.close() }
        let c = try bits.insert("gamma", value: "c", vectorRow: try VectorRows.row(bits: (0..<16).map { $0 < 4 }))
        XCTAssertEqual(try bits.searchByVector(try VectorRows.row(bits: (0..<16).map { $0 < 3 }), k: 1).first?.score, 1)
        XCTAssertEqual(try bits.searchByVector(try VectorRows.row(bits: (0..<16).map { $0 < 3 }), k: 1).first?.id, c)
    }

    // MARK: - Closed vaults

    private func closedVault() throws -> TextVault {
        let (v, _) = try makeTextVault(self, dimensions: 4)
        try v.insert("some text", value: "x", vector: [1, 0, 0, 0])
        try v.close()
        return v
    }

    func testEverySyncMemberThrowsClosed() throws {
        let v = try closedVault()
        let q: [Float] = [1, 0, 0, 0], row = VectorRows.row(q)
        let doc = try TextDoc("t", value: "y")
        assertThrowsVault(.closed(""), try v.insert("t", value: "y"))
        assertThrowsVault(.closed(""), try v.insert("t", value: "y", vector: q))
        assertThrowsVault(.closed(""), try v.insert("t", value: "y", vectorRow: row))
        assertThrowsVault(.closed(""), try v.insert(texts: ["content": "t"], value: "y"))
        assertThrowsVault(.closed(""), try v.insert(texts: ["content": "t"], value: "y", vectorRow: row))
        assertThrowsVault(.closed(""), try v.insert(contentsOf: [doc]))
        assertThrowsVault(.closed(""), try v.insert(contentsOf: []))
        assertThrowsVault(.closed(""), try v.search("some"))
        assertThrowsVault(.closed(""), try v.search("some", k: 0))
        assertThrowsVault(.closed(""), try v.search("   "))
        assertThrowsVault(.closed(""), try v.search("some", column: "content", escape: false))
        assertThrowsVault(.closed(""), try v.searchWithText("some"))
        assertThrowsVault(.closed(""), try v.searchWithSnippets("some"))
        assertThrowsVault(.closed(""), try v.countMatches("some"))
        assertThrowsVault(.closed(""), try v.get("some"))
        assertThrowsVault(.closed(""), try v.hybridSearch(query: "some", vector: q))
        assertThrowsVault(.closed(""), try v.hybridSearch(query: "some", vectorRow: row))
        assertThrowsVault(.closed(""), try v.hybridSearch(query: nil, vector: nil, k: 0))
        assertThrowsVault(.closed(""), try v.searchByVector(q))
        assertThrowsVault(.closed(""), try v.searchByVector(row))
        assertThrowsVault(.closed(""), try v.record(id: 1))
        assertThrowsVault(.closed(""), try v.update(1, text: "new"))
        assertThrowsVault(.closed(""), try v.update(1, texts: ["content": "new"]))
        assertThrowsVault(.closed(""), try v.update(1, value: "z"))
        assertThrowsVault(.closed(""), try v.update(1, vector: q))
        assertThrowsVault(.closed(""), try v.update(1, texts: nil, value: "z", vectorRow: row))
        assertThrowsVault(.closed(""), try v.delete(1))
        assertThrowsVault(.closed(""), try v.contains(1))
        assertThrowsVault(.closed(""), try v.count())
        assertThrowsVault(.closed(""), try v.keys())
        assertThrowsVault(.closed(""), try v.keys(limit: 1, offset: 1))
        assertThrowsVault(.closed(""), try v.clear())
        assertThrowsVault(.closed(""), try v.info())
        assertThrowsVault(.closed(""), try v.checkpoint())
        do {
            _ = try v.count()
        } catch let e as KohakuVaultError {
            XCTAssertTrue(e.reason.contains("TextVault is closed"), "\(e)")
        }

        // members that cannot fail report the state and do not trap
        XCTAssertTrue(v.isClosed)
        XCTAssertFalse(v.path.isEmpty)
        XCTAssertEqual(v.table, "text_vault")
        XCTAssertEqual(v.columns, ["content"])
        XCTAssertEqual(v.tokenizer, .unicode61)
        XCTAssertFalse(v.isReadOnly)
        XCTAssertEqual(v.dimensions, 4)
        XCTAssertEqual(v.metric, .cosine)
        XCTAssertEqual(v.vectorType, .f32)
        XCTAssertEqual(v.rowBytes, 16)
        _ = v.headersEnabled
        v.headersEnabled = false
        _ = v.description
        XCTAssertEqual(v.options, OpenOptions())
        XCTAssertNoThrow(try v.close(), "close stays idempotent")
    }

    func testEveryAsyncMemberThrowsClosed() async throws {
        let v = try closedVault()
        let q: [Float] = [1, 0, 0, 0], row = VectorRows.row(q)
        let doc = try TextDoc("t", value: "y")
        await expectClosed("insert") { try await v.insert("t", value: "y") }
        await expectClosed("insert vector") { try await v.insert("t", value: "y", vector: q) }
        await expectClosed("insert row") { try await v.insert("t", value: "y", vectorRow: row) }
        await expectClosed("insert texts") { try await v.insert(texts: ["content": "t"], value: "y") }
        await expectClosed("insert texts row") { try await v.insert(texts: ["content": "t"], value: "y", vectorRow: row) }
        await expectClosed("insert contentsOf") { try await v.insert(contentsOf: [doc]) }
        await expectClosed("search") { _ = try await v.search("some") }
        await expectClosed("searchWithText") { _ = try await v.searchWithText("some") }
        await expectClosed("searchWithSnippets") { _ = try await v.searchWithSnippets("some") }
        await expectClosed("countMatches") { _ = try await v.countMatches("some") }
        await expectClosed("get") { _ = try await v.get("some") }
        await expectClosed("hybridSearch") { _ = try await v.hybridSearch(query: "some", vector: q) }
        await expectClosed("hybridSearch row") { _ = try await v.hybridSearch(query: "some", vectorRow: row) }
        await expectClosed("searchByVector") { _ = try await v.searchByVector(q) }
        await expectClosed("searchByVector row") { _ = try await v.searchByVector(row) }
        await expectClosed("record") { _ = try await v.record(id: 1) }
        await expectClosed("update text") { try await v.update(1, text: "new") }
        await expectClosed("update texts") { try await v.update(1, texts: ["content": "new"]) }
        await expectClosed("update value") { try await v.update(1, value: "z") }
        await expectClosed("update row") { try await v.update(1, texts: nil, value: nil, vectorRow: row) }
        await expectClosed("delete") { try await v.delete(1) }
        await expectClosed("contains") { _ = try await v.contains(1) }
        await expectClosed("count") { _ = try await v.count() }
        await expectClosed("keys") { _ = try await v.keys() }
        await expectClosed("clear") { try await v.clear() }
        await expectClosed("info") { _ = try await v.info() }
        await expectClosed("checkpoint") { try await v.checkpoint() }
        do { try await v.close() } catch { XCTFail("close stays idempotent: \(error)") }
    }

    // MARK: - Threads and tasks

    func testConcurrentSearchesWhileInserting() throws {
        let (v, _) = try makeTextVault(self, columns: ["title", "body"], dimensions: 4, metric: .l2)
        defer { try? v.close() }
        // every document has exactly 8 tokens (4 + 4), so the average length never changes and a
        // one-phrase query keeps its order while other documents are added (only N grows)
        let terms = ["alpha", "bravo", "charlie", "delta"]
        let filler = ["one", "two", "three", "four", "five", "six", "seven", "eight"]
        var docs: [TextDoc] = []
        for (ti, t) in terms.enumerated() {
            for m in 1...6 {
                let words = Array(repeating: t, count: m) + filler.prefix(8 - m)
                docs.append(try TextDoc(texts: ["title": words[0..<4].joined(separator: " "),
                                                "body": words[4...].joined(separator: " ")],
                                        value: "\(t)\(m)", vector: [Float(ti), Float(m), 0, 0]))
            }
        }
        for i in 0..<276 {
            let words = (0..<8).map { filler[($0 + i) % filler.count] }
            docs.append(try TextDoc(texts: ["title": words[0..<4].joined(separator: " "),
                                            "body": words[4...].joined(separator: " ")],
                                    value: "f\(i)", vector: [100, Float(i), 0, 0]))
        }
        try v.insert(contentsOf: docs)
        let expected = try terms.map { try v.search($0, k: 10) }
        let expectedVec = try terms.indices.map { try v.searchByVector([Float($0), 3, 0, 0], k: 5) }
        for (t, e) in zip(terms, expected) {
            XCTAssertEqual(e.count, 6, t)
            XCTAssertEqual(try e.map { try $0.value.string() }, (1...6).reversed().map { "\(t)\($0)" }, "most matches first")
        }

        let log = FailureLog()
        let fail: @Sendable (String) -> Void = { log.add($0) }
        let group = DispatchGroup()
        // one writer adds documents that match no query (single inserts and batches) far from
        // every query vector
        DispatchQueue.global().async(group: group) {
            do {
                for i in 0..<120 {
                    let t = ["title": "nine ten eleven twelve", "body": "one two three four"]
                    if i % 4 == 0 {
                        try v.insert(contentsOf: (0..<5).map { j in
                            TextDoc(texts: .columns(t), value: TaggedValue(kind: .utf8, payload: Data("w\(i)-\(j)".utf8)),
                                    vector: [500, Float(i), Float(j), 0], vectorRow: nil)
                        })
                    } else {
                        try v.insert(texts: t, value: "w\(i)", vector: [500, Float(i), 0, 0])
                    }
                }
            } catch { fail("insert: \(error)") }
        }
        DispatchQueue.concurrentPerform(iterations: 8) { th in
            for round in 0..<30 {
                let ti = (th + round) % terms.count
                do {
                    switch round % 3 {
                    case 0:
                        let hits = try v.search(terms[ti], k: 10)
                        if hits.map(\.id) != expected[ti].map(\.id) {
                            fail("thread \(th) round \(round): \(hits.map(\.id)) != \(expected[ti].map(\.id))")
                        }
                    case 1:
                        let hits = try v.searchWithText(terms[ti], k: 3)
                        if hits.map(\.id) != expected[ti].prefix(3).map(\.id) || hits.contains(where: { $0.texts?.count != 2 }) {
                            fail("thread \(th) round \(round) with text: \(hits)")
                        }
                    default:
                        let hits = try v.searchByVector([Float(ti), 3, 0, 0], k: 5)
                        if hits != expectedVec[ti] { fail("thread \(th) round \(round) vector: \(hits.map(\.id))") }
                    }
                } catch { fail("thread \(th): \(error)") }
            }
        }
        group.wait()
        XCTAssertEqual(log.items, [])
        XCTAssertEqual(try v.count(), docs.count + 90 + 30 * 5)
    }

    func testAsyncVariants() async throws {
        let (v, url) = try makeTextVault(self, dimensions: 4)
        let a = try await v.insert("alpha text", value: "a", vector: [1, 0, 0, 0])
        let b = try await v.insert(texts: ["content": "beta text"], value: "b", vector: [0, 1, 0, 0])
        let c = try await v.insert("gamma text", value: "c", vectorRow: VectorRows.row([0, 0, 1, 0] as [Float]))
        let d = try await v.insert(texts: ["content": "delta text"], value: "d", vectorRow: VectorRows.row([0, 0, 0, 1] as [Float]))
        let more = try await v.insert(contentsOf: [try TextDoc("epsilon text", value: Int64(5), vector: [1, 1, 0, 0])])
        XCTAssertEqual([a, b, c, d] + more, [1, 2, 3, 4, 5])
        let hits = try await v.search("text", k: 10)
        XCTAssertEqual(hits.count, 5)
        let withText = try await v.searchWithText("beta")
        XCTAssertEqual(withText.first?.texts, ["content": "beta text"])
        let snippets = try await v.searchWithSnippets("gamma", highlightStart: "<", highlightEnd: ">")
        XCTAssertEqual(snippets.first?.texts, ["content": "<gamma> text"])
        let n = try await v.countMatches("text")
        XCTAssertEqual(n, 5)
        let got = try await v.get("delta")
        XCTAssertEqual(try got.string(), "d")
        let hybrid = try await v.hybridSearch(query: "alpha", vector: [1, 0.1, 0, 0], k: 2)
        XCTAssertEqual(hybrid.first?.id, a)
        let hybridRow = try await v.hybridSearch(query: "alpha", vectorRow: VectorRows.row([1, 0.1, 0, 0] as [Float]), k: 2)
        XCTAssertEqual(hybridRow, hybrid)
        let near = try await v.searchByVector([0, 1, 0, 0], k: 1)
        XCTAssertEqual(near.map(\.id), [b])
        let nearRow = try await v.searchByVector(VectorRows.row([0, 1, 0, 0] as [Float]), k: 1)
        XCTAssertEqual(nearRow, near)
        try await v.update(a, text: "alpha rewritten")
        try await v.update(b, texts: ["content": "beta rewritten"], value: "b2")
        try await v.update(c, value: "c2", vector: [0, 0, 2, 0])
        try await v.update(d, texts: .single("delta rewritten"), value: nil, vectorRow: VectorRows.row([0, 0, 0, 3] as [Float]))
        let rec = try await v.record(id: b)
        XCTAssertEqual(rec.texts, ["content": "beta rewritten"])
        XCTAssertEqual(try rec.value.string(), "b2")
        let rewritten = try await v.search("rewritten", k: 10)
        XCTAssertEqual(Set(rewritten.map(\.id)), [a, b, d])
        let deleted = try await v.delete(more[0])
        XCTAssertTrue(deleted)
        let has = try await v.contains(more[0])
        XCTAssertFalse(has)
        let count = try await v.count()
        XCTAssertEqual(count, 4)
        let keys = try await v.keys(limit: 10)
        XCTAssertEqual(keys, [a, b, c, d])
        let info = try await v.info()
        XCTAssertEqual(info.count, 4)
        try await v.checkpoint()

        // one vault shared by concurrent tasks (TextVault is Sendable)
        try await withThrowingTaskGroup(of: [TextHit].self) { group in
            for i in 0..<8 {
                group.addTask {
                    i % 2 == 0 ? try await v.search("rewritten", k: 3) : try await v.searchByVector([1, 1, 1, 1], k: 3)
                }
            }
            for try await hits in group { XCTAssertEqual(hits.count, 3) }
        }
        try await v.clear()
        let empty = try await v.count()
        XCTAssertEqual(empty, 0)
        try await v.close()
        XCTAssertTrue(v.isClosed)
        let again = try TextVault(path: url.path, dimensions: 4)
        let reopened = try await again.count()
        XCTAssertEqual(reopened, 0)
        try await again.close()
    }

    func testDeinitClosesTheVault() throws {
        let url = try makeTempDir(self).appendingPathComponent("d.db")
        let seen = LockedBox<[String]>([])
        let previous = TextVault.onDeinitCloseError
        TextVault.onDeinitCloseError = { _, error in seen.value.append("\(error)") }
        defer { TextVault.onDeinitCloseError = previous }
        do {
            let v = try TextVault(path: url.path)
            try v.insert("kept text", value: "kept")
        }
        XCTAssertEqual(seen.value, [])
        let again = try TextVault(path: url.path)
        defer { try? again.close() }
        XCTAssertEqual(try again.get("kept").string(), "kept")
    }
}
