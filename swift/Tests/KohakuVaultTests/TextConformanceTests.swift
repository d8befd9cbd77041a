import Foundation
import XCTest
@testable import KohakuVault

/// One case of tests/conformance/texts.json, read into facade types.
struct TextCase {
    struct Doc {
        let texts: [String]
        let value: String
        let vector: [Float]?
    }

    struct Query {
        let query: String
        let k: Int
        let column: String?
        let escape: Bool
        let ids: [Int64]
        let scores: [Double]
    }

    struct Hybrid {
        let query: String?
        let vector: [Float]
        let k: Int
        let textWeight: Double
        let vectorWeight: Double
        let rrfK: Int
        let ids: [Int64]
        let scores: [Double]
    }

    let name: String
    let columns: [String]
    let tokenizer: Tokenizer
    let dimensions: Int?
    let metric: VectorMetric
    let docs: [Doc]
    let queries: [Query]
    let hybrid: [Hybrid]

    /// Every case of the file (its `version` checked).
    static func load() throws -> [TextCase] {
        try conformanceCases("texts.json").map(TextCase.init)
    }

    init(_ j: JSON) throws {
        let n = try XCTUnwrap(j["name"]?.string)
        name = n
        columns = try XCTUnwrap(j["columns"]?.array, n).map { try XCTUnwrap($0.string, n) }
        tokenizer = try XCTUnwrap(Tokenizer(rawValue: j["tokenizer"]?.string ?? ""), "\(n): tokenizer")
        dimensions = j["dimensions"]?.int.map { Int($0) }
        metric = try XCTUnwrap(VectorMetric(rawValue: j["metric"]?.string ?? "cosine"), "\(n): metric")
        func floats(_ o: JSON?) throws -> [Float]? {
            guard let o, o != .null else { return nil }
            return try XCTUnwrap(o.array, n).map { Float(try XCTUnwrap($0.double, n)) }
        }
        func ids(_ o: JSON) throws -> [Int64] { try XCTUnwrap(o["ids"]?.array, n).map { try XCTUnwrap($0.int, n) } }
        func scores(_ o: JSON) throws -> [Double] {
            try XCTUnwrap(o["scores"]?.array, n).map { try XCTUnwrap($0.double, n) }
        }
        docs = try XCTUnwrap(j["docs"]?.array, n).map { d in
            Doc(texts: try XCTUnwrap(d["texts"]?.array, n).map { try XCTUnwrap($0.string, n) },
                value: try XCTUnwrap(d["value"]?.string, n), vector: try floats(d["vector"]))
        }
        queries = try (j["queries"]?.array ?? []).map { q in
            let col = q["column"]
            return Query(query: try XCTUnwrap(q["query"]?.string, n), k: Int(try XCTUnwrap(q["k"]?.int, n)),
                         column: col == nil || col == .null ? nil : try XCTUnwrap(col?.string, n),
                         escape: q["escape"]?.bool ?? true, ids: try ids(q), scores: try scores(q))
        }
        hybrid = try (j["hybrid_queries"]?.array ?? []).map { q in
            let qq = q["query"]
            return Hybrid(query: qq == nil || qq == .null ? nil : try XCTUnwrap(qq?.string, n),
                          vector: try XCTUnwrap(try floats(q["vector"]), n), k: Int(try XCTUnwrap(q["k"]?.int, n)),
                          textWeight: try XCTUnwrap(q["text_weight"]?.double, n),
                          vectorWeight: try XCTUnwrap(q["vector_weight"]?.double, n),
                          rrfK: Int(try XCTUnwrap(q["rrf_k"]?.int, n)), ids: try ids(q), scores: try scores(q))
        }
    }

    /// A vault of this case's columns, tokenizer and vectors.
    func open(_ path: String, table: String, options: OpenOptions = OpenOptions()) throws -> TextVault {
        try TextVault(path: path, table: table, columns: columns, tokenizer: tokenizer, dimensions: dimensions,
                      metric: metric, options: options)
    }

    /// The texts of a document by column.
    func byColumn(_ d: Doc) -> [String: String] { Dictionary(uniqueKeysWithValues: zip(columns, d.texts)) }

    /// Inserts the documents in order, one by one (single-column cases with the one text, the
    /// others by column) or as one batch; the ids must be 1...n.
    func fill(_ v: TextVault, batch: Bool) throws {
        let ids: [Int64]
        if batch {
            ids = try v.insert(contentsOf: docs.map { d in
                columns.count == 1 ? try TextDoc(d.texts[0], value: d.value, vector: d.vector)
                    : try TextDoc(texts: byColumn(d), value: d.value, vector: d.vector)
            })
        } else {
            ids = try docs.map { d in
                columns.count == 1 ? try v.insert(d.texts[0], value: d.value, vector: d.vector)
                    : try v.insert(texts: byColumn(d), value: d.value, vector: d.vector)
            }
        }
        XCTAssertEqual(ids, (0..<docs.count).map { Int64($0 + 1) }, "\(name): ids are 1...n")
    }

    /// Runs every query (search and searchWithText) and hybrid query: ids exactly, scores within
    /// 1e-6 relative (BM25) or 1e-9 (fused), values (and texts) those of the documents.
    func check(_ v: TextVault, _ ctx: String, file: StaticString = #filePath, line: UInt = #line) throws {
        func expectValues(_ hits: [TextHit], _ what: String) {
            for h in hits {
                guard h.id >= 1, h.id <= Int64(docs.count) else {
                    XCTFail("\(what): id \(h.id) is not a document of the case", file: file, line: line)
                    continue
                }
                XCTAssertEqual(try h.value.string(), docs[Int(h.id) - 1].value, "\(what): value of \(h.id)",
                               file: file, line: line)
            }
        }
        XCTAssertEqual(try v.count(), docs.count, "\(ctx): count", file: file, line: line)
        for (i, q) in queries.enumerated() {
            let what = "\(ctx) query \(i) '\(q.query)'"
            let hits = try v.search(q.query, k: q.k, column: q.column, escape: q.escape)
            XCTAssertEqual(hits.map(\.id), q.ids, "\(what): ids", file: file, line: line)
            XCTAssertEqual(hits.count, q.scores.count, "\(what): scores", file: file, line: line)
            for (h, s) in zip(hits, q.scores) {
                XCTAssertEqual(h.score, s, accuracy: 1e-6 * max(abs(s), 1e-9), "\(what): score of \(h.id)",
                               file: file, line: line)
                XCTAssertNil(h.texts, what, file: file, line: line)
            }
            expectValues(hits, what)
            let withText = try v.searchWithText(q.query, k: q.k, column: q.column, escape: q.escape)
            XCTAssertEqual(withText.map(\.id), q.ids, "\(what) (with text): ids", file: file, line: line)
            XCTAssertEqual(withText.map(\.score), hits.map(\.score), "\(what) (with text)", file: file, line: line)
            for h in withText where h.id >= 1 && h.id <= Int64(docs.count) {
                XCTAssertEqual(h.texts, byColumn(docs[Int(h.id) - 1]), "\(what): texts of \(h.id)",
                               file: file, line: line)
            }
            // countMatches takes raw syntax: the same match as the search, written out
            let raw = q.escape ? "\"" + q.query.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : q.query
            let matches = try v.countMatches(q.column.map { "\"\($0)\" : (\(raw))" } ?? raw)
            if q.ids.count < q.k {
                XCTAssertEqual(matches, q.ids.count, "\(what): countMatches", file: file, line: line)
            } else {
                XCTAssertGreaterThanOrEqual(matches, q.ids.count, "\(what): countMatches", file: file, line: line)
            }
        }
        for (i, q) in hybrid.enumerated() {
            let what = "\(ctx) hybrid \(i) '\(q.query ?? "nil")'"
            let hits = try v.hybridSearch(query: q.query, vector: q.vector, k: q.k, textWeight: q.textWeight,
                                          vectorWeight: q.vectorWeight, rrfK: q.rrfK)
            XCTAssertEqual(hits.map(\.id), q.ids, "\(what): ids", file: file, line: line)
            XCTAssertEqual(hits.count, q.scores.count, "\(what): scores", file: file, line: line)
            for (h, s) in zip(hits, q.scores) {
                XCTAssertEqual(h.score, s, accuracy: 1e-9, "\(what): score of \(h.id)", file: file, line: line)
            }
            expectValues(hits, what)
            // the same query vector as a stored row
            let rowHits = try v.hybridSearch(query: q.query, vectorRow: VectorRows.row(q.vector), k: q.k,
                                             textWeight: q.textWeight, vectorWeight: q.vectorWeight, rrfK: q.rrfK)
            XCTAssertEqual(rowHits, hits, "\(what) (row)", file: file, line: line)
        }
        for (i, d) in docs.enumerated() {
            let r = try v.record(id: Int64(i + 1))
            XCTAssertEqual(r.texts, byColumn(d), "\(ctx) doc \(i + 1)", file: file, line: line)
            XCTAssertEqual(try r.value.string(), d.value, "\(ctx) doc \(i + 1)", file: file, line: line)
            XCTAssertEqual(r.vector == nil, d.vector == nil, "\(ctx) doc \(i + 1) vector", file: file, line: line)
        }
    }
}

/// tests/conformance/texts.json through the facade: each case in a fresh table "txt_conf",
/// filled one document at a time and as one batch, checked, then checked again after a reopen.
final class TextConformanceTests: XCTestCase {
    func testEveryCase() throws {
        let cases = try TextCase.load()
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        XCTAssertEqual(Set(cases.map(\.tokenizer)), Set(Tokenizer.allCases), "the file covers every tokenizer")
        XCTAssertTrue(cases.contains { !$0.hybrid.isEmpty }, "the file has hybrid queries")
        for c in cases {
            for batch in [false, true] {
                let ctx = "\(c.name) (\(batch ? "batch" : "one by one"))"
                let url = try makeTempDir(self).appendingPathComponent("conf.db")
                let v = try c.open(url.path, table: "txt_conf")
                try c.fill(v, batch: batch)
                XCTAssertEqual(v.columns, c.columns, ctx)
                XCTAssertEqual(v.tokenizer, c.tokenizer, ctx)
                XCTAssertEqual(v.dimensions, c.dimensions, ctx)
                try c.check(v, ctx)
                try v.close()
                let again = try c.open(url.path, table: "txt_conf")
                defer { try? again.close() }
                try c.check(again, "\(ctx) reopened")
            }
        }
    }
}
