import Foundation
import KohakuVaultCore

// The public value types of `TextVault` (never the generated ones).

/// How a `TextVault` splits text into the tokens FTS5 indexes (the raw value is the core's name).
/// The tokenizer is part of the table: it is written into the table's definition and a reopen
/// with another one is refused.
public enum Tokenizer: String, Sendable, Equatable, Hashable, CaseIterable {
    /// FTS5's default: Unicode word boundaries, case folded, diacritics removed.
    case unicode61
    /// unicode61 followed by the Porter stemmer (English: "running" matches "run").
    case porter
    /// Every run of 3 characters is a token: substring search, and Chinese or Japanese text
    /// without word breaking. Queries shorter than 3 characters match nothing (FTS5's rule).
    case trigram
}

/// A document to insert with `TextVault.insert(contentsOf:)`: its text (one text for a
/// single-column vault, or every column by name), its value and, for a vault with dimensions,
/// its vector.
public struct TextDoc: Sendable, Equatable, Hashable {
    /// A document's texts.
    public enum Texts: Sendable, Equatable, Hashable {
        /// The text of a single-column vault.
        case single(String)
        /// Column name → text, one entry for every column of the vault.
        case columns([String: String])
    }

    public var texts: Texts
    public var value: TaggedValue
    /// A float32 vector (a vault with `dimensions` and type `.f32`).
    public var vector: [Float]?
    /// The vector as its stored row (any vector type, `TextVault.rowBytes` bytes); used when
    /// `vector` is nil.
    public var vectorRow: Data?

    /// A document of a single-column vault.
    public init<V: VaultValueConvertible>(_ text: String, value: V, vector: [Float]? = nil) throws {
        self.init(texts: .single(text), value: try value.vaultValue(), vector: vector, vectorRow: nil)
    }

    /// A document given by column (every column of the vault).
    public init<V: VaultValueConvertible>(texts: [String: String], value: V, vector: [Float]? = nil) throws {
        self.init(texts: .columns(texts), value: try value.vaultValue(), vector: vector, vectorRow: nil)
    }

    /// A document of a single-column vault with its vector as a stored row.
    public init<V: VaultValueConvertible>(_ text: String, value: V, vectorRow: Data) throws {
        self.init(texts: .single(text), value: try value.vaultValue(), vector: nil, vectorRow: vectorRow)
    }

    /// A document given by column with its vector as a stored row.
    public init<V: VaultValueConvertible>(texts: [String: String], value: V, vectorRow: Data) throws {
        self.init(texts: .columns(texts), value: try value.vaultValue(), vector: nil, vectorRow: vectorRow)
    }

    public init(texts: Texts, value: TaggedValue, vector: [Float]?, vectorRow: Data?) {
        self.texts = texts
        self.value = value
        self.vector = vector
        self.vectorRow = vectorRow
    }
}

/// One hit of a search, best first.
///
/// `score` is what the search ranks by: −bm25 for the text searches (positive, higher is
/// better; tiny on small corpora, as in kohakuvault 1.1.0), the fused reciprocal-rank score for
/// `hybridSearch` (higher is better), the distance for `searchByVector` (smaller is nearer).
/// `texts` is nil for `search`, every column of the document for `searchWithText`, and the one
/// snippet (snippet column → snippet) for `searchWithSnippets`.
public struct TextHit: Sendable, Equatable, Hashable {
    public var id: Int64
    public var score: Double
    public var value: TaggedValue
    public var texts: [String: String]?

    public init(id: Int64, score: Double, value: TaggedValue, texts: [String: String]? = nil) {
        self.id = id
        self.score = score
        self.value = value
        self.texts = texts
    }
}

/// One stored document: its texts by column, its value and, when the vault has vectors and the
/// document one, its vector as stored (normalised for cosine).
public struct TextRecord: Sendable, Equatable, Hashable {
    public var id: Int64
    public var texts: [String: String]
    public var value: TaggedValue
    /// The stored vector row (`TextVault.rowBytes` bytes), nil when the document has none.
    public var vector: Data?
    /// The vault's vector type (nil for a vault without dimensions).
    public var vectorType: VectorType?

    public init(id: Int64, texts: [String: String], value: TaggedValue, vector: Data?, vectorType: VectorType?) {
        self.id = id
        self.texts = texts
        self.value = value
        self.vector = vector
        self.vectorType = vectorType
    }

    /// The vector of an `.f32` vault's document; nil otherwise.
    public var floats: [Float]? {
        guard let v = vector, vectorType == .f32 else { return nil }
        return VectorRows.floats(v)
    }
}

/// A vault's facts, as the core reports them (`metric` and `vectorType` as the raw values of
/// `VectorMetric` and `VectorType`: "cosine", "l2", …; "f32", "int8", "bit"; nil without dimensions).
public struct TextInfo: Sendable, Equatable, Hashable {
    public var table: String
    public var columns: [String]
    public var count: Int
    public var tokenizer: String
    public var dimensions: Int?
    public var metric: String?
    public var vectorType: String?

    init(_ i: KohakuVaultCore.TextInfo) {
        table = i.table
        columns = i.columns
        count = Int(clamping: i.count)
        tokenizer = i.tokenizer
        dimensions = i.dimensions.map { Int($0) }
        metric = i.metric
        vectorType = i.vectorType
    }
}
