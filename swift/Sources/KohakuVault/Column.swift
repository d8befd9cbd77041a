import Foundation
import KohakuVaultCore

/// A handle on one column of a `ColumnVault`. `ColumnVault.column(named:)` returns the subclass
/// that fits the column's layout (the core's `ColumnInfo.layout` and element dtype code; dtype
/// strings are never parsed here):
///
/// | dtype | handle | element |
/// |---|---|---|
/// | `i8` … `u64`, `f32`, `f64`, `bool`, `f16` | `ScalarColumn` (`Int64Column`, `FloatColumn`, `BoolColumn`, `Float16Column` …) | `Int64`, `Float`, `Bool`, … (`Float` for f16) |
/// | `vec:<e>:d1[:d2…]` | `TensorColumn` (`FloatTensorColumn`, …) | `[Float]` etc., C order, `shape` per row |
/// | `str`, `str:<codec>` | `StringColumn` | `String` (the core converts codecs) |
/// | `bytes` | `DataColumn` | `Data` |
/// | anything else (`msgpack`, `str:8`, `bytes:4`, …) | `TaggedColumn` | `TaggedValue` |
///
/// The handle itself is not a `Collection`: every read of a column can fail (closed vault, deleted
/// column, I/O) and a `Collection` subscript cannot throw. The typed handles (`TypedColumn`) have
/// throwing accessors as their main API (`value(at:)`, `try column[i]`, `read(_:)`, `take(_:)`,
/// `append(contentsOf:)`, `replaceSubrange(_:with:)`, …, each one FFI crossing) and
/// `snapshot(_:)`, which reads rows once into a `ColumnSnapshot`: a `RandomAccessCollection` and
/// `MutableCollection` whose subscript never fails for a valid index; `write(_:)` stores a
/// modified snapshot back (in place for fixed-width columns).
///
/// Indices are row numbers from 0. A negative index, or one past the end, throws
/// `.invalidArgument("column index out of range")` (the core's error; Swift has no IndexError).
///
/// `Sendable`: every stored property is immutable; the core locks.
public class Column: @unchecked Sendable, CustomStringConvertible {
    /// The vault the column belongs to (a handle keeps its vault alive).
    public let vault: ColumnVault
    public let id: Int64
    public let name: String
    /// The dtype string as stored (not parsed by this facade).
    public let dtype: String
    public let layout: ColumnLayout
    /// Bytes per row; 0 for variable width.
    public let elementSize: Int
    /// The element type of scalar and tensor columns, else nil.
    public let elementDType: NDArrayDType?
    /// The dims of a tensor row; empty otherwise.
    public let shape: [Int]
    /// The kind code values of this column cross as (`values(_:)`, `appendValues(_:)`).
    public let valueKindCode: UInt8
    public let blockBytes: Int

    var store: ColumnStore { vault.store }

    init(vault: ColumnVault, info: KohakuVaultCore.ColumnInfo) {
        let i = ColumnInfo(info)
        self.vault = vault
        id = i.id
        name = i.name
        dtype = i.dtype
        layout = i.layout
        elementSize = i.elementSize
        elementDType = i.elementDType
        shape = i.shape
        valueKindCode = i.valueKindCode
        blockBytes = i.blockBytes
    }

    public var isFixedWidth: Bool { elementSize > 0 }
    public var valueKind: ValueKind? { ValueKind(rawValue: valueKindCode) }
    public var description: String { "\(Swift.type(of: self))(name: \(name), dtype: \(dtype))" }

    /// The handle for a core ColumnInfo, typed by layout and element code.
    static func make(_ vault: ColumnVault, _ info: KohakuVaultCore.ColumnInfo) -> Column {
        switch info.layout {
        case .scalar: return scalarColumn(vault, info) ?? Column(vault: vault, info: info)
        case .tensor: return tensorColumn(vault, info) ?? Column(vault: vault, info: info)
        case .text: return StringColumn(vault: vault, info: info)
        case .bytes: return DataColumn(vault: vault, info: info)
        case .packed: return TaggedColumn(vault: vault, info: info)
        }
    }

    /// This handle as `type`, or `.invalidArgument` naming the column's dtype.
    public func `as`<C: Column>(_ type: C.Type) throws -> C {
        guard let c = self as? C else {
            throw KohakuVaultError.invalidArgument(
                "column '\(name)' has dtype '\(dtype)' (\(Swift.type(of: self))), not a \(C.self)")
        }
        return c
    }

    // MARK: - Facts

    /// The column's facts now (its count includes cached rows).
    public func info() throws -> ColumnInfo {
        ColumnInfo(try core { try store.infoById(id: id) })
    }

    /// Rows, committed plus cached (does not flush).
    public func count() throws -> Int {
        Int(clamping: try core { try store.length(id: id) })
    }

    public func isEmpty() throws -> Bool { try count() == 0 }

    public func storageInfo() throws -> ColumnStorageInfo {
        ColumnStorageInfo(try core { try store.storageInfo(id: id) })
    }

    // MARK: - Rows as stored, values as (kind, payload): every layout

    /// The stored bytes of rows `range` (fixed width: `elementSize` little-endian bytes each;
    /// text in the column's codec), one crossing.
    public func storedRows(_ range: Range<Int>) throws -> [Data] {
        let (start, count) = try rowRange(range)
        if isFixedWidth {
            let d = try core { try store.readRows(id: id, start: start, count: count) }
            return RowBuffers.splitFixed(d, elementSize: elementSize)
        }
        let v = try core { try store.readVarRows(id: id, start: start, count: count) }
        return try RowBuffers.splitVar(data: v.data, offsets: v.offsets, count: Int(count))
    }

    /// The stored bytes of every row.
    public func storedRows() throws -> [Data] { try storedRows(0..<count()) }

    /// Appends rows as stored (each exactly `elementSize` bytes for a fixed-width column), one
    /// crossing, one transaction (or the cache).
    public func appendStoredRows(_ rows: [Data]) throws {
        if isFixedWidth {
            var d = Data(capacity: rows.count * elementSize)
            for r in rows {
                guard r.count == elementSize else {
                    throw KohakuVaultError.invalidArgument("a row of column '\(name)' has \(elementSize) bytes, not \(r.count)")
                }
                d.append(r)
            }
            try appendFixed(d)
        } else {
            let (lens, data) = try RowBuffers.packVar(rows)
            try core { try store.appendVarRows(id: id, lens: lens, data: data) }
        }
    }

    /// Rows `range` decoded by the dtype as (kind, payload) values: text as UTF-8 (kind 6),
    /// DataPacker records as their values, numeric and bytes rows raw (kind 0).
    public func values(_ range: Range<Int>) throws -> [TaggedValue] {
        let (start, count) = try rowRange(range)
        let buf = try core { try store.readValues(id: id, start: start, count: count) }
        return try RowBuffers.unpackValues(buf, count: Int(count)) { kind, bytes in
            TaggedValue(kindCode: kind, payload: Data(bytes))
        }
    }

    /// Appends (kind, payload) values, encoded by the core for the column's dtype before anything
    /// is written (one bad value changes nothing).
    public func appendValues(_ values: [TaggedValue]) throws {
        let c = try RowBuffers.packValues(values)
        try core { try store.appendValues(id: id, kinds: c.kinds, lens: c.lens, payloads: c.payloads) }
    }

    // MARK: - Deletes

    /// Deletes rows `range` (one transaction; later rows move up).
    public func removeSubrange(_ range: Range<Int>) throws {
        let (start, count) = try rowRange(range)
        try core { try store.spliceRows(id: id, start: start, deleteCount: count, lens: Data(), data: Data()) }
    }

    /// Deletes row `index`.
    public func remove(at index: Int) throws {
        try removeSubrange(index..<(index == Int.max ? index : index + 1))
    }

    /// Deletes every row (cached ones too).
    public func clear() throws {
        try core { try store.clear(id: id) }
    }

    // MARK: - This column's write-back cache

    /// Buffers this column's appends until `flushThreshold` bytes (default min(cap, 1 MiB)),
    /// `capBytes`, a read of the column, `flushCache()`, `disableCache()` or the vault's close.
    public func enableCache(capBytes: UInt64 = 8 << 20, flushThreshold: UInt64? = nil) throws {
        let threshold = flushThreshold ?? min(capBytes, 1 << 20)
        try core { try store.enableCache(id: id, capBytes: capBytes, flushThreshold: threshold, flushIntervalSecs: nil) }
    }

    /// Commits and disables this column's cache.
    public func disableCache() throws {
        try core { try store.disableCache(id: id) }
    }

    /// Commits this column's cached rows; returns the bytes written.
    @discardableResult
    public func flushCache() throws -> UInt64 {
        try core { try store.flushCache(id: id) }
    }

    /// Bytes of this column's cached rows.
    public func pendingBytes() throws -> UInt64 {
        try core { try store.pendingBytes(id: id) }
    }

    /// This column's cache setting; nil when disabled.
    public func cacheConfig() throws -> ColumnCacheConfig? {
        try core { try store.cacheConfig(id: id) }.map(ColumnCacheConfig.init)
    }

    /// Runs `body` with this column's cache enabled, then commits and disables it (also when
    /// `body` throws).
    @discardableResult
    public func withCache<T>(capBytes: UInt64 = 8 << 20, flushThreshold: UInt64? = nil,
                             _ body: () throws -> T) throws -> T {
        try enableCache(capBytes: capBytes, flushThreshold: flushThreshold)
        let result: T
        do {
            result = try body()
        } catch {
            try? disableCache()
            throw error
        }
        try disableCache()
        return result
    }

    // MARK: - Internals shared by the typed handles

    func appendFixed(_ data: Data) throws {
        if data.withUnsafeBytes({ ColumnFastPath.append(self, $0) }) { return }
        try core { try store.appendRows(id: id, data: data) }
    }

    /// (start, count) of a row range; a negative bound throws the core's out-of-range error.
    func rowRange(_ range: Range<Int>) throws -> (UInt64, UInt64) {
        guard range.lowerBound >= 0 else { throw KohakuVaultError.invalidArgument("column index out of range") }
        return (UInt64(range.lowerBound), UInt64(range.count))
    }

    func row(_ index: Int) throws -> UInt64 {
        guard index >= 0 else { throw KohakuVaultError.invalidArgument("column index out of range") }
        return UInt64(index)
    }

    /// Indices as u64 LE (take_rows' input).
    func indexBuffer(_ indices: [Int]) throws -> Data {
        var d = Data(count: indices.count * 8)
        try d.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            for (k, i) in indices.enumerated() {
                guard i >= 0 else { throw KohakuVaultError.invalidArgument("column index out of range") }
                raw.storeBytes(of: UInt64(i).littleEndian, toByteOffset: 8 * k, as: UInt64.self)
            }
        }
        return d
    }
}

// MARK: - Typed handles

/// How a typed handle's rows cross the FFI.
enum RowTransport {
    /// As stored, `elementSize` bytes each (append_rows / read_rows / take_rows).
    case fixed
    /// As stored, variable width (append_var_rows / read_var_rows / take_var_rows).
    case variable
    /// As values (append_values / read_values / splice_values), encoded by the core.
    case values
}

/// Rows encoded for a write.
enum EncodedRows {
    case fixed(Data)
    case variable(lens: Data, data: Data)
    case values(kinds: Data, lens: Data, payloads: Data)
}

/// Rows as a read returned them.
enum FetchedRows {
    case fixed(Data)
    case variable(data: Data, offsets: Data)
    case values(Data)
}

/// A column handle with typed elements (`Value`): the throwing, bulk API every typed column
/// shares. Each call is one FFI crossing (`take` on text and packed columns: one per run of
/// consecutive indices) and each mutation one transaction (appends: or the cache).
public class TypedColumn<Value: Sendable>: Column, @unchecked Sendable {
    let transport: RowTransport

    init(vault: ColumnVault, info: KohakuVaultCore.ColumnInfo, transport: RowTransport) {
        self.transport = transport
        super.init(vault: vault, info: info)
    }

    // Overridden by each typed handle (the defaults are never reached).
    func encode(_ values: [Value]) throws -> EncodedRows {
        throw KohakuVaultError.internal("\(Swift.type(of: self)) does not encode rows")
    }

    func decode(_ rows: FetchedRows, count: Int) throws -> [Value] {
        throw KohakuVaultError.internal("\(Swift.type(of: self)) does not decode rows")
    }

    /// Fixed rows through the C fast path, nil to make the UDL call (overridden by the numeric
    /// handles).
    func fastRead(start: UInt64, count: Int) throws -> [Value]? { nil }

    // MARK: Reads

    /// Row `index`; a negative index or one past the end throws `.invalidArgument`.
    public func value(at index: Int) throws -> Value {
        let r = try read(index..<(index == Int.max ? index : index + 1))
        guard let v = r.first, r.count == 1 else { throw KohakuVaultError.invalidArgument("column index out of range") }
        return v
    }

    /// Row `index` (`try column[3]`): the same as `value(at:)`. Read-only because a setter
    /// cannot throw: write with `set(_:at:)`.
    public subscript(index: Int) -> Value {
        get throws { try value(at: index) }
    }

    /// Rows `range` (`try column[2..<5]`).
    public subscript(range: Range<Int>) -> [Value] {
        get throws { try read(range) }
    }

    /// Rows `range` in one crossing (flushing this column's cache first).
    public func read(_ range: Range<Int>) throws -> [Value] {
        let (start, count) = try rowRange(range)
        let rows: FetchedRows
        switch transport {
        case .fixed:
            if let fast = try fastRead(start: start, count: Int(count)) { return fast }
            rows = .fixed(try core { try store.readRows(id: id, start: start, count: count) })
        case .variable:
            let v = try core { try store.readVarRows(id: id, start: start, count: count) }
            rows = .variable(data: v.data, offsets: v.offsets)
        case .values:
            rows = .values(try core { try store.readValues(id: id, start: start, count: count) })
        }
        return try decode(rows, count: Int(count))
    }

    /// Rows of `range` (`read(10...)`, `read(..<5)`), resolved against the current count.
    public func read<R: RangeExpression>(_ range: R) throws -> [Value] where R.Bound == Int {
        try read(range.relative(to: 0..<count()))
    }

    /// Every row.
    public func read() throws -> [Value] {
        try read(0..<count())
    }

    /// Rows at `indices`, in order, duplicates kept.
    public func take(_ indices: [Int]) throws -> [Value] {
        switch transport {
        case .fixed:
            let idx = try indexBuffer(indices)
            return try decode(.fixed(try core { try store.takeRows(id: id, indices: idx) }), count: indices.count)
        case .variable:
            let idx = try indexBuffer(indices)
            let v = try core { try store.takeVarRows(id: id, indices: idx) }
            return try decode(.variable(data: v.data, offsets: v.offsets), count: indices.count)
        case .values:
            let idx = try indexBuffer(indices)
            let buf = try core { try store.takeValues(id: id, indices: idx) }
            return try decode(.values(buf), count: indices.count)
        }
    }

    /// Rows `range` read once into a collection (see `ColumnSnapshot`); nil reads every row.
    public func snapshot(_ range: Range<Int>? = nil) throws -> ColumnSnapshot<Value> {
        let r = try range ?? (0..<count())
        return ColumnSnapshot(startIndex: r.lowerBound, elements: try read(r))
    }

    // MARK: Writes

    public func append(_ value: Value) throws {
        try append(contentsOf: [value])
    }

    /// Appends rows in one crossing and one transaction (or into the cache); a bad row changes
    /// nothing.
    public func append(contentsOf values: [Value]) throws {
        if values.isEmpty { return }
        switch try encode(values) {
        case .fixed(let d):
            try appendFixed(d)
        case .variable(let lens, let data):
            try core { try store.appendVarRows(id: id, lens: lens, data: data) }
        case .values(let kinds, let lens, let payloads):
            try core { try store.appendValues(id: id, kinds: kinds, lens: lens, payloads: payloads) }
        }
    }

    public func append<S: Sequence>(contentsOf values: S) throws where S.Element == Value {
        try append(contentsOf: Array(values))
    }

    /// Replaces rows `range` by `values` in one transaction (any count: insert, delete and
    /// slice assignment; the same count on a fixed-width column overwrites in place).
    public func replaceSubrange(_ range: Range<Int>, with values: [Value]) throws {
        let (start, count) = try rowRange(range)
        if values.isEmpty {
            try core { try store.spliceRows(id: id, start: start, deleteCount: count, lens: Data(), data: Data()) }
            return
        }
        switch try encode(values) {
        case .fixed(let d):
            if Int(count) == values.count {
                try core { try store.overwriteRows(id: id, start: start, data: d) }
            } else {
                try core { try store.spliceRows(id: id, start: start, deleteCount: count, lens: Data(), data: d) }
            }
        case .variable(let lens, let data):
            try core { try store.spliceRows(id: id, start: start, deleteCount: count, lens: lens, data: data) }
        case .values(let kinds, let lens, let payloads):
            try core {
                try store.spliceValues(id: id, start: start, deleteCount: count, kinds: kinds, lens: lens, payloads: payloads)
            }
        }
    }

    /// Overwrites row `index`.
    public func set(_ value: Value, at index: Int) throws {
        _ = try row(index)
        try replaceSubrange(index..<(index == Int.max ? index : index + 1), with: [value])
    }

    /// Inserts `value` before row `index` (`index == count()` appends).
    public func insert(_ value: Value, at index: Int) throws {
        try insert(contentsOf: [value], at: index)
    }

    public func insert(contentsOf values: [Value], at index: Int) throws {
        try replaceSubrange(index..<index, with: values)
    }

    /// Stores a (modified) snapshot back over the rows it was read from; in place for
    /// fixed-width columns. Rows changed by others since the snapshot are overwritten.
    public func write(_ snapshot: ColumnSnapshot<Value>) throws {
        try replaceSubrange(snapshot.indices, with: snapshot.elements)
    }
}

/// Rows of a column read once (`TypedColumn.snapshot(_:)`): an in-memory collection whose
/// indices are the row numbers it was read from (`startIndex` = the first row, like an
/// `ArraySlice`). Its subscript never fails for a valid index (an invalid one traps, as every
/// Swift collection does: this is a programming error on an in-memory value, not a vault error).
/// Changes stay local until `TypedColumn.write(_:)`.
public struct ColumnSnapshot<Element>: RandomAccessCollection, MutableCollection {
    public typealias Index = Int
    public typealias Indices = Range<Int>

    public let startIndex: Int
    /// The rows, from `startIndex` on.
    public private(set) var elements: [Element]

    public init(startIndex: Int = 0, elements: [Element]) {
        self.startIndex = startIndex
        self.elements = elements
    }

    public var endIndex: Int { startIndex + elements.count }
    public var indices: Range<Int> { startIndex..<endIndex }
    public var count: Int { elements.count }

    public subscript(position: Int) -> Element {
        get { elements[position - startIndex] }
        set { elements[position - startIndex] = newValue }
    }

    public func index(after i: Int) -> Int { i + 1 }
    public func index(before i: Int) -> Int { i - 1 }
}

extension ColumnSnapshot: Sendable where Element: Sendable {}
extension ColumnSnapshot: Equatable where Element: Equatable {}
extension ColumnSnapshot: Hashable where Element: Hashable {}

// MARK: - The C fast path for bulk fixed-width reads (docs/FORMAT.md §5, §6.2)

/// `col_fast_read`: fixed rows straight into a caller buffer (one copy out of SQLite's pages).
/// The generated layer returns `bytes` through three more copies (a RustBuffer, a zero-filled
/// `[UInt8]`, a `Data`), which made a 100k x 384 f32 read ~35x slower than the core; large reads
/// of fixed-width columns therefore go here, into the result array's own storage. The entry
/// point is looked up once in the loaded core library (it is not in uniffi's header); when it is
/// missing, or returns -1 (any error: closed vault, range, stale handle), the UDL call runs
/// instead and gives the typed error, so behaviour is the UDL's either way.
enum ColumnFastPath {
    typealias Read = @convention(c) (UInt64, Int64, UInt64, UInt64, UnsafeMutablePointer<UInt8>?, Int) -> Int64

    /// Reads of at least this many bytes use the fast path.
    static let minBytes = 16 << 10

    static let read: Read? = FastSymbols.lookup("col_fast_read", as: Read.self)

    typealias Append = @convention(c) (UInt64, Int64, UnsafeRawPointer?, Int) -> Int32

    static let appendRows: Append? = FastSymbols.lookup("col_fast_append", as: Append.self)

    /// `col_fast_append`: fixed rows (as stored) straight from `bytes`, with no copy into a
    /// uniffi buffer. True when committed; false, with nothing stored, when the fast path is not
    /// taken (small or empty input, no symbol), the column is cached in the core, or on any
    /// error: then the caller makes the UDL call, which applies the cache or throws the typed
    /// error.
    static func append(_ column: Column, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let appendRows, bytes.count >= minBytes else { return false }
        let handle = column.store.fastHandle()
        guard handle != 0 else { return false }
        return appendRows(handle, column.id, bytes.baseAddress, bytes.count) == 0
    }

    /// `count` rows of `column` into a new `[T]` of `count * valuesPerRow` elements whose
    /// in-memory bytes are the stored little-endian bytes; nil when the fast path is not taken
    /// or fails (then the caller makes the UDL call).
    static func readPlain<T>(_ column: Column, start: UInt64, count: Int, valuesPerRow: Int, as: T.Type) -> [T]? {
        #if _endian(big)
        return nil
        #else
        let bytes = count * column.elementSize
        guard let read, bytes >= minBytes, count * valuesPerRow * MemoryLayout<T>.stride == bytes else { return nil }
        let handle = column.store.fastHandle()
        guard handle != 0 else { return nil }
        var ok = false
        let out = [T](unsafeUninitializedCapacity: count * valuesPerRow) { buf, n in
            let raw = UnsafeMutableRawBufferPointer(buf)
            let r = read(handle, column.id, start, UInt64(count), raw.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes)
            ok = r == Int64(bytes)
            n = ok ? count * valuesPerRow : 0 // only trivial types come here: nothing to deinitialise
        }
        return ok ? out : nil
        #endif
    }
}

// MARK: - The column buffers (docs/FORMAT.md §6.2), read and written in one place

enum RowBuffers {
    /// n rows of `elementSize` bytes each.
    static func splitFixed(_ d: Data, elementSize: Int) -> [Data] {
        guard elementSize > 0 else { return [] }
        let base = d.startIndex
        return (0..<(d.count / elementSize)).map { d.subdata(in: (base + $0 * elementSize)..<(base + ($0 + 1) * elementSize)) }
    }

    /// `n + 1` u64 LE end offsets (from 0) as Ints, checked against `data`.
    static func ends(_ offsets: Data, count: Int, dataCount: Int) throws -> [Int] {
        guard offsets.count == 8 * (count + 1) else {
            throw KohakuVaultError.corrupt("column returned \(offsets.count / 8) offsets for \(count) rows")
        }
        var out = [Int](repeating: 0, count: count + 1)
        offsets.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for i in 0...count {
                out[i] = Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
            }
        }
        var prev = 0
        for e in out {
            guard e >= prev, e <= dataCount else { throw KohakuVaultError.corrupt("bad row offsets from the column") }
            prev = e
        }
        return out
    }

    static func splitVar(data: Data, offsets: Data, count: Int) throws -> [Data] {
        let e = try ends(offsets, count: count, dataCount: data.count)
        let base = data.startIndex
        return (0..<count).map { data.subdata(in: (base + e[$0])..<(base + e[$0 + 1])) }
    }

    /// Variable rows as (n × u32 LE lengths, concatenated rows).
    static func packVar(_ rows: [Data]) throws -> (Data, Data) {
        var lens = Data(capacity: 4 * rows.count)
        var all = Data(capacity: rows.reduce(0) { $0 + $1.count })
        for r in rows {
            ByteWriter.append(&lens, u32: try ByteWriter.length(r.count, "row"))
            all.append(r)
        }
        return (lens, all)
    }

    /// Values as columns: kinds (n bytes), u32 LE lengths, concatenated payloads.
    static func packValues(_ values: [TaggedValue]) throws -> (kinds: Data, lens: Data, payloads: Data) {
        var kinds = Data(capacity: values.count)
        var lens = Data(capacity: 4 * values.count)
        var payloads = Data(capacity: values.reduce(0) { $0 + $1.payload.count })
        for v in values {
            kinds.append(v.kindCode)
            ByteWriter.append(&lens, u32: try ByteWriter.length(v.payload.count, "value"))
            payloads.append(v.payload)
        }
        return (kinds, lens, payloads)
    }

    /// Items `[kind u8][len u32][payload]`, exactly `count` of them, each handed to `make`.
    static func unpackValues<T>(_ buf: Data, count: Int,
                                _ make: (UInt8, UnsafeRawBufferPointer) throws -> T) throws -> [T] {
        var out: [T] = []
        out.reserveCapacity(count)
        try buf.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var p = 0
            while p < raw.count {
                guard raw.count - p >= 5 else { throw KohakuVaultError.corrupt("truncated column values") }
                let kind = raw[p]
                let n = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: p + 1, as: UInt32.self)))
                p += 5
                guard raw.count - p >= n else { throw KohakuVaultError.corrupt("truncated column values") }
                out.append(try make(kind, UnsafeRawBufferPointer(rebasing: raw[p..<(p + n)])))
                p += n
            }
        }
        guard out.count == count else {
            throw KohakuVaultError.corrupt("column returned \(out.count) values for \(count) rows")
        }
        return out
    }
}
