import Foundation
import KohakuVaultCore

// Codable values, stored as MessagePack (kind msgpack) so Python reads them as dicts/lists.
// The Swift side only runs JSONEncoder/JSONDecoder; the JSON <-> MessagePack conversion is the
// core's (`transcode`, kinds 3 json and 4 msgpack), so every language stores the same bytes.
extension KVault {
    /// Encodes `value` with `encoder` (JSON), converts it to MessagePack in the core and stores it
    /// as kind msgpack. `Data` fields become base64 text and `Date`s numbers, as JSONEncoder makes them.
    public func setCodable<K: VaultKey, T: Encodable>(_ value: T, forKey key: K,
                                                      encoder: JSONEncoder = JSONEncoder()) throws {
        try set(try TaggedValue(encoding: value, encoder: encoder), forKey: key)
    }

    /// Decodes the value of `key` as `type` (msgpack, json or cbor values); nil when missing.
    /// A value of another kind, or one that does not decode as `type`, throws `.invalidArgument`.
    public func codable<K: VaultKey, T: Decodable>(_ type: T.Type, forKey key: K,
                                                   decoder: JSONDecoder = JSONDecoder()) throws -> T? {
        try value(forKey: key)?.decode(type, decoder: decoder)
    }
}

extension TaggedValue {
    /// A msgpack value holding `value` (JSONEncoder, then the core's JSON -> MessagePack).
    public init<T: Encodable>(encoding value: T, encoder: JSONEncoder = JSONEncoder()) throws {
        let json: Data
        do {
            json = try encoder.encode(value)
        } catch {
            throw KohakuVaultError.invalidArgument("cannot encode \(T.self) as JSON: \(error)")
        }
        let mp = try core {
            try transcode(fromKind: ValueKind.json.rawValue, toKind: ValueKind.msgpack.rawValue, payload: json)
        }
        self.init(kind: .msgpack, payload: mp)
    }

    /// Decodes a msgpack/json/cbor value as `type` (the core converts it to JSON, then JSONDecoder).
    public func decode<T: Decodable>(_ type: T.Type, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        let json: Data
        switch valueKind {
        case .json?: json = payload
        case .msgpack?, .cbor?:
            json = try core { try transcode(fromKind: kindCode, toKind: ValueKind.json.rawValue, payload: payload) }
        default:
            if kindCode == ValueKind.pickle.rawValue {
                throw KohakuVaultError.unsupportedEncoding("value is a Python pickle (kind 1), which only Python can decode")
            }
            throw KohakuVaultError.invalidArgument("value is \(valueKind.map { "\($0)" } ?? "kind \(kindCode)"), not msgpack/json/cbor")
        }
        do {
            return try decoder.decode(type, from: json)
        } catch {
            throw KohakuVaultError.invalidArgument("cannot decode the value as \(T.self): \(error)")
        }
    }
}
