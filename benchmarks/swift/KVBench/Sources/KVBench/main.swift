// Times the batch paths of the Swift facade: putMany of N x 256-byte raw values in one
// transaction, getMany of the same N keys, and (for scale) single put/get loops.
// Env: KV_BENCH_N (default 10000), KV_BENCH_VALUE (default 256), KV_BENCH_ROUNDS (default 5).
// Then CSBTree/SkipList (KV_BENCH_ORD_N), ColumnVault, VectorKVault and TextVault sections below.
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

// CSBTree and SkipList (in memory): KV_BENCH_ORD_N random keys (default 100_000; Int64, then
// String keys "k" + 12 hex digits), for both maps and, as the reference, a Swift Dictionary plus
// a sorted key array (binary search for ranges). Per operation: insert, get, contains, 1000
// ranges of ~100 entries, full iteration, remove (each single-key call one C fast-path call);
// in batches: insert(contentsOf:), values(forKeys:), removeValues(forKeys:) (one crossing each).
// Every map is filled outside the timed part where the operation needs one.
let ordN = max(200, Int(env["KV_BENCH_ORD_N"] ?? "") ?? 100_000)
let ordRanges = 1_000
let ordSpan = 100

/// Best and median of `rounds` timings of `body`, each on a fresh `setup()` (not timed).
func measureFresh<T>(_ setup: () throws -> T, _ body: (T) throws -> Void) rethrows -> (best: Double, median: Double) {
    var times: [Double] = []
    for _ in 0..<rounds {
        let x = try setup()
        let t0 = now()
        try body(x)
        times.append(now() - t0)
    }
    times.sort()
    return (times[0], times[times.count / 2])
}

/// One line per operation: like `report`, with the time per operation instead of MB/s.
func reportOp(_ name: String, _ t: (best: Double, median: Double), ops: Int) {
    let label = name.padding(toLength: max(34, name.count), withPad: " ", startingAt: 0)
    print(label + String(format: " best %8.2f ms  median %8.2f ms  %10.0f ops/s  %8.1f ns/op",
                         t.best * 1e3, t.median * 1e3, Double(ops) / t.best, t.best / Double(ops) * 1e9))
}

/// The ordered-map benchmark for one key type: `keys` unique and in random order.
func benchOrdered<K: OrderedMapKey & Hashable & Comparable>(_ label: String, _ keys: [K], less: (K, K) -> Bool) throws {
    let n = keys.count
    let sorted = keys.sorted(by: less)
    var lcgR: UInt64 = 0x9E37_79B9_7F4A_7C15
    let starts: [Int] = (0..<ordRanges).map { _ in
        lcgR = lcgR &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(lcgR >> 33) % max(1, n - ordSpan)
    }
    let pairs = keys.enumerated().map { ($1, $0) }
    let makers: [(String, () throws -> OrderedMap<K, Int>)] = [
        ("CSBTree", { try CSBTree<K, Int>() }),
        ("SkipList", { SkipList<K, Int>() }),
    ]
    for (name, make) in makers {
        let p = "\(name)<\(label)>"
        let filled: () throws -> OrderedMap<K, Int> = {
            let m = try make()
            try m.insert(contentsOf: pairs)
            return m
        }
        reportOp("\(p) insert x\(n)", try measureFresh(make) { m in
            for (i, k) in keys.enumerated() { try m.insert(k, i) }
        }, ops: n)
        let m = try filled()
        var hits = 0
        reportOp("\(p) value(forKey:) x\(n)", try measure {
            hits = 0
            for k in keys { if try m.value(forKey: k) != nil { hits += 1 } }
        }, ops: n)
        precondition(hits == n, "\(p): get missed keys")
        reportOp("\(p) contains x\(n)", try measure {
            hits = 0
            for k in keys { if try m.contains(k) { hits += 1 } }
        }, ops: n)
        precondition(hits == n, "\(p): contains missed keys")
        var got = 0
        reportOp("\(p) range x\(ordRanges) (~\(ordSpan) each)", try measure {
            got = 0
            for s in starts { got += try m.range(sorted[s], sorted[s + ordSpan]).count }
        }, ops: ordRanges)
        precondition(got == ordRanges * ordSpan, "\(p): ranges returned \(got) entries")
        reportOp("\(p) iterate \(n)", measure {
            got = 0
            for _ in m { got += 1 }
        }, ops: n)
        precondition(got == n, "\(p): iteration returned \(got) entries")
        reportOp("\(p) removeValue x\(n)", try measureFresh(filled) { m in
            for k in keys { _ = try m.removeValue(forKey: k) }
        }, ops: n)
        reportOp("\(p) insert(contentsOf: \(n))", try measureFresh(make) { m in
            try m.insert(contentsOf: pairs)
        }, ops: n)
        var vals: [Int?] = []
        reportOp("\(p) values(forKeys: \(n))", try measure { vals = try m.values(forKeys: keys) }, ops: n)
        precondition(vals.count == n && vals[n / 2] == n / 2, "\(p): values(forKeys:) returned wrong values")
        reportOp("\(p) removeValues(forKeys: \(n))", try measureFresh(filled) { m in
            _ = try m.removeValues(forKeys: keys)
        }, ops: n)
    }
    // The reference: a Dictionary, and a sorted array of its keys for ranges and iteration.
    let r = "Dictionary<\(label)>+sorted"
    reportOp("\(r) insert x\(n)", measure {
        var d: [K: Int] = [:]
        for (i, k) in keys.enumerated() { d[k] = i }
        precondition(d.count == n)
    }, ops: n)
    var dict: [K: Int] = [:]
    for (i, k) in keys.enumerated() { dict[k] = i }
    var hits = 0
    reportOp("\(r) get x\(n)", measure {
        hits = 0
        for k in keys where dict[k] != nil { hits += 1 }
    }, ops: n)
    precondition(hits == n)
    reportOp("\(r) sort keys \(n)", measure { precondition(dict.keys.sorted(by: less).count == n) }, ops: n)
    var got = 0
    reportOp("\(r) range x\(ordRanges) (~\(ordSpan) each)", measure {
        got = 0
        for s in starts {
            let lo = sorted[s], hi = sorted[s + ordSpan]
            var a = 0, b = sorted.count
            while a < b { let mid = (a + b) / 2; if less(sorted[mid], lo) { a = mid + 1 } else { b = mid } }
            var i = a
            while i < sorted.count, less(sorted[i], hi) { got += dict[sorted[i]] != nil ? 1 : 0; i += 1 }
        }
    }, ops: ordRanges)
    precondition(got == ordRanges * ordSpan)
    reportOp("\(r) iterate \(n)", measure {
        got = 0
        for k in sorted where dict[k] != nil { got += 1 }
    }, ops: n)
    reportOp("\(r) remove x\(n)", measureFresh({ dict }) { d in
        var d = d
        for k in keys { d[k] = nil }
        precondition(d.isEmpty)
    }, ops: n)
}

print("CSBTree / SkipList: n=\(ordN) random keys, \(ordRanges) ranges of ~\(ordSpan), rounds=\(rounds)")
var ordSeed: UInt64 = 0x0DDB_1A5E_5BAD_5EED
func ordNext() -> UInt64 {
    ordSeed = ordSeed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return ordSeed
}
var intSet = Set<Int64>()
var intKeys: [Int64] = []
while intKeys.count < ordN {
    let k = Int64(bitPattern: ordNext() ^ (ordNext() >> 29))
    if intSet.insert(k).inserted { intKeys.append(k) }
}
try benchOrdered("Int64", intKeys, less: <)
// The same Int64 ranges and pages as one core call each (the generated layer directly, no
// facade: keys as §9.1 encodings, values as bare handles), to split the costs.
func int64Encoding(_ k: Int64) -> Data {
    var d = Data([3])
    withUnsafeBytes(of: k.littleEndian) { d.append(contentsOf: $0) }
    return d
}
do {
    let coreStore = try KohakuVaultCore.OrderedStore(kind: .csbTree, order: 63, hostOrder: nil)
    var page = Data()
    withUnsafeBytes(of: UInt32(1).littleEndian) { page.append(contentsOf: $0) }
    withUnsafeBytes(of: UInt32(intKeys.count).littleEndian) { page.append(contentsOf: $0) }
    var handles = Data()
    for (i, k) in intKeys.enumerated() {
        withUnsafeBytes(of: k.littleEndian) { page.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(i + 1).littleEndian) { handles.append(contentsOf: $0) }
    }
    _ = try coreStore.insertMany(keys: page, values: handles, ifAbsent: false)
    let sortedInts = intKeys.sorted()
    var lcgC: UInt64 = 0x9E37_79B9_7F4A_7C15
    let bounds: [(Data, Data)] = (0..<ordRanges).map { _ in
        lcgC = lcgC &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let s = Int(lcgC >> 33) % max(1, sortedInts.count - ordSpan)
        return (int64Encoding(sortedInts[s]), int64Encoding(sortedInts[s + ordSpan]))
    }
    var bytes = 0
    reportOp("  core range x\(ordRanges) call only", try measure {
        bytes = 0
        for (a, b) in bounds {
            bytes += try coreStore.range(range: OrderedRange(start: a, startInclusive: true, end: b, endInclusive: false,
                                                             limit: 0, reverse: false)).count
        }
    }, ops: ordRanges)
    precondition(bytes > ordRanges * ordSpan * 16, "core ranges returned \(bytes) bytes")
    reportOp("  core pages of 1024 call only", try measure {
        var start: Data? = nil
        var k = 0
        while k < sortedInts.count {
            let r = try coreStore.range(range: OrderedRange(start: start, startInclusive: false, end: nil, endInclusive: false,
                                                            limit: 1024, reverse: false))
            k += 1024
            start = int64Encoding(sortedInts[min(k, sortedInts.count) - 1])
            precondition(r.count >= 16)
        }
    }, ops: sortedInts.count)
    let encs = intKeys.map(int64Encoding)
    reportOp("  core get (UDL) x\(intKeys.count) call only", try measure {
        for e in encs {
            let h = try coreStore.get(key: e)
            precondition(h != 0)
        }
    }, ops: intKeys.count)
}
let strKeys = intKeys.map { "k" + String(UInt64(bitPattern: $0) >> 16, radix: 16) }
let strUnique = Array(Set(strKeys)).sorted().shuffledLCG()
// Code point order is UTF-8 byte order; for these ASCII keys it is also Swift's `<`.
try benchOrdered("String", strUnique, less: <)

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

// ColumnVault bulk paths: 1M i64 append/read and tensor rows (KV_BENCH_COL_N, KV_BENCH_VEC_N
// rows of KV_BENCH_VEC_DIM f32; defaults 1_000_000, 100_000 x 384).
let colN = Int(env["KV_BENCH_COL_N"] ?? "") ?? 1_000_000
let vecN = Int(env["KV_BENCH_VEC_N"] ?? "") ?? 100_000
let vecDim = Int(env["KV_BENCH_VEC_DIM"] ?? "") ?? 384
print("ColumnVault: i64 n=\(colN), vec:f32:\(vecDim) n=\(vecN)")
let cols = try ColumnVault(path: dir.appendingPathComponent("cols.db").path)
let ints = (0..<colN).map { Int64($0) }
var round = 0
let colAppend = try measure {
    round += 1
    let c = try cols.createColumn("i\(round)", dtype: "i64", as: Int64Column.self)
    try c.append(contentsOf: ints)
}
report("i64 append(contentsOf:) \(colN)", colAppend, ops: colN, bytes: colN * 8)
let ic = try cols.column(named: "i1", as: Int64Column.self)
var back: [Int64] = []
let colRead = try measure { back = try ic.read(0..<colN) }
report("i64 read(0..<\(colN))", colRead, ops: colN, bytes: colN * 8)
precondition(back == ints, "i64 read returned wrong data")
let colTake = try measure { _ = try ic.take(Array(stride(from: 0, to: colN, by: 10))) }
report("i64 take (every 10th)", colTake, ops: colN / 10, bytes: colN / 10 * 8)

let flat = (0..<(vecN * vecDim)).map { Float($0 % 997) }
round = 0
let vecAppend = try measure {
    round += 1
    let e = try cols.createColumn("e\(round)", dtype: "vec:f32:\(vecDim)", as: FloatTensorColumn.self)
    try e.appendFlat(flat)
}
report("vec appendFlat \(vecN) x \(vecDim)", vecAppend, ops: vecN, bytes: flat.count * 4)
let ec = try cols.column(named: "e1", as: FloatTensorColumn.self)
var flatBack: [Float] = []
let vecReadFlat = try measure { flatBack = try ec.readFlat(0..<vecN) }
report("vec readFlat(0..<\(vecN))", vecReadFlat, ops: vecN, bytes: flat.count * 4)
precondition(flatBack == flat, "readFlat returned wrong data")
var rows: [[Float]] = []
let vecRead = try measure { rows = try ec.read(0..<vecN) }
report("vec read(0..<\(vecN)) as [[Float]]", vecRead, ops: vecN, bytes: flat.count * 4)
precondition(rows.count == vecN && rows[1] == Array(flat[vecDim..<(2 * vecDim)]))
// The Python row's workload: one tensor column in a file of its own (the reads above share a
// file with the other columns of this section).
let ownCols = try ColumnVault(path: dir.appendingPathComponent("tensor-read.db").path)
let own = try ownCols.createColumn("e", dtype: "vec:f32:\(vecDim)", as: FloatTensorColumn.self)
try own.appendFlat(flat)
let ownRead = try measure { flatBack = try own.readFlat(0..<vecN) }
report("vec readFlat(0..<\(vecN)), own file", ownRead, ops: vecN, bytes: flat.count * 4)
precondition(flatBack == flat, "readFlat returned wrong data")
try ownCols.close()
let strs = (0..<100_000).map { "name-\($0)" }
let sc = try cols.createColumn("s", dtype: "str", as: StringColumn.self)
let strAppend = try measure { try sc.append(contentsOf: strs) }
report("str append 100k (x\(rounds))", strAppend, ops: strs.count, bytes: 0)
let strRead = try measure { _ = try sc.read(0..<100_000) }
report("str read 100k", strRead, ops: strs.count, bytes: 0)
try cols.close()

// VectorKVault: exact k-NN (k = 10) over KV_BENCH_VEC_N x KV_BENCH_VEC_DIM f32 vectors (defaults
// 100_000 x 384, as the ColumnVault rows above), for cosine and l2: the whole set stored by one
// insert(contentsOf:) (one crossing, one transaction), KV_BENCH_VEC_QUERIES (default 16) single
// searches, and the same queries as one search(many:) call.
let vecQueries = max(1, Int(env["KV_BENCH_VEC_QUERIES"] ?? "") ?? 16)
print("VectorKVault: f32 n=\(vecN) dim=\(vecDim), k=10, \(vecQueries) queries")
var lcg: UInt64 = 0x2545_F491_4F6C_DD1D
func nextUnit() -> Float {
    lcg = lcg &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(lcg >> 40) / Float(1 << 24) * 2 - 1
}
let vecRows: [[Float]] = (0..<vecN).map { _ in (0..<vecDim).map { _ in nextUnit() } }
let vecValues: [any VaultValueConvertible] = (0..<vecN).map { "doc-\($0)" }
let vecQ: [[Float]] = (0..<vecQueries).map { _ in (0..<vecDim).map { _ in nextUnit() } }
for metric in [VectorMetric.cosine, .l2] {
    let vv = try VectorKVault(path: dir.appendingPathComponent("vec-\(metric.rawValue).db").path,
                              dimensions: vecDim, metric: metric)
    let t0 = now()
    let ids = try vv.insert(contentsOf: vecRows, values: vecValues)
    let once = now() - t0
    report("vec insert(contentsOf:) \(vecN) x \(vecDim) \(metric.rawValue)", (once, once),
           ops: vecN, bytes: vecN * vecDim * 4)
    precondition(ids.count == vecN && ids.first == 1, "insert(contentsOf:) returned wrong ids")
    let probe = try vv.search(vecRows[vecN / 2], k: 1)
    precondition(probe.first?.id == ids[vecN / 2], "search missed a stored row")
    var hits: [VectorHit] = []
    let single = try measure { for q in vecQ { hits = try vv.search(q, k: 10) } }
    report("vec search k=10 \(metric.rawValue) (x\(vecQueries))", single, ops: vecQueries, bytes: 0)
    precondition(hits.count == 10)
    var many: [[VectorHit]] = []
    let batch = try measure { many = try vv.search(many: vecQ, k: 10) }
    report("vec search(many: \(vecQueries)) k=10 \(metric.rawValue)", batch, ops: vecQueries, bytes: 0)
    precondition(many.count == vecQueries && many.last == hits, "search(many:) differs from search")
    try vv.close()
}

// TextVault: KV_BENCH_TEXT_N short documents (default 100_000; 6 to 12 words each from a
// 5,000-word vocabulary, frequent words more often) stored by one insert(contentsOf:) (one
// crossing, one transaction); the latency of KV_BENCH_TEXT_QUERIES (default 200) top-10
// searches of one word (p50/p99); then the same documents with KV_BENCH_TEXT_DIM-d f32 vectors
// (default 384) and the latency of KV_BENCH_HYBRID_QUERIES (default 64) hybrid searches (one word
// and one vector, k = 10, default candidates). Each latency loop follows one untimed call; the
// first hybrid call after the insert (cold pages) is reported on its own line.
let textN = Int(env["KV_BENCH_TEXT_N"] ?? "") ?? 100_000
let textDim = Int(env["KV_BENCH_TEXT_DIM"] ?? "") ?? 384
let textQueries = max(1, Int(env["KV_BENCH_TEXT_QUERIES"] ?? "") ?? 200)
let hybridQueries = max(1, Int(env["KV_BENCH_HYBRID_QUERIES"] ?? "") ?? 64)
print("TextVault: n=\(textN) short docs, \(textQueries) top-10 searches; hybrid: \(textDim)-d f32, \(hybridQueries) queries")

/// p50 and p99 of per-call latencies, in the format of `report`.
func reportLatency(_ name: String, _ seconds: [Double]) {
    let s = seconds.sorted()
    let p50 = s[s.count / 2], p99 = s[min(s.count - 1, Int((Double(s.count) * 0.99).rounded(.up)) - 1)]
    let label = name.padding(toLength: max(34, name.count), withPad: " ", startingAt: 0)
    print(label + String(format: " p50 %8.3f ms  p99 %8.3f ms  mean %8.3f ms  (%d calls)",
                         p50 * 1e3, p99 * 1e3, s.reduce(0, +) / Double(s.count) * 1e3, s.count))
}

let letters = Array("abcdefghijklmnopqrstuvwxyz")
let vocabulary: [String] = (0..<5_000).map { _ in
    let len = 3 + Int(nextUnit() * 2.5 + 2.5) // 3...8 letters
    return String((0..<len).map { _ in letters[Int((nextUnit() + 1) / 2 * 25.999)] })
}
/// A word, the first ones of the vocabulary far more often (index = V * u^2).
func textWord() -> String {
    let u = Double((nextUnit() + 1) / 2)
    return vocabulary[min(vocabulary.count - 1, Int(u * u * Double(vocabulary.count)))]
}
let texts: [String] = (0..<textN).map { _ in
    (0..<(6 + Int((nextUnit() + 1) * 3))).map { _ in textWord() }.joined(separator: " ")
}
let textDocs: [TextDoc] = try texts.enumerated().map { try TextDoc($1, value: "doc-\($0)") }
let textChars = texts.reduce(0) { $0 + $1.utf8.count }
round = 0
var textVault: TextVault?
let textInsert = try measure {
    round += 1
    let tv = try TextVault(path: dir.appendingPathComponent("text-\(round).db").path)
    let ids = try tv.insert(contentsOf: textDocs)
    precondition(ids.count == textN && ids.first == 1, "insert(contentsOf:) returned wrong ids")
    if textVault == nil { textVault = tv } else { try tv.close() }
}
report("text insert(contentsOf:) \(textN) docs", textInsert, ops: textN, bytes: textChars)
let tv = textVault!
let searchWords = (0..<textQueries).map { i in vocabulary[(i * 37) % 1_000 + 50] } // mid-frequency words
var latencies: [Double] = []
var textHits = 0
_ = try tv.search(searchWords[0], k: 10)
for w in searchWords {
    let t0 = now()
    let hits = try tv.search(w, k: 10)
    latencies.append(now() - t0)
    textHits += hits.count
}
precondition(textHits > 0, "no search found anything")
reportLatency("text search k=10 over \(textN) docs", latencies)
latencies = []
for w in searchWords {
    let t0 = now()
    _ = try tv.searchWithText(w, k: 10)
    latencies.append(now() - t0)
}
reportLatency("text searchWithText k=10", latencies)
try tv.close()

let hv = try TextVault(path: dir.appendingPathComponent("hybrid.db").path, dimensions: textDim)
let hybridDocs: [TextDoc] = try texts.enumerated().map { i, t in
    try TextDoc(t, value: "doc-\(i)", vector: (0..<textDim).map { _ in nextUnit() })
}
let h0 = now()
let hybridIds = try hv.insert(contentsOf: hybridDocs)
let hybridOnce = now() - h0
precondition(hybridIds.count == textN)
report("text+vec insert(contentsOf:) \(textN) x \(textDim)", (hybridOnce, hybridOnce), ops: textN,
       bytes: textChars + textN * textDim * 4)
let c0 = now()
let coldHits = try hv.hybridSearch(query: searchWords[0], vector: (0..<textDim).map { _ in nextUnit() }, k: 10)
let cold = now() - c0
precondition(coldHits.count == 10)
print("hybrid k=10 first call (cold)".padding(toLength: 34, withPad: " ", startingAt: 0)
      + String(format: " %8.3f ms", cold * 1e3))
latencies = []
for i in 0..<hybridQueries {
    let q = (0..<textDim).map { _ in nextUnit() }
    let t0 = now()
    let hits = try hv.hybridSearch(query: searchWords[i % searchWords.count], vector: q, k: 10)
    latencies.append(now() - t0)
    precondition(hits.count == 10, "hybrid search returned \(hits.count) hits")
}
reportLatency("hybrid k=10 over \(textN) x \(textDim)", latencies)
try hv.close()

extension Array {
    /// A shuffle with a fixed seed (the same order every run).
    func shuffledLCG() -> [Element] {
        var a = self
        var x: UInt64 = 0x5851_F42D_4C95_7F2D
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            a.swapAt(i, Int(x >> 33) % (i + 1))
        }
        return a
    }
}
