import Foundation
import KohakuVaultCore

// Streaming large values in chunks (docs/COMPATIBILITY.md §3.5).
extension KVault {
    /// Streams exactly `size` bytes read from `handle` into `key` as a raw value, published
    /// atomically at the end. Nothing is published on failure: a source shorter than `size` throws
    /// `.invalidArgument` (the core's `finish()` reports it) and the old value stays.
    public func put<K: VaultKey>(key: K, from handle: FileHandle, size: UInt64, chunkSize: Int? = nil) throws {
        let chunk = chunkSize ?? options.chunkSize
        guard chunk > 0 else { throw KohakuVaultError.invalidArgument("chunk_size must be positive") }
        let k = key.vaultKeyBytes
        let stream = try core { try store.putStream(key: k, size: size) }
        do {
            var left = size
            while left > 0 {
                let want = Int(min(UInt64(chunk), left))
                let data: Data
                do {
                    data = try handle.read(upToCount: want) ?? Data()
                } catch {
                    throw KohakuVaultError.io("reading the source failed: \(error)")
                }
                if data.isEmpty { break } // short source: finish() says so
                try core { try stream.write(chunk: data) }
                left -= UInt64(data.count)
            }
            try core { try stream.finish() }
        } catch {
            stream.abort()
            throw KohakuVaultError.wrap(error)
        }
    }

    /// Streams the whole file at `url` into `key`.
    public func put<K: VaultKey>(key: K, contentsOf url: URL, chunkSize: Int? = nil) throws {
        let attrs: [FileAttributeKey: Any]
        let handle: FileHandle
        do {
            attrs = try FileManager.default.attributesOfItem(atPath: url.path)
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw KohakuVaultError.io("cannot open \(url.path): \(error)")
        }
        defer { try? handle.close() }
        let size = (attrs[.size] as? NSNumber)?.uint64Value ?? 0
        try put(key: key, from: handle, size: size, chunkSize: chunkSize)
    }

    /// Streams the stored bytes of `key` (header included) to `handle`; returns the byte count.
    /// A missing key throws `.notFound`.
    @discardableResult
    public func write<K: VaultKey>(key: K, to handle: FileHandle, chunkSize: Int? = nil) throws -> UInt64 {
        let chunk = chunkSize ?? options.chunkSize
        guard chunk > 0, chunk <= Int(UInt32.max) else {
            throw KohakuVaultError.invalidArgument("chunk_size must be positive")
        }
        let k = key.vaultKeyBytes
        let stream = try core { try store.getStream(key: k) }
        defer { stream.close() }
        var total: UInt64 = 0
        while true {
            let data = try core { try stream.read(max: UInt32(chunk)) }
            if data.isEmpty { break }
            do {
                try handle.write(contentsOf: data)
            } catch {
                throw KohakuVaultError.io("writing the destination failed: \(error)")
            }
            total += UInt64(data.count)
        }
        return total
    }
}
