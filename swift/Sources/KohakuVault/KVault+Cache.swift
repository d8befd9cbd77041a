import Foundation
import KohakuVaultCore

// The write-back cache (docs/COMPATIBILITY.md §4).
extension KVault {
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
        try ensureOpen()
        return try core { try store.flushCache() }
    }

    /// A snapshot of the cache's counters (all zero and `enabled` false without a cache or once closed).
    public var cacheStats: CacheStats { CacheStats(store.cacheStats()) }

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

    /// Runs `body` with the cache locked (no flushes; puts that would need one, and `close()`,
    /// fail with `.busy`).
    public func withCacheLocked<T>(_ body: (KVault) throws -> T) rethrows -> T {
        store.setCacheLocked(locked: true)
        defer { store.setCacheLocked(locked: false) }
        return try body(self)
    }
}

/// The write-back cache's counters.
public struct CacheStats: Sendable, Equatable, Hashable {
    public var pendingEntries: UInt64
    public var inflightEntries: UInt64
    public var bufferedBytes: UInt64
    public var enabled: Bool
    public var locked: Bool
    public var capBytes: UInt64
    public var flushThreshold: UInt64

    init(_ s: KohakuVaultCore.CacheStats) {
        pendingEntries = s.pendingEntries
        inflightEntries = s.inflightEntries
        bufferedBytes = s.bufferedBytes
        enabled = s.enabled
        locked = s.locked
        capBytes = s.capBytes
        flushThreshold = s.flushThreshold
    }
}
