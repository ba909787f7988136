import Glibc

/// An advisory file lock shared by all `berth` processes using one store root. Writers that
/// create content not yet referenced from the database hold it shared; garbage collection holds
/// it exclusive, so it never deletes content another process is about to reference.
final class StoreLock: Sendable {
    private let fd: Int32
    private let path: String

    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.lastIO("open", path) }
        self.path = path
    }

    deinit { close(fd) }

    func withShared<T>(_ body: () throws -> T) throws -> T {
        try lock(LOCK_SH)
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Takes the lock shared until `unlock`, for a holder that spans suspension points.
    func lockShared() throws {
        try lock(LOCK_SH)
    }

    func unlock() {
        flock(fd, LOCK_UN)
    }

    func withExclusive<T>(_ body: () throws -> T) throws -> T {
        try lock(LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Runs `body` under the exclusive lock if it is free now; returns nil without running it if not.
    func withExclusiveIfFree<T>(_ body: () throws -> T) throws -> T? {
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if errno == EWOULDBLOCK { return nil }
            throw StoreError.lastIO("lock", path)
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    private func lock(_ operation: Int32) throws {
        while flock(fd, operation) != 0 {
            if errno != EINTR { throw StoreError.lastIO("lock", path) }
        }
    }
}
