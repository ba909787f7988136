import BerthDistribution
import BerthOCI

/// Errors from talking to a registry or handling credentials, phrased for the person at the terminal.
public enum RegistryClientError: Error, CustomStringConvertible, Equatable {
    /// The registry answered with an error status; `summary` is its error body in one line.
    case registry(status: Int, summary: String, url: String)
    /// Credentials were refused (or none were given where some are needed).
    case unauthorized(registry: String, detail: String)
    /// The registry or token service could not be reached.
    case unreachable(url: String, reason: String)
    /// The registry's answer broke the protocol (a missing Location header, unparseable JSON).
    case protocolViolation(String)
    /// Content did not hash to the digest that names it.
    case digestMismatch(what: String, expected: Digest, actual: Digest)
    /// The reference names no manifest this machine can run.
    case noMatchingPlatform(reference: String, platform: String)
    case unsupportedMediaType(String)
    case manifestUnknown(String)
    /// A credential helper failed or is missing.
    case credentialHelper(helper: String, reason: String)
    /// The Docker-style config file could not be read or written.
    case configFile(path: String, reason: String)
    /// A local file (a blob being sent or received) could not be read or written.
    case localFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .registry(let status, let summary, let url):
            return summary.isEmpty ? "registry answered \(status) for \(url)" : "\(summary) (HTTP \(status) from \(url))"
        case .unauthorized(let registry, let detail):
            return "unauthorized to access \(registry): \(detail)"
        case .unreachable(let url, let reason):
            return "cannot reach \(url): \(reason)"
        case .protocolViolation(let why):
            return "registry protocol error: \(why)"
        case .digestMismatch(let what, let expected, let actual):
            return "\(what): content digest \(actual) does not match the expected \(expected)"
        case .noMatchingPlatform(let reference, let platform):
            return "no matching manifest for \(platform) in the manifest list entries of \(reference)"
        case .unsupportedMediaType(let type):
            return "unsupported manifest media type \(type)"
        case .manifestUnknown(let reference):
            return "manifest for \(reference) not found: manifest unknown"
        case .credentialHelper(let helper, let reason):
            return "credential helper docker-credential-\(helper): \(reason)"
        case .configFile(let path, let reason):
            return "\(path): \(reason)"
        case .localFile(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}
