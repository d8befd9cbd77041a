import Foundation
import XCTest
@testable import KohakuVault
import enum KohakuVaultCore.VaultError

final class KVaultTests: XCTestCase {
    private func open(_ name: String = "t.db", options: OpenOptions = OpenOptions()) throws -> (KVault, URL) {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent(name)
        let v = try KVault(path: url.path, options: options)
        addTeardownBlock { try? v.close() }
        return (v, url)
    }

    func testOpenAndClose() throws {
        let (v, url) = try open()
        XCTAssertEqual(v.path, url.path)
        XCTAssertEqual(v.table, "kv")
        XCTAssertFalse(v.isClosed)
        XCTAssertFalse(v.isReadOnly)
        XCTAssertEqual(try v.count(), 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path))
        try v.close()
        XCTAssertTrue(v.isClosed)
        XCTAssertNoThrow(try v.close(), "close is idempotent")

        // another table in the same file
        let w = try KVault(path: url.path, table: "other")
        try w.set("x", forKey: "k")
        XCTAssertEqual(w.table, "other")
        try w.close()
        let again = try KVault(path: url.path)
        XCTAssertEqual(try again.count(), 0)
        try again.close()
    }

    func testRawBytesPutGetDelete() throws {
        let (v, _) = try open()
        let payload = Data([0, 1, 2, 0xFF, 0x89, 0x4B])
        try v.set(payload, forKey: "a")
        XCTAssertEqual(try v.data(forKey: "a"), payload)
        XCTAssertEqual(try v.value(forKey: "a"), TaggedValue(kind: .raw, payload: payload))
        XCTAssertEqual(try v["a"], payload)
        XCTAssertNil(try v.data(forKey: "missing"))
        XCTAssertNil(try v["missing"])

        // binary keys, Data and [UInt8] alike
        let bkey: [UInt8] = [0x00, 0xFF, 0x10]
        try v.set(Data("bin".utf8), forKey: bkey)
        XCTAssertEqual(try v[Data(bkey)], Data("bin".utf8))
        XCTAssertEqual(try v.data(forKey: bkey), Data("bin".utf8))

        // empty value, empty key
        try v.set(Data(), forKey: "empty")
        XCTAssertEqual(try v["empty"], Data())
        try v.set(Data("e".utf8), forKey: Data())
        XCTAssertEqual(try v.data(forKey: Data()), Data("e".utf8))

        XCTAssertEqual(try v.count(), 4)
        XCTAssertTrue(try v.contains("a"))
        XCTAssertTrue(try v.delete("a"))
        XCTAssertFalse(try v.delete("a"))
        XCTAssertFalse(try v.contains("a"))
        try v.delete("empty")
        XCTAssertFalse(try v.contains("empty"))
        XCTAssertEqual(try v.count(), 2)

        // bytes that look like a header stay raw bytes
        let tricky = unhex("894B010600000000564B41")
        try v.set(tricky, forKey: "tricky")
        XCTAssertEqual(try v.data(forKey: "tricky"), tricky)

        try v.clear()
        XCTAssertEqual(try v.count(), 0)
    }

    /// Point reads take the C fast path (kv_fast_get); every size, missing keys, stored bytes, the
    /// write-back cache and a closed vault give what the UDL calls give.
    func testPointReadsThroughTheFastPathEqualTheUDLReads() throws {
        let (v, _) = try open()
        XCTAssertNotNil(KVFastPath.get, "the fast-path symbol is in the loaded library")
        let sizes = [0, 1, 4095, 4096, 4097, 100_000, (8 << 20) + 1]
        for n in sizes {
            try v.set(Data((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7) }), forKey: "v\(n)")
        }
        try v.set(Int64(-42), forKey: "int")
        try v.set("text ✓", forKey: "text")
        for key in sizes.map({ "v\($0)" }) + ["int", "text", "missing"] {
            let k = Data(key.utf8)
            XCTAssertEqual(try v.value(forKey: key), try v.store.get(key: k).map(TaggedValue.init), key)
            XCTAssertEqual(try v.storedBytes(forKey: key), try v.store.getStored(key: k), key)
        }
        XCTAssertEqual(try v.int64(forKey: "int"), -42)
        XCTAssertEqual(try v.string(forKey: "text"), "text ✓")
        // A pending cache entry is what a read sees.
        try v.enableCache()
        try v.set(Data("pending".utf8), forKey: "v1")
        XCTAssertEqual(try v["v1"], Data("pending".utf8))
        try v.disableCache()
        XCTAssertEqual(try v["v1"], Data("pending".utf8))
        try v.close()
        XCTAssertThrowsError(try v.value(forKey: "v1")) { error in
            guard case KohakuVaultError.closed = error else { return XCTFail("\(error)") }
        }
    }

    func testTypedRoundTrips() throws {
        let (v, _) = try open()
        try v.set("hello", forKey: "s")
        try v.setString("été ☃", forKey: "unicode key é")
        XCTAssertEqual(try v.string(forKey: "s"), "hello")
        XCTAssertEqual(try v.string(forKey: "unicode key é"), "été ☃")

        for n: Int64 in [0, 1, -1, 42, -5, 255, 256, -129, 1 << 40, Int64.max, Int64.min] {
            try v.setInt64(n, forKey: "i")
            XCTAssertEqual(try v.int64(forKey: "i"), n)
        }
        try v.set(7, forKey: "int")
        XCTAssertEqual(try v.int64(forKey: "int"), 7)
        XCTAssertEqual(try v.double(forKey: "int"), 7.0, "ints read as doubles")

        for d in [1.25, 0.0, -0.0, 1e300, -2.5, Double.infinity, 3.0] {
            try v.setDouble(d, forKey: "f")
            let back = try XCTUnwrap(try v.double(forKey: "f"))
            XCTAssertEqual(back.bitPattern, d.bitPattern, "\(d)")
        }
        try v.setDouble(.nan, forKey: "nan")
        XCTAssertTrue(try XCTUnwrap(try v.double(forKey: "nan")).isNaN)

        try v.setBool(true, forKey: "t")
        try v.set(false, forKey: "f2")
        XCTAssertEqual(try v.bool(forKey: "t"), true)
        XCTAssertEqual(try v.bool(forKey: "f2"), false)

        try v.setFloatArray([1, 2, 3, 4, 5, 6], shape: [2, 3], forKey: "fa")
        let fa = try XCTUnwrap(try v.floatArray(forKey: "fa"))
        XCTAssertEqual(fa.values, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(fa.shape, [2, 3])
        try v.setFloatArray([1.5, -2.25], forKey: "fa1")
        XCTAssertEqual(try v.floatArray(forKey: "fa1")?.shape, [2])
        try v.setDoubleArray([0.1, 0.2, 0.3], forKey: "da")
        let da = try XCTUnwrap(try v.doubleArray(forKey: "da"))
        XCTAssertEqual(da.values, [0.1, 0.2, 0.3])
        XCTAssertEqual(da.shape, [3])
        XCTAssertThrowsError(try v.setFloatArray([1, 2, 3], shape: [2, 2], forKey: "bad"))

        let plain: PlainValue = [
            "id": 7, "name": "kohaku", "neg": -3, "pi": 3.5, "ok": true, "none": nil,
            "tags": ["one", "two"], "bin": .data(Data([1, 2, 3])),
            "nested": ["a": [1, 2, ["b": false]]],
        ]
        try v.setPlain(plain, forKey: "map")
        XCTAssertEqual(try v.plain(forKey: "map")?.normalized, plain.normalized)
        XCTAssertEqual(try v.plain(forKey: "map")?["name"], "kohaku")
        try v.set(["x", 1, 2.5] as PlainValue, forKey: "list")
        XCTAssertEqual(try v.plain(forKey: "list")?.normalized, (["x", 1, 2.5] as PlainValue).normalized)
        try v.set(PlainValue.uint(UInt64.max), forKey: "big")
        XCTAssertEqual(try v.plain(forKey: "big"), .uint(UInt64.max))

        try v.setJSON("{\"a\": [1, 2]}", forKey: "json")
        XCTAssertEqual(try v.string(forKey: "json"), "{\"a\": [1, 2]}")
        XCTAssertEqual(try v.plain(forKey: "json")?.normalized, (["a": [1, 2]] as PlainValue).normalized)

        // the stored bytes are the shared format
        XCTAssertEqual(hex(try XCTUnwrap(try v.storedBytes(forKey: "s"))), "894B010600000000564B68656C6C6F")
        try v.set(42, forKey: "int42")
        XCTAssertEqual(hex(try XCTUnwrap(try v["int42"])), "894B010200000000564B2A00000000000000")

        // a typed read of the wrong type is an invalid argument, not a crash
        assertThrowsVault(.invalidArgument(""), try v.string(forKey: "int"))
        assertThrowsVault(.invalidArgument(""), try v.int64(forKey: "s"))
        assertThrowsVault(.invalidArgument(""), try v.data(forKey: "s"))
        XCTAssertNil(try v.int64(forKey: "missing"))
    }

    func testPopAndSetDefault() throws {
        let (v, _) = try open()
        try v.set("x", forKey: "a")
        XCTAssertEqual(try v.pop("a")?.string(), "x")
        XCTAssertNil(try v.pop("a"))
        XCTAssertNil(try v.setDefault(5, forKey: "d"))
        XCTAssertEqual(try v.setDefault(6, forKey: "d")?.int64(), 5)
        XCTAssertEqual(try v.int64(forKey: "d"), 5)
    }

    func testBatches() throws {
        let (v, _) = try open()
        let raw = (0..<500).map { (Data("k\($0)".utf8), Data(repeating: UInt8($0 & 0xFF), count: $0 % 7)) }
        try v.putMany(raw)
        XCTAssertEqual(try v.count(), 500)
        let got = try v.getMany(raw.map { $0.0 } + [Data("nope".utf8)])
        XCTAssertEqual(got.count, 501)
        for (i, r) in raw.enumerated() {
            XCTAssertEqual(got[i], TaggedValue(kind: .raw, payload: r.1))
        }
        XCTAssertNil(got[500])

        try v.putMany([
            ("s", "text"), ("i", Int64(-9)), ("f", 2.5), ("b", true), ("p", ["k": 1] as PlainValue),
            ("s", "last wins"),
        ] as [(String, any VaultValueConvertible)])
        let typed = try v.getMany(["s", "i", "f", "b", "p", "zz", "s"])
        XCTAssertEqual(try typed[0]?.string(), "last wins")
        XCTAssertEqual(try typed[1]?.int64(), -9)
        XCTAssertEqual(try typed[2]?.double(), 2.5)
        XCTAssertEqual(try typed[3]?.bool(), true)
        XCTAssertEqual(try typed[4]?.plain().normalized, .map([(.string("k"), .int(1))]))
        XCTAssertNil(typed[5])
        XCTAssertEqual(try typed[6]?.string(), "last wins")

        let stored = try v.getManyStored(["s", "zz"])
        XCTAssertEqual(stored[0], try v.storedBytes(forKey: "s"))
        XCTAssertNil(stored[1])

        XCTAssertEqual(try v.getMany([String]()), [])
        try v.putMany([(Data, Data)]())
    }

    func testIterationWithPrefix() throws {
        let (v, _) = try open()
        var expected: [Data] = []
        for i in 0..<25 {
            let k = String(format: "user:%03d", i)
            try v.set(Int64(i), forKey: k)
            expected.append(Data(k.utf8))
        }
        try v.set("x", forKey: "other")
        try v.set("y", forKey: "user")   // the prefix itself is not under "user:"
        try v.set(Data([1]), forKey: Data([0xFF, 0xFF]))
        try v.set(Data([2]), forKey: Data([0xFF, 0xFF, 0x00]))

        XCTAssertEqual(try v.keys(prefix: "user:", pageSize: 4).collect(), expected)
        XCTAssertEqual(try v.keys(prefix: "user:").collect(), expected)
        XCTAssertEqual(try v.keys(prefix: "user:", limit: 5, pageSize: 2).collect(), Array(expected.prefix(5)))
        XCTAssertEqual(try v.keys(prefix: "user:", limit: 0).collect(), [])
        XCTAssertEqual(try v.keys(prefix: "nomatch").collect(), [])
        XCTAssertEqual(try v.keys(prefix: Data([0xFF, 0xFF])).collect(), [Data([0xFF, 0xFF]), Data([0xFF, 0xFF, 0x00])])

        let all = try v.keys(pageSize: 3).collect()
        XCTAssertEqual(all.count, 29)
        XCTAssertEqual(all, all.sorted { $0.lexicographicallyPrecedes($1) }, "keys come in byte order")

        var n: Int64 = 0
        var items = v.items(prefix: "user:", pageSize: 7).makeIterator()
        while let (k, value) = try items.next() {
            XCTAssertEqual(k, expected[Int(n)])
            XCTAssertEqual(try value.int64(), n)
            n += 1
        }
        XCTAssertEqual(n, 25)
        XCTAssertEqual(try v.items(prefix: "user:", limit: 3).collect().map { $0.key }, Array(expected.prefix(3)))
    }

    func testWriteBackCache() throws {
        let (v, url) = try open()
        try v.enableCache(capBytes: 1 << 20, flushThreshold: 1 << 19)
        for i in 0..<100 { try v.set("v\(i)", forKey: "c\(i)") }
        XCTAssertTrue(v.cacheStats.enabled)
        XCTAssertEqual(try v.count(), 100, "pending entries count")
        XCTAssertEqual(try v.string(forKey: "c42"), "v42", "pending entries are readable")
        XCTAssertTrue(try v.contains("c99"))
        XCTAssertEqual(try v.keys(prefix: "c1").collect().count, 11, "pending entries are iterated")
        XCTAssertGreaterThan(v.cacheStats.pendingEntries, 0)
        XCTAssertEqual(try v.flushCache(), 100)
        XCTAssertEqual(v.cacheStats.pendingEntries, 0)
        XCTAssertEqual(try v.flushCache(), 0)
        try v.disableCache()
        XCTAssertFalse(v.cacheStats.enabled)

        let written: Int = try v.withCache(capBytes: 1 << 20) { vault in
            for i in 0..<50 { try vault.set(Int64(i), forKey: "w\(i)") }
            return 50
        }
        XCTAssertEqual(written, 50)
        XCTAssertFalse(v.cacheStats.enabled)
        XCTAssertEqual(try v.int64(forKey: "w49"), 49)

        // pending entries reach the file on close
        try v.enableCache()
        try v.set("late", forKey: "late")
        try v.close()
        let again = try KVault(path: url.path)
        XCTAssertEqual(try again.string(forKey: "late"), "late")
        XCTAssertEqual(try again.count(), 151)
        try again.close()
    }

    func testStreamingThroughFileHandle() throws {
        let (v, _) = try open()
        let dir = try makeTempDir(self)
        let src = dir.appendingPathComponent("src.bin")
        let dst = dir.appendingPathComponent("dst.bin")
        // deterministic pseudo-random bytes (xorshift), a few MB
        let size = 3 * 1024 * 1024 + 12345
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var bytes = [UInt8](repeating: 0, count: size)
        for i in 0..<size {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[i] = UInt8(truncatingIfNeeded: state)
        }
        let blob = Data(bytes)
        try blob.write(to: src)

        let reader = try FileHandle(forReadingFrom: src)
        try v.put(key: "big", from: reader, size: UInt64(size), chunkSize: 256 * 1024)
        try reader.close()
        XCTAssertEqual(try v.data(forKey: "big"), blob)

        XCTAssertTrue(FileManager.default.createFile(atPath: dst.path, contents: nil))
        let writer = try FileHandle(forWritingTo: dst)
        let n = try v.write(key: "big", to: writer, chunkSize: 100_000)
        try writer.close()
        XCTAssertEqual(n, UInt64(size))
        XCTAssertEqual(try Data(contentsOf: dst), blob)

        try v.put(key: "file", contentsOf: src)
        XCTAssertEqual(try v.storedBytes(forKey: "file"), blob)

        // a source shorter than the announced size publishes nothing
        try v.set(Data("old".utf8), forKey: "short")
        let short = try FileHandle(forReadingFrom: src)
        assertThrowsVault(.invalidArgument(""), try v.put(key: "short", from: short, size: UInt64(size + 1)))
        try short.close()
        XCTAssertEqual(try v.data(forKey: "short"), Data("old".utf8))

        // zero bytes
        let empty = try FileHandle(forReadingFrom: src)
        try v.put(key: "zero", from: empty, size: 0)
        try empty.close()
        XCTAssertEqual(try v.data(forKey: "zero"), Data())

        let sink = try FileHandle(forWritingTo: dst)
        assertThrowsVault(.notFound(""), try v.write(key: "missing", to: sink))
        try sink.close()
    }

    func testUseAfterCloseIsClosed() throws {
        let (v, _) = try open()
        try v.set("x", forKey: "a")
        try v.close()
        assertThrowsVault(.closed(""), try v.value(forKey: "a"))
        assertThrowsVault(.closed(""), try v.set("y", forKey: "a"))
        assertThrowsVault(.closed(""), try v.count())
        assertThrowsVault(.closed(""), try v.delete("a"))
        assertThrowsVault(.closed(""), try v.getMany(["a"]))
        assertThrowsVault(.closed(""), try v.putMany([(Data("a".utf8), Data())]))
        assertThrowsVault(.closed(""), try v.keys().collect())
        assertThrowsVault(.closed(""), try v.enableCache())
    }

    func testReadOnly() throws {
        let (v, url) = try open()
        try v.set("x", forKey: "a")
        try v.close()
        let ro = try KVault(path: url.path, options: OpenOptions(readOnly: true))
        XCTAssertTrue(ro.isReadOnly)
        XCTAssertEqual(try ro.string(forKey: "a"), "x")
        assertThrowsVault(.readOnly(""), try ro.set("y", forKey: "a"))
        assertThrowsVault(.readOnly(""), try ro.delete("a"))
        try ro.close()
    }

    func testErrorMapping() {
        XCTAssertEqual(KohakuVaultError(VaultError.NotFound(reason: "k")), .notFound("k"))
        XCTAssertEqual(KohakuVaultError(VaultError.Internal(reason: "x")), .internal("x"))
        XCTAssertEqual(KohakuVaultError(VaultError.Closed(reason: "c")).reason, "c")
        XCTAssertEqual(KohakuVaultError.diskFull("full").name, "diskFull")
        XCTAssertThrowsError(try KVault(path: "/proc/definitely/not/here/x.db")) { e in
            XCTAssertTrue(e is KohakuVaultError, "\(e)")
        }
    }
}
