import Foundation
import KohakuVaultCore

/// A plain structured value (what msgpack, JSON and CBOR hold): scalars, arrays and maps whose
/// entries keep their order. Stored as msgpack (kind 4); the core converts it through the flat
/// pre-order `PlainNode` list of the interface.
///
///     try vault.set(["id": 7, "tags": ["one", "two"]] as PlainValue, forKey: "map")
public indirect enum PlainValue: Hashable, Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case data(Data)
    case array([PlainValue])
    /// Ordered key/value pairs (keys need not be strings).
    case map([Entry])

    public struct Entry: Hashable, Sendable {
        public var key: PlainValue
        public var value: PlainValue
        public init(_ key: PlainValue, _ value: PlainValue) {
            self.key = key
            self.value = value
        }
    }

    /// A map from `(key, value)` pairs in order.
    public static func map(_ pairs: [(PlainValue, PlainValue)]) -> PlainValue {
        .map(pairs.map { Entry($0.0, $0.1) })
    }

    // MARK: accessors

    public var isNil: Bool { if case .nil = self { return true } else { return false } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var dataValue: Data? { if case .data(let d) = self { return d } else { return nil } }
    public var arrayValue: [PlainValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var entries: [Entry]? { if case .map(let m) = self { return m } else { return nil } }

    /// Integers of either signedness that fit in Int64.
    public var int64Value: Int64? {
        switch self {
        case .int(let v): return v
        case .uint(let v): return v <= UInt64(Int64.max) ? Int64(v) : nil
        default: return nil
        }
    }

    /// Floats and integers as Double.
    public var doubleValue: Double? {
        switch self {
        case .double(let v): return v
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        default: return nil
        }
    }

    /// The value of the first entry whose key is the string `key`.
    public subscript(key: String) -> PlainValue? {
        entries?.first(where: { $0.key == .string(key) })?.value
    }

    /// The element at `index` of an array.
    public subscript(index: Int) -> PlainValue? {
        guard let a = arrayValue, a.indices.contains(index) else { return nil }
        return a[index]
    }

    /// The same value with non-negative `.uint`s as `.int` and maps' entries in a canonical
    /// order: for comparing values that went through different encoders.
    public var normalized: PlainValue {
        switch self {
        case .uint(let v) where v <= UInt64(Int64.max): return .int(Int64(v))
        case .array(let a): return .array(a.map { $0.normalized })
        case .map(let m):
            let n = m.map { Entry($0.key.normalized, $0.value.normalized) }
            return .map(n.sorted { String(describing: $0.key) < String(describing: $1.key) })
        default: return self
        }
    }

    // MARK: PlainNode conversion (pre-order)

    /// The flat pre-order node list of the interface.
    func nodes() -> [PlainNode] {
        var out: [PlainNode] = []
        appendNodes(to: &out)
        return out
    }

    private func appendNodes(to out: inout [PlainNode]) {
        switch self {
        case .nil: out.append(PlainNode(kind: .`nil`, bin: Data()))
        case .bool(let b): out.append(PlainNode(kind: .bool, boolValue: b, bin: Data()))
        case .int(let v): out.append(PlainNode(kind: .int, intValue: v, bin: Data()))
        case .uint(let v): out.append(PlainNode(kind: .uInt, uintValue: v, bin: Data()))
        case .double(let v): out.append(PlainNode(kind: .float, floatValue: v, bin: Data()))
        case .string(let s): out.append(PlainNode(kind: .str, text: s, bin: Data()))
        case .data(let d): out.append(PlainNode(kind: .bin, bin: d))
        case .array(let a):
            out.append(PlainNode(kind: .array, bin: Data(), count: UInt32(a.count)))
            for v in a { v.appendNodes(to: &out) }
        case .map(let m):
            out.append(PlainNode(kind: .map, bin: Data(), count: UInt32(m.count)))
            for e in m {
                e.key.appendNodes(to: &out)
                e.value.appendNodes(to: &out)
            }
        }
    }

    /// Rebuilds a value from a pre-order node list (exactly one root).
    init(nodes: [PlainNode]) throws {
        var i = 0
        let v = try PlainValue.read(nodes, &i, depth: 0)
        guard i == nodes.count else {
            throw KohakuVaultError.corrupt("plain node list has \(nodes.count - i) trailing nodes")
        }
        self = v
    }

    private static func read(_ nodes: [PlainNode], _ i: inout Int, depth: Int) throws -> PlainValue {
        guard i < nodes.count else { throw KohakuVaultError.corrupt("plain node list ends early") }
        guard depth < 10_000 else { throw KohakuVaultError.corrupt("plain value nested too deeply") }
        let n = nodes[i]
        i += 1
        switch n.kind {
        case .`nil`: return .nil
        case .bool: return .bool(n.boolValue)
        case .int: return .int(n.intValue)
        case .uInt: return .uint(n.uintValue)
        case .float: return .double(n.floatValue)
        case .str: return .string(n.text)
        case .bin: return .data(n.bin)
        case .array:
            var a: [PlainValue] = []
            a.reserveCapacity(min(Int(n.count), nodes.count - i))
            for _ in 0..<n.count { a.append(try read(nodes, &i, depth: depth + 1)) }
            return .array(a)
        case .map:
            var m: [Entry] = []
            m.reserveCapacity(min(Int(n.count), nodes.count - i))
            for _ in 0..<n.count {
                let k = try read(nodes, &i, depth: depth + 1)
                let v = try read(nodes, &i, depth: depth + 1)
                m.append(Entry(k, v))
            }
            return .map(m)
        }
    }

    /// MessagePack bytes of this value (encoded by the core).
    public func msgpack() throws -> Data {
        try core { try plainToMsgpack(nodes: nodes()) }
    }

    /// Decodes MessagePack bytes (by the core).
    public static func fromMsgpack(_ payload: Data) throws -> PlainValue {
        try PlainValue(nodes: try core { try msgpackToPlain(payload: payload) })
    }
}

extension PlainValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .nil }
}

extension PlainValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension PlainValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension PlainValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension PlainValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension PlainValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: PlainValue...) { self = .array(elements) }
}

extension PlainValue: ExpressibleByDictionaryLiteral {
    /// Keeps the literal's order.
    public init(dictionaryLiteral elements: (PlainValue, PlainValue)...) {
        self = .map(elements.map { Entry($0.0, $0.1) })
    }
}

extension PlainValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .nil: return "nil"
        case .bool(let b): return b ? "true" : "false"
        case .int(let v): return String(v)
        case .uint(let v): return "\(v)u"
        case .double(let v): return String(v)
        case .string(let s): return String(reflecting: s)
        case .data(let d): return "<" + d.map { String(format: "%02x", $0) }.joined() + ">"
        case .array(let a): return "[" + a.map { $0.description }.joined(separator: ", ") + "]"
        case .map(let m):
            if m.isEmpty { return "[:]" }
            return "[" + m.map { "\($0.key.description): \($0.value.description)" }.joined(separator: ", ") + "]"
        }
    }
}
