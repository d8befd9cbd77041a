import Foundation
import XCTest
@testable import KohakuVault

/// The repository root, found from this file's path (swift/Tests/KohakuVaultTests/…).
let repoRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh temporary directory, removed at the end of the test.
func makeTempDir(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("kvswift-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

func hex(_ d: Data) -> String { d.map { String(format: "%02X", $0) }.joined() }

func unhex(_ s: String) -> Data {
    var out = Data(capacity: s.count / 2)
    var it = s.utf8.makeIterator()
    func nib(_ c: UInt8) -> UInt8 {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: preconditionFailure("bad hex digit in \(s)")
        }
    }
    while let a = it.next() {
        guard let b = it.next() else { preconditionFailure("odd hex length: \(s)") }
        out.append(nib(a) << 4 | nib(b))
    }
    return out
}

/// Asserts that `body` throws the `KohakuVaultError` case of `expected` (reasons are not compared);
/// a `message` (naming the case, for checks in loops) leads every failure's text.
func assertThrowsVault<T>(_ expected: KohakuVaultError, _ body: @autoclosure () throws -> T, _ message: String = "",
                          file: StaticString = #filePath, line: UInt = #line) {
    let m = message.isEmpty ? "" : "\(message): "
    do {
        _ = try body()
        XCTFail("\(m)expected \(expected.name), nothing was thrown", file: file, line: line)
    } catch let e as KohakuVaultError {
        XCTAssertTrue(e.isSameCase(as: expected), "\(m)expected \(expected.name), got \(e)", file: file, line: line)
    } catch {
        XCTFail("\(m)expected KohakuVaultError.\(expected.name), got \(error)", file: file, line: line)
    }
}

/// Asserts that the async `body` (named `what`) throws `.closed`.
func expectClosed(_ what: String, _ body: () async throws -> Void,
                  file: StaticString = #filePath, line: UInt = #line) async {
    do {
        try await body()
        XCTFail("\(what): nothing thrown", file: file, line: line)
    } catch let e as KohakuVaultError {
        XCTAssertEqual(e.name, "closed", "\(what): \(e)", file: file, line: line)
    } catch {
        XCTFail("\(what): \(error)", file: file, line: line)
    }
}

/// The directory of the cross-language files: `$KV_XLANG_DIR` (created when missing), else a
/// temporary directory of `test` (own file only).
func xlangDir(_ test: XCTestCase) throws -> URL {
    if let d = ProcessInfo.processInfo.environment["KV_XLANG_DIR"], !d.isEmpty {
        let dir = URL(fileURLWithPath: d, isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
    return try makeTempDir(test)
}

/// The `key` array (default `cases`) of tests/conformance/`name`, its `version` checked to be 1.
func conformanceCases(_ name: String, key: String = "cases",
                      file: StaticString = #filePath, line: UInt = #line) throws -> [JSON] {
    let doc = try JSON.load(repoRoot.appendingPathComponent("tests/conformance/\(name)"))
    XCTAssertEqual(doc["version"]?.int, 1, file: file, line: line)
    return try XCTUnwrap(doc[key]?.array, file: file, line: line)
}

// MARK: - A small JSON reader that keeps object order and tells ints from floats

indirect enum JSON: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o.first(where: { $0.0 == key })?.1 }
        return nil
    }

    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var array: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    var int: Int64? { if case .int(let v) = self { return v } else { return nil } }
    var bool: Bool? { if case .bool(let v) = self { return v } else { return nil } }

    var double: Double? {
        switch self {
        case .double(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }

    /// The plain value this JSON denotes (object order kept).
    var plain: PlainValue {
        switch self {
        case .null: return .nil
        case .bool(let b): return .bool(b)
        case .int(let v): return .int(v)
        case .double(let v): return .double(v)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map { $0.plain })
        case .object(let o): return .map(o.map { PlainValue.Entry(.string($0.0), $0.1.plain) })
        }
    }

    static func load(_ url: URL) throws -> JSON {
        let bytes = [UInt8](try Data(contentsOf: url))
        var p = Parser(b: bytes)
        let v = try p.value()
        p.ws()
        guard p.i == bytes.count else { throw p.fail("trailing data") }
        return v
    }

    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    struct Parser {
        let b: [UInt8]
        var i = 0

        func fail(_ m: String) -> ParseError { ParseError(description: "JSON: \(m) at byte \(i)") }

        mutating func ws() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func lit(_ s: String) throws {
            let u = Array(s.utf8)
            guard i + u.count <= b.count, Array(b[i..<(i + u.count)]) == u else { throw fail("expected \(s)") }
            i += u.count
        }

        mutating func value() throws -> JSON {
            ws()
            guard i < b.count else { throw fail("unexpected end") }
            switch b[i] {
            case UInt8(ascii: "{"):
                i += 1
                var o: [(String, JSON)] = []
                ws()
                if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                while true {
                    ws()
                    let k = try str()
                    ws()
                    try lit(":")
                    o.append((k, try value()))
                    ws()
                    guard i < b.count else { throw fail("unterminated object") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    try lit("}")
                    return .object(o)
                }
            case UInt8(ascii: "["):
                i += 1
                var a: [JSON] = []
                ws()
                if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                while true {
                    a.append(try value())
                    ws()
                    guard i < b.count else { throw fail("unterminated array") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    try lit("]")
                    return .array(a)
                }
            case UInt8(ascii: "\""): return .string(try str())
            case UInt8(ascii: "t"): try lit("true"); return .bool(true)
            case UInt8(ascii: "f"): try lit("false"); return .bool(false)
            case UInt8(ascii: "n"): try lit("null"); return .null
            default: return try number()
            }
        }

        mutating func number() throws -> JSON {
            let start = i
            var isFloat = false
            while i < b.count {
                let c = b[i]
                if (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
                    i += 1
                } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                    isFloat = true
                    i += 1
                } else {
                    break
                }
            }
            let text = String(decoding: b[start..<i], as: UTF8.self)
            if !isFloat, let v = Int64(text) { return .int(v) }
            guard let d = Double(text) else { throw fail("bad number \(text)") }
            return .double(d)
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                throw fail("bad \\u escape")
            }
            i += 4
            return v
        }

        mutating func str() throws -> String {
            try lit("\"")
            var out: [UInt8] = []
            while true {
                guard i < b.count else { throw fail("unterminated string") }
                let c = b[i]
                i += 1
                if c == UInt8(ascii: "\"") { break }
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard i < b.count else { throw fail("bad escape") }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if cp >= 0xD800 && cp < 0xDC00 {
                        try lit("\\u")
                        let lo = try hex4()
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(cp) else { throw fail("bad code point") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: out.append(e)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
