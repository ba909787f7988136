import BerthDistribution
import BerthOCI
import Foundation

/// A failure answered to a client with the distribution-spec's error body.
struct RegistryFailure: Error {
    var status: Int
    var body: RegistryErrorBody
    /// Extra response headers (a `WWW-Authenticate` challenge, a `Range`).
    var headers: [(String, String)] = []

    init(_ code: ErrorCode, _ message: String? = nil, detail: JSONValue? = nil, status: Int? = nil) {
        self.status = status ?? code.httpStatus
        self.body = RegistryErrorBody(code, message: message, detail: detail)
    }

    static func digestDetail(_ digest: String) -> JSONValue { .object(["digest": .string(digest)]) }
}

/// Errors of the registry server that reach its operator: configuration, storage, startup.
public enum RegistryServerError: Error, CustomStringConvertible, Equatable {
    case invalidAddress(String)
    case unreadableFile(path: String, reason: String)
    case invalidConfiguration(path: String, reason: String)
    case invalidHtpasswd(path: String, line: Int, reason: String)
    case storage(path: String, operation: String, errno: Int32)
    case tls(String)
    /// `registry gc` found a server running on the root.
    case registryServing(root: String)

    public var description: String {
        switch self {
        case .invalidAddress(let address):
            return "invalid listen address \"\(address)\": expected HOST:PORT, e.g. 127.0.0.1:5000"
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .invalidConfiguration(let path, let reason):
            return "invalid registry configuration \(path): \(reason)"
        case .invalidHtpasswd(let path, let line, let reason):
            return "invalid htpasswd file \(path), line \(line): \(reason) (create entries with `htpasswd -B`)"
        case .storage(let path, let operation, let errno):
            return "registry storage: cannot \(operation) \(path): \(String(cString: strerror(errno)))"
        case .tls(let reason):
            return "TLS setup failed: \(reason) (check --tls-cert and --tls-key)"
        case .registryServing(let root):
            return "a registry is serving \(root): stop `berth registry serve` first, garbage collection would remove the blobs of uploads in progress (--dry-run works while it serves)"
        }
    }
}

