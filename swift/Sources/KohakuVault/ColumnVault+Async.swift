import Foundation

// `async` variants of the blocking calls of `ColumnVault` and its columns: the same names, chosen
// by Swift in an async context (`try await ids.append(contentsOf: values)`). Each runs on a global
// dispatch queue (`offload`), not on a thread of the cooperative pool; a cancelled task gets
// `.interrupted` before the call starts. Scans in batches are `AsyncSequence`s: `batches(size:)`.
extension ColumnVault {
    @discardableResult
    public func createColumn(_ name: String, dtype: String, blockBytes: Int? = nil) async throws -> Column {
        try await offload { try self.createColumn(name, dtype: dtype, blockBytes: blockBytes) }
    }

    @discardableResult
    public func ensureColumn(_ name: String, dtype: String, blockBytes: Int? = nil) async throws -> Column {
        try await offload { try self.ensureColumn(name, dtype: dtype, blockBytes: blockBytes) }
    }

    public func column(named name: String) async throws -> Column {
        try await offload { try self.column(named: name) }
    }

    public func listColumns() async throws -> [ColumnInfo] {
        try await offload { try self.listColumns() }
    }

    @discardableResult
    public func deleteColumn(_ name: String) async throws -> Bool {
        try await offload { try self.deleteColumn(name) }
    }

    @discardableResult
    public func checkpoint() async throws -> WalCheckpoint {
        try await offload { try self.checkpoint() }
    }

    @discardableResult
    public func flushCache() async throws -> UInt64 {
        try await offload { try self.flushCache() }
    }

    public func close() async throws {
        try await offload { try self.close() }
    }
}

extension Column {
    public func count() async throws -> Int {
        try await offload { try self.count() }
    }

    public func storedRows(_ range: Range<Int>) async throws -> [Data] {
        try await offload { try self.storedRows(range) }
    }

    public func removeSubrange(_ range: Range<Int>) async throws {
        try await offload { try self.removeSubrange(range) }
    }

    public func clear() async throws {
        try await offload { try self.clear() }
    }

    @discardableResult
    public func flushCache() async throws -> UInt64 {
        try await offload { try self.flushCache() }
    }
}

extension TypedColumn {
    public func value(at index: Int) async throws -> Value {
        try await offload { try self.value(at: index) }
    }

    public func read(_ range: Range<Int>) async throws -> [Value] {
        try await offload { try self.read(range) }
    }

    public func read() async throws -> [Value] {
        try await offload { try self.read() }
    }

    public func take(_ indices: [Int]) async throws -> [Value] {
        try await offload { try self.take(indices) }
    }

    public func snapshot(_ range: Range<Int>? = nil) async throws -> ColumnSnapshot<Value> {
        try await offload { try self.snapshot(range) }
    }

    public func append(_ value: Value) async throws {
        try await offload { try self.append(value) }
    }

    public func append(contentsOf values: [Value]) async throws {
        try await offload { try self.append(contentsOf: values) }
    }

    public func replaceSubrange(_ range: Range<Int>, with values: [Value]) async throws {
        try await offload { try self.replaceSubrange(range, with: values) }
    }

    public func set(_ value: Value, at index: Int) async throws {
        try await offload { try self.set(value, at: index) }
    }

    public func insert(contentsOf values: [Value], at index: Int) async throws {
        try await offload { try self.insert(contentsOf: values, at: index) }
    }

    public func write(_ snapshot: ColumnSnapshot<Value>) async throws {
        try await offload { try self.write(snapshot) }
    }

    /// The rows of `range` (default: every row, the end taken when the scan starts) in batches of
    /// `size` rows, each one crossing: `for try await batch in column.batches(size: 4096)`. Also
    /// iterable synchronously (`makeIterator()`, throwing `next()`). A size below 1 throws
    /// `.invalidArgument` from the first `next()`.
    public func batches(size: Int = 65_536, range: Range<Int>? = nil) -> ColumnBatches<Value> {
        ColumnBatches(column: self, size: size, range: range)
    }
}

/// The rows of a column in batches (`TypedColumn.batches(size:range:)`), each batch an array of
/// up to `size` rows with the row number of its first one.
public struct ColumnBatches<Value: Sendable>: AsyncSequence, Sendable {
    public typealias Element = ColumnBatch<Value>

    let column: TypedColumn<Value>
    let size: Int
    let range: Range<Int>?

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(state: State(self)) }
    public func makeIterator() -> Iterator { Iterator(state: State(self)) }

    /// Every batch, read synchronously.
    public func collect() throws -> [ColumnBatch<Value>] {
        var it = makeIterator()
        var out: [ColumnBatch<Value>] = []
        while let b = try it.next() { out.append(b) }
        return out
    }

    struct State: Sendable {
        let column: TypedColumn<Value>
        let size: Int
        var next: Int
        var end: Int?
        var done = false

        init(_ b: ColumnBatches) {
            column = b.column
            size = b.size
            next = b.range?.lowerBound ?? 0
            end = b.range?.upperBound
        }

        /// The next row range, nil at the end (resolving the end on the first call).
        mutating func advance() throws -> Range<Int>? {
            if done { return nil }
            guard size > 0 else {
                done = true
                throw KohakuVaultError.invalidArgument("batch size must be positive")
            }
            let stop: Int
            if let e = end {
                stop = e
            } else {
                stop = try column.count()
                end = stop
            }
            guard next < stop else {
                done = true
                return nil
            }
            let r = next..<(next + Swift.min(size, stop - next))
            next = r.upperBound
            return r
        }
    }

    public struct Iterator {
        var state: State

        public mutating func next() throws -> ColumnBatch<Value>? {
            guard let r = try state.advance() else { return nil }
            do {
                return ColumnBatch(start: r.lowerBound, rows: try state.column.read(r))
            } catch {
                state.done = true
                throw error
            }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var state: State

        public mutating func next() async throws -> ColumnBatch<Value>? {
            let s = state
            do {
                let (after, batch) = try await offload { () -> (State, ColumnBatch<Value>?) in
                    var t = s
                    guard let r = try t.advance() else { return (t, nil) }
                    return (t, ColumnBatch(start: r.lowerBound, rows: try t.column.read(r)))
                }
                state = after
                return batch
            } catch {
                state.done = true
                throw error
            }
        }
    }
}

/// One batch of `ColumnBatches`: rows from row `start` on.
public struct ColumnBatch<Value: Sendable>: Sendable {
    public let start: Int
    public let rows: [Value]

    /// The row numbers of this batch.
    public var indices: Range<Int> { start..<(start + rows.count) }
}

extension ColumnBatch: Equatable where Value: Equatable {}
