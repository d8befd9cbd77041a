import Foundation
import XCTest
@testable import KohakuVault

/// The cross-language TextVault file (case "xlang" of tests/conformance/texts.json).
///
/// Writes `$KV_XLANG_DIR/swift-texts.db` (table "txt_xlang", that case's documents, ids 1...n)
/// and reads every `<lang>-texts.db` present (rust, python, kotlin, swift), read-only, running
/// that case's queries with the same expected answers. `KV_XLANG_REQUIRE=rust,python,...` makes a
/// missing file a failure. Without `KV_XLANG_DIR` the check runs against a temporary directory
/// (own file only). The class name matches `--filter CrossLanguage` (the xlang phase).
final class TextCrossLanguageTests: XCTestCase {
    func testCrossLanguageTextFiles() throws {
        let env = ProcessInfo.processInfo.environment
        let dir = try xlangDir(self)
        let c = try XCTUnwrap(try TextCase.load().first { $0.name == "xlang" }, "texts.json has no case xlang")
        XCTAssertFalse(c.queries.isEmpty)

        let own = dir.appendingPathComponent("swift-texts.db")
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: own.path + suffix)
        }
        let w = try c.open(own.path, table: "txt_xlang")
        try c.fill(w, batch: false)
        try w.close()

        let required = Set((env["KV_XLANG_REQUIRE"] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
        var checked: [String] = []
        for lang in ["rust", "python", "kotlin", "swift"] {
            let f = dir.appendingPathComponent("\(lang)-texts.db")
            guard FileManager.default.fileExists(atPath: f.path) else {
                if required.contains(lang) { XCTFail("KV_XLANG_REQUIRE lists \(lang) but \(f.path) is missing") }
                continue
            }
            let ctx = f.lastPathComponent
            let v = try c.open(f.path, table: "txt_xlang", options: OpenOptions(readOnly: true))
            defer { try? v.close() }
            XCTAssertEqual(try v.keys(), (1...Int64(c.docs.count)).map { $0 }, ctx)
            XCTAssertEqual(try v.info().columns, c.columns, ctx)
            XCTAssertEqual(try v.info().tokenizer, c.tokenizer.rawValue, ctx)
            try c.check(v, ctx)
            checked.append(ctx)
        }
        XCTAssertTrue(checked.contains("swift-texts.db"))
        print("xlang texts: checked \(checked.joined(separator: ", ")) in \(dir.path)")
    }
}
