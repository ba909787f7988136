import BerthArchive
import BerthDockerfile
import BerthOCI
import BerthRuntime
import Foundation
import Glibc

/// What a COPY or ADD puts into its layer: each selected source entry with the absolute path it
/// gets in the image, resolved from the sources, the destination and the working directory with
/// Docker's rules (a directory copies its contents; several sources or a trailing slash make the
/// destination a directory).
struct CopyPlan {
    /// The raw values are part of the content hash (a plain string, where interpolating the case
    /// itself would cost runtime reflection).
    enum Kind: String, Equatable {
        case directory, file, symlink
        /// A local tar archive that ADD extracts into the target directory.
        case archive
    }

    struct Item: Equatable {
        var source: String
        /// Absolute path in the image.
        var target: String
        var kind: Kind
        /// The directory a source directory's contents go into: when the image already has it,
        /// it keeps its own mode, owner and times (BuildKit's copy leaves an existing destination
        /// as it is; directories inside take the source's).
        var isDestination = false
    }

    var items: [Item] = []
    /// How many entries the sources named (each match of a wildcard counts): more than one needs
    /// a directory destination written with a trailing slash.
    var sourceCount = 0

    /// Selects `sources` (relative to `root`) for `destination`. `ignore` applies to the build
    /// context only; `extractArchives` is ADD's behaviour for local tar files; `resolveTarget`
    /// follows the image's symbolic links on the destination's way.
    static func make(sources: [String], destination: String, workingDirectory: String?, root: String,
                     ignore: DockerIgnore?, extractArchives: Bool, fileName: String, line: Int,
                     isExistingDirectory: (String) throws -> Bool = { _ in false },
                     resolveTarget: (String) throws -> String = { $0 }) throws -> CopyPlan {
        // Several sources (which need a trailing slash: see `sourceCount`) go into a directory too.
        let destinationIsDirectory = destination.hasSuffix("/") || destination.hasSuffix("/.") || sources.count > 1
            || destination == "."
        let target = try resolveTarget(ConfigChanges.resolveWorkdir(destination, current: workingDirectory))
        var plan = CopyPlan()
        for source in sources {
            let relative = clean(source)
            var matches: [String]
            if isPattern(source) {
                matches = try allEntries(root: root, ignore: ignore).filter { fnmatch(relative, $0, FNM_PATHNAME) == 0 }
                if matches.isEmpty {
                    throw BuildError.sourceNotFound(source, fileName: fileName, line: line)
                }
            } else {
                let resolved = resolve(relative, in: root)
                guard relative == "" || !(ignore?.isExcluded(relative, isDirectory: isDirectory(resolved.path)) ?? false) else {
                    throw BuildError.sourceNotFound(source, fileName: fileName, line: line)
                }
                matches = [relative]
            }
            plan.sourceCount += matches.count
            for match in matches {
                // A symbolic link named as a source is followed, inside `root` as if it were the
                // file system's root, so no link reaches out of the context or stage.
                let resolved = resolve(match, in: root)
                guard exists(resolved.path),
                      resolved.relative.isEmpty || resolved.relative == match
                        || !(ignore?.isExcluded(resolved.relative, isDirectory: isDirectory(resolved.path)) ?? false) else {
                    throw BuildError.sourceNotFound(source, fileName: fileName, line: line)
                }
                let path = resolved.path
                if isDirectory(path) {
                    plan.items.append(Item(source: path, target: target, kind: .directory, isDestination: true))
                    try plan.addContents(of: path, relative: resolved.relative, target: target, root: root, ignore: ignore)
                } else {
                    // Named as written: a link's name, not its target's.
                    let name = (match as NSString).lastPathComponent
                    // A file copied onto an existing directory goes into it, as Docker does.
                    let intoDirectory = try destinationIsDirectory || isExistingDirectory(target)
                    let fileTarget = intoDirectory ? join(target, name) : target
                    if extractArchives, isTarArchive(path) {
                        plan.items.append(Item(source: path, target: target, kind: .archive))
                    } else {
                        plan.items.append(Item(source: path, target: fileTarget, kind: isSymlink(path) ? .symlink : .file))
                    }
                }
            }
        }
        return plan
    }

    private mutating func addContents(of directory: String, relative: String, target: String, root: String,
                                      ignore: DockerIgnore?) throws {
        for name in try Self.children(of: directory) {
            let path = directory + "/" + name
            let childRelative = relative.isEmpty ? name : relative + "/" + name
            let directoryChild = Self.isDirectory(path)
            if let ignore, ignore.isExcluded(childRelative, isDirectory: directoryChild) {
                if directoryChild, !ignore.canSkipDirectory(childRelative) {
                    try addContents(of: path, relative: childRelative, target: Self.join(target, name), root: root,
                                    ignore: ignore)
                }
                continue
            }
            if directoryChild {
                items.append(Item(source: path, target: Self.join(target, name), kind: .directory))
                try addContents(of: path, relative: childRelative, target: Self.join(target, name), root: root,
                                ignore: ignore)
            } else if Self.isSpecial(path) {
                // Sockets, FIFOs and devices are not copied (opening a FIFO would block).
                continue
            } else {
                items.append(Item(source: path, target: Self.join(target, name), kind: Self.isSymlink(path) ? .symlink : .file))
            }
        }
    }

    /// A content hash of the selection: target paths, kinds, permission bits, link targets and file
    /// contents; with `ownership`, owners too (COPY --from keeps them). Not modification times.
    func contentHash(ownership: Bool) throws -> Digest {
        var digester = SHA256Digester()
        // Small enough that zeroing it and faulting its pages in costs little: a COPY of a few
        // small files is most builds.
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for item in items {
            var info = stat()
            guard lstat(item.source, &info) == 0 else { throw BuildError.io(operation: "stat", path: item.source, errno: errno) }
            var header = "\(item.target)\0\(item.kind.rawValue)\0\(info.st_mode & 0o7777)\0"
            if ownership { header += "\(info.st_uid):\(info.st_gid)\0" }
            if item.kind == .symlink { header += (try Self.linkTarget(item.source)) + "\0" }
            digester.update(Array(header.utf8))
            if item.kind == .file || item.kind == .archive {
                let fd = open(item.source, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw BuildError.io(operation: "open", path: item.source, errno: errno) }
                defer { close(fd) }
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count < 0 {
                        if errno == EINTR { continue }
                        throw BuildError.io(operation: "read", path: item.source, errno: errno)
                    }
                    if count == 0 { break }
                    buffer.withUnsafeBytes { digester.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                }
                digester.update(Array("\0".utf8))
            }
        }
        return digester.finalize()
    }

    // MARK: Paths

    static func isPattern(_ path: String) -> Bool { path.contains(where: { "*?[".contains($0) }) }

    /// `./a//b/` → `a/b`; `.` and `/` → empty (the root itself).
    static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return parts.joined(separator: "/")
    }

    /// `relative` under `root` with every symbolic link on the way followed inside `root`: the
    /// full path and the path relative to `root`.
    static func resolve(_ relative: String, in root: String) -> (path: String, relative: String) {
        let resolved = clean(String(SecurePath.join(root, relative).dropFirst(root.count)))
        return (resolved.isEmpty ? root : root + "/" + resolved, resolved)
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory == "/" ? "/" + name : directory + "/" + name
    }

    /// Every entry under `root` (relative paths) that `.dockerignore` leaves in the context.
    static func allEntries(root: String, ignore: DockerIgnore?) throws -> [String] {
        var result: [String] = []
        func walk(_ directory: String, _ relative: String) throws {
            for name in try children(of: directory) {
                let path = directory + "/" + name
                let childRelative = relative.isEmpty ? name : relative + "/" + name
                let directoryChild = isDirectory(path)
                if let ignore, ignore.isExcluded(childRelative, isDirectory: directoryChild) {
                    if directoryChild, !ignore.canSkipDirectory(childRelative) { try walk(path, childRelative) }
                    continue
                }
                result.append(childRelative)
                if directoryChild { try walk(path, childRelative) }
            }
        }
        try walk(root, "")
        return result
    }

    /// The topmost entries under `root` (relative paths, parents first) that `.dockerignore` takes
    /// out of the context: hiding exactly these leaves what `allEntries` lists. An excluded
    /// directory that an exception re-includes something under stays, with its other entries
    /// listed; one where nothing is re-included is listed itself, as COPY leaves it out too.
    static func excludedEntries(root: String, ignore: DockerIgnore) throws -> [String] {
        var result: [String] = []
        /// Whether anything under `directory` stays in the context.
        func walk(_ directory: String, _ relative: String) throws -> Bool {
            var keptAny = false
            for name in try children(of: directory) {
                let path = directory + "/" + name
                let childRelative = relative.isEmpty ? name : relative + "/" + name
                let directoryChild = isDirectory(path)
                guard ignore.isExcluded(childRelative, isDirectory: directoryChild) else {
                    keptAny = true
                    if directoryChild { _ = try walk(path, childRelative) }
                    continue
                }
                if directoryChild, !ignore.canSkipDirectory(childRelative) {
                    let mark = result.count
                    result.append(childRelative)
                    if try walk(path, childRelative) {
                        result.remove(at: mark)
                        keptAny = true
                    } else {
                        result.removeSubrange((mark + 1)...)
                    }
                } else {
                    result.append(childRelative)
                }
            }
            return keptAny
        }
        _ = try walk(root, "")
        return result
    }

    static func children(of directory: String) throws -> [String] {
        guard let stream = opendir(directory) else { throw BuildError.io(operation: "open directory", path: directory, errno: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func isSpecial(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        let type = info.st_mode & S_IFMT
        return type != S_IFREG && type != S_IFDIR && type != S_IFLNK
    }

    static func isSymlink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    static func linkTarget(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { throw BuildError.io(operation: "readlink", path: path, errno: errno) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `path` is a regular file holding a tar archive (plain, gzip or zstd).
    static func isTarArchive(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
              let file = try? FileSource(path: path), let source = try? DecompressingSource(file) else { return false }
        var header = [UInt8](repeating: 0, count: 512)
        var filled = 0
        while filled < 512 {
            let count = (try? header.withUnsafeMutableBytes {
                try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
            }) ?? 0
            if count <= 0 { break }
            filled += count
        }
        guard filled == 512 else { return false }
        return Array(header[257..<262]) == Array("ustar".utf8)
    }
}
