import Dispatch
import Foundation
import XCTest
@testable import KohakuVault

/// A seeded generator (SplitMix64), so that every random test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// The order the core must give each key type, written out for the reference model (the facade
/// itself never compares keys).
enum KeyOrder {
    static func int64(_ a: Int64, _ b: Int64) -> Bool { a < b }
    static func double(_ a: Double, _ b: Double) -> Bool { a < b } // -0.0 == 0.0
    /// Code point order (not Swift's String `<`).
    static func string(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.map(\.value).lexicographicallyPrecedes(b.unicodeScalars.map(\.value))
    }
    /// Unsigned bytes, a shorter prefix first.
    static func data(_ a: Data, _ b: Data) -> Bool { a.lexicographicallyPrecedes(b) }

    /// Identity of stored keys (doubles bit for bit, strings scalar for scalar).
    static func sameInt64(_ a: Int64, _ b: Int64) -> Bool { a == b }
    static func sameDouble(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern }
    static func sameString(_ a: String, _ b: String) -> Bool { Array(a.unicodeScalars) == Array(b.unicodeScalars) }
    static func sameData(_ a: Data, _ b: Data) -> Bool { a == b }
}

/// A sorted-array model of an ordered map (keys kept as first stored, as the core does).
struct ReferenceMap<K, V> {
    var keys: [K] = []
    var values: [V] = []
    let less: (K, K) -> Bool

    var count: Int { keys.count }

    /// The first index whose key is not below `k`.
    func lowerBound(_ k: K) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if less(keys[mid], k) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The first index whose key is above `k`.
    func upperBound(_ k: K) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if less(k, keys[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    func index(_ k: K) -> Int? {
        let i = lowerBound(k)
        return i < keys.count && !less(k, keys[i]) ? i : nil
    }

    func value(_ k: K) -> V? { index(k).map { values[$0] } }

    /// Replace (the stored key stays); returns the old value.
    mutating func replace(_ k: K, _ v: V) -> V? {
        if let i = index(k) {
            let old = values[i]
            values[i] = v
            return old
        }
        let i = lowerBound(k)
        keys.insert(k, at: i)
        values.insert(v, at: i)
        return nil
    }

    mutating func insertIfAbsent(_ k: K, _ v: V) -> V? {
        if let i = index(k) { return values[i] }
        _ = replace(k, v)
        return nil
    }

    mutating func remove(_ k: K) -> V? {
        guard let i = index(k) else { return nil }
        keys.remove(at: i)
        return values.remove(at: i)
    }

    func entry(_ i: Int) -> (K, V)? { i >= 0 && i < keys.count ? (keys[i], values[i]) : nil }

    func ceiling(_ k: K) -> (K, V)? { entry(lowerBound(k)) }
    func higher(_ k: K) -> (K, V)? { entry(upperBound(k)) }
    func floor(_ k: K) -> (K, V)? { entry(upperBound(k) - 1) }
    func lower(_ k: K) -> (K, V)? { entry(lowerBound(k) - 1) }

    func range(from a: K?, startInclusive: Bool, to b: K?, endInclusive: Bool, reverse: Bool, limit: Int) -> [(K, V)] {
        let lo = a.map { startInclusive ? lowerBound($0) : upperBound($0) } ?? 0
        let hi = b.map { endInclusive ? upperBound($0) : lowerBound($0) } ?? keys.count
        var out = (lo..<max(lo, hi)).map { (keys[$0], values[$0]) }
        if reverse { out.reverse() }
        if limit > 0 { out = Array(out.prefix(limit)) }
        return out
    }
}

final class Token {
    let id: Int
    init(_ id: Int) { self.id = id }
}

final class OrderedMapTests: XCTestCase {
    // MARK: - Members, one by one

    func testCSBTreeMembers() throws {
        let t = try CSBTree<Int64, String>(order: 4)
        XCTAssertEqual(t.order, 4)
        XCTAssertTrue(t.isEmpty)
        XCTAssertEqual(t.count, 0)
        XCTAssertNil(t.first)
        XCTAssertNil(t.last)
        XCTAssertEqual(t.description, "CSBTree(len=0)")
        XCTAssertNil(try t.insert(5, "five"))
        XCTAssertNil(try t.insert(1, "one"))
        XCTAssertNil(try t.insert(3, "three"))
        // insert replaces on a CSBTree and returns the old value.
        XCTAssertEqual(try t.insert(3, "THREE"), "three")
        XCTAssertEqual(try t.value(forKey: 3), "THREE")
        XCTAssertEqual(t[3], "THREE")
        XCTAssertNil(t[4])
        XCTAssertEqual(try t.updateValue("3", forKey: 3), "THREE")
        XCTAssertNil(try t.updateValue("7", forKey: 7))
        XCTAssertEqual(try t.insertIfAbsent(7, "seven"), "7") // existing, unchanged
        XCTAssertEqual(t[7], "7")
        XCTAssertNil(try t.insertIfAbsent(9, "nine"))
        XCTAssertEqual(t.count, 5)
        XCTAssertFalse(t.isEmpty)
        XCTAssertTrue(try t.contains(1))
        XCTAssertFalse(try t.contains(2))
        XCTAssertEqual(t.description, "CSBTree(len=5)")
        XCTAssertEqual(t.keys, [1, 3, 5, 7, 9])
        XCTAssertEqual(t.values, ["one", "3", "five", "7", "nine"])
        XCTAssertEqual(t.items.map(\.key), [1, 3, 5, 7, 9])
        XCTAssertEqual(t.items.map(\.value), t.values)
        XCTAssertEqual(t.first?.key, 1)
        XCTAssertEqual(t.first?.value, "one")
        XCTAssertEqual(t.last?.key, 9)
        XCTAssertEqual(try t.ceiling(4)?.key, 5)
        XCTAssertEqual(try t.ceiling(5)?.key, 5)
        XCTAssertEqual(try t.higher(5)?.key, 7)
        XCTAssertEqual(try t.floor(4)?.key, 3)
        XCTAssertEqual(try t.floor(3)?.value, "3")
        XCTAssertEqual(try t.lower(3)?.key, 1)
        XCTAssertNil(try t.lower(1))
        XCTAssertNil(try t.higher(9))
        XCTAssertNil(try t.ceiling(10))
        XCTAssertNil(try t.floor(0))
        XCTAssertEqual(try t.range(3, 7).map(\.key), [3, 5])
        XCTAssertEqual(try t.range(3, 3).count, 0) // 1.1.0: end exclusive, range(42, 42) == []
        XCTAssertEqual(try t.range(7, 3).count, 0) // start > end: empty
        XCTAssertEqual(try t.count(from: 3, to: 9), 3)
        XCTAssertEqual(try t.count(), 5)
        XCTAssertEqual(try t.range(from: 3, startInclusive: false, to: 9, endInclusive: true).map(\.key), [5, 7, 9])
        XCTAssertEqual(try t.range(reverse: true).map(\.key), [9, 7, 5, 3, 1])
        XCTAssertEqual(try t.range(to: 7, endInclusive: true, reverse: true, limit: 2).map(\.key), [7, 5])
        XCTAssertEqual(try t.range(from: 2, limit: 2).map(\.key), [3, 5])
        assertThrowsVault(.invalidArgument(""), try t.range(limit: -1))
        XCTAssertEqual(t[3..<7].map(\.key), [3, 5])
        XCTAssertEqual(t[3...7].map(\.key), [3, 5, 7])
        XCTAssertEqual(t[5...].map(\.key), [5, 7, 9])
        XCTAssertEqual(t[..<5].map(\.key), [1, 3])
        XCTAssertEqual(t[...5].map(\.key), [1, 3, 5])
        XCTAssertEqual(Array(t).map(\.key), [1, 3, 5, 7, 9])
        var seen: [Int64] = []
        for (k, v) in t {
            seen.append(k)
            XCTAssertEqual(t[k], v)
        }
        XCTAssertEqual(seen, [1, 3, 5, 7, 9])
        XCTAssertEqual(try t.removeValue(forKey: 5), "five")
        XCTAssertNil(try t.removeValue(forKey: 5))
        XCTAssertEqual(t.count, 4)
        t.removeAll()
        XCTAssertTrue(t.isEmpty)
        XCTAssertEqual(Array(t).count, 0)
        XCTAssertEqual(t.table.count, 0)
    }

    func testSkipListMembers() throws {
        let s = SkipList<String, Int>()
        XCTAssertEqual(s.description, "SkipList(len=0)")
        XCTAssertNil(try s.insert("b", 2))
        // insert is insert-if-absent on a SkipList (1.1.0): the existing value stays.
        XCTAssertEqual(try s.insert("b", 20), 2)
        XCTAssertEqual(s["b"], 2)
        XCTAssertNil(try s.insertIfAbsent("a", 1))
        XCTAssertEqual(try s.insertIfAbsent("a", 10), 1)
        // updateValue replaces.
        XCTAssertEqual(try s.updateValue(200, forKey: "b"), 2)
        XCTAssertEqual(s["b"], 200)
        XCTAssertNil(try s.updateValue(3, forKey: "c"))
        XCTAssertEqual(s.count, 3)
        XCTAssertEqual(s.keys, ["a", "b", "c"])
        XCTAssertEqual(s.values, [1, 200, 3])
        XCTAssertEqual(s.first?.key, "a")
        XCTAssertEqual(s.last?.value, 3)
        XCTAssertEqual(try s.ceiling("ab")?.key, "b")
        XCTAssertEqual(try s.floor("ab")?.key, "a")
        XCTAssertEqual(try s.higher("b")?.key, "c")
        XCTAssertEqual(try s.lower("b")?.key, "a")
        XCTAssertEqual(try s.range("a", "c").map(\.key), ["a", "b"])
        XCTAssertEqual(s["b"...].map(\.key), ["b", "c"])
        XCTAssertTrue(try s.contains("c"))
        XCTAssertEqual(try s.removeValue(forKey: "c"), 3)
        XCTAssertFalse(try s.contains("c"))
        XCTAssertEqual(s.description, "SkipList(len=2)")
        s.removeAll()
        XCTAssertEqual(s.count, 0)
        XCTAssertNil(s.first)
        XCTAssertEqual(s.table.count, 0)
    }

    func testOrderIsValidated() throws {
        for bad in [-1, 0, 1] {
            assertThrowsVault(.invalidArgument(""), try CSBTree<Int64, Int>(order: bad), "order \(bad)")
        }
        assertThrowsVault(.invalidArgument(""), try CSBTree<Int64, Int>(order: Int(UInt32.max) + 1))
        let t = try CSBTree<Int64, Int>(order: 2)
        for i in 0..<500 { try t.insert(Int64((i * 7919) % 500), i) }
        XCTAssertEqual(t.keys, (0..<500).map(Int64.init))
        XCTAssertEqual(try CSBTree<Int64, Int>().order, 63)
    }

    func testFastPathIsUsed() throws {
        XCTAssertNotNil(OrderedFastPath.shared, "ord_fast_* not found in the loaded core")
        let t = try CSBTree<Int64, Int>()
        let s = SkipList<Data, Int>()
        XCTAssertNotNil(t.fast)
        XCTAssertNotEqual(t.fastId, 0)
        XCTAssertNotEqual(s.fastId, t.fastId)
        // The fast path and the UDL calls agree on the same entries.
        try t.insert(-5, 1)
        XCTAssertEqual(try t.coreGet(.int64(-5)), try t.store.get(key: OrderedKeyCodec.encode(Int64(-5))))
        try s.insert(Data(), 7) // an empty key through the pointer entry points
        XCTAssertEqual(s[Data()], 7)
        XCTAssertTrue(try s.contains(Data()))
        XCTAssertEqual(try s.removeValue(forKey: Data()), 7)
        let e = SkipList<String, Int>()
        try e.insert("", 1)
        XCTAssertEqual(e[""], 1)
        XCTAssertEqual(e.keys, [""])
    }

    // MARK: - Keys

    func testNaNIsRefused() throws {
        let maps: [OrderedMap<Double, Int>] = [try CSBTree<Double, Int>(), SkipList<Double, Int>()]
        for m in maps {
            try m.insert(1.5, 1)
            let nan = Double.nan
            assertThrowsVault(.invalidArgument(""), try m.insert(nan, 2), "\(m) insert")
            assertThrowsVault(.invalidArgument(""), try m.updateValue(2, forKey: nan), "\(m) updateValue")
            assertThrowsVault(.invalidArgument(""), try m.insertIfAbsent(nan, 2), "\(m) insertIfAbsent")
            assertThrowsVault(.invalidArgument(""), try m.value(forKey: nan), "\(m) value")
            assertThrowsVault(.invalidArgument(""), try m.contains(nan), "\(m) contains")
            assertThrowsVault(.invalidArgument(""), try m.removeValue(forKey: nan), "\(m) remove")
            assertThrowsVault(.invalidArgument(""), try m.ceiling(nan), "\(m) ceiling")
            assertThrowsVault(.invalidArgument(""), try m.floor(nan), "\(m) floor")
            assertThrowsVault(.invalidArgument(""), try m.higher(nan), "\(m) higher")
            assertThrowsVault(.invalidArgument(""), try m.lower(nan), "\(m) lower")
            assertThrowsVault(.invalidArgument(""), try m.range(nan, 2), "\(m) range")
            assertThrowsVault(.invalidArgument(""), try m.range(from: 0, to: nan, reverse: true), "\(m) reverse range")
            assertThrowsVault(.invalidArgument(""), try m.values(forKeys: [1.5, nan]), "\(m) values(forKeys:)")
            XCTAssertNil(m[nan])
            // (m[nan...] cannot be written: Swift's range operators trap on a NaN bound.)
            // A batch stops at the NaN: the items before it are applied.
            assertThrowsVault(.invalidArgument(""), try m.insert(contentsOf: [(2.5, 3), (nan, 4), (3.5, 5)]))
            XCTAssertEqual(m.keys, [1.5, 2.5])
            assertThrowsVault(.invalidArgument(""), try m.removeValues(forKeys: [2.5, nan, 1.5]))
            XCTAssertEqual(m.keys, [1.5])
            XCTAssertEqual(m.table.count, 1, "\(m): values of refused items are released")
        }
    }

    func testNegativeZeroEqualsZero() throws {
        let t = try CSBTree<Double, String>()
        try t.insert(-0.0, "negative")
        XCTAssertEqual(try t.insert(0.0, "positive"), "negative")
        XCTAssertEqual(t.count, 1)
        XCTAssertEqual(t[0.0], "positive")
        XCTAssertEqual(t[-0.0], "positive")
        // The key first stored stays.
        XCTAssertEqual(t.keys.first?.bitPattern, (-0.0).bitPattern)
        try t.insert(-.infinity, "-inf")
        try t.insert(.infinity, "inf")
        try t.insert(-.leastNonzeroMagnitude, "tiny-")
        try t.insert(.leastNonzeroMagnitude, "tiny+")
        XCTAssertEqual(t.values, ["-inf", "tiny-", "positive", "tiny+", "inf"])
        let s = SkipList<Double, String>()
        try s.insert(0.0, "a")
        XCTAssertEqual(try s.insert(-0.0, "b"), "a")
        XCTAssertTrue(try s.contains(-0.0))
    }

    func testDataKeysOrderUnsigned() throws {
        let keys: [Data] = [Data(), Data([0x00]), Data([0x00, 0x00]), Data([0x00, 0xFF]), Data([0x01]),
                            Data([0x7F]), Data([0x7F, 0xFF, 0xFF]), Data([0x80]), Data([0x80, 0x00]),
                            Data([0xFE]), Data([0xFF]), Data([0xFF, 0x00]), Data([0xFF, 0xFF])]
        for m in [try CSBTree<Data, Int>(order: 3), SkipList<Data, Int>()] as [OrderedMap<Data, Int>] {
            for i in keys.indices.reversed() { try m.insert(keys[i], i) }
            XCTAssertEqual(m.keys, keys)
            XCTAssertEqual(m.values, Array(keys.indices))
            XCTAssertEqual(try m.ceiling(Data([0x7F, 0x00]))?.key, Data([0x7F, 0xFF, 0xFF]))
            XCTAssertEqual(try m.range(Data([0x80]), Data([0xFF])).map(\.value), [7, 8, 9])
            XCTAssertEqual(try m.range(from: Data([0xFF]), startInclusive: false).map(\.key),
                           [Data([0xFF, 0x00]), Data([0xFF, 0xFF])])
            // A slice of a larger Data is a key like any other.
            let big = Data([9, 0xFE, 9])
            XCTAssertEqual(m[big[1..<2]], 9)
            XCTAssertEqual(try m.values(forKeys: [Data([0x80]), Data([0x42])]), [7, nil])
        }
    }

    func testStringKeysOrderByCodePoint() throws {
        // UTF-16 order would put U+10000 (D800 DC00) before U+E000 and U+FFFF; code points do not.
        let keys = ["", "A", "Z", "a", "a\u{0}", "ab", "z", "\u{7F}", "\u{80}", "é", "ÿ", "\u{100}", "中",
                    "\u{D7FF}", "\u{E000}", "\u{FFFD}", "\u{FFFF}", "\u{10000}", "😀", "😀a", "\u{10FFFF}"]
        XCTAssertEqual(keys, keys.sorted(by: KeyOrder.string))
        for m in [try CSBTree<String, Int>(order: 3), SkipList<String, Int>()] as [OrderedMap<String, Int>] {
            var rng = SplitMix64(7)
            for i in keys.indices.shuffled(using: &rng) { try m.insert(keys[i], i) }
            XCTAssertEqual(m.keys, keys)
            XCTAssertEqual(Array(m).map(\.value), Array(keys.indices))
            XCTAssertEqual(try m.ceiling("\u{F000}")?.key, "\u{FFFD}")
            XCTAssertEqual(try m.higher("\u{FFFF}")?.key, "\u{10000}")
            XCTAssertEqual(try m.lower("\u{10000}")?.key, "\u{FFFF}")
            XCTAssertEqual(try m.range("\u{FFFF}", "😀a").map(\.key), ["\u{FFFF}", "\u{10000}", "😀"])
            XCTAssertEqual(m["😀"], 18)
            XCTAssertEqual(try m.values(forKeys: ["中", "😀a", "nope"]), [12, 19, nil])
            // Many non-BMP keys in one page (the core's str page counts code points).
            let many = (0..<300).map { "😀\($0)中" + String(Character(Unicode.Scalar(UInt32(0x10000 + $0))!)) }
            try m.insert(contentsOf: zip(many, 1000..<1300))
            let got = try m.range(from: "😀", to: "😀\u{10FFFF}")
            XCTAssertEqual(got.map(\.key), ["😀"] + many.sorted(by: KeyOrder.string) + ["😀a"])
        }
    }

    func testOptionalValues() throws {
        let t = try CSBTree<Int64, String?>()
        try t.insert(1, nil)
        try t.insert(2, "two")
        XCTAssertTrue(try t.contains(1))
        XCTAssertEqual(try t.value(forKey: 1), .some(nil))
        XCTAssertEqual(try t.value(forKey: 3), .none)
        XCTAssertEqual(t.values, [nil, "two"])
        XCTAssertEqual(try t.removeValue(forKey: 1), .some(nil))
    }

    // MARK: - Batches and iteration

    func testBatches() throws {
        for tree in [true, false] {
            let m: OrderedMap<Int64, String> = tree ? try CSBTree<Int64, String>(order: 5) : SkipList<Int64, String>()
            let name = m.typeName
            XCTAssertEqual(try m.insert(contentsOf: [(Int64, String)]()), [])
            let first = try m.insert(contentsOf: zip([5, 1, 3], ["e", "a", "c"]))
            XCTAssertEqual(first, [nil, nil, nil], name)
            // A repeated key within a batch behaves as consecutive inserts.
            let second = try m.insert(contentsOf: [(key: Int64(3), value: "C"), (key: 7, value: "g"), (key: 7, value: "G")])
            if tree {
                XCTAssertEqual(second, ["c", nil, "g"], name)
                XCTAssertEqual(m.values, ["a", "C", "e", "G"], name)
            } else {
                XCTAssertEqual(second, ["c", nil, "g"], name) // the existing values, unchanged
                XCTAssertEqual(m.values, ["a", "c", "e", "g"], name)
            }
            XCTAssertEqual(m.table.count, 4, name)
            XCTAssertEqual(try m.values(forKeys: [7, 2, 1, 1]), [tree ? "G" : "g", nil, "a", "a"], name)
            XCTAssertEqual(try m.values(forKeys: []), [], name)
            XCTAssertEqual(try m.removeValues(forKeys: [1, 2, 1, 5]), ["a", nil, nil, "e"], name)
            XCTAssertEqual(m.keys, [3, 7], name)
            XCTAssertEqual(m.table.count, 2, name)
            // Re-inserting a range result.
            let copy: OrderedMap<Int64, String> = tree ? try CSBTree<Int64, String>() : SkipList<Int64, String>()
            try copy.insert(contentsOf: m.items)
            XCTAssertEqual(copy.keys, m.keys)
        }
    }

    func testIterationAcrossPages() throws {
        for m in [try CSBTree<Int64, Int>(order: 7), SkipList<Int64, Int>()] as [OrderedMap<Int64, Int>] {
            var empty = m.makeIterator()
            XCTAssertNil(empty.next())
            let n = 3 * Int(OrderedMap<Int64, Int>.pageSize) + 17
            var rng = SplitMix64(42)
            let keys = (0..<n).map { Int64($0) * 3 - 4000 }
            try m.insert(contentsOf: keys.shuffled(using: &rng).map { ($0, Int($0)) })
            XCTAssertEqual(m.count, n)
            var it = m.makeIterator()
            var got: [Int64] = []
            while let e = it.next() {
                XCTAssertEqual(Int64(e.value), e.key)
                got.append(e.key)
            }
            XCTAssertNil(it.next())
            XCTAssertEqual(got, keys)
            XCTAssertEqual(m.map(\.key), keys)
            XCTAssertEqual(m.reduce(0) { $0 + $1.value }, keys.reduce(0) { $0 + Int($1) })
            XCTAssertEqual(m.keys, keys)
            // Exactly one page's worth.
            let p = SkipList<Int64, Int>()
            try p.insert(contentsOf: (0..<Int(OrderedMap<Int64, Int>.pageSize)).map { (Int64($0), $0) })
            XCTAssertEqual(Array(p).count, Int(OrderedMap<Int64, Int>.pageSize))
        }
    }

    func testCodecRoundTrips() throws {
        func roundTrip<K: OrderedMapKey>(_ keys: [K]) throws -> [K] {
            let page = try OrderedKeyCodec.keyPage(keys)
            return try page.withUnsafeBytes { try OrderedKeyCodec.readKeyPage($0) }
        }
        XCTAssertEqual(try roundTrip([Int64.min, -1, 0, Int64.max]), [Int64.min, -1, 0, Int64.max])
        XCTAssertEqual(try roundTrip([-0.0, 1.5, .infinity]).map(\.bitPattern), [-0.0, 1.5, Double.infinity].map(\.bitPattern))
        XCTAssertEqual(try roundTrip(["", "a", "😀中"]), ["", "a", "😀中"])
        XCTAssertEqual(try roundTrip([Data(), Data([0xFF, 0])]), [Data(), Data([0xFF, 0])])
        XCTAssertEqual(try roundTrip([Int64]()), [])
        XCTAssertEqual(hex(try OrderedKeyCodec.encode(Int64(1))), "030100000000000000")
        XCTAssertEqual(hex(try OrderedKeyCodec.encode(-0.0)), "040000000000000080")
        XCTAssertEqual(hex(try OrderedKeyCodec.encode("é")), "0502000000C3A9")
        XCTAssertEqual(hex(try OrderedKeyCodec.encode(Data([0xFF]))), "0601000000FF")
        // A page of another key type is refused as corrupt, not trapped on.
        let ints = try OrderedKeyCodec.keyPage([Int64(1)])
        XCTAssertThrowsError(try ints.withUnsafeBytes { (raw) -> [String] in try OrderedKeyCodec.readKeyPage(raw) })
        XCTAssertThrowsError(try Data([1, 0, 0, 0, 1, 0, 0, 0, 1]).withUnsafeBytes { (raw) -> [Int64] in
            try OrderedKeyCodec.readKeyPage(raw)
        })
    }

    // MARK: - Values are released

    func testValuesAreReleased() throws {
        for tree in [true, false] {
            var weakRefs: [Int: () -> Token?] = [:]
            func token(_ i: Int) -> Token {
                let t = Token(i)
                weak var w = t
                weakRefs[i] = { w }
                return t
            }
            func alive(_ i: Int) -> Bool { weakRefs[i]!() != nil }
            var m: OrderedMap<Int64, Token>? = tree ? try CSBTree<Int64, Token>(order: 3) : SkipList<Int64, Token>()
            let name = tree ? "CSBTree" : "SkipList"
            try m!.insert(1, token(1))
            try m!.insert(2, token(2))
            XCTAssertTrue(alive(1) && alive(2), name)
            // remove
            _ = try m!.removeValue(forKey: 1)
            XCTAssertFalse(alive(1), "\(name): removed value still alive")
            // insert of an existing key: the CSBTree releases the old value, the SkipList the new one
            _ = try m!.insert(2, token(3))
            XCTAssertEqual(alive(2), !tree, name)
            XCTAssertEqual(alive(3), tree, name)
            // updateValue replaces in both
            _ = try m!.updateValue(token(4), forKey: 2)
            XCTAssertFalse(alive(2) || alive(3), name)
            XCTAssertTrue(alive(4), name)
            // insertIfAbsent of an existing key releases the new value
            _ = try m!.insertIfAbsent(2, token(5))
            XCTAssertFalse(alive(5), name)
            // batches
            _ = try m!.insert(contentsOf: [(Int64(10), token(10)), (11, token(11)), (10, token(12))])
            XCTAssertTrue(alive(11), name)
            XCTAssertEqual(alive(10), !tree, name)
            XCTAssertEqual(alive(12), tree, name)
            _ = try m!.removeValues(forKeys: [11, 99])
            XCTAssertFalse(alive(11), name)
            // removeAll
            m!.removeAll()
            XCTAssertFalse(alive(4) || alive(10) || alive(12), name)
            XCTAssertEqual(m!.table.count, 0, name)
            // releasing the map releases its values
            try m!.insert(20, token(20))
            try m!.insert(21, token(21))
            _ = try m!.insert(contentsOf: [(Int64(22), token(22))])
            XCTAssertTrue(alive(20) && alive(22), name)
            m = nil
            XCTAssertFalse(alive(20) || alive(21) || alive(22), "\(name): values outlive their map")
        }
    }

    // MARK: - Random operations against a reference model

    func testRandomOpsInt64() throws {
        let gen: (inout SplitMix64) -> Int64 = { rng in
            switch rng.below(50) {
            case 0: return .min
            case 1: return .max
            case 2: return 0
            default:
                let i = UInt64(rng.below(2500))
                return Int64(bitPattern: (i &* 7_378_697_629_483_820) ^ (1 << 63))
            }
        }
        for tree in [true, false] {
            try randomOps(tree: tree, seed: 1, gen: gen, less: KeyOrder.int64, same: KeyOrder.sameInt64)
        }
    }

    func testRandomOpsDouble() throws {
        let specials: [Double] = [-.infinity, -1e300, -2.5, -0.0, 0.0, .leastNonzeroMagnitude, 1e300, .infinity]
        let gen: (inout SplitMix64) -> Double = { rng in
            if rng.below(20) == 0 { return specials[rng.below(specials.count)] }
            return Double(rng.below(2500) - 1250) / 8
        }
        for tree in [true, false] {
            try randomOps(tree: tree, seed: 2, gen: gen, less: KeyOrder.double, same: KeyOrder.sameDouble)
        }
    }

    func testRandomOpsString() throws {
        let alphabet: [String] = ["\u{0}", "A", "a", "b", "z", "é", "ÿ", "中", "\u{E000}", "\u{FFFF}", "\u{10000}", "😀"]
        let gen: (inout SplitMix64) -> String = { rng in
            (0..<rng.below(4)).map { _ in alphabet[rng.below(alphabet.count)] }.joined()
        }
        for tree in [true, false] {
            try randomOps(tree: tree, seed: 3, gen: gen, less: KeyOrder.string, same: KeyOrder.sameString)
        }
    }

    func testRandomOpsData() throws {
        let bytes: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]
        let gen: (inout SplitMix64) -> Data = { rng in
            Data((0..<rng.below(5)).map { _ in bytes[rng.below(bytes.count)] })
        }
        for tree in [true, false] {
            try randomOps(tree: tree, seed: 4, gen: gen, less: KeyOrder.data, same: KeyOrder.sameData)
        }
    }

    /// 20,000 random operations of every kind on a map and on the reference model, compared after
    /// each; the whole contents (and the value table) every 1,000.
    private func randomOps<K: OrderedMapKey>(tree: Bool, seed: UInt64, ops: Int = 20_000,
                                             gen: (inout SplitMix64) -> K, less: @escaping (K, K) -> Bool,
                                             same: (K, K) -> Bool,
                                             file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SplitMix64(seed &* 1_000 &+ (tree ? 1 : 2))
        let map: OrderedMap<K, Int> = tree ? try CSBTree<K, Int>(order: 3 + Int(seed % 4)) : SkipList<K, Int>()
        var ref = ReferenceMap<K, Int>(less: less)
        let name = "\(map.typeName)<\(K.self)>"
        var failures = 0
        var largest = 0

        func check(_ ok: Bool, _ what: @autoclosure () -> String, _ i: Int) {
            if !ok {
                failures += 1
                if failures <= 20 { XCTFail("\(name) op \(i): \(what())", file: file, line: line) }
            }
        }
        func checkEntry(_ got: (key: K, value: Int)?, _ want: (K, Int)?, _ what: String, _ i: Int) {
            switch (got, want) {
            case (nil, nil): break
            case let (g?, w?): check(same(g.key, w.0) && g.value == w.1, "\(what): got \(g), want \(w)", i)
            default: check(false, "\(what): got \(String(describing: got)), want \(String(describing: want))", i)
            }
        }
        func checkEntries(_ got: [(key: K, value: Int)], _ want: [(K, Int)], _ what: String, _ i: Int) {
            let ok = got.count == want.count && zip(got, want).allSatisfy { same($0.key, $1.0) && $0.value == $1.1 }
            check(ok, "\(what): got \(got.count) entries \(got.prefix(5)), want \(want.count) \(want.prefix(5))", i)
        }

        for i in 0..<ops {
            let k = gen(&rng)
            switch rng.below(100) {
            case 0..<22:
                let got = try map.insert(k, i)
                let want = tree ? ref.replace(k, i) : ref.insertIfAbsent(k, i)
                check(got == want, "insert \(k): got \(String(describing: got)), want \(String(describing: want))", i)
            case 22..<28:
                let got = try map.updateValue(i, forKey: k)
                let want: Int?
                if tree {
                    want = ref.replace(k, i)
                } else {
                    want = ref.remove(k) // remove + insert: the new key is stored
                    _ = ref.replace(k, i)
                }
                check(got == want, "updateValue \(k): got \(String(describing: got)), want \(String(describing: want))", i)
            case 28..<33:
                let got = try map.insertIfAbsent(k, i)
                let want = ref.insertIfAbsent(k, i)
                check(got == want, "insertIfAbsent \(k)", i)
            case 33..<47:
                let got = try map.removeValue(forKey: k)
                check(got == ref.remove(k), "removeValue \(k)", i)
            case 47..<55:
                let want = ref.value(k)
                check(try map.value(forKey: k) == want, "value(forKey: \(k))", i)
                check(map[k] == want, "subscript \(k)", i)
                check(try map.contains(k) == (want != nil), "contains \(k)", i)
            case 55..<65:
                checkEntry(try map.ceiling(k), ref.ceiling(k), "ceiling \(k)", i)
                checkEntry(try map.floor(k), ref.floor(k), "floor \(k)", i)
                checkEntry(try map.higher(k), ref.higher(k), "higher \(k)", i)
                checkEntry(try map.lower(k), ref.lower(k), "lower \(k)", i)
            case 65..<72:
                let k2 = gen(&rng)
                let (a, b) = less(k2, k) ? (k2, k) : (k, k2)
                checkEntries(try map.range(a, b), ref.range(from: a, startInclusive: true, to: b, endInclusive: false,
                                                            reverse: false, limit: 0), "range \(a) \(b)", i)
                let si = rng.below(2) == 0, ei = rng.below(2) == 0, rev = rng.below(2) == 0
                let lim = rng.below(3) == 0 ? 0 : rng.below(20) + 1
                let lo: K? = rng.below(5) == 0 ? nil : a
                let hi: K? = rng.below(5) == 0 ? nil : b
                checkEntries(try map.range(from: lo, startInclusive: si, to: hi, endInclusive: ei, reverse: rev, limit: lim),
                             ref.range(from: lo, startInclusive: si, to: hi, endInclusive: ei, reverse: rev, limit: lim),
                             "range(from: \(String(describing: lo)), \(si), to: \(String(describing: hi)), \(ei), reverse: \(rev), limit: \(lim))", i)
                check(try map.count(from: lo, startInclusive: si, to: hi, endInclusive: ei)
                          == ref.range(from: lo, startInclusive: si, to: hi, endInclusive: ei, reverse: false, limit: 0).count,
                      "count(from:to:)", i)
            case 72..<77:
                let n = rng.below(20)
                let keys = (0..<n).map { _ in gen(&rng) }
                let got = try map.insert(contentsOf: keys.enumerated().map { (key: $1, value: i * 100 + $0) })
                let want = keys.enumerated().map { tree ? ref.replace($1, i * 100 + $0) : ref.insertIfAbsent($1, i * 100 + $0) }
                check(got == want, "insert(contentsOf:) of \(n)", i)
            case 77..<81:
                let keys = (0..<rng.below(20)).map { _ in gen(&rng) }
                check(try map.values(forKeys: keys) == keys.map { ref.value($0) }, "values(forKeys:)", i)
            case 81..<85:
                let keys = (0..<rng.below(10)).map { _ in gen(&rng) }
                let got = try map.removeValues(forKeys: keys)
                check(got == keys.map { ref.remove($0) }, "removeValues(forKeys:)", i)
            case 85:
                if rng.below(20) == 0 {
                    map.removeAll()
                    ref = ReferenceMap<K, Int>(less: less)
                }
            default:
                check(map.count == ref.count, "count \(map.count) != \(ref.count)", i)
                check(map.isEmpty == (ref.count == 0), "isEmpty", i)
                checkEntry(map.first, ref.entry(0), "first", i)
                checkEntry(map.last, ref.entry(ref.count - 1), "last", i)
            }
            largest = max(largest, ref.count)
            if i % 1000 == 999 {
                let all = ref.range(from: nil, startInclusive: true, to: nil, endInclusive: false, reverse: false, limit: 0)
                checkEntries(Array(map), all, "iteration", i)
                checkEntries(map.items, all, "items", i)
                let ks = map.keys
                check(ks.count == ref.count && zip(ks, ref.keys).allSatisfy { same($0, $1) }, "keys", i)
                check(map.values == ref.values, "values", i)
                check(map.table.count == ref.count, "value table holds \(map.table.count) for \(ref.count) entries", i)
            }
        }
        XCTAssertEqual(failures, 0, "\(name): \(failures) mismatches", file: file, line: line)
        XCTAssertGreaterThan(largest, 300, "\(name): the key space is too sparse to test much", file: file, line: line)
    }

    // MARK: - Threads

    func testSkipListEightThreads() throws {
        let map = SkipList<Int64, Int64>()
        let threads = 8
        let opsPerThread = 6_000
        let sharedBase: Int64 = 1_000_000
        let lock = NSLock()
        var problems: [String] = []
        var finals = [[Int64: Int64]](repeating: [:], count: threads)
        var iterations = 0
        func report(_ s: String) {
            lock.lock()
            if problems.count < 20 { problems.append(s) }
            lock.unlock()
        }
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var rng = SplitMix64(UInt64(100 + t))
            var mine: [Int64: Int64] = [:] // this thread's own keys (k % threads == t): exact expectations
            var sortedScans = 0
            do {
                for i in 0..<opsPerThread {
                    let k = Int64(t + threads * rng.below(600))
                    let v = Int64(t * 10_000_000 + i)
                    switch rng.below(20) {
                    case 0..<7:
                        let existing = try map.insert(k, v)
                        if existing != mine[k] { report("t\(t) insert \(k): \(String(describing: existing)) vs \(String(describing: mine[k]))") }
                        if existing == nil { mine[k] = v }
                    case 7..<10:
                        let old = try map.updateValue(v, forKey: k)
                        if old != mine[k] { report("t\(t) updateValue \(k): \(String(describing: old)) vs \(String(describing: mine[k]))") }
                        mine[k] = v
                    case 10..<15:
                        let old = try map.removeValue(forKey: k)
                        if old != mine[k] { report("t\(t) remove \(k): \(String(describing: old)) vs \(String(describing: mine[k]))") }
                        mine[k] = nil
                    case 15..<17:
                        let got = try map.value(forKey: k)
                        if got != mine[k] { report("t\(t) get \(k): \(String(describing: got)) vs \(String(describing: mine[k]))") }
                    case 17:
                        let ks = try map.range(from: k, limit: 100).map(\.key)
                        if zip(ks, ks.dropFirst()).contains(where: { $0 >= $1 }) { report("t\(t): range not sorted") }
                    case 18:
                        if i % 10 == 0 {
                            var prev: Int64?
                            var n = 0
                            for (key, _) in map {
                                if let p = prev, p >= key { report("t\(t): iteration not sorted (\(p) then \(key))") }
                                prev = key
                                n += 1
                            }
                            sortedScans += 1
                        }
                    default:
                        let batch = (0..<8).map { _ in Int64(t + threads * rng.below(600)) }
                        let got = try map.values(forKeys: batch)
                        for (j, key) in batch.enumerated() where got[j] != mine[key] {
                            report("t\(t) values(forKeys:) \(key): \(String(describing: got[j])) vs \(String(describing: mine[key]))")
                        }
                    }
                    // Keys every thread fights over.
                    let s = sharedBase + Int64(rng.below(16))
                    if rng.below(2) == 0 {
                        if let e = try map.insertIfAbsent(s, -1), e != -1 { report("shared \(s) holds \(e)") }
                    } else {
                        if let e = try map.removeValue(forKey: s), e != -1 { report("shared \(s) held \(e)") }
                    }
                }
            } catch {
                report("t\(t): \(error)")
            }
            lock.lock()
            finals[t] = mine
            iterations += sortedScans
            lock.unlock()
        }
        XCTAssertEqual(problems, [])
        XCTAssertGreaterThan(iterations, 0)
        let all = Array(map)
        XCTAssertTrue(zip(all, all.dropFirst()).allSatisfy { $0.key < $1.key }, "final iteration not strictly sorted")
        var want: [Int64: Int64] = [:]
        for f in finals { want.merge(f) { a, _ in a } }
        let own = all.filter { $0.key < sharedBase }
        XCTAssertEqual(own.count, want.count, "lost or extra keys")
        for (k, v) in own where want[k] != v {
            XCTFail("key \(k): \(v) vs \(String(describing: want[k]))")
        }
        XCTAssertTrue(all.filter { $0.key >= sharedBase }.allSatisfy { $0.key < sharedBase + 16 && $0.value == -1 })
        XCTAssertEqual(map.count, all.count)
        XCTAssertEqual(map.table.count, all.count, "the value table leaks or lost values")
    }

    func testCSBTreeFromManyThreads() throws {
        let tree = try CSBTree<String, Int>(order: 8)
        let lock = NSLock()
        var problems: [String] = []
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            do {
                for i in 0..<2_000 {
                    let k = "t\(t)-\(i % 300)"
                    try tree.insert(k, i)
                    if tree[k] != i { throw KohakuVaultError.internal("\(k) lost its value") }
                    if i % 3 == 0 { _ = try tree.removeValue(forKey: k) }
                    if i % 500 == 0 {
                        let ks = tree.keys
                        if ks != ks.sorted(by: KeyOrder.string) { throw KohakuVaultError.internal("keys not sorted") }
                    }
                    _ = try tree.insert(contentsOf: [("shared-\(i % 7)", i)])
                }
            } catch {
                lock.lock()
                problems.append("\(t): \(error)")
                lock.unlock()
            }
        }
        XCTAssertEqual(problems, [])
        XCTAssertEqual(tree.table.count, tree.count)
        XCTAssertEqual(tree.keys.filter { $0.hasPrefix("shared-") }.count, 7)
    }
}
