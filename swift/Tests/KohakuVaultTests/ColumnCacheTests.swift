import Foundation
import XCTest
@testable import KohakuVault

/// ColumnVault's write-back caches (the core's policy): pending rows count at once, reads flush
/// their column, close flushes, a vault released without close keeps its rows.
final class ColumnCacheTests: XCTestCase {
    func testPendingRowsCountAndReadsFlush() throws {
        let (v, _) = try makeColumnVault(self)
        defer { try? v.close() }
        let c = try v.createColumn("n", dtype: "i64", as: Int64Column.self)
        XCTAssertNil(try v.cacheConfig())
        try v.enableCache(capBytes: 1 << 20, flushThreshold: 1 << 19)
        let cfg = try XCTUnwrap(try v.cacheConfig())
        XCTAssertEqual([cfg.capBytes, cfg.flushThreshold], [1 << 20, 1 << 19])
        XCTAssertNil(cfg.flushInterval)
        XCTAssertNotNil(try c.cacheConfig(), "the vault-wide setting applies to open columns")
        try c.append(contentsOf: [1, 2, 3])
        XCTAssertEqual(try c.count(), 3, "cached rows count at once")
        XCTAssertEqual(try v.pendingBytes(), 24)
        XCTAssertEqual(try c.pendingBytes(), 24)
        XCTAssertEqual(try v.listColumns().first?.count, 0, "listColumns counts committed rows")
        XCTAssertEqual(try v.columnInfo(named: "n")?.count, 3)
        XCTAssertEqual(try c.read(), [1, 2, 3], "a read flushes its column first")
        XCTAssertEqual(try v.pendingBytes(), 0)
        // a large read (the C fast path) flushes too
        let big = try v.createColumn("big", dtype: "vec:f32:4", as: FloatTensorColumn.self)
        let flat = (0..<40_000).map { Float($0) }
        try big.appendFlat(flat)
        XCTAssertGreaterThan(try big.pendingBytes(), 0)
        XCTAssertEqual(try big.readFlat(0..<10_000), flat)
        XCTAssertEqual(try big.pendingBytes(), 0)
        try big.appendFlat(flat)
        XCTAssertEqual(try big.read(10_000..<20_000).flatMap { $0 }, flat)
        try c.append(4)
        XCTAssertEqual(try v.flushCache(), 8)
        XCTAssertEqual(try v.flushCache(), 0)
        // a column opened later gets the vault-wide cache too
        let s = try v.createColumn("s", dtype: "str", as: StringColumn.self)
        try s.append(contentsOf: ["a", "bc"])
        XCTAssertGreaterThan(try s.pendingBytes(), 0)
        XCTAssertEqual(try s.count(), 2)
        XCTAssertEqual(try s.take([1]), ["bc"])
        try v.disableCache()
        XCTAssertNil(try v.cacheConfig())
        XCTAssertNil(try c.cacheConfig())
        try c.append(5)
        XCTAssertEqual(try c.pendingBytes(), 0, "no cache: written at once")
    }

    func testColumnCacheAndThreshold() throws {
        let (v, url) = try makeColumnVault(self)
        let c = try v.createColumn("n", dtype: "i64", as: Int64Column.self)
        try c.enableCache(capBytes: 64, flushThreshold: 32)
        XCTAssertEqual(try c.cacheConfig()?.flushThreshold, 32)
        XCTAssertNil(try v.cacheConfig(), "a column cache is not the vault's")
        try c.append(contentsOf: [1, 2, 3])
        XCTAssertEqual(try c.pendingBytes(), 24)
        try c.append(4) // 32 bytes: the threshold commits
        XCTAssertEqual(try c.pendingBytes(), 0)
        try c.append(contentsOf: Array(0..<10)) // larger than the capacity: written directly
        XCTAssertEqual(try c.pendingBytes(), 0)
        XCTAssertEqual(try c.count(), 14)
        let r = try c.withCache(capBytes: 1 << 10, flushThreshold: 1 << 10) { () -> UInt64 in
            try c.append(99)
            return try c.pendingBytes()
        }
        XCTAssertEqual(r, 8)
        XCTAssertNil(try c.cacheConfig())
        try c.enableCache()
        try c.append(7)
        XCTAssertEqual(try c.flushCache(), 8)
        try c.append(8)
        try v.close() // close commits
        let again = try ColumnVault(path: url.path)
        defer { try? again.close() }
        XCTAssertEqual(try again.column(named: "n", as: Int64Column.self).read(), [1, 2, 3, 4] + Array(0..<10) + [99, 7, 8])
    }

    /// Writes rows through a vault-wide cache and lets go of the vault without close.
    private func writeAndDrop(_ path: String) throws {
        let v = try ColumnVault(path: path)
        try v.enableCache()
        let c = try v.createColumn("n", dtype: "i64", as: Int64Column.self)
        let s = try v.createColumn("s", dtype: "str", as: StringColumn.self)
        try c.append(contentsOf: [1, 2, 3])
        try s.append(contentsOf: ["x", "y"])
        XCTAssertGreaterThan(try v.pendingBytes(), 0)
    }

    func testDeinitWithoutCloseKeepsRows() throws {
        let url = try makeTempDir(self).appendingPathComponent("drop.db")
        let hookCalls = LockedBox(0)
        let old = ColumnVault.onDeinitCloseError
        ColumnVault.onDeinitCloseError = { _, _ in hookCalls.value += 1 }
        defer { ColumnVault.onDeinitCloseError = old }
        try writeAndDrop(url.path)
        XCTAssertEqual(hookCalls.value, 0)
        let v = try ColumnVault(path: url.path, options: OpenOptions(readOnly: true))
        defer { try? v.close() }
        XCTAssertEqual(try v.column(named: "n", as: Int64Column.self).read(), [1, 2, 3])
        XCTAssertEqual(try v.column(named: "s", as: StringColumn.self).read(), ["x", "y"])
    }

    func testLockedCacheAndPeriodicFlush() throws {
        let (v, _) = try makeColumnVault(self)
        defer { try? v.close() }
        let c = try v.createColumn("n", dtype: "i64", as: Int64Column.self)
        try v.enableCache(capBytes: 1 << 20, flushThreshold: 1 << 20, flushInterval: 0.05)
        XCTAssertEqual(try v.cacheConfig()?.flushInterval, 0.05)
        try v.withLockedCache { _ in
            try c.append(1)
            Thread.sleep(forTimeInterval: 0.3)
            XCTAssertEqual(try v.pendingBytes(), 8, "the timer is paused while locked")
        }
        let deadline = Date().addingTimeInterval(5)
        while try v.pendingBytes() > 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(try v.pendingBytes(), 0, "the timer committed the row")
        XCTAssertNil(v.takeBackgroundFlushError())
        try v.lockCache()
        v.unlockCache()
        let n = try v.withCache { vault -> Int in
            try c.append(2)
            return try vault.column(named: "n").count()
        }
        XCTAssertEqual(n, 2)
        XCTAssertNil(try v.cacheConfig())
    }
}
