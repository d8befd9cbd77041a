import Foundation
import XCTest
@testable import KohakuVault

/// A deterministic generator (SplitMix64) for reproducible test data.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Failures collected from several threads.
final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []

    func add(_ s: String) {
        lock.lock()
        stored.append(s)
        lock.unlock()
    }

    var items: [String] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}

/// The metric/type pairs the core accepts.
let vectorPairs: [(VectorMetric, VectorType)] = [
    (.cosine, .f32), (.l2, .f32), (.l1, .f32), (.l2, .int8), (.l1, .int8), (.hamming, .bit),
]

/// A fresh vector vault in a temporary directory.
func makeVectorVault(_ test: XCTestCase, dimensions: Int = 8, metric: VectorMetric = .cosine,
                     type: VectorType = .f32, table: String = "vec_kvault") throws -> (VectorKVault, URL) {
    let url = try makeTempDir(test).appendingPathComponent("vec.db")
    return (try VectorKVault(path: url.path, table: table, dimensions: dimensions, metric: metric, type: type), url)
}

/// A random stored row of `type` with `dims` elements.
func randomRow(_ type: VectorType, _ dims: Int, _ rng: inout SeededRNG) -> Data {
    switch type {
    case .f32: return VectorRows.row((0..<dims).map { _ in Float.random(in: -1...1, using: &rng) })
    case .int8: return VectorRows.row((0..<dims).map { _ in Int8.random(in: .min ... .max, using: &rng) })
    case .bit: return Data((0..<(dims / 8)).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }
}

/// The distance of two rows, computed here in Double (the test's own reference, not the core's).
func referenceDistance(_ metric: VectorMetric, _ type: VectorType, _ a: Data, _ b: Data) -> Double {
    let x: [Double], y: [Double]
    switch type {
    case .f32:
        x = VectorRows.floats(a).map(Double.init)
        y = VectorRows.floats(b).map(Double.init)
    case .int8:
        x = VectorRows.int8s(a).map(Double.init)
        y = VectorRows.int8s(b).map(Double.init)
    case .bit:
        return Double(zip(a, b).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount })
    }
    switch metric {
    case .cosine:
        let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
        let nx = x.reduce(0) { $0 + $1 * $1 }.squareRoot(), ny = y.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return 1 - dot / (nx * ny)
    case .l2: return zip(x, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    case .l1: return zip(x, y).reduce(0) { $0 + abs($1.0 - $1.1) }
    case .hamming: return Double(zip(a, b).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount })
    }
}

/// The brute-force top `k` of `query` among `rows` (id → row), ordered by (distance, id).
func bruteForce(_ metric: VectorMetric, _ type: VectorType, _ rows: [(Int64, Data)], _ query: Data,
                k: Int) -> [(id: Int64, distance: Double)] {
    let all = rows.map { (id: $0.0, distance: referenceDistance(metric, type, query, $0.1)) }
    return Array(all.sorted { $0.distance != $1.distance ? $0.distance < $1.distance : $0.id < $1.id }.prefix(k))
}

/// Checks the hits against the brute-force answer: recall 1.0 (the same id set), distances within
/// tolerance, nearest first; for exact integer distances (int8, bit) the exact order, ties by id.
func assertMatchesReference(_ hits: [VectorHit], _ ref: [(id: Int64, distance: Double)], _ metric: VectorMetric,
                            _ type: VectorType, _ ctx: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(hits.count, ref.count, "\(ctx): hit count", file: file, line: line)
    let recall = Double(Set(hits.map(\.id)).intersection(ref.map(\.id)).count) / Double(max(1, ref.count))
    XCTAssertEqual(recall, 1.0, "\(ctx): recall@\(ref.count)", file: file, line: line)
    if type != .f32 {
        XCTAssertEqual(hits.map(\.id), ref.map(\.id), "\(ctx): order (ties by id)", file: file, line: line)
    }
    let refById = Dictionary(uniqueKeysWithValues: ref.map { ($0.id, $0.distance) })
    for h in hits {
        guard let want = refById[h.id] else { continue }
        XCTAssertEqual(Double(h.distance), want, accuracy: 1e-4 * max(1, abs(want)),
                       "\(ctx): distance of \(h.id)", file: file, line: line)
    }
    for (a, b) in zip(hits, hits.dropFirst()) {
        XCTAssertTrue(a.distance < b.distance || (a.distance == b.distance && a.id < b.id),
                      "\(ctx): hits not ordered: \(a) then \(b)", file: file, line: line)
    }
}

/// VectorKVault end to end: every metric/type pair against a brute-force reference, filters,
/// persistence, updates, deletes, compaction, bad input, closed vaults, threads and async.
final class VectorKVaultTests: XCTestCase {
    // MARK: - Every pair, against brute force

    func testEveryMetricAndTypeAgainstBruteForce() throws {
        for (metric, type) in vectorPairs {
            let dims = type == .bit ? 64 : 24
            let ctx = "\(metric)/\(type)"
            let (v, _) = try makeVectorVault(self, dimensions: dims, metric: metric, type: type)
            defer { try? v.close() }
            XCTAssertEqual(v.metric, metric, ctx)
            XCTAssertEqual(v.vectorType, type, ctx)
            XCTAssertEqual(v.dimensions, dims, ctx)
            XCTAssertEqual(v.rowBytes, type == .f32 ? dims * 4 : type == .int8 ? dims : dims / 8, ctx)

            var rng = SeededRNG(seed: 42)
            let n = 400
            let rows = (0..<n).map { _ in randomRow(type, dims, &rng) }
            // half one by one, half in one batch
            var ids: [Int64] = []
            for i in 0..<(n / 2) {
                ids.append(try v.insert(rows[i], value: "v\(i)", metadata: ["i": .int(Int64(i))]))
            }
            ids += try v.insert(contentsOf: Array(rows[(n / 2)...]), values: (n / 2..<n).map { "v\($0)" },
                                metadata: (n / 2..<n).map { ["i": .int(Int64($0))] })
            XCTAssertEqual(ids, (1...Int64(n)).map { $0 }, "\(ctx): ids are 1...n")
            XCTAssertEqual(try v.count(), n, ctx)
            XCTAssertEqual(try v.ids(), ids, ctx)
            let stored = Array(zip(ids, rows))

            let queries = (0..<12).map { _ in randomRow(type, dims, &rng) }
            var single: [[VectorHit]] = []
            for (qi, q) in queries.enumerated() {
                let hits = try v.search(q, k: 10)
                assertMatchesReference(hits, bruteForce(metric, type, stored, q, k: 10), metric, type, "\(ctx) q\(qi)")
                for h in hits { XCTAssertEqual(try h.value.string(), "v\(h.id - 1)", ctx) }
                single.append(hits)
                XCTAssertEqual(try v.get(q), hits[0].value, "\(ctx): get is the nearest value")
            }
            XCTAssertEqual(try v.search(many: queries, k: 10), single, "\(ctx): search(many:) = one search per query")
            if type == .f32 {
                let floats = queries.map(VectorRows.floats)
                XCTAssertEqual(try v.search(floats[0], k: 10), single[0], ctx)
                XCTAssertEqual(try v.search(many: floats, k: 10), single, ctx)
            }

            // a row's own vector finds it first (distance 0)
            let probe = try v.search(rows[7], k: 1)
            XCTAssertEqual(probe.first?.id, 8, ctx)
            XCTAssertEqual(Double(probe.first?.distance ?? 1), 0, accuracy: 1e-5, ctx)

            // records: the stored row (normalised for cosine), the value and the metadata
            let r = try v.record(id: 8)
            XCTAssertEqual(r.id, 8)
            XCTAssertEqual(r.type, type)
            XCTAssertEqual(try r.value.string(), "v7", ctx)
            XCTAssertEqual(r.metadata, ["i": .int(7)], ctx)
            XCTAssertEqual(r.vector.count, v.rowBytes, ctx)
            if metric == .cosine {
                let raw = VectorRows.floats(rows[7]), norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let got = try XCTUnwrap(r.floats)
                for (g, w) in zip(got, raw) { XCTAssertEqual(g, w / norm, accuracy: 1e-5, ctx) }
            } else {
                XCTAssertEqual(r.vector, rows[7], ctx)
            }
            XCTAssertEqual(r.floats == nil, type != .f32, ctx)
            XCTAssertEqual(r.int8s == nil, type != .int8, ctx)
            XCTAssertEqual(r.bits == nil, type != .bit, ctx)

            // k larger than the table gives every row; k = 0 gives none
            XCTAssertEqual(try v.search(queries[0], k: n + 50).count, n, ctx)
            XCTAssertEqual(try v.search(queries[0], k: 0), [], ctx)
            XCTAssertEqual(try v.search(many: queries, k: 0), Array(repeating: [], count: queries.count), ctx)

            let info = try v.info()
            XCTAssertEqual(info.table, "vec_kvault")
            XCTAssertEqual(info.dimensions, dims)
            XCTAssertEqual(info.count, n)
            XCTAssertEqual(info.rowBytes, v.rowBytes)
            XCTAssertEqual(info.deletedSlots, 0)
            XCTAssertEqual(info.metric, ["cosine": "cosine", "l2": "L2", "l1": "L1", "hamming": "hamming"][metric.rawValue])
            XCTAssertEqual(info.vectorType, ["f32": "float32", "int8": "int8", "bit": "bit"][type.rawValue])
        }
    }

    // MARK: - Filters

    func testFiltersReturnKHitsWheneverKRowsMatch() throws {
        let dims = 16
        let (v, _) = try makeVectorVault(self, dimensions: dims, metric: .l2)
        defer { try? v.close() }
        var rng = SeededRNG(seed: 7)
        let n = 500
        let rows = (0..<n).map { _ in randomRow(.f32, dims, &rng) }
        let meta: [[String: PlainValue]?] = (0..<n).map { i -> [String: PlainValue]? in
            if i % 25 == 24 { return nil }
            let lang: PlainValue = i % 2 == 0 ? "en" : "fr"
            var m: [String: PlainValue] = ["lang": lang]
            m["group"] = .int(Int64(i % 10))
            m["even"] = .bool(i % 2 == 0)
            m["score"] = .double(Double(i % 4) / 2)
            return m
        }
        let ids = try v.insert(contentsOf: rows, values: (0..<n).map { "r\($0)" }, metadata: meta)
        let all = Array(zip(ids, rows))
        func matching(_ pred: (Int) -> Bool) -> [(Int64, Data)] {
            (0..<n).filter(pred).map { (ids[$0], rows[$0]) }
        }
        let q = randomRow(.f32, dims, &rng)

        // metadata equality: 10% of the rows match; the nearest rows overall mostly do not
        let g3 = try v.search(q, k: 10, filter: .metadata(["group": 3]))
        assertMatchesReference(g3, bruteForce(.l2, .f32, matching { $0 % 10 == 3 && $0 % 25 != 24 }, q, k: 10),
                               .l2, .f32, "group 3")
        XCTAssertEqual(g3.count, 10)
        for h in g3 { XCTAssertEqual(try v.record(id: h.id).metadata?["group"], .int(3)) }

        let fr = try v.search(q, k: 30, filter: .metadata(["lang": "fr", "group": 5]))
        assertMatchesReference(fr, bruteForce(.l2, .f32, matching { $0 % 10 == 5 && $0 % 25 != 24 }, q, k: 30),
                               .l2, .f32, "lang fr, group 5")
        XCTAssertEqual(try v.search(q, k: 10, filter: .metadata(["lang": "fr", "group": 4])), [],
                       "contradictory fields match nothing")
        let even = try v.search(q, k: 12, filter: .metadata(["even": true]))
        assertMatchesReference(even, bruteForce(.l2, .f32, matching { $0 % 2 == 0 && $0 % 25 != 24 }, q, k: 12),
                               .l2, .f32, "bool field")
        let score = try v.search(q, k: 12, filter: .metadata(["score": 0.5]))
        assertMatchesReference(score, bruteForce(.l2, .f32, matching { $0 % 4 == 1 && $0 % 25 != 24 }, q, k: 12),
                               .l2, .f32, "float field")
        XCTAssertEqual(try v.search(q, k: 5, filter: .metadata(["group": 99])), [])
        XCTAssertEqual(try v.search(q, k: 5, filter: .metadata(["nope": 1])), [])

        // ids: more than k given -> k hits among them; fewer -> all of them
        let some = stride(from: 3, to: n, by: 17).map { ids[$0] }
        let byIds = try v.search(q, k: 10, filter: .ids(some))
        assertMatchesReference(byIds, bruteForce(.l2, .f32, all.filter { some.contains($0.0) }, q, k: 10),
                               .l2, .f32, "ids")
        let few: [Int64] = [ids[1], ids[400], ids[250]]
        let fewHits = try v.search(q, k: 10, filter: .ids(few))
        XCTAssertEqual(Set(fewHits.map(\.id)), Set(few))
        XCTAssertEqual(try v.search(q, k: 10, filter: .ids([])), [])
        XCTAssertEqual(try v.search(q, k: 10, filter: .ids([999_999])), [])

        // both at once
        let both = try v.search(q, k: 10, filter: VectorFilter(ids: Array(ids[0..<200]), metadataEquals: ["group": 2]))
        assertMatchesReference(both, bruteForce(.l2, .f32, matching { $0 < 200 && $0 % 10 == 2 && $0 % 25 != 24 }, q, k: 10),
                               .l2, .f32, "ids and metadata")

        // filtered batch search and get
        let many = try v.search(many: [q, rows[0]], k: 4, filter: .metadata(["group": 0]))
        XCTAssertEqual(many.count, 2)
        XCTAssertEqual(many[0], try v.search(q, k: 4, filter: .metadata(["group": 0])))
        XCTAssertEqual(many[1].first?.id, ids[0])
        XCTAssertEqual(try v.get(q, filter: .metadata(["group": 3])), g3[0].value)
        assertThrowsVault(.notFound(""), try v.get(q, filter: .ids([])))
    }

    // MARK: - Values and metadata

    func testValuesAndMetadataRoundTrip() throws {
        let (v, _) = try makeVectorVault(self, dimensions: 4, metric: .l2)
        defer { try? v.close() }
        let plain: PlainValue = ["a": [1, 2, "x"], "b": nil]
        let values: [any VaultValueConvertible] = [
            "text", Data([0, 1, 2]), Int64(-7), 2.5, true, plain, TaggedValue(kind: .json, payload: Data("[1]".utf8)),
        ]
        var ids: [Int64] = []
        for (i, value) in values.enumerated() {
            ids.append(try v.insert([Float(i), 0, 0, 0], value: TaggedValue(kind: .raw, payload: Data()),
                                    metadata: ["k": .int(Int64(i)), "nested": ["x": [1, 2]]]))
            try v.update(ids[i], value: value)
        }
        XCTAssertEqual(try v.record(id: ids[0]).value.string(), "text")
        XCTAssertEqual(try v.record(id: ids[1]).value.data(), Data([0, 1, 2]))
        XCTAssertEqual(try v.record(id: ids[2]).value.int64(), -7)
        XCTAssertEqual(try v.record(id: ids[3]).value.double(), 2.5)
        XCTAssertEqual(try v.record(id: ids[4]).value.bool(), true)
        XCTAssertEqual(try v.record(id: ids[5]).value.plain().normalized, plain.normalized)
        XCTAssertEqual(try v.record(id: ids[6]).value, TaggedValue(kind: .json, payload: Data("[1]".utf8)))
        XCTAssertEqual(try v.record(id: ids[6]).metadata?["nested"], ["x": [1, 2]])

        // the same values through a batch, and the hits carry them
        let batch = try v.insert(contentsOf: (0..<values.count).map { [Float($0) + 0.25, 1, 0, 0] }, values: values)
        let hits = try v.search([0, 1, 0, 0], k: values.count, filter: .ids(batch))
        XCTAssertEqual(hits.map(\.id), batch)
        for (h, id) in zip(hits, ids) { XCTAssertEqual(h.value, try v.record(id: id).value) }

        // decoded: false gives the stored bytes (with the value header for typed values)
        let asStored = try v.record(id: ids[0], decoded: false).value
        XCTAssertEqual(asStored.kindCode, ValueKind.raw.rawValue)
        XCTAssertNotEqual(asStored.payload, Data("text".utf8), "a typed value is stored with its header")
        XCTAssertEqual(try v.record(id: ids[1], decoded: false).value, TaggedValue(kind: .raw, payload: Data([0, 1, 2])))
        let storedHit = try v.search([0, 0, 0, 0], k: 1, decoded: false)
        XCTAssertEqual(storedHit.first?.value, asStored)

        // headers off: the payload is stored bare
        v.headersEnabled = false
        XCTAssertFalse(v.headersEnabled)
        let bare = try v.insert([9, 9, 9, 9], value: "bare")
        XCTAssertEqual(try v.record(id: bare, decoded: false).value.payload, Data("bare".utf8))
        v.headersEnabled = true

        // rows without metadata, and an empty map
        let none = try v.insert([5, 5, 5, 5], value: "none")
        XCTAssertNil(try v.record(id: none).metadata)
        let empty = try v.insert([6, 5, 5, 5], value: "empty", metadata: [:])
        XCTAssertEqual(try v.record(id: empty).metadata, [:])
        // metadata replaced by update, the vector and value kept
        try v.update(none, metadata: ["tag": "new"])
        XCTAssertEqual(try v.record(id: none).metadata, ["tag": "new"])
        XCTAssertEqual(try v.record(id: none).value.string(), "none")
        XCTAssertEqual(try v.search([5, 5, 5, 5], k: 1).first?.id, none)
        XCTAssertEqual(try v.search([5, 5, 5, 5], k: 3, filter: .metadata(["tag": "new"])).map(\.id), [none])
    }

    // MARK: - Persistence

    func testPersistenceReopenAndMismatch() throws {
        let (v, url) = try makeVectorVault(self, dimensions: 8, metric: .l1, table: "emb")
        var rng = SeededRNG(seed: 3)
        let rows = (0..<50).map { _ in randomRow(.f32, 8, &rng) }
        let ids = try v.insert(contentsOf: rows, values: (0..<50).map { "p\($0)" },
                               metadata: (0..<50).map { ["n": .int(Int64($0))] })
        let q = randomRow(.f32, 8, &rng)
        let before = try v.search(q, k: 7)
        XCTAssertTrue(try v.delete(ids[49]))
        try v.checkpoint()
        try v.close()
        XCTAssertTrue(v.isClosed)

        let again = try VectorKVault(path: url.path, table: "emb", dimensions: 8, metric: .l1)
        XCTAssertEqual(try again.count(), 49)
        XCTAssertEqual(try again.ids(), Array(ids[0..<49]))
        let after = try again.search(q, k: 7)
        let kept = before.filter { $0.id != ids[49] }
        XCTAssertEqual(Array(after.prefix(kept.count)), kept, "the same answers, less the deleted row")
        assertMatchesReference(try again.search(q, k: 7), bruteForce(.l1, .f32, Array(zip(ids, rows).prefix(49)), q, k: 7),
                               .l1, .f32, "after reopen")
        XCTAssertEqual(try again.record(id: ids[3]).vector, rows[3])
        XCTAssertEqual(try again.record(id: ids[3]).metadata, ["n": 3])
        // ids are never reused, also after a reopen
        let next = try again.insert(rows[0], value: "next")
        XCTAssertEqual(next, ids[49] + 1)
        try again.close()

        // other dimensions, metric or type: a clear error, and the table is unchanged
        assertThrowsVault(.invalidArgument(""), try VectorKVault(path: url.path, table: "emb", dimensions: 16, metric: .l1))
        assertThrowsVault(.invalidArgument(""), try VectorKVault(path: url.path, table: "emb", dimensions: 8, metric: .l2))
        assertThrowsVault(.invalidArgument(""),
                          try VectorKVault(path: url.path, table: "emb", dimensions: 8, metric: .l1, type: .int8))
        do {
            _ = try VectorKVault(path: url.path, table: "emb", dimensions: 16, metric: .l1)
        } catch let e as KohakuVaultError {
            XCTAssertTrue(e.reason.contains("8") && e.reason.contains("16"), "the message names both: \(e)")
        }

        // read-only: reads work, writes throw .readOnly
        let ro = try VectorKVault(path: url.path, table: "emb", dimensions: 8, metric: .l1,
                                  options: OpenOptions(readOnly: true))
        XCTAssertTrue(ro.isReadOnly)
        XCTAssertEqual(try ro.count(), 50)
        XCTAssertEqual(try ro.search(q, k: 3).count, 3)
        assertThrowsVault(.readOnly(""), try ro.insert(rows[0], value: "x"))
        assertThrowsVault(.readOnly(""), try ro.insert(contentsOf: [rows[0]], values: ["x"]))
        assertThrowsVault(.readOnly(""), try ro.update(ids[0], value: "x"))
        assertThrowsVault(.readOnly(""), try ro.delete(ids[0]))
        assertThrowsVault(.readOnly(""), try ro.compact())
        XCTAssertEqual(try ro.count(), 50)
        try ro.close()

        // two tables in one file are independent
        let other = try VectorKVault(path: url.path, table: "other", dimensions: 2, metric: .cosine)
        defer { try? other.close() }
        XCTAssertEqual(try other.count(), 0)
        XCTAssertEqual(try other.insert([1, 0], value: "o"), 1)
    }

    // MARK: - Update, delete, compact

    func testUpdateDeleteAndCompact() throws {
        let (v, _) = try makeVectorVault(self, dimensions: 4, metric: .l2)
        defer { try? v.close() }
        let ids = try v.insert(contentsOf: (0..<60).map { [Float($0), 0, 0, 0] }, values: (0..<60).map { "u\($0)" },
                               metadata: (0..<60).map { ["n": .int(Int64($0))] })

        // the vector moves: searches find the row at its new place
        try v.update(ids[10], vector: [100, 0, 0, 0])
        XCTAssertEqual(try v.search([100, 0, 0, 0], k: 1).first?.id, ids[10])
        XCTAssertEqual(try v.record(id: ids[10]).floats, [100, 0, 0, 0])
        XCTAssertEqual(try v.record(id: ids[10]).value.string(), "u10", "the value is kept")
        XCTAssertEqual(try v.record(id: ids[10]).metadata, ["n": 10], "the metadata is kept")
        XCTAssertNotEqual(try v.search([10, 0, 0, 0], k: 1).first?.id, ids[10])
        // all three at once, the vector as a row
        try v.update(ids[11], vector: VectorRows.row([-50, 0, 0, 0] as [Float]), value: Int64(11), metadata: ["m": "x"])
        let r = try v.record(id: ids[11])
        XCTAssertEqual(r.floats, [-50, 0, 0, 0])
        XCTAssertEqual(try r.value.int64(), 11)
        XCTAssertEqual(r.metadata, ["m": "x"])
        XCTAssertEqual(try v.search([-50, 0, 0, 0], k: 1, filter: .metadata(["m": "x"])).first?.id, ids[11])
        XCTAssertEqual(try v.search([0, 0, 0, 0], k: 5, filter: .metadata(["n": 11])), [], "old metadata is gone")

        // nothing to update, a missing id
        assertThrowsVault(.invalidArgument(""), try v.update(ids[0]))
        assertThrowsVault(.notFound(""), try v.update(9_999, value: "x"))
        assertThrowsVault(.notFound(""), try v.update(9_999, vector: [1, 2, 3, 4]))
        assertThrowsVault(.notFound(""), try v.record(id: 9_999))
        assertThrowsVault(.notFound(""), try v.record(id: 0))
        assertThrowsVault(.notFound(""), try v.record(id: -1))

        // delete: true once, then false; gone from searches, counts and ids
        XCTAssertTrue(try v.contains(ids[20]))
        XCTAssertTrue(try v.delete(ids[20]))
        XCTAssertFalse(try v.delete(ids[20]))
        XCTAssertFalse(try v.contains(ids[20]))
        XCTAssertFalse(try v.delete(9_999))
        XCTAssertFalse(try v.contains(9_999))
        assertThrowsVault(.notFound(""), try v.record(id: ids[20]))
        XCTAssertNotEqual(try v.search([20, 0, 0, 0], k: 1).first?.id, ids[20])
        XCTAssertEqual(try v.count(), 59)
        for i in 30..<50 { XCTAssertTrue(try v.delete(ids[i])) }
        let left = ids.enumerated().filter { $0.offset != 20 && !(30..<50).contains($0.offset) }.map(\.element)
        XCTAssertEqual(try v.ids(), left)
        XCTAssertEqual(try v.count(), left.count)
        let info = try v.info()
        XCTAssertEqual(info.count, left.count)

        // compact reclaims the slots and keeps every row, id and answer
        let q: [Float] = [33, 0, 0, 0]
        let before = try v.search(q, k: 8)
        let records = try left.map { try v.record(id: $0) }
        XCTAssertEqual(try v.compact(), info.deletedSlots)
        XCTAssertEqual(try v.info().deletedSlots, 0)
        XCTAssertEqual(try v.ids(), left)
        XCTAssertEqual(try left.map { try v.record(id: $0) }, records)
        XCTAssertEqual(try v.search(q, k: 8), before)
        XCTAssertEqual(try v.compact(), 0, "nothing left to reclaim")
        // ids are never reused after deletes and compaction
        let next = try v.insert([1, 1, 1, 1], value: "next")
        XCTAssertEqual(next, ids.last! + 1)

        // deletes among rows of full (older) chunks leave one slot each: 2100 rows span at least
        // two chunks of sqlite-vec (1024 rows by default), the first 500 in full ones
        let (w, _) = try makeVectorVault(self, dimensions: 4, metric: .l1)
        defer { try? w.close() }
        let wids = try w.insert(contentsOf: (0..<2100).map { [Float($0), 1, 2, 3] },
                                values: (0..<2100).map { Int64($0) })
        XCTAssertEqual(try w.info().deletedSlots, 0)
        for id in wids[0..<30] where id % 3 == 0 { XCTAssertTrue(try w.delete(id)) }
        XCTAssertEqual(try w.info().deletedSlots, 10)
        XCTAssertEqual(try w.info().count, 2090)
        XCTAssertEqual(try w.compact(), 10)
        XCTAssertEqual(try w.info().deletedSlots, 0)
        XCTAssertEqual(try w.info().count, 2090)
        XCTAssertEqual(try w.ids(), wids.filter { $0 > 30 || $0 % 3 != 0 })
        XCTAssertEqual(try w.search([3, 1, 2, 3], k: 2).map(\.id), [3, 4].map { wids[$0] })
        XCTAssertEqual(try w.record(id: wids[3]).floats, [3, 1, 2, 3])
        XCTAssertEqual(try w.insert([0, 0, 0, 0], value: "after"), 2101)
    }

    // MARK: - Bad input

    func testBadInputThrowsAndChangesNothing() throws {
        let (v, _) = try makeVectorVault(self, dimensions: 4, metric: .cosine)
        defer { try? v.close() }
        try v.insert([1, 2, 3, 4], value: "keep", metadata: ["a": 1])
        func unchanged(_ ctx: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(try v.count(), 1, ctx, file: file, line: line)
            XCTAssertEqual(try v.ids(), [1], ctx, file: file, line: line)
            XCTAssertEqual(try v.record(id: 1).value.string(), "keep", ctx, file: file, line: line)
            XCTAssertEqual(try v.record(id: 1).metadata, ["a": 1], ctx, file: file, line: line)
        }

        // wrong dimensions, wrong row lengths, non-finite values
        assertThrowsVault(.invalidArgument(""), try v.insert([1, 2, 3], value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.insert([1, 2, 3, 4, 5], value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.insert([], value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.insert(Data(count: 15), value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.insert(Data(), value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.insert([1, .nan, 3, 4], value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.insert([1, .infinity, 3, 4], value: "x"))
        assertThrowsVault(.invalidArgument(""), try v.insert(VectorRows.row([1, 2, -.infinity, 4] as [Float]), value: "x"))
        unchanged("single inserts")

        // a batch with one bad row stores nothing
        assertThrowsVault(.invalidArgument(""), try v.insert(contentsOf: [[1, 1, 1, 1], [1, .nan, 1, 1]], values: ["a", "b"]))
        assertThrowsVault(.invalidArgument(""), try v.insert(contentsOf: [[1, 1, 1, 1], [1, 1, 1]], values: ["a", "b"]))
        assertThrowsVault(.invalidArgument(""), try v.insert(contentsOf: [Data(count: 16), Data(count: 17)], values: ["a", "b"]))
        assertThrowsVault(.invalidArgument(""),
                          try v.insert(contentsOf: [Data(count: 12), Data(count: 20)], values: ["a", "b"]))
        assertThrowsVault(.invalidArgument(""), try v.insert(contentsOf: [[1, 1, 1, 1]], values: ["a", "b"]))
        assertThrowsVault(.invalidArgument(""),
                          try v.insert(contentsOf: [[1, 1, 1, 1]], values: ["a"], metadata: [nil, nil]))
        unchanged("batches")

        // updates with bad vectors change nothing
        assertThrowsVault(.invalidArgument(""), try v.update(1, vector: [1, .nan, 1, 1], value: "new"))
        assertThrowsVault(.invalidArgument(""), try v.update(1, vector: [1, 1], value: "new"))
        assertThrowsVault(.invalidArgument(""), try v.update(1, vector: Data(count: 3), value: "new"))
        unchanged("updates")
        XCTAssertEqual(try v.record(id: 1).floats?.count, 4)

        // bad queries and k
        assertThrowsVault(.invalidArgument(""), try v.search([1, 2, 3], k: 1))
        assertThrowsVault(.invalidArgument(""), try v.search([1, .nan, 3, 4], k: 1))
        assertThrowsVault(.invalidArgument(""), try v.search(Data(count: 5), k: 1))
        assertThrowsVault(.invalidArgument(""), try v.search([1, 2, 3, 4], k: -1))
        assertThrowsVault(.invalidArgument(""), try v.search([1, 2, 3, 4], k: 1_000_001))
        assertThrowsVault(.invalidArgument(""), try v.search([1, 2, 3, 4], k: Int.max))
        assertThrowsVault(.invalidArgument(""), try v.search(many: [[1, 2, 3, 4], [1, 2]], k: 1))
        assertThrowsVault(.invalidArgument(""), try v.search(many: [Data(count: 16), Data(count: 8)], k: 1))
        assertThrowsVault(.invalidArgument(""), try v.search(many: [[1, 2, 3, 4]], k: 2_000_000))
        XCTAssertEqual(try v.search([1, 2, 3, 4], k: 1_000_000).count, 1, "k up to 1,000,000 is fine")
        unchanged("searches")

        // empty batches cross nothing and return nothing
        XCTAssertEqual(try v.insert(contentsOf: [] as [[Float]], values: []), [])
        XCTAssertEqual(try v.search(many: [] as [[Float]], k: 3), [])
        unchanged("empty batches")

        // [Float] vectors on an int8 or bit vault are refused (their bytes would be misread)
        let (i8, _) = try makeVectorVault(self, dimensions: 16, metric: .l2, type: .int8)
        defer { try? i8.close() }
        assertThrowsVault(.invalidArgument(""), try i8.insert([1, 2, 3, 4] as [Float], value: "x"))
        assertThrowsVault(.invalidArgument(""), try i8.search([Float](repeating: 0, count: 16), k: 1))
        assertThrowsVault(.invalidArgument(""), try i8.insert(Data(count: 15), value: "x"))
        XCTAssertEqual(try i8.insert(VectorRows.row([Int8](repeating: -1, count: 16)), value: "ok"), 1)
        XCTAssertEqual(try i8.record(id: 1).int8s, [Int8](repeating: -1, count: 16))
        XCTAssertEqual(try i8.count(), 1)

        // constructor validation (the core's messages)
        let dir = try makeTempDir(self)
        let p = dir.appendingPathComponent("bad.db").path
        func openError(_ dims: Int, _ m: VectorMetric, _ t: VectorType) -> KohakuVaultError? {
            do { _ = try VectorKVault(path: p, dimensions: dims, metric: m, type: t) } catch let e as KohakuVaultError {
                return e
            } catch { return .internal("\(error)") }
            return nil
        }
        XCTAssertEqual(openError(8, .cosine, .int8), .invalidArgument("Metric 'cosine' is not compatible with vector type 'int8'"))
        XCTAssertEqual(openError(8, .cosine, .bit)?.name, "invalidArgument")
        XCTAssertEqual(openError(8, .hamming, .f32)?.name, "invalidArgument")
        XCTAssertEqual(openError(8, .l2, .bit)?.name, "invalidArgument")
        XCTAssertEqual(openError(7, .hamming, .bit), .invalidArgument("Bit vector dimensions must be divisible by 8, got 7"))
        XCTAssertEqual(openError(0, .cosine, .f32), .invalidArgument("dimensions must be positive"))
        XCTAssertEqual(openError(-3, .cosine, .f32)?.name, "invalidArgument")
        XCTAssertEqual(openError(Int.max, .cosine, .f32)?.name, "invalidArgument")
        assertThrowsVault(.invalidArgument(""), try VectorKVault(path: p, table: "bad name", dimensions: 4))
        assertThrowsVault(.invalidArgument(""), try VectorKVault(path: p, table: "", dimensions: 4))
    }

    func testRowHelpers() throws {
        XCTAssertEqual(try VectorRows.row(bits: [true, false, false, false, false, false, false, true]), Data([0x81]))
        XCTAssertEqual(try VectorRows.row(bits: (0..<16).map { $0 == 9 }), Data([0x00, 0x40]))
        XCTAssertEqual(VectorRows.bits(Data([0xA0])), [true, false, true, false, false, false, false, false])
        assertThrowsVault(.invalidArgument(""), try VectorRows.row(bits: [true]))
        XCTAssertEqual(VectorRows.row([-1, 0, 127, -128] as [Int8]), Data([0xFF, 0x00, 0x7F, 0x80]))
        XCTAssertEqual(VectorRows.int8s(Data([0xFF, 0x80])), [-1, -128])
        XCTAssertEqual(hex(VectorRows.row([1, 2] as [Float])), "0000803F00000040")
        XCTAssertEqual(VectorRows.floats(unhex("0000803F00000040")), [1, 2])

        // bits through a hamming vault: the packed order is the core's
        let (v, _) = try makeVectorVault(self, dimensions: 16, metric: .hamming, type: .bit)
        defer { try? v.close() }
        let a = try v.insert(try VectorRows.row(bits: (0..<16).map { $0 < 4 }), value: "a")
        let b = try v.insert(try VectorRows.row(bits: (0..<16).map { $0 >= 12 }), value: "b")
        let hits = try v.search(try VectorRows.row(bits: (0..<16).map { $0 < 3 }), k: 2)
        XCTAssertEqual(hits.map(\.id), [a, b])
        XCTAssertEqual(hits.map(\.distance), [1, 7])
        XCTAssertEqual(try v.record(id: b).bits, (0..<16).map { $0 >= 12 })
        XCTAssertEqual(v.description, "VectorKVault(path: \(v.path), table: vec_kvault, dimensions: 16, metric: hamming, type: bit)")
    }

    // MARK: - Closed vaults

    private func closedVault() throws -> VectorKVault {
        let (v, _) = try makeVectorVault(self, dimensions: 4, metric: .l2)
        try v.insert([1, 2, 3, 4], value: "x")
        try v.close()
        return v
    }

    func testEverySyncMemberThrowsClosed() throws {
        let v = try closedVault()
        let q: [Float] = [1, 2, 3, 4], row = VectorRows.row(q)
        assertThrowsVault(.closed(""), try v.insert(q, value: "y"))
        assertThrowsVault(.closed(""), try v.insert(q, value: "y", metadata: ["a": 1]))
        assertThrowsVault(.closed(""), try v.insert(row, value: "y"))
        assertThrowsVault(.closed(""), try v.insert(contentsOf: [q], values: ["y"]))
        assertThrowsVault(.closed(""), try v.insert(contentsOf: [q], values: ["y"], metadata: [["a": 1]]))
        assertThrowsVault(.closed(""), try v.insert(contentsOf: [row], values: ["y"]))
        assertThrowsVault(.closed(""), try v.insert(contentsOf: [(q, "y" as any VaultValueConvertible)]))
        assertThrowsVault(.closed(""), try v.insert(contentsOf: [(row, "y" as any VaultValueConvertible)]))
        assertThrowsVault(.closed(""), try v.insert(contentsOf: [] as [[Float]], values: []))
        assertThrowsVault(.closed(""), try v.search(q))
        assertThrowsVault(.closed(""), try v.search(q, k: 0))
        assertThrowsVault(.closed(""), try v.search(q, k: 3, filter: .metadata(["a": 1])))
        assertThrowsVault(.closed(""), try v.search(row, k: 3))
        assertThrowsVault(.closed(""), try v.search(many: [q], k: 3))
        assertThrowsVault(.closed(""), try v.search(many: [row], k: 3))
        assertThrowsVault(.closed(""), try v.search(many: [] as [[Float]], k: 3))
        assertThrowsVault(.closed(""), try v.get(q))
        assertThrowsVault(.closed(""), try v.get(row))
        assertThrowsVault(.closed(""), try v.record(id: 1))
        assertThrowsVault(.closed(""), try v.update(1, vector: q))
        assertThrowsVault(.closed(""), try v.update(1, vector: row, value: "z"))
        assertThrowsVault(.closed(""), try v.update(1, value: "z"))
        assertThrowsVault(.closed(""), try v.update(1, metadata: ["a": 2]))
        assertThrowsVault(.closed(""), try v.delete(1))
        assertThrowsVault(.closed(""), try v.contains(1))
        assertThrowsVault(.closed(""), try v.count())
        assertThrowsVault(.closed(""), try v.ids())
        assertThrowsVault(.closed(""), try v.info())
        assertThrowsVault(.closed(""), try v.compact())
        assertThrowsVault(.closed(""), try v.checkpoint())
        do {
            _ = try v.count()
        } catch let e as KohakuVaultError {
            XCTAssertTrue(e.reason.contains("VectorKVault is closed"), "\(e)")
        }

        // members that cannot fail report the state and do not trap
        XCTAssertTrue(v.isClosed)
        XCTAssertFalse(v.path.isEmpty)
        XCTAssertEqual(v.table, "vec_kvault")
        XCTAssertFalse(v.isReadOnly)
        XCTAssertEqual(v.dimensions, 4)
        XCTAssertEqual(v.metric, .l2)
        XCTAssertEqual(v.vectorType, .f32)
        XCTAssertEqual(v.rowBytes, 16)
        _ = v.headersEnabled
        v.headersEnabled = false
        _ = v.description
        XCTAssertEqual(v.options, OpenOptions())
        XCTAssertNoThrow(try v.close(), "close stays idempotent")
    }

    func testEveryAsyncMemberThrowsClosed() async throws {
        let v = try closedVault()
        let q: [Float] = [1, 2, 3, 4], row = VectorRows.row(q)
        await expectClosed("insert") { try await v.insert(q, value: "y") }
        await expectClosed("insert row") { try await v.insert(row, value: "y", metadata: ["a": 1]) }
        await expectClosed("insert contentsOf") { try await v.insert(contentsOf: [q], values: ["y"]) }
        await expectClosed("insert contentsOf rows") { try await v.insert(contentsOf: [row], values: ["y"]) }
        await expectClosed("search") { _ = try await v.search(q, k: 2) }
        await expectClosed("search row") { _ = try await v.search(row, k: 2) }
        await expectClosed("search many") { _ = try await v.search(many: [q], k: 2) }
        await expectClosed("search many rows") { _ = try await v.search(many: [row], k: 2) }
        await expectClosed("get") { _ = try await v.get(q) }
        await expectClosed("get row") { _ = try await v.get(row) }
        await expectClosed("record") { _ = try await v.record(id: 1) }
        await expectClosed("update") { try await v.update(1, vector: q) }
        await expectClosed("update row") { try await v.update(1, vector: row) }
        await expectClosed("update value") { try await v.update(1, value: "z") }
        await expectClosed("delete") { try await v.delete(1) }
        await expectClosed("contains") { _ = try await v.contains(1) }
        await expectClosed("count") { _ = try await v.count() }
        await expectClosed("ids") { _ = try await v.ids() }
        await expectClosed("info") { _ = try await v.info() }
        await expectClosed("compact") { try await v.compact() }
        await expectClosed("checkpoint") { try await v.checkpoint() }
        do { try await v.close() } catch { XCTFail("close stays idempotent: \(error)") }
    }

    // MARK: - Threads and tasks

    func testConcurrentSearchesWhileInserting() throws {
        let dims = 16
        let (v, _) = try makeVectorVault(self, dimensions: dims, metric: .l2)
        defer { try? v.close() }
        var rng = SeededRNG(seed: 11)
        let rows = (0..<600).map { _ in (0..<dims).map { _ in Float.random(in: -1...1, using: &rng) } }
        try v.insert(contentsOf: rows, values: (0..<600).map { "c\($0)" })
        let queries = (0..<8).map { _ in (0..<dims).map { _ in Float.random(in: -1...1, using: &rng) } }
        let expected = try queries.map { try v.search($0, k: 10) }

        let log = FailureLog()
        let fail: @Sendable (String) -> Void = { log.add($0) }
        let group = DispatchGroup()
        // one writer inserts rows far from every query (they never become nearest)
        DispatchQueue.global().async(group: group) {
            do {
                for i in 0..<200 {
                    try v.insert([Float](repeating: 50 + Float(i), count: dims), value: "far\(i)")
                }
            } catch { fail("insert: \(error)") }
        }
        // eight threads search the same handle
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for round in 0..<25 {
                let qi = (t + round) % queries.count
                do {
                    let hits = round % 5 == 0 ? try v.search(many: queries, k: 10)[qi] : try v.search(queries[qi], k: 10)
                    if hits != expected[qi] { fail("thread \(t) round \(round): \(hits.map(\.id)) != \(expected[qi].map(\.id))") }
                } catch { fail("thread \(t): \(error)") }
            }
        }
        group.wait()
        XCTAssertEqual(log.items, [])
        XCTAssertEqual(try v.count(), 800)
    }

    func testAsyncVariants() async throws {
        let (v, url) = try makeVectorVault(self, dimensions: 4, metric: .cosine)
        let a = try await v.insert([1, 0, 0, 0], value: "a", metadata: ["g": 1])
        let b = try await v.insert(VectorRows.row([0, 1, 0, 0] as [Float]), value: "b")
        let more = try await v.insert(contentsOf: [[0, 0, 1, 0], [0, 0, 0, 1]], values: ["c", Int64(4)])
        let rows = try await v.insert(contentsOf: [VectorRows.row([1, 1, 0, 0] as [Float])], values: ["ab"],
                                      metadata: [["g": 2]])
        XCTAssertEqual([a, b] + more + rows, [1, 2, 3, 4, 5])
        let hits = try await v.search([1, 0.1, 0, 0], k: 2)
        XCTAssertEqual(hits.map(\.id), [a, rows[0]])
        let rowHits = try await v.search(VectorRows.row([1, 0.1, 0, 0] as [Float]), k: 2)
        XCTAssertEqual(rowHits, hits)
        let many = try await v.search(many: [[1, 0.1, 0, 0], [0, 0, 0, 1]], k: 1, filter: nil)
        XCTAssertEqual(many.map { $0.map(\.id) }, [[a], [more[1]]])
        let manyRows = try await v.search(many: [VectorRows.row([0, 0, 0, 1] as [Float])], k: 1)
        XCTAssertEqual(manyRows.map { $0.map(\.id) }, [[more[1]]])
        let nearest = try await v.get([0, 1, 0, 0])
        XCTAssertEqual(try nearest.string(), "b")
        let nearestRow = try await v.get(VectorRows.row([0, 1, 0, 0] as [Float]), filter: .metadata(["g": 2]))
        XCTAssertEqual(try nearestRow.string(), "ab")
        try await v.update(b, value: "b2")
        try await v.update(b, vector: [0, 2, 0, 0], metadata: ["g": 3])
        try await v.update(b, vector: VectorRows.row([0, 3, 0, 0] as [Float]))
        let rec = try await v.record(id: b)
        XCTAssertEqual(try rec.value.string(), "b2")
        XCTAssertEqual(rec.floats, [0, 1, 0, 0], "normalised for cosine")
        XCTAssertEqual(rec.metadata, ["g": 3])
        let deleted = try await v.delete(more[0])
        XCTAssertTrue(deleted)
        let has = try await v.contains(more[0])
        XCTAssertFalse(has)
        let n = try await v.count()
        XCTAssertEqual(n, 4)
        let ids = try await v.ids()
        XCTAssertEqual(ids, [1, 2, 4, 5])
        let info = try await v.info()
        XCTAssertEqual(info.count, 4)
        let reclaimed = try await v.compact()
        XCTAssertEqual(reclaimed, info.deletedSlots)
        try await v.checkpoint()

        // one vault shared by concurrent tasks (VectorKVault is Sendable)
        try await withThrowingTaskGroup(of: [VectorHit].self) { group in
            for i in 0..<8 {
                group.addTask { try await v.search([Float(i % 2), 1, 0, 0], k: 3) }
            }
            for try await hits in group { XCTAssertEqual(hits.count, 3) }
        }
        try await v.close()
        XCTAssertTrue(v.isClosed)
        let again = try VectorKVault(path: url.path, dimensions: 4)
        let reopened = try await again.count()
        XCTAssertEqual(reopened, 4)
        try await again.close()
    }

    func testDeinitClosesTheVault() throws {
        let url = try makeTempDir(self).appendingPathComponent("d.db")
        let seen = LockedBox<[String]>([])
        let previous = VectorKVault.onDeinitCloseError
        VectorKVault.onDeinitCloseError = { _, error in seen.value.append("\(error)") }
        defer { VectorKVault.onDeinitCloseError = previous }
        do {
            let v = try VectorKVault(path: url.path, dimensions: 2, metric: .l2)
            try v.insert([1, 2], value: "kept")
        }
        XCTAssertEqual(seen.value, [])
        let again = try VectorKVault(path: url.path, dimensions: 2, metric: .l2)
        defer { try? again.close() }
        XCTAssertEqual(try again.record(id: 1).value.string(), "kept")
    }
}
