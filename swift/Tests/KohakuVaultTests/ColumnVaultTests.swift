import Foundation
import XCTest
@testable import KohakuVault

/// A fresh column vault in a temporary directory.
func makeColumnVault(_ test: XCTestCase, blockBytes: Int = ColumnVault.defaultBlockBytes) throws -> (ColumnVault, URL) {
    let url = try makeTempDir(test).appendingPathComponent("cols.db")
    return (try ColumnVault(path: url.path, blockBytes: blockBytes), url)
}

/// ColumnVault: tests/conformance/columns.json through the typed API, slices, take, snapshots,
/// batches and async variants.
final class ColumnVaultTests: XCTestCase {
    // MARK: - columns.json

    /// The u64 values of columns.json as written (the test JSON reader keeps integers as Int64).
    private func rawUInt64Values(_ dtype: String) throws -> [UInt64] {
        let text = try String(contentsOf: repoRoot.appendingPathComponent("tests/conformance/columns.json"), encoding: .utf8)
        let start = try XCTUnwrap(text.range(of: "\"dtype\": \"\(dtype)\""))
        let values = try XCTUnwrap(text.range(of: "\"values\":", range: start.upperBound..<text.endIndex))
        let open = try XCTUnwrap(text.range(of: "[", range: values.upperBound..<text.endIndex))
        let close = try XCTUnwrap(text.range(of: "]", range: open.upperBound..<text.endIndex))
        return try text[open.upperBound..<close.lowerBound].split(separator: ",").map {
            try XCTUnwrap(UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
    }

    /// Appends `values`, reads them back every way, returns nothing (the stored bytes are
    /// compared by the caller).
    private func roundTrip<T: Equatable>(_ c: TypedColumn<T>, _ values: [T], _ ctx: String,
                                         file: StaticString = #filePath, line: UInt = #line) throws {
        try c.append(contentsOf: values)
        XCTAssertEqual(try c.count(), values.count, ctx, file: file, line: line)
        XCTAssertEqual(try c.read(), values, ctx, file: file, line: line)
        for (i, v) in values.enumerated() {
            XCTAssertEqual(try c.value(at: i), v, "\(ctx) [\(i)]", file: file, line: line)
            XCTAssertEqual(try c[i], v, "\(ctx) [\(i)]", file: file, line: line)
        }
        XCTAssertEqual(Array(try c.snapshot()), values, ctx, file: file, line: line)
        XCTAssertEqual(try c.take(Array(values.indices.reversed())), values.reversed(), ctx, file: file, line: line)
    }

    func testConformanceVectorsThroughTheTypedAPI() throws {
        let cases = try conformanceCases("columns.json")
        XCTAssertGreaterThanOrEqual(cases.count, 21)
        let (v, _) = try makeColumnVault(self)
        defer { try? v.close() }
        for (i, c) in cases.enumerated() {
            let dtype = try XCTUnwrap(c["dtype"]?.string)
            let values = try XCTUnwrap(c["values"]?.array)
            let rows = try XCTUnwrap(c["rows_hex"]?.array).map { try XCTUnwrap($0.string) }
            let col = try v.createColumn("c\(i)", dtype: dtype)
            XCTAssertEqual(col.elementSize, Int(try XCTUnwrap(c["elem_size"]?.int)), dtype)
            XCTAssertEqual(col.dtype, dtype)
            let ints = { values.map { $0.int ?? 0 } }
            let doubles = { values.map { $0.double ?? .nan } }
            switch col {
            case let t as Int64Column: try roundTrip(t, ints(), dtype)
            case let t as Int32Column: try roundTrip(t, ints().map { Int32($0) }, dtype)
            case let t as Int16Column: try roundTrip(t, ints().map { Int16($0) }, dtype)
            case let t as Int8Column: try roundTrip(t, ints().map { Int8($0) }, dtype)
            case let t as UInt8Column: try roundTrip(t, ints().map { UInt8($0) }, dtype)
            case let t as UInt16Column: try roundTrip(t, ints().map { UInt16($0) }, dtype)
            case let t as UInt32Column: try roundTrip(t, ints().map { UInt32($0) }, dtype)
            case let t as UInt64Column: try roundTrip(t, try rawUInt64Values(dtype), dtype)
            case let t as BoolColumn: try roundTrip(t, values.map { $0.bool ?? false }, dtype)
            case let t as Float16Column: try roundTrip(t, doubles().map { Float($0) }, dtype)
            case let t as FloatColumn: try roundTrip(t, doubles().map { Float($0) }, dtype)
            case let t as DoubleColumn: try roundTrip(t, doubles(), dtype)
            case let t as FloatTensorColumn:
                XCTAssertEqual(t.shape, [3])
                try roundTrip(t, values.map { ($0.array ?? []).map { Float($0.double ?? .nan) } }, dtype)
                XCTAssertEqual(try t.readFlat(0..<1), [1, 2, 3])
            case let t as TensorColumn<ColumnScalars.Int16>:
                XCTAssertEqual(t.shape, [2, 2])
                XCTAssertEqual(t.elementsPerRow, 4)
                let flat = values.map { ($0.array ?? []).flatMap { ($0.array ?? []).map { Int16($0.int ?? 0) } } }
                try roundTrip(t, flat, dtype)
            case let t as StringColumn: try roundTrip(t, values.map { $0.string ?? "" }, dtype)
            case let t as DataColumn: try roundTrip(t, values.map { unhex($0["hex"]?.string ?? "") }, dtype)
            case let t as TaggedColumn:
                XCTAssertEqual(t.layout, .packed)
                let tagged: [TaggedValue] = try values.map { j in
                    if let h = j["hex"]?.string { return TaggedValue(kind: .raw, payload: unhex(h)) }
                    if t.valueKind == .utf8 { return try (j.string ?? "").vaultValue() }
                    return try j.plain.vaultValue()
                }
                try t.append(contentsOf: tagged)
                let back = try t.read()
                XCTAssertEqual(back.count, values.count, dtype)
                for (k, (got, j)) in zip(back, values).enumerated() {
                    switch t.valueKind {
                    case .msgpack?: XCTAssertEqual(try got.plain().normalized, j.plain.normalized, dtype)
                    case .utf8?: XCTAssertEqual(try got.string(), j.string, dtype)
                    // bytes:N reads back padded to N bytes, as 1.1.0
                    case .raw?: XCTAssertEqual(hex(try got.data()).lowercased(), rows[k], dtype)
                    default: XCTFail("\(dtype): unexpected value kind \(t.valueKindCode)")
                    }
                }
                XCTAssertEqual(try t.take([values.count - 1]), [back[values.count - 1]], dtype)
            default:
                XCTFail("\(dtype): no typed handle (\(type(of: col))): teach the Swift suite about it")
            }
            XCTAssertEqual(try col.storedRows().map { hex($0).lowercased() }, rows, "\(dtype): stored rows")
            // the values API of every column: numeric rows cross raw
            if col.layout == .scalar || col.layout == .tensor {
                XCTAssertEqual(try col.values(0..<rows.count).map { hex($0.payload).lowercased() }, rows, dtype)
            }
        }
        XCTAssertEqual(try v.listColumns().map(\.name), (0..<cases.count).map { "c\($0)" })
    }

    func testColumnTypesFollowTheLayout() throws {
        let (v, _) = try makeColumnVault(self)
        defer { try? v.close() }
        XCTAssertTrue(try v.createColumn("a", dtype: "int64") is Int64Column)
        XCTAssertTrue(try v.createColumn("b", dtype: "vector:f32:4") is FloatTensorColumn)
        XCTAssertTrue(try v.createColumn("c", dtype: "string") is StringColumn)
        XCTAssertTrue(try v.createColumn("d", dtype: "bytes") is DataColumn)
        XCTAssertTrue(try v.createColumn("e", dtype: "cbor") is TaggedColumn)
        let f = try v.createColumn("f", dtype: "vec:f64:2:3", as: DoubleTensorColumn.self)
        XCTAssertEqual(f.shape, [2, 3])
        XCTAssertEqual(f.elementSize, 48)
        let info = try XCTUnwrap(try v.columnInfo(named: "f"))
        XCTAssertEqual(info.layout, .tensor)
        XCTAssertEqual(info.elementDType, .float64)
        XCTAssertEqual(info.valueKind, .raw, "numeric rows cross raw")
        XCTAssertNil(try v.columnInfo(named: "zz"))
        XCTAssertTrue(try v.hasColumn(named: "a"))
        let again = try v.column(named: "a", as: Int64Column.self)
        XCTAssertEqual(again.id, try v.column(named: "a").id)
        XCTAssertTrue(try v.ensureColumn("a", dtype: "int64") is Int64Column)
        XCTAssertEqual(try v.listColumns().map(\.dtype), ["int64", "vector:f32:4", "string", "bytes", "cbor", "vec:f64:2:3"])
        XCTAssertTrue(try v.deleteColumn("a"))
        XCTAssertFalse(try v.deleteColumn("a"))
        XCTAssertEqual(try v.listColumns().count, 5)
        XCTAssertEqual(try v.checkpoint().busy, 0)
    }

    // MARK: - Slices, insert, delete, take (fixed width, spanning blocks)

    func testFixedWidthSlicesInsertDeleteTake() throws {
        let (v, _) = try makeColumnVault(self, blockBytes: 64) // 8 rows per block
        defer { try? v.close() }
        let c = try v.createColumn("n", dtype: "i64", as: Int64Column.self)
        var model = Array(Int64(0)..<100)
        try c.append(contentsOf: model[..<37])
        try c.append(contentsOf: model[37...])
        XCTAssertEqual(try c.read(), model)
        XCTAssertEqual(try c.read(5..<15), Array(model[5..<15]))
        XCTAssertEqual(try c.read(95...), Array(model[95...]))
        XCTAssertEqual(try c.read(..<3), [0, 1, 2])
        XCTAssertEqual(try c[10..<12], [10, 11])
        XCTAssertEqual(try c.take([99, 0, 50, 50, 7]), [99, 0, 50, 50, 7])
        XCTAssertEqual(try c.take([]), [])

        try c.set(-1, at: 3); model[3] = -1
        try c.replaceSubrange(10..<20, with: [1, 2, 3]); model.replaceSubrange(10..<20, with: [1, 2, 3])
        try c.replaceSubrange(40..<42, with: [7, 8]); model.replaceSubrange(40..<42, with: [7, 8])
        try c.insert(contentsOf: [7, 7], at: 0); model.insert(contentsOf: [7, 7], at: 0)
        try c.insert(5, at: try c.count()); model.append(5)
        try c.removeSubrange(0..<1); model.removeSubrange(0..<1)
        try c.remove(at: 50); model.remove(at: 50)
        try c.append(1000); model.append(1000)
        XCTAssertEqual(try c.read(), model)
        XCTAssertEqual(try c.count(), model.count)

        // snapshot: a mutable collection indexed by row number, written back in place
        var snap = try c.snapshot(20..<30)
        XCTAssertEqual(snap.startIndex, 20)
        XCTAssertEqual(snap.indices, 20..<30)
        XCTAssertEqual(snap[20], model[20])
        XCTAssertEqual(snap.reduce(0, +), model[20..<30].reduce(0, +))
        for i in snap.indices { snap[i] *= 10 }
        snap.sort()
        try c.write(snap)
        model.replaceSubrange(20..<30, with: model[20..<30].map { $0 * 10 }.sorted())
        XCTAssertEqual(try c.read(), model)
        let info = try c.storageInfo()
        XCTAssertGreaterThan(info.blocks, 10)

        try c.clear()
        XCTAssertEqual(try c.count(), 0)
        XCTAssertTrue(try c.isEmpty())
        XCTAssertEqual(try c.read(), [])
    }

    func testOtherFixedWidthTypes() throws {
        let (v, _) = try makeColumnVault(self, blockBytes: 40)
        defer { try? v.close() }
        let f = try v.createColumn("f", dtype: "f32", as: FloatColumn.self)
        try f.append(contentsOf: [0.5, -1.25, .infinity])
        try f.set(2.5, at: 1)
        XCTAssertEqual(try f.read(), [0.5, 2.5, .infinity])
        let b = try v.createColumn("b", dtype: "bool", as: BoolColumn.self)
        try b.append(contentsOf: [true, false, true])
        XCTAssertEqual(try b.take([2, 1]), [true, false])
        XCTAssertEqual(try b.storedRows(0..<3), [Data([1]), Data([0]), Data([1])])
        let h = try v.createColumn("h", dtype: "f16", as: Float16Column.self)
        let third: Float = 1.0 / 3
        try h.append(contentsOf: [0, -0.0, 1, 65504, 0x1p-24, third, .infinity, 70000] as [Float])
        let back = try h.read()
        XCTAssertEqual(Array(back[0..<5]), [0, 0, 1, 65504, 0x1p-24])
        XCTAssertEqual(back[5], 0.333251953125) // nearest half
        XCTAssertEqual(back[6], .infinity)
        XCTAssertEqual(back[7], .infinity) // overflow
        XCTAssertEqual(try h.storedRows(1..<2), [Data([0x00, 0x80])])
        try h.append(.nan)
        XCTAssertTrue(try h.value(at: 8).isNaN)

        // tensors: rows of C-order values, flat bulk paths
        let t = try v.createColumn("t", dtype: "vec:f32:2:2", as: FloatTensorColumn.self)
        try t.append(contentsOf: [[1, 2, 3, 4], [5, 6, 7, 8]])
        try t.appendFlat([9, 10, 11, 12, 13, 14, 15, 16])
        XCTAssertEqual(try t.count(), 4)
        XCTAssertEqual(try t.readFlat(1..<3), [5, 6, 7, 8, 9, 10, 11, 12])
        try t.set([0, 0, 0, 0], at: 0)
        XCTAssertEqual(try t.take([3, 0]), [[13, 14, 15, 16], [0, 0, 0, 0]])
        assertThrowsVault(.invalidArgument(""), try t.append([1, 2, 3]))
        assertThrowsVault(.invalidArgument(""), try t.appendFlat([1, 2, 3]))
        XCTAssertEqual(try t.count(), 4, "a bad row changes nothing")
    }

    // MARK: - Variable width

    func testTextColumnsSlicesAndCodecs() throws {
        let (v, _) = try makeColumnVault(self, blockBytes: 32)
        defer { try? v.close() }
        let s = try v.createColumn("s", dtype: "str", as: StringColumn.self)
        var model = (0..<40).map { "row \($0) " + String(repeating: "é", count: $0 % 7) }
        try s.append(contentsOf: model)
        XCTAssertEqual(try s.read(), model)
        XCTAssertEqual(try s.read(10..<13), Array(model[10..<13]))
        XCTAssertEqual(try s.take([39, 0, 5, 5, 6, 7, 2]), [39, 0, 5, 5, 6, 7, 2].map { model[$0] })
        try s.set("changed", at: 4); model[4] = "changed"
        try s.replaceSubrange(10..<20, with: ["x", "🎉"]); model.replaceSubrange(10..<20, with: ["x", "🎉"])
        try s.insert("first", at: 0); model.insert("first", at: 0)
        try s.removeSubrange(1..<3); model.removeSubrange(1..<3)
        XCTAssertEqual(try s.read(), model)
        var snap = try s.snapshot(0..<3)
        snap[1] = "snap"
        try s.write(snap); model[1] = "snap"
        XCTAssertEqual(try s.read(), model)

        let u16 = try v.createColumn("u16", dtype: "str:utf16le", as: StringColumn.self)
        try u16.append(contentsOf: ["hé", "日本"])
        XCTAssertEqual(try u16.storedRows(0..<1), [Data([0x68, 0x00, 0xE9, 0x00])])
        XCTAssertEqual(try u16.read(), ["hé", "日本"])
        let latin = try v.createColumn("l", dtype: "str:latin1", as: StringColumn.self)
        assertThrowsVault(.invalidArgument(""), try latin.append(contentsOf: ["ok", "日"]))
        XCTAssertEqual(try latin.count(), 0, "one bad value changes nothing")

        let d = try v.createColumn("d", dtype: "bytes", as: DataColumn.self)
        let blobs = (0..<20).map { Data(repeating: UInt8($0), count: $0 * 3) }
        try d.append(contentsOf: blobs)
        XCTAssertEqual(try d.read(), blobs)
        XCTAssertEqual(try d.take([19, 0, 3]), [blobs[19], blobs[0], blobs[3]])
        try d.set(Data([1, 2, 3]), at: 0)
        XCTAssertEqual(try d.value(at: 0), Data([1, 2, 3]))
        try d.appendStoredRows([Data([9])])
        XCTAssertEqual(try d.storedRows(20..<21), [Data([9])])

        let m = try v.createColumn("m", dtype: "msgpack", as: TaggedColumn.self)
        XCTAssertEqual(m.valueKind, .msgpack)
        try m.append(converting: [["a": 1] as PlainValue, PlainValue.string("text"), PlainValue.int(5)])
        try m.append(PlainValue.array([1, 2]).vaultValue())
        XCTAssertEqual(try m.count(), 4)
        XCTAssertEqual(try m.value(at: 1).plain(), "text")
        XCTAssertEqual(try m.take([3, 0]).map { try $0.plain().normalized },
                       [PlainValue.array([1, 2]).normalized, (["a": 1] as PlainValue).normalized])
        try m.set(try PlainValue.bool(true).vaultValue(), at: 2)
        XCTAssertEqual(try m.value(at: 2).plain(), true)
        XCTAssertEqual(try m.values(0..<1).first?.kindCode, ValueKind.msgpack.rawValue)
    }

    // MARK: - Batches and async

    func testBatchesSyncAndAsync() async throws {
        let (v, _) = try makeColumnVault(self, blockBytes: 64)
        let c = try v.createColumn("n", dtype: "i64", as: Int64Column.self)
        try await c.append(contentsOf: Array(Int64(0)..<20))
        let sync = try c.batches(size: 7).collect()
        XCTAssertEqual(sync.map(\.start), [0, 7, 14])
        XCTAssertEqual(sync.flatMap(\.rows), Array(0..<20))
        XCTAssertEqual(sync.last?.indices, 14..<20)
        var seen: [Int64] = []
        var starts: [Int] = []
        for try await b in c.batches(size: 6, range: 2..<15) {
            starts.append(b.start)
            seen += b.rows
        }
        XCTAssertEqual(starts, [2, 8, 14])
        XCTAssertEqual(seen, Array(2..<15))
        assertThrowsVault(.invalidArgument(""), try c.batches(size: 0).collect())
        do {
            for try await _ in c.batches(size: 0) {}
            XCTFail("size 0 must throw")
        } catch let e as KohakuVaultError {
            XCTAssertEqual(e.name, "invalidArgument")
        }
        XCTAssertEqual(try c.batches(range: 5..<5).collect().count, 0)

        let r13 = try await c.read(1..<3)
        XCTAssertEqual(r13, [1, 2])
        let v19 = try await c.value(at: 19)
        XCTAssertEqual(v19, 19)
        let n = try await c.count()
        XCTAssertEqual(n, 20)
        let taken = try await c.take([3, 1])
        XCTAssertEqual(taken, [3, 1])
        try await c.set(-5, at: 0)
        try await c.replaceSubrange(1..<2, with: [])
        try await c.insert(contentsOf: [42], at: 1)
        let snap = try await c.snapshot(0..<2)
        XCTAssertEqual(snap.elements, [-5, 42])
        let col = try await v.column(named: "n")
        XCTAssertTrue(col is Int64Column)
        _ = try await v.ensureColumn("s", dtype: "str")
        let names = try await v.listColumns().map(\.name)
        XCTAssertEqual(names, ["n", "s"])
        try await v.checkpoint()
        try await v.close()
        XCTAssertTrue(v.isClosed)
    }

    /// Bulk paths move big batches in one crossing (timings printed, not asserted: debug build).
    func testBulkReadAndAppend() throws {
        let (v, _) = try makeColumnVault(self)
        defer { try? v.close() }
        let n = 1_000_000
        let c = try v.createColumn("n", dtype: "i64", as: Int64Column.self)
        let values = (0..<n).map { Int64($0) * 3 }
        var t0 = Date()
        try c.append(contentsOf: values)
        let append = Date().timeIntervalSince(t0)
        t0 = Date()
        let back = try c.read(0..<n)
        let read = Date().timeIntervalSince(t0)
        XCTAssertEqual(back, values)
        let e = try v.createColumn("e", dtype: "vec:f32:384", as: FloatTensorColumn.self)
        let flat = (0..<(10_000 * 384)).map { Float($0 % 1000) }
        t0 = Date()
        try e.appendFlat(flat)
        let tAppend = Date().timeIntervalSince(t0)
        t0 = Date()
        let flatBack = try e.readFlat(0..<10_000)
        let tRead = Date().timeIntervalSince(t0)
        XCTAssertEqual(flatBack, flat)
        XCTAssertEqual(try e.value(at: 1), Array(flat[384..<768]))
        print(String(format: "columns (debug build): 1M i64 append %.1f ms, read %.1f ms; 10k x 384 f32 append %.1f ms, read %.1f ms",
                     append * 1e3, read * 1e3, tAppend * 1e3, tRead * 1e3))
    }
}
