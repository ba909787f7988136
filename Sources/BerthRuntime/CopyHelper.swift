import BerthArchive
import CBerth
import Foundation
import Glibc

/// The container side of `cp`: a short-lived process (`berth-monitor --copy`) that chroots into
/// the container's root filesystem and stats, archives to stdout or extracts stdin there. Inside
/// the chroot the kernel resolves every symlink (absolute ones included) and every `..` within
/// the container's root, so a path the container controls cannot lead to the host, even if the
/// container changes it while the copy runs.
///
/// A running container is entered through `/proc/<pid>/root`, which shows its volumes and bind
/// mounts as the container sees them. A stopped one gets a private mount namespace with its
/// overlay and its volumes and bind mounts: they vanish with the process, so nothing stays mounted.
public enum CopyHelper {
    /// What the helper is asked to do, passed as JSON in its one argument.
    struct Request: Codable {
        enum Operation: String, Codable {
            /// Print `<kind> <size> <mode> <mtime seconds> <mtime nanoseconds> <path>`: kind
            /// `directory`, `file`, `symlink` or `other`; with `follow`, the path with every
            /// symlink resolved.
            case stat
            /// Write `path` as a tar stream to stdout, its top entry named `name`.
            case archive
            /// Extract the tar stream on stdin into the directory `path`.
            case extract
        }

        var operation: Operation
        var path: String
        var name = ""
        var follow = false
        var preserveOwnership = false
        /// Extraction refuses to replace a directory with a non-directory and the reverse
        /// (dockerd's `noOverwriteDirNonDir`).
        var refuseTypeChanges = true
        /// The running container's process whose root to enter; nil for a stopped container.
        var pid: Int32?
        var containerID: String
        var containerDirectory: String
        var layers: [String]
        var mounts: [MountPoint]
        /// A running container's mounts of kernel file systems (/proc, /sys, /dev, tmpfs): Docker's
        /// cp does not see into them, and their contents are not files to copy.
        var hidden: [String] = []
    }

    /// The exit status for "no such file or directory" in the container.
    static let notFoundStatus: Int32 = 2

    /// Runs one request; returns the process's exit status (errors on stderr).
    public static func main(_ argument: String) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        do {
            let request = try JSONDecoder().decode(Request.self, from: Data(argument.utf8))
            try enterRoot(request)
            return try perform(request)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
    }

    private static func perform(_ request: Request) throws -> Int32 {
        var info = stat()
        let cleaned = CopyPath.clean(request.path)
        if request.hidden.contains(where: { cleaned.hasPrefix($0 == "/" ? "/" : $0 + "/") }) { return notFoundStatus }
        switch request.operation {
        case .stat:
            var path = request.path
            if request.follow {
                guard let resolved = realpath(path, nil) else { return try failure(errno, "stat", path) }
                path = String(cString: resolved)
                free(resolved)
            }
            guard lstat(path, &info) == 0 else { return try failure(errno, "lstat", path) }
            let kind: String
            switch info.st_mode & S_IFMT {
            case S_IFDIR: kind = "directory"
            case S_IFREG: kind = "file"
            case S_IFLNK: kind = "symlink"
            default: kind = "other"
            }
            // The path last: it may hold spaces.
            let fields = [kind, String(info.st_size), String(info.st_mode), String(info.st_mtim.tv_sec), String(info.st_mtim.tv_nsec), path]
            FileHandle.standardOutput.write(Data((fields.joined(separator: " ") + "\n").utf8))
        case .archive:
            guard lstat(request.path, &info) == 0 else { return try failure(errno, "lstat", request.path) }
            let writer = TarWriter(FileSink(fileDescriptor: 1, closeOnDeinit: false))
            try DirectoryArchiver.write(path: request.path, as: request.name, to: writer, excluding: Set(request.hidden))
            try writer.finish()
        case .extract:
            guard stat(request.path, &info) == 0 else { return try failure(errno, "stat", request.path) }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw CopyError(message: "extraction point is not a directory", fromDaemon: true)
            }
            let extractor = SafeExtractor(root: request.path, whiteouts: .keep, preserveOwnership: request.preserveOwnership,
                                          refuseTypeChanges: request.refuseTypeChanges, refuseEscapingSymlinks: true)
            _ = try extractor.extract(TarReader(FileSource(fileDescriptor: 0, closeOnDeinit: false)))
        }
        return 0
    }

    /// ENOENT is reported by status alone (the caller words it); anything else as Docker's daemon does.
    private static func failure(_ code: Int32, _ operation: String, _ path: String) throws -> Int32 {
        if code == ENOENT { return notFoundStatus }
        throw CopyError(message: "\(operation) \(path): \(String(cString: strerror(code)).lowercased())", fromDaemon: true)
    }

    // MARK: Entering the container's root

    private static func enterRoot(_ request: Request) throws {
        if let pid = request.pid {
            try enterRunningContainer(pid: pid, id: request.containerID)
        } else {
            try mountStoppedContainer(request)
        }
        guard chdir("/") == 0 else { throw RuntimeError.lastIO("chdir", "/") }
    }

    /// Enters the root of the container's process. The root is opened before the process is
    /// checked to be the container's (its cgroup names the container), so a recycled pid is refused.
    private static func enterRunningContainer(pid: Int32, id: String) throws {
        let root = "/proc/\(pid)/root"
        let descriptor = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw RuntimeError.notRunning(id) }
        defer { close(descriptor) }
        let cgroups = (try? Files.read("/proc/\(pid)/cgroup")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard cgroups.contains(id) else { throw RuntimeError.notRunning(id) }
        guard fchdir(descriptor) == 0, chroot(".") == 0 else { throw RuntimeError.lastIO("chroot", root) }
    }

    /// Mounts the stopped container's overlay and its volumes and bind mounts in a mount namespace
    /// of this process's own, then chroots into it.
    private static func mountStoppedContainer(_ request: Request) throws {
        guard berth_unshare_mount_namespace() == 0 else { throw RuntimeError.lastIO("unshare", "mount namespace") }
        // Private first, so none of the mounts below propagates back to the host's namespace.
        guard mount("none", "/", nil, UInt(MS_REC) | UInt(MS_PRIVATE), nil) == 0 else {
            throw RuntimeError.lastIO("make private", "/")
        }
        let rootfs = try Overlay.mount(lowers: request.layers, directory: request.containerDirectory)
        // Parents before the mounts nested in them.
        let mounts = request.mounts.filter { $0.type != .tmpfs }
            .sorted { $0.destination.split(separator: "/").count < $1.destination.split(separator: "/").count }
        for mount in mounts {
            // Nothing runs in a stopped container, so resolving in its root cannot race with it.
            let target = SecurePath.join(rootfs, mount.destination)
            var info = stat()
            let sourceIsDirectory = stat(mount.source, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
            if !Files.exists(target) {
                if sourceIsDirectory {
                    try Files.makeDirectories(target)
                } else {
                    try Files.makeDirectories(CopyPath.directory(target))
                    try Files.write([], to: target)
                }
            }
            guard Glibc.mount(mount.source, target, nil, UInt(MS_BIND) | UInt(MS_REC), nil) == 0 else {
                throw RuntimeError.lastIO("bind mount \(mount.source) on", mount.destination)
            }
            if !mount.readWrite,
               Glibc.mount(nil, target, nil, UInt(MS_BIND) | UInt(MS_REMOUNT) | UInt(MS_RDONLY) | UInt(MS_REC), nil) != 0 {
                throw RuntimeError.lastIO("remount read-only", mount.destination)
            }
        }
        guard chroot(rootfs) == 0 else { throw RuntimeError.lastIO("chroot", rootfs) }
    }
}
