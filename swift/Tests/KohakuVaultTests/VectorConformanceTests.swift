import Foundation
import XCTest
@testable import KohakuVault

/// One case of tests/conformance/vectors.json, read into facade types.
struct VectorCase {
    struct Row {
        let vector: Data
        let value: String
        let metadata: [String: PlainValue]?
    }

    struct Query {
        let vector: Data
        let k: Int
        let filter: VectorFilter?
        let ids: [Int64]
        let distances: [Double]
    }

    let name: String
    let dimensions: Int
    let metric: VectorMetric
    let type: VectorType
    let rows: [Row]
    let queries: [Query]

    /// Every case of the file (its `version` checked).
    static func load() throws -> [VectorCase] {
        try conformanceCases("vectors.json").map(VectorCase.init)
    }

    init(_ j: JSON) throws {
        name = try XCTUnwrap(j["name"]?.string)
        dimensions = Int(try XCTUnwrap(j["dimensions"]?.int, name))
        metric = try XCTUnwrap(VectorMetric(rawValue: j["metric"]?.string ?? ""), "\(name): metric")
        type = try XCTUnwrap(VectorType(rawValue: j["vector_type"]?.string ?? ""), "\(name): vector_type")
        let t = type, n = name
        func vector(_ o: JSON) throws -> Data {
            if let h = o["vector_hex"]?.string { return unhex(h) }
            let numbers = try XCTUnwrap(o["vector"]?.array, "\(n): vector")
            switch t {
            case .f32: return VectorRows.row(try numbers.map { Float(try XCTUnwrap($0.double, n)) })
            case .int8: return VectorRows.row(try numbers.map { Int8(try XCTUnwrap($0.int, n)) })
            case .bit: return Data(try numbers.map { UInt8(try XCTUnwrap($0.int, n)) })
            }
        }
        func fields(_ o: JSON) throws -> [String: PlainValue] {
            guard case .object(let pairs) = o else { throw JSON.ParseError(description: "\(n): not an object: \(o)") }
            return Dictionary(uniqueKeysWithValues: pairs.map { ($0.0, $0.1.plain) })
        }
        rows = try XCTUnwrap(j["rows"]?.array, name).map { r in
            let m = r["metadata"]
            return Row(vector: try vector(r), value: try XCTUnwrap(r["value"]?.string, n),
                       metadata: m == nil || m == .null ? nil : try fields(m!))
        }
        queries = try XCTUnwrap(j["queries"]?.array, name).map { q in
            var filter: VectorFilter?
            if let f = q["filter"], f != .null {
                filter = VectorFilter(ids: try f["ids"]?.array.map { try $0.map { try XCTUnwrap($0.int, n) } },
                                      metadataEquals: try f["metadata_equals"].map(fields))
            }
            return Query(vector: try vector(q), k: Int(try XCTUnwrap(q["k"]?.int, n)), filter: filter,
                         ids: try XCTUnwrap(q["ids"]?.array, n).map { try XCTUnwrap($0.int, n) },
                         distances: try XCTUnwrap(q["distances"]?.array, n).map { try XCTUnwrap($0.double, n) })
        }
    }

    /// Inserts the rows in order, one by one or as one batch; the ids must be 1...n.
    func fill(_ v: VectorKVault, batch: Bool) throws {
        let ids: [Int64]
        if batch {
            ids = try v.insert(contentsOf: rows.map(\.vector), values: rows.map(\.value), metadata: rows.map(\.metadata))
        } else {
            ids = try rows.map { try v.insert($0.vector, value: $0.value, metadata: $0.metadata) }
        }
        XCTAssertEqual(ids, (0..<rows.count).map { Int64($0 + 1) }, "\(name): ids are 1...n")
    }

    /// Runs every query (one by one, and all with the same k and filter in one batch) and checks
    /// ids exactly, distances within 1e-4 and values.
    func check(_ v: VectorKVault, _ ctx: String, file: StaticString = #filePath, line: UInt = #line) throws {
        func expect(_ hits: [VectorHit], _ q: Query, _ what: String) {
            XCTAssertEqual(hits.map(\.id), q.ids, "\(what): ids", file: file, line: line)
            XCTAssertEqual(hits.count, q.distances.count, "\(what): distances", file: file, line: line)
            for (h, d) in zip(hits, q.distances) {
                XCTAssertEqual(Double(h.distance), d, accuracy: 1e-4, "\(what): distance of \(h.id)", file: file, line: line)
            }
            for h in hits {
                guard h.id >= 1, h.id <= Int64(rows.count) else {
                    XCTFail("\(what): id \(h.id) is not a row of the case", file: file, line: line)
                    continue
                }
                XCTAssertEqual(try h.value.string(), rows[Int(h.id) - 1].value, "\(what): value of \(h.id)",
                               file: file, line: line)
            }
        }
        for (i, q) in queries.enumerated() {
            let what = "\(ctx) query \(i)"
            expect(try v.search(q.vector, k: q.k, filter: q.filter), q, what)
            if type == .f32 {
                expect(try v.search(VectorRows.floats(q.vector), k: q.k, filter: q.filter), q, "\(what) [Float]")
            }
            // the query twice in one batch, next to the first query of the case
            let many = try v.search(many: [q.vector, queries[0].vector, q.vector], k: q.k, filter: q.filter)
            XCTAssertEqual(many.count, 3, what, file: file, line: line)
            expect(many[0], q, "\(what) (batch)")
            expect(many[2], q, "\(what) (batch, again)")
            if let first = q.ids.first {
                XCTAssertEqual(try v.get(q.vector, filter: q.filter).string(), rows[Int(first) - 1].value, what,
                               file: file, line: line)
            }
        }
        for (i, r) in rows.enumerated() {
            let rec = try v.record(id: Int64(i + 1))
            XCTAssertEqual(try rec.value.string(), r.value, "\(ctx) row \(i + 1)", file: file, line: line)
            XCTAssertEqual(rec.metadata, r.metadata, "\(ctx) row \(i + 1) metadata", file: file, line: line)
            if metric != .cosine {
                XCTAssertEqual(rec.vector, r.vector, "\(ctx) row \(i + 1) vector", file: file, line: line)
            }
        }
    }
}

/// tests/conformance/vectors.json through the facade: each case in a fresh table "vec_conf",
/// filled one row at a time and as one batch.
final class VectorConformanceTests: XCTestCase {
    func testEveryCase() throws {
        let cases = try VectorCase.load()
        XCTAssertGreaterThanOrEqual(cases.count, 7)
        var seen = Set<String>()
        for c in cases {
            seen.insert("\(c.metric.rawValue)/\(c.type.rawValue)")
            for batch in [false, true] {
                let ctx = "\(c.name) (\(batch ? "batch" : "one by one"))"
                let url = try makeTempDir(self).appendingPathComponent("conf.db")
                let v = try VectorKVault(path: url.path, table: "vec_conf", dimensions: c.dimensions,
                                         metric: c.metric, type: c.type)
                defer { try? v.close() }
                try c.fill(v, batch: batch)
                XCTAssertEqual(try v.count(), c.rows.count, ctx)
                try c.check(v, ctx)
            }
        }
        // the file covers every metric/type pair
        XCTAssertEqual(seen, Set(vectorPairs.map { "\($0.0.rawValue)/\($0.1.rawValue)" }))
    }
}
