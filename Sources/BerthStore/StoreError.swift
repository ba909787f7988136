import BerthOCI
import Glibc

/// Errors from the local store, phrased for the person at the terminal.
public enum StoreError: Error, CustomStringConvertible {
    case noSuchImage(String)
    case ambiguousImageID(String)
    case digestMismatch(expected: Digest, actual: Digest, what: String)
    case sizeMismatch(expected: Int64, actual: Int64, what: String)
    case missingBlob(Digest)
    case invalidArchive(String)
    case invalidImage(String)
    case conflict(String)
    /// A layer has an entry that could write outside its root (see `LayerEntryChecks`).
    case unsafeLayer(layer: String, entry: String, reason: String)
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .noSuchImage(let name): return "No such image: \(name)"
        case .ambiguousImageID(let prefix): return "image ID prefix \(prefix) is ambiguous: give more characters"
        case .digestMismatch(let expected, let actual, let what):
            return "\(what): content digest \(actual) does not match the expected \(expected)"
        case .sizeMismatch(let expected, let actual, let what):
            return "\(what): content is \(actual) bytes but \(expected) were expected"
        case .missingBlob(let digest): return "content \(digest) is missing from the store"
        case .invalidArchive(let why): return "invalid image archive: \(why)"
        case .invalidImage(let why): return "invalid image: \(why)"
        case .conflict(let why): return "conflict: \(why)"
        case .unsafeLayer(let layer, let entry, let reason):
            return "refusing \(layer): entry '\(entry)' is unsafe: \(reason)"
        case .io(let operation, let path, let code):
            return "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }

    static func lastIO(_ operation: String, _ path: String) -> StoreError {
        .io(operation: operation, path: path, errno: errno)
    }
}
