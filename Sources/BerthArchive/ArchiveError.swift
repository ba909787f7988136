import Glibc

/// Errors raised while reading, writing, compressing or extracting archives.
public enum ArchiveError: Error, CustomStringConvertible, Equatable {
    /// An entry would be written outside the extraction root, or through a symlink leading out of it.
    case unsafePath(String, reason: String)
    /// The archive ended in the middle of a header or an entry's data.
    case truncatedArchive(entry: String?)
    /// A header block's checksum does not match its contents.
    case badHeaderChecksum(offset: Int64)
    /// A header field could not be parsed.
    case malformedHeader(String, entry: String?)
    /// The entry type cannot be read, written or extracted.
    case unsupportedEntry(String, reason: String)
    /// The writer was given contents whose length differs from the entry's size.
    case sizeMismatch(String, expected: Int64, actual: Int64)
    /// Compressed input is corrupt or the compressor failed.
    case decompression(String)
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .unsafePath(let path, let reason):
            return "refusing unsafe archive path '\(path)': \(reason)"
        case .truncatedArchive(let entry):
            if let entry { return "archive is truncated inside entry '\(entry)'" }
            return "archive is truncated"
        case .badHeaderChecksum(let offset):
            return "tar header at byte \(offset) has a bad checksum (not a tar archive, or corrupt)"
        case .malformedHeader(let detail, let entry):
            if let entry { return "malformed tar header for '\(entry)': \(detail)" }
            return "malformed tar header: \(detail)"
        case .unsupportedEntry(let path, let reason):
            return "unsupported archive entry '\(path)': \(reason)"
        case .sizeMismatch(let path, let expected, let actual):
            return "contents of '\(path)' are \(actual) bytes but the entry declares \(expected)"
        case .decompression(let detail):
            return "decompression failed: \(detail)"
        case .io(let operation, let path, let code):
            return "\(operation) '\(path)' failed: \(String(cString: strerror(code)))"
        }
    }

    /// Builds an `.io` error from the current `errno`.
    static func lastIO(_ operation: String, _ path: String) -> ArchiveError {
        .io(operation: operation, path: path, errno: errno)
    }
}
