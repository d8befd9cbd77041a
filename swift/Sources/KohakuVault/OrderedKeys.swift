import Foundation

// The keys of `CSBTree` and `SkipList` (OrderedMaps.swift) and their FFI forms, written and read
// in one place: one key's encoding (docs/FORMAT.md §9.1), key pages (§9.2), entry pages (§9.3),
// and the C fast path `ord_fast_*` (§9.4), looked up through `FastSymbols` (Buffers.swift).

/// A key of an ordered map as the core holds it: one of the four native key kinds.
///
/// The core orders keys (never this facade): `int64` numerically, `double` numerically with
/// `-0.0 == 0.0` (NaN is refused: `.invalidArgument`), `string` by Unicode code point (the order
/// of the UTF-8 bytes; not Swift's `<` on `String`, which compares by canonical equivalence and
/// differs, e.g. for `"\u{FF61}" < "\u{1F600}"`, and not UTF-16 units), `data` by unsigned
/// bytes, shorter prefix first.
public enum OrderedKeyValue: Hashable, Sendable {
    case int64(Int64)
    case double(Double)
    case string(String)
    case data(Data)
}

/// A type usable as the key of a `CSBTree` or `SkipList`: `Int64`, `Double`, `String` and `Data`
/// conform. Other types may conform by mapping each value to one `OrderedKeyValue` and back
/// (for example a `UUID` as its 16 bytes); `init?(orderedKeyValue:)` must accept every value
/// `orderedKeyValue` produces. Keys of one map should all map to the same kind: the core cannot
/// order an `int64` against a `string` (`.invalidArgument`).
public protocol OrderedMapKey {
    /// The native key this value stands for.
    var orderedKeyValue: OrderedKeyValue { get }
    /// The key for a native key read back from the core; nil when it is not one of this type.
    init?(orderedKeyValue: OrderedKeyValue)
}

extension Int64: OrderedMapKey {
    @inlinable public var orderedKeyValue: OrderedKeyValue { .int64(self) }

    @inlinable public init?(orderedKeyValue v: OrderedKeyValue) {
        guard case .int64(let x) = v else { return nil }
        self = x
    }
}

extension Double: OrderedMapKey {
    @inlinable public var orderedKeyValue: OrderedKeyValue { .double(self) }

    @inlinable public init?(orderedKeyValue v: OrderedKeyValue) {
        guard case .double(let x) = v else { return nil }
        self = x
    }
}

extension String: OrderedMapKey {
    @inlinable public var orderedKeyValue: OrderedKeyValue { .string(self) }

    @inlinable public init?(orderedKeyValue v: OrderedKeyValue) {
        guard case .string(let x) = v else { return nil }
        self = x
    }
}

extension Data: OrderedMapKey {
    @inlinable public var orderedKeyValue: OrderedKeyValue { .data(self) }

    @inlinable public init?(orderedKeyValue v: OrderedKeyValue) {
        guard case .data(let x) = v else { return nil }
        self = x
    }
}

// MARK: - Encodings, key pages, entry pages (docs/FORMAT.md §9.1-9.3)

/// One page of entries as the core returned it: value handles and their keys, in order.
struct OrderedEntryPage<Key> {
    /// No entry follows within the bounds of the range.
    var done: Bool
    var handles: [UInt64]
    var keys: [Key]
}

enum OrderedKeyCodec {
    static let tagInt: UInt8 = 3
    static let tagFloat: UInt8 = 4
    static let tagStr: UInt8 = 5
    static let tagBytes: UInt8 = 6

    static let layoutMixed: UInt32 = 0
    static let layoutInt: UInt32 = 1
    static let layoutFloat: UInt32 = 2
    static let layoutStr: UInt32 = 3
    static let layoutBytes: UInt32 = 4

    // MARK: Writing

    /// The encoding of one key (§9.1).
    static func encode(_ key: OrderedKeyValue) throws -> Data {
        var d = Data()
        try append(key, to: &d)
        return d
    }

    static func encode<K: OrderedMapKey>(_ key: K) throws -> Data {
        try encode(key.orderedKeyValue)
    }

    /// Appends the encoding of `key` to `d`.
    static func append(_ key: OrderedKeyValue, to d: inout Data) throws {
        switch key {
        case .int64(let v):
            d.append(tagInt)
            ByteWriter.append(&d, u64: UInt64(bitPattern: v))
        case .double(let v):
            d.append(tagFloat)
            ByteWriter.append(&d, u64: v.bitPattern)
        case .string(let s):
            let n = s.utf8.count
            d.append(tagStr)
            ByteWriter.append(&d, u32: try ByteWriter.length(n, "key"))
            d.append(contentsOf: s.utf8)
        case .data(let b):
            d.append(tagBytes)
            ByteWriter.append(&d, u32: try ByteWriter.length(b.count, "key"))
            d.append(b)
        }
    }

    /// A key page (§9.2) of `keys`: layout int or float when every key is one, else mixed
    /// (strings and bytes as encodings, which spares counting code points).
    static func keyPage<K: OrderedMapKey>(_ keys: [K]) throws -> Data {
        let count = try ByteWriter.length(keys.count, "batch")
        if K.self == Int64.self {
            return fixedPage(layoutInt, count, unsafeBitCast(keys, to: [Int64].self).map { UInt64(bitPattern: $0) })
        }
        if K.self == Double.self {
            return fixedPage(layoutFloat, count, unsafeBitCast(keys, to: [Double].self).map(\.bitPattern))
        }
        let values = keys.map { $0.orderedKeyValue }
        if let first = values.first {
            switch first {
            case .int64:
                let bits = values.compactMap { (v) -> UInt64? in if case .int64(let x) = v { return UInt64(bitPattern: x) }; return nil }
                if bits.count == values.count { return fixedPage(layoutInt, count, bits) }
            case .double:
                let bits = values.compactMap { (v) -> UInt64? in if case .double(let x) = v { return x.bitPattern }; return nil }
                if bits.count == values.count { return fixedPage(layoutFloat, count, bits) }
            case .string, .data:
                break
            }
        }
        var d = Data()
        ByteWriter.append(&d, u32: layoutMixed)
        ByteWriter.append(&d, u32: count)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 16)
        for v in values {
            switch v {
            case .int64(let x): appendTagged(&bytes, tagInt, UInt64(bitPattern: x))
            case .double(let x): appendTagged(&bytes, tagFloat, x.bitPattern)
            case .string(let x):
                try appendLengthTagged(&bytes, tagStr, x.utf8.count)
                bytes.append(contentsOf: x.utf8)
            case .data(let x):
                try appendLengthTagged(&bytes, tagBytes, x.count)
                bytes.append(contentsOf: x)
            }
        }
        d.append(contentsOf: bytes)
        return d
    }

    /// A key page of layout int or float: `bits` as u64 LE after the header.
    static func fixedPage(_ layout: UInt32, _ count: UInt32, _ bits: [UInt64]) -> Data {
        var d = Data(count: 8 + 8 * bits.count)
        d.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            raw.storeBytes(of: layout.littleEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: count.littleEndian, toByteOffset: 4, as: UInt32.self)
            for (i, b) in bits.enumerated() { raw.storeBytes(of: b.littleEndian, toByteOffset: 8 + 8 * i, as: UInt64.self) }
        }
        return d
    }

    @inline(__always) static func appendTagged(_ b: inout [UInt8], _ tag: UInt8, _ x: UInt64) {
        b.append(tag)
        withUnsafeBytes(of: x.littleEndian) { b.append(contentsOf: $0) }
    }

    @inline(__always) static func appendLengthTagged(_ b: inout [UInt8], _ tag: UInt8, _ n: Int) throws {
        let len = try ByteWriter.length(n, "key")
        b.append(tag)
        withUnsafeBytes(of: len.littleEndian) { b.append(contentsOf: $0) }
    }

    /// Value handles as u64 LE each.
    static func handleBytes(_ handles: [UInt64]) -> Data {
        var d = Data(count: 8 * handles.count)
        d.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            for (i, h) in handles.enumerated() {
                raw.storeBytes(of: h.littleEndian, toByteOffset: 8 * i, as: UInt64.self)
            }
        }
        return d
    }

    // MARK: Reading

    /// u64 LE handles of a buffer whose length is a multiple of 8.
    static func handles(_ d: Data) throws -> [UInt64] {
        guard d.count % 8 == 0 else {
            throw KohakuVaultError.corrupt("ordered map: \(d.count) bytes of value handles is not a multiple of 8")
        }
        return d.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            (0..<(raw.count / 8)).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) }
        }
    }

    /// An entry page (§9.3).
    static func entryPage<K: OrderedMapKey>(_ d: Data, as: K.Type) throws -> OrderedEntryPage<K> {
        try d.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard raw.count >= 8 else { throw truncated("entry page") }
            let flags = u32(raw, 0)
            let n = Int(u32(raw, 4))
            guard n <= (raw.count - 8) / 8 else { throw truncated("entry page") }
            let handles = (0..<n).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 + 8 * $0, as: UInt64.self)) }
            let keys: [K] = try readKeyPage(UnsafeRawBufferPointer(rebasing: raw[(8 + 8 * n)...]))
            guard keys.count == n else {
                throw KohakuVaultError.corrupt("ordered map: an entry page of \(n) handles has \(keys.count) keys")
            }
            return OrderedEntryPage(done: flags & 1 != 0, handles: handles, keys: keys)
        }
    }

    /// Every key of a key page (§9.2) that is the whole of `raw`, in any layout.
    static func readKeyPage<K: OrderedMapKey>(_ raw: UnsafeRawBufferPointer) throws -> [K] {
        guard raw.count >= 8 else { throw truncated("key page") }
        let layout = u32(raw, 0)
        let n = Int(u32(raw, 4))
        guard n <= raw.count else { throw truncated("key page") }
        // The native key types in their own layouts, without a generic call per key.
        if K.self == Int64.self, layout == layoutInt {
            guard raw.count == 8 + 8 * n else { throw truncated("key page") }
            let out = (0..<n).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 + 8 * $0, as: Int64.self)) }
            return unsafeBitCast(out, to: [K].self)
        }
        if K.self == Double.self, layout == layoutFloat {
            guard raw.count == 8 + 8 * n else { throw truncated("key page") }
            let out = (0..<n).map {
                Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 + 8 * $0, as: UInt64.self)))
            }
            return unsafeBitCast(out, to: [K].self)
        }
        if K.self == String.self, layout == layoutStr {
            return unsafeBitCast(try strings(raw, n), to: [K].self)
        }
        var keys: [K] = []
        keys.reserveCapacity(n)
        func add(_ v: OrderedKeyValue) throws {
            guard let k = K(orderedKeyValue: v) else {
                throw KohakuVaultError.corrupt("ordered map: the core returned a key that is not a \(K.self): \(v)")
            }
            keys.append(k)
        }
        switch layout {
        case layoutInt, layoutFloat:
            guard raw.count == 8 + 8 * n else { throw truncated("key page") }
            for i in 0..<n {
                let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 + 8 * i, as: UInt64.self))
                try add(layout == layoutInt ? .int64(Int64(bitPattern: bits)) : .double(Double(bitPattern: bits)))
            }
        case layoutStr, layoutBytes:
            let blobStart = 8 + 8 * (n + 1)
            guard raw.count >= blobStart else { throw truncated("key page") }
            let offsets = (0...n).map { Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 + 8 * $0, as: UInt64.self))) }
            let blob = UnsafeRawBufferPointer(rebasing: raw[blobStart...])
            guard offsets[0] == 0 else { throw KohakuVaultError.corrupt("ordered map: key page offsets do not start at 0") }
            if layout == layoutBytes {
                for i in 0..<n {
                    let a = offsets[i], b = offsets[i + 1]
                    guard a <= b, b <= blob.count else { throw KohakuVaultError.corrupt("ordered map: bad key page offsets") }
                    try add(.data(Data(blob[a..<b])))
                }
                guard offsets[n] == blob.count else {
                    throw KohakuVaultError.corrupt("ordered map: trailing bytes after a key page")
                }
            } else {
                for k in try strings(raw, n) { try add(.string(k)) }
            }
        case layoutMixed:
            var p = 8
            for _ in 0..<n {
                guard p < raw.count else { throw truncated("key page") }
                let tag = raw[p]
                p += 1
                switch tag {
                case tagInt, tagFloat:
                    guard raw.count - p >= 8 else { throw truncated("key page") }
                    let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: UInt64.self))
                    p += 8
                    try add(tag == tagInt ? .int64(Int64(bitPattern: bits)) : .double(Double(bitPattern: bits)))
                case tagStr, tagBytes:
                    guard raw.count - p >= 4 else { throw truncated("key page") }
                    let len = Int(u32(raw, p))
                    p += 4
                    guard raw.count - p >= len else { throw truncated("key page") }
                    let body = UnsafeRawBufferPointer(rebasing: raw[p..<(p + len)])
                    p += len
                    try add(tag == tagStr ? .string(String(decoding: body, as: UTF8.self)) : .data(Data(body)))
                default:
                    throw KohakuVaultError.corrupt("ordered map: the core returned a key with tag \(tag), not a \(K.self)")
                }
            }
            guard p == raw.count else { throw KohakuVaultError.corrupt("ordered map: trailing bytes after a key page") }
        default:
            throw KohakuVaultError.corrupt("ordered map: unknown key page layout \(layout)")
        }
        return keys
    }

    /// The keys of a str key page (layout 3) of `n` keys: `n + 1` offsets in code points, then the
    /// UTF-8 of the concatenation.
    static func strings(_ raw: UnsafeRawBufferPointer, _ n: Int) throws -> [String] {
        let blobStart = 8 + 8 * (n + 1)
        guard raw.count >= blobStart else { throw truncated("key page") }
        let blob = UnsafeRawBufferPointer(rebasing: raw[blobStart...])
        var out: [String] = []
        out.reserveCapacity(n)
        var prev = Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        guard prev == 0 else { throw KohakuVaultError.corrupt("ordered map: key page offsets do not start at 0") }
        // Offsets count code points: walk the UTF-8 bytes, one lead byte per code point.
        var pos = 0
        for i in 0..<n {
            let next = Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16 + 8 * i, as: UInt64.self)))
            let cps = next - prev
            guard cps >= 0 else { throw KohakuVaultError.corrupt("ordered map: bad key page offsets") }
            prev = next
            var end = pos
            for _ in 0..<cps {
                guard end < blob.count else { throw KohakuVaultError.corrupt("ordered map: key page offsets past the data") }
                end += 1
                while end < blob.count, blob[end] & 0xC0 == 0x80 { end += 1 }
            }
            out.append(String(decoding: UnsafeRawBufferPointer(rebasing: blob[pos..<end]), as: UTF8.self))
            pos = end
        }
        guard pos == blob.count else { throw KohakuVaultError.corrupt("ordered map: trailing bytes after a key page") }
        return out
    }

    @inline(__always) static func u32(_ raw: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    static func truncated(_ what: String) -> KohakuVaultError {
        .corrupt("ordered map: truncated \(what) from the core")
    }
}

// MARK: - The C fast path (docs/FORMAT.md §9.4)

/// `ord_fast_*`: single-key operations without uniffi's buffers (a key is passed as a pointer
/// and a length, or an i64 as two 32-bit halves). The entry points are looked up once in the
/// loaded core library (they are not in uniffi's header); when one is missing, the handle does not
/// fit in 32 bits, or a call returns -1 (any error: NaN, a stale handle, ...), the caller makes the
/// UDL call instead, which gives the typed error. Behaviour is the UDL's either way.
struct OrderedFastPath {
    typealias IntOp = @convention(c) (UInt32, Int32, Int32) -> Int64
    typealias KeyOp = @convention(c) (UInt32, Int32, UnsafePointer<UInt8>?, Int32) -> Int64
    typealias InsertInt = @convention(c) (UInt32, Int32, Int32, Int32, Int32) -> Int64
    typealias Insert = @convention(c) (UInt32, Int32, UnsafePointer<UInt8>?, Int32, Int32, Int32) -> Int64

    let getInt: IntOp
    let get: KeyOp
    let containsInt: IntOp
    let contains: KeyOp
    let removeInt: IntOp
    let remove: KeyOp
    let insertInt: InsertInt
    let insert: Insert

    /// `kind` of `(p, len)`: a key encoding, the UTF-8 of a str key, the bytes of a bytes key.
    static let kindEncoding: Int32 = 0
    static let kindStr: Int32 = 1
    static let kindBytes: Int32 = 2

    /// Every entry point, or nil when one of them is missing from the loaded library.
    static let shared: OrderedFastPath? = {
        func sym<T>(_ name: String, _ type: T.Type) -> T? { FastSymbols.lookup(name, as: type) }
        guard let getInt = sym("ord_fast_get_int", IntOp.self),
              let get = sym("ord_fast_get", KeyOp.self),
              let containsInt = sym("ord_fast_contains_int", IntOp.self),
              let contains = sym("ord_fast_contains", KeyOp.self),
              let removeInt = sym("ord_fast_remove_int", IntOp.self),
              let remove = sym("ord_fast_remove", KeyOp.self),
              let insertInt = sym("ord_fast_insert_int", InsertInt.self),
              let insert = sym("ord_fast_insert", Insert.self)
        else { return nil }
        return OrderedFastPath(getInt: getInt, get: get, containsInt: containsInt, contains: contains,
                               removeInt: removeInt, remove: remove, insertInt: insertInt, insert: insert)
    }()

    /// The low and high 32-bit halves of `x`.
    @inline(__always) static func halves(_ x: UInt64) -> (Int32, Int32) {
        (Int32(truncatingIfNeeded: x), Int32(truncatingIfNeeded: x >> 32))
    }

    /// A non-null pointer for empty keys (Rust slices need one even for length 0).
    private static let empty: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    /// Runs `body` with `key`'s `(kind, pointer, length)` for the pointer entry points; nil
    /// (no call) for int keys, which have their own entry points, and for keys longer than 2 GiB.
    @inline(__always)
    static func withKey(_ key: OrderedKeyValue, _ body: (Int32, UnsafePointer<UInt8>, Int32) -> Int64) -> Int64? {
        switch key {
        case .int64:
            return nil
        case .double(let v):
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 9) { buf in
                let bits = v.bitPattern
                buf[0] = OrderedKeyCodec.tagFloat
                for i in 0..<8 { buf[1 + i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
                return body(kindEncoding, UnsafePointer(buf.baseAddress!), 9)
            }
        case .string(var s):
            return s.withUTF8 { (u) -> Int64? in
                guard u.count <= Int(Int32.max) else { return nil }
                return body(kindStr, u.baseAddress ?? UnsafePointer(empty), Int32(u.count))
            }
        case .data(let d):
            guard d.count <= Int(Int32.max) else { return nil }
            if d.isEmpty { return body(kindBytes, UnsafePointer(empty), 0) }
            return d.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                body(kindBytes, raw.baseAddress.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) } ?? UnsafePointer(empty),
                     Int32(raw.count))
            }
        }
    }
}
