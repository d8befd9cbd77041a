import Foundation

// `async` variants of the blocking calls of `TextVault`: the same names, chosen by Swift in an
// async context (`try await vault.search("fox", k: 5)`). Each runs on a global dispatch queue
// (`offload`), not on a thread of the cooperative pool; a cancelled task gets `.interrupted`
// before the call starts. Values are converted to their (kind, payload) before the hop, so any
// `VaultValueConvertible` may be passed.
extension TextVault {
    @discardableResult
    public func insert<V: VaultValueConvertible>(_ text: String, value: V, vector: [Float]? = nil) async throws -> Int64 {
        let v = try value.vaultValue()
        return try await offload { try self.insert(text, value: v, vector: vector) }
    }

    @discardableResult
    public func insert<V: VaultValueConvertible>(texts: [String: String], value: V,
                                                 vector: [Float]? = nil) async throws -> Int64 {
        let v = try value.vaultValue()
        return try await offload { try self.insert(texts: texts, value: v, vector: vector) }
    }

    @discardableResult
    public func insert<V: VaultValueConvertible>(_ text: String, value: V, vectorRow: Data) async throws -> Int64 {
        let v = try value.vaultValue()
        return try await offload { try self.insert(text, value: v, vectorRow: vectorRow) }
    }

    @discardableResult
    public func insert<V: VaultValueConvertible>(texts: [String: String], value: V,
                                                 vectorRow: Data) async throws -> Int64 {
        let v = try value.vaultValue()
        return try await offload { try self.insert(texts: texts, value: v, vectorRow: vectorRow) }
    }

    @discardableResult
    public func insert(contentsOf docs: [TextDoc]) async throws -> [Int64] {
        try await offload { try self.insert(contentsOf: docs) }
    }

    public func search(_ query: String, k: Int = 10, column: String? = nil, escape: Bool = true,
                       decoded: Bool = true) async throws -> [TextHit] {
        try await offload { try self.search(query, k: k, column: column, escape: escape, decoded: decoded) }
    }

    public func searchWithText(_ query: String, k: Int = 10, column: String? = nil, escape: Bool = true,
                               decoded: Bool = true) async throws -> [TextHit] {
        try await offload { try self.searchWithText(query, k: k, column: column, escape: escape, decoded: decoded) }
    }

    public func searchWithSnippets(_ query: String, k: Int = 10, snippetColumn: String? = nil,
                                   snippetTokens: Int = 10, highlightStart: String = "**",
                                   highlightEnd: String = "**", escape: Bool = true,
                                   decoded: Bool = true) async throws -> [TextHit] {
        try await offload {
            try self.searchWithSnippets(query, k: k, snippetColumn: snippetColumn, snippetTokens: snippetTokens,
                                        highlightStart: highlightStart, highlightEnd: highlightEnd, escape: escape,
                                        decoded: decoded)
        }
    }

    public func countMatches(_ query: String) async throws -> Int {
        try await offload { try self.countMatches(query) }
    }

    public func get(_ key: String, decoded: Bool = true) async throws -> TaggedValue {
        try await offload { try self.get(key, decoded: decoded) }
    }

    public func hybridSearch(query: String?, vector: [Float]?, k: Int = 10, textWeight: Double = 1,
                             vectorWeight: Double = 1, rrfK: Int = 60, candidates: Int? = nil,
                             decoded: Bool = true) async throws -> [TextHit] {
        try await offload {
            try self.hybridSearch(query: query, vector: vector, k: k, textWeight: textWeight,
                                  vectorWeight: vectorWeight, rrfK: rrfK, candidates: candidates, decoded: decoded)
        }
    }

    public func hybridSearch(query: String?, vectorRow: Data, k: Int = 10, textWeight: Double = 1,
                             vectorWeight: Double = 1, rrfK: Int = 60, candidates: Int? = nil,
                             decoded: Bool = true) async throws -> [TextHit] {
        try await offload {
            try self.hybridSearch(query: query, vectorRow: vectorRow, k: k, textWeight: textWeight,
                                  vectorWeight: vectorWeight, rrfK: rrfK, candidates: candidates, decoded: decoded)
        }
    }

    public func searchByVector(_ vector: [Float], k: Int = 10, decoded: Bool = true) async throws -> [TextHit] {
        try await offload { try self.searchByVector(vector, k: k, decoded: decoded) }
    }

    public func searchByVector(_ vector: Data, k: Int = 10, decoded: Bool = true) async throws -> [TextHit] {
        try await offload { try self.searchByVector(vector, k: k, decoded: decoded) }
    }

    public func record(id: Int64, decoded: Bool = true) async throws -> TextRecord {
        try await offload { try self.record(id: id, decoded: decoded) }
    }

    public func update(_ id: Int64, text: String, value: (any VaultValueConvertible)? = nil,
                       vector: [Float]? = nil) async throws {
        let v = try value?.vaultValue()
        try await offload { try self.update(id, text: text, value: v, vector: vector) }
    }

    public func update(_ id: Int64, texts: [String: String], value: (any VaultValueConvertible)? = nil,
                       vector: [Float]? = nil) async throws {
        let v = try value?.vaultValue()
        try await offload { try self.update(id, texts: texts, value: v, vector: vector) }
    }

    public func update(_ id: Int64, value: (any VaultValueConvertible)? = nil, vector: [Float]? = nil) async throws {
        let v = try value?.vaultValue()
        try await offload { try self.update(id, value: v, vector: vector) }
    }

    public func update(_ id: Int64, texts: TextDoc.Texts?, value: (any VaultValueConvertible)?,
                       vectorRow: Data?) async throws {
        let v = try value?.vaultValue()
        try await offload { try self.update(id, texts: texts, value: v, vectorRow: vectorRow) }
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

    public func keys(limit: Int? = nil, offset: Int = 0) async throws -> [Int64] {
        try await offload { try self.keys(limit: limit, offset: offset) }
    }

    public func clear() async throws {
        try await offload { try self.clear() }
    }

    public func info() async throws -> TextInfo {
        try await offload { try self.info() }
    }

    @discardableResult
    public func checkpoint() async throws -> WalCheckpoint {
        try await offload { try self.checkpoint() }
    }

    public func close() async throws {
        try await offload { try self.close() }
    }
}
