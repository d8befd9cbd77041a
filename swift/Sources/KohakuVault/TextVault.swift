import Foundation
import KohakuVaultCore

/// BM25 full-text search over SQLite's FTS5 in one SQLite file (kohakuvault 1.1.0's tables,
/// docs/FORMAT.md §8), each document with a value and, optionally, one vector for hybrid text +
/// vector search; byte-compatible with the Python and Kotlin bindings (`TextVault` there too).
///
///     let vault = try TextVault(path: "notes.db")                         // one column, "content"
///     let id = try vault.insert("The quick brown fox", value: "note-1")
///     let hits = try vault.search("brown fox", k: 5)                     // best first
///
///     let docs = try TextVault(path: "docs.db", columns: ["title", "body"], tokenizer: .porter,
///                              dimensions: 384)                          // hybrid search
///     try docs.insert(texts: ["title": "Rivers", "body": "…"], value: "r", vector: embedding)
///     let best = try docs.hybridSearch(query: "cold rivers", vector: queryEmbedding, k: 10)
///
/// Texts are one `String` for a single-column vault, or every column by name. Values are what
/// `KVault` stores (`String`, `Data`, ints, `PlainValue`, `TaggedValue`, ...) and come back as
/// `TaggedValue`s. Ids are the FTS5 row ids: 1, 2, … in a fresh table.
///
/// Queries: with `escape` (the default) the whole query is one phrase (its words adjacent, in
/// order; quotes and FTS5 operators are plain text); with `escape: false` it is raw FTS5 syntax
/// (`dog OR tea`, `quiet NOT tea`, `"a b" NEAR c`), and a syntax error throws `.invalidArgument`
/// with FTS5's message. A blank query has no hits.
///
/// Every write (`insert`, `insert(contentsOf:)`, `update`, `delete`, `clear`, with the vector
/// when there is one) is one transaction; a batch is one crossing. Every throwing member throws
/// `KohakuVaultError`; nothing traps on an error the caller can cause; a closed vault throws
/// `.closed` from every throwing member. Async variants are in `TextVault+Async.swift`, the value
/// types in `TextTypes.swift`.
///
/// `Sendable`: every stored property is immutable and the core object locks internally, so one
/// vault may be searched and written by several threads and tasks at once.
public final class TextVault: Sendable, CustomStringConvertible {
    /// Called when `deinit` closes a vault that was not closed and the close fails. `deinit`
    /// cannot throw: this hook is the only place such an error surfaces. The default writes one
    /// line to standard error; set `nil` to ignore such errors. Arguments: the vault's path and
    /// the error.
    public static var onDeinitCloseError: (@Sendable (String, KohakuVaultError) -> Void)? {
        get { deinitHook.value }
        set { deinitHook.value = newValue }
    }

    private static let deinitHook = VaultDeinit.defaultHook("TextVault")

    let store: TextStore
    public let options: OpenOptions
    /// The indexed columns, in order.
    public let columns: [String]
    public let tokenizer: Tokenizer
    /// Elements per vector; nil for a vault without vectors.
    public let dimensions: Int?
    /// The vector metric; nil for a vault without vectors.
    public let metric: VectorMetric?
    /// The vector type; nil for a vault without vectors.
    public let vectorType: VectorType?
    /// Bytes of one stored vector row (a `Data` vector has exactly this many); nil without vectors.
    public let rowBytes: Int?

    /// Opens (creating if needed) the text table `table` of the file at `path`.
    ///
    /// `columns`: the indexed columns (letters, digits and `_`; FTS5's `rank`/`rowid` and
    /// `value_ref` are refused; empty = `["content"]`). `tokenizer` and `removeDiacritics` (0, 1
    /// or 2; nil = the tokenizer's default) are FTS5's. `dimensions` gives every document one
    /// vector (`metric` and `type` as `VectorKVault`'s) for `hybridSearch` and `searchByVector`.
    /// An existing table must have the same columns and tokenizer (and vector spec):
    /// `.invalidArgument` naming both otherwise.
    public init(path: String, table: String = "text_vault", columns: [String] = ["content"],
                tokenizer: Tokenizer = .unicode61, removeDiacritics: Int? = nil, dimensions: Int? = nil,
                metric: VectorMetric = .cosine, type: VectorType = .f32, options: OpenOptions = OpenOptions()) throws {
        if let r = removeDiacritics, !(0...Int(UInt8.max)).contains(r) {
            throw KohakuVaultError.invalidArgument("remove_diacritics must be 0, 1 or 2, got \(r)")
        }
        let dims32 = try dimensions.map(coreDimensions)
        let text = KohakuVaultCore.TextOptions(tokenizer: tokenizer.rawValue, removeDiacritics: removeDiacritics.map(UInt8.init),
                                               dimensions: dims32, metric: metric.rawValue,
                                               vectorType: type.rawValue)
        let s = try core {
            try TextStore(path: path, table: table, columns: columns, text: text, options: options.core)
        }
        store = s
        self.options = options
        self.columns = s.columns()
        self.tokenizer = Tokenizer(rawValue: s.tokenizer()) ?? tokenizer
        let dims = s.dimensions().map { Int($0) }
        self.dimensions = dims
        self.metric = dims == nil ? nil : metric
        vectorType = dims == nil ? nil : type
        rowBytes = s.vectorRowBytes().map { Int($0) }
    }

    /// Opens the text table at a file URL.
    public convenience init(url: URL, table: String = "text_vault", columns: [String] = ["content"],
                            tokenizer: Tokenizer = .unicode61, removeDiacritics: Int? = nil, dimensions: Int? = nil,
                            metric: VectorMetric = .cosine, type: VectorType = .f32,
                            options: OpenOptions = OpenOptions()) throws {
        try self.init(path: url.path, table: table, columns: columns, tokenizer: tokenizer,
                      removeDiacritics: removeDiacritics, dimensions: dimensions, metric: metric, type: type,
                      options: options)
    }

    deinit {
        VaultDeinit.close(store, hook: TextVault.onDeinitCloseError)
    }

    // MARK: - Properties

    public var path: String { store.path() }
    public var table: String { store.table() }
    public var isReadOnly: Bool { store.readOnly() }
    public var isClosed: Bool { store.isClosed() }

    /// Headers on non-raw values (on by default; off stores payloads bare, as 1.1.0's disable_headers()).
    public var headersEnabled: Bool {
        get { store.headersEnabled() }
        set { store.setHeadersEnabled(enabled: newValue) }
    }

    public var description: String {
        var s = "TextVault(path: \(path), table: \(table), columns: \(columns), tokenizer: \(tokenizer.rawValue)"
        if let d = dimensions, let m = metric, let t = vectorType {
            s += ", dimensions: \(d), metric: \(m.rawValue), type: \(t.rawValue)"
        }
        return s + ")"
    }

    // MARK: - Insert

    /// Stores a document of a single-column vault (and its float32 vector, for a vault with
    /// dimensions) with `value`, in one transaction; returns its id.
    @discardableResult
    public func insert<V: VaultValueConvertible>(_ text: String, value: V, vector: [Float]? = nil) throws -> Int64 {
        try insertDoc(.single(text), value: try value.vaultValue(), vector: try vectorBytes(vector, nil))
    }

    /// Stores a document given by column (every column of the vault, no other key) with `value`
    /// (and its float32 vector), in one transaction; returns its id.
    @discardableResult
    public func insert<V: VaultValueConvertible>(texts: [String: String], value: V,
                                                 vector: [Float]? = nil) throws -> Int64 {
        try insertDoc(.columns(texts), value: try value.vaultValue(), vector: try vectorBytes(vector, nil))
    }

    /// `insert` with the vector given as its stored row (any vector type; `rowBytes` bytes).
    @discardableResult
    public func insert<V: VaultValueConvertible>(_ text: String, value: V, vectorRow: Data) throws -> Int64 {
        try insertDoc(.single(text), value: try value.vaultValue(), vector: try vectorBytes(nil, vectorRow))
    }

    /// `insert(texts:value:)` with the vector given as its stored row.
    @discardableResult
    public func insert<V: VaultValueConvertible>(texts: [String: String], value: V, vectorRow: Data) throws -> Int64 {
        try insertDoc(.columns(texts), value: try value.vaultValue(), vector: try vectorBytes(nil, vectorRow))
    }

    /// Stores n documents in one crossing and one transaction; returns their ids in order.
    /// Either every document has a vector or none does. Nothing is stored when any document is bad.
    @discardableResult
    public func insert(contentsOf docs: [TextDoc]) throws -> [Int64] {
        let n = docs.count
        let withVectors = docs.filter { $0.vector != nil || $0.vectorRow != nil }.count
        guard withVectors == 0 || withVectors == n else {
            throw KohakuVaultError.invalidArgument(
                "\(withVectors) of \(n) documents have a vector: in one batch either every document has one or none")
        }
        var ordered: [String] = []
        ordered.reserveCapacity(n * columns.count)
        var vectors = Data()
        if withVectors > 0 {
            guard let rb = rowBytes else { throw TextVault.noVectors }
            vectors.reserveCapacity(n * rb)
        }
        for d in docs {
            ordered += try orderedTexts(d.texts)
            if let v = d.vector {
                try VectorRows.append(v, to: &vectors, dimensions: dimensions ?? 0, type: vectorType ?? .f32)
            } else if let r = d.vectorRow {
                try VectorRows.append(row: r, to: &vectors, rowBytes: rowBytes ?? 0)
            }
        }
        if n == 0 {
            try ensureOpen()
            return []
        }
        let (textLens, texts) = try TextBuffers.packStrings(ordered)
        let cols = try RowBuffers.packValues(docs.map(\.value))
        let buf = try core {
            try store.insertMany(textLens: textLens, texts: texts, kinds: cols.kinds, valueLens: cols.lens,
                                 payloads: cols.payloads, vectors: vectors)
        }
        guard buf.count == 8 * n else {
            throw KohakuVaultError.corrupt("insert_many returned \(buf.count / 8) ids for \(n) documents")
        }
        return VectorBuffers.int64s(buf, count: n)
    }

    // MARK: - Search

    /// The `k` best documents for `query` by BM25, best first (score = −bm25), optionally only
    /// matching in `column`. `escape` (the default) makes the whole query one phrase; without it
    /// the query is raw FTS5 syntax. `k` = 0 or a blank query gives no hits; `k` above 1,000,000
    /// and an unknown column throw `.invalidArgument`. With `decoded` false the values come back
    /// as stored (kind raw).
    public func search(_ query: String, k: Int = 10, column: String? = nil, escape: Bool = true,
                       decoded: Bool = true) throws -> [TextHit] {
        let k32 = try searchK(k)
        let h = try core {
            try store.search(query: query, k: k32, column: column, escape: escape, withTexts: false, decoded: decoded)
        }
        return try TextBuffers.unpackHits(h, texts: .none)
    }

    /// `search`, each hit with every column's text (`TextHit.texts`).
    public func searchWithText(_ query: String, k: Int = 10, column: String? = nil, escape: Bool = true,
                               decoded: Bool = true) throws -> [TextHit] {
        let k32 = try searchK(k)
        let h = try core {
            try store.search(query: query, k: k32, column: column, escape: escape, withTexts: true, decoded: decoded)
        }
        return try TextBuffers.unpackHits(h, texts: .columns(columns))
    }

    /// `search` over every column, each hit with FTS5's snippet of `snippetColumn` (nil = the
    /// first column): about `snippetTokens` tokens (1...64) around the matches, each match
    /// between `highlightStart` and `highlightEnd` (any text; quotes are fine), "..." where the
    /// text is cut. `TextHit.texts` holds the one snippet under the snippet column's name.
    public func searchWithSnippets(_ query: String, k: Int = 10, snippetColumn: String? = nil,
                                   snippetTokens: Int = 10, highlightStart: String = "**",
                                   highlightEnd: String = "**", escape: Bool = true,
                                   decoded: Bool = true) throws -> [TextHit] {
        let k32 = try searchK(k)
        guard snippetTokens >= 0 else {
            throw KohakuVaultError.invalidArgument("snippet_tokens must be between 1 and 64, got \(snippetTokens)")
        }
        let h = try core {
            try store.snippets(query: query, k: k32, column: snippetColumn, tokens: UInt32(clamping: snippetTokens),
                               start: highlightStart, end: highlightEnd, escape: escape, decoded: decoded)
        }
        return try TextBuffers.unpackHits(h, texts: .snippet(snippetColumn ?? columns[0]))
    }

    /// How many documents match `query`, in raw FTS5 syntax (as 1.1.0: never escaped, so a
    /// syntax error throws `.invalidArgument`); 0 for a blank query.
    public func countMatches(_ query: String) throws -> Int {
        Int(clamping: try core { try store.countMatches(query: query) })
    }

    /// The value of the first document whose text contains `key` as a phrase (single-column
    /// vaults only: `.invalidArgument` otherwise); `.notFound` when none does.
    public func get(_ key: String, decoded: Bool = true) throws -> TaggedValue {
        TaggedValue(try core { try store.get(key: key, decoded: decoded) })
    }

    // MARK: - Hybrid and vector search

    /// Hybrid search: the `k` best documents by weighted reciprocal rank fusion of the BM25
    /// ranking of the query's words (each word a phrase, OR-ed) and the vector ranking of
    /// `vector` (a float32 vault), over the best `candidates` of each side (default max(4k, 50)):
    /// score = textWeight / (rrfK + text rank) + vectorWeight / (rrfK + vector rank), ranks from
    /// 1, ties by id. A side that is nil (or has weight 0) is left out, so the call also serves
    /// as a pure text or pure vector search.
    public func hybridSearch(query: String?, vector: [Float]?, k: Int = 10, textWeight: Double = 1,
                             vectorWeight: Double = 1, rrfK: Int = 60, candidates: Int? = nil,
                             decoded: Bool = true) throws -> [TextHit] {
        try hybrid(query: query, vector: try vectorBytes(vector, nil), k: k, textWeight: textWeight,
                   vectorWeight: vectorWeight, rrfK: rrfK, candidates: candidates, decoded: decoded)
    }

    /// `hybridSearch` with the query vector given as a stored row (any vector type).
    public func hybridSearch(query: String?, vectorRow: Data, k: Int = 10, textWeight: Double = 1,
                             vectorWeight: Double = 1, rrfK: Int = 60, candidates: Int? = nil,
                             decoded: Bool = true) throws -> [TextHit] {
        try hybrid(query: query, vector: try vectorBytes(nil, vectorRow), k: k, textWeight: textWeight,
                   vectorWeight: vectorWeight, rrfK: rrfK, candidates: candidates, decoded: decoded)
    }

    /// The `k` documents whose vectors are nearest to `vector` (a float32 vault), nearest first;
    /// scores are distances.
    public func searchByVector(_ vector: [Float], k: Int = 10, decoded: Bool = true) throws -> [TextHit] {
        try vectorSearch(try vectorBytes(vector, nil) ?? Data(), k: k, decoded: decoded)
    }

    /// `searchByVector` with the query given as a stored row (any vector type).
    public func searchByVector(_ vector: Data, k: Int = 10, decoded: Bool = true) throws -> [TextHit] {
        try vectorSearch(vector, k: k, decoded: decoded)
    }

    // MARK: - Documents by id

    /// The document `id`: its texts by column, its value and its vector (as stored); `.notFound`
    /// when missing.
    public func record(id: Int64, decoded: Bool = true) throws -> TextRecord {
        let r = try core { try store.getById(id: id, decoded: decoded) }
        guard r.texts.count == columns.count else {
            throw KohakuVaultError.corrupt("get_by_id returned \(r.texts.count) texts for \(columns.count) columns")
        }
        return TextRecord(id: id, texts: Dictionary(uniqueKeysWithValues: zip(columns, r.texts)),
                          value: TaggedValue(r.value), vector: r.vector, vectorType: vectorType)
    }

    /// Replaces the text of document `id` of a single-column vault (and its value and vector when
    /// given), in one transaction; `.notFound` when missing.
    public func update(_ id: Int64, text: String, value: (any VaultValueConvertible)? = nil,
                       vector: [Float]? = nil) throws {
        try updateDoc(id, texts: .single(text), value: value, vector: try vectorBytes(vector, nil))
    }

    /// Replaces every column's text of document `id` (and its value and vector when given), in
    /// one transaction; `.notFound` when missing.
    public func update(_ id: Int64, texts: [String: String], value: (any VaultValueConvertible)? = nil,
                       vector: [Float]? = nil) throws {
        try updateDoc(id, texts: .columns(texts), value: value, vector: try vectorBytes(vector, nil))
    }

    /// Replaces the value and/or the vector of document `id` (at least one; `.invalidArgument`
    /// otherwise), in one transaction; `.notFound` when missing.
    public func update(_ id: Int64, value: (any VaultValueConvertible)? = nil, vector: [Float]? = nil) throws {
        try updateDoc(id, texts: nil, value: value, vector: try vectorBytes(vector, nil))
    }

    /// Replaces any of the texts, the value and the vector (as a stored row) of document `id`
    /// (at least one), in one transaction; `.notFound` when missing.
    public func update(_ id: Int64, texts: TextDoc.Texts?, value: (any VaultValueConvertible)?,
                       vectorRow: Data?) throws {
        try updateDoc(id, texts: texts, value: value, vector: try vectorBytes(nil, vectorRow))
    }

    /// Deletes document `id` (its text, value and vector, in one transaction); false when it did
    /// not exist.
    @discardableResult
    public func delete(_ id: Int64) throws -> Bool {
        try core { try store.delete(id: id) }
    }

    /// Whether document `id` exists (an id, not a text, as 1.1.0's `in`).
    public func contains(_ id: Int64) throws -> Bool {
        try core { try store.exists(id: id) }
    }

    /// Number of documents.
    public func count() throws -> Int {
        Int(clamping: try core { try store.count() })
    }

    /// Document ids in order, from `offset`, at most `limit` of them (nil = all).
    public func keys(limit: Int? = nil, offset: Int = 0) throws -> [Int64] {
        if let l = limit, l < 0 { throw KohakuVaultError.invalidArgument("limit must be non-negative, got \(l)") }
        guard offset >= 0 else { throw KohakuVaultError.invalidArgument("offset must be non-negative, got \(offset)") }
        let buf = try core { try store.keys(limit: limit.map { UInt64($0) }, offset: UInt64(offset)) }
        guard buf.count % 8 == 0 else { throw KohakuVaultError.corrupt("keys() returned \(buf.count) bytes") }
        return VectorBuffers.int64s(buf, count: buf.count / 8)
    }

    /// Deletes every document (texts, values and vectors, in one transaction).
    public func clear() throws {
        try core { try store.clear() }
    }

    // MARK: - Maintenance

    public func info() throws -> TextInfo {
        TextInfo(try core { try store.info() })
    }

    /// `PRAGMA wal_checkpoint(PASSIVE)`.
    @discardableResult
    public func checkpoint() throws -> WalCheckpoint {
        WalCheckpoint(try core { try store.checkpoint() })
    }

    /// Closes the file. Idempotent; later calls on this vault throw `.closed`.
    public func close() throws {
        try core { try store.close() }
    }

    // MARK: - Internals

    static let noVectors = KohakuVaultError.invalidArgument("this TextVault has no vectors (open it with dimensions)")

    /// Throws the core's own closed error when the vault is closed (for members that would
    /// otherwise return without crossing, such as an empty batch).
    func ensureOpen() throws {
        if store.isClosed() { _ = try core { try store.count() } }
    }

    /// A document's texts in column order; `.invalidArgument` for a single text on a
    /// multi-column vault, a missing column or an unknown one.
    func orderedTexts(_ t: TextDoc.Texts) throws -> [String] {
        switch t {
        case .single(let s):
            guard columns.count == 1 else {
                throw KohakuVaultError.invalidArgument(
                    "a single text needs a single-column TextVault; this one has columns \(columns): pass texts by column")
            }
            return [s]
        case .columns(let m):
            for key in m.keys.sorted() where !columns.contains(key) {
                throw KohakuVaultError.invalidArgument("Column '\(key)' not found. Available columns: \(columns)")
            }
            return try columns.map { c in
                guard let s = m[c] else { throw KohakuVaultError.invalidArgument("Missing column '\(c)' in input") }
                return s
            }
        }
    }

    /// The stored row of a vector given as floats or as a row (nil for none).
    func vectorBytes(_ floats: [Float]?, _ row: Data?) throws -> Data? {
        if let v = floats {
            guard let d = dimensions, let t = vectorType else { throw TextVault.noVectors }
            var out = Data(capacity: 4 * d)
            try VectorRows.append(v, to: &out, dimensions: d, type: t)
            return out
        }
        return row // checked by the core (length, finite values, a vault with vectors)
    }

    private func insertDoc(_ texts: TextDoc.Texts, value: TaggedValue, vector: Data?) throws -> Int64 {
        let t = try orderedTexts(texts)
        return try core { try store.insert(texts: t, kind: value.kindCode, payload: value.payload, vector: vector) }
    }

    private func updateDoc(_ id: Int64, texts: TextDoc.Texts?, value: (any VaultValueConvertible)?, vector: Data?) throws {
        let t = try texts.map(orderedTexts)
        let v = try coreValue(value)
        try core { try store.update(id: id, texts: t, value: v, vector: vector) }
    }

    private func hybrid(query: String?, vector: Data?, k: Int, textWeight: Double, vectorWeight: Double, rrfK: Int,
                        candidates: Int?, decoded: Bool) throws -> [TextHit] {
        let k32 = try searchK(k)
        guard rrfK >= 0, rrfK <= Int(UInt32.max) else {
            throw KohakuVaultError.invalidArgument("rrf_k must be between 0 and \(UInt32.max), got \(rrfK)")
        }
        if let c = candidates, c < 0 {
            throw KohakuVaultError.invalidArgument("candidates must be non-negative, got \(c)")
        }
        let req = KohakuVaultCore.HybridRequest(query: query, vector: vector, k: k32, textWeight: textWeight, vectorWeight: vectorWeight,
                                rrfK: UInt32(rrfK), candidates: candidates.map { UInt32(clamping: $0) },
                                decoded: decoded)
        let h = try core { try store.hybridSearch(request: req) }
        return try TextBuffers.unpackHits(h, texts: .none)
    }

    private func vectorSearch(_ row: Data, k: Int, decoded: Bool) throws -> [TextHit] {
        let k32 = try searchK(k)
        let h = try core { try store.searchByVector(vector: row, k: k32, decoded: decoded) }
        return try TextBuffers.unpackHits(h, texts: .none)
    }
}

/// The text buffers of the TextVault calls (docs/FORMAT.md §4 and §8), written and read here.
enum TextBuffers {
    /// What `TextHits.texts` holds.
    enum Texts {
        case none
        /// Every column of every hit, in column order.
        case columns([String])
        /// One snippet per hit, of this column.
        case snippet(String)
    }

    /// Strings as (n × u32 LE UTF-8 lengths, concatenated UTF-8).
    static func packStrings(_ strings: [String]) throws -> (Data, Data) {
        var lens = Data(capacity: 4 * strings.count)
        var all = Data(capacity: strings.reduce(0) { $0 + $1.utf8.count })
        for var s in strings {
            ByteWriter.append(&lens, u32: try ByteWriter.length(s.utf8.count, "text"))
            s.withUTF8 { all.append($0) }
        }
        return (lens, all)
    }

    /// `TextHits`: ids (i64 LE), scores (f64 LE), values (`[kind u8][u32 LE len][payload]`) and
    /// texts (`[u32 LE len][UTF-8]` each, as `texts` says).
    static func unpackHits(_ h: KohakuVaultCore.TextHits, texts: Texts) throws -> [TextHit] {
        guard h.ids.count % 8 == 0, h.scores.count == h.ids.count else {
            throw KohakuVaultError.corrupt("search returned \(h.ids.count) id bytes and \(h.scores.count) score bytes")
        }
        let n = h.ids.count / 8
        let ids = VectorBuffers.int64s(h.ids, count: n)
        let sb = h.scores.startIndex
        var values = Buffers.Reader(h.values)
        var strings = Buffers.Reader(h.texts)
        func string() throws -> String {
            let b = try strings.bytes(Int(try strings.u32()))
            return String(decoding: b, as: UTF8.self)
        }
        var out: [TextHit] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            let score = Double(bitPattern: ByteReader.u64(h.scores, at: sb + 8 * i))
            var t: [String: String]?
            switch texts {
            case .none: t = nil
            case .columns(let cols):
                var m: [String: String] = [:]
                for c in cols { m[c] = try string() }
                t = m
            case .snippet(let col):
                t = [col: try string()]
            }
            out.append(TextHit(id: ids[i], score: score, value: try values.tagged(), texts: t))
        }
        guard values.atEnd, strings.atEnd else { throw KohakuVaultError.corrupt("search returned more values than hits") }
        return out
    }
}
