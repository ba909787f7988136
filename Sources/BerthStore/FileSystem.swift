import BerthFiles
import Glibc

/// Small file-system helpers with errors the store can report (each keeps the call's errno).
enum FileSystem {
    /// Creates `path` and any missing parents, each with exactly `mode`.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        do {
            try Directories.make(path, mode: mode, exactMode: true)
        } catch {
            throw StoreError(error)
        }
    }

    static func entries(of directory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw StoreError.lastIO("list", directory)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a tree without following symlinks, including read-only directories (layers have
    /// them, and a caller that is not root cannot empty them as they are).
    static func removeTree(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw StoreError.lastIO("remove", path)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            guard unlink(path) == 0 || errno == ENOENT else { throw StoreError.lastIO("remove", path) }
            return
        }
        if info.st_mode & 0o700 != 0o700 { chmod(path, info.st_mode & 0o7777 | 0o700) }
        for name in try entries(of: path) {
            try removeTree(path + "/" + name)
        }
        guard rmdir(path) == 0 || errno == ENOENT else { throw StoreError.lastIO("remove", path) }
    }
}

extension StoreError {
    /// The store's form of a failed file-system call, errno kept.
    init(_ error: FileError) {
        self = .io(operation: error.operation, path: error.path, errno: error.code)
    }
}
