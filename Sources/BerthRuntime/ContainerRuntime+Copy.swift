import BerthArchive
import BerthOCI
import BerthProcess
import Foundation
import Glibc

/// What a path in a container is, as the Engine API's archive endpoints report it.
public struct ContainerPathStat: Sendable, Equatable {
    /// The path's last element (`/` for the root).
    public var name: String
    public var size: Int64
    /// st_mode: the type and permission bits.
    public var mode: UInt32
    public var modified: Date
    /// For a symlink, the path it resolves to in the container; empty otherwise.
    public var linkTarget: String

    public init(name: String, size: Int64, mode: UInt32, modified: Date, linkTarget: String) {
        self.name = name
        self.size = size
        self.mode = mode
        self.modified = modified
        self.linkTarget = linkTarget
    }
}

/// One side of `cp` on the host: a path, or a tar stream on a descriptor (`-`).
public enum CopyEndpoint: Sendable {
    case path(String)
    case stream(Int32)
}

extension ContainerRuntime {
    /// What a path in the container is.
    struct ContainerPathInfo {
        var isDirectory: Bool
        var isSymlink: Bool
        /// The path as stat'ed; with `follow`, every symlink resolved (within the container).
        var path: String
        var size: Int64 = 0
        /// st_mode: the type and permission bits.
        var mode: UInt32 = 0
        var modified = Date(timeIntervalSince1970: 0)
    }

    // MARK: For the Engine API's archive endpoints

    /// Stats `path` in the container as dockerd's `ContainerStatPath` does: the entry itself (a
    /// symlink is not followed) and, for a symlink, the path it resolves to in the container.
    /// Nil if the path does not exist.
    public func statPath(_ reference: String, path: String) throws -> ContainerPathStat? {
        let record = try container(reference)
        return try withContainerRoot(record) { pid in
            let cleaned = CopyPath.inContainer(path)
            guard let info = try statInContainer(record, pid: pid, path: cleaned, follow: false) else { return nil }
            var linkTarget = ""
            if info.isSymlink, let target = try statInContainer(record, pid: pid, path: cleaned, follow: true) {
                linkTarget = target.path
            }
            return ContainerPathStat(name: CopyPath.base(cleaned), size: info.size, mode: info.mode,
                                     modified: info.modified, linkTarget: linkTarget)
        }
    }

    /// Extracts the tar stream read from `descriptor` into the directory `path` in the container;
    /// `refuseTypeChanges` is dockerd's `noOverwriteDirNonDir`, `preserveOwnership` its `copyUIDGID`.
    public func extractArchive(_ reference: String, into path: String, from descriptor: Int32,
                               refuseTypeChanges: Bool, preserveOwnership: Bool) throws {
        let record = try container(reference)
        try withContainerRoot(record) { pid in
            let target = CopyPath.inContainer(path)
            guard let info = try statInContainer(record, pid: pid, path: target, follow: true) else {
                throw CopyError(message: "Could not find the file \(path) in container \(reference)", fromDaemon: true)
            }
            if record.hostConfig.readonlyRootfs,
               !record.mounts.contains(where: { $0.readWrite && Self.isWithin(info.path, $0.destination) }) {
                throw CopyError(message: "container rootfs is marked read-only", fromDaemon: true)
            }
            try runHelper(record, pid: pid, .extract, path: info.path, stdin: descriptor, preserveOwnership: preserveOwnership,
                          refuseTypeChanges: refuseTypeChanges)
                .finish(notFound: "Could not find the file \(path) in container \(reference)")
        }
    }

    // MARK: Out of the container

    /// `cp CONTAINER:SRC DEST`: copies `source` (a path in the container) to the host path or
    /// as a tar stream, by Docker's rules. Returns the bytes of the tar stream moved.
    @discardableResult
    public func copyFromContainer(_ reference: String, source: String, to destination: CopyEndpoint,
                                  followLink: Bool = false) throws -> Int64 {
        let record = try container(reference)
        return try withContainerRoot(record) { pid in
            var path = CopyPath.inContainer(source)
            var name = CopyPath.archiveName(path)
            guard var info = try statInContainer(record, pid: pid, path: path, follow: false) else {
                throw CopyError(message: "Could not find the file \(source) in container \(reference)", fromDaemon: true)
            }
            if followLink, info.isSymlink {
                guard let target = try statInContainer(record, pid: pid, path: path, follow: true) else {
                    throw CopyError(message: "Could not find the file \(source) in container \(reference)", fromDaemon: true)
                }
                info = target
                path = target.path
            }
            switch destination {
            case .stream(let descriptor):
                try runHelper(record, pid: pid, .archive, path: path, name: name, stdout: descriptor).finish()
                return 0
            case .path(let hostPath):
                let target = try Self.hostDestination(hostPath)
                let extraction = try CopyPath.extraction(
                    sourceName: name, sourceIsDirectory: info.isDirectory, destination: target.path,
                    destinationExists: target.exists, destinationIsDirectory: target.isDirectory)
                name = extraction.name
                let pipe = try Pipe.make()
                let helper: HelperProcess
                do {
                    helper = try runHelper(record, pid: pid, .archive, path: path, name: name, stdout: pipe.write)
                } catch {
                    pipe.closeBoth()
                    throw error
                }
                close(pipe.write)
                let source = CountingSource(FileSource(fileDescriptor: pipe.read, closeOnDeinit: false))
                do {
                    _ = try SafeExtractor(root: extraction.directory, whiteouts: .keep, preserveOwnership: false,
                                          refuseTypeChanges: true, refuseEscapingSymlinks: true).extract(TarReader(source))
                } catch {
                    // The helper's own failure explains a cut stream better than the reader does.
                    close(pipe.read)
                    try helper.finish()
                    throw error
                }
                close(pipe.read)
                try helper.finish()
                return source.count
            }
        }
    }

    /// A host destination as Docker's CLI sees it: made absolute, its parent directory required,
    /// symlinks at its end followed.
    static func hostDestination(_ path: String) throws -> (path: String, exists: Bool, isDirectory: Bool) {
        let workingDirectory = FileManager.default.currentDirectoryPath
        var current = CopyPath.onHost(path, workingDirectory: workingDirectory)
        let parent = CopyPath.directory(CopyPath.clean(current))
        var info = stat()
        if stat(parent, &info) != 0 {
            throw CopyError(message: "invalid output path: directory \"\(parent)\" does not exist", fromDaemon: false)
        }
        for _ in 0...10 {
            guard lstat(current, &info) == 0 else {
                guard errno == ENOENT else { throw hostError("lstat", current) }
                let (directory, _) = CopyPath.splitEntry(current)
                guard stat(directory, &info) == 0 else { throw hostError("stat", directory) }
                guard info.st_mode & S_IFMT == S_IFDIR else { throw CopyError(message: "not a directory", fromDaemon: false) }
                return (current, false, false)
            }
            guard info.st_mode & S_IFMT == S_IFLNK else { return (current, true, info.st_mode & S_IFMT == S_IFDIR) }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &buffer, Int(PATH_MAX))
            guard length >= 0 else { throw hostError("readlink", current) }
            let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = target.hasPrefix("/") ? target : CopyPath.clean(CopyPath.splitEntry(current).directory + "/" + target)
        }
        throw CopyError(message: "too many symlinks in \(path)", fromDaemon: false)
    }

    // MARK: Into the container

    /// `cp SRC CONTAINER:DEST`: copies the host path (or a tar stream, extracted into the
    /// directory `destination`) into the container by Docker's rules. Copied files are owned by
    /// root unless `preserveOwnership` (`-a`) keeps the source's uid and gid. Returns the bytes of
    /// the tar stream moved.
    @discardableResult
    public func copyToContainer(_ reference: String, from source: CopyEndpoint, destination: String,
                                followLink: Bool = false, preserveOwnership: Bool = false) throws -> Int64 {
        let record = try container(reference)
        // The host side is checked first, so a bad source never touches the container.
        var hostSource: (path: String, name: String, isDirectory: Bool)?
        if case .path(let path) = source { hostSource = try Self.hostSource(path, followLink: followLink) }
        return try withContainerRoot(record) { pid in
            let path = CopyPath.inContainer(destination)
            // A destination that cannot be stat'ed counts as missing, as in Docker; extraction then
            // needs its parent.
            let info = try? statInContainer(record, pid: pid, path: path, follow: true)
            let extraction: (directory: String, name: String)
            if let hostSource {
                extraction = try CopyPath.extraction(
                    sourceName: hostSource.name, sourceIsDirectory: hostSource.isDirectory,
                    destination: info?.path ?? path, destinationExists: info != nil,
                    destinationIsDirectory: info?.isDirectory ?? false)
            } else {
                guard let info, info.isDirectory else {
                    throw CopyError(message: "destination \"\(reference):\(destination)\" must be a directory", fromDaemon: false)
                }
                extraction = (info.path, "")
            }
            if record.hostConfig.readonlyRootfs,
               !record.mounts.contains(where: { $0.readWrite && Self.isWithin(extraction.directory, $0.destination) }) {
                throw CopyError(message: "container rootfs is marked read-only", fromDaemon: true)
            }
            let notFound = "Could not find the file \(extraction.directory) in container \(reference)"
            guard let hostSource else {
                guard case .stream(let descriptor) = source else { return 0 }
                try runHelper(record, pid: pid, .extract, path: extraction.directory, stdin: descriptor,
                              preserveOwnership: preserveOwnership).finish(notFound: notFound)
                return 0
            }
            let pipe = try Pipe.make()
            let helper: HelperProcess
            do {
                helper = try runHelper(record, pid: pid, .extract, path: extraction.directory, stdin: pipe.read,
                                       preserveOwnership: preserveOwnership)
            } catch {
                pipe.closeBoth()
                throw error
            }
            close(pipe.read)
            let sink = CountingSink(FileSink(fileDescriptor: pipe.write, closeOnDeinit: false))
            do {
                let writer = TarWriter(sink)
                try DirectoryArchiver.write(path: hostSource.path, as: extraction.name, to: writer)
                try writer.finish()
            } catch {
                // A helper that failed (and so closed the pipe) explains the failure better.
                close(pipe.write)
                try helper.finish(notFound: notFound)
                throw error
            }
            close(pipe.write)
            try helper.finish(notFound: notFound)
            return sink.count
        }
    }

    /// A host source as Docker's CLI resolves it: symlinks in its directory part followed, the
    /// final one too only with `followLink` (then named after the link).
    static func hostSource(_ path: String, followLink: Bool) throws -> (path: String, name: String, isDirectory: Bool) {
        let absolute = CopyPath.onHost(path, workingDirectory: FileManager.default.currentDirectoryPath)
        var resolved: String
        var name: String
        if followLink {
            guard let real = realpath(absolute, nil) else { throw hostError("lstat", absolute) }
            resolved = String(cString: real)
            free(real)
            name = CopyPath.archiveName(absolute)
        } else {
            let slash = absolute.lastIndex(of: "/") ?? absolute.startIndex
            let directory = String(absolute[...slash])
            let base = String(absolute[absolute.index(after: slash)...])
            guard let real = realpath(directory, nil) else { throw hostError("lstat", absolute) }
            let resolvedDirectory = String(cString: real)
            free(real)
            resolved = (resolvedDirectory == "/" ? "" : resolvedDirectory) + "/" + base
            name = CopyPath.archiveName(resolved)
            if CopyPath.hasTrailingSeparator(absolute), CopyPath.base(absolute) != CopyPath.base(resolved) {
                name = CopyPath.base(absolute)
            }
        }
        var info = stat()
        guard lstat(resolved, &info) == 0 else { throw hostError("lstat", absolute) }
        return (resolved, name, info.st_mode & S_IFMT == S_IFDIR)
    }

    static func hostError(_ operation: String, _ path: String) -> CopyError {
        CopyError(message: "\(operation) \(path): \(String(cString: strerror(errno)).lowercased())", fromDaemon: false)
    }

    static func isWithin(_ path: String, _ directory: String) -> Bool {
        let path = CopyPath.clean(path)
        return path == directory || path.hasPrefix(directory + "/")
    }

    // MARK: The container's root

    /// Runs `body` with the container's process to enter, or nil when it is not running: then
    /// the container is kept from starting until the copy is done (its overlay is mounted
    /// privately by the helper, and a start would mount the same upper directory).
    private func withContainerRoot<T>(_ record: ContainerRecord, _ body: (Int32?) throws -> T) throws -> T {
        if record.state.status == .running, record.state.pid > 0 { return try body(record.state.pid) }
        return try FileLock(containers.files(of: record.id).startLock).withLock {
            let current = try container(record.id)
            return try body(current.state.status == .running && current.state.pid > 0 ? current.state.pid : nil)
        }
    }

    /// Stats `path` in the container; nil if it does not exist.
    private func statInContainer(_ record: ContainerRecord, pid: Int32?, path: String, follow: Bool) throws
        -> ContainerPathInfo? {
        let pipe = try Pipe.make()
        let helper: HelperProcess
        do {
            helper = try runHelper(record, pid: pid, .stat, path: path, follow: follow, stdout: pipe.write)
        } catch {
            pipe.closeBoth()
            throw error
        }
        close(pipe.write)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(pipe.read, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            output += buffer[0..<count]
        }
        close(pipe.read)
        guard try helper.finishAllowingNotFound() else { return nil }
        let line = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .newlines)
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6, let size = Int64(fields[1]), let mode = UInt32(fields[2]),
              let seconds = Int64(fields[3]), let nanoseconds = Int64(fields[4]) else {
            throw RuntimeError.runtime("copy helper: unexpected reply '\(line)'")
        }
        let kind = fields[0]
        return ContainerPathInfo(isDirectory: kind == "directory", isSymlink: kind == "symlink", path: String(fields[5]),
                                 size: size, mode: mode,
                                 modified: Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9))
    }

    private func runHelper(_ record: ContainerRecord, pid: Int32?, _ operation: CopyHelper.Request.Operation,
                           path: String, name: String = "", follow: Bool = false, stdin: Int32? = nil,
                           stdout: Int32? = nil, preserveOwnership: Bool = false, refuseTypeChanges: Bool = true) throws -> HelperProcess {
        var request = CopyHelper.Request(
            operation: operation, path: path, name: name, follow: follow, preserveOwnership: preserveOwnership,
            refuseTypeChanges: refuseTypeChanges,
            pid: pid, containerID: record.id, containerDirectory: containers.path(of: record.id),
            layers: record.layers, mounts: record.mounts)
        if pid != nil {
            // Every mount of the bundle but the bind mounts (volumes, binds, /etc/hosts and such).
            let bundle = try? JSONDecoder().decode(RuntimeSpec.self, from: Data(Files.read(containers.files(of: record.id).bundleConfig)))
            request.hidden = (bundle?.mounts ?? []).filter { $0.type != "bind" }.map { CopyPath.clean($0.destination) }
        }
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        let errors = try Pipe.make()
        var descriptors: [(Int32, Int32)] = [(errors.write, 2)]
        if let stdin { descriptors.append((stdin, 0)) }
        if let stdout { descriptors.append((stdout, 1)) }
        let process: pid_t
        do {
            process = try Spawn.start([monitorExecutable, "--copy", json], descriptors: descriptors)
        } catch {
            errors.closeBoth()
            throw error
        }
        close(errors.write)
        return HelperProcess(pid: process, errors: errors.read)
    }
}

/// A running copy helper and the read end of its stderr.
private struct HelperProcess {
    var pid: pid_t
    var errors: Int32

    /// Waits for the helper; throws its error if it failed.
    func finish(notFound: String = "no such file or directory") throws {
        guard try finishAllowingNotFound() else { throw CopyError(message: notFound, fromDaemon: true) }
    }

    /// Waits for the helper: true if it succeeded, false if the path was not found; throws its error otherwise.
    func finishAllowingNotFound() throws -> Bool {
        var message: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(errors, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            message += buffer[0..<count]
        }
        close(errors)
        let status = Spawn.wait(pid)
        if status == 0 { return true }
        if status == CopyHelper.notFoundStatus { return false }
        let text = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        throw CopyError(message: text.isEmpty ? "copy helper exited with status \(status)" : text, fromDaemon: true)
    }
}

/// Counts the bytes read through it (Docker reports the size of the tar stream it copied).
private final class CountingSource: ByteSource {
    private let source: ByteSource
    private(set) var count: Int64 = 0

    init(_ source: ByteSource) { self.source = source }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try source.read(into: buffer)
        count += Int64(n)
        return n
    }
}

/// Counts the bytes written through it.
private final class CountingSink: ByteSink {
    private let sink: ByteSink
    private(set) var count: Int64 = 0

    init(_ sink: ByteSink) { self.sink = sink }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try sink.write(bytes)
        count += Int64(bytes.count)
    }

    func finish() throws { try sink.finish() }
}
