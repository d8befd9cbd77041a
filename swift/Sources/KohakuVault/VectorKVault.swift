import Foundation
import KohakuVaultCore

/// Exact k-nearest-neighbour search over vectors in one SQLite file (a sqlite-vec `vec0` table,
/// docs/FORMAT.md §7), each vector with a value and optional metadata; byte-compatible with the
/// Python and Kotlin bindings (`VectorKVault` there too).
///
///     let vault = try VectorKVault(path: "data.db", dimensions: 384)            // cosine, f32
///     let id = try vault.insert(embedding, value: "a text", metadata: ["lang": "en"])
///     let hits = try vault.search(query, k: 5)                                  // nearest first
///     let en = try vault.search(query, k: 5, filter: .metadata(["lang": "en"]))
///     try vault.close()
///
/// Vectors are `[Float]` for `.f32` vaults; `Data` is a vector as its stored row, for every type:
/// one byte per dimension (two's complement) for `.int8`, packed bits (`dimensions / 8` bytes,
/// element 0 in the top bit of byte 0) for `.bit`, `dimensions × 4` little-endian bytes for `.f32`
/// (`VectorRows` converts). The core checks every vector (length, finite values) and normalises
/// cosine vectors before storing them. Values are what `KVault` stores (`String`, `Data`, ints,
/// `PlainValue`, `TaggedValue`, ...), and come back as `TaggedValue`s; metadata is a map of
/// string keys to `PlainValue`s, stored as msgpack.
///
/// Ids are the table's row ids: 1, 2, … in a fresh table, never reused. Batches
/// (`insert(contentsOf:)`, `search(many:)`) are one crossing and one transaction or snapshot.
///
/// Every throwing member throws `KohakuVaultError`; nothing traps on an error the caller can
/// cause; a closed vault throws `.closed` from every throwing member. Async variants are in
/// `VectorKVault+Async.swift`, the value types in `VectorTypes.swift`.
///
/// `Sendable`: every stored property is immutable and the core object locks internally, so one
/// vault may be searched and written by several threads and tasks at once.
public final class VectorKVault: Sendable, CustomStringConvertible {
    /// Called when `deinit` closes a vault that was not closed and the close fails. `deinit`
    /// cannot throw: this hook is the only place such an error surfaces. The default writes one
    /// line to standard error; set `nil` to ignore such errors. Arguments: the vault's path and
    /// the error.
    public static var onDeinitCloseError: (@Sendable (String, KohakuVaultError) -> Void)? {
        get { deinitHook.value }
        set { deinitHook.value = newValue }
    }

    private static let deinitHook = VaultDeinit.defaultHook("VectorKVault")

    let store: VectorStore
    public let options: OpenOptions
    /// Elements per vector.
    public let dimensions: Int
    public let metric: VectorMetric
    public let vectorType: VectorType
    /// Bytes of one stored row (a `Data` vector has exactly this many).
    public let rowBytes: Int

    /// Opens (creating if needed) the vector table `table` of the file at `path`. Valid pairs:
    /// `.cosine` with `.f32`; `.l2`/`.l1` with `.f32` or `.int8`; `.hamming` with `.bit`
    /// (`dimensions` a multiple of 8). An existing table must have the same dimensions, metric and
    /// type (`.invalidArgument` naming both otherwise).
    public init(path: String, table: String = "vec_kvault", dimensions: Int, metric: VectorMetric = .cosine,
                type: VectorType = .f32, options: OpenOptions = OpenOptions()) throws {
        let dims32 = try coreDimensions(dimensions)
        let s = try core {
            try VectorStore(path: path, table: table, dimensions: dims32, metric: metric.rawValue,
                            vectorType: type.rawValue, options: options.core)
        }
        store = s
        self.options = options
        self.dimensions = Int(s.dimensions())
        self.metric = VectorMetric(rawValue: s.metric()) ?? metric
        vectorType = VectorType(rawValue: s.vectorType()) ?? type
        rowBytes = Int(s.rowBytes())
    }

    /// Opens the vector table at a file URL.
    public convenience init(url: URL, table: String = "vec_kvault", dimensions: Int, metric: VectorMetric = .cosine,
                            type: VectorType = .f32, options: OpenOptions = OpenOptions()) throws {
        try self.init(path: url.path, table: table, dimensions: dimensions, metric: metric, type: type,
                      options: options)
    }

    deinit {
        VaultDeinit.close(store, hook: VectorKVault.onDeinitCloseError)
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
        "VectorKVault(path: \(path), table: \(table), dimensions: \(dimensions), metric: \(metric.rawValue), "
            + "type: \(vectorType.rawValue))"
    }

    // MARK: - Insert

    /// Stores a float32 vector (an `.f32` vault) with `value` and optional `metadata`, in one
    /// transaction; returns the new row's id.
    @discardableResult
    public func insert<V: VaultValueConvertible>(_ vector: [Float], value: V,
                                                 metadata: [String: PlainValue]? = nil) throws -> Int64 {
        try insertRow(try row(vector), value: try value.vaultValue(), metadata: metadata)
    }

    /// Stores a vector given as its stored row (any type; `rowBytes` bytes) with `value` and
    /// optional `metadata`, in one transaction; returns the new row's id.
    @discardableResult
    public func insert<V: VaultValueConvertible>(_ vector: Data, value: V,
                                                 metadata: [String: PlainValue]? = nil) throws -> Int64 {
        try insertRow(vector, value: try value.vaultValue(), metadata: metadata)
    }

    /// Stores n float32 vectors with their values (and metadata, one entry per vector, nil for
    /// none) in one crossing and one transaction; returns the n ids in order. Nothing is stored
    /// when any row is bad.
    @discardableResult
    public func insert(contentsOf vectors: [[Float]], values: [any VaultValueConvertible],
                       metadata: [[String: PlainValue]?]? = nil) throws -> [Int64] {
        var rows = Data(capacity: vectors.count * rowBytes)
        for v in vectors { try appendRow(v, to: &rows) }
        return try insertRows(rows, count: vectors.count, values: values, metadata: metadata)
    }

    /// Stores n vectors given as stored rows (each `rowBytes` bytes) with their values (and
    /// metadata) in one crossing and one transaction; returns the n ids in order.
    @discardableResult
    public func insert(contentsOf vectors: [Data], values: [any VaultValueConvertible],
                       metadata: [[String: PlainValue]?]? = nil) throws -> [Int64] {
        try insertRows(try concatenate(vectors), count: vectors.count, values: values, metadata: metadata)
    }

    /// Stores (vector, value) pairs in one crossing and one transaction; returns the ids in order.
    @discardableResult
    public func insert(contentsOf items: [([Float], any VaultValueConvertible)]) throws -> [Int64] {
        try insert(contentsOf: items.map(\.0), values: items.map(\.1))
    }

    /// Stores (stored row, value) pairs in one crossing and one transaction; returns the ids in order.
    @discardableResult
    public func insert(contentsOf items: [(Data, any VaultValueConvertible)]) throws -> [Int64] {
        try insert(contentsOf: items.map(\.0), values: items.map(\.1))
    }

    // MARK: - Search

    /// The `k` rows nearest to `query` (an `.f32` vault), nearest first (ties by id), among those
    /// `filter` admits; fewer when fewer rows match. `k` = 0 gives no hits; `k` above 1,000,000
    /// throws `.invalidArgument`. With `decoded` false the values come back as stored (kind raw).
    public func search(_ query: [Float], k: Int = 10, filter: VectorFilter? = nil,
                       decoded: Bool = true) throws -> [VectorHit] {
        try searchRows(try row(query), count: 1, k: k, filter: filter, decoded: decoded)[0]
    }

    /// `search` with the query given as a stored row (any type).
    public func search(_ query: Data, k: Int = 10, filter: VectorFilter? = nil,
                       decoded: Bool = true) throws -> [VectorHit] {
        try searchRows(query, count: 1, k: k, filter: filter, decoded: decoded)[0]
    }

    /// The hits of every query (one list per query, in order) in one crossing, from one snapshot.
    public func search(many queries: [[Float]], k: Int = 10, filter: VectorFilter? = nil,
                       decoded: Bool = true) throws -> [[VectorHit]] {
        var rows = Data(capacity: queries.count * rowBytes)
        for q in queries { try appendRow(q, to: &rows) }
        return try searchRows(rows, count: queries.count, k: k, filter: filter, decoded: decoded)
    }

    /// `search(many:)` with the queries given as stored rows.
    public func search(many queries: [Data], k: Int = 10, filter: VectorFilter? = nil,
                       decoded: Bool = true) throws -> [[VectorHit]] {
        try searchRows(try concatenate(queries), count: queries.count, k: k, filter: filter, decoded: decoded)
    }

    /// The value of the row nearest to `query` (among those `filter` admits); `.notFound` when
    /// there is none.
    public func get(_ query: [Float], filter: VectorFilter? = nil) throws -> TaggedValue {
        try nearestValue(try search(query, k: 1, filter: filter))
    }

    /// `get` with the query given as a stored row.
    public func get(_ query: Data, filter: VectorFilter? = nil) throws -> TaggedValue {
        try nearestValue(try search(query, k: 1, filter: filter))
    }

    // MARK: - Rows by id

    /// The row `id`: its stored vector (normalised for cosine), value and metadata; `.notFound`
    /// when missing. With `decoded` false the value comes back as stored (kind raw).
    public func record(id: Int64, decoded: Bool = true) throws -> VectorRecord {
        let r = try core { try store.getById(id: id, decoded: decoded) }
        return VectorRecord(id: id, type: vectorType, vector: r.vector, value: TaggedValue(r.value),
                            metadata: try r.metadata.map(VectorMetadata.decode))
    }

    /// Replaces the vector of row `id` (and its value and metadata when given), in one
    /// transaction; `.notFound` when missing.
    public func update(_ id: Int64, vector: [Float], value: (any VaultValueConvertible)? = nil,
                       metadata: [String: PlainValue]? = nil) throws {
        try updateRow(id, vector: try row(vector), value: value, metadata: metadata)
    }

    /// `update` with the vector given as a stored row.
    public func update(_ id: Int64, vector: Data, value: (any VaultValueConvertible)? = nil,
                       metadata: [String: PlainValue]? = nil) throws {
        try updateRow(id, vector: vector, value: value, metadata: metadata)
    }

    /// Replaces the value and/or the metadata of row `id` (at least one; `.invalidArgument`
    /// otherwise), in one transaction; `.notFound` when missing.
    public func update(_ id: Int64, value: (any VaultValueConvertible)? = nil,
                       metadata: [String: PlainValue]? = nil) throws {
        try updateRow(id, vector: nil, value: value, metadata: metadata)
    }

    /// Deletes row `id`; false when it did not exist. Its id is never reused.
    @discardableResult
    public func delete(_ id: Int64) throws -> Bool {
        try core { try store.delete(id: id) }
    }

    public func contains(_ id: Int64) throws -> Bool {
        try core { try store.exists(id: id) }
    }

    /// Number of rows.
    public func count() throws -> Int {
        Int(clamping: try core { try store.count() })
    }

    /// Every id, ascending.
    public func ids() throws -> [Int64] {
        let buf = try core { try store.ids() }
        guard buf.count % 8 == 0 else { throw KohakuVaultError.corrupt("ids() returned \(buf.count) bytes") }
        return VectorBuffers.int64s(buf, count: buf.count / 8)
    }

    // MARK: - Maintenance

    public func info() throws -> VectorInfo {
        VectorInfo(try core { try store.info() })
    }

    /// Rewrites the table without the slots of deleted vectors; returns the slots reclaimed.
    @discardableResult
    public func compact() throws -> Int {
        Int(clamping: try core { try store.compact() })
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

    /// Throws the core's own closed error when the vault is closed (for members that would
    /// otherwise return without crossing, such as an empty batch).
    func ensureOpen() throws {
        if store.isClosed() { _ = try core { try store.count() } }
    }

    /// The stored row of a float32 vector; `.invalidArgument` for another vault type or length.
    private func row(_ v: [Float]) throws -> Data {
        var d = Data(capacity: rowBytes)
        try appendRow(v, to: &d)
        return d
    }

    /// Appends the stored row of a float32 vector to a batch buffer (one copy).
    private func appendRow(_ v: [Float], to d: inout Data) throws {
        try VectorRows.append(v, to: &d, dimensions: dimensions, type: vectorType)
    }

    /// Rows concatenated, each checked to be `rowBytes` long (a batch buffer has no row lengths).
    private func concatenate(_ rows: [Data]) throws -> Data {
        var d = Data(capacity: rows.count * rowBytes)
        for r in rows { try VectorRows.append(row: r, to: &d, rowBytes: rowBytes) }
        return d
    }

    private func insertRow(_ vector: Data, value: TaggedValue, metadata: [String: PlainValue]?) throws -> Int64 {
        let meta = try metadata.map(VectorMetadata.msgpack)
        return try core { try store.insert(vector: vector, kind: value.kindCode, payload: value.payload, metadata: meta) }
    }

    private func insertRows(_ rows: Data, count n: Int, values: [any VaultValueConvertible],
                            metadata: [[String: PlainValue]?]?) throws -> [Int64] {
        guard values.count == n else {
            throw KohakuVaultError.invalidArgument("\(n) vectors but \(values.count) values")
        }
        if let m = metadata, m.count != n {
            throw KohakuVaultError.invalidArgument("\(n) vectors but \(m.count) metadata entries")
        }
        if n == 0 {
            try ensureOpen()
            return []
        }
        let cols = try RowBuffers.packValues(try values.map { try $0.vaultValue() })
        var metaLens = Data(), metas = Data()
        if let m = metadata, m.contains(where: { $0 != nil }) {
            (metaLens, metas) = try RowBuffers.packVar(try m.map { try $0.map(VectorMetadata.msgpack) ?? Data() })
        }
        let buf = try core {
            try store.insertMany(vectors: rows, kinds: cols.kinds, valueLens: cols.lens, payloads: cols.payloads,
                                 metaLens: metaLens, metas: metas)
        }
        guard buf.count == 8 * n else {
            throw KohakuVaultError.corrupt("insert_many returned \(buf.count / 8) ids for \(n) vectors")
        }
        return VectorBuffers.int64s(buf, count: n)
    }

    private func searchRows(_ rows: Data, count m: Int, k: Int, filter: VectorFilter?,
                            decoded: Bool) throws -> [[VectorHit]] {
        let k32 = try searchK(k)
        let f = try filter?.coreFilter()
        if m == 0 {
            try ensureOpen()
            return []
        }
        let hits = try core {
            try store.search(queries: rows, k: k32, metric: nil, filter: f, decoded: decoded)
        }
        return try VectorBuffers.unpackHits(hits, queries: m)
    }

    private func updateRow(_ id: Int64, vector: Data?, value: (any VaultValueConvertible)?,
                           metadata: [String: PlainValue]?) throws {
        let v = try coreValue(value)
        let meta = try metadata.map(VectorMetadata.msgpack)
        try core { try store.update(id: id, vector: vector, value: v, metadata: meta) }
    }

    private func nearestValue(_ hits: [VectorHit]) throws -> TaggedValue {
        guard let h = hits.first else { throw KohakuVaultError.notFound("No vectors found in database") }
        return h.value
    }
}

/// The result buffers of the vector calls (read with the package's one reader).
enum VectorBuffers {
    /// `count` i64 LE values.
    static func int64s(_ d: Data, count: Int) -> [Int64] {
        let base = d.startIndex
        return (0..<count).map { Int64(bitPattern: ByteReader.u64(d, at: base + 8 * $0)) }
    }

    /// `VectorHits` of `m` queries: counts (u32 LE per query), then per hit its id (i64 LE), its
    /// distance (f32 LE) and its value (`[kind u8][u32 LE len][payload]`).
    static func unpackHits(_ h: KohakuVaultCore.VectorHits, queries m: Int) throws -> [[VectorHit]] {
        guard h.counts.count == 4 * m else {
            throw KohakuVaultError.corrupt("search returned \(h.counts.count / 4) hit counts for \(m) queries")
        }
        let cb = h.counts.startIndex
        let counts = (0..<m).map { Int(ByteReader.u32(h.counts, at: cb + 4 * $0)) }
        let total = counts.reduce(0, +)
        guard h.ids.count == 8 * total, h.distances.count == 4 * total else {
            throw KohakuVaultError.corrupt("search returned a short hit buffer")
        }
        let ib = h.ids.startIndex, db = h.distances.startIndex
        var values = Buffers.Reader(h.values)
        var out: [[VectorHit]] = []
        out.reserveCapacity(m)
        var j = 0
        for c in counts {
            var hits: [VectorHit] = []
            hits.reserveCapacity(c)
            for _ in 0..<c {
                hits.append(VectorHit(id: Int64(bitPattern: ByteReader.u64(h.ids, at: ib + 8 * j)),
                                      distance: Float(bitPattern: ByteReader.u32(h.distances, at: db + 4 * j)),
                                      value: try values.tagged()))
                j += 1
            }
            out.append(hits)
        }
        guard values.atEnd else { throw KohakuVaultError.corrupt("search returned more values than hits") }
        return out
    }
}
