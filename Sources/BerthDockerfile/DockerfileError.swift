/// An error in a Dockerfile, located at the line where the offending instruction starts.
///
/// Renders as `Dockerfile:12: unknown instruction: FOO`, the file name and line first so
/// editors and terminals can jump to the place.
public struct DockerfileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The name the Dockerfile was parsed under (`Dockerfile` by default).
    public var fileName: String
    /// The 1-based line of the instruction or directive that failed.
    public var line: Int
    /// One line saying what is wrong, in BuildKit's wording where BuildKit has one.
    public var message: String

    public init(fileName: String, line: Int, message: String) {
        self.fileName = fileName
        self.line = line
        self.message = message
    }

    public var description: String { "\(fileName):\(line): \(message)" }
}

/// A problem found without a location yet; the parser attaches the file and line.
struct InstructionError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
