import Foundation

// `async` variants of the blocking calls of `VectorKVault`: the same names, chosen by Swift in an
// async context (`try await vault.search(query, k: 5)`). Each runs on a global dispatch queue
// (`offload`), not on a thread of the cooperative pool; a cancelled task gets `.interrupted`
// before the call starts. Values are converted to their (kind, payload) before the hop, so any
// `VaultValueConvertible` may be passed.
extension VectorKVault {
    @discardableResult
    public func insert<V: VaultValueConvertible>(_ vector: [Float], value: V,
                                                 metadata: [String: PlainValue]? = nil) async throws -> Int64 {
        let v = try value.vaultValue()
        return try await offload { try self.insert(vector, value: v, metadata: metadata) }
    }

    @discardableResult
    public func insert<V: VaultValueConvertible>(_ vector: Data, value: V,
                                                 metadata: [String: PlainValue]? = nil) async throws -> Int64 {
        let v = try value.vaultValue()
        return try await offload { try self.insert(vector, value: v, metadata: metadata) }
    }

    @discardableResult
    public func insert(contentsOf vectors: [[Float]], values: [any VaultValueConvertible],
                       metadata: [[String: PlainValue]?]? = nil) async throws -> [Int64] {
        let tagged = try values.map { try $0.vaultValue() }
        return try await offload { try self.insert(contentsOf: vectors, values: tagged, metadata: metadata) }
    }

    @discardableResult
    public func insert(contentsOf vectors: [Data], values: [any VaultValueConvertible],
                       metadata: [[String: PlainValue]?]? = nil) async throws -> [Int64] {
        let tagged = try values.map { try $0.vaultValue() }
        return try await offload { try self.insert(contentsOf: vectors, values: tagged, metadata: metadata) }
    }

    public func search(_ query: [Float], k: Int = 10, filter: VectorFilter? = nil,
                       decoded: Bool = true) async throws -> [VectorHit] {
        try await offload { try self.search(query, k: k, filter: filter, decoded: decoded) }
    }

    public func search(_ query: Data, k: Int = 10, filter: VectorFilter? = nil,
                       decoded: Bool = true) async throws -> [VectorHit] {
        try await offload { try self.search(query, k: k, filter: filter, decoded: decoded) }
    }

    public func search(many queries: [[Float]], k: Int = 10, filter: VectorFilter? = nil,
                       decoded: Bool = true) async throws -> [[VectorHit]] {
        try await offload { try self.search(many: queries, k: k, filter: filter, decoded: decoded) }
    }

    public func search(many queries: [Data], k: Int = 10, filter: VectorFilter? = nil,
                       decoded: Bool = true) async throws -> [[VectorHit]] {
        try await offload { try self.search(many: queries, k: k, filter: filter, decoded: decoded) }
    }

    public func get(_ query: [Float], filter: VectorFilter? = nil) async throws -> TaggedValue {
        try await offload { try self.get(query, filter: filter) }
    }

    public func get(_ query: Data, filter: VectorFilter? = nil) async throws -> TaggedValue {
        try await offload { try self.get(query, filter: filter) }
    }

    public func record(id: Int64, decoded: Bool = true) async throws -> VectorRecord {
        try await offload { try self.record(id: id, decoded: decoded) }
    }

    public func update(_ id: Int64, vector: [Float], value: (any VaultValueConvertible)? = nil,
                       metadata: [String: PlainValue]? = nil) async throws {
        let v = try value?.vaultValue()
        try await offload { try self.update(id, vector: vector, value: v, metadata: metadata) }
    }

    public func update(_ id: Int64, vector: Data, value: (any VaultValueConvertible)? = nil,
                       metadata: [String: PlainValue]? = nil) async throws {
        let v = try value?.vaultValue()
        try await offload { try self.update(id, vector: vector, value: v, metadata: metadata) }
    }

    public func update(_ id: Int64, value: (any VaultValueConvertible)? = nil,
                       metadata: [String: PlainValue]? = nil) async throws {
        let v = try value?.vaultValue()
        try await offload { try self.update(id, value: v, metadata: metadata) }
    }

    @discardableResult
    public func delete(_ id: Int64) async throws -> Bool {
        try await offload { try self.delete(id) }
    }

    public func contains(_ id: Int64) async throws -> Bool {
        try await offload { try self.contains(id) }
    }

    public func count() async throws -> Int {
        try await offload { try self.count() }
    }

    public func ids() async throws -> [Int64] {
        try await offload { try self.ids() }
    }

    public func info() async throws -> VectorInfo {
        try await offload { try self.info() }
    }

    @discardableResult
    public func compact() async throws -> Int {
        try await offload { try self.compact() }
    }

    @discardableResult
    public func checkpoint() async throws -> WalCheckpoint {
        try await offload { try self.checkpoint() }
    }

    public func close() async throws {
        try await offload { try self.close() }
    }
}
