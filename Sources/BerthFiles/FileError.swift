import Glibc

/// A failed file-system call: what was being done, to which path, and the errno the kernel gave,
/// so a full disk reads "No space left on device" and not some other error.
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was being done, as a verb phrase ("write", "create directory").
    public var operation: String
    public var path: String
    public var code: Int32

    public init(operation: String, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(code)))"
    }

    /// An error from the current `errno`.
    public static func last(_ operation: String, _ path: String) -> FileError {
        FileError(operation: operation, path: path, code: errno)
    }
}
