import BerthOCI
import Glibc

/// Why a build failed, as one line a user can act on.
public enum BuildError: Error, CustomStringConvertible, Equatable {
    /// A RUN step's process exited non-zero.
    case processFailed(command: String, exitCode: Int32, fileName: String, line: Int)
    /// A COPY/ADD source is missing from the context (or excluded by .dockerignore).
    case sourceNotFound(String, fileName: String, line: Int)
    /// The base image is not in the local store (the front ends pull before the build).
    case baseImageNotFound(String)
    /// `--target` names no stage.
    case targetNotFound(String)
    /// An instruction or flag this builder does not support yet.
    case unsupported(String, fileName: String, line: Int)
    /// A `--chown` user or group that the image's /etc/passwd or /etc/group does not know.
    case unknownOwner(String, fileName: String, line: Int)
    /// A `--chmod` value that is not an octal mode.
    case invalidMode(String, fileName: String, line: Int)
    /// An instruction that is well-formed but cannot mean anything (BuildKit's wording).
    case invalid(String, fileName: String, line: Int)
    /// ADD could not fetch a URL.
    case download(url: String, reason: String, fileName: String, line: Int)
    /// ADD --checksum named another digest than the URL's content has.
    case checksumMismatch(url: String, expected: Digest, actual: Digest, fileName: String, line: Int)
    /// A file system operation failed.
    case io(operation: String, path: String, errno: Int32)
    /// The build was stopped from outside (its client went away).
    case cancelled

    public var description: String {
        switch self {
        case .processFailed(let command, let exitCode, _, _):
            return "process \"\(command)\" did not complete successfully: exit code: \(exitCode)"
        case .sourceNotFound(let path, let fileName, let line):
            return "\(fileName):\(line): failed to compute cache key: \"\(path)\": not found"
        case .baseImageNotFound(let name):
            return "\(name): image not found in the local store"
        case .targetNotFound(let name):
            return "target stage \"\(name)\" could not be found"
        case .unsupported(let what, let fileName, let line):
            return "\(fileName):\(line): \(what) is not supported by berth build yet"
        case .unknownOwner(let owner, let fileName, let line):
            return "\(fileName):\(line): unable to find user or group \(owner) in the image's /etc/passwd or /etc/group"
        case .invalidMode(let mode, let fileName, let line):
            return "\(fileName):\(line): invalid --chmod value \(mode): expected an octal mode such as 0755"
        case .invalid(let message, let fileName, let line):
            return "\(fileName):\(line): \(message)"
        case .download(let url, let reason, let fileName, let line):
            return "\(fileName):\(line): failed to load cache key: \(url): \(reason)"
        case .checksumMismatch(let url, let expected, let actual, let fileName, let line):
            return "\(fileName):\(line): digest mismatch \(actual): \(expected) (ADD --checksum of \(url))"
        case .io(let operation, let path, let errno):
            return "\(operation) \(path): \(String(cString: strerror(errno)))"
        case .cancelled:
            return "build cancelled"
        }
    }

    /// The Dockerfile line the error is about, when there is one.
    public var location: (fileName: String, line: Int)? {
        switch self {
        case .processFailed(_, _, let fileName, let line), .sourceNotFound(_, let fileName, let line),
             .unsupported(_, let fileName, let line), .unknownOwner(_, let fileName, let line),
             .invalidMode(_, let fileName, let line), .invalid(_, let fileName, let line),
             .download(_, _, let fileName, let line), .checksumMismatch(_, _, _, let fileName, let line):
            return (fileName, line)
        default:
            return nil
        }
    }
}
