import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `<root>/serving.lock`: a running server holds it shared, and garbage collection takes it
/// exclusive without waiting. Collection while a server takes pushes would remove the blobs of
/// an upload whose manifest has not arrived yet, so `registry gc` refuses instead (distribution
/// leaves this to the operator).
final class ServingLock: Sendable {
    private let descriptor: Int32

    private init(root: String, operation: Int32) throws {
        let path = "\(root)/serving.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw RegistryServerError.storage(path: path, operation: "open", errno: errno) }
        while flock(descriptor, operation) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(descriptor)
            if code == EWOULDBLOCK { throw RegistryServerError.registryServing(root: root) }
            throw RegistryServerError.storage(path: path, operation: "lock", errno: code)
        }
    }

    deinit { close(descriptor) }

    /// Held by a serving registry for as long as it runs; any number of servers may share a root.
    static func serving(root: String) throws -> ServingLock {
        try ServingLock(root: root, operation: LOCK_SH)
    }

    /// Held by garbage collection; fails at once with `registryServing` while a server runs.
    static func collecting(root: String) throws -> ServingLock {
        try ServingLock(root: root, operation: LOCK_EX | LOCK_NB)
    }
}
