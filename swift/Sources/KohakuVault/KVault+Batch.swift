import Foundation
import KohakuVaultCore

// Batches: one FFI call per batch, packed buffers (docs/FORMAT.md §4).
extension KVault {
    /// Stores all pairs in one atomic transaction (bypassing the cache; the last duplicate wins).
    public func putMany(_ items: [(key: Data, value: TaggedValue)]) throws {
        let buf = try Buffers.packItems(items)
        try core { try store.putMany(items: buf) }
    }

    /// Stores raw byte values in one transaction.
    public func putMany(_ items: [(Data, Data)]) throws {
        try putMany(items.map { (key: $0.0, value: TaggedValue(kind: .raw, payload: $0.1)) })
    }

    /// Stores values of any convertible type in one transaction.
    public func putMany<K: VaultKey>(_ items: [(K, any VaultValueConvertible)]) throws {
        try putMany(try items.map { (key: $0.0.vaultKeyBytes, value: try $0.1.vaultValue()) })
    }

    /// Decoded values in input order (nil for missing keys), from one snapshot.
    public func getMany<K: VaultKey>(_ keys: [K]) throws -> [TaggedValue?] {
        try getMany(keys.map { $0.vaultKeyBytes }, decoded: true)
    }

    /// Stored bytes (header included) in input order, nil for missing keys.
    public func getManyStored<K: VaultKey>(_ keys: [K]) throws -> [Data?] {
        try getMany(keys.map { $0.vaultKeyBytes }, decoded: false).map { $0?.payload }
    }

    func getMany(_ keys: [Data], decoded: Bool) throws -> [TaggedValue?] {
        let cols = try Buffers.packKeyColumns(keys)
        let res = try core { try store.getMany(keyLens: cols.lengths, keys: cols.keys, decoded: decoded) }
        return try Buffers.unpackGetMany(res, expected: keys.count)
    }
}
