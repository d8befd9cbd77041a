import Foundation

/// Runs a blocking core call on a global dispatch queue, so it does not hold a thread of Swift's
/// cooperative pool; a cancelled task gets `.interrupted` before the call starts.
func offload<T>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    if Task.isCancelled { throw KohakuVaultError.interrupted("the task was cancelled") }
    return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, Error>) in
        DispatchQueue.global(qos: .userInitiated).async {
            do {
                cont.resume(returning: try body())
            } catch {
                cont.resume(throwing: KohakuVaultError.wrap(error))
            }
        }
    }
}

// `async` variants of the blocking calls: the same names, chosen by Swift in an async context
// (`try await vault.set(...)`). Scans are `AsyncSequence`s already (`for try await k in vault.keys()`).
extension KVault {
    public func set<K: VaultKey & Sendable, V: VaultValueConvertible & Sendable>(_ value: V, forKey key: K) async throws {
        try await offload { try self.set(value, forKey: key) }
    }

    public func value<K: VaultKey & Sendable>(forKey key: K) async throws -> TaggedValue? {
        try await offload { try self.value(forKey: key) }
    }

    public func storedBytes<K: VaultKey & Sendable>(forKey key: K) async throws -> Data? {
        try await offload { try self.storedBytes(forKey: key) }
    }

    public func data<K: VaultKey & Sendable>(forKey key: K) async throws -> Data? {
        try await offload { try self.data(forKey: key) }
    }

    public func string<K: VaultKey & Sendable>(forKey key: K) async throws -> String? {
        try await offload { try self.string(forKey: key) }
    }

    public func int64<K: VaultKey & Sendable>(forKey key: K) async throws -> Int64? {
        try await offload { try self.int64(forKey: key) }
    }

    @discardableResult
    public func delete<K: VaultKey & Sendable>(_ key: K) async throws -> Bool {
        try await offload { try self.delete(key) }
    }

    public func contains<K: VaultKey & Sendable>(_ key: K) async throws -> Bool {
        try await offload { try self.contains(key) }
    }

    public func count() async throws -> Int {
        try await offload { try self.count() }
    }

    public func putMany(_ items: [(key: Data, value: TaggedValue)]) async throws {
        try await offload { try self.putMany(items) }
    }

    public func putMany(_ items: [(Data, Data)]) async throws {
        try await offload { try self.putMany(items) }
    }

    public func getMany<K: VaultKey & Sendable>(_ keys: [K]) async throws -> [TaggedValue?] {
        try await offload { try self.getMany(keys) }
    }

    public func setCodable<K: VaultKey & Sendable, T: Encodable & Sendable>(_ value: T, forKey key: K) async throws {
        try await offload { try self.setCodable(value, forKey: key) }
    }

    public func codable<K: VaultKey & Sendable, T: Decodable & Sendable>(_ type: T.Type, forKey key: K) async throws -> T? {
        try await offload { try self.codable(type, forKey: key) }
    }

    /// Streams the file at `url` into `key` (see `put(key:contentsOf:chunkSize:)`).
    public func put<K: VaultKey & Sendable>(key: K, contentsOf url: URL, chunkSize: Int? = nil) async throws {
        try await offload { try self.put(key: key, contentsOf: url, chunkSize: chunkSize) }
    }

    @discardableResult
    public func flushCache() async throws -> UInt64 {
        try await offload { try self.flushCache() }
    }

    public func checkpoint() async throws {
        try await offload { try self.checkpoint() }
    }

    public func optimize() async throws {
        try await offload { try self.optimize() }
    }

    public func integrityCheck() async throws -> [String] {
        try await offload { try self.integrityCheck() }
    }

    public func close() async throws {
        try await offload { try self.close() }
    }
}
