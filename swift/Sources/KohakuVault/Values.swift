import Foundation
import KohakuVaultCore

// MARK: - Value kinds (docs/FORMAT.md §2)

/// The kind codes of the FFI value model. The core turns (kind, payload) into stored bytes and back.
public enum ValueKind: UInt8, CaseIterable, Sendable {
    case raw = 0
    case pickle = 1
    case json = 3
    case msgpack = 4
    case cbor = 5
    case utf8 = 6
    case int = 16
    case float = 17
    case bool = 18
    case ndarray = 19
    case numpyScalar = 20
}

/// ndarray element types (docs/FORMAT.md §2).
public enum NDArrayDType: UInt8, Sendable {
    case float32 = 0x01
    case float64 = 0x02
    case int32 = 0x03
    case int64 = 0x04
    case uint8 = 0x05
    case uint16 = 0x06
    case uint32 = 0x07
    case uint64 = 0x08
    case int8 = 0x09
    case int16 = 0x0A
    case bool = 0x0B
    case float16 = 0x0C

    public var elementSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16, .float16: return 2
        case .float32, .int32, .uint32: return 4
        case .float64, .int64, .uint64: return 8
        }
    }
}

// MARK: - Keys

/// Anything usable as a key: `String` (UTF-8), `Data`, `[UInt8]`, `Substring`.
public protocol VaultKey {
    var vaultKeyBytes: Data { get }
}

extension String: VaultKey {
    public var vaultKeyBytes: Data { Data(utf8) }
}

extension Substring: VaultKey {
    public var vaultKeyBytes: Data { Data(utf8) }
}

extension Data: VaultKey {
    public var vaultKeyBytes: Data { self }
}

extension Array: VaultKey where Element == UInt8 {
    public var vaultKeyBytes: Data { Data(self) }
}

// MARK: - Values

/// A decoded value as the core exchanges it: a kind code (docs/FORMAT.md §2) and its payload.
/// The same name in every language (Python, Kotlin and the generated `KohakuVaultCore.TaggedValue`).
/// A pickle value (kind 1, written by Python) is kept as it is; its typed accessors throw
/// `.unsupportedEncoding`, since only Python can decode pickle.
public struct TaggedValue: Equatable, Hashable, Sendable {
    /// The kind code (docs/FORMAT.md §2); see `valueKind` for the typed view.
    public var kindCode: UInt8
    public var payload: Data

    public init(kindCode: UInt8, payload: Data) {
        self.kindCode = kindCode
        self.payload = payload
    }

    public init(kind: ValueKind, payload: Data) {
        self.init(kindCode: kind.rawValue, payload: payload)
    }

    /// The kind, or nil for a code this facade does not know.
    public var valueKind: ValueKind? { ValueKind(rawValue: kindCode) }

    init(_ core: KohakuVaultCore.TaggedValue) {
        self.init(kindCode: core.kind, payload: core.payload)
    }

    private func mismatch(_ wanted: String) -> KohakuVaultError {
        if kindCode == ValueKind.pickle.rawValue {
            return .unsupportedEncoding("value is a Python pickle (kind 1), which only Python can decode; "
                                        + "read it with value(forKey:) or storedBytes(forKey:)")
        }
        let have = valueKind.map { "\($0)" } ?? "kind \(kindCode)"
        return .invalidArgument("value is \(have), not \(wanted)")
    }

    /// The bytes of a raw value.
    public func data() throws -> Data {
        guard kindCode == ValueKind.raw.rawValue else { throw mismatch("raw bytes") }
        return payload
    }

    /// The text of a UTF-8 value (JSON text is returned as text too).
    public func string() throws -> String {
        guard kindCode == ValueKind.utf8.rawValue || kindCode == ValueKind.json.rawValue else {
            throw mismatch("text")
        }
        guard let s = String(data: payload, encoding: .utf8) else {
            throw KohakuVaultError.corrupt("text value is not valid UTF-8")
        }
        return s
    }

    /// An integer value that fits in `Int64`.
    public func int64() throws -> Int64 {
        guard kindCode == ValueKind.int.rawValue else { throw mismatch("int") }
        return try IntCodec.decode(payload)
    }

    /// A float value (an int value is converted, like Python's float()).
    public func double() throws -> Double {
        if kindCode == ValueKind.int.rawValue { return Double(try IntCodec.decode(payload)) }
        guard kindCode == ValueKind.float.rawValue else { throw mismatch("float") }
        guard payload.count == 8 else { throw KohakuVaultError.corrupt("float payload is \(payload.count) bytes, not 8") }
        return Double(bitPattern: ByteReader.u64(payload, at: payload.startIndex))
    }

    public func bool() throws -> Bool {
        guard kindCode == ValueKind.bool.rawValue else { throw mismatch("bool") }
        guard payload.count == 1, payload[payload.startIndex] <= 1 else {
            throw KohakuVaultError.corrupt("bool payload must be one byte 0 or 1")
        }
        return payload[payload.startIndex] == 1
    }

    /// An ndarray (or numpy scalar) value.
    public func ndarray() throws -> NDArray {
        guard kindCode == ValueKind.ndarray.rawValue || kindCode == ValueKind.numpyScalar.rawValue else {
            throw mismatch("ndarray")
        }
        return try NDArray(payload: payload)
    }

    public func floatArray() throws -> (values: [Float], shape: [Int]) {
        let a = try ndarray()
        return (try a.floats(), a.shape)
    }

    public func doubleArray() throws -> (values: [Double], shape: [Int]) {
        let a = try ndarray()
        return (try a.doubles(), a.shape)
    }

    /// A plain structured value (msgpack, or json/cbor transcoded to msgpack by the core).
    public func plain() throws -> PlainValue {
        let mp: Data
        switch valueKind {
        case .msgpack?: mp = payload
        case .json?, .cbor?:
            mp = try core { try transcode(fromKind: kindCode, toKind: ValueKind.msgpack.rawValue, payload: payload) }
        default: throw mismatch("msgpack/json/cbor")
        }
        return try PlainValue.fromMsgpack(mp)
    }
}

/// Types that a vault stores with a natural kind.
public protocol VaultValueConvertible {
    func vaultValue() throws -> TaggedValue
}

extension TaggedValue: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { self }
}

extension Data: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .raw, payload: self) }
}

extension Array: VaultValueConvertible where Element == UInt8 {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .raw, payload: Data(self)) }
}

extension String: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .utf8, payload: Data(utf8)) }
}

extension Substring: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .utf8, payload: Data(utf8)) }
}

extension Int64: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .int, payload: IntCodec.encode(self)) }
}

extension Int: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .int, payload: IntCodec.encode(Int64(self))) }
}

extension Int32: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .int, payload: IntCodec.encode(Int64(self))) }
}

extension UInt64: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .int, payload: IntCodec.encode(self)) }
}

extension Double: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue {
        var d = Data(capacity: 8)
        ByteWriter.append(&d, u64: bitPattern)
        return TaggedValue(kind: .float, payload: d)
    }
}

extension Float: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { try Double(self).vaultValue() }
}

extension Bool: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .bool, payload: Data([self ? 1 : 0])) }
}

extension PlainValue: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue { TaggedValue(kind: .msgpack, payload: try msgpack()) }
}

extension NDArray: VaultValueConvertible {
    public func vaultValue() throws -> TaggedValue {
        TaggedValue(kind: shape.isEmpty ? .numpyScalar : .ndarray, payload: payload)
    }
}

// MARK: - Integers: signed little-endian two's complement of any length

enum IntCodec {
    /// The shortest two's-complement encoding (at least one byte).
    static func encode(_ v: Int64) -> Data {
        var bytes = withUnsafeBytes(of: v.littleEndian) { Array($0) }
        while bytes.count > 1 {
            let last = bytes[bytes.count - 1], prevNeg = bytes[bytes.count - 2] & 0x80 != 0
            if (last == 0x00 && !prevNeg) || (last == 0xFF && prevNeg) {
                bytes.removeLast()
            } else {
                break
            }
        }
        return Data(bytes)
    }

    static func encode(_ v: UInt64) -> Data {
        if v <= UInt64(Int64.max) { return encode(Int64(v)) }
        var bytes = withUnsafeBytes(of: v.littleEndian) { Array($0) }
        bytes.append(0) // keep it positive
        return Data(bytes)
    }

    static func decode(_ payload: Data) throws -> Int64 {
        let b = [UInt8](payload)
        guard !b.isEmpty else { throw KohakuVaultError.corrupt("empty int payload") }
        let negative = b[b.count - 1] & 0x80 != 0
        if b.count > 8 {
            let fill: UInt8 = negative ? 0xFF : 0x00
            guard b[8...].allSatisfy({ $0 == fill }), (b[7] & 0x80 != 0) == negative else {
                throw KohakuVaultError.invalidArgument("integer value does not fit in Int64")
            }
        }
        var u: UInt64 = negative ? UInt64.max : 0
        for i in 0..<min(8, b.count) {
            u &= ~(UInt64(0xFF) << (8 * UInt64(i)))
            u |= UInt64(b[i]) << (8 * UInt64(i))
        }
        return Int64(bitPattern: u)
    }
}

// MARK: - ndarray

/// An n-dimensional array in the core's layout: `[dtype u8][ndim u8][dim u32 LE]*ndim[data LE, C order]`.
public struct NDArray: Equatable, Hashable, Sendable {
    public var dtype: NDArrayDType
    public var shape: [Int]
    /// Little-endian element bytes in C order.
    public var data: Data

    public init(dtype: NDArrayDType, shape: [Int], data: Data) throws {
        let n = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }), shape.count <= 255 else {
            throw KohakuVaultError.invalidArgument("invalid ndarray shape \(shape)")
        }
        guard n * dtype.elementSize == data.count else {
            throw KohakuVaultError.invalidArgument(
                "ndarray shape \(shape) needs \(n * dtype.elementSize) bytes of \(dtype), got \(data.count)")
        }
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    public init(_ values: [Float], shape: [Int]? = nil) throws {
        var d = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        try self.init(dtype: .float32, shape: shape ?? [values.count], data: d)
    }

    public init(_ values: [Double], shape: [Int]? = nil) throws {
        var d = Data(capacity: values.count * 8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        try self.init(dtype: .float64, shape: shape ?? [values.count], data: d)
    }

    public init(payload: Data) throws {
        let p = [UInt8](payload)
        guard p.count >= 2, let dt = NDArrayDType(rawValue: p[0]) else {
            throw KohakuVaultError.corrupt("bad ndarray header")
        }
        let ndim = Int(p[1])
        guard p.count >= 2 + 4 * ndim else { throw KohakuVaultError.corrupt("truncated ndarray shape") }
        var shape: [Int] = []
        for i in 0..<ndim {
            let o = 2 + 4 * i
            shape.append(Int(UInt32(p[o]) | UInt32(p[o + 1]) << 8 | UInt32(p[o + 2]) << 16 | UInt32(p[o + 3]) << 24))
        }
        do {
            try self.init(dtype: dt, shape: shape, data: Data(p[(2 + 4 * ndim)...]))
        } catch {
            throw KohakuVaultError.corrupt("ndarray data does not match its shape")
        }
    }

    /// The core's payload bytes.
    public var payload: Data {
        var d = Data([dtype.rawValue, UInt8(shape.count)])
        for s in shape { withUnsafeBytes(of: UInt32(s).littleEndian) { d.append(contentsOf: $0) } }
        d.append(data)
        return d
    }

    public var count: Int { shape.reduce(1, *) }

    public func floats() throws -> [Float] {
        guard dtype == .float32 else { throw KohakuVaultError.invalidArgument("ndarray is \(dtype), not float32") }
        let base = data.startIndex
        return (0..<count).map { Float(bitPattern: ByteReader.u32(data, at: base + 4 * $0)) }
    }

    public func doubles() throws -> [Double] {
        switch dtype {
        case .float64:
            let base = data.startIndex
            return (0..<count).map { Double(bitPattern: ByteReader.u64(data, at: base + 8 * $0)) }
        case .float32:
            return try floats().map(Double.init)
        default:
            throw KohakuVaultError.invalidArgument("ndarray is \(dtype), not float64")
        }
    }
}
