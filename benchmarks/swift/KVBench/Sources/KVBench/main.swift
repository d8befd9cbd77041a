// Times the batch paths of the Swift facade: putMany of N x 256-byte raw values in one
// transaction, getMany of the same N keys, and (for scale) single put/get loops.
// Env: KV_BENCH_N (default 10000), KV_BENCH_VALUE (default 256), KV_BENCH_ROUNDS (default 5).
import Foundation
import KohakuVault
import KohakuVaultCore

let env = ProcessInfo.processInfo.environment
let n = Int(env["KV_BENCH_N"] ?? "") ?? 10_000
let valueSize = Int(env["KV_BENCH_VALUE"] ?? "") ?? 256
let rounds = max(1, Int(env["KV_BENCH_ROUNDS"] ?? "") ?? 5)

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Best and median of `rounds` timings of `body`.
func measure(_ body: () throws -> Void) rethrows -> (best: Double, median: Double) {
    var times: [Double] = []
    for _ in 0..<rounds {
        let t0 = now()
        try body()
        times.append(now() - t0)
    }
    times.sort()
    return (times[0], times[times.count / 2])
}

func report(_ name: String, _ t: (best: Double, median: Double), ops: Int, bytes: Int) {
    let opsPerSec = Double(ops) / t.best
    let mbPerSec = Double(bytes) / t.best / 1e6
    let label = name.padding(toLength: max(34, name.count), withPad: " ", startingAt: 0)
    print(label + String(format: " best %8.2f ms  median %8.2f ms  %10.0f ops/s  %7.1f MB/s",
                         t.best * 1e3, t.median * 1e3, opsPerSec, mbPerSec))
}

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvbench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }
let vault = try KVault(path: dir.appendingPathComponent("bench.db").path)

var rng = SystemRandomNumberGenerator()
let keys: [Data] = (0..<n).map { Data(String(format: "key:%08d", $0).utf8) }
let values: [Data] = (0..<n).map { _ in Data((0..<valueSize).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
let items = Array(zip(keys, values))
let total = n * valueSize

print("KohakuVault Swift benchmark: n=\(n) value=\(valueSize) B rounds=\(rounds)")
let putMany = try measure { try vault.putMany(items) }
report("put_many (\(n) x \(valueSize) B)", putMany, ops: n, bytes: total)

var got: [KohakuVault.TaggedValue?] = []
let getMany = try measure { got = try vault.getMany(keys) }
report("get_many (\(n) keys)", getMany, ops: n, bytes: total)
precondition(got.count == n && got[n / 2]?.payload == values[n / 2], "get_many returned wrong data")

// The same call split into the core's FFI call and the facade's packing/unpacking: the generated
// layer directly (KohakuVaultCore, which apps never need), on the same file, keys as columns.
var keyLens = Data()
var keyBytes = Data()
for k in keys {
    withUnsafeBytes(of: UInt32(k.count).littleEndian) { keyLens.append(contentsOf: $0) }
    keyBytes.append(k)
}
let coreStore = try KvStore(path: vault.path, table: vault.table, options: KohakuVaultCore.OpenOptions())
var raw = Data()
let coreGet = try measure { raw = try coreStore.getMany(keyLens: keyLens, keys: keyBytes, decoded: true) }
report("  core get_many call only", coreGet, ops: n, bytes: total)
precondition(raw.count == n * (5 + valueSize))

let m = min(n, 2000)
let put1 = try measure { for i in 0..<m { try vault.set(values[i], forKey: keys[i]) } }
report("put x\(m) (autocommit each)", put1, ops: m, bytes: m * valueSize)
let get1 = try measure { for i in 0..<m { _ = try vault.value(forKey: keys[i]) } }
report("get x\(m)", get1, ops: m, bytes: m * valueSize)
let iter = try measure { let c = try vault.keys().collect().count; precondition(c == n) }
report("keys() over \(n)", iter, ops: n, bytes: 0)
try coreStore.close()
try vault.close()
