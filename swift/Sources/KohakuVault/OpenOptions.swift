import KohakuVaultCore

/// How a vault opens its file (defaults as kohakuvault 1.1.0). Pass it to `KVault.init`.
///
///     let ro = try KVault(path: "data.db", options: OpenOptions(readOnly: true))
public struct OpenOptions: Sendable, Equatable, Hashable {
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

    var core: KohakuVaultCore.OpenOptions {
        KohakuVaultCore.OpenOptions(readOnly: readOnly, enableWal: enableWal, pageSize: pageSize, mmapSize: mmapSize,
                                    cacheKb: cacheKb, readerCacheKb: readerCacheKb,
                                    readerIdleLimit: readerIdleLimit, busyTimeoutMs: busyTimeoutMs)
    }
}
