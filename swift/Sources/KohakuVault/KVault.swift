import Foundation
import KohakuVaultCore

/// A key-value vault in one SQLite file (table `kv` by default), readable and writable by the
/// Python, Kotlin and Swift bindings alike.
///
/// Keys are bytes (`Data`, `[UInt8]`) or strings (stored as UTF-8). Values are raw bytes or typed
/// values (text, integers, floats, bools, arrays, plain maps/lists) whose stored encoding the Rust
/// core decides (docs/FORMAT.md). Every throwing method throws `KohakuVaultError`.
///
///     let vault = try KVault(path: "data.db")
///     try vault.set("hello", forKey: "greeting")
///     vault["blob"] = Data([1, 2, 3])
///     let n = try vault.int64(forKey: "count")
///     try vault.close()
public final class KVault: @unchecked Sendable {
    /// Open options (defaults as kohakuvault 1.1.0).
    public struct Options: Sendable {
        public var readOnly = false
        public var enableWal = true
        public var pageSize: UInt32 = 32768
        public var mmapSize: UInt64 = 268_435_456
        public var cacheKb: UInt32 = 100_000
        public var readerCacheKb: UInt32 = 8192
        public var readerIdleLimit: UInt32 = 8
        public var busyTimeoutMs: UInt32 = 5000
        /// Default chunk size of the streaming methods.
        public var chunkSize: Int = 1 << 20

        public init(readOnly: Bool = false, enableWal: Bool = true, pageSize: UInt32 = 32768,
                    mmapSize: UInt64 = 268_435_456, cacheKb: UInt32 = 100_000, readerCacheKb: UInt32 = 8192,
                    readerIdleLimit: UInt32 = 8, busyTimeoutMs: UInt32 = 5000, chunkSize: Int = 1 << 20) {
            self.readOnly = readOnly
            self.enableWal = enableWal
            self.pageSize = pageSize
            self.mmapSize = mmapSize
            self.cacheKb = cacheKb
            self.readerCacheKb = readerCacheKb
            self.readerIdleLimit = readerIdleLimit
            self.busyTimeoutMs = busyTimeoutMs
            self.chunkSize = chunkSize
        }

        var core: OpenOptions {
            OpenOptions(readOnly: readOnly, enableWal: enableWal, pageSize: pageSize, mmapSize: mmapSize,
                        cacheKb: cacheKb, readerCacheKb: readerCacheKb, readerIdleLimit: readerIdleLimit,
                        busyTimeoutMs: busyTimeoutMs)
        }
    }

    /// The generated core object, for what the facade does not cover.
    public let store: KvStore
    public let options: Options

    /// Opens (creating if needed) the vault at `path`, table `table`.
    public init(path: String, table: String = "kv", options: Options = Options()) throws {
        guard options.chunkSize > 0 else { throw KohakuVaultError.invalidArgument("chunk_size must be positive") }
        self.options = options
        self.store = try core { try KvStore(path: path, table: table, options: options.core) }
    }

    /// Opens the vault at a file URL.
    public convenience init(url: URL, table: String = "kv", options: Options = Options()) throws {
        try self.init(path: url.path, table: table, options: options)
    }

    deinit {
        // Publish pending cache entries; closing twice is a no-op.
        if !store.isClosed() { try? store.close() }
    }

    // MARK: - Properties

    public var path: String { store.path() }
    public var table: String { store.table() }
    public var isReadOnly: Bool { store.readOnly() }
    public var isClosed: Bool { store.isClosed() }

    /// Headers on non-raw values (on by default; off stores payloads bare, as 1.1.0's disable_headers()).
    public var headersEnabled: Bool {
        get { store.headersEnabled() }
        set { store.setHeadersEnabled(enabled: newValue) }
    }

    // MARK: - Point operations

    /// Stores `value` under `key` with the value's natural kind (raw bytes for `Data`/`[UInt8]`).
    public func set<K: VaultKey, V: VaultValueConvertible>(_ value: V, forKey key: K) throws {
        let v = try value.vaultValue()
        try put(key: key.vaultKeyBytes, kind: v.kindCode, payload: v.payload)
    }

    /// Stores an explicit (kind, payload) pair.
    public func put(key: Data, kind: UInt8, payload: Data) throws {
        try core { try store.put(key: key, kind: kind, payload: payload) }
    }

    public func setData<K: VaultKey>(_ value: Data, forKey key: K) throws { try set(value, forKey: key) }
    public func setString<K: VaultKey>(_ value: String, forKey key: K) throws { try set(value, forKey: key) }
    public func setInt64<K: VaultKey>(_ value: Int64, forKey key: K) throws { try set(value, forKey: key) }
    public func setDouble<K: VaultKey>(_ value: Double, forKey key: K) throws { try set(value, forKey: key) }
    public func setBool<K: VaultKey>(_ value: Bool, forKey key: K) throws { try set(value, forKey: key) }
    public func setPlain<K: VaultKey>(_ value: PlainValue, forKey key: K) throws { try set(value, forKey: key) }

    /// Stores a float32 ndarray (`shape` defaults to one dimension).
    public func setFloatArray<K: VaultKey>(_ values: [Float], shape: [Int]? = nil, forKey key: K) throws {
        try set(try NDArray(values, shape: shape), forKey: key)
    }

    /// Stores a float64 ndarray (`shape` defaults to one dimension).
    public func setDoubleArray<K: VaultKey>(_ values: [Double], shape: [Int]? = nil, forKey key: K) throws {
        try set(try NDArray(values, shape: shape), forKey: key)
    }

    /// Stores JSON text (kind json).
    public func setJSON<K: VaultKey>(_ text: String, forKey key: K) throws {
        try set(StoredValue(kind: .json, payload: Data(text.utf8)), forKey: key)
    }

    /// Stores MessagePack bytes as they are (kind msgpack).
    public func setMsgpack<K: VaultKey>(_ bytes: Data, forKey key: K) throws {
        try set(StoredValue(kind: .msgpack, payload: bytes), forKey: key)
    }

    /// The decoded (kind, payload) of `key`, or nil when missing.
    public func value<K: VaultKey>(forKey key: K) throws -> StoredValue? {
        let k = key.vaultKeyBytes
        return try core { try store.get(key: k) }.map { StoredValue(kindCode: $0.kind, payload: $0.payload) }
    }

    /// The stored bytes of `key` (header included), as 1.1.0 returns them with auto-pack off.
    public func storedBytes<K: VaultKey>(forKey key: K) throws -> Data? {
        let k = key.vaultKeyBytes
        return try core { try store.getStored(key: k) }
    }

    /// The bytes of a raw value; a typed value throws `.invalidArgument`.
    public func data<K: VaultKey>(forKey key: K) throws -> Data? { try value(forKey: key)?.data() }
    public func string<K: VaultKey>(forKey key: K) throws -> String? { try value(forKey: key)?.string() }
    public func int64<K: VaultKey>(forKey key: K) throws -> Int64? { try value(forKey: key)?.int64() }
    public func double<K: VaultKey>(forKey key: K) throws -> Double? { try value(forKey: key)?.double() }
    public func bool<K: VaultKey>(forKey key: K) throws -> Bool? { try value(forKey: key)?.bool() }
    public func plain<K: VaultKey>(forKey key: K) throws -> PlainValue? { try value(forKey: key)?.plain() }
    public func ndarray<K: VaultKey>(forKey key: K) throws -> NDArray? { try value(forKey: key)?.ndarray() }

    public func floatArray<K: VaultKey>(forKey key: K) throws -> (values: [Float], shape: [Int])? {
        try value(forKey: key)?.floatArray()
    }

    public func doubleArray<K: VaultKey>(forKey key: K) throws -> (values: [Double], shape: [Int])? {
        try value(forKey: key)?.doubleArray()
    }

    /// Raw bytes by key. Reading gives the stored bytes (raw values exactly as written, typed
    /// values with their header); writing stores raw bytes, and `nil` deletes.
    /// A failure traps: use `storedBytes(forKey:)`, `set(_:forKey:)` and `delete(_:)` to handle errors.
    public subscript(key: String) -> Data? {
        get { trapping { try storedBytes(forKey: key) } }
        set { trapping { try assign(newValue, key.vaultKeyBytes) } }
    }

    public subscript(key: Data) -> Data? {
        get { trapping { try storedBytes(forKey: key) } }
        set { trapping { try assign(newValue, key) } }
    }

    public subscript(key: [UInt8]) -> Data? {
        get { trapping { try storedBytes(forKey: key) } }
        set { trapping { try assign(newValue, Data(key)) } }
    }

    private func assign(_ value: Data?, _ key: Data) throws {
        if let value { try set(value, forKey: key) } else { try delete(key) }
    }

    /// Deletes `key`; true if it existed.
    @discardableResult
    public func delete<K: VaultKey>(_ key: K) throws -> Bool {
        let k = key.vaultKeyBytes
        return try core { try store.delete(key: k) }
    }

    public func contains<K: VaultKey>(_ key: K) throws -> Bool {
        let k = key.vaultKeyBytes
        return try core { try store.exists(key: k) }
    }

    /// Number of keys (committed plus pending cache entries).
    public func count() throws -> Int {
        Int(try core { try store.len() })
    }

    /// Atomically reads and deletes `key`; nil when missing.
    @discardableResult
    public func pop<K: VaultKey>(_ key: K) throws -> StoredValue? {
        let k = key.vaultKeyBytes
        return try core { try store.pop(key: k) }.map { StoredValue(kindCode: $0.kind, payload: $0.payload) }
    }

    /// Returns the existing value, or stores `value` and returns nil.
    @discardableResult
    public func setDefault<K: VaultKey, V: VaultValueConvertible>(_ value: V, forKey key: K) throws -> StoredValue? {
        let k = key.vaultKeyBytes
        let v = try value.vaultValue()
        return try core { try store.setdefault(key: k, kind: v.kindCode, payload: v.payload) }
            .map { StoredValue(kindCode: $0.kind, payload: $0.payload) }
    }

    /// Deletes every key.
    public func clear() throws {
        try core { try store.clear() }
    }

    // MARK: - Batches

    /// Stores all pairs in one atomic transaction (bypassing the cache; the last duplicate wins).
    public func putMany(_ items: [(key: Data, value: StoredValue)]) throws {
        let buf = try Buffers.packItems(items)
        try core { try store.putMany(items: buf) }
    }

    /// Stores raw byte values in one transaction.
    public func putMany(_ items: [(Data, Data)]) throws {
        try putMany(items.map { (key: $0.0, value: StoredValue(kind: .raw, payload: $0.1)) })
    }

    /// Stores values of any convertible type in one transaction.
    public func putMany<K: VaultKey>(_ items: [(K, any VaultValueConvertible)]) throws {
        try putMany(try items.map { (key: $0.0.vaultKeyBytes, value: try $0.1.vaultValue()) })
    }

    /// Decoded values in input order (nil for missing keys), from one snapshot.
    public func getMany<K: VaultKey>(_ keys: [K]) throws -> [StoredValue?] {
        let buf = try Buffers.packKeys(keys.map { $0.vaultKeyBytes })
        let res = try core { try store.getMany(keys: buf) }
        return try Buffers.unpackGetMany(res, expected: keys.count)
    }

    /// Stored bytes (header included) in input order, nil for missing keys.
    public func getManyStored<K: VaultKey>(_ keys: [K]) throws -> [Data?] {
        let buf = try Buffers.packKeys(keys.map { $0.vaultKeyBytes })
        let res = try core { try store.getManyStored(keys: buf) }
        return try Buffers.unpackGetMany(res, expected: keys.count).map { $0?.payload }
    }

    // MARK: - Iteration (key order, paged through scan)

    /// One page of at most `limit` entries with keys after `after` (exclusive) under `prefix`.
    public func scanPage(prefix: Data? = nil, after: Data? = nil, limit: Int, withValues: Bool,
                         decoded: Bool = true) throws -> [(key: Data, value: StoredValue?)] {
        guard limit > 0 else { throw KohakuVaultError.invalidArgument("page size must be positive") }
        let req = ScanRequest(prefix: prefix, after: after, limit: UInt32(clamping: limit),
                              withValues: withValues, decoded: decoded)
        let page = try core { try store.scan(request: req) }
        return try Buffers.unpackScan(page, withValues: withValues)
    }

    /// Keys in byte order, optionally under `prefix` and at most `limit` of them.
    public func keys(prefix: (any VaultKey)? = nil, limit: Int? = nil, pageSize: Int = 1024) -> KeySequence {
        KeySequence(vault: self, prefix: prefix?.vaultKeyBytes, limit: limit, pageSize: pageSize)
    }

    /// (key, decoded value) pairs in key order.
    public func items(prefix: (any VaultKey)? = nil, limit: Int? = nil, pageSize: Int = 128) -> ItemSequence {
        ItemSequence(vault: self, prefix: prefix?.vaultKeyBytes, limit: limit, pageSize: pageSize)
    }

    // MARK: - Write-back cache

    /// Buffers puts in memory until `flushThreshold` bytes (default cap/4), `flushCache()`,
    /// `disableCache()` or `close()`; with `flushInterval` a background flush also runs.
    public func enableCache(capBytes: UInt64 = 64 << 20, flushThreshold: UInt64? = nil,
                            flushInterval: TimeInterval? = nil) throws {
        let threshold = flushThreshold ?? max(1, capBytes / 4)
        try core { try store.enableCache(capBytes: capBytes, flushThreshold: threshold, flushIntervalSecs: flushInterval) }
    }

    /// Flushes and removes the cache.
    public func disableCache() throws {
        try core { try store.disableCache() }
    }

    /// Commits pending entries; returns how many were written.
    @discardableResult
    public func flushCache() throws -> UInt64 {
        try core { try store.flushCache() }
    }

    public var cacheStats: CacheStats { store.cacheStats() }

    /// The last background flush error, if any.
    public var backgroundFlushError: String? { store.backgroundFlushError() }

    /// Runs `body` with a write-back cache enabled, then flushes (if `autoFlush`) and disables it,
    /// also when `body` throws.
    @discardableResult
    public func withCache<T>(capBytes: UInt64 = 64 << 20, flushThreshold: UInt64? = nil, autoFlush: Bool = true,
                             _ body: (KVault) throws -> T) throws -> T {
        try enableCache(capBytes: capBytes, flushThreshold: flushThreshold)
        let result: T
        do {
            result = try body(self)
        } catch {
            if autoFlush { _ = try? flushCache() }
            try? disableCache()
            throw error
        }
        if autoFlush { try flushCache() }
        try disableCache()
        return result
    }

    /// Runs `body` with the cache locked (no flushes; puts that would need one fail with `.busy`).
    public func withCacheLocked<T>(_ body: (KVault) throws -> T) rethrows -> T {
        store.setCacheLocked(locked: true)
        defer { store.setCacheLocked(locked: false) }
        return try body(self)
    }

    // MARK: - Streaming

    /// Streams exactly `size` bytes read from `handle` into `key` as a raw value, published
    /// atomically at the end (nothing is published on failure).
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
                if data.isEmpty {
                    throw KohakuVaultError.invalidArgument("short write: wrote \(size - left) of \(size) bytes")
                }
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

    // MARK: - Maintenance

    public func registerFeature(_ feature: String) throws { try core { try store.registerFeature(feature: feature) } }
    public func features() throws -> [String] { try core { try store.features() } }
    public func checkpoint() throws { try core { try store.checkpoint() } }
    public func optimize() throws { try core { try store.optimize() } }
    public var readerPoolStats: ReaderPoolStats { store.readerPoolStats() }
    /// Interrupts a running query from another thread.
    public func interrupt() { store.interrupt() }

    /// Flushes the cache and closes the file. Idempotent; later calls on this vault throw `.closed`.
    public func close() throws {
        try core { try store.close() }
    }
}

@inline(__always)
private func trapping<T>(_ body: () throws -> T) -> T {
    do {
        return try body()
    } catch {
        fatalError("KVault subscript failed: \(error)")
    }
}

// MARK: - Sequences

/// Keys in byte order, fetched page by page. A failure while iterating with `for`-`in` traps; use
/// `makeIterator()` and `nextKey()` to handle errors.
public struct KeySequence: Sequence {
    let vault: KVault
    let prefix: Data?
    let limit: Int?
    let pageSize: Int

    public func makeIterator() -> Iterator {
        Iterator(pager: Pager(vault: vault, prefix: prefix, limit: limit, pageSize: pageSize, withValues: false))
    }

    /// All keys as an array (throws instead of trapping).
    public func collect() throws -> [Data] {
        var it = makeIterator()
        var out: [Data] = []
        while let k = try it.nextKey() { out.append(k) }
        return out
    }

    public struct Iterator: IteratorProtocol {
        var pager: Pager

        public mutating func nextKey() throws -> Data? { try pager.next()?.key }

        public mutating func next() -> Data? {
            do { return try nextKey() } catch { fatalError("KVault key iteration failed: \(error)") }
        }
    }
}

/// (key, value) pairs in key order, fetched page by page. A failure while iterating with
/// `for`-`in` traps; use `makeIterator()` and `nextItem()` to handle errors.
public struct ItemSequence: Sequence {
    let vault: KVault
    let prefix: Data?
    let limit: Int?
    let pageSize: Int

    public func makeIterator() -> Iterator {
        Iterator(pager: Pager(vault: vault, prefix: prefix, limit: limit, pageSize: pageSize, withValues: true))
    }

    /// All pairs as an array (throws instead of trapping).
    public func collect() throws -> [(key: Data, value: StoredValue)] {
        var it = makeIterator()
        var out: [(key: Data, value: StoredValue)] = []
        while let kv = try it.nextItem() { out.append(kv) }
        return out
    }

    public struct Iterator: IteratorProtocol {
        var pager: Pager

        public mutating func nextItem() throws -> (key: Data, value: StoredValue)? {
            guard let e = try pager.next() else { return nil }
            guard let v = e.value else { throw KohakuVaultError.corrupt("scan page without values") }
            return (e.key, v)
        }

        public mutating func next() -> (key: Data, value: StoredValue)? {
            do { return try nextItem() } catch { fatalError("KVault item iteration failed: \(error)") }
        }
    }
}

/// Keyset pagination over `scan`: each page starts after the last key seen.
struct Pager {
    let vault: KVault
    let prefix: Data?
    var remaining: Int?
    let pageSize: Int
    let withValues: Bool
    var buffer: [(key: Data, value: StoredValue?)] = []
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

    mutating func next() throws -> (key: Data, value: StoredValue?)? {
        if let r = remaining, r < 0 { throw KohakuVaultError.invalidArgument("limit must be non-negative") }
        guard pageSize > 0 else { throw KohakuVaultError.invalidArgument("page size must be positive") }
        if remaining == 0 { return nil }
        if index >= buffer.count {
            if done { return nil }
            let want = min(pageSize, remaining ?? Int.max)
            buffer = try vault.scanPage(prefix: prefix, after: after, limit: want, withValues: withValues)
            index = 0
            if buffer.isEmpty {
                done = true
                return nil
            }
            after = buffer[buffer.count - 1].key
        }
        let e = buffer[index]
        index += 1
        if let r = remaining { remaining = r - 1 }
        return e
    }
}
