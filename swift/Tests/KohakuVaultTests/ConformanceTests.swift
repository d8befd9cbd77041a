import Foundation
import XCTest
import func KohakuVaultCore.coreVersion
import func KohakuVaultCore.encodeValue
import func KohakuVaultCore.decodeValue
import enum KohakuVaultCore.VaultError
@testable import KohakuVault

/// Every vector of tests/conformance/values.json through the generated codec functions.
final class ConformanceTests: XCTestCase {
    private func vectors() throws -> JSON {
        let url = repoRoot.appendingPathComponent("tests/conformance/values.json")
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path), "missing \(url.path)")
        let doc = try JSON.load(url)
        XCTAssertEqual(doc["version"]?.int, 1)
        return doc
    }

    func testCoreVersion() {
        XCTAssertFalse(coreVersion().isEmpty)
    }

    func testEncodeVectors() throws {
        let list = try XCTUnwrap(try vectors()["encode"]?.array)
        XCTAssertFalse(list.isEmpty)
        for v in list {
            let name = v["name"]?.string ?? "?"
            let kind = UInt8(try XCTUnwrap(v["kind"]?.int, name))
            let payload = unhex(try XCTUnwrap(v["payload"]?.string, name))
            let headers = try XCTUnwrap(v["headers"]?.bool, name)
            let stored = unhex(try XCTUnwrap(v["stored"]?.string, name))
            do {
                let got = try encodeValue(kind: kind, payload: payload, headers: headers)
                XCTAssertEqual(hex(got), hex(stored), "encode: \(name)")
            } catch {
                XCTFail("encode \(name): \(error)")
            }
            var wantKind = kind
            var wantPayload = payload
            if let dp = v["decoded_payload"]?.string { wantPayload = unhex(dp) }
            if let da = v["decodes_as"] {
                wantKind = UInt8(try XCTUnwrap(da["kind"]?.int, name))
                wantPayload = unhex(try XCTUnwrap(da["payload"]?.string, name))
            }
            do {
                let tv = try decodeValue(stored: stored)
                XCTAssertEqual(tv.kind, wantKind, "decode kind: \(name)")
                XCTAssertEqual(hex(tv.payload), hex(wantPayload), "decode payload: \(name)")
            } catch {
                XCTFail("decode \(name): \(error)")
            }
        }
    }

    func testLegacyDecodeVectors() throws {
        let list = try XCTUnwrap(try vectors()["decode_legacy"]?.array)
        XCTAssertFalse(list.isEmpty)
        for v in list {
            let name = v["name"]?.string ?? "?"
            let stored = unhex(try XCTUnwrap(v["stored"]?.string, name))
            do {
                let tv = try decodeValue(stored: stored)
                XCTAssertEqual(Int64(tv.kind), v["kind"]?.int, "kind: \(name)")
                XCTAssertEqual(hex(tv.payload), v["payload"]?.string, "payload: \(name)")
            } catch {
                XCTFail("decode \(name): \(error)")
            }
        }
    }

    func testCorruptVectors() throws {
        let list = try XCTUnwrap(try vectors()["corrupt"]?.array)
        XCTAssertFalse(list.isEmpty)
        for v in list {
            let name = v["name"]?.string ?? "?"
            let stored = unhex(try XCTUnwrap(v["stored"]?.string, name))
            XCTAssertThrowsError(try decodeValue(stored: stored), name) { e in
                guard case VaultError.Corrupt = e else {
                    return XCTFail("\(name): expected Corrupt, got \(e)")
                }
            }
        }
    }

    /// The same vectors through a vault: put(kind, payload) stores exactly the vector's bytes.
    func testVectorsThroughVault() throws {
        let dir = try makeTempDir(self)
        let v = try KVault(path: dir.appendingPathComponent("vec.db").path)
        defer { try? v.close() }
        let list = try XCTUnwrap(try vectors()["encode"]?.array)
        for (i, e) in list.enumerated() where e["headers"]?.bool == true {
            let name = e["name"]?.string ?? "?"
            let kind = UInt8(try XCTUnwrap(e["kind"]?.int))
            let payload = unhex(try XCTUnwrap(e["payload"]?.string))
            let key = Data("vec\(i)".utf8)
            try v.put(key: key, kind: kind, payload: payload)
            // get_stored shows what 1.1.0 would read: raw values without our escape header.
            let want = kind == 0 ? hex(payload) : e["stored"]?.string
            XCTAssertEqual(hex(try XCTUnwrap(try v.storedBytes(forKey: key))), want, name)
            let back = try XCTUnwrap(try v.value(forKey: key), name)
            XCTAssertEqual(back.kindCode, try decodeValue(stored: unhex(try XCTUnwrap(e["stored"]?.string))).kind, name)
        }
    }
}
