import Foundation
import XCTest
@testable import KohakuVault

final class ValuePackerTests: XCTestCase {
    func testFixedSizeInt64() throws {
        let p = try ValuePacker(dtype: "i64")
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
        let p = try ValuePacker(dtype: "str")
        XCTAssertTrue(p.isVariableSize)
        let a = try p.pack("héllo"), b = try p.pack("x")
        let all = a + b
        let back = try p.unpackMany(all, offsets: [0, a.count])
        XCTAssertEqual(try back.map { try $0.string() }, ["héllo", "x"])
    }

    func testBadDtype() {
        assertThrowsVault(.invalidArgument(""), try ValuePacker(dtype: "nonsense"))
    }
}
