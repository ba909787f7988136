import Glibc

/// Small wrappers over Linux file system calls shared by the extractor and the archiver.
public enum FileSystem {
    static func lstatInfo(_ path: String) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    static func isDirectory(_ mode: mode_t) -> Bool { mode & S_IFMT == S_IFDIR }
    static func isSymlink(_ mode: mode_t) -> Bool { mode & S_IFMT == S_IFLNK }

    static func makeDevice(major: UInt32, minor: UInt32) -> dev_t {
        let major = UInt64(major)
        let minor = UInt64(minor)
        return dev_t(((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff))
    }

    /// The major number of a device, in glibc's encoding of dev_t.
    public static func major(_ device: dev_t) -> UInt32 {
        let device = UInt64(device)
        return UInt32(truncatingIfNeeded: ((device >> 32) & 0xffff_f000) | ((device >> 8) & 0xfff))
    }

    /// The minor number of a device, in glibc's encoding of dev_t.
    public static func minor(_ device: dev_t) -> UInt32 {
        let device = UInt64(device)
        return UInt32(truncatingIfNeeded: ((device >> 12) & 0xffff_ff00) | (device & 0xff))
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Directory entry names except `.` and `..`, in byte order.
    static func children(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw ArchiveError.lastIO("opendir", path) }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
                let bytes = raw.bindMemory(to: UInt8.self)
                return Array(bytes.prefix { $0 != 0 })
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Removes `path` and, for a directory, everything below it; symlinks are never followed.
    static func removeTree(_ path: String) throws {
        guard let info = lstatInfo(path) else {
            if errno == ENOENT { return }
            throw ArchiveError.lastIO("lstat", path)
        }
        if isDirectory(info.st_mode) {
            for child in try children(path) { try removeTree(path + "/" + child) }
            guard rmdir(path) == 0 else { throw ArchiveError.lastIO("rmdir", path) }
        } else {
            guard unlink(path) == 0 || errno == ENOENT else { throw ArchiveError.lastIO("unlink", path) }
        }
    }

    /// Extended attributes of `path` (not following symlinks), by name.
    static func xattrs(_ path: String) throws -> [String: [UInt8]] {
        guard let names = Xattr.list(path: path) else {
            if errno == ENOTSUP { return [:] }
            throw ArchiveError.lastIO("list xattrs of", path)
        }
        var result: [String: [UInt8]] = [:]
        for name in names {
            guard let value = Xattr.get(path: path, name: name) else {
                if errno == ENODATA { continue }
                throw ArchiveError.lastIO("read xattr \(name) of", path)
            }
            result[name] = value
        }
        return result
    }
}
