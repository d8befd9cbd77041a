import Foundation
import KohakuVaultCore

// The typed column handles (see `Column` for the table of dtypes and handles).

// MARK: - Element types of numeric columns

/// The stored element type of a numeric column (its ndarray dtype code) and the Swift value it
/// reads as. Conversions are bulk copies (`withUnsafeBytes`), except for bool and f16 (one
/// conversion per element, no allocation). The cases live in `ColumnScalars`.
public protocol ColumnScalar {
    associatedtype Value: Sendable
    /// The element dtype code (docs/FORMAT.md §2) this type reads.
    static var dtype: NDArrayDType { get }
    /// True when a `Value`'s in-memory bytes are its stored little-endian bytes (integers and
    /// IEEE floats on little-endian hosts), so rows can be read straight into a `[Value]`.
    static var isBitCopyable: Bool { get }
    /// `count` values from little-endian bytes (`raw.count >= count * dtype.elementSize`).
    static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Value]
    /// Appends the little-endian bytes of `values` to `data`.
    static func encode(_ values: UnsafeBufferPointer<Value>, into data: inout Data)
}

extension ColumnScalar {
    public static var isBitCopyable: Bool { MemoryLayout<Value>.size == dtype.elementSize && dtype != .bool && dtype != .float16 }
}

/// Copies of plain little-endian values (integers and IEEE floats, whose Swift layout is the
/// stored one on little-endian hosts; big-endian hosts swap).
enum PlainScalar {
    @inline(__always)
    static func decode<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, count: Int, as: T.Type) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buf, n in
            if count > 0 {
                UnsafeMutableRawBufferPointer(buf).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: raw[0..<(count * MemoryLayout<T>.size)]))
            }
            #if _endian(big)
            for i in 0..<count { buf[i] = T(littleEndian: buf[i]) }
            #endif
            n = count
        }
    }

    @inline(__always)
    static func encode<T: FixedWidthInteger>(_ values: UnsafeBufferPointer<T>, into data: inout Data) {
        #if _endian(big)
        for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        #else
        data.append(values)
        #endif
    }

    static func decodeFloats<T: BinaryFloatingPoint, B: FixedWidthInteger>(
        _ raw: UnsafeRawBufferPointer, count: Int, _ bits: B.Type, _ make: (B) -> T) -> [T] {
        #if _endian(big)
        return decode(raw, count: count, as: B.self).map(make)
        #else
        return [T](unsafeUninitializedCapacity: count) { buf, n in
            if count > 0 {
                UnsafeMutableRawBufferPointer(buf).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: raw[0..<(count * MemoryLayout<T>.size)]))
            }
            n = count
        }
        #endif
    }

    static func encodeFloats<T, B: FixedWidthInteger>(_ values: UnsafeBufferPointer<T>, into data: inout Data,
                                                      _ bits: (T) -> B) {
        #if _endian(big)
        for v in values { withUnsafeBytes(of: bits(v).littleEndian) { data.append(contentsOf: $0) } }
        #else
        data.append(values)
        #endif
    }
}

/// The element types of numeric columns: `ScalarColumn<ColumnScalars.Int64>` (= `Int64Column`),
/// `TensorColumn<ColumnScalars.Float32>` (= `FloatTensorColumn`), ...
public enum ColumnScalars {
    public enum Int8: ColumnScalar {
        public static let dtype = NDArrayDType.int8
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Swift.Int8] {
            PlainScalar.decode(raw, count: count, as: Swift.Int8.self)
        }
        public static func encode(_ values: UnsafeBufferPointer<Swift.Int8>, into data: inout Data) {
            PlainScalar.encode(values, into: &data)
        }
    }

    public enum Int16: ColumnScalar {
        public static let dtype = NDArrayDType.int16
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Swift.Int16] {
            PlainScalar.decode(raw, count: count, as: Swift.Int16.self)
        }
        public static func encode(_ values: UnsafeBufferPointer<Swift.Int16>, into data: inout Data) {
            PlainScalar.encode(values, into: &data)
        }
    }

    public enum Int32: ColumnScalar {
        public static let dtype = NDArrayDType.int32
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Swift.Int32] {
            PlainScalar.decode(raw, count: count, as: Swift.Int32.self)
        }
        public static func encode(_ values: UnsafeBufferPointer<Swift.Int32>, into data: inout Data) {
            PlainScalar.encode(values, into: &data)
        }
    }

    public enum Int64: ColumnScalar {
        public static let dtype = NDArrayDType.int64
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Swift.Int64] {
            PlainScalar.decode(raw, count: count, as: Swift.Int64.self)
        }
        public static func encode(_ values: UnsafeBufferPointer<Swift.Int64>, into data: inout Data) {
            PlainScalar.encode(values, into: &data)
        }
    }

    public enum UInt8: ColumnScalar {
        public static let dtype = NDArrayDType.uint8
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Swift.UInt8] {
            PlainScalar.decode(raw, count: count, as: Swift.UInt8.self)
        }
        public static func encode(_ values: UnsafeBufferPointer<Swift.UInt8>, into data: inout Data) {
            PlainScalar.encode(values, into: &data)
        }
    }

    public enum UInt16: ColumnScalar {
        public static let dtype = NDArrayDType.uint16
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Swift.UInt16] {
            PlainScalar.decode(raw, count: count, as: Swift.UInt16.self)
        }
        public static func encode(_ values: UnsafeBufferPointer<Swift.UInt16>, into data: inout Data) {
            PlainScalar.encode(values, into: &data)
        }
    }

    public enum UInt32: ColumnScalar {
        public static let dtype = NDArrayDType.uint32
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Swift.UInt32] {
            PlainScalar.decode(raw, count: count, as: Swift.UInt32.self)
        }
        public static func encode(_ values: UnsafeBufferPointer<Swift.UInt32>, into data: inout Data) {
            PlainScalar.encode(values, into: &data)
        }
    }

    public enum UInt64: ColumnScalar {
        public static let dtype = NDArrayDType.uint64
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Swift.UInt64] {
            PlainScalar.decode(raw, count: count, as: Swift.UInt64.self)
        }
        public static func encode(_ values: UnsafeBufferPointer<Swift.UInt64>, into data: inout Data) {
            PlainScalar.encode(values, into: &data)
        }
    }

    public enum Float32: ColumnScalar {
        public static let dtype = NDArrayDType.float32
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Float] {
            PlainScalar.decodeFloats(raw, count: count, Swift.UInt32.self) { Float(bitPattern: $0) }
        }
        public static func encode(_ values: UnsafeBufferPointer<Float>, into data: inout Data) {
            PlainScalar.encodeFloats(values, into: &data) { $0.bitPattern }
        }
    }

    public enum Float64: ColumnScalar {
        public static let dtype = NDArrayDType.float64
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Double] {
            PlainScalar.decodeFloats(raw, count: count, Swift.UInt64.self) { Double(bitPattern: $0) }
        }
        public static func encode(_ values: UnsafeBufferPointer<Double>, into data: inout Data) {
            PlainScalar.encodeFloats(values, into: &data) { $0.bitPattern }
        }
    }

    /// IEEE half precision stored, read and written as `Float` (rounded to nearest even on write).
    public enum Float16: ColumnScalar {
        public static let dtype = NDArrayDType.float16
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Float] {
            PlainScalar.decode(raw, count: count, as: Swift.UInt16.self).map(Half.float)
        }
        public static func encode(_ values: UnsafeBufferPointer<Float>, into data: inout Data) {
            var bits = [Swift.UInt16](repeating: 0, count: values.count)
            for (i, v) in values.enumerated() { bits[i] = Half.bits(v) }
            bits.withUnsafeBufferPointer { PlainScalar.encode($0, into: &data) }
        }
    }

    /// One byte per value: 0 false, anything else true (1 written).
    public enum Bool: ColumnScalar {
        public static let dtype = NDArrayDType.bool
        public static func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Swift.Bool] {
            [Swift.Bool](unsafeUninitializedCapacity: count) { buf, n in
                for i in 0..<count { buf.baseAddress!.advanced(by: i).initialize(to: raw[i] != 0) }
                n = count
            }
        }
        public static func encode(_ values: UnsafeBufferPointer<Swift.Bool>, into data: inout Data) {
            var bytes = [Swift.UInt8](repeating: 0, count: values.count)
            for (i, v) in values.enumerated() where v { bytes[i] = 1 }
            data.append(contentsOf: bytes)
        }
    }
}

/// IEEE 754 binary16 <-> binary32 (Swift's `Float16` is not on every platform).
enum Half {
    static func float(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            let v = Float(mant) * 0x1p-24
            return sign != 0 ? -v : v
        }
        if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | mant << 13)
    }

    static func bits(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exp = Int((x >> 23) & 0xFF)
        var mant = x & 0x7F_FFFF
        if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? UInt16(0x200 | (mant >> 13)) : 0) }
        let e = exp - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }
        if e <= 0 {
            if e < -10 { return sign }
            mant |= 0x80_0000
            let shift = UInt32(14 - e)
            var h = mant >> shift
            let rem = mant & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
            if rem > halfway || (rem == halfway && h & 1 != 0) { h += 1 }
            return sign | UInt16(h)
        }
        var h = UInt32(e) << 10 | (mant >> 13)
        let rem = mant & 0x1FFF
        if rem > 0x1000 || (rem == 0x1000 && h & 1 != 0) { h += 1 } // a carry rounds up to inf correctly
        return sign | UInt16(h)
    }
}

// MARK: - Scalar columns

/// A column of one little-endian scalar per row (`i64`, `f32`, `bool`, ...). Reads and appends are
/// one bulk copy between the FFI buffer and the Swift array.
public final class ScalarColumn<S: ColumnScalar>: TypedColumn<S.Value>, @unchecked Sendable {
    init(vault: ColumnVault, info: KohakuVaultCore.ColumnInfo, scalar: S.Type) {
        super.init(vault: vault, info: info, transport: .fixed)
    }

    override func encode(_ values: [S.Value]) throws -> EncodedRows {
        var d = Data(capacity: values.count * elementSize)
        values.withUnsafeBufferPointer { S.encode($0, into: &d) }
        return .fixed(d)
    }

    override func decode(_ rows: FetchedRows, count: Int) throws -> [S.Value] {
        guard case .fixed(let d) = rows, d.count == count * elementSize else {
            throw KohakuVaultError.corrupt("column '\(name)' returned a short row buffer")
        }
        return d.withUnsafeBytes { S.decode($0, count: count) }
    }

    override func fastRead(start: UInt64, count: Int) throws -> [S.Value]? {
        guard S.isBitCopyable else { return nil }
        return ColumnFastPath.readPlain(self, start: start, count: count, valuesPerRow: 1, as: S.Value.self)
    }
}

public typealias Int8Column = ScalarColumn<ColumnScalars.Int8>
public typealias Int16Column = ScalarColumn<ColumnScalars.Int16>
public typealias Int32Column = ScalarColumn<ColumnScalars.Int32>
public typealias Int64Column = ScalarColumn<ColumnScalars.Int64>
public typealias UInt8Column = ScalarColumn<ColumnScalars.UInt8>
public typealias UInt16Column = ScalarColumn<ColumnScalars.UInt16>
public typealias UInt32Column = ScalarColumn<ColumnScalars.UInt32>
public typealias UInt64Column = ScalarColumn<ColumnScalars.UInt64>
public typealias FloatColumn = ScalarColumn<ColumnScalars.Float32>
public typealias DoubleColumn = ScalarColumn<ColumnScalars.Float64>
/// f16 rows as `Float` values.
public typealias Float16Column = ScalarColumn<ColumnScalars.Float16>
public typealias BoolColumn = ScalarColumn<ColumnScalars.Bool>

// MARK: - Tensor columns

/// A column of fixed tensors (`vec:f32:384`, `vec:i16:2:2`): each row is `elementsPerRow` scalars
/// in C order (`shape`), read as a flat `[S.Value]`. `readFlat(_:)` / `appendFlat(_:)` move many
/// rows as one contiguous array (one copy, no per-row allocation).
public final class TensorColumn<S: ColumnScalar>: TypedColumn<[S.Value]>, @unchecked Sendable {
    /// Scalars per row (the product of `shape`).
    public let elementsPerRow: Int

    init(vault: ColumnVault, info: KohakuVaultCore.ColumnInfo, scalar: S.Type) {
        elementsPerRow = info.shape.reduce(1) { $0 * Int($1) }
        super.init(vault: vault, info: info, transport: .fixed)
    }

    override func encode(_ rows: [[S.Value]]) throws -> EncodedRows {
        var d = Data(capacity: rows.count * elementSize)
        for r in rows {
            guard r.count == elementsPerRow else {
                throw KohakuVaultError.invalidArgument(
                    "a row of column '\(name)' has \(elementsPerRow) values (shape \(shape)), not \(r.count)")
            }
            r.withUnsafeBufferPointer { S.encode($0, into: &d) }
        }
        return .fixed(d)
    }

    override func decode(_ rows: FetchedRows, count: Int) throws -> [[S.Value]] {
        guard case .fixed(let d) = rows, d.count == count * elementSize else {
            throw KohakuVaultError.corrupt("column '\(name)' returned a short row buffer")
        }
        let rowBytes = elementSize, per = elementsPerRow
        return d.withUnsafeBytes { raw in
            (0..<count).map { i in
                S.decode(UnsafeRawBufferPointer(rebasing: raw[(i * rowBytes)..<((i + 1) * rowBytes)]), count: per)
            }
        }
    }

    override func fastRead(start: UInt64, count: Int) throws -> [[S.Value]]? {
        guard S.isBitCopyable, let flat = ColumnFastPath.readPlain(
            self, start: start, count: count, valuesPerRow: elementsPerRow, as: S.Value.self) else { return nil }
        let per = elementsPerRow
        return flat.withUnsafeBufferPointer { b in
            (0..<count).map { Array(UnsafeBufferPointer(rebasing: b[($0 * per)..<(($0 + 1) * per)])) }
        }
    }

    /// Rows `range` as one flat array (`range.count * elementsPerRow` values, row after row).
    public func readFlat(_ range: Range<Int>) throws -> [S.Value] {
        let (start, count) = try rowRange(range)
        if S.isBitCopyable, let flat = ColumnFastPath.readPlain(
            self, start: start, count: Int(count), valuesPerRow: elementsPerRow, as: S.Value.self) {
            return flat
        }
        let d = try core { try store.readRows(id: id, start: start, count: count) }
        let n = Int(count) * elementsPerRow
        guard d.count == Int(count) * elementSize else {
            throw KohakuVaultError.corrupt("column '\(name)' returned a short row buffer")
        }
        return d.withUnsafeBytes { S.decode($0, count: n) }
    }

    /// Appends rows given as one flat array (a multiple of `elementsPerRow` values).
    public func appendFlat(_ values: [S.Value]) throws {
        guard values.count % elementsPerRow == 0 else {
            throw KohakuVaultError.invalidArgument(
                "\(values.count) values are not a whole number of rows of \(elementsPerRow) (shape \(shape))")
        }
        if values.isEmpty { return }
        #if _endian(little)
        // Bit-copyable values are the stored bytes already: straight from the array.
        if S.isBitCopyable, values.withUnsafeBytes({ ColumnFastPath.append(self, $0) }) { return }
        #endif
        var d = Data(capacity: values.count / elementsPerRow * elementSize)
        values.withUnsafeBufferPointer { S.encode($0, into: &d) }
        try appendFixed(d)
    }
}

public typealias FloatTensorColumn = TensorColumn<ColumnScalars.Float32>
public typealias DoubleTensorColumn = TensorColumn<ColumnScalars.Float64>
public typealias Int32TensorColumn = TensorColumn<ColumnScalars.Int32>
public typealias Int64TensorColumn = TensorColumn<ColumnScalars.Int64>
public typealias UInt8TensorColumn = TensorColumn<ColumnScalars.UInt8>

// MARK: - Text, bytes, packed

/// A text column (`str`, `str:utf16le`, `str:latin1`, ...): values cross as UTF-8 and the core
/// converts to and from the column's codec (a value the codec cannot hold throws
/// `.invalidArgument`, text the codec cannot decode too).
public final class StringColumn: TypedColumn<String>, @unchecked Sendable {
    init(vault: ColumnVault, info: KohakuVaultCore.ColumnInfo) {
        super.init(vault: vault, info: info, transport: .values)
    }

    override func encode(_ values: [String]) throws -> EncodedRows {
        var lens = Data(capacity: 4 * values.count)
        var payloads = Data(capacity: values.reduce(0) { $0 + $1.utf8.count })
        for var s in values {
            let n = try ByteWriter.length(s.utf8.count, "value")
            ByteWriter.append(&lens, u32: n)
            s.withUTF8 { payloads.append($0) }
        }
        return .values(kinds: Data(repeating: ValueKind.utf8.rawValue, count: values.count), lens: lens, payloads: payloads)
    }

    override func decode(_ rows: FetchedRows, count: Int) throws -> [String] {
        guard case .values(let buf) = rows else { throw KohakuVaultError.internal("text rows cross as values") }
        return try RowBuffers.unpackValues(buf, count: count) { kind, bytes in
            guard kind == ValueKind.utf8.rawValue else {
                throw KohakuVaultError.corrupt("text column '\(name)' returned a value of kind \(kind)")
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// A column of raw byte strings (`bytes`), as stored.
public final class DataColumn: TypedColumn<Data>, @unchecked Sendable {
    init(vault: ColumnVault, info: KohakuVaultCore.ColumnInfo) {
        super.init(vault: vault, info: info, transport: .variable)
    }

    override func encode(_ values: [Data]) throws -> EncodedRows {
        let (lens, data) = try RowBuffers.packVar(values)
        return .variable(lens: lens, data: data)
    }

    override func decode(_ rows: FetchedRows, count: Int) throws -> [Data] {
        guard case .variable(let data, let offsets) = rows else { throw KohakuVaultError.internal("bytes rows cross as variable rows") }
        return try RowBuffers.splitVar(data: data, offsets: offsets, count: count)
    }
}

/// A column of DataPacker records (`msgpack`, `cbor`, `str:8`, `bytes:4`, `vec:f32`, ...): values
/// cross as `TaggedValue`s of the packer's kind (`valueKind`: msgpack for `msgpack`/`cbor`, utf8
/// for `str:N`, raw for `bytes:N`, ...), packed and unpacked by the core.
public final class TaggedColumn: TypedColumn<TaggedValue>, @unchecked Sendable {
    init(vault: ColumnVault, info: KohakuVaultCore.ColumnInfo) {
        super.init(vault: vault, info: info, transport: .values)
    }

    override func encode(_ values: [TaggedValue]) throws -> EncodedRows {
        let c = try RowBuffers.packValues(values)
        return .values(kinds: c.kinds, lens: c.lens, payloads: c.payloads)
    }

    override func decode(_ rows: FetchedRows, count: Int) throws -> [TaggedValue] {
        guard case .values(let buf) = rows else { throw KohakuVaultError.internal("packed rows cross as values") }
        return try RowBuffers.unpackValues(buf, count: count) { kind, bytes in
            TaggedValue(kindCode: kind, payload: Data(bytes))
        }
    }

    /// Appends Swift values converted to their natural kind (`PlainValue` as msgpack, `String` as
    /// utf8, `Data` as raw, ...), which must be the column's `valueKind` (a `msgpack`/`cbor`
    /// column takes `PlainValue`s, `str:N` strings, `bytes:N` data); the core checks and packs
    /// them (a value of another kind throws `.invalidArgument`, and nothing is written).
    public func append(converting values: [any VaultValueConvertible]) throws {
        try append(contentsOf: values.map { try $0.vaultValue() })
    }
}

// MARK: - The handle for a numeric layout

func scalarColumn(_ v: ColumnVault, _ i: KohakuVaultCore.ColumnInfo) -> Column? {
    switch NDArrayDType(rawValue: i.elemDtype) {
    case .int8?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.Int8.self)
    case .int16?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.Int16.self)
    case .int32?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.Int32.self)
    case .int64?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.Int64.self)
    case .uint8?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.UInt8.self)
    case .uint16?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.UInt16.self)
    case .uint32?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.UInt32.self)
    case .uint64?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.UInt64.self)
    case .float32?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.Float32.self)
    case .float64?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.Float64.self)
    case .float16?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.Float16.self)
    case .bool?: return ScalarColumn(vault: v, info: i, scalar: ColumnScalars.Bool.self)
    case nil: return nil
    }
}

func tensorColumn(_ v: ColumnVault, _ i: KohakuVaultCore.ColumnInfo) -> Column? {
    switch NDArrayDType(rawValue: i.elemDtype) {
    case .int8?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.Int8.self)
    case .int16?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.Int16.self)
    case .int32?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.Int32.self)
    case .int64?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.Int64.self)
    case .uint8?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.UInt8.self)
    case .uint16?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.UInt16.self)
    case .uint32?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.UInt32.self)
    case .uint64?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.UInt64.self)
    case .float32?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.Float32.self)
    case .float64?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.Float64.self)
    case .float16?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.Float16.self)
    case .bool?: return TensorColumn(vault: v, info: i, scalar: ColumnScalars.Bool.self)
    case nil: return nil
    }
}
