import Foundation
import KohakuVaultCore

/// A key-value vault in one SQLite file (table `kv` by default), readable and writable by the
/// Python, Kotlin and Swift bindings alike.
///
/// Keys are bytes (`Data`, `[UInt8]`) or strings (stored as UTF-8). Values are raw bytes or typed
/// values (text, integers, floats, bools, arrays, plain maps/lists, `Codable` values) whose stored
/// encoding the Rust core decides (docs/FORMAT.md). Every throwing member throws
/// `KohakuVaultError`; nothing traps on an error the caller can cause, and a closed vault throws
/// `.closed` from every throwing member.
///
///     let vault = try KVault(path: "data.db")
///     try vault.set("hello", forKey: "greeting")
///     try vault.set(Data([1, 2, 3]), forKey: "blob")
///     let blob = try vault["blob"]
///     let n = try vault.int64(forKey: "count")
///     try vault.close()
///
/// The members are grouped by concern: this file (open, point operations, maintenance, close),
/// `KVault+Batch.swift`, `KVault+Iteration.swift`, `KVault+Cache.swift`, `KVault+Streams.swift`,
/// `KVault+Codable.swift` and `KVault+Async.swift`.
///
/// `Sendable`: every stored property is immutable and the core object locks internally (all
/// locking is in Rust), so one vault may be shared by threads and tasks.
public final class KVault: Sendable {
    /// The library's version, the core's (`core_version()`): one number for every language.
    public static var version: String { coreVersion() }

    /// Called when `deinit` closes a vault that was not closed and the close fails (for example
    /// with `.busy` when the write-back cache is locked, or an I/O error while flushing pending
    /// entries). `deinit` cannot throw: this hook is the only place such an error surfaces.
    /// The default writes one line to standard error; set `nil` to ignore such errors.
    /// Arguments: the vault's path and the error.
    public static var onDeinitCloseError: (@Sendable (String, KohakuVaultError) -> Void)? {
        get { deinitHook.value }
        set { deinitHook.value = newValue }
    }

    private static let deinitHook = VaultDeinit.defaultHook("KVault")

    let store: KvStore
    public let options: OpenOptions
    /// The store's C fast-path handle (docs/FORMAT.md §5), taken once.
    let fastHandle: UInt64

    /// Opens (creating if needed) the vault at `path`, table `table`.
    public init(path: String, table: String = "kv", options: OpenOptions = OpenOptions()) throws {
        guard options.chunkSize > 0 else { throw KohakuVaultError.invalidArgument("chunk_size must be positive") }
        self.options = options
        self.store = try core { try KvStore(path: path, table: table, options: options.core) }
        self.fastHandle = store.fastHandle()
    }

    /// Opens the vault at a file URL.
    public convenience init(url: URL, table: String = "kv", options: OpenOptions = OpenOptions()) throws {
        try self.init(path: url.path, table: table, options: options)
    }

    deinit {
        // Publish pending cache entries; closing twice is a no-op. A failure goes to the hook.
        VaultDeinit.close(store, hook: KVault.onDeinitCloseError)
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
        try set(TaggedValue(kind: .json, payload: Data(text.utf8)), forKey: key)
    }

    /// Stores MessagePack bytes as they are (kind msgpack).
    public func setMsgpack<K: VaultKey>(_ bytes: Data, forKey key: K) throws {
        try set(TaggedValue(kind: .msgpack, payload: bytes), forKey: key)
    }

    /// The decoded (kind, payload) of `key`, or nil when missing.
    public func value<K: VaultKey>(forKey key: K) throws -> TaggedValue? {
        let k = key.vaultKeyBytes
        switch KVFastPath.read(fastHandle, k, flags: 0) {
        case .found(let kind, let payload)?: return TaggedValue(kindCode: kind, payload: payload)
        case .missing?: return nil
        case nil: return try core { try store.get(key: k) }.map(TaggedValue.init)
        }
    }

    /// The stored bytes of `key` (header included), as 1.1.0 returns them with auto-pack off.
    public func storedBytes<K: VaultKey>(forKey key: K) throws -> Data? {
        let k = key.vaultKeyBytes
        switch KVFastPath.read(fastHandle, k, flags: KVFastPath.getStored) {
        case .found(_, let stored)?: return stored
        case .missing?: return nil
        case nil: return try core { try store.getStored(key: k) }
        }
    }

    /// The bytes of a raw value; a typed value throws `.invalidArgument` (a pickle value
    /// `.unsupportedEncoding`).
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

    /// The stored bytes of `key` (raw values exactly as written, typed values with their header),
    /// nil when missing: `try vault["blob"]`. Read-only because a setter cannot throw: write with
    /// `set(_:forKey:)`, remove with `delete(_:)`.
    public subscript(key: String) -> Data? {
        get throws { try storedBytes(forKey: key) }
    }

    public subscript(key: Data) -> Data? {
        get throws { try storedBytes(forKey: key) }
    }

    public subscript(key: [UInt8]) -> Data? {
        get throws { try storedBytes(forKey: key) }
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

    /// Atomically reads and deletes `key`; nil when missing. With `decoded` false the value comes
    /// back as stored (kind raw, the stored bytes), as 1.1.0 with auto-pack off.
    @discardableResult
    public func pop<K: VaultKey>(_ key: K, decoded: Bool = true) throws -> TaggedValue? {
        let k = key.vaultKeyBytes
        return try core { try store.pop(key: k, decoded: decoded) }.map(TaggedValue.init)
    }

    /// Returns the existing value (decoded, or as stored with `decoded` false), or stores `value`
    /// and returns nil.
    @discardableResult
    public func setDefault<K: VaultKey, V: VaultValueConvertible>(_ value: V, forKey key: K,
                                                                  decoded: Bool = true) throws -> TaggedValue? {
        let k = key.vaultKeyBytes
        let v = try value.vaultValue()
        return try core { try store.setdefault(key: k, kind: v.kindCode, payload: v.payload, decoded: decoded) }
            .map(TaggedValue.init)
    }

    /// Deletes every key.
    public func clear() throws {
        try core { try store.clear() }
    }

    // MARK: - Maintenance

    public func registerFeature(_ feature: String) throws { try core { try store.registerFeature(feature: feature) } }
    public func features() throws -> [String] { try core { try store.features() } }
    public func checkpoint() throws {
        try ensureOpen()
        try core { try store.checkpoint() }
    }
    public func optimize() throws { try core { try store.optimize() } }
    /// SQLite's integrity check of the whole file: `["ok"]` when sound.
    public func integrityCheck() throws -> [String] { try core { try store.integrityCheck() } }
    /// The file's user tables (every vault's), sorted as the core returns them.
    public func tables() throws -> [String] { try core { try store.tables() } }
    public var readerPoolStats: ReaderPoolStats { ReaderPoolStats(store.readerPoolStats()) }
    /// Interrupts a running query from another thread.
    public func interrupt() { store.interrupt() }

    /// Throws the core's own closed error (kind and message) when the vault is closed: for the core
    /// calls that return quietly on a closed vault (flush_cache, checkpoint in core 1.2.0).
    func ensureOpen() throws {
        if store.isClosed() { _ = try core { try store.len() } }
    }

    /// Flushes the cache and closes the file. Idempotent; later calls on this vault throw `.closed`.
    public func close() throws {
        try core { try store.close() }
    }
}

/// The reader connection pool of a vault.
public struct ReaderPoolStats: Sendable, Equatable, Hashable {
    public var idleConnections: UInt64
    public var sqliteCacheBytes: UInt64

    init(_ s: KohakuVaultCore.ReaderPoolStats) {
        idleConnections = s.idleConnections
        sqliteCacheBytes = s.sqliteCacheBytes
    }
}

/// A value behind a lock (for the static hook).
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T

    init(_ value: T) { stored = value }

    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); defer { lock.unlock() }; stored = newValue }
    }
}

/// A vault type's `onDeinitCloseError`: called with the vault's path and the error.
typealias DeinitCloseHook = @Sendable (String, KohakuVaultError) -> Void

/// The generated stores as a vault's `deinit` closes them (`KVault`, `ColumnVault`, `VectorKVault`,
/// `TextVault`).
protocol DeinitClosable: AnyObject {
    func isClosed() -> Bool
    func close() throws
    func path() -> String
}

extension KvStore: DeinitClosable {}
extension ColumnStore: DeinitClosable {}
extension VectorStore: DeinitClosable {}
extension TextStore: DeinitClosable {}

/// What every vault's `deinit` does, and its hook's default.
enum VaultDeinit {
    /// The default `onDeinitCloseError` of the vault type `name`: one line to standard error.
    static func defaultHook(_ name: String) -> LockedBox<DeinitCloseHook?> {
        LockedBox<DeinitCloseHook?> { path, error in
            FileHandle.standardError.write(Data("\(name)(\(path)): closing in deinit failed: \(error)\n".utf8))
        }
    }

    /// Closes `store` unless it is closed (closing twice is a no-op); a failure goes to `hook`,
    /// which is read only then.
    static func close(_ store: DeinitClosable, hook: @autoclosure () -> DeinitCloseHook?) {
        guard !store.isClosed() else { return }
        do {
            try store.close()
        } catch {
            if let hook = hook() { hook(store.path(), KohakuVaultError.wrap(error)) }
        }
    }
}

/// A search's `k` for the core (`VectorKVault`, `TextVault`): `.invalidArgument` when negative;
/// above 1,000,000 the core's error.
func searchK(_ k: Int) throws -> UInt32 {
    guard k >= 0 else { throw KohakuVaultError.invalidArgument("k must be non-negative, got \(k)") }
    return UInt32(clamping: k)
}

/// A vector vault's `dimensions` for the core (`VectorKVault`, `TextVault`): `.invalidArgument`
/// when negative or above `UInt32.max` (0 is the core's error).
func coreDimensions(_ d: Int) throws -> UInt32 {
    guard d >= 0 else { throw KohakuVaultError.invalidArgument("dimensions must be positive") }
    guard d <= Int(UInt32.max) else {
        throw KohakuVaultError.invalidArgument("dimensions must be at most \(UInt32.max), got \(d)")
    }
    return UInt32(d)
}

/// An update's optional value as the core takes it (nil keeps the stored value).
func coreValue(_ value: (any VaultValueConvertible)?) throws -> KohakuVaultCore.TaggedValue? {
    try value.map { (x) -> KohakuVaultCore.TaggedValue in
        let tv = try x.vaultValue()
        return KohakuVaultCore.TaggedValue(kind: tv.kindCode, payload: tv.payload)
    }
}

// MARK: - The C fast path for point reads (docs/FORMAT.md §5)

/// `kv_fast_get`: a point read straight into a caller buffer, without a uniffi call (a handle
/// clone, a RustBuffer and two more copies of the value). The same read as `KvStore.get` /
/// `get_stored`, write-back cache included; nil when the fast path is not taken (no symbol, a
/// handle or key out of its range) or on any error, and then the caller makes the UDL call,
/// which gives the typed error.
enum KVFastPath {
    typealias Get = @convention(c) (UInt32, UnsafePointer<UInt8>?, Int32, UnsafeMutablePointer<UInt8>?, Int32, Int32) -> Int64

    static let get: Get? = FastSymbols.lookup("kv_fast_get", as: Get.self)
    /// Flag: the stored bytes as kind 0 (`get_stored`) instead of the decoded value.
    static let getStored: Int32 = 1
    /// Values up to this size are read into a stack buffer first.
    static let firstTry = 4096
    /// Keys and values larger than this take the UDL call.
    static let maxKey = 1 << 20
    static let maxValue = 8 << 20

    enum Hit {
        case missing
        case found(UInt8, Data)
    }

    static func read(_ handle: UInt64, _ key: Data, flags: Int32) -> Hit? {
        guard let get, handle != 0, handle <= UInt64(UInt32.max), !key.isEmpty, key.count <= maxKey else { return nil }
        return key.withUnsafeBytes { (k: UnsafeRawBufferPointer) -> Hit? in
            guard let kp = k.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
            let call = { (buf: UnsafeMutablePointer<UInt8>?, cap: Int) in
                get(UInt32(handle), kp, Int32(k.count), buf, Int32(cap), flags)
            }
            let first: (Int64, Data?) = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: firstTry) { tmp in
                let r = call(tmp.baseAddress, firstTry)
                return r >= 0 ? (r, Data(bytes: tmp.baseAddress!, count: Int(r >> 8))) : (r, nil)
            }
            var r = first.0
            if let data = first.1 {
                return .found(UInt8(truncatingIfNeeded: r & 0xFF), data)
            }
            if r == -2 { return .missing }
            guard r <= -3 else { return nil }
            let need = Int(-3 - r)
            guard need <= maxValue else { return nil }
            var data = Data(count: need)
            r = data.withUnsafeMutableBytes { call($0.baseAddress?.assumingMemoryBound(to: UInt8.self), need) }
            if r == -2 { return .missing }
            // Only a read that fit (the value may have changed in between) counts.
            guard r >= 0, Int(r >> 8) == need else { return nil }
            return .found(UInt8(truncatingIfNeeded: r & 0xFF), data)
        }
    }
}
