import Foundation
import XCTest
@testable import KohakuVault

/// A closed vault misused through every public member: nothing traps; every throwing member
/// throws `.closed`; the non-throwing ones report the closed state.
final class ClosedVaultTests: XCTestCase {
    private func closedVault() throws -> (KVault, URL) {
        let dir = try makeTempDir(self)
        let v = try KVault(path: dir.appendingPathComponent("c.db").path)
        try v.set("x", forKey: "a")
        try v.close()
        return (v, dir)
    }

    func testEverySyncMemberThrowsClosed() throws {
        let (v, dir) = try closedVault()
        let file = dir.appendingPathComponent("src.bin")
        try Data("abc".utf8).write(to: file)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent("dst.bin").path, contents: nil))
        let k = "a"

        // point operations
        assertThrowsVault(.closed(""), try v.set("y", forKey: k))
        assertThrowsVault(.closed(""), try v.put(key: Data(k.utf8), kind: 0, payload: Data()))
        assertThrowsVault(.closed(""), try v.setData(Data(), forKey: k))
        assertThrowsVault(.closed(""), try v.setString("s", forKey: k))
        assertThrowsVault(.closed(""), try v.setInt64(1, forKey: k))
        assertThrowsVault(.closed(""), try v.setDouble(1, forKey: k))
        assertThrowsVault(.closed(""), try v.setBool(true, forKey: k))
        assertThrowsVault(.closed(""), try v.setPlain(["a": 1], forKey: k))
        assertThrowsVault(.closed(""), try v.setFloatArray([1], forKey: k))
        assertThrowsVault(.closed(""), try v.setDoubleArray([1], forKey: k))
        assertThrowsVault(.closed(""), try v.setJSON("{}", forKey: k))
        assertThrowsVault(.closed(""), try v.setMsgpack(Data([0x80]), forKey: k))
        assertThrowsVault(.closed(""), try v.setCodable(["a": 1], forKey: k))
        assertThrowsVault(.closed(""), try v.value(forKey: k))
        assertThrowsVault(.closed(""), try v.storedBytes(forKey: k))
        assertThrowsVault(.closed(""), try v.data(forKey: k))
        assertThrowsVault(.closed(""), try v.string(forKey: k))
        assertThrowsVault(.closed(""), try v.int64(forKey: k))
        assertThrowsVault(.closed(""), try v.double(forKey: k))
        assertThrowsVault(.closed(""), try v.bool(forKey: k))
        assertThrowsVault(.closed(""), try v.plain(forKey: k))
        assertThrowsVault(.closed(""), try v.ndarray(forKey: k))
        assertThrowsVault(.closed(""), try v.floatArray(forKey: k))
        assertThrowsVault(.closed(""), try v.doubleArray(forKey: k))
        assertThrowsVault(.closed(""), try v.codable([String: Int].self, forKey: k))
        assertThrowsVault(.closed(""), try v[k])
        assertThrowsVault(.closed(""), try v[Data(k.utf8)])
        assertThrowsVault(.closed(""), try v[[UInt8](k.utf8)])
        assertThrowsVault(.closed(""), try v.delete(k))
        assertThrowsVault(.closed(""), try v.contains(k))
        assertThrowsVault(.closed(""), try v.count())
        assertThrowsVault(.closed(""), try v.pop(k))
        assertThrowsVault(.closed(""), try v.pop(k, decoded: false))
        assertThrowsVault(.closed(""), try v.setDefault(1, forKey: k))
        assertThrowsVault(.closed(""), try v.clear())

        // batches and iteration
        assertThrowsVault(.closed(""), try v.putMany([(key: Data(), value: TaggedValue(kind: .raw, payload: Data()))]))
        assertThrowsVault(.closed(""), try v.putMany([(Data(k.utf8), Data())]))
        assertThrowsVault(.closed(""), try v.putMany([(k, 1 as any VaultValueConvertible)]))
        assertThrowsVault(.closed(""), try v.getMany([k]))
        assertThrowsVault(.closed(""), try v.getManyStored([k]))
        assertThrowsVault(.closed(""), try v.scanPage(limit: 1, withValues: true))
        assertThrowsVault(.closed(""), try v.keys().collect())
        assertThrowsVault(.closed(""), try v.items().collect())
        var ki = v.keys().makeIterator()
        assertThrowsVault(.closed(""), try ki.next())
        var ii = v.items().makeIterator()
        assertThrowsVault(.closed(""), try ii.next())

        // cache
        assertThrowsVault(.closed(""), try v.enableCache())
        assertThrowsVault(.closed(""), try v.disableCache())
        assertThrowsVault(.closed(""), try v.flushCache())
        assertThrowsVault(.closed(""), try v.withCache { _ in 1 })
        assertThrowsVault(.closed(""), try v.withCacheLocked { try $0.set("z", forKey: k) })

        // streams
        let h = try FileHandle(forReadingFrom: file)
        assertThrowsVault(.closed(""), try v.put(key: k, from: h, size: 3))
        try h.close()
        assertThrowsVault(.closed(""), try v.put(key: k, contentsOf: file))
        let w = try FileHandle(forWritingTo: dir.appendingPathComponent("dst.bin"))
        assertThrowsVault(.closed(""), try v.write(key: k, to: w))
        try w.close()

        // maintenance
        assertThrowsVault(.closed(""), try v.registerFeature("f"))
        assertThrowsVault(.closed(""), try v.features())
        assertThrowsVault(.closed(""), try v.checkpoint())
        assertThrowsVault(.closed(""), try v.optimize())
        assertThrowsVault(.closed(""), try v.integrityCheck())
        assertThrowsVault(.closed(""), try v.tables())

        // members that cannot fail report the state and do not trap
        XCTAssertTrue(v.isClosed)
        XCTAssertFalse(v.path.isEmpty)
        XCTAssertEqual(v.table, "kv")
        XCTAssertFalse(v.isReadOnly)
        XCTAssertFalse(v.cacheStats.enabled)
        XCTAssertNil(v.backgroundFlushError)
        _ = v.readerPoolStats
        _ = v.headersEnabled
        v.headersEnabled = false
        v.interrupt()
        XCTAssertEqual(v.options, OpenOptions())
        XCTAssertNoThrow(try v.close(), "close stays idempotent")
    }

    func testEveryAsyncMemberThrowsClosed() async throws {
        let (v, dir) = try closedVault()
        let file = dir.appendingPathComponent("src.bin")
        try Data("abc".utf8).write(to: file)
        await expectClosed("set") { try await v.set("y", forKey: "a") }
        await expectClosed("value") { _ = try await v.value(forKey: "a") }
        await expectClosed("storedBytes") { _ = try await v.storedBytes(forKey: "a") }
        await expectClosed("data") { _ = try await v.data(forKey: "a") }
        await expectClosed("string") { _ = try await v.string(forKey: "a") }
        await expectClosed("int64") { _ = try await v.int64(forKey: "a") }
        await expectClosed("delete") { try await v.delete("a") }
        await expectClosed("contains") { _ = try await v.contains("a") }
        await expectClosed("count") { _ = try await v.count() }
        await expectClosed("putMany") { try await v.putMany([(Data("a".utf8), Data())]) }
        await expectClosed("putMany tagged") { try await v.putMany([(key: Data(), value: TaggedValue(kind: .raw, payload: Data()))]) }
        await expectClosed("getMany") { _ = try await v.getMany(["a"]) }
        await expectClosed("setCodable") { try await v.setCodable([1, 2], forKey: "a") }
        await expectClosed("codable") { _ = try await v.codable([Int].self, forKey: "a") }
        await expectClosed("put contentsOf") { try await v.put(key: "a", contentsOf: file) }
        await expectClosed("flushCache") { try await v.flushCache() }
        await expectClosed("checkpoint") { try await v.checkpoint() }
        await expectClosed("optimize") { try await v.optimize() }
        await expectClosed("integrityCheck") { _ = try await v.integrityCheck() }
        await expectClosed("keys async") { for try await _ in v.keys() {} }
        await expectClosed("items async") { for try await _ in v.items() {} }
        do { try await v.close() } catch { XCTFail("close stays idempotent: \(error)") }
    }
}
