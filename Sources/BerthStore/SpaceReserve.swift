import GRDB
import Glibc

/// A file of reserved space in the state root (`space-reserve`), given up when a change that
/// frees space (`rmi`, `image prune`) cannot commit because the disk is full, so Berth can always
/// free space itself. A SQLite commit appends to the write-ahead log, which needs space even to
/// delete rows; on a full disk the commit fails with SQLITE_FULL ("database or disk is full").
/// The reserve is made again by the first command that finds it missing and the space there.
struct SpaceReserve {
    let path: String
    static let size: off_t = 1 << 20

    init(root: String) {
        path = root + "/space-reserve"
    }

    /// Makes the reserve if it is missing, when there is room for it; otherwise leaves it for later.
    func replenish() {
        guard access(path, F_OK) != 0 else { return }
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let made = posix_fallocate(fd, 0, Self.size) == 0
        close(fd)
        if !made || rename(temporary, path) != 0 { unlink(temporary) }
    }

    /// Runs `change`, a metadata write that frees space; if it fails because the disk is full and
    /// the reserve is there, gives up the reserve and runs it once more.
    func freeingSpace<T>(_ change: () throws -> T) throws -> T {
        do {
            return try change()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            guard unlink(path) == 0 else { throw error }
            return try change()
        }
    }
}
