import Foundation
import XCTest
@testable import KohakuVault

/// Every case of tests/conformance/errors.json: the failure raises exactly the listed kind
/// (`KohakuVaultError.<kind>`), the same as in Kotlin and the core.
final class ErrorConformanceTests: XCTestCase {
    private func fresh(_ name: String = "e.db") throws -> URL {
        try makeTempDir(self).appendingPathComponent(name)
    }

    /// An empty SQLite 3 database (one 4096-byte page, an empty schema) whose header says
    /// `PRAGMA user_version = userVersion` (header offset 60, big-endian).
    private func sqliteFile(userVersion: UInt32) -> Data {
        var d = Data(count: 4096)
        d.replaceSubrange(0..<16, with: Array("SQLite format 3\u{0}".utf8))
        func be16(_ at: Int, _ v: UInt16) { d[at] = UInt8(v >> 8); d[at + 1] = UInt8(v & 0xFF) }
        func be32(_ at: Int, _ v: UInt32) { for i in 0..<4 { d[at + i] = UInt8((v >> (8 * UInt32(3 - i))) & 0xFF) } }
        be16(16, 4096)            // page size
        d[18] = 1; d[19] = 1      // legacy (rollback journal) read/write versions
        d[21] = 64; d[22] = 32; d[23] = 32
        be32(24, 1)               // change counter
        be32(28, 1)               // database size in pages
        be32(44, 4)               // schema format
        be32(56, 1)               // UTF-8
        be32(60, userVersion)
        be32(92, 1)               // version-valid-for = change counter
        be32(96, 3_045_000)
        d[100] = 0x0D             // page 1: an empty table b-tree leaf (sqlite_schema)
        be16(105, 4096)           // cell content area starts at the page end
        return d
    }

    /// Runs one case; returns the error it raised (nil when nothing was thrown).
    private func run(_ c: JSON) throws -> [(String, Error?)] {
        let id = c["id"]?.string ?? "?"
        func attempt(_ what: String = "", _ body: () throws -> Void) -> (String, Error?) {
            do { try body(); return (what, nil) } catch { return (what, error) }
        }
        switch id {
        case "use_after_close":
            let v = try KVault(path: try fresh().path)
            try v.set("x", forKey: "a")
            try v.close()
            return [
                attempt("get") { _ = try v.value(forKey: "a") },
                attempt("put") { try v.set("y", forKey: "a") },
                attempt("delete") { try v.delete("a") },
                attempt("exists") { _ = try v.contains("a") },
                attempt("len") { _ = try v.count() },
                attempt("keys") { _ = try v.keys().collect() },
                attempt("scan") { _ = try v.items().collect() },
                attempt("put_many") { try v.putMany([(Data("a".utf8), Data())]) },
                attempt("get_many") { _ = try v.getMany(["a"]) },
                attempt("pop") { try v.pop("a") },
                attempt("enable_cache") { try v.enableCache() },
            ]
        case "write_read_only":
            let url = try fresh()
            let w = try KVault(path: url.path)
            try w.set("x", forKey: "a")
            try w.close()
            let ro = try KVault(path: url.path, options: OpenOptions(readOnly: true))
            defer { try? ro.close() }
            return [attempt { try ro.set("y", forKey: "b") }]
        case "bad_table_name":
            let table = try XCTUnwrap(c["table"]?.string)
            let path = try fresh().path
            return [attempt { _ = try KVault(path: path, table: table) }]
        case "missing_table_read_only":
            let url = try fresh()
            try KVault(path: url.path).close()
            let table = try XCTUnwrap(c["table"]?.string)
            return [attempt { _ = try KVault(path: url.path, table: table, options: OpenOptions(readOnly: true)) }]
        case "short_stream":
            let size = try XCTUnwrap(c["size"]?.int), have = try XCTUnwrap(c["bytes"]?.int)
            let dir = try makeTempDir(self)
            let src = dir.appendingPathComponent("short.bin")
            try Data(repeating: 7, count: Int(have)).write(to: src)
            let v = try KVault(path: dir.appendingPathComponent("e.db").path)
            defer { try? v.close() }
            try v.set(Data("old".utf8), forKey: "k")
            let h = try FileHandle(forReadingFrom: src)
            defer { try? h.close() }
            let r = attempt { try v.put(key: "k", from: h, size: UInt64(size)) }
            XCTAssertEqual(try v.data(forKey: "k"), Data("old".utf8), "short_stream: the old value stays")
            return [r]
        case "page_size_zero":
            let v = try KVault(path: try fresh().path)
            defer { try? v.close() }
            try v.set("x", forKey: "a")
            return [attempt { _ = try v.keys(pageSize: 0).collect() }]
        case "negative_limit":
            let v = try KVault(path: try fresh().path)
            defer { try? v.close() }
            try v.set("x", forKey: "a")
            return [attempt { _ = try v.keys(limit: -1).collect() }]
        case "cache_size_zero":
            let v = try KVault(path: try fresh().path)
            defer { try? v.close() }
            return [attempt { try v.enableCache(capBytes: 0) }]
        case "close_while_cache_locked":
            let url = try fresh()
            let v = try KVault(path: url.path)
            try v.enableCache()
            let r = v.withCacheLocked { v in
                attempt {
                    try v.set("pending", forKey: "p")
                    try v.close()
                }
            }
            XCTAssertFalse(v.isClosed, "close_while_cache_locked: the vault stays open")
            try v.close() // unlocked now: publishes the pending entry
            let again = try KVault(path: url.path)
            XCTAssertEqual(try again.string(forKey: "p"), "pending", "close_while_cache_locked: nothing is lost")
            try again.close()
            return [r]
        case "key_too_long":
            let n = Int(try XCTUnwrap(c["key_len"]?.int))
            let v = try KVault(path: try fresh().path)
            defer { try? v.close() }
            return [attempt { try v.set("x", forKey: Data(repeating: 0x61, count: n)) }]
        case "newer_file_version":
            let url = try fresh()
            try sqliteFile(userVersion: UInt32(try XCTUnwrap(c["user_version"]?.int))).write(to: url)
            return [attempt { _ = try KVault(path: url.path) }]
        case "pickle_value":
            let v = try KVault(path: try fresh().path)
            defer { try? v.close() }
            try v.put(key: Data("p".utf8), kind: ValueKind.pickle.rawValue,
                      payload: unhex(try XCTUnwrap(c["payload_hex"]?.string)))
            XCTAssertEqual(try v.value(forKey: "p")?.kindCode, ValueKind.pickle.rawValue, "pickle kept as it is")
            struct Any1: Decodable {}
            return [
                attempt("int64") { _ = try v.int64(forKey: "p") },
                attempt("string") { _ = try v.string(forKey: "p") },
                attempt("data") { _ = try v.data(forKey: "p") },
                attempt("plain") { _ = try v.plain(forKey: "p") },
                attempt("codable") { _ = try v.codable(Any1.self, forKey: "p") },
            ]
        // ColumnVault cases (ids proposed to tests/conformance/errors.json; optional fields
        // default to the values the Swift suite uses).
        case "column_index_out_of_range":
            let (v, _) = try makeColumnVault(self)
            defer { try? v.close() }
            let col = try v.createColumn("c", dtype: c["dtype"]?.string ?? "i64")
            try col.appendValues([TaggedValue(kind: .raw, payload: Data(count: max(1, col.elementSize)))])
            return [
                attempt("read") { _ = try col.storedRows(1..<2) },
                attempt("negative") { _ = try col.storedRows(-1..<0) },
                attempt("delete") { try col.removeSubrange(0..<2) },
            ]
        case "column_dtype_mismatch":
            let (v, _) = try makeColumnVault(self)
            defer { try? v.close() }
            try v.createColumn("c", dtype: "i64")
            return [attempt { try v.ensureColumn("c", dtype: c["other_dtype"]?.string ?? "f32") }]
        case "column_unknown_dtype":
            let (v, _) = try makeColumnVault(self)
            defer { try? v.close() }
            return [attempt { try v.createColumn("c", dtype: c["dtype"]?.string ?? "nope") }]
        case "column_unknown_codec":
            let (v, _) = try makeColumnVault(self)
            defer { try? v.close() }
            return [attempt { try v.createColumn("c", dtype: c["dtype"]?.string ?? "str:klingon") }]
        case "column_missing":
            let (v, _) = try makeColumnVault(self)
            defer { try? v.close() }
            return [attempt { _ = try v.column(named: "absent") }]
        case "column_use_after_close":
            let (v, _) = try makeColumnVault(self)
            let col = try v.createColumn("c", dtype: "i64", as: Int64Column.self)
            try v.close()
            return [
                attempt("list") { _ = try v.listColumns() },
                attempt("append") { try col.append(1) },
                attempt("read") { _ = try col.read() },
                attempt("len") { _ = try col.count() },
                attempt("enable_cache") { try v.enableCache() },
            ]
        // VectorKVault cases (the `do` text of each case says what to run).
        case "vector_wrong_dims":
            let v = try VectorKVault(path: try fresh().path, table: "v", dimensions: 4, metric: .cosine)
            defer { try? v.close() }
            try v.insert([1, 0, 0, 0], value: "one")
            let r = [
                attempt("insert") { try v.insert([1, 0, 0] as [Float], value: "x") },
                attempt("insert row") { try v.insert(VectorRows.row([1, 0, 0] as [Float]), value: "x") },
                attempt("search") { _ = try v.search([1, 0, 0] as [Float]) },
                attempt("search row") { _ = try v.search(VectorRows.row([1, 0, 0] as [Float])) },
            ]
            XCTAssertEqual(try v.count(), 1, "vector_wrong_dims: the count stays 1")
            return r
        case "vector_not_finite":
            let v = try VectorKVault(path: try fresh().path, dimensions: 4, metric: .l2)
            defer { try? v.close() }
            try v.insert([1, 0, 0, 0], value: "one")
            let r = [
                attempt("insert") { try v.insert([1, .nan, 0, 0], value: "x") },
                attempt("insert row") { try v.insert(VectorRows.row([1, .nan, 0, 0] as [Float]), value: "x") },
            ]
            XCTAssertEqual(try v.count(), 1, "vector_not_finite: the count stays 1")
            return r
        case "vector_k_too_large":
            let k = Int(try XCTUnwrap(c["k"]?.int))
            let v = try VectorKVault(path: try fresh().path, dimensions: 4, metric: .cosine)
            defer { try? v.close() }
            try v.insert([1, 0, 0, 0], value: "one")
            return [
                attempt("search") { _ = try v.search([1, 0, 0, 0], k: k) },
                attempt("search many") { _ = try v.search(many: [[1, 0, 0, 0]], k: k) },
            ]
        case "vector_incompatible_metric":
            let metric = try XCTUnwrap(VectorMetric(rawValue: c["metric"]?.string ?? ""), id)
            let type = try XCTUnwrap(VectorType(rawValue: c["vector_type"]?.string ?? ""), id)
            let path = try fresh().path
            return [attempt { _ = try VectorKVault(path: path, dimensions: 8, metric: metric, type: type) }]
        case "vector_reopen_mismatch":
            let path = try fresh().path
            try VectorKVault(path: path, table: "v", dimensions: 4, metric: .cosine).close()
            let r = attempt { _ = try VectorKVault(path: path, table: "v", dimensions: 8, metric: .cosine) }
            if let e = r.1 as? KohakuVaultError {
                XCTAssertTrue(e.reason.contains("dimensions=4") && e.reason.contains("dimensions=8"),
                              "vector_reopen_mismatch: the message names both: \(e)")
            }
            return [r]
        case "vector_missing_id":
            let v = try VectorKVault(path: try fresh().path, dimensions: 4, metric: .cosine)
            defer { try? v.close() }
            return [attempt { _ = try v.record(id: 42) }]
        case "vector_use_after_close":
            let v = try VectorKVault(path: try fresh().path, dimensions: 4, metric: .cosine)
            try v.insert([1, 0, 0, 0], value: "one")
            try v.close()
            return [
                attempt("insert") { try v.insert([0, 1, 0, 0], value: "two") },
                attempt("search") { _ = try v.search([1, 0, 0, 0]) },
                attempt("get_by_id") { _ = try v.record(id: 1) },
                attempt("count") { _ = try v.count() },
                attempt("delete") { try v.delete(1) },
            ]
        // TextVault cases (the `do` text of each case says what to run).
        case "text_reserved_column":
            let cols = try XCTUnwrap(c["columns"]?.array, id).map { try XCTUnwrap($0.string, id) }
            let path = try fresh().path
            return [attempt { _ = try TextVault(path: path, table: "t", columns: cols) }]
        case "text_fts5_syntax":
            let q = try XCTUnwrap(c["query"]?.string, id)
            let v = try TextVault(path: try fresh().path)
            defer { try? v.close() }
            try v.insert("one document", value: "one")
            let r = [
                attempt("search") { _ = try v.search(q, escape: false) },
                attempt("search with text") { _ = try v.searchWithText(q, escape: false) },
                attempt("snippets") { _ = try v.searchWithSnippets(q, escape: false) },
                attempt("count_matches") { _ = try v.countMatches(q) },
            ]
            XCTAssertEqual(try v.count(), 1, "text_fts5_syntax: the count stays 1")
            return r
        case "text_unknown_column":
            let v = try TextVault(path: try fresh().path, columns: ["title", "body"])
            defer { try? v.close() }
            try v.insert(texts: ["title": "a title", "body": "x marks the spot"], value: "one")
            return [
                attempt("search") { _ = try v.search("x", column: "nope") },
                attempt("search with text") { _ = try v.searchWithText("x", column: "nope") },
                attempt("snippets") { _ = try v.searchWithSnippets("x", snippetColumn: "nope") },
            ]
        case "text_k_too_large":
            let k = Int(try XCTUnwrap(c["k"]?.int))
            let v = try TextVault(path: try fresh().path)
            defer { try? v.close() }
            try v.insert("x y z", value: "one")
            return [
                attempt("search") { _ = try v.search("x", k: k) },
                attempt("search with text") { _ = try v.searchWithText("x", k: k) },
                attempt("snippets") { _ = try v.searchWithSnippets("x", k: k) },
                attempt("hybrid") { _ = try v.hybridSearch(query: "x", vector: nil, k: k) },
            ]
        case "text_reopen_mismatch":
            let path = try fresh().path
            try TextVault(path: path, table: "t", columns: ["title", "body"]).close()
            let r = attempt { _ = try TextVault(path: path, table: "t", columns: ["title"]) }
            if let e = r.1 as? KohakuVaultError {
                XCTAssertTrue(e.reason.contains("[\"title\", \"body\"]") && e.reason.contains("[\"title\"]"),
                              "text_reopen_mismatch: the message names both: \(e)")
            }
            return [r]
        case "text_missing_id":
            let v = try TextVault(path: try fresh().path)
            defer { try? v.close() }
            return [attempt { _ = try v.record(id: 42) }]
        case "text_use_after_close":
            let v = try TextVault(path: try fresh().path)
            try v.insert("one document", value: "one")
            try v.close()
            return [
                attempt("insert") { try v.insert("two", value: "two") },
                attempt("search") { _ = try v.search("one") },
                attempt("get_by_id") { _ = try v.record(id: 1) },
                attempt("count") { _ = try v.count() },
                attempt("delete") { try v.delete(1) },
            ]
        default:
            XCTFail("errors.json case \(id) is unknown to the Swift suite: teach it")
            return []
        }
    }

    func testEveryErrorCase() throws {
        let cases = try conformanceCases("errors.json")
        XCTAssertGreaterThanOrEqual(cases.count, 12)
        for c in cases {
            let id = c["id"]?.string ?? "?"
            let kind = try XCTUnwrap(c["kind"]?.string, id)
            let want = kind.prefix(1).lowercased() + kind.dropFirst()
            let results = try run(c)
            XCTAssertFalse(results.isEmpty, id)
            for (what, error) in results {
                let ctx = what.isEmpty ? id : "\(id) (\(what))"
                guard let error else {
                    XCTFail("\(ctx): nothing was thrown, expected \(want)")
                    continue
                }
                guard let e = error as? KohakuVaultError else {
                    XCTFail("\(ctx): expected KohakuVaultError.\(want), got \(error)")
                    continue
                }
                XCTAssertEqual(e.name, want, "\(ctx): \(e)")
            }
        }
    }

    /// The core's closed message names the vault type.
    func testClosedMessageNamesTheVault() throws {
        let v = try KVault(path: try fresh().path)
        try v.close()
        XCTAssertThrowsError(try v.count()) { e in
            XCTAssertTrue((e as? KohakuVaultError)?.reason.contains("closed KVault") == true, "\(e)")
        }
    }
}
