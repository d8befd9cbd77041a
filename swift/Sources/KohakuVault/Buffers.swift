import Foundation

// The packed little-endian buffers that cross the FFI (docs/FORMAT.md §4), written and read in
// one place: `ByteWriter` is the only buffer writer of the facade, `Buffers.Reader` the only reader.

/// Little-endian appends to a `Data` buffer.
enum ByteWriter {
    @inline(__always) static func append(_ d: inout Data, u32 v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) }
    }

    @inline(__always) static func append(_ d: inout Data, u64 v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) }
    }

    /// A length as u32, or `.invalidArgument` when it does not fit.
    @inline(__always) static func length(_ n: Int, _ what: String) throws -> UInt32 {
        guard n <= Int(UInt32.max) else { throw KohakuVaultError.invalidArgument("\(what) too large for a batch") }
        return UInt32(n)
    }
}

/// Little-endian reads at an index of a `Data` (callers check the bounds).
enum ByteReader {
    @inline(__always) static func u32(_ d: Data, at i: Data.Index) -> UInt32 {
        UInt32(d[i]) | UInt32(d[i + 1]) << 8 | UInt32(d[i + 2]) << 16 | UInt32(d[i + 3]) << 24
    }

    @inline(__always) static func u64(_ d: Data, at i: Data.Index) -> UInt64 {
        UInt64(u32(d, at: i)) | UInt64(u32(d, at: i + 4)) << 32
    }
}

enum Buffers {
    /// items: repeated `[kind u8][klen u32][vlen u32][key][payload]`.
    static func packItems(_ items: [(key: Data, value: TaggedValue)]) throws -> Data {
        var size = 0
        for it in items { size += 9 + it.key.count + it.value.payload.count }
        var d = Data(capacity: size)
        for it in items {
            let kl = try ByteWriter.length(it.key.count, "key")
            let vl = try ByteWriter.length(it.value.payload.count, "value")
            d.append(it.value.kindCode)
            ByteWriter.append(&d, u32: kl)
            ByteWriter.append(&d, u32: vl)
            d.append(it.key)
            d.append(it.value.payload)
        }
        return d
    }

    /// Tagged values: repeated `[kind u8][len u32][payload]` (DataPacker.pack_many's input).
    static func packTagged(_ values: [TaggedValue]) throws -> Data {
        var d = Data(capacity: values.reduce(0) { $0 + 5 + $1.payload.count })
        for v in values {
            let n = try ByteWriter.length(v.payload.count, "value")
            d.append(v.kindCode)
            ByteWriter.append(&d, u32: n)
            d.append(v.payload)
        }
        return d
    }

    /// Keys as columns: `(lengths: n × u32 LE, keys: concatenated)` (get_many's input).
    static func packKeyColumns(_ keys: [Data]) throws -> (lengths: Data, keys: Data) {
        var lens = Data(capacity: 4 * keys.count)
        var all = Data(capacity: keys.reduce(0) { $0 + $1.count })
        for k in keys {
            ByteWriter.append(&lens, u32: try ByteWriter.length(k.count, "key"))
            all.append(k)
        }
        return (lens, all)
    }

    /// A bounds-checked little-endian reader over a result buffer.
    struct Reader {
        let data: Data
        var pos: Data.Index

        init(_ data: Data) {
            self.data = data
            self.pos = data.startIndex
        }

        var atEnd: Bool { pos >= data.endIndex }

        mutating func u8() throws -> UInt8 {
            guard pos < data.endIndex else { throw KohakuVaultError.corrupt("truncated batch buffer") }
            defer { pos += 1 }
            return data[pos]
        }

        mutating func u32() throws -> UInt32 {
            guard data.endIndex - pos >= 4 else { throw KohakuVaultError.corrupt("truncated batch buffer") }
            defer { pos += 4 }
            return ByteReader.u32(data, at: pos)
        }

        mutating func bytes(_ n: Int) throws -> Data {
            guard data.endIndex - pos >= n else { throw KohakuVaultError.corrupt("truncated batch buffer") }
            defer { pos += n }
            return data.subdata(in: pos..<(pos + n))
        }

        /// `[kind u8][len u32][payload]`.
        mutating func tagged() throws -> TaggedValue {
            let kind = try u8()
            let payload = try bytes(Int(try u32()))
            return TaggedValue(kindCode: kind, payload: payload)
        }
    }

    /// get_many result: per key `[status u8][len u32][payload]`, status 0xFF = missing.
    static func unpackGetMany(_ buf: Data, expected: Int) throws -> [TaggedValue?] {
        var r = Reader(buf)
        var out: [TaggedValue?] = []
        out.reserveCapacity(expected)
        while !r.atEnd {
            let v = try r.tagged()
            out.append(v.kindCode == 0xFF ? nil : v)
        }
        guard out.count == expected else {
            throw KohakuVaultError.corrupt("get_many returned \(out.count) results for \(expected) keys")
        }
        return out
    }

    /// Repeated `[kind u8][len u32][payload]` (DataPacker.unpack_many's output).
    static func unpackTagged(_ buf: Data) throws -> [TaggedValue] {
        var r = Reader(buf)
        var out: [TaggedValue] = []
        while !r.atEnd { out.append(try r.tagged()) }
        return out
    }

    /// scan page: per entry `[klen u32][key]`, then with values `[kind u8][vlen u32][payload]`.
    static func unpackScan(_ buf: Data, withValues: Bool) throws -> [(key: Data, value: TaggedValue?)] {
        var r = Reader(buf)
        var out: [(key: Data, value: TaggedValue?)] = []
        while !r.atEnd {
            let key = try r.bytes(Int(try r.u32()))
            out.append((key, withValues ? try r.tagged() : nil))
        }
        return out
    }
}

/// The C fast path's entry points (docs/FORMAT.md §5), looked up in the loaded library by name.
enum FastSymbols {
    /// The entry point `name` as the C function type `T`, or nil when it is not there (then the
    /// callers make the UDL calls).
    static func lookup<T>(_ name: String, as _: T.Type) -> T? {
        #if os(Windows)
        return nil
        #else
        #if canImport(Darwin)
        let scope = UnsafeMutableRawPointer(bitPattern: -2) // RTLD_DEFAULT
        #else
        let scope: UnsafeMutableRawPointer? = nil // RTLD_DEFAULT (glibc, bionic, musl)
        #endif
        guard let p = dlsym(scope, name) else { return nil }
        return unsafeBitCast(p, to: T.self)
        #endif
    }
}
