import Foundation
import XCTest
@testable import KohakuVault
import func KohakuVaultCore.coreVersion

/// Version, Codable values, async variants and AsyncSequence scans, the deinit hook, maintenance.
final class FacadeTests: XCTestCase {
    private func open() throws -> (KVault, URL) {
        let url = try makeTempDir(self).appendingPathComponent("f.db")
        let v = try KVault(path: url.path)
        addTeardownBlock { try? v.close() }
        return (v, url)
    }

    func testVersionIsTheCores() throws {
        XCTAssertEqual(KVault.version, coreVersion())
        // ... and the one in Cargo.toml's [package]
        let toml = try String(contentsOf: repoRoot.appendingPathComponent("Cargo.toml"), encoding: .utf8)
        let line = toml.split(separator: "\n").first { $0.hasPrefix("version = \"") }
        let cargo = try XCTUnwrap(line).split(separator: "\"")[1]
        XCTAssertEqual(KVault.version, String(cargo))
    }

    struct Address: Codable, Equatable {
        var city: String
        var zip: Int
    }

    struct Profile: Codable, Equatable {
        var name: String
        var age: Int
        var score: Double
        var active: Bool
        var tags: [String]
        var address: Address?
        var nickname: String?
    }

    func testCodableStoredAsMessagePack() throws {
        let (v, url) = try open()
        let p = Profile(name: "kohaku", age: 7, score: 2.5, active: true, tags: ["a", "b"],
                        address: Address(city: "Taipei", zip: 100), nickname: nil)
        try v.setCodable(p, forKey: "p")
        XCTAssertEqual(try v.codable(Profile.self, forKey: "p"), p)
        XCTAssertNil(try v.codable(Profile.self, forKey: "missing"))

        // stored as kind msgpack: a map with string keys, what Python reads as a dict
        let tv = try XCTUnwrap(try v.value(forKey: "p"))
        XCTAssertEqual(tv.valueKind, .msgpack)
        let plain = try XCTUnwrap(try v.plain(forKey: "p"))
        XCTAssertEqual(plain["name"], "kohaku")
        XCTAssertEqual(plain["age"]?.int64Value, 7)
        XCTAssertEqual(plain["score"]?.doubleValue, 2.5)
        XCTAssertEqual(plain["active"], true)
        XCTAssertEqual(plain["tags"], ["a", "b"])
        XCTAssertEqual(plain["address"]?["city"], "Taipei")
        // the exact MessagePack bytes the core makes for the same ordered map
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        try v.setCodable(Address(city: "Kyoto", zip: 600), forKey: "a", encoder: enc)
        XCTAssertEqual(try v.value(forKey: "a")?.payload, try (["city": "Kyoto", "zip": 600] as PlainValue).msgpack())

        // values written as plain maps or JSON text decode too
        try v.setPlain(["city": "Oslo", "zip": 150], forKey: "plain")
        XCTAssertEqual(try v.codable(Address.self, forKey: "plain"), Address(city: "Oslo", zip: 150))
        try v.setJSON("{\"city\": \"Rome\", \"zip\": 1}", forKey: "json")
        XCTAssertEqual(try v.codable(Address.self, forKey: "json"), Address(city: "Rome", zip: 1))

        // a value of another kind, or of another shape, is an invalid argument
        try v.set("text", forKey: "s")
        assertThrowsVault(.invalidArgument(""), try v.codable(Address.self, forKey: "s"))
        assertThrowsVault(.invalidArgument(""), try v.codable(Profile.self, forKey: "a"))

        // survives reopening
        try v.close()
        let again = try KVault(path: url.path)
        XCTAssertEqual(try again.codable(Profile.self, forKey: "p"), p)
        try again.close()
    }

    func testAsyncVariantsAndAsyncSequences() async throws {
        let url = try makeTempDir(self).appendingPathComponent("a.db")
        let v = try KVault(path: url.path)
        for i in 0..<30 { try await v.set(Int64(i), forKey: String(format: "k%02d", i)) }
        try await v.set("hello", forKey: "s")
        let count = try await v.count()
        XCTAssertEqual(count, 31)
        let i7 = try await v.int64(forKey: "k07")
        XCTAssertEqual(i7, 7)
        let s = try await v.string(forKey: "s")
        XCTAssertEqual(s, "hello")
        let k01 = try await v.value(forKey: "k01")
        XCTAssertEqual(k01?.valueKind, .int)
        let sb = try await v.storedBytes(forKey: "s")
        XCTAssertNotNil(sb)
        let has = try await v.contains("s")
        XCTAssertTrue(has)
        let deleted = try await v.delete("s")
        XCTAssertTrue(deleted)
        let gone = try await v.data(forKey: "s")
        XCTAssertNil(gone)
        try await v.putMany([(Data("raw".utf8), Data([9]))])
        let many = try await v.getMany(["raw", "nope"])
        XCTAssertEqual(many, [TaggedValue(kind: .raw, payload: Data([9])), nil])
        try await v.setCodable(["x": 1], forKey: "c")
        let c = try await v.codable([String: Int].self, forKey: "c")
        XCTAssertEqual(c, ["x": 1])

        var keys: [String] = []
        for try await k in v.keys(prefix: "k", pageSize: 4) { keys.append(String(decoding: k, as: UTF8.self)) }
        XCTAssertEqual(keys, (0..<30).map { String(format: "k%02d", $0) })
        var n: Int64 = 0
        for try await (k, value) in v.items(prefix: "k", limit: 10, pageSize: 3) {
            XCTAssertEqual(k, Data(String(format: "k%02d", n).utf8))
            XCTAssertEqual(try value.int64(), n)
            n += 1
        }
        XCTAssertEqual(n, 10)

        // errors of an async scan are thrown, not trapped
        do {
            for try await _ in v.keys(pageSize: 0) {}
            XCTFail("a page size of 0 must throw")
        } catch let e as KohakuVaultError {
            XCTAssertEqual(e.name, "invalidArgument")
        }

        // one vault shared by concurrent tasks (KVault is Sendable)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask { for i in 0..<25 { try await v.set(Int64(i), forKey: "t\(t)-\(i)") } }
            }
            try await group.waitForAll()
        }
        let tkeys = try v.keys(prefix: "t").collect()
        XCTAssertEqual(tkeys.count, 100)
        try await v.flushCache()
        try await v.checkpoint()
        try await v.optimize()
        let ic = try await v.integrityCheck()
        XCTAssertEqual(ic, ["ok"])
        try await v.close()
        XCTAssertTrue(v.isClosed)
    }

    func testStreamsAsync() async throws {
        let dir = try makeTempDir(self)
        let src = dir.appendingPathComponent("s.bin")
        let blob = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try blob.write(to: src)
        let v = try KVault(path: dir.appendingPathComponent("s.db").path)
        try await v.put(key: "blob", contentsOf: src, chunkSize: 4096)
        let back = try await v.data(forKey: "blob")
        XCTAssertEqual(back, blob)
        try await v.close()
    }

    func testDeinitReportsAFailedClose() throws {
        let url = try makeTempDir(self).appendingPathComponent("d.db")
        let seen = LockedBox<[(String, KohakuVaultError)]>([])
        let previous = KVault.onDeinitCloseError
        KVault.onDeinitCloseError = { path, error in seen.value.append((path, error)) }
        defer { KVault.onDeinitCloseError = previous }
        do {
            let v = try KVault(path: url.path)
            try v.enableCache()
            try v.set("pending", forKey: "p")
            v.store.setCacheLocked(locked: true) // close() now fails with .busy
        }
        let got = seen.value
        XCTAssertEqual(got.count, 1)
        XCTAssertEqual(got.first?.0, url.path)
        XCTAssertEqual(got.first?.1.name, "busy")

        // a vault closed cleanly by deinit reports nothing
        do {
            let v = try KVault(path: url.path)
            try v.set("x", forKey: "x")
        }
        XCTAssertEqual(seen.value.count, 1)
    }

    func testMaintenanceAndPacker() throws {
        let (v, url) = try open()
        try v.set("x", forKey: "a")
        XCTAssertEqual(try v.integrityCheck(), ["ok"])
        let tables = try v.tables()
        XCTAssertTrue(tables.contains("kv"), "\(tables)")
        let other = try KVault(path: url.path, table: "second")
        try other.set(1, forKey: "b")
        XCTAssertTrue(try v.tables().contains("second"))
        try other.close()
        XCTAssertEqual(v.readerPoolStats, v.readerPoolStats)

        // pop / setdefault as stored
        try v.set(Int64(5), forKey: "i")
        let stored = try XCTUnwrap(try v.storedBytes(forKey: "i"))
        XCTAssertEqual(try v.setDefault(Int64(6), forKey: "i", decoded: false), TaggedValue(kind: .raw, payload: stored))
        XCTAssertEqual(try v.pop("i", decoded: false), TaggedValue(kind: .raw, payload: stored))
        XCTAssertNil(try v.pop("i", decoded: false))
    }
}
