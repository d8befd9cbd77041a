import Foundation
import KohakuVaultCore

/// Typed columns that behave like lists, in one SQLite file (docs/FORMAT.md §6), byte-compatible
/// with the Python and Kotlin bindings and with kohakuvault 1.1.0's `ColumnVault`.
///
///     let vault = try ColumnVault(path: "data.db")
///     let ids = try vault.ensureColumn("ids", dtype: "i64", as: Int64Column.self)
///     try ids.append(contentsOf: [1, 2, 3])                // one crossing, one transaction
///     let some = try ids.read(0..<2)                       // [1, 2]
///     let emb = try vault.ensureColumn("emb", dtype: "vec:f32:384", as: FloatTensorColumn.self)
///     let rows = try emb.snapshot()                        // a RandomAccessCollection of [Float]
///     try vault.close()
///
/// The dtype grammar, the stored formats, the text codecs and the write-back caches are the Rust
/// core's; this facade moves rows across as stored (fixed width: `elementSize` little-endian bytes
/// per row; variable width: lengths over the concatenated rows) or as values (text as UTF-8,
/// DataPacker records as their values) and picks the Swift column type from the core's
/// `ColumnInfo.layout` / `elemDtype` (it never parses dtype strings).
///
/// Every throwing member throws `KohakuVaultError`; nothing traps on an error the caller can
/// cause (a negative index throws `.invalidArgument("column index out of range")`, the error the
/// core gives for any index past the end — Swift has no `IndexError`); a closed vault throws
/// `.closed` from every throwing member, also through its column handles.
///
/// `Sendable`: every stored property is immutable and the core object locks internally, so one
/// vault (and its column handles) may be shared by threads and tasks. The members are grouped in
/// this file (open, catalog, cache, close), `Column.swift` (the column handles and snapshots),
/// `ColumnTypes.swift` (the typed columns) and `ColumnVault+Async.swift` (async variants, batches).
public final class ColumnVault: Sendable {
    /// The block size a vault gives new columns unless told otherwise (1.1.0's default).
    public static let defaultBlockBytes = 1 << 20

    /// Called when `deinit` closes a vault that was not closed and the close fails (for example
    /// an I/O error while flushing cached rows). `deinit` cannot throw: this hook is the only
    /// place such an error surfaces. The default writes one line to standard error; set `nil` to
    /// ignore such errors. Arguments: the vault's path and the error. A vault is deinitialised
    /// when the last reference to it goes, column handles included (each holds its vault).
    public static var onDeinitCloseError: (@Sendable (String, KohakuVaultError) -> Void)? {
        get { deinitHook.value }
        set { deinitHook.value = newValue }
    }

    private static let deinitHook = VaultDeinit.defaultHook("ColumnVault")

    let store: ColumnStore
    public let options: OpenOptions

    /// Opens (creating if needed) the column vault at `path`; `blockBytes` is the default block
    /// size of new columns (1 byte to 512 MiB).
    public init(path: String, options: OpenOptions = OpenOptions(), blockBytes: Int = ColumnVault.defaultBlockBytes) throws {
        let bb = try nonNegative(blockBytes, "block_bytes must be between 1 and 512 MiB")
        self.options = options
        self.store = try core { try ColumnStore(path: path, blockBytes: bb, options: options.core) }
    }

    /// Opens the column vault at a file URL.
    public convenience init(url: URL, options: OpenOptions = OpenOptions(),
                            blockBytes: Int = ColumnVault.defaultBlockBytes) throws {
        try self.init(path: url.path, options: options, blockBytes: blockBytes)
    }

    deinit {
        // Commit cached rows; closing twice is a no-op. A failure goes to the hook.
        VaultDeinit.close(store, hook: ColumnVault.onDeinitCloseError)
    }

    // MARK: - Properties

    public var path: String { store.path() }
    public var isReadOnly: Bool { store.readOnly() }
    public var isClosed: Bool { store.isClosed() }
    /// The default block size of new columns.
    public var blockBytes: Int { Int(clamping: store.blockBytes()) }

    /// Throws the core's own closed error when the vault is closed (for the core calls that do
    /// not check, such as `set_cache_locked`, or the vault-wide `pending_bytes`/`cache_config`).
    func ensureOpen() throws {
        if store.isClosed() { _ = try core { try store.listColumns() } }
    }

    // MARK: - Catalog

    /// Creates the column `name` with `dtype` (docs/FORMAT.md §6.1: `"i64"`, `"f32"`, `"bool"`,
    /// `"vec:f32:384"`, `"str"`, `"str:utf16le"`, `"bytes"`, `"msgpack"`, `"str:8"`, ...) and
    /// returns its handle, typed by the column's layout (`Int64Column`, `StringColumn`, ...;
    /// see `Column`). An existing name throws `.invalidArgument`, an unknown dtype
    /// `.invalidArgument` (an unknown text codec `.unsupportedEncoding`).
    @discardableResult
    public func createColumn(_ name: String, dtype: String, blockBytes: Int? = nil) throws -> Column {
        let bb = try blockBytes.map { try nonNegative($0, "block_bytes must be between 1 and 512 MiB") }
        return Column.make(self, try core { try store.createColumn(name: name, dtype: dtype, blockBytes: bb) })
    }

    /// `createColumn` returning the column as `type` (`.invalidArgument` when the dtype does not
    /// give that type; the column is created all the same).
    @discardableResult
    public func createColumn<C: Column>(_ name: String, dtype: String, as type: C.Type,
                                        blockBytes: Int? = nil) throws -> C {
        try createColumn(name, dtype: dtype, blockBytes: blockBytes).as(type)
    }

    /// The column `name`, created with `dtype` when missing; an existing column of another dtype
    /// throws `.invalidArgument` naming both.
    @discardableResult
    public func ensureColumn(_ name: String, dtype: String, blockBytes: Int? = nil) throws -> Column {
        let bb = try blockBytes.map { try nonNegative($0, "block_bytes must be between 1 and 512 MiB") }
        return Column.make(self, try core { try store.ensureColumn(name: name, dtype: dtype, blockBytes: bb) })
    }

    /// `ensureColumn` returning the column as `type` (`.invalidArgument` when it is not one).
    @discardableResult
    public func ensureColumn<C: Column>(_ name: String, dtype: String, as type: C.Type,
                                        blockBytes: Int? = nil) throws -> C {
        try ensureColumn(name, dtype: dtype, blockBytes: blockBytes).as(type)
    }

    /// The column `name`, typed by its layout; a missing column throws `.notFound`.
    public func column(named name: String) throws -> Column {
        guard let info = try core({ try store.info(name: name) }) else {
            throw KohakuVaultError.notFound("column '\(name)' not found")
        }
        return Column.make(self, info)
    }

    /// The column `name` as `type`: `.notFound` when missing, `.invalidArgument` when its dtype
    /// gives another type (`try vault.column(named: "ids", as: Int64Column.self)`).
    public func column<C: Column>(named name: String, as type: C.Type) throws -> C {
        try column(named: name).as(type)
    }

    /// The facts of column `name` (its length includes cached rows), nil when missing.
    public func columnInfo(named name: String) throws -> ColumnInfo? {
        try core { try store.info(name: name) }.map(ColumnInfo.init)
    }

    /// True when the column `name` exists.
    public func hasColumn(named name: String) throws -> Bool {
        try columnInfo(named: name) != nil
    }

    /// Every column, in creation order, with its committed length (cached rows not counted, as
    /// 1.1.0's `list_columns`).
    public func listColumns() throws -> [ColumnInfo] {
        try core { try store.listColumns() }.map(ColumnInfo.init)
    }

    /// Deletes a column and its rows (cached ones too); false when it did not exist. Handles of
    /// the deleted column throw `.notFound` afterwards.
    @discardableResult
    public func deleteColumn(_ name: String) throws -> Bool {
        try core { try store.deleteColumn(name: name) }
    }

    // MARK: - Maintenance

    /// Commits every cache, then runs `PRAGMA wal_checkpoint(PASSIVE)`.
    @discardableResult
    public func checkpoint() throws -> WalCheckpoint {
        WalCheckpoint(try core { try store.checkpoint() })
    }

    // MARK: - The vault-wide write-back cache (docs/COMPATIBILITY.md §5; the policy is the core's)

    /// Buffers appends of every column (those opened now and later) in memory until
    /// `flushThreshold` bytes per column (default min(cap, 1 MiB), as 1.1.0), `capBytes`, a read
    /// of that column, `flushCache()`, `disableCache()` or `close()`. With `flushInterval` (seconds)
    /// a background flush also runs (one timer at a time; its failures are kept for
    /// `takeBackgroundFlushError()`). Cached rows count in `count()` at once.
    public func enableCache(capBytes: UInt64 = 8 << 20, flushThreshold: UInt64? = nil,
                            flushInterval: TimeInterval? = nil) throws {
        let threshold = flushThreshold ?? min(capBytes, 1 << 20)
        try core { try store.enableCache(id: nil, capBytes: capBytes, flushThreshold: threshold,
                                         flushIntervalSecs: flushInterval) }
    }

    /// Commits and disables the cache of the vault and of every column; stops the timer.
    public func disableCache() throws {
        try core { try store.disableCache(id: nil) }
    }

    /// Commits the cached rows of every column; returns the bytes written.
    @discardableResult
    public func flushCache() throws -> UInt64 {
        try core { try store.flushCache(id: nil) }
    }

    /// Bytes of cached (uncommitted) rows of every column.
    public func pendingBytes() throws -> UInt64 {
        try ensureOpen() // the core's vault-wide pending_bytes does not check (core 1.2.0)
        return try core { try store.pendingBytes(id: nil) }
    }

    /// The vault-wide cache setting; nil when disabled.
    public func cacheConfig() throws -> ColumnCacheConfig? {
        try ensureOpen() // the core's vault-wide cache_config does not check (core 1.2.0)
        return try core { try store.cacheConfig(id: nil) }.map(ColumnCacheConfig.init)
    }

    /// Runs `body` with a vault-wide cache enabled, then commits and disables it, also when
    /// `body` throws.
    @discardableResult
    public func withCache<T>(capBytes: UInt64 = 8 << 20, flushThreshold: UInt64? = nil,
                             _ body: (ColumnVault) throws -> T) throws -> T {
        try enableCache(capBytes: capBytes, flushThreshold: flushThreshold)
        let result: T
        do {
            result = try body(self)
        } catch {
            try? disableCache()
            throw error
        }
        try disableCache()
        return result
    }

    /// Pauses the periodic flush (threshold and capacity flushes still happen, and reads still
    /// flush their column): `lockCache()` … `unlockCache()`. Not a multi-column transaction; not
    /// nested (one unlock resumes). Prefer `withLockedCache`.
    public func lockCache() throws {
        try ensureOpen()
        store.setCacheLocked(locked: true)
    }

    /// Resumes the periodic flush.
    public func unlockCache() {
        store.setCacheLocked(locked: false)
    }

    /// Runs `body` with the periodic flush paused (see `lockCache()`).
    public func withLockedCache<T>(_ body: (ColumnVault) throws -> T) throws -> T {
        try lockCache()
        defer { unlockCache() }
        return try body(self)
    }

    /// The last failure of the periodic flush (its rows are kept), cleared by this call.
    public func takeBackgroundFlushError() -> String? {
        store.takeBackgroundError()
    }

    // MARK: - Close

    /// Commits every cache and closes the file. Idempotent; later calls on this vault and its
    /// columns throw `.closed`. A failed commit leaves the vault open for a retry.
    public func close() throws {
        try core { try store.close() }
    }
}

// MARK: - Public value types (never the generated ones)

/// How a column stores its rows (the core decides it from the dtype).
public enum ColumnLayout: String, Sendable, Equatable, Hashable, CaseIterable {
    /// One little-endian scalar per row (`ColumnInfo.elementDType`): `ScalarColumn`.
    case scalar
    /// A fixed tensor of `shape` scalars per row: `TensorColumn`.
    case tensor
    /// Variable-width text in a codec; values cross as UTF-8: `StringColumn`.
    case text
    /// Variable-width raw bytes: `DataColumn`.
    case bytes
    /// One DataPacker record per row; values cross as the packer's value kind: `TaggedColumn`.
    case packed

    init(_ l: KohakuVaultCore.ColumnLayout) {
        switch l {
        case .scalar: self = .scalar
        case .tensor: self = .tensor
        case .text: self = .text
        case .bytes: self = .bytes
        case .packed: self = .packed
        }
    }
}

/// The facts of one column, as the core reports them.
public struct ColumnInfo: Sendable, Equatable, Hashable {
    public var id: Int64
    public var name: String
    /// The dtype string as stored (not parsed by this facade).
    public var dtype: String
    /// Bytes per row; 0 for variable width.
    public var elementSize: Int
    /// Rows (`listColumns()`: committed rows; `columnInfo(named:)`: cached rows too).
    public var count: Int
    public var blockBytes: Int
    public var layout: ColumnLayout
    /// The element type of scalar and tensor columns (and of vector DataPacker records), else nil.
    public var elementDType: NDArrayDType?
    /// The dims of a tensor row; empty otherwise.
    public var shape: [Int]
    /// The value kind the column's values cross as (19 ndarray for numeric rows, 6 text, 0 bytes,
    /// the packer's kind for packed columns).
    public var valueKindCode: UInt8

    public var valueKind: ValueKind? { ValueKind(rawValue: valueKindCode) }
    public var isFixedWidth: Bool { elementSize > 0 }

    init(_ i: KohakuVaultCore.ColumnInfo) {
        id = i.id
        name = i.name
        dtype = i.dtype
        elementSize = Int(clamping: i.elemSize)
        count = Int(clamping: i.length)
        blockBytes = Int(clamping: i.blockBytes)
        layout = ColumnLayout(i.layout)
        elementDType = i.elemDtype == 0 ? nil : NDArrayDType(rawValue: i.elemDtype)
        shape = i.shape.map { Int($0) }
        valueKindCode = i.valueKind
    }
}

/// The blocks of one column.
public struct ColumnStorageInfo: Sendable, Equatable, Hashable {
    public var blocks: UInt64
    public var payloadBytes: UInt64
    public var capacityBytes: UInt64

    init(_ s: KohakuVaultCore.ColumnStorageInfo) {
        blocks = s.blocks
        payloadBytes = s.payloadBytes
        capacityBytes = s.capacityBytes
    }
}

/// A cache setting (a column's or the vault's).
public struct ColumnCacheConfig: Sendable, Equatable, Hashable {
    public var capBytes: UInt64
    public var flushThreshold: UInt64
    /// The periodic flush of a vault-wide cache, in seconds.
    public var flushInterval: TimeInterval?

    init(_ c: KohakuVaultCore.ColumnCacheConfig) {
        capBytes = c.capBytes
        flushThreshold = c.flushThreshold
        flushInterval = c.flushIntervalSecs
    }
}

/// `PRAGMA wal_checkpoint(PASSIVE)`'s three numbers.
public struct WalCheckpoint: Sendable, Equatable, Hashable {
    public var busy: Int64
    public var logFrames: Int64
    public var checkpointedFrames: Int64

    init(_ w: KohakuVaultCore.WalCheckpoint) {
        busy = w.busy
        logFrames = w.logFrames
        checkpointedFrames = w.checkpointedFrames
    }
}

/// `n` as UInt64, or `.invalidArgument(message)` when negative (a conversion would trap).
@inline(__always)
func nonNegative(_ n: Int, _ message: String) throws -> UInt64 {
    guard n >= 0 else { throw KohakuVaultError.invalidArgument(message) }
    return UInt64(n)
}
