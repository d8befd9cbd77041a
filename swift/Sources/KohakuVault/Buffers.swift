import Foundation

/// The packed little-endian batch buffers of docs/FORMAT.md §4.
enum Buffers {
    /// items: repeated `[kind u8][klen u32][vlen u32][key][payload]`.
    static func packItems(_ items: [(key: Data, value: StoredValue)]) throws -> Data {
        var size = 0
        for it in items { size += 9 + it.key.count + it.value.payload.count }
        var d = Data(capacity: size)
        for it in items {
            guard it.key.count <= Int(UInt32.max), it.value.payload.count <= Int(UInt32.max) else {
                throw KohakuVaultError.invalidArgument("key or value too large for a batch")
            }
            d.append(it.value.kindCode)
            ByteWriter.append(&d, u32: UInt32(it.key.count))
            ByteWriter.append(&d, u32: UInt32(it.value.payload.count))
            d.append(it.key)
            d.append(it.value.payload)
        }
        return d
    }

    /// keys: repeated `[klen u32][key]`.
    static func packKeys(_ keys: [Data]) throws -> Data {
        var d = Data(capacity: keys.reduce(0) { $0 + 4 + $1.count })
        for k in keys {
            guard k.count <= Int(UInt32.max) else { throw KohakuVaultError.invalidArgument("key too large") }
            ByteWriter.append(&d, u32: UInt32(k.count))
            d.append(k)
        }
        return d
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
    }

    /// get_many result: per key `[status u8][len u32][payload]`, status 0xFF = missing.
    static func unpackGetMany(_ buf: Data, expected: Int) throws -> [StoredValue?] {
        var r = Reader(buf)
        var out: [StoredValue?] = []
        out.reserveCapacity(expected)
        while !r.atEnd {
            let status = try r.u8()
            let len = Int(try r.u32())
            let payload = try r.bytes(len)
            out.append(status == 0xFF ? nil : StoredValue(kindCode: status, payload: payload))
        }
        guard out.count == expected else {
            throw KohakuVaultError.corrupt("get_many returned \(out.count) results for \(expected) keys")
        }
        return out
    }

    /// scan page: per entry `[klen u32][key]`, then with values `[kind u8][vlen u32][payload]`.
    static func unpackScan(_ buf: Data, withValues: Bool) throws -> [(key: Data, value: StoredValue?)] {
        var r = Reader(buf)
        var out: [(key: Data, value: StoredValue?)] = []
        while !r.atEnd {
            let key = try r.bytes(Int(try r.u32()))
            if withValues {
                let kind = try r.u8()
                let payload = try r.bytes(Int(try r.u32()))
                out.append((key, StoredValue(kindCode: kind, payload: payload)))
            } else {
                out.append((key, nil))
            }
        }
        return out
    }
}
