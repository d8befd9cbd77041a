import Foundation
import KohakuVaultCore

/// Packs values into fixed- or variable-size binary records (`"i64"`, `"f64"`, `"str:32"`,
/// `"bytes"`, `"msgpack"`, `"vec:f32:3"`, ...), 1.1.0's `DataPacker` (docs/COMPATIBILITY.md §2;
/// grammar and bytes in docs/FORMAT.md). The dtype grammar is parsed once, in the Rust core; this
/// facade never looks inside dtype strings (`valueKind` and `elementDType` come from the core).
/// The core object is thread-safe and every stored property is immutable, hence `Sendable`.
public final class DataPacker: Sendable {
    let packer: KohakuVaultCore.DataPacker

    public init(dtype: String) throws {
        packer = try core { try KohakuVaultCore.DataPacker(dtype: dtype) }
    }

    /// A MessagePack packer validating against a JSON Schema (given as JSON text).
    public init(jsonSchema: String) throws {
        packer = try core { try KohakuVaultCore.DataPacker.withJsonSchema(schemaJson: jsonSchema) }
    }

    /// A CBOR packer (the CDDL schema is kept but not enforced, as in 1.1.0).
    public init(cddlSchema: String? = nil) {
        packer = KohakuVaultCore.DataPacker.withCddlSchema(schema: cddlSchema)
    }

    public var dtype: String { packer.dtype() }
    public var describe: String { packer.describe() }
    /// Bytes per item; 0 for variable-size dtypes.
    public var elementSize: Int { Int(packer.elemSize()) }
    public var isVariableSize: Bool { packer.isVarsize() }
    /// The kind code `pack` takes and `unpack` returns (16 int, 17 float, 6 utf8, 0 raw,
    /// 4 msgpack — CBOR packers take msgpack too —, 19 ndarray).
    public var valueKindCode: UInt8 { packer.valueKind() }
    /// `valueKindCode` as a `ValueKind`, nil for a code this facade does not know.
    public var valueKind: ValueKind? { ValueKind(rawValue: valueKindCode) }
    /// A vector packer's element type (docs/FORMAT.md §2), else nil.
    public var elementDType: NDArrayDType? { packer.elemDtype().flatMap { NDArrayDType(rawValue: $0) } }

    public func pack<V: VaultValueConvertible>(_ value: V) throws -> Data {
        let v = try value.vaultValue()
        return try core { try packer.pack(kind: v.kindCode, payload: v.payload) }
    }

    /// The concatenation of the packed values (no delimiters).
    public func packMany(_ values: [any VaultValueConvertible]) throws -> Data {
        let items = try Buffers.packTagged(try values.map { try $0.vaultValue() })
        return try core { try packer.packMany(items: items) }
    }

    public func unpack(_ data: Data, offset: Int = 0) throws -> TaggedValue {
        guard offset >= 0 else { throw KohakuVaultError.invalidArgument("offset must be non-negative") }
        return TaggedValue(try core { try packer.unpack(data: data, offset: UInt64(offset)) })
    }

    /// Fixed-size dtypes need `count`; variable-size ones need `offsets` (start positions).
    public func unpackMany(_ data: Data, count: Int? = nil, offsets: [Int]? = nil) throws -> [TaggedValue] {
        if let c = count, c < 0 { throw KohakuVaultError.invalidArgument("count must be non-negative") }
        if let o = offsets, o.contains(where: { $0 < 0 }) {
            throw KohakuVaultError.invalidArgument("offsets must be non-negative")
        }
        let buf = try core {
            try packer.unpackMany(data: data, count: count.map { UInt64($0) }, offsets: offsets?.map { UInt64($0) })
        }
        return try Buffers.unpackTagged(buf)
    }
}
