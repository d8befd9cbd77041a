import Foundation
import KohakuVaultCore

// The public value types of `VectorKVault` (never the generated ones).

/// The distance a `VectorKVault` ranks by. The raw value is the core's canonical name.
///
/// | metric | distance | vector types |
/// |---|---|---|
/// | `.cosine` | 1 − cos(a, b) (vectors are L2-normalised when stored) | `.f32` |
/// | `.l2` | Euclidean distance | `.f32`, `.int8` |
/// | `.l1` | Σ \|aᵢ − bᵢ\| | `.f32`, `.int8` |
/// | `.hamming` | differing bits | `.bit` |
public enum VectorMetric: String, Sendable, Equatable, Hashable, CaseIterable {
    case cosine
    case l2
    case l1
    case hamming
}

/// How a `VectorKVault` stores each vector (the raw value is the core's canonical name).
public enum VectorType: String, Sendable, Equatable, Hashable, CaseIterable {
    /// `dimensions` float32 values (`[Float]`; as a row, `dimensions × 4` little-endian bytes).
    case f32
    /// `dimensions` signed bytes (a row of `dimensions` bytes, two's complement).
    case int8
    /// `dimensions` bits, packed 8 to a byte, element 0 in the top bit of byte 0 (numpy's
    /// `packbits` order): a row of `dimensions / 8` bytes.
    case bit
}

/// Restricts a search: only rows whose id is in `ids` (when given) and whose metadata holds
/// every field of `metadataEquals` with an equal scalar value (string, integer, float, bool,
/// nil). A filtered search still returns `k` hits whenever at least `k` rows match.
public struct VectorFilter: Sendable, Equatable, Hashable {
    public var ids: [Int64]?
    public var metadataEquals: [String: PlainValue]?

    public init(ids: [Int64]? = nil, metadataEquals: [String: PlainValue]? = nil) {
        self.ids = ids
        self.metadataEquals = metadataEquals
    }

    /// Only the rows `ids`.
    public static func ids(_ ids: [Int64]) -> VectorFilter { VectorFilter(ids: ids) }

    /// Only the rows whose metadata has these fields and values.
    public static func metadata(_ fields: [String: PlainValue]) -> VectorFilter { VectorFilter(metadataEquals: fields) }

    /// The core's filter (the metadata fields as a msgpack map).
    func coreFilter() throws -> KohakuVaultCore.VectorFilter {
        KohakuVaultCore.VectorFilter(ids: ids, metadataEquals: try metadataEquals.map(VectorMetadata.msgpack))
    }
}

/// One hit of a search: the row's id, its distance to the query and its value (decoded as
/// `KVault.value(forKey:)` decodes, or as stored with `decoded: false`).
public struct VectorHit: Sendable, Equatable, Hashable {
    public var id: Int64
    public var distance: Float
    public var value: TaggedValue

    public init(id: Int64, distance: Float, value: TaggedValue) {
        self.id = id
        self.distance = distance
        self.value = value
    }
}

/// One stored row: its vector as stored (normalised for cosine), its value and its metadata.
public struct VectorRecord: Sendable, Equatable, Hashable {
    public var id: Int64
    public var type: VectorType
    /// The stored row (`VectorKVault.rowBytes` bytes).
    public var vector: Data
    public var value: TaggedValue
    /// nil when the row has no metadata.
    public var metadata: [String: PlainValue]?

    public init(id: Int64, type: VectorType, vector: Data, value: TaggedValue, metadata: [String: PlainValue]?) {
        self.id = id
        self.type = type
        self.vector = vector
        self.value = value
        self.metadata = metadata
    }

    /// The vector of an `.f32` row; nil for the other types.
    public var floats: [Float]? { type == .f32 ? VectorRows.floats(vector) : nil }
    /// The vector of an `.int8` row; nil for the other types.
    public var int8s: [Int8]? { type == .int8 ? VectorRows.int8s(vector) : nil }
    /// The vector of a `.bit` row, one Bool per dimension; nil for the other types.
    public var bits: [Bool]? { type == .bit ? VectorRows.bits(vector) : nil }
}

/// A vault's facts, as the core reports them (`metric` and `vectorType` in kohakuvault 1.1.0's
/// spelling: "cosine", "L2", "L1", "hamming"; "float32", "int8", "bit").
public struct VectorInfo: Sendable, Equatable, Hashable {
    public var table: String
    public var dimensions: Int
    public var metric: String
    public var vectorType: String
    public var count: Int
    public var rowBytes: Int
    /// Slots of deleted vectors still allocated in the file (what `compact()` reclaims).
    public var deletedSlots: Int

    init(_ i: KohakuVaultCore.VectorInfo) {
        table = i.table
        dimensions = Int(i.dimensions)
        metric = i.metric
        vectorType = i.vectorType
        count = Int(clamping: i.count)
        rowBytes = Int(i.rowBytes)
        deletedSlots = Int(clamping: i.deletedSlots)
    }
}

/// Conversions between Swift vectors and stored rows (the layouts of `VectorType`).
public enum VectorRows {
    /// float32 values as a row (little-endian).
    public static func row(_ values: [Float]) -> Data {
        var d = Data(capacity: values.count * 4)
        values.withUnsafeBufferPointer { ColumnScalars.Float32.encode($0, into: &d) }
        return d
    }

    /// int8 values as a row (two's complement bytes).
    public static func row(_ values: [Int8]) -> Data {
        var d = Data(capacity: values.count)
        values.withUnsafeBufferPointer { ColumnScalars.Int8.encode($0, into: &d) }
        return d
    }

    /// Bits as a packed row (element 0 in the top bit of byte 0); the count must be a multiple of 8.
    public static func row(bits: [Bool]) throws -> Data {
        guard bits.count % 8 == 0 else {
            throw KohakuVaultError.invalidArgument("Bit vector dimensions must be divisible by 8, got \(bits.count)")
        }
        var d = Data(count: bits.count / 8)
        for (i, b) in bits.enumerated() where b { d[i / 8] |= 0x80 >> UInt8(i % 8) }
        return d
    }

    /// The float32 values of a row (a trailing partial value is ignored).
    public static func floats(_ row: Data) -> [Float] {
        row.withUnsafeBytes { ColumnScalars.Float32.decode($0, count: row.count / 4) }
    }

    /// The int8 values of a row.
    public static func int8s(_ row: Data) -> [Int8] {
        row.withUnsafeBytes { ColumnScalars.Int8.decode($0, count: row.count) }
    }

    /// Appends the stored row of a float32 vector to a batch buffer (one copy), for a vault of
    /// `type` with `dimensions` elements; `.invalidArgument` for another type or length. (The
    /// one check of `[Float]` vectors, shared by `VectorKVault` and `TextVault`.)
    static func append(_ v: [Float], to d: inout Data, dimensions: Int, type: VectorType) throws {
        guard type == .f32 else {
            throw KohakuVaultError.invalidArgument(
                "[Float] vectors need an f32 vault; this one stores \(type.rawValue) vectors (pass rows as Data)")
        }
        guard v.count == dimensions else {
            throw KohakuVaultError.invalidArgument("Expected vector shape (\(dimensions),), got (\(v.count),)")
        }
        v.withUnsafeBufferPointer { ColumnScalars.Float32.encode($0, into: &d) }
    }

    /// Appends a stored row to a batch buffer, checked to be `rowBytes` long (a batch buffer
    /// has no row lengths).
    static func append(row r: Data, to d: inout Data, rowBytes: Int) throws {
        guard r.count == rowBytes else {
            throw KohakuVaultError.invalidArgument("Expected \(rowBytes) vector bytes, got \(r.count)")
        }
        d.append(r)
    }

    /// The bits of a packed row (8 per byte, the top bit first).
    public static func bits(_ row: Data) -> [Bool] {
        var out: [Bool] = []
        out.reserveCapacity(row.count * 8)
        for byte in row {
            for j in 0..<8 { out.append(byte & (0x80 >> UInt8(j)) != 0) }
        }
        return out
    }
}

/// Metadata maps as they cross: a msgpack map of string keys (encoded and decoded by the core).
enum VectorMetadata {
    /// The msgpack bytes of `fields`, keys in sorted order (a stable encoding).
    static func msgpack(_ fields: [String: PlainValue]) throws -> Data {
        let entries = fields.sorted { $0.key < $1.key }.map { PlainValue.Entry(.string($0.key), $0.value) }
        return try PlainValue.map(entries).msgpack()
    }

    /// The map of a stored metadata value.
    static func decode(_ bytes: Data) throws -> [String: PlainValue] {
        guard case .map(let entries) = try PlainValue.fromMsgpack(bytes) else {
            throw KohakuVaultError.corrupt("vector metadata is not a msgpack map")
        }
        var out: [String: PlainValue] = [:]
        for e in entries {
            guard case .string(let k) = e.key else {
                throw KohakuVaultError.corrupt("vector metadata has a key that is not a string: \(e.key)")
            }
            out[k] = e.value
        }
        return out
    }
}
