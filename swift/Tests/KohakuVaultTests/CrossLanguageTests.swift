import Foundation
import XCTest
@testable import KohakuVault

/// The cross-language .db check (tests/conformance/xlang.json).
///
/// With `KV_XLANG_DIR` set: writes `$KV_XLANG_DIR/swift.db` (table kv) through the facade's typed
/// API, then reads back every `<lang>.db` there: each key must hold exactly the `stored` bytes and
/// read back, typed, as the entry's value. `KV_XLANG_REQUIRE=rust,python,...` makes a missing
/// file a failure. Without `KV_XLANG_DIR` the check runs against a temporary directory (own file only).
///
/// ColumnVault: writes `$KV_XLANG_DIR/swift-columns.db` (columns "ids" i64 [1, 2, 3], "names" str
/// ["a", "é"], "emb" vec:f32:2 [[1, 2], [3, 4]]) and reads every `<lang>-columns.db` present
/// (the same content); these are never required (not every language writes one yet).
///
/// VectorKVault: writes `$KV_XLANG_DIR/swift-vectors.db` (table "vec_xlang", the rows of the case
/// "xlang" of tests/conformance/vectors.json) and reads every `<lang>-vectors.db` present, running
/// that case's queries with the same expected answers (never required either).
final class CrossLanguageTests: XCTestCase {
    private struct Entry {
        let key: String
        let type: String
        let json: JSON
    }

    private func entries() throws -> [Entry] {
        return try conformanceCases("xlang.json", key: "entries").map {
            Entry(key: $0["key"]?.string ?? "", type: $0["type"]?.string ?? "", json: $0)
        }
    }

    private func write(_ e: Entry, into v: KVault) throws {
        let j = e.json
        switch e.type {
        case "bytes":
            try v.set(unhex(try XCTUnwrap(j["value_hex"]?.string)), forKey: e.key)
        case "string":
            try v.set(try XCTUnwrap(j["value"]?.string), forKey: e.key)
        case "int":
            try v.set(try XCTUnwrap(j["value"]?.int), forKey: e.key)
        case "float":
            try v.set(try XCTUnwrap(j["value"]?.double), forKey: e.key)
        case "bool":
            try v.set(try XCTUnwrap(j["value"]?.bool), forKey: e.key)
        case "msgpack_hex":
            try v.setPlain(try XCTUnwrap(j["value"]).plain, forKey: e.key)
        case "f32_array":
            let values = try XCTUnwrap(j["value"]?.array).map { Float(try XCTUnwrap($0.double)) }
            let shape = try XCTUnwrap(j["shape"]?.array).map { Int(try XCTUnwrap($0.int)) }
            try v.setFloatArray(values, shape: shape, forKey: e.key)
        default:
            XCTFail("xlang entry \(e.key): unknown type \(e.type) (teach the Swift suite about it)")
        }
    }

    private func check(_ e: Entry, in v: KVault, file: String) throws {
        let j = e.json
        let ctx = "\(file) key \(e.key)"
        guard let stored = try v.storedBytes(forKey: e.key) else {
            return XCTFail("\(ctx): missing")
        }
        XCTAssertEqual(hex(stored), j["stored"]?.string, "\(ctx): stored bytes")
        switch e.type {
        case "bytes":
            XCTAssertEqual(try v.data(forKey: e.key), unhex(try XCTUnwrap(j["value_hex"]?.string)), ctx)
        case "string":
            XCTAssertEqual(try v.string(forKey: e.key), j["value"]?.string, ctx)
        case "int":
            XCTAssertEqual(try v.int64(forKey: e.key), j["value"]?.int, ctx)
        case "float":
            XCTAssertEqual(try v.double(forKey: e.key), j["value"]?.double, ctx)
        case "bool":
            XCTAssertEqual(try v.bool(forKey: e.key), j["value"]?.bool, ctx)
        case "msgpack_hex":
            XCTAssertEqual(try v.plain(forKey: e.key)?.normalized, try XCTUnwrap(j["value"]).plain.normalized, ctx)
            XCTAssertEqual(try v.value(forKey: e.key)?.payload, unhex(try XCTUnwrap(j["value_hex"]?.string)), ctx)
        case "f32_array":
            let got = try XCTUnwrap(try v.floatArray(forKey: e.key), ctx)
            XCTAssertEqual(got.values, try XCTUnwrap(j["value"]?.array).map { Float(try XCTUnwrap($0.double)) }, ctx)
            XCTAssertEqual(got.shape, try XCTUnwrap(j["shape"]?.array).map { Int(try XCTUnwrap($0.int)) }, ctx)
        default:
            XCTFail("\(ctx): unknown type \(e.type)")
        }
    }

    func testCrossLanguageFiles() throws {
        let env = ProcessInfo.processInfo.environment
        let dir = try xlangDir(self)
        let list = try entries()
        XCTAssertFalse(list.isEmpty)

        // write swift.db afresh
        let own = dir.appendingPathComponent("swift.db")
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: own.path + suffix)
        }
        let w = try KVault(path: own.path, table: "kv")
        for e in list { try write(e, into: w) }
        try w.close()

        // read every <lang>.db present (our own included), and insist on the required ones
        let required = (env["KV_XLANG_REQUIRE"] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        for lang in required where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(lang).db").path) {
            XCTFail("KV_XLANG_REQUIRE lists \(lang) but \(dir.path)/\(lang).db is missing")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".db") && !$0.hasSuffix("-columns.db") && !$0.hasSuffix("-vectors.db") && !$0.hasSuffix("-texts.db") }
            .sorted() // <lang>-columns.db and <lang>-vectors.db: below
        XCTAssertTrue(files.contains("swift.db"))
        for f in files {
            let v = try KVault(path: dir.appendingPathComponent(f).path, table: "kv",
                               options: OpenOptions(readOnly: true))
            defer { try? v.close() }
            for e in list { try check(e, in: v, file: f) }
            if f == "swift.db" { XCTAssertEqual(try v.count(), list.count, "\(f): key count") }
        }
        print("xlang: checked \(files.joined(separator: ", ")) in \(dir.path)")
    }

    func testCrossLanguageColumnFiles() throws {
        let dir = try xlangDir(self)
        let own = dir.appendingPathComponent("swift-columns.db")
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: own.path + suffix)
        }
        let w = try ColumnVault(path: own.path)
        try w.createColumn("ids", dtype: "i64", as: Int64Column.self).append(contentsOf: [1, 2, 3])
        try w.createColumn("names", dtype: "str", as: StringColumn.self).append(contentsOf: ["a", "é"])
        try w.createColumn("emb", dtype: "vec:f32:2", as: FloatTensorColumn.self).append(contentsOf: [[1, 2], [3, 4]])
        try w.close()

        var checked: [String] = []
        for lang in ["rust", "python", "kotlin", "swift"] {
            let f = dir.appendingPathComponent("\(lang)-columns.db")
            guard FileManager.default.fileExists(atPath: f.path) else { continue }
            let v = try ColumnVault(path: f.path, options: OpenOptions(readOnly: true))
            defer { try? v.close() }
            let ctx = f.lastPathComponent
            XCTAssertEqual(try v.listColumns().map(\.dtype).sorted(), ["i64", "str", "vec:f32:2"], ctx)
            XCTAssertEqual(try v.column(named: "ids", as: Int64Column.self).read(), [1, 2, 3], ctx)
            XCTAssertEqual(try v.column(named: "names", as: StringColumn.self).read(), ["a", "é"], ctx)
            let emb = try v.column(named: "emb", as: FloatTensorColumn.self)
            XCTAssertEqual(emb.shape, [2], ctx)
            XCTAssertEqual(try emb.read(), [[1, 2], [3, 4]], ctx)
            XCTAssertEqual(try emb.storedRows(0..<1).map(hex), ["0000803F00000040"], ctx)
            checked.append(ctx)
        }
        XCTAssertTrue(checked.contains("swift-columns.db"))
        print("xlang columns: checked \(checked.joined(separator: ", ")) in \(dir.path)")
    }

    func testCrossLanguageVectorFiles() throws {
        let dir = try xlangDir(self)
        let c = try XCTUnwrap(try VectorCase.load().first { $0.name == "xlang" }, "vectors.json has no case xlang")
        let own = dir.appendingPathComponent("swift-vectors.db")
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: own.path + suffix)
        }
        let w = try VectorKVault(path: own.path, table: "vec_xlang", dimensions: c.dimensions, metric: c.metric,
                                 type: c.type)
        try c.fill(w, batch: false)
        try w.close()

        var checked: [String] = []
        for lang in ["rust", "python", "kotlin", "swift"] {
            let f = dir.appendingPathComponent("\(lang)-vectors.db")
            guard FileManager.default.fileExists(atPath: f.path) else { continue }
            let ctx = f.lastPathComponent
            let v = try VectorKVault(path: f.path, table: "vec_xlang", dimensions: c.dimensions, metric: c.metric,
                                     type: c.type, options: OpenOptions(readOnly: true))
            defer { try? v.close() }
            XCTAssertEqual(try v.count(), c.rows.count, ctx)
            XCTAssertEqual(try v.ids(), (1...Int64(c.rows.count)).map { $0 }, ctx)
            try c.check(v, ctx)
            checked.append(ctx)
        }
        XCTAssertTrue(checked.contains("swift-vectors.db"))
        print("xlang vectors: checked \(checked.joined(separator: ", ")) in \(dir.path)")
    }
}
