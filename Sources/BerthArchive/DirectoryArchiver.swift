import Glibc

/// Writes a directory tree as a deterministic tar stream.
public enum DirectoryArchiver {
    /// Writes `root` as a deterministic tar: depth first with the children of each directory in byte
    /// order (so every directory precedes its contents), uid/gid/mode/xattrs kept, user and group names
    /// left empty, mtimes truncated to whole seconds (as Docker does) and clamped to `sourceDateEpoch`
    /// when given, hard links detected by inode. The root itself is not an entry. Sockets are skipped.
    ///
    /// With `fromOverlayUpper: true` the tree is an overlayfs upper directory: whiteouts (0/0
    /// character devices) become OCI `.wh.<name>` entries, directories with
    /// `trusted.overlay.opaque=y` get a `.wh..wh..opq` entry ahead of their children, and `trusted.overlay.*` attributes are dropped.
    /// The entries named in `skipping` (archive paths, `etc/hosts`) are left out with their contents.
    /// The writer is not finished; call `writer.finish()` afterwards.
    public static func write(root: String, to writer: TarWriter, fromOverlayUpper: Bool = false, sourceDateEpoch: Int64? = nil,
                             skipping: Set<String> = []) throws {
        var walker = Walker(writer: writer, fromOverlayUpper: fromOverlayUpper, sourceDateEpoch: sourceDateEpoch)
        walker.skipped = skipping
        var rootPath = root
        while rootPath.count > 1, rootPath.hasSuffix("/") { rootPath.removeLast() }
        guard let info = FileSystem.lstatInfo(rootPath), FileSystem.isDirectory(info.st_mode) else {
            throw ArchiveError.io(operation: "archive directory", path: root, errno: errno == 0 ? ENOTDIR : errno)
        }
        try walker.writeChildren(of: rootPath, archivePath: "")
    }

    /// Writes the file, symlink or directory at `path` (a final symlink is archived, not followed)
    /// as the entry `archiveName`, a directory followed by its whole tree; with `archiveName` "."
    /// a directory's children become `./<name>`, so extracting them fills the target directory.
    /// The directories in `excluding` are written without their contents (mounts of kernel file
    /// systems). Same entry format as `write(root:)`; the writer is not finished.
    public static func write(path: String, as archiveName: String, to writer: TarWriter, excluding: Set<String> = []) throws {
        var walker = Walker(writer: writer, fromOverlayUpper: false, sourceDateEpoch: nil)
        walker.excluded = excluding
        guard let info = FileSystem.lstatInfo(path) else { throw ArchiveError.lastIO("lstat", path) }
        try walker.writeEntry(diskPath: path, info: info, archivePath: archiveName)
    }

    private struct InodeKey: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    private struct Walker {
        let writer: TarWriter
        let fromOverlayUpper: Bool
        let sourceDateEpoch: Int64?
        var firstPathOfInode: [InodeKey: String] = [:]
        /// Directories (cleaned paths) whose contents are left out.
        var excluded: Set<String> = []
        /// Archive paths left out entirely.
        var skipped: Set<String> = []

        init(writer: TarWriter, fromOverlayUpper: Bool, sourceDateEpoch: Int64?) {
            self.writer = writer
            self.fromOverlayUpper = fromOverlayUpper
            self.sourceDateEpoch = sourceDateEpoch
        }

        /// Writes the children of `directory` in byte order of the names they get in the archive
        /// (an overlay whiteout `x` is archived as `.wh.x`).
        mutating func writeChildren(of directory: String, archivePath: String) throws {
            var children: [(archiveName: [UInt8], name: String, info: stat)] = []
            for name in try FileSystem.children(directory) {
                guard let info = FileSystem.lstatInfo(directory + "/" + name) else { throw ArchiveError.lastIO("lstat", directory + "/" + name) }
                let archiveName = isOverlayWhiteout(info) ? ".wh." + name : name
                children.append((Array(archiveName.utf8), name, info))
            }
            children.sort { $0.archiveName.lexicographicallyPrecedes($1.archiveName) }
            for child in children {
                let name = String(decoding: child.archiveName, as: UTF8.self)
                let path = archivePath.isEmpty ? name : archivePath + "/" + name
                if skipped.contains(path) { continue }
                try writeEntry(diskPath: directory + "/" + child.name, info: child.info, archivePath: path)
            }
        }

        /// `path` with repeated and trailing slashes removed (the walker joins with "/").
        static func clean(_ path: String) -> String {
            "/" + path.split(separator: "/").joined(separator: "/")
        }

        func isOverlayWhiteout(_ info: stat) -> Bool {
            fromOverlayUpper && info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0
        }

        func modificationTime(_ info: stat) -> TarTime {
            var seconds = Int64(info.st_mtim.tv_sec)
            if let sourceDateEpoch, seconds > sourceDateEpoch { seconds = sourceDateEpoch }
            return TarTime(seconds: seconds)
        }

        mutating func writeEntry(diskPath: String, info: stat, archivePath: String) throws {
            var xattrs = try FileSystem.xattrs(diskPath)
            let opaque = fromOverlayUpper && xattrs["trusted.overlay.opaque"] == [UInt8(ascii: "y")]
            if fromOverlayUpper { xattrs = xattrs.filter { !$0.key.hasPrefix("trusted.overlay.") } }
            var entry = TarEntry(
                kind: .file, path: archivePath, mode: UInt32(info.st_mode) & 0o7777,
                uid: Int(info.st_uid), gid: Int(info.st_gid), modificationTime: modificationTime(info), xattrs: xattrs)

            switch info.st_mode & S_IFMT {
            case S_IFREG:
                let inode = InodeKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
                if info.st_nlink > 1 {
                    if let first = firstPathOfInode[inode] {
                        entry.kind = .hardlink
                        entry.linkName = first
                        try writer.write(entry, contents: nil)
                        return
                    }
                    firstPathOfInode[inode] = archivePath
                }
                entry.size = Int64(info.st_size)
                try writer.write(entry, contents: entry.size > 0 ? try FileSource(path: diskPath) : nil)
            case S_IFDIR:
                entry.kind = .directory
                try writer.write(entry, contents: nil)
                if opaque {
                    let marker = TarEntry(kind: .file, path: archivePath + "/.wh..wh..opq", mode: 0, uid: entry.uid, gid: entry.gid, modificationTime: entry.modificationTime)
                    try writer.write(marker, contents: nil)
                }
                if excluded.isEmpty || !excluded.contains(Self.clean(diskPath)) {
                    try writeChildren(of: diskPath, archivePath: archivePath)
                }
            case S_IFLNK:
                entry.kind = .symlink
                guard let target = FileSystem.readLink(diskPath) else { throw ArchiveError.lastIO("readlink", diskPath) }
                entry.linkName = target
                try writer.write(entry, contents: nil)
            case S_IFCHR, S_IFBLK:
                if isOverlayWhiteout(info) {
                    // The archive path already carries the `.wh.` prefix; the whiteout is an empty file.
                    entry.mode = 0
                    entry.xattrs = [:]
                    try writer.write(entry, contents: nil)
                    return
                }
                entry.kind = info.st_mode & S_IFMT == S_IFCHR ? .characterDevice : .blockDevice
                entry.deviceMajor = FileSystem.major(info.st_rdev)
                entry.deviceMinor = FileSystem.minor(info.st_rdev)
                try writer.write(entry, contents: nil)
            case S_IFIFO:
                entry.kind = .fifo
                try writer.write(entry, contents: nil)
            default:
                return  // sockets cannot be archived
            }
        }
    }
}
