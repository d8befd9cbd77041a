import Foundation
import KohakuVaultCore

/// The in-memory ordered maps `CSBTree` (a cache-sensitive B+ tree) and `SkipList` (a lock-free
/// skip list), implemented once in the Rust core (docs/FORMAT.md §9) for Python, Kotlin and
/// Swift. Neither is persisted.
///
///     let tree = try CSBTree<Int64, String>()            // order 63
///     try tree.insert(3, "c")
///     try tree.insert(1, "a")
///     try tree.value(forKey: 1)                          // "a"
///     tree[1]                                            // "a" (nil when absent)
///     for (key, value) in tree { print(key, value) }     // 1 a, 3 c: key order
///     tree[1..<3]                                        // [(1, "a")]
///
/// Keys are `Int64`, `Double`, `String` or `Data` (`OrderedMapKey`), ordered by the core: numbers
/// numerically (`-0.0 == 0.0`; NaN is refused with `.invalidArgument`), strings by Unicode code
/// point (not Swift's `<` on `String`), `Data` by unsigned bytes. Values are any Swift values;
/// they never cross the FFI: the map keeps them in a table under 64-bit handles (from a counter,
/// never reused) and the core stores the handles. A value is released when the core hands its
/// handle back (replaced, removed, `removeAll()`) or when the map is released.
///
/// The two differ only in what `insert` does with an existing key: `CSBTree.insert` replaces the
/// value (and returns the old one), `SkipList.insert` is insert-if-absent (it returns the existing
/// value and changes nothing), as in kohakuvault 1.1.0. `updateValue(_:forKey:)` always replaces,
/// `insertIfAbsent(_:_:)` never does.
///
/// Costs: single-key operations are one call of the core's C fast path (`ord_fast_*`); batches
/// (`insert(contentsOf:)`, `values(forKeys:)`, `removeValues(forKeys:)`), ranges and
/// `keys`/`values`/`items` are one FFI crossing each; iteration crosses once per 1024 entries.
///
/// Threads: both maps may be used from many threads at once (`@unchecked Sendable`: the core
/// locks the CSBTree and is lock-free for the SkipList; the value table has its own lock). A
/// value read on one thread may have been stored by another, so share maps across threads only
/// with values that may be. Reads that see an entry replaced or removed in the meantime retry,
/// so they never return a value that was not in the map at some moment of the call. Ranges and
/// iteration are not snapshots of the whole map: each page is read at one moment, and an entry
/// removed before its page was resolved is skipped.
///
/// Errors: every throwing member throws `KohakuVaultError`; the only error a caller can cause is
/// `.invalidArgument` (a NaN key, an `order` below 2). The non-throwing members never trap on
/// one: `map[key]` is nil for a NaN key (a range with a NaN bound cannot be formed: Swift's range
/// operators trap on it; `range(from:to:)` throws).
public class OrderedMap<Key: OrderedMapKey, Value>: Sequence, CustomStringConvertible, @unchecked Sendable {
    public typealias Element = (key: Key, value: Value)

    let store: KohakuVaultCore.OrderedStore
    /// CsbTree (insert replaces) or SkipList (insert-if-absent).
    @usableFromInline let isTree: Bool
    /// "CSBTree" or "SkipList", for descriptions and messages.
    let typeName: String
    @usableFromInline let table = OrderedHandleTable<Value>()
    let fast: OrderedFastPath?
    let fastId: UInt32

    /// Entries per crossing when iterating.
    static var pageSize: UInt32 { 1024 }

    init(store: KohakuVaultCore.OrderedStore, isTree: Bool, typeName: String) {
        self.store = store
        self.isTree = isTree
        self.typeName = typeName
        if let f = OrderedFastPath.shared {
            let id = store.fastHandle()
            if id != 0, id <= UInt64(UInt32.max) {
                fast = f
                fastId = UInt32(id)
                return
            }
        }
        fast = nil
        fastId = 0
    }

    public var description: String { "\(typeName)(len=\(count))" }

    // MARK: - Size

    /// The number of entries.
    public var count: Int { Int(clamping: store.len()) }

    public var isEmpty: Bool { store.len() == 0 }

    /// Removes every entry (and releases their values).
    public func removeAll() {
        let handles = mustSucceed { try OrderedKeyCodec.handles(store.clear()) }
        table.drop(handles)
    }

    // MARK: - Single keys

    /// Stores `value` under `key`. `CSBTree`: replaces an existing value and returns it (nil for a
    /// new key). `SkipList`: insert-if-absent, as in 1.1.0: when `key` exists, nothing changes and
    /// the existing value is returned; nil means `value` was stored.
    @inlinable @discardableResult
    public func insert(_ key: Key, _ value: Value) throws -> Value? {
        if isTree { return try replace(key.orderedKeyValue, value) }
        return try insertAbsent(key.orderedKeyValue, value)
    }

    /// Stores `value` under `key`, replacing an existing value, which is returned (nil for a new
    /// key), as `Dictionary.updateValue(_:forKey:)`. On a `SkipList` this is a remove and an
    /// insert-if-absent, repeated until the insert succeeds: it is not atomic against another
    /// thread writing the same key (whose value may be removed and returned here).
    @inlinable @discardableResult
    public func updateValue(_ value: Value, forKey key: Key) throws -> Value? {
        let k = key.orderedKeyValue
        if isTree { return try replace(k, value) }
        let h = table.add(value)
        var old: Value?
        while true {
            let existing: UInt64
            do {
                existing = try coreInsert(k, h)
            } catch {
                table.drop(h)
                throw error
            }
            if existing == 0 { return old }
            let removed: UInt64
            do {
                removed = try coreRemove(k)
            } catch {
                table.drop(h)
                throw error
            }
            if removed != 0, let v = table.take(removed) { old = v }
        }
    }

    /// Stores `value` under `key` only when `key` is absent (atomically, in both maps): returns the
    /// existing value (nothing changed), or nil when `value` was stored. Python's `setdefault`.
    @inlinable @discardableResult
    public func insertIfAbsent(_ key: Key, _ value: Value) throws -> Value? {
        try insertAbsent(key.orderedKeyValue, value)
    }

    /// Removes `key`'s entry and returns its value; nil when `key` is absent.
    @inlinable @discardableResult
    public func removeValue(forKey key: Key) throws -> Value? {
        let h = try coreRemove(key.orderedKeyValue)
        return h == 0 ? nil : table.take(h)
    }

    /// The value under `key`, nil when absent.
    @inlinable
    public func value(forKey key: Key) throws -> Value? {
        try lookup(key.orderedKeyValue)
    }

    @inlinable
    public func contains(_ key: Key) throws -> Bool {
        try coreContains(key.orderedKeyValue)
    }

    /// The value under `key`, nil when absent. Read-only because a setter cannot throw: write
    /// with `insert(_:_:)` or `updateValue(_:forKey:)`. A key the core refuses (a NaN `Double`) is
    /// never present: nil.
    @inlinable
    public subscript(key: Key) -> Value? {
        refusedOr(nil) { try lookup(key.orderedKeyValue) }
    }

    // MARK: - Neighbours

    /// The entry of the smallest key; nil when empty.
    public var first: Element? { mustSucceed { try neighbor(.first, nil) } }

    /// The entry of the largest key; nil when empty.
    public var last: Element? { mustSucceed { try neighbor(.last, nil) } }

    /// The entry of the smallest key `>= key`.
    public func ceiling(_ key: Key) throws -> Element? { try neighbor(.ceiling, key) }

    /// The entry of the largest key `<= key`.
    public func floor(_ key: Key) throws -> Element? { try neighbor(.floor, key) }

    /// The entry of the smallest key `> key`.
    public func higher(_ key: Key) throws -> Element? { try neighbor(.higher, key) }

    /// The entry of the largest key `< key`.
    public func lower(_ key: Key) throws -> Element? { try neighbor(.lower, key) }

    // MARK: - Ranges

    /// The entries with `start <= key < end`, in key order, in one crossing (1.1.0's
    /// `range(start, end)`: end exclusive; empty when `start >= end`).
    @inlinable
    public func range(_ start: Key, _ end: Key) throws -> [Element] {
        try range(from: start, to: end)
    }

    /// The entries between two optional bounds (nil: unbounded), in key order or descending
    /// (`reverse`, starting from the upper bound), at most `limit` of them (0: all), in one
    /// crossing.
    @inlinable
    public func range(from start: Key? = nil, startInclusive: Bool = true, to end: Key? = nil,
                      endInclusive: Bool = false, reverse: Bool = false, limit: Int = 0) throws -> [Element] {
        Self.entries(try rangeColumns(start: start, startInclusive: startInclusive, end: end,
                                      endInclusive: endInclusive, reverse: reverse, limit: limit))
    }

    /// The number of entries between two optional bounds (nil: unbounded), in one crossing.
    public func count(from start: Key? = nil, startInclusive: Bool = true, to end: Key? = nil,
                      endInclusive: Bool = false) throws -> Int {
        let r = try coreRange(start: start, startInclusive: startInclusive, end: end, endInclusive: endInclusive,
                              limit: 0, reverse: false)
        return Int(clamping: try core { try store.countRange(range: r) })
    }

    /// Every key, in order (one crossing).
    public var keys: [Key] {
        mustSucceed {
            try fetch(start: nil, startInclusive: true, end: nil, endInclusive: false, limit: 0, reverse: false).keys
        }
    }

    /// Every value, in key order (one crossing).
    public var values: [Value] {
        mustSucceed {
            try resolve(try fetch(start: nil, startInclusive: true, end: nil, endInclusive: false, limit: 0,
                                  reverse: false)).values
        }
    }

    /// Every entry, in key order (one crossing).
    @inlinable
    public var items: [Element] {
        Self.entries(mustSucceed { try rangeColumns(start: nil, startInclusive: true, end: nil, endInclusive: false,
                                                    reverse: false, limit: 0) })
    }

    // MARK: - Batches (one crossing each)

    /// Stores every pair, in order, each as `insert(_:_:)` does (`CSBTree`: replace; `SkipList`:
    /// insert-if-absent), in one crossing; returns what `insert` returns for each pair (a later
    /// pair with the key of an earlier one sees that one's value). A NaN key stops the batch:
    /// the pairs before it are stored, then `.invalidArgument` is thrown.
    @inlinable @discardableResult
    public func insert<S: Sequence>(contentsOf pairs: S) throws -> [Value?] where S.Element == (Key, Value) {
        var keys: [Key] = []
        var values: [Value] = []
        keys.reserveCapacity(pairs.underestimatedCount)
        values.reserveCapacity(pairs.underestimatedCount)
        for (k, v) in pairs {
            keys.append(k)
            values.append(v)
        }
        return try insertBatch(keys, values)
    }

    /// `insert(contentsOf:)` for entries as ranges and iteration return them.
    @inlinable @discardableResult
    public func insert(contentsOf entries: [Element]) throws -> [Value?] {
        try insertBatch(entries.map { $0.key }, entries.map { $0.value })
    }

    /// The value of each key (nil when absent), in one crossing.
    public func values(forKeys keys: [Key]) throws -> [Value?] {
        if keys.isEmpty { return [] }
        let page = try OrderedKeyCodec.keyPage(keys)
        let hs = try OrderedKeyCodec.handles(try core { try store.getMany(keys: page) })
        guard hs.count == keys.count else {
            throw KohakuVaultError.corrupt("\(typeName): get_many returned \(hs.count) handles for \(keys.count) keys")
        }
        var out = table.lookup(hs)
        for (i, h) in hs.enumerated() where h != 0 && out[i] == nil {
            out[i] = try lookup(keys[i].orderedKeyValue) // replaced or removed meanwhile
        }
        return out
    }

    /// Removes each key's entry, in order, in one crossing; returns the removed values (nil for
    /// an absent key). A NaN key stops the batch: the keys before it are removed (their values
    /// released), then `.invalidArgument` is thrown.
    @discardableResult
    public func removeValues(forKeys keys: [Key]) throws -> [Value?] {
        if keys.isEmpty { return [] }
        let page = try OrderedKeyCodec.keyPage(keys)
        let out = try core { try store.removeMany(keys: page) }
        let prev = try OrderedKeyCodec.handles(out.previous)
        let result: [Value?] = prev.map { $0 == 0 ? nil : table.take($0) }
        if let e = out.error { throw KohakuVaultError.invalidArgument(e) }
        guard result.count == keys.count else {
            throw KohakuVaultError.corrupt("\(typeName): remove_many returned \(result.count) handles for \(keys.count) keys")
        }
        return result
    }

    // MARK: - Sequence

    /// Iterates the entries in key order, fetching 1024 entries per crossing (each page is read
    /// at one moment; entries changed by other threads between pages show as they are then).
    @inlinable
    public func makeIterator() -> Iterator { Iterator(map: self) }

    public struct Iterator: IteratorProtocol {
        @usableFromInline let map: OrderedMap<Key, Value>
        @usableFromInline var keys: [Key] = []
        @usableFromInline var values: [Value] = []
        @usableFromInline var index = 0
        @usableFromInline var after: Key?
        @usableFromInline var finished = false

        @inlinable
        init(map: OrderedMap<Key, Value>) { self.map = map }

        @inlinable
        public mutating func next() -> Element? {
            while index == keys.count {
                if finished { return nil }
                let page = map.page(after: after)
                keys = page.keys
                values = page.values
                index = 0
                finished = page.done
                if let k = page.last { after = k }
            }
            defer { index += 1 }
            return (keys[index], values[index])
        }
    }

    /// Entries from parallel arrays (inlinable, so that the tuples are built by code specialised
    /// for the caller's types: in generic code each tuple costs a metadata lookup).
    @inlinable
    static func entries(_ c: (keys: [Key], values: [Value])) -> [Element] {
        var out: [Element] = []
        out.reserveCapacity(c.keys.count)
        for i in c.keys.indices { out.append((c.keys[i], c.values[i])) }
        return out
    }

    // MARK: - Internals

    /// Runs `body`, whose only possible failure is a broken core contract (a malformed page):
    /// for the non-throwing members.
    @usableFromInline
    func mustSucceed<T>(_ body: () throws -> T) -> T {
        do {
            return try body()
        } catch {
            fatalError("\(typeName): \(error)")
        }
    }

    /// Runs `body`; a key the core refuses (`.invalidArgument`, a NaN) gives `fallback`.
    @usableFromInline
    func refusedOr<T>(_ fallback: T, _ body: () throws -> T) -> T {
        do {
            return try body()
        } catch let e as KohakuVaultError {
            if case .invalidArgument = e { return fallback }
            fatalError("\(typeName): \(e)")
        } catch {
            fatalError("\(typeName): \(error)")
        }
    }

    @inlinable
    func replace(_ k: OrderedKeyValue, _ value: Value) throws -> Value? {
        let h = table.add(value)
        let old: UInt64
        do {
            old = try coreInsert(k, h)
        } catch {
            table.drop(h)
            throw error
        }
        return old == 0 ? nil : table.take(old)
    }

    /// Insert-if-absent of `value`: the existing value, or nil when stored. When the existing
    /// entry's value is gone from the table (removed by another thread meanwhile), try again.
    @inlinable
    func insertAbsent(_ k: OrderedKeyValue, _ value: Value) throws -> Value? {
        let h = table.add(value)
        while true {
            let existing: UInt64
            do {
                existing = isTree ? try coreInsertIfAbsent(k, h) : try coreInsert(k, h)
            } catch {
                table.drop(h)
                throw error
            }
            if existing == 0 { return nil }
            if let v = table.lookup(existing) {
                table.drop(h)
                return v
            }
        }
    }

    /// The value of `k`, retrying when the handle read is no longer in the table (the entry was
    /// replaced or removed between the core call and the lookup).
    @inlinable
    func lookup(_ k: OrderedKeyValue) throws -> Value? {
        while true {
            let h = try coreGet(k)
            if h == 0 { return nil }
            if let v = table.lookup(h) { return v }
        }
    }

    func neighbor(_ which: KohakuVaultCore.Neighbor, _ key: Key?) throws -> Element? {
        let enc = try key.map { try OrderedKeyCodec.encode($0) } ?? Data()
        while true {
            let buf = try core { try store.neighbor(which: which, key: enc) }
            let page = try OrderedKeyCodec.entryPage(buf, as: Key.self)
            guard let h = page.handles.first, let k = page.keys.first else { return nil }
            if let v = table.lookup(h) { return (k, v) }
        }
    }

    func coreRange(start: Key?, startInclusive: Bool, end: Key?, endInclusive: Bool, limit: UInt32,
                   reverse: Bool) throws -> KohakuVaultCore.OrderedRange {
        KohakuVaultCore.OrderedRange(start: try start.map { try OrderedKeyCodec.encode($0) },
                                     startInclusive: startInclusive,
                                     end: try end.map { try OrderedKeyCodec.encode($0) },
                                     endInclusive: endInclusive, limit: limit, reverse: reverse)
    }

    func fetch(start: Key?, startInclusive: Bool, end: Key?, endInclusive: Bool, limit: UInt32,
               reverse: Bool) throws -> OrderedEntryPage<Key> {
        let r = try coreRange(start: start, startInclusive: startInclusive, end: end, endInclusive: endInclusive,
                              limit: limit, reverse: reverse)
        let buf = try core { try store.range(range: r) }
        return try OrderedKeyCodec.entryPage(buf, as: Key.self)
    }

    /// The keys and values of a page; an entry whose handle left the table since the page was
    /// read is read again by key (its new value, or skipped when it is gone).
    func resolve(_ page: OrderedEntryPage<Key>) throws -> (keys: [Key], values: [Value]) {
        let keys = page.keys
        let (values, missing) = table.lookupAll(page.handles)
        if missing.isEmpty { return (keys, values) }
        var outKeys: [Key] = []
        var outValues: [Value] = []
        outKeys.reserveCapacity(keys.count)
        outValues.reserveCapacity(keys.count)
        var found = values.makeIterator()
        var m = 0
        for i in keys.indices {
            if m < missing.count, missing[m] == i {
                m += 1
                if let v = try lookup(keys[i].orderedKeyValue) {
                    outKeys.append(keys[i])
                    outValues.append(v)
                }
            } else if let v = found.next() {
                outKeys.append(keys[i])
                outValues.append(v)
            }
        }
        return (outKeys, outValues)
    }

    /// `range(from:...)` as parallel arrays.
    @usableFromInline
    func rangeColumns(start: Key?, startInclusive: Bool, end: Key?, endInclusive: Bool, reverse: Bool,
                      limit: Int) throws -> (keys: [Key], values: [Value]) {
        guard limit >= 0 else { throw KohakuVaultError.invalidArgument("limit must not be negative, got \(limit)") }
        return try resolve(try fetch(start: start, startInclusive: startInclusive, end: end,
                                     endInclusive: endInclusive, limit: UInt32(clamping: limit), reverse: reverse))
    }

    /// The iterator's next page: the entries after `after` (from the first when nil).
    @usableFromInline
    func page(after: Key?) -> OrderedPage<Key, Value> {
        mustSucceed {
            let p = try fetch(start: after, startInclusive: false, end: nil, endInclusive: false,
                              limit: Self.pageSize, reverse: false)
            let (keys, values) = try resolve(p)
            return OrderedPage(keys: keys, values: values, done: p.done || p.keys.isEmpty, last: p.keys.last)
        }
    }

    @usableFromInline
    func insertBatch(_ keys: [Key], _ values: [Value]) throws -> [Value?] {
        if keys.isEmpty { return [] }
        let page = try OrderedKeyCodec.keyPage(keys)
        let hs = table.add(contentsOf: values)
        let out: KohakuVaultCore.OrderedBatch
        do {
            out = try core {
                try store.insertMany(keys: page, values: OrderedKeyCodec.handleBytes(hs), ifAbsent: false)
            }
        } catch {
            table.drop(hs)
            throw error
        }
        let prev: [UInt64]
        do {
            prev = try OrderedKeyCodec.handles(out.previous)
        } catch {
            table.drop(hs)
            throw error
        }
        var result = [Value?](repeating: nil, count: keys.count)
        var retry: [Int] = []
        for (i, p) in prev.enumerated() where p != 0 {
            if isTree {
                result[i] = table.take(p) // replaced (possibly by an earlier pair of this batch)
            } else {
                table.drop(hs[i]) // not stored: the key exists
                if let v = table.lookup(p) { result[i] = v } else { retry.append(i) }
            }
        }
        if prev.count < keys.count { table.drop(Array(hs[prev.count...])) } // not applied
        for i in retry {
            result[i] = try insertAbsent(keys[i].orderedKeyValue, values[i])
        }
        if let e = out.error { throw KohakuVaultError.invalidArgument(e) }
        return result
    }

    // MARK: Core calls: the C fast path, or the UDL call (which also gives the typed error)

    @inline(__always)
    func fastCall(_ k: OrderedKeyValue,
                  int: (OrderedFastPath, Int32, Int32) -> Int64,
                  key: (OrderedFastPath, Int32, UnsafePointer<UInt8>, Int32) -> Int64) -> Int64? {
        guard let f = fast else { return nil }
        let r: Int64?
        if case .int64(let x) = k {
            let (lo, hi) = OrderedFastPath.halves(UInt64(bitPattern: x))
            r = int(f, lo, hi)
        } else {
            r = OrderedFastPath.withKey(k) { key(f, $0, $1, $2) }
        }
        guard let r, r >= 0 else { return nil }
        return r
    }

    @usableFromInline
    func coreGet(_ k: OrderedKeyValue) throws -> UInt64 {
        let id = fastId
        if let r = fastCall(k, int: { $0.getInt(id, $1, $2) }, key: { $0.get(id, $1, $2, $3) }) {
            return UInt64(r)
        }
        let enc = try OrderedKeyCodec.encode(k)
        return try core { try store.get(key: enc) }
    }

    @usableFromInline
    func coreContains(_ k: OrderedKeyValue) throws -> Bool {
        let id = fastId
        if let r = fastCall(k, int: { $0.containsInt(id, $1, $2) }, key: { $0.contains(id, $1, $2, $3) }) {
            return r != 0
        }
        let enc = try OrderedKeyCodec.encode(k)
        return try core { try store.contains(key: enc) }
    }

    @usableFromInline
    func coreRemove(_ k: OrderedKeyValue) throws -> UInt64 {
        let id = fastId
        if let r = fastCall(k, int: { $0.removeInt(id, $1, $2) }, key: { $0.remove(id, $1, $2, $3) }) {
            return UInt64(r)
        }
        let enc = try OrderedKeyCodec.encode(k)
        return try core { try store.remove(key: enc) }
    }

    /// The core's `insert`: CsbTree replace, SkipList insert-if-absent.
    @usableFromInline
    func coreInsert(_ k: OrderedKeyValue, _ h: UInt64) throws -> UInt64 {
        let id = fastId
        let (vlo, vhi) = OrderedFastPath.halves(h)
        if let r = fastCall(k, int: { $0.insertInt(id, $1, $2, vlo, vhi) },
                            key: { $0.insert(id, $1, $2, $3, vlo, vhi) }) {
            return UInt64(r)
        }
        let enc = try OrderedKeyCodec.encode(k)
        return try core { try store.insert(key: enc, value: h) }
    }

    @usableFromInline
    func coreInsertIfAbsent(_ k: OrderedKeyValue, _ h: UInt64) throws -> UInt64 {
        let enc = try OrderedKeyCodec.encode(k)
        return try core { try store.insertIfAbsent(key: enc, value: h) }
    }
}

// MARK: - Range subscripts

extension OrderedMap where Key: Comparable {
    /// The entries with keys in `bounds` (`map[a..<b]`), in key order, in one crossing. (Swift's
    /// range operators check the bounds with `<`, which for `String` is not the core's code-point
    /// order in every case, and trap on NaN: for such bounds use `range(from:to:)`.)
    @inlinable
    public subscript(bounds: Range<Key>) -> [Element] {
        refusedOr([]) { try range(from: bounds.lowerBound, to: bounds.upperBound) }
    }

    /// `map[a...b]`.
    @inlinable
    public subscript(bounds: ClosedRange<Key>) -> [Element] {
        refusedOr([]) { try range(from: bounds.lowerBound, to: bounds.upperBound, endInclusive: true) }
    }

    /// `map[a...]`.
    @inlinable
    public subscript(bounds: PartialRangeFrom<Key>) -> [Element] {
        refusedOr([]) { try range(from: bounds.lowerBound) }
    }

    /// `map[..<b]`.
    @inlinable
    public subscript(bounds: PartialRangeUpTo<Key>) -> [Element] {
        refusedOr([]) { try range(to: bounds.upperBound) }
    }

    /// `map[...b]`.
    @inlinable
    public subscript(bounds: PartialRangeThrough<Key>) -> [Element] {
        refusedOr([]) { try range(to: bounds.upperBound, endInclusive: true) }
    }
}

// MARK: - The two maps

/// A cache-sensitive B+ tree (kohakuvault 1.1.0's `CSBTree`): `insert` replaces. See
/// `OrderedMap` for the API; `order` is the maximum number of keys per node (at least 2).
public final class CSBTree<Key: OrderedMapKey, Value>: OrderedMap<Key, Value>, @unchecked Sendable {
    /// An empty tree; `order` below 2 (or beyond the core's maximum) throws `.invalidArgument`.
    public init(order: Int = 63) throws {
        // The core validates the order; only what does not fit its u32 is refused here.
        guard order >= 0 else { throw KohakuVaultError.invalidArgument("order must be at least 2, got \(order)") }
        guard order <= Int(UInt32.max) else {
            throw KohakuVaultError.invalidArgument("order must be at most \(UInt32.max), got \(order)")
        }
        let s = try core { try KohakuVaultCore.OrderedStore(kind: .csbTree, order: UInt32(order), hostOrder: nil) }
        super.init(store: s, isTree: true, typeName: "CSBTree")
    }

    /// The maximum number of keys per node.
    public var order: Int { Int(store.order()) }
}

/// A lock-free skip list (kohakuvault 1.1.0's `SkipList`): `insert` is insert-if-absent (use
/// `updateValue(_:forKey:)` to replace). See `OrderedMap` for the API.
public final class SkipList<Key: OrderedMapKey, Value>: OrderedMap<Key, Value>, @unchecked Sendable {
    public init() {
        let s: KohakuVaultCore.OrderedStore
        do {
            s = try KohakuVaultCore.OrderedStore(kind: .skipList, order: 0, hostOrder: nil)
        } catch {
            fatalError("SkipList: the core could not create a skip list: \(KohakuVaultError.wrap(error))")
        }
        super.init(store: s, isTree: false, typeName: "SkipList")
    }
}

/// One page of the iterator: keys and their values, and where to go on.
@usableFromInline
struct OrderedPage<Key, Value> {
    @usableFromInline let keys: [Key]
    @usableFromInline let values: [Value]
    /// No entry follows.
    @usableFromInline let done: Bool
    /// The page's last key (also when its entry was skipped): the next page starts after it.
    @usableFromInline let last: Key?

    init(keys: [Key], values: [Value], done: Bool, last: Key?) {
        self.keys = keys
        self.values = values
        self.done = done
        self.last = last
    }
}

// MARK: - The value table

/// Values under handles (u64 >= 1 from a counter, never reused), behind a lock. Values removed
/// from the table are released outside the lock (their deinit may use the map).
@usableFromInline
final class OrderedHandleTable<Value>: @unchecked Sendable {
    // Inlinable (with the single-key members of `OrderedMap`) so that the dictionary code is
    // specialised for the caller's value type.
    @usableFromInline let lock = NSLock()
    @usableFromInline var entries: [UInt64: Value] = [:]
    @usableFromInline var next: UInt64 = 1

    @usableFromInline init() {}

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    @inlinable
    func add(_ value: Value) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        let h = next
        next += 1
        entries[h] = value
        return h
    }

    /// Consecutive handles for `values`.
    func add(contentsOf values: [Value]) -> [UInt64] {
        lock.lock()
        defer { lock.unlock() }
        let first = next
        next += UInt64(values.count)
        entries.reserveCapacity(entries.count + values.count)
        for (i, v) in values.enumerated() { entries[first + UInt64(i)] = v }
        return (0..<values.count).map { first + UInt64($0) }
    }

    /// The value under `h`; nil when `h` is no longer in the table.
    @inlinable
    func lookup(_ h: UInt64) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        return entries[h]
    }

    /// The values under `hs`, and the indices of the handles no longer in the table.
    func lookupAll(_ hs: [UInt64]) -> (values: [Value], missing: [Int]) {
        var values: [Value] = []
        var missing: [Int] = []
        values.reserveCapacity(hs.count)
        lock.lock()
        defer { lock.unlock() }
        for i in hs.indices {
            if let v = entries[hs[i]] { values.append(v) } else { missing.append(i) }
        }
        return (values, missing)
    }

    func lookup(_ hs: [UInt64]) -> [Value?] {
        lock.lock()
        defer { lock.unlock() }
        return hs.map { entries[$0] }
    }

    /// Removes and returns the value under `h`.
    @inlinable
    func take(_ h: UInt64) -> Value? {
        lock.lock()
        let v = entries.removeValue(forKey: h)
        lock.unlock()
        return v
    }

    @inlinable
    func drop(_ h: UInt64) {
        _ = take(h)
    }

    func drop(_ hs: [UInt64]) {
        var gone: [Value] = []
        gone.reserveCapacity(hs.count)
        lock.lock()
        for h in hs {
            if let v = entries.removeValue(forKey: h) { gone.append(v) }
        }
        lock.unlock()
        gone.removeAll() // released here, outside the lock
    }
}
