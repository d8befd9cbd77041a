import Foundation
import KohakuVaultCore

// Iteration in key order, paged through the core's scan (keyset pagination; docs/COMPATIBILITY.md §3.4).
extension KVault {
    /// One page of at most `limit` entries with keys after `after` (exclusive) under `prefix`.
    public func scanPage(prefix: Data? = nil, after: Data? = nil, limit: Int, withValues: Bool,
                         decoded: Bool = true) throws -> [(key: Data, value: TaggedValue?)] {
        try fetchPage(prefix: prefix, after: after, limit: limit, withValues: withValues, decoded: decoded).entries
    }

    /// A page and the core's `end` flag (true when no entry follows it).
    func fetchPage(prefix: Data?, after: Data?, limit: Int, withValues: Bool,
                   decoded: Bool = true) throws -> (entries: [(key: Data, value: TaggedValue?)], end: Bool) {
        guard limit > 0 else { throw KohakuVaultError.invalidArgument("page size must be positive") }
        let req = ScanRequest(prefix: prefix, after: after, limit: UInt32(clamping: limit),
                              withValues: withValues, decoded: decoded)
        let page = try core { try store.scan(request: req) }
        return (try Buffers.unpackScan(page.entries, withValues: withValues), page.end)
    }

    /// Keys in byte order, optionally under `prefix` and at most `limit` of them.
    ///
    ///     let all = try vault.keys(prefix: "user:").collect()
    ///     var it = vault.keys().makeIterator()
    ///     while let k = try it.next() { ... }
    ///     for try await k in vault.keys() { ... }      // AsyncSequence, pages fetched off the caller's thread
    public func keys(prefix: (any VaultKey)? = nil, limit: Int? = nil, pageSize: Int = 1024) -> KeySequence {
        KeySequence(vault: self, prefix: prefix?.vaultKeyBytes, limit: limit, pageSize: pageSize)
    }

    /// (key, decoded value) pairs in key order; iterated like `keys()`.
    public func items(prefix: (any VaultKey)? = nil, limit: Int? = nil, pageSize: Int = 128) -> ItemSequence {
        ItemSequence(vault: self, prefix: prefix?.vaultKeyBytes, limit: limit, pageSize: pageSize)
    }
}

/// Keys in byte order, fetched page by page. Iterate with a throwing `next()` (`makeIterator()`),
/// `collect()`, or as an `AsyncSequence` (`for try await`). A failure (a closed vault, a page size
/// of 0, a negative limit) is thrown, never trapped.
public struct KeySequence: AsyncSequence, Sendable {
    public typealias Element = Data
    let vault: KVault
    let prefix: Data?
    let limit: Int?
    let pageSize: Int

    var pager: Pager { Pager(vault: vault, prefix: prefix, limit: limit, pageSize: pageSize, withValues: false) }

    public func makeIterator() -> Iterator { Iterator(pager: pager) }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pager: pager) }

    /// All keys as an array.
    public func collect() throws -> [Data] {
        var it = makeIterator()
        var out: [Data] = []
        while let k = try it.next() { out.append(k) }
        return out
    }

    public struct Iterator {
        var pager: Pager
        public mutating func next() throws -> Data? { try pager.next()?.key }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var pager: Pager
        public mutating func next() async throws -> Data? { try await pager.nextAsync()?.key }
    }
}

/// (key, value) pairs in key order, fetched page by page; iterated like `KeySequence`.
public struct ItemSequence: AsyncSequence, Sendable {
    public typealias Element = (key: Data, value: TaggedValue)
    let vault: KVault
    let prefix: Data?
    let limit: Int?
    let pageSize: Int

    var pager: Pager { Pager(vault: vault, prefix: prefix, limit: limit, pageSize: pageSize, withValues: true) }

    public func makeIterator() -> Iterator { Iterator(pager: pager) }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pager: pager) }

    /// All pairs as an array.
    public func collect() throws -> [(key: Data, value: TaggedValue)] {
        var it = makeIterator()
        var out: [(key: Data, value: TaggedValue)] = []
        while let kv = try it.next() { out.append(kv) }
        return out
    }

    static func item(_ e: (key: Data, value: TaggedValue?)?) throws -> (key: Data, value: TaggedValue)? {
        guard let e else { return nil }
        guard let v = e.value else { throw KohakuVaultError.corrupt("scan page without values") }
        return (e.key, v)
    }

    public struct Iterator {
        var pager: Pager
        public mutating func next() throws -> (key: Data, value: TaggedValue)? { try ItemSequence.item(try pager.next()) }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var pager: Pager
        public mutating func next() async throws -> (key: Data, value: TaggedValue)? {
            try ItemSequence.item(try await pager.nextAsync())
        }
    }
}

/// Keyset pagination over `scan`: each page starts after the last key seen; the core's `end`
/// flag saves the final empty page.
struct Pager {
    typealias Entry = (key: Data, value: TaggedValue?)
    let vault: KVault
    let prefix: Data?
    var remaining: Int?
    let pageSize: Int
    let withValues: Bool
    var buffer: [Entry] = []
    var index = 0
    var after: Data?
    var done = false

    init(vault: KVault, prefix: Data?, limit: Int?, pageSize: Int, withValues: Bool) {
        self.vault = vault
        self.prefix = prefix
        self.remaining = limit
        self.pageSize = pageSize
        self.withValues = withValues
    }

    /// The next buffered entry, if any.
    private mutating func take() -> Entry? {
        guard index < buffer.count, remaining != 0 else { return nil }
        let e = buffer[index]
        index += 1
        if let r = remaining { remaining = r - 1 }
        return e
    }

    /// How many entries the next page should hold; nil when the scan is over.
    private func pageRequest() throws -> Int? {
        if let r = remaining, r < 0 { throw KohakuVaultError.invalidArgument("limit must be non-negative") }
        guard pageSize > 0 else { throw KohakuVaultError.invalidArgument("page size must be positive") }
        if remaining == 0 || done { return nil }
        return min(pageSize, remaining ?? Int.max)
    }

    private mutating func fill(_ page: (entries: [Entry], end: Bool)) {
        buffer = page.entries
        index = 0
        done = page.end || page.entries.isEmpty
        if let last = page.entries.last { after = last.key }
    }

    mutating func next() throws -> Entry? {
        if let e = take() { return e }
        guard let want = try pageRequest() else { return nil }
        fill(try vault.fetchPage(prefix: prefix, after: after, limit: want, withValues: withValues))
        return take()
    }

    mutating func nextAsync() async throws -> Entry? {
        if let e = take() { return e }
        guard let want = try pageRequest() else { return nil }
        let (v, p, a, wv) = (vault, prefix, after, withValues)
        fill(try await offload { try v.fetchPage(prefix: p, after: a, limit: want, withValues: wv) })
        return take()
    }
}
