import Foundation
import KohakuVaultCore

/// Every error the KohakuVault facade throws. Each case carries the core's human-readable reason.
///
/// The cases mirror the core's `VaultError` one to one; facade-side validation (a wrong value
/// type, a malformed buffer) is reported as `.invalidArgument` or `.corrupt`. Each caller-caused
/// failure raises exactly one case, the same in every language (tests/conformance/errors.json).
public enum KohakuVaultError: Error, Equatable, Hashable, CustomStringConvertible, LocalizedError {
    case notFound(String)
    case busy(String)
    case invalidArgument(String)
    case readOnly(String)
    case closed(String)
    case corrupt(String)
    case diskFull(String)
    case io(String)
    case unsupportedEncoding(String)
    case interrupted(String)
    case `internal`(String)

    /// The reason text, whatever the case.
    public var reason: String {
        switch self {
        case .notFound(let r), .busy(let r), .invalidArgument(let r), .readOnly(let r),
             .closed(let r), .corrupt(let r), .diskFull(let r), .io(let r),
             .unsupportedEncoding(let r), .interrupted(let r), .internal(let r):
            return r
        }
    }

    /// A short name of the case (`"notFound"`, `"closed"`, ...), handy for logs and tests.
    public var name: String {
        switch self {
        case .notFound: return "notFound"
        case .busy: return "busy"
        case .invalidArgument: return "invalidArgument"
        case .readOnly: return "readOnly"
        case .closed: return "closed"
        case .corrupt: return "corrupt"
        case .diskFull: return "diskFull"
        case .io: return "io"
        case .unsupportedEncoding: return "unsupportedEncoding"
        case .interrupted: return "interrupted"
        case .internal: return "internal"
        }
    }

    /// True when both errors are the same case, whatever their reasons.
    public func isSameCase(as other: KohakuVaultError) -> Bool { name == other.name }

    public var description: String { "KohakuVaultError.\(name): \(reason)" }
    public var errorDescription: String? { description }

    /// Maps the generated core error (not public: the facade's API has no generated type).
    init(_ error: VaultError) {
        switch error {
        case .NotFound(let reason): self = .notFound(reason)
        case .Busy(let reason): self = .busy(reason)
        case .InvalidArgument(let reason): self = .invalidArgument(reason)
        case .ReadOnly(let reason): self = .readOnly(reason)
        case .Closed(let reason): self = .closed(reason)
        case .Corrupt(let reason): self = .corrupt(reason)
        case .DiskFull(let reason): self = .diskFull(reason)
        case .Io(let reason): self = .io(reason)
        case .UnsupportedEncoding(let reason): self = .unsupportedEncoding(reason)
        case .Interrupted(let reason): self = .interrupted(reason)
        case .Internal(let reason): self = .internal(reason)
        }
    }

    /// Maps any error raised below the facade.
    static func wrap(_ error: Error) -> KohakuVaultError {
        if let e = error as? KohakuVaultError { return e }
        if let e = error as? VaultError { return KohakuVaultError(e) }
        return .internal(String(describing: error))
    }
}

/// Runs `body`, turning core errors into `KohakuVaultError`.
@inline(__always)
func core<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw KohakuVaultError.wrap(error)
    }
}
