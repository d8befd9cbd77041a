import Foundation
import XCTest
@testable import KohakuVault

/// tests/conformance/ordered.json: the key encodings of docs/FORMAT.md §9.1 and the order of
/// every case whose keys Swift can hold (int, float, str, bytes; "mixed" is Python/Rust only),
/// through a CSBTree of order 3 and a SkipList.
final class OrderedConformanceTests: XCTestCase {
    func testOrderedVectors() throws {
        let cases = try conformanceCases("ordered.json")
        var covered = Set<String>()
        for c in cases {
            let name = c["name"]?.string ?? "?"
            let type = try XCTUnwrap(c["key_type"]?.string, name)
            let keys = try XCTUnwrap(c["keys"]?.array, name)
            switch type {
            case "int":
                try check(c, keys.map { try XCTUnwrap($0.int, name) }, same: KeyOrder.sameInt64)
            case "float":
                try check(c, keys.map { (j) -> Double in
                    let bits = try XCTUnwrap(UInt64(try XCTUnwrap(j["f64"]?.string, name), radix: 16), name)
                    return Double(bitPattern: bits)
                }, same: KeyOrder.sameDouble)
            case "str":
                try check(c, keys.map { try XCTUnwrap($0.string, name) }, same: KeyOrder.sameString)
            case "bytes":
                try check(c, keys.map { unhex(try XCTUnwrap($0["hex"]?.string, name)) }, same: KeyOrder.sameData)
            default:
                continue // mixed keys: no Swift key type holds them
            }
            covered.insert(type)
        }
        XCTAssertEqual(covered, ["int", "float", "str", "bytes"])
    }

    private func check<K: OrderedMapKey>(_ c: JSON, _ keys: [K], same: (K, K) -> Bool,
                                         file: StaticString = #filePath, line: UInt = #line) throws {
        let name = c["name"]?.string ?? "?"
        let encodings = try XCTUnwrap(c["encodings"]?.array, name).map { $0.string ?? "" }
        let order = try XCTUnwrap(c["insert_order"]?.array, name).map { Int($0.int ?? -1) }
        XCTAssertEqual(encodings.count, keys.count, name, file: file, line: line)
        XCTAssertEqual(order.sorted(), Array(keys.indices), "\(name): insert_order is a permutation", file: file, line: line)
        XCTAssertGreaterThan(keys.count, 2, name, file: file, line: line)
        for (k, e) in zip(keys, encodings) {
            XCTAssertEqual(hex(try OrderedKeyCodec.encode(k)), e.uppercased(), "\(name): encoding of \(k)", file: file, line: line)
        }
        let maps: [OrderedMap<K, Int>] = [try CSBTree<K, Int>(order: 3), SkipList<K, Int>()]
        for m in maps {
            let what = "\(name) \(m.typeName)"
            func sameEntry(_ e: (key: K, value: Int)?, _ i: Int?) -> Bool {
                switch (e, i) {
                case (nil, nil): return true
                case let (e?, i?): return same(e.key, keys[i]) && e.value == i
                default: return false
                }
            }
            for i in order { XCTAssertNil(try m.insert(keys[i], i), what, file: file, line: line) }
            XCTAssertEqual(m.count, keys.count, what, file: file, line: line)
            let it = Array(m)
            XCTAssertEqual(it.count, keys.count, what, file: file, line: line)
            XCTAssertTrue(zip(it, keys).allSatisfy { same($0.key, $1) }, "\(what): iteration order", file: file, line: line)
            XCTAssertEqual(it.map(\.value), Array(keys.indices), what, file: file, line: line)
            XCTAssertTrue(zip(m.keys, keys).allSatisfy { same($0, $1) }, "\(what): keys", file: file, line: line)
            XCTAssertTrue(sameEntry(m.first, 0), "\(what): first", file: file, line: line)
            XCTAssertTrue(sameEntry(m.last, keys.count - 1), "\(what): last", file: file, line: line)
            let n = keys.count
            for j in [0, 1, n / 3, n / 2, n - 2, n - 1] {
                XCTAssertTrue(sameEntry(try m.ceiling(keys[j]), j), "\(what): ceiling \(keys[j])", file: file, line: line)
                XCTAssertTrue(sameEntry(try m.floor(keys[j]), j), "\(what): floor \(keys[j])", file: file, line: line)
                XCTAssertTrue(sameEntry(try m.higher(keys[j]), j + 1 < n ? j + 1 : nil), "\(what): higher", file: file, line: line)
                XCTAssertTrue(sameEntry(try m.lower(keys[j]), j > 0 ? j - 1 : nil), "\(what): lower", file: file, line: line)
            }
            let (a, b) = (n / 4, 3 * n / 4)
            XCTAssertEqual(try m.range(keys[a], keys[b]).map(\.value), Array(a..<b), "\(what): range", file: file, line: line)
            XCTAssertEqual(try m.range(from: keys[a], startInclusive: false, to: keys[b], endInclusive: true, reverse: true)
                .map(\.value), Array((a + 1...b).reversed()), "\(what): reverse range", file: file, line: line)
            XCTAssertEqual(try m.values(forKeys: keys), Array(keys.indices), "\(what): values(forKeys:)", file: file, line: line)
            // Without every third key, the neighbours of a removed key are the keys around it.
            let removed = Set(stride(from: 1, to: n - 1, by: 3))
            XCTAssertEqual(try m.removeValues(forKeys: removed.sorted().map { keys[$0] }), removed.sorted(), what,
                           file: file, line: line)
            for j in removed.sorted() {
                XCTAssertTrue(sameEntry(try m.ceiling(keys[j]), j + 1), "\(what): ceiling of removed \(keys[j])", file: file, line: line)
                XCTAssertTrue(sameEntry(try m.floor(keys[j]), j - 1), "\(what): floor of removed \(keys[j])", file: file, line: line)
                XCTAssertFalse(try m.contains(keys[j]), what, file: file, line: line)
            }
            XCTAssertEqual(Array(m).map(\.value), keys.indices.filter { !removed.contains($0) }, what, file: file, line: line)
        }
    }
}
