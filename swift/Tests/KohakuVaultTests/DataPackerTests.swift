import Foundation
import XCTest
@testable import KohakuVault

final class DataPackerTests: XCTestCase {
    func testFixedSizeInt64() throws {
        let p = try DataPacker(dtype: "i64")
        XCTAssertEqual(p.elementSize, 8)
        XCTAssertFalse(p.isVariableSize)
        let one = try p.pack(Int64(42))
        XCTAssertEqual(hex(one), "2A00000000000000")
        XCTAssertEqual(try p.unpack(one).int64(), 42)
        let many = try p.packMany([Int64(1), Int64(-2), Int64(3)])
        XCTAssertEqual(many.count, 24)
        XCTAssertEqual(try p.unpackMany(many, count: 3).map { try $0.int64() }, [1, -2, 3])
        XCTAssertEqual(try p.unpack(many, offset: 8).int64(), -2)
    }

    func testVariableSizeStrings() throws {
        let p = try DataPacker(dtype: "str")
        XCTAssertTrue(p.isVariableSize)
        let a = try p.pack("héllo"), b = try p.pack("x")
        let all = a + b
        let back = try p.unpackMany(all, offsets: [0, a.count])
        XCTAssertEqual(try back.map { try $0.string() }, ["héllo", "x"])
    }

    func testBadDtype() {
        assertThrowsVault(.invalidArgument(""), try DataPacker(dtype: "nonsense"))
    }
}

final class DataPackerKindTests: XCTestCase {
    /// The kind each packer takes comes from the core (the facade parses no dtype string).
    func testValueKindAndElementDType() throws {
        let cases: [(String, ValueKind)] = [
            ("i64", .int), ("f64", .float), ("str", .utf8), ("str:32", .utf8), ("bytes", .raw),
            ("msgpack", .msgpack), ("vec:f32:3", .ndarray),
        ]
        for (dtype, kind) in cases {
            let p = try DataPacker(dtype: dtype)
            XCTAssertEqual(p.valueKind, kind, dtype)
            XCTAssertEqual(p.valueKindCode, kind.rawValue, dtype)
        }
        XCTAssertEqual(DataPacker(cddlSchema: nil).valueKind, .msgpack, "cbor packers take msgpack")
        XCTAssertEqual(try DataPacker(dtype: "vec:f32:3").elementDType, .float32)
        XCTAssertEqual(try DataPacker(dtype: "vec:f64:2").elementDType, .float64)
        XCTAssertNil(try DataPacker(dtype: "i64").elementDType)

        let vp = try DataPacker(dtype: "vec:f32:3")
        let packed = try vp.pack(try NDArray([1, 2, 3] as [Float]))
        XCTAssertEqual(try vp.unpack(packed).floatArray().values, [1, 2, 3])
    }
}
