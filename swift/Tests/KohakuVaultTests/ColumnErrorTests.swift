import Foundation
import XCTest
@testable import KohakuVault

/// ColumnVault errors: a closed vault misused through every member throws `.closed` (through its
/// column handles too); out-of-range indices give the core's `.invalidArgument("column index out
/// of range")` (Swift has no IndexError); wrong dtypes, read-only files, missing columns.
final class ColumnErrorTests: XCTestCase {
    private struct Handles {
        let vault: ColumnVault
        let i64: Int64Column
        let vec: FloatTensorColumn
        let str: StringColumn
        let bin: DataColumn
        let packed: TaggedColumn
        let url: URL
    }

    private func closedVault() throws -> Handles {
        let (v, url) = try makeColumnVault(self)
        let h = Handles(vault: v,
                        i64: try v.createColumn("i", dtype: "i64", as: Int64Column.self),
                        vec: try v.createColumn("v", dtype: "vec:f32:2", as: FloatTensorColumn.self),
                        str: try v.createColumn("s", dtype: "str", as: StringColumn.self),
                        bin: try v.createColumn("b", dtype: "bytes", as: DataColumn.self),
                        packed: try v.createColumn("p", dtype: "msgpack", as: TaggedColumn.self),
                        url: url)
        try h.i64.append(contentsOf: [1, 2])
        try h.str.append("x")
        try v.close()
        return h
    }

    /// Every member of a typed handle throws `.closed`.
    private func assertClosed<T>(_ c: TypedColumn<T>, sample: T, file: StaticString = #filePath, line: UInt = #line) {
        let ctx = "\(c)"
        func check(_ what: String, _ body: () throws -> Void) {
            do {
                try body()
                XCTFail("\(ctx).\(what): nothing thrown", file: file, line: line)
            } catch let e as KohakuVaultError {
                XCTAssertEqual(e.name, "closed", "\(ctx).\(what): \(e)", file: file, line: line)
            } catch {
                XCTFail("\(ctx).\(what): \(error)", file: file, line: line)
            }
        }
        check("info") { _ = try c.info() }
        check("count") { _ = try c.count() }
        check("isEmpty") { _ = try c.isEmpty() }
        check("storageInfo") { _ = try c.storageInfo() }
        check("storedRows") { _ = try c.storedRows(0..<1) }
        check("storedRows all") { _ = try c.storedRows() }
        check("appendStoredRows") { try c.appendStoredRows([Data(count: max(1, c.elementSize))]) }
        check("values") { _ = try c.values(0..<1) }
        check("appendValues") { try c.appendValues([TaggedValue(kind: .raw, payload: Data())]) }
        check("removeSubrange") { try c.removeSubrange(0..<1) }
        check("remove") { try c.remove(at: 0) }
        check("clear") { try c.clear() }
        check("enableCache") { try c.enableCache() }
        check("disableCache") { try c.disableCache() }
        check("flushCache") { try c.flushCache() }
        check("pendingBytes") { _ = try c.pendingBytes() }
        check("cacheConfig") { _ = try c.cacheConfig() }
        check("withCache") { try c.withCache { () -> Int in 1 } }
        check("value") { _ = try c.value(at: 0) }
        check("subscript") { _ = try c[0] }
        check("subscript range") { _ = try c[0..<1] }
        check("read range") { _ = try c.read(0..<1) }
        check("read partial") { _ = try c.read(0...) }
        check("read all") { _ = try c.read() }
        check("take") { _ = try c.take([0, 1]) }
        check("snapshot") { _ = try c.snapshot() }
        check("snapshot range") { _ = try c.snapshot(0..<1) }
        check("append") { try c.append(sample) }
        check("append contentsOf") { try c.append(contentsOf: [sample]) }
        check("append sequence") { try c.append(contentsOf: CollectionOfOne(sample)) }
        check("replaceSubrange") { try c.replaceSubrange(0..<1, with: [sample]) }
        check("set") { try c.set(sample, at: 0) }
        check("insert") { try c.insert(sample, at: 0) }
        check("insert contentsOf") { try c.insert(contentsOf: [sample], at: 0) }
        check("write") { try c.write(ColumnSnapshot(startIndex: 0, elements: [sample])) }
        check("batches") { _ = try c.batches().collect() }
        check("as") { _ = try c.as(Column.self).count() }
    }

    func testEverySyncMemberThrowsClosed() throws {
        let h = try closedVault()
        let v = h.vault
        assertThrowsVault(.closed(""), try v.createColumn("x", dtype: "i64"))
        assertThrowsVault(.closed(""), try v.createColumn("x", dtype: "i64", as: Int64Column.self))
        assertThrowsVault(.closed(""), try v.ensureColumn("i", dtype: "i64"))
        assertThrowsVault(.closed(""), try v.ensureColumn("i", dtype: "i64", as: Int64Column.self))
        assertThrowsVault(.closed(""), try v.column(named: "i"))
        assertThrowsVault(.closed(""), try v.column(named: "i", as: Int64Column.self))
        assertThrowsVault(.closed(""), try v.columnInfo(named: "i"))
        assertThrowsVault(.closed(""), try v.hasColumn(named: "i"))
        assertThrowsVault(.closed(""), try v.listColumns())
        assertThrowsVault(.closed(""), try v.deleteColumn("i"))
        assertThrowsVault(.closed(""), try v.checkpoint())
        assertThrowsVault(.closed(""), try v.enableCache())
        assertThrowsVault(.closed(""), try v.disableCache())
        assertThrowsVault(.closed(""), try v.flushCache())
        assertThrowsVault(.closed(""), try v.pendingBytes())
        assertThrowsVault(.closed(""), try v.cacheConfig())
        assertThrowsVault(.closed(""), try v.withCache { _ in 1 })
        assertThrowsVault(.closed(""), try v.lockCache())
        assertThrowsVault(.closed(""), try v.withLockedCache { _ in 1 })

        assertClosed(h.i64, sample: 1)
        assertClosed(h.vec, sample: [1, 2])
        assertClosed(h.str, sample: "a")
        assertClosed(h.bin, sample: Data([1]))
        assertClosed(h.packed, sample: try PlainValue.int(1).vaultValue())
        assertThrowsVault(.closed(""), try h.vec.readFlat(0..<1))
        assertThrowsVault(.closed(""), try h.vec.readFlat(0..<100_000))
        assertThrowsVault(.closed(""), try h.i64.read(0..<100_000))
        assertThrowsVault(.closed(""), try h.vec.appendFlat([1, 2]))
        assertThrowsVault(.closed(""), try h.packed.append(converting: [PlainValue.int(1)]))
        var it = h.i64.batches(size: 1).makeIterator()
        assertThrowsVault(.closed(""), try it.next())

        // members that cannot fail report the state and do not trap
        XCTAssertTrue(v.isClosed)
        XCTAssertFalse(v.path.isEmpty)
        XCTAssertFalse(v.isReadOnly)
        XCTAssertEqual(v.blockBytes, ColumnVault.defaultBlockBytes)
        XCTAssertNil(v.takeBackgroundFlushError())
        v.unlockCache()
        XCTAssertEqual(h.i64.name, "i")
        XCTAssertEqual(h.vec.shape, [2])
        XCTAssertNoThrow(try v.close(), "close stays idempotent")
        // the file is intact
        let again = try ColumnVault(path: h.url.path)
        defer { try? again.close() }
        XCTAssertEqual(try again.column(named: "i", as: Int64Column.self).read(), [1, 2])
    }

    func testEveryAsyncMemberThrowsClosed() async throws {
        let h = try closedVault()
        let v = h.vault
        let c = h.i64
        await expectClosed("createColumn") { _ = try await v.createColumn("x", dtype: "i64") }
        await expectClosed("ensureColumn") { _ = try await v.ensureColumn("x", dtype: "i64") }
        await expectClosed("column") { _ = try await v.column(named: "i") }
        await expectClosed("listColumns") { _ = try await v.listColumns() }
        await expectClosed("deleteColumn") { _ = try await v.deleteColumn("i") }
        await expectClosed("checkpoint") { _ = try await v.checkpoint() }
        await expectClosed("flushCache") { _ = try await v.flushCache() }
        await expectClosed("count") { _ = try await c.count() }
        await expectClosed("storedRows") { _ = try await c.storedRows(0..<1) }
        await expectClosed("removeSubrange") { try await c.removeSubrange(0..<1) }
        await expectClosed("clear") { try await c.clear() }
        await expectClosed("column flushCache") { _ = try await c.flushCache() }
        await expectClosed("value") { _ = try await c.value(at: 0) }
        await expectClosed("read") { _ = try await c.read(0..<1) }
        await expectClosed("read all") { _ = try await c.read() }
        await expectClosed("take") { _ = try await c.take([0]) }
        await expectClosed("snapshot") { _ = try await c.snapshot() }
        await expectClosed("append") { try await c.append(1) }
        await expectClosed("append contentsOf") { try await c.append(contentsOf: [1]) }
        await expectClosed("replaceSubrange") { try await c.replaceSubrange(0..<1, with: [1]) }
        await expectClosed("set") { try await c.set(1, at: 0) }
        await expectClosed("insert") { try await c.insert(contentsOf: [1], at: 0) }
        await expectClosed("write") { try await c.write(ColumnSnapshot(elements: [1])) }
        await expectClosed("batches") { for try await _ in c.batches() {} }
        do { try await v.close() } catch { XCTFail("close stays idempotent: \(error)") }
    }

    func testOutOfRangeIsInvalidArgument() throws {
        let (v, _) = try makeColumnVault(self)
        defer { try? v.close() }
        let i = try v.createColumn("i", dtype: "i64", as: Int64Column.self)
        let s = try v.createColumn("s", dtype: "str", as: StringColumn.self)
        let p = try v.createColumn("p", dtype: "msgpack", as: TaggedColumn.self)
        let d = try v.createColumn("d", dtype: "bytes", as: DataColumn.self)
        try i.append(contentsOf: [1, 2, 3])
        try s.append(contentsOf: ["a", "b", "c"])
        try p.append(converting: [PlainValue.int(1), PlainValue.int(2), PlainValue.int(3)])
        try d.append(contentsOf: [Data([1]), Data([2]), Data([3])])
        func check(_ what: String, _ body: () throws -> Void) {
            do {
                try body()
                XCTFail("\(what): nothing thrown")
            } catch let e as KohakuVaultError {
                XCTAssertEqual(e, .invalidArgument("column index out of range"), what)
            } catch {
                XCTFail("\(what): \(error)")
            }
        }
        for (name, c) in [("i", i as Column), ("s", s), ("p", p), ("d", d)] {
            check("\(name) storedRows") { _ = try c.storedRows(2..<4) }
            check("\(name) storedRows negative") { _ = try c.storedRows(-1..<1) }
            check("\(name) values") { _ = try c.values(3..<4) }
            check("\(name) removeSubrange") { try c.removeSubrange(2..<5) }
            check("\(name) remove negative") { try c.remove(at: -1) }
        }
        check("value past the end") { _ = try i.value(at: 3) }
        check("value negative") { _ = try i.value(at: -1) }
        check("value Int.max") { _ = try i.value(at: Int.max) }
        check("subscript") { _ = try i[7] }
        check("read") { _ = try i.read(2..<10) }
        check("take") { _ = try i.take([0, 3]) }
        check("take negative") { _ = try i.take([-1]) }
        check("set") { try i.set(1, at: 3) }
        check("set negative") { try i.set(1, at: -2) }
        check("replaceSubrange") { try i.replaceSubrange(2..<4, with: [1, 2]) }
        check("insert past the end") { try i.insert(1, at: 4) }
        check("snapshot") { _ = try i.snapshot(0..<4) }
        check("text value") { _ = try s.value(at: 3) }
        check("text take") { _ = try s.take([1, 3]) }
        check("text set") { try s.set("x", at: 3) }
        check("packed take") { _ = try p.take([5]) }
        check("bytes take") { _ = try d.take([0, 3]) }
        check("bytes value") { _ = try d.value(at: -1) }
        // large reads (the C fast path) give the same errors
        let big = try v.createColumn("big", dtype: "i64", as: Int64Column.self)
        try big.append(contentsOf: Array(0..<10_000))
        XCTAssertEqual(try big.read(0..<10_000).last, 9_999)
        check("large read past the end") { _ = try big.read(5_000..<10_001) }
        let vec = try v.createColumn("vec", dtype: "vec:f64:8", as: DoubleTensorColumn.self)
        try vec.appendFlat(Array(repeating: 1.5, count: 8 * 1_000))
        check("large readFlat past the end") { _ = try vec.readFlat(1..<1_001) }
        check("large tensor read past the end") { _ = try vec.read(1..<1_001) }
        XCTAssertEqual(try vec.read(0..<1_000).count, 1_000)
        XCTAssertEqual(try i.read(), [1, 2, 3], "nothing changed")
        XCTAssertEqual(try s.read(), ["a", "b", "c"])
        XCTAssertEqual(try i.read(3..<3), [], "an empty range at the end is fine")
        try i.insert(4, at: 3)
        XCTAssertEqual(try i.read(), [1, 2, 3, 4])
    }

    func testWrongDtypesAndMissingColumns() throws {
        let (v, url) = try makeColumnVault(self)
        let i = try v.createColumn("i", dtype: "i64", as: Int64Column.self)
        try i.append(1)
        assertThrowsVault(.invalidArgument(""), try v.column(named: "i", as: FloatColumn.self))
        assertThrowsVault(.invalidArgument(""), try v.column(named: "i", as: StringColumn.self))
        assertThrowsVault(.invalidArgument(""), try v.ensureColumn("i", dtype: "f32"))
        assertThrowsVault(.invalidArgument(""), try v.ensureColumn("i", dtype: "i64", as: DoubleColumn.self))
        assertThrowsVault(.invalidArgument(""), try v.createColumn("i", dtype: "i64"))
        assertThrowsVault(.invalidArgument(""), try v.createColumn("x", dtype: "nope"))
        assertThrowsVault(.invalidArgument(""), try v.createColumn("x", dtype: "vec:f32:0"))
        assertThrowsVault(.unsupportedEncoding(""), try v.createColumn("x", dtype: "str:klingon"))
        assertThrowsVault(.invalidArgument(""), try v.createColumn("", dtype: "i64"))
        assertThrowsVault(.invalidArgument(""), try v.createColumn("x", dtype: "i64", blockBytes: -1))
        assertThrowsVault(.invalidArgument(""), try v.createColumn("x", dtype: "i64", blockBytes: 0))
        assertThrowsVault(.notFound(""), try v.column(named: "missing"))
        assertThrowsVault(.notFound(""), try v.column(named: "missing", as: Int64Column.self))
        XCTAssertEqual(try i.as(Column.self).name, "i")
        assertThrowsVault(.invalidArgument(""), try i.as(TaggedColumn.self))
        // raw rows of the wrong size
        assertThrowsVault(.invalidArgument(""), try i.appendStoredRows([Data([1, 2, 3])]))
        assertThrowsVault(.invalidArgument(""), try i.appendValues([TaggedValue(kind: .raw, payload: Data([1]))]))
        let p = try v.createColumn("p", dtype: "msgpack", as: TaggedColumn.self)
        assertThrowsVault(.invalidArgument(""), try p.append(converting: ["text"]))
        XCTAssertEqual(try p.count(), 0)
        // a deleted column's handle
        XCTAssertTrue(try v.deleteColumn("i"))
        assertThrowsVault(.notFound(""), try i.count())
        assertThrowsVault(.notFound(""), try i.append(2))
        assertThrowsVault(.invalidArgument(""), try ColumnVault(path: url.path, blockBytes: 0))
        assertThrowsVault(.invalidArgument(""), try ColumnVault(path: url.path, blockBytes: -5))
        try v.close()

        // read-only
        let ro = try ColumnVault(path: url.path, options: OpenOptions(readOnly: true))
        defer { try? ro.close() }
        XCTAssertTrue(ro.isReadOnly)
        let rp = try ro.column(named: "p", as: TaggedColumn.self)
        assertThrowsVault(.readOnly(""), try rp.append(converting: [PlainValue.int(1)]))
        assertThrowsVault(.readOnly(""), try ro.createColumn("y", dtype: "i64"))
        assertThrowsVault(.readOnly(""), try ro.deleteColumn("p"))
        assertThrowsVault(.readOnly(""), try ro.enableCache())
        assertThrowsVault(.readOnly(""), try rp.clear())
        XCTAssertEqual(try rp.count(), 0)

        // a read-only open of a file without column tables
        let other = try makeTempDir(self).appendingPathComponent("kv.db")
        try KVault(path: other.path).close()
        assertThrowsVault(.notFound(""), try ColumnVault(path: other.path, options: OpenOptions(readOnly: true)))
    }

    func testClosedMessageNamesTheVault() throws {
        let (v, _) = try makeColumnVault(self)
        try v.close()
        XCTAssertThrowsError(try v.listColumns()) { e in
            XCTAssertTrue((e as? KohakuVaultError)?.reason.contains("ColumnVault") == true, "\(e)")
        }
    }
}
