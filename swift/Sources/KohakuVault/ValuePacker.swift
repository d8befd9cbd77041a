import Foundation
import KohakuVaultCore

/// A thin wrapper of the core's `DataPacker` (REFERENCE.md §1.7, dtype grammar §2.1): packs values
/// into fixed- or variable-size binary records (`"i64"`, `"f64"`, `"str:32"`, `"bytes"`,
/// `"msgpack"`, `"vec:f32:3"`, ...). Named `ValuePacker` so it does not clash with the generated
/// `DataPacker` when both modules are imported.
public final class ValuePacker: @unchecked Sendable {
    /// The generated core object.
    public let packer: DataPacker

    public init(dtype: String) throws {
        packer = try core { try DataPacker(dtype: dtype) }
    }

    /// A MessagePack packer validating against a JSON Schema (given as JSON text).
    public init(jsonSchema: String) throws {
        packer = try core { try DataPacker.withJsonSchema(schemaJson: jsonSchema) }
    }

    /// A CBOR packer (the CDDL schema is kept but not enforced, as in 1.1.0).
    public init(cddlSchema: String? = nil) {
        packer = DataPacker.withCddlSchema(schema: cddlSchema)
    }

    public var dtype: String { packer.dtype() }
    public var describe: String { packer.describe() }
    /// Bytes per item; 0 for variable-size dtypes.
    public var elementSize: Int { Int(packer.elemSize()) }
    public var isVariableSize: Bool { packer.isVarsize() }

    public func pack<V: VaultValueConvertible>(_ value: V) throws -> Data {
        let v = try value.vaultValue()
        return try core { try packer.pack(kind: v.kindCode, payload: v.payload) }
    }

    /// The concatenation of the packed values (no delimiters).
    public func packMany(_ values: [any VaultValueConvertible]) throws -> Data {
        var items = Data()
        for value in values {
            let v = try value.vaultValue()
            guard v.payload.count <= Int(UInt32.max) else { throw KohakuVaultError.invalidArgument("value too large") }
            items.append(v.kindCode)
            ByteWriter.append(&items, u32: UInt32(v.payload.count))
            items.append(v.payload)
        }
        return try core { try packer.packMany(items: items) }
    }

    public func unpack(_ data: Data, offset: Int = 0) throws -> StoredValue {
        guard offset >= 0 else { throw KohakuVaultError.invalidArgument("offset must be non-negative") }
        let tv = try core { try packer.unpack(data: data, offset: UInt64(offset)) }
        return StoredValue(kindCode: tv.kind, payload: tv.payload)
    }

    /// Fixed-size dtypes need `count`; variable-size ones need `offsets` (start positions).
    public func unpackMany(_ data: Data, count: Int? = nil, offsets: [Int]? = nil) throws -> [StoredValue] {
        if let c = count, c < 0 { throw KohakuVaultError.invalidArgument("count must be non-negative") }
        if let o = offsets, o.contains(where: { $0 < 0 }) {
            throw KohakuVaultError.invalidArgument("offsets must be non-negative")
        }
        let buf = try core {
            try packer.unpackMany(data: data, count: count.map { UInt64($0) }, offsets: offsets?.map { UInt64($0) })
        }
        var r = Buffers.Reader(buf)
        var out: [StoredValue] = []
        while !r.atEnd {
            let kind = try r.u8()
            let payload = try r.bytes(Int(try r.u32()))
            out.append(StoredValue(kindCode: kind, payload: payload))
        }
        return out
    }
}
