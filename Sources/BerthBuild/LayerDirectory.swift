import BerthArchive
import Foundation
import Glibc

/// Writing files into a directory that becomes a layer (COPY, ADD, WORKDIR).
enum LayerDirectory {
    /// Ownership and permissions the copied entries get.
    struct Attributes {
        /// `--chown` (uid, gid), or nil to keep the source's owner (COPY --from) / root (context).
        var owner: (uid: UInt32, gid: UInt32)?
        /// `--chmod`.
        var mode: mode_t?
        /// Whether entries keep their source owner when no `--chown` is given.
        var keepOwner: Bool
    }

    /// Makes the directories a step writes into under a layer's root. Those the image below
    /// already has get its mode, owner and times, so the layer changes none of them (an image's
    /// `/tmp` stays 1777); those it lacks are made 0755 with the step's owner (`--chown`, or the
    /// USER for WORKDIR), as BuildKit makes missing parents.
    struct Directories {
        let root: String
        let owner: (uid: UInt32, gid: UInt32)
        /// The directory at an absolute image path in the image below the step, or nil when it
        /// has none there.
        let lower: (String) -> stat?
        /// Directories taken from the image below, whose times are given back last.
        private var kept: [(path: String, info: stat)] = []

        init(root: String, owner: (uid: UInt32, gid: UInt32), lower: @escaping (String) -> stat?) {
            self.root = root
            self.owner = owner
            self.lower = lower
        }

        /// Makes the missing parents of `path` (absolute in the image).
        mutating func makeParents(of path: String) throws {
            var current = ""
            for component in path.split(separator: "/").dropLast() {
                current += "/" + component
                try make(current)
            }
        }

        /// Makes `path` (absolute in the image) and its missing parents.
        mutating func makeDirectory(_ path: String) throws {
            try makeParents(of: path)
            if path.split(separator: "/").isEmpty { return }
            try make("/" + path.split(separator: "/").joined(separator: "/"))
        }

        /// Whether `path` is a directory the image below has, which this step leaves as it is.
        func isKept(_ path: String) -> Bool { kept.contains { $0.path == path } }

        private mutating func make(_ path: String) throws {
            let full = root + path
            if CopyPlan.exists(full) { return }
            let existing = lower(path)
            if mkdir(full, 0o700) != 0 {
                throw BuildError.io(operation: "create directory", path: full, errno: errno)
            }
            if let existing {
                _ = lchown(full, existing.st_uid, existing.st_gid)
                chmod(full, existing.st_mode & 0o7777)
                kept.append((path, existing))
            } else {
                _ = lchown(full, owner.uid, owner.gid)
                chmod(full, 0o755)
            }
        }

        /// Gives the directories taken from the image below their times back: writing into them
        /// changed them. Call after the step's last write.
        func restoreTimes() {
            for (path, info) in kept.reversed() {
                var times = [info.st_atim, info.st_mtim]
                _ = utimensat(AT_FDCWD, root + path, &times, AT_SYMLINK_NOFOLLOW)
            }
        }
    }

    /// Copies the plan's entries into the layer's root, keeping modification times.
    static func copy(_ plan: CopyPlan, attributes: Attributes, directories: inout Directories) throws {
        let root = directories.root
        for item in plan.items {
            let destination = root + item.target
            try directories.makeParents(of: item.target)
            var info = stat()
            guard lstat(item.source, &info) == 0 else { throw BuildError.io(operation: "stat", path: item.source, errno: errno) }
            let uid = attributes.owner?.uid ?? (attributes.keepOwner ? info.st_uid : 0)
            let gid = attributes.owner?.gid ?? (attributes.keepOwner ? info.st_gid : 0)
            let mode = attributes.mode ?? (info.st_mode & 0o7777)
            switch item.kind {
            case .directory:
                if item.isDestination, directories.lower(item.target) != nil {
                    // An existing destination keeps its own mode, owner and times.
                    try directories.makeDirectory(item.target)
                    continue
                }
                if !CopyPlan.isDirectory(destination) {
                    unlink(destination)
                    if mkdir(destination, 0o700) != 0 {
                        throw BuildError.io(operation: "create directory", path: destination, errno: errno)
                    }
                }
                _ = lchown(destination, uid, gid)
                chmod(destination, mode)
            case .file:
                try removeNonDirectory(destination)
                try copyFile(item.source, to: destination)
                _ = lchown(destination, uid, gid)
                chmod(destination, mode)
            case .symlink:
                try removeNonDirectory(destination)
                if symlink(try CopyPlan.linkTarget(item.source), destination) != 0 {
                    throw BuildError.io(operation: "create symlink", path: destination, errno: errno)
                }
                _ = lchown(destination, uid, gid)
            case .archive:
                try directories.makeDirectory(item.target)
                let reader = TarReader(try DecompressingSource(FileSource(path: item.source)))
                _ = try SafeExtractor(root: destination, whiteouts: .keep).extract(reader)
                continue
            }
            var times = [info.st_atim, info.st_mtim]
            _ = utimensat(AT_FDCWD, destination, &times, AT_SYMLINK_NOFOLLOW)
        }
        // Directory times last: writing their children changed them.
        for item in plan.items.reversed() where item.kind == .directory && !directories.isKept(item.target) {
            var info = stat()
            guard lstat(item.source, &info) == 0 else { continue }
            var times = [info.st_atim, info.st_mtim]
            _ = utimensat(AT_FDCWD, root + item.target, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    /// What the layer archived from `root` holds, as the store sizes layers: the bytes of its
    /// regular files (each inode once, as the archive stores hard links) and its link targets.
    /// Counted from the directory, so a large layer is not read back.
    static func fileBytes(under root: String) throws -> Int64 {
        var total: Int64 = 0
        var seen = Set<[UInt64]>()
        func walk(_ directory: String) throws {
            for name in try CopyPlan.children(of: directory) {
                let path = directory + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0 else { throw BuildError.io(operation: "stat", path: path, errno: errno) }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    try walk(path)
                case S_IFREG:
                    if info.st_nlink < 2 || seen.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted {
                        total += Int64(info.st_size)
                    }
                case S_IFLNK:
                    total += Int64(info.st_size)
                default:
                    break
                }
            }
        }
        try walk(root)
        return total
    }

    private static func removeNonDirectory(_ path: String) throws {
        if unlink(path) != 0, errno != ENOENT {
            throw BuildError.io(operation: "replace", path: path, errno: errno)
        }
    }

    /// Copies a regular file's bytes: in the kernel (sendfile) where the two file systems allow
    /// it, else through a 64 KiB buffer.
    static func copyFile(_ source: String, to destination: String) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw BuildError.io(operation: "open", path: source, errno: errno) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw BuildError.io(operation: "create", path: destination, errno: errno) }
        defer { close(output) }
        while true {
            let count = sendfile(output, input, nil, 1 << 30)
            if count > 0 { continue }
            if count == 0 { return }
            switch errno {
            case EINTR: continue
            // Not between these two file systems: the loop below goes on from the offsets this one
            // reached.
            case EINVAL, ENOSYS: break
            default: throw BuildError.io(operation: "copy", path: source, errno: errno)
            }
            break
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw BuildError.io(operation: "read", path: source, errno: errno)
            }
            if count == 0 { return }
            var written = 0
            while written < count {
                let result = buffer.withUnsafeBytes { bytes in
                    bytes.baseAddress.map { write(output, $0 + written, count - written) } ?? -1
                }
                if result < 0 {
                    if errno == EINTR { continue }
                    throw BuildError.io(operation: "write", path: destination, errno: errno)
                }
                written += result
            }
        }
    }
}
