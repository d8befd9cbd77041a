// Opens a vault in a temporary directory, writes and reads a few values, reopens the file and
// checks them; prints "consumer-swift: ok" and exits 0, or names the failed check and exits 1.
import Foundation
import KohakuVault

struct Note: Codable, Equatable {
    var title: String
    var tags: [String]
}

func check(_ ok: Bool, _ what: String) {
    if !ok {
        print("consumer-swift: FAILED: \(what)")
        exit(1)
    }
}

do {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kv-consumer-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("consumer.db").path

    let vault = try KVault(path: path)
    try vault.set("hello", forKey: "greeting")
    try vault.set(Int64(42), forKey: "answer")
    try vault.set(Data([1, 2, 3]), forKey: "blob")
    try vault.setCodable(Note(title: "first", tags: ["a", "b"]), forKey: "note")
    check(try vault.string(forKey: "greeting") == "hello", "string round trip")
    check(try vault.int64(forKey: "answer") == 42, "int round trip")
    check(try vault["blob"] == Data([1, 2, 3]), "bytes round trip")
    try vault.close()

    let again = try KVault(path: path, options: OpenOptions(readOnly: true))
    check(try again.count() == 4, "count after reopening")
    check(try again.codable(Note.self, forKey: "note") == Note(title: "first", tags: ["a", "b"]), "Codable round trip")
    check(try again.keys().collect().map { String(decoding: $0, as: UTF8.self) } == ["answer", "blob", "greeting", "note"],
          "keys in order")
    try again.close()
    do {
        _ = try again.string(forKey: "greeting")
        check(false, "a closed vault must throw")
    } catch KohakuVaultError.closed {
        // expected
    }
    print("consumer-swift: ok (KohakuVault \(KVault.version))")
} catch {
    print("consumer-swift: FAILED: \(error)")
    exit(1)
}
