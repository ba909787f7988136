import Glibc

/// Making directory trees with errors that keep their errno (Foundation's `createDirectory`
/// reports every failure alike).
public enum Directories {
    /// Creates `path` and any missing parents. With `exactMode`, each one created gets exactly
    /// `mode` (mkdir's mode is narrowed by the umask).
    public static func make(_ path: String, mode: mode_t = 0o755, exactMode: Bool = false) throws(FileError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw FileError(operation: "create directory", path: path, code: ENOTDIR) }
            return
        }
        guard errno == ENOENT else { throw FileError.last("create directory", path) }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try make(String(path[..<slash]), mode: mode, exactMode: exactMode)
        }
        guard mkdir(path, mode) == 0 else {
            if errno == EEXIST { return }
            throw FileError.last("create directory", path)
        }
        if exactMode, chmod(path, mode) != 0 { throw FileError.last("set the mode of", path) }
    }
}
