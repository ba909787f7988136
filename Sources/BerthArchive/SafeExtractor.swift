import Glibc

/// Counts from one extraction.
public struct ExtractionSummary: Sendable, Equatable {
    /// Entries extracted, whiteouts included.
    public var entries: Int
    /// Bytes of file contents written.
    public var bytesWritten: Int64
    /// Entries left out: device nodes when not running as root.
    public var skippedEntries: Int

    public init(entries: Int = 0, bytesWritten: Int64 = 0, skippedEntries: Int = 0) {
        self.entries = entries
        self.bytesWritten = bytesWritten
        self.skippedEntries = skippedEntries
    }
}

/// Extracts a tar stream under a root directory without ever writing outside it.
///
/// Entry paths are cleaned lexically; absolute paths are taken relative to the root and a `..`
/// that climbs above the root is refused. Parent directories are resolved component by component
/// inside the root, following symlinks as if the root were `/` (absolute targets restart at the
/// root), and any resolution that climbs above the root is refused. Symlink entries themselves are
/// created verbatim. An existing path is removed before a new entry takes its place (a directory
/// over a directory is kept and gets the new metadata).
public struct SafeExtractor {
    /// What to do with OCI whiteout entries (`.wh.<name>`, `.wh..wh..opq`).
    public enum WhiteoutMode: Sendable {
        /// Convert to overlayfs form: a 0/0 character device per deleted name, and
        /// `trusted.overlay.opaque=y` on opaque directories (needs root). For snapshots.
        case overlay
        /// Delete the named path, or the lower contents of an opaque directory. For flattening layers.
        case apply
        /// Extract them as ordinary files.
        case keep
    }

    public let root: String
    public let whiteouts: WhiteoutMode
    public let preserveOwnership: Bool
    /// Refuse an entry that would replace a directory with a non-directory or the reverse, instead
    /// of removing what is there (`cp` into a tree someone else owns).
    public let refuseTypeChanges: Bool
    /// Refuse a symlink whose target, read relative to the link's directory (an absolute one
    /// too, as Docker's untar reads it), climbs above the root: what `cp` writes stays harmless
    /// to follow later.
    public let refuseEscapingSymlinks: Bool

    /// Extracts under `root` (created if missing). Ownership is kept only when `preserveOwnership`.
    public init(root: String, whiteouts: WhiteoutMode = .overlay, preserveOwnership: Bool = (getuid() == 0),
                refuseTypeChanges: Bool = false, refuseEscapingSymlinks: Bool = false) {
        self.root = root
        self.whiteouts = whiteouts
        self.preserveOwnership = preserveOwnership
        self.refuseTypeChanges = refuseTypeChanges
        self.refuseEscapingSymlinks = refuseEscapingSymlinks
    }

    /// Extracts every entry of `reader`. Directory modes and times are set after all contents.
    public func extract(_ reader: TarReader) throws -> ExtractionSummary {
        try ExtractionSession(self).run(reader)
    }
}

/// State of one extraction run.
private final class ExtractionSession {
    private let options: SafeExtractor
    private let rootPath: String
    private let isRoot = geteuid() == 0
    /// Root-relative paths known to be real directories (not symlinks), to avoid repeated lstat.
    private var knownDirectories: Set<String> = [""]
    /// Root-relative paths created by this run, and their parents (opaque whiteouts keep them).
    private var written: Set<String> = []
    private var deferredDirectories: [String: (entry: TarEntry, diskPath: String)] = [:]
    private var summary = ExtractionSummary()
    private static let maxSymlinkFollows = 40

    init(_ options: SafeExtractor) throws {
        self.options = options
        var path = options.root
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        if FileSystem.lstatInfo(path) == nil {
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw ArchiveError.lastIO("mkdir", path) }
        }
        rootPath = path
    }

    func run(_ reader: TarReader) throws -> ExtractionSummary {
        while let entry = try reader.next() {
            try extract(entry, reader)
        }
        try applyDeferredDirectories()
        return summary
    }

    private func diskPath(_ components: [String]) -> String {
        components.isEmpty ? rootPath : rootPath + "/" + components.joined(separator: "/")
    }

    private func key(_ components: [String]) -> String {
        components.joined(separator: "/")
    }

    /// Resolves a directory path inside the root, following symlinks with the root as `/`.
    /// Missing directories are created (mode 0755) when `create` is set.
    private func resolveDirectory(_ components: [String], create: Bool, entry: String) throws -> [String] {
        var resolved: [String] = []
        var pending = components[...]
        var follows = 0
        while let component = pending.first {
            pending = pending.dropFirst()
            if component.isEmpty || component == "." { continue }
            if component == ".." {
                guard !resolved.isEmpty else {
                    throw ArchiveError.unsafePath(entry, reason: "a symlink in its path leads out of the extraction root")
                }
                resolved.removeLast()
                continue
            }
            let candidate = resolved + [component]
            let candidateKey = key(candidate)
            if knownDirectories.contains(candidateKey) {
                resolved = candidate
                continue
            }
            let path = diskPath(candidate)
            guard let info = FileSystem.lstatInfo(path) else {
                guard errno == ENOENT, create else {
                    if errno == ENOENT {
                        throw ArchiveError.unsafePath(entry, reason: "'\(candidateKey)' does not exist in the extraction root")
                    }
                    throw ArchiveError.lastIO("lstat", path)
                }
                guard mkdir(path, 0o755) == 0 else { throw ArchiveError.lastIO("mkdir", path) }
                knownDirectories.insert(candidateKey)
                resolved = candidate
                continue
            }
            if FileSystem.isSymlink(info.st_mode) {
                follows += 1
                guard follows <= Self.maxSymlinkFollows, let target = FileSystem.readLink(path) else {
                    throw ArchiveError.unsafePath(entry, reason: "too many levels of symlinks at '\(candidateKey)'")
                }
                if target.hasPrefix("/") { resolved = [] }
                let targetComponents = target.split(separator: "/").map(String.init)
                pending = (targetComponents + Array(pending))[...]
                continue
            }
            guard FileSystem.isDirectory(info.st_mode) else {
                throw ArchiveError.unsafePath(entry, reason: "parent '\(candidateKey)' is not a directory")
            }
            knownDirectories.insert(candidateKey)
            resolved = candidate
        }
        return resolved
    }

    private func forgetDirectories(under components: [String]) {
        let prefix = key(components)
        knownDirectories = knownDirectories.filter { $0 != prefix && !$0.hasPrefix(prefix + "/") }
    }

    private func markWritten(_ components: [String]) {
        var prefix = components
        while !prefix.isEmpty {
            guard written.insert(key(prefix)).inserted else { return }
            prefix.removeLast()
        }
    }

    /// Removes whatever is at `components` unless both it and the new entry are directories.
    /// Returns true when an existing directory is kept.
    private func clearPath(_ components: [String], keepDirectory: Bool, entry: String) throws -> Bool {
        let path = diskPath(components)
        guard let info = FileSystem.lstatInfo(path) else { return false }
        if options.refuseTypeChanges, FileSystem.isDirectory(info.st_mode) != keepDirectory {
            let reason = keepDirectory ? "cannot overwrite non-directory '\(key(components))' with a directory"
                : "cannot overwrite directory '\(key(components))' with a non-directory"
            throw ArchiveError.unsupportedEntry(entry, reason: reason)
        }
        if FileSystem.isDirectory(info.st_mode) {
            if keepDirectory { return true }
            forgetDirectories(under: components)
            try FileSystem.removeTree(path)
        } else {
            guard unlink(path) == 0 || errno == ENOENT else { throw ArchiveError.lastIO("unlink", path) }
        }
        return false
    }

    private func extract(_ entry: TarEntry, _ reader: TarReader) throws {
        var components = try LayerEntryChecks.components(of: entry.path, entry: entry.path)
        guard let name = components.popLast() else {
            summary.entries += 1  // the root itself: its metadata belongs to whoever made the root
            return
        }
        if options.whiteouts != .keep, name.hasPrefix(LayerEntryChecks.whiteoutPrefix) {
            let parent = try resolveDirectory(components, create: true, entry: entry.path)
            try extractWhiteout(name: name, parent: parent, entry: entry)
            summary.entries += 1
            return
        }
        if entry.kind == .characterDevice || entry.kind == .blockDevice, !isRoot {
            summary.skippedEntries += 1
            return
        }
        let parent = try resolveDirectory(components, create: true, entry: entry.path)
        let target = parent + [name]
        let path = diskPath(target)

        if entry.kind == .hardlink {
            // Resolve the link target before clearing, in case it names the same path.
            let linkTarget = try resolveHardLinkTarget(entry)
            _ = try clearPath(target, keepDirectory: false, entry: entry.path)
            guard linkat(AT_FDCWD, linkTarget, AT_FDCWD, path, 0) == 0 else { throw ArchiveError.lastIO("link", path) }
            markWritten(target)
            summary.entries += 1
            return
        }

        if entry.kind == .symlink, options.refuseEscapingSymlinks {
            var resolved = parent
            for component in entry.linkName.split(separator: "/") where component != "." {
                guard component == ".." else {
                    resolved.append(String(component))
                    continue
                }
                guard resolved.popLast() != nil else {
                    throw ArchiveError.unsafePath(entry.path, reason: "symlink target '\(entry.linkName)' is outside the extraction root")
                }
            }
        }
        let kept = try clearPath(target, keepDirectory: entry.kind == .directory, entry: entry.path)
        switch entry.kind {
        case .file:
            try extractFile(entry, path: path, reader: reader)
        case .directory:
            if !kept {
                guard mkdir(path, 0o700) == 0 else { throw ArchiveError.lastIO("mkdir", path) }
            }
            knownDirectories.insert(key(target))
            try applyOwnershipAndXattrs(entry, path: path)
            deferredDirectories[key(target)] = (entry, path)
        case .symlink:
            guard symlink(entry.linkName, path) == 0 else { throw ArchiveError.lastIO("symlink", path) }
            try applyOwnershipAndXattrs(entry, path: path)
            try applyTime(entry, path: path)
        case .characterDevice, .blockDevice, .fifo:
            let type: mode_t = entry.kind == .fifo ? S_IFIFO : (entry.kind == .characterDevice ? S_IFCHR : S_IFBLK)
            let device = FileSystem.makeDevice(major: entry.deviceMajor, minor: entry.deviceMinor)
            guard mknod(path, type | 0o600, entry.kind == .fifo ? 0 : device) == 0 else {
                throw ArchiveError.lastIO("mknod", path)
            }
            try applyOwnershipAndXattrs(entry, path: path)
            guard chmod(path, mode_t(entry.mode)) == 0 else { throw ArchiveError.lastIO("chmod", path) }
            try applyTime(entry, path: path)
        case .hardlink:
            break
        }
        markWritten(target)
        summary.entries += 1
    }

    private func resolveHardLinkTarget(_ entry: TarEntry) throws -> String {
        let (components, name) = try LayerEntryChecks.hardLinkTarget(entry)
        let parent = try resolveDirectory(components, create: false, entry: entry.path)
        let path = diskPath(parent + [name])
        guard let info = FileSystem.lstatInfo(path) else {
            throw ArchiveError.unsafePath(entry.path, reason: "hard link target '\(entry.linkName)' does not exist in the extraction root")
        }
        guard !FileSystem.isDirectory(info.st_mode) else {
            throw ArchiveError.unsupportedEntry(entry.path, reason: "hard link target '\(entry.linkName)' is a directory")
        }
        return path
    }

    private func extractFile(_ entry: TarEntry, path: String, reader: TarReader) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ArchiveError.lastIO("create", path) }
        defer { close(fd) }
        do {
            try reader.readContents(into: FileSink(fileDescriptor: fd, closeOnDeinit: false))
        } catch let error as ArchiveError {
            // The sink knows only its descriptor: name the file being written instead.
            if case .io("write", _, let code) = error { throw ArchiveError.io(operation: "write", path: path, errno: code) }
            throw error
        }
        summary.bytesWritten += entry.size
        if options.preserveOwnership {
            guard fchown(fd, uid_t(truncatingIfNeeded: entry.uid), gid_t(truncatingIfNeeded: entry.gid)) == 0 else {
                throw ArchiveError.lastIO("chown", path)
            }
        }
        // After chown, which clears setuid and setgid.
        guard fchmod(fd, mode_t(entry.mode)) == 0 else { throw ArchiveError.lastIO("chmod", path) }
        for (name, value) in entry.xattrs {
            if !Xattr.set(fileDescriptor: fd, name: name, value: value) { try checkXattrError(name, path: path) }
        }
        var times = Self.timespecs(entry.modificationTime)
        guard futimens(fd, &times) == 0 else { throw ArchiveError.lastIO("set times of", path) }
    }

    private func checkXattrError(_ name: String, path: String) throws {
        // File systems without xattr support, or names only privileged users may set, are tolerated.
        if errno == EPERM || errno == ENOTSUP || errno == EACCES { return }
        throw ArchiveError.lastIO("setxattr \(name) on", path)
    }

    private func applyOwnershipAndXattrs(_ entry: TarEntry, path: String) throws {
        if options.preserveOwnership {
            guard lchown(path, uid_t(truncatingIfNeeded: entry.uid), gid_t(truncatingIfNeeded: entry.gid)) == 0 else {
                throw ArchiveError.lastIO("chown", path)
            }
        }
        for (name, value) in entry.xattrs {
            if !Xattr.set(path: path, name: name, value: value) { try checkXattrError(name, path: path) }
        }
    }

    private static func timespecs(_ time: TarTime) -> [timespec] {
        let spec = timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))
        return [spec, spec]
    }

    private func applyTime(_ entry: TarEntry, path: String) throws {
        var times = Self.timespecs(entry.modificationTime)
        guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw ArchiveError.lastIO("set times of", path)
        }
    }

    private func applyDeferredDirectories() throws {
        for (_, deferred) in deferredDirectories {
            // A later entry may have replaced or removed the directory.
            guard let info = FileSystem.lstatInfo(deferred.diskPath), FileSystem.isDirectory(info.st_mode) else { continue }
            guard chmod(deferred.diskPath, mode_t(deferred.entry.mode)) == 0 else {
                throw ArchiveError.lastIO("chmod", deferred.diskPath)
            }
            try applyTime(deferred.entry, path: deferred.diskPath)
        }
    }

    private func extractWhiteout(name: String, parent: [String], entry: TarEntry) throws {
        guard let deleted = try LayerEntryChecks.whiteoutTarget(name, entry: entry.path) else {
            switch options.whiteouts {
            case .overlay:
                let path = diskPath(parent)
                guard Xattr.set(path: path, name: "trusted.overlay.opaque", value: [UInt8(ascii: "y")]) else {
                    throw ArchiveError.lastIO("set trusted.overlay.opaque on", path)
                }
            case .apply:
                try removeLowerContents(parent)
            case .keep:
                break
            }
            markWritten(parent)
            return
        }
        let target = parent + [deleted]
        switch options.whiteouts {
        case .overlay:
            guard isRoot else {
                throw ArchiveError.unsupportedEntry(entry.path, reason: "overlay whiteouts are 0/0 character devices, which need root")
            }
            _ = try clearPath(target, keepDirectory: false, entry: entry.path)
            guard mknod(diskPath(target), S_IFCHR | 0o000, FileSystem.makeDevice(major: 0, minor: 0)) == 0 else {
                throw ArchiveError.lastIO("mknod whiteout", diskPath(target))
            }
            markWritten(target)
        case .apply:
            _ = try clearPath(target, keepDirectory: false, entry: entry.path)
        case .keep:
            break
        }
    }

    /// Deletes the children of a directory that this run did not write (they came from lower layers).
    private func removeLowerContents(_ directory: [String]) throws {
        let path = diskPath(directory)
        for child in try FileSystem.children(path) {
            let childComponents = directory + [child]
            if written.contains(key(childComponents)) {
                if let info = FileSystem.lstatInfo(diskPath(childComponents)), FileSystem.isDirectory(info.st_mode) {
                    try removeLowerContents(childComponents)
                }
                continue
            }
            forgetDirectories(under: childComponents)
            try FileSystem.removeTree(diskPath(childComponents))
        }
    }
}
