import BerthProcess
import Foundation
import Glibc

/// One path a container changed in its root filesystem (Docker's FilesystemChange).
public struct FilesystemChange: Sendable, Equatable {
    /// Docker's kinds: 0 modified, 1 added, 2 deleted.
    public enum Kind: Int, Sendable {
        case modified = 0, added = 1, deleted = 2
    }

    public var path: String
    public var kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }
}

extension ContainerRuntime {
    /// The paths every container gets from the runtime rather than its process (Docker keeps them
    /// in an init layer below the container's own): `changes` leaves them out.
    public static let initLayerPaths: Set<String> = [
        "/dev", "/dev/pts", "/dev/shm", "/dev/console", "/proc", "/sys", "/etc/hosts", "/etc/hostname",
        "/etc/resolv.conf", "/etc/mtab", "/.dockerenv",
    ]

    /// The files the container added, changed or deleted against its image, sorted by path: each
    /// entry of its overlay's upper directory, a whiteout (0/0 character device) as deleted, a
    /// path the image has as modified, any other as added. What the runtime itself makes (mount
    /// points, /etc/hosts…) is left out, and so is a directory left with no other change in it.
    public func changes(_ reference: String) throws -> [FilesystemChange] {
        let record = try container(reference)
        let upper = containers.path(of: record.id) + "/upper"
        let ignored = Self.initLayerPaths
        var result: [FilesystemChange] = []
        func walk(_ relative: String) {
            guard let directory = opendir(upper + relative) else { return }
            defer { closedir(directory) }
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != ".", name != ".." { names.append(name) }
            }
            for name in names {
                let path = relative + "/" + name
                var info = stat()
                guard lstat(upper + path, &info) == 0, !ignored.contains(path) else { continue }
                let isWhiteout = info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0
                let inImage = record.layers.contains { layer in
                    var lower = stat()
                    return lstat(layer + path, &lower) == 0
                }
                if isWhiteout {
                    result.append(FilesystemChange(path: path, kind: .deleted))
                    continue
                }
                result.append(FilesystemChange(path: path, kind: inImage ? .modified : .added))
                if info.st_mode & S_IFMT == S_IFDIR { walk(path) }
            }
        }
        walk("")
        // A parent of an init-layer path (/etc, /dev) is there for it alone unless more changed in it.
        let parents = Set(ignored.map { String($0[..<($0.lastIndex(of: "/") ?? $0.startIndex)]) }.filter { !$0.isEmpty })
        let found = result
        result.removeAll { change in
            parents.contains(change.path) && !found.contains { $0.path.hasPrefix(change.path + "/") }
        }
        return result.sorted { $0.path < $1.path }
    }

    /// Starts writing the container's root filesystem as a tar stream (Docker's export: the
    /// image's files with the container's changes, without its volumes and mounts) to a pipe;
    /// returns the writer's pid and the pipe's reading end, which the caller reads and closes, then
    /// reaps the pid. The filesystem is a read-only overlay of the upper directory over the
    /// image's layers, mounted in a mount namespace of the writer's own, so it works whether or
    /// not the container runs and leaves no mount behind when the writer dies.
    public func startExport(_ reference: String) throws -> (pid: pid_t, output: Int32) {
        let record = try container(reference)
        let directory = containers.path(of: record.id)
        let target = directory + "/rootfs"
        try Files.makeDirectories(target)
        let lowers = [directory + "/upper"] + record.layers.reversed()
        for path in lowers where !Files.exists(path) { try Files.makeDirectories(path) }
        let script = #"mount -t overlay -o ro,lowerdir="$1" berth-export "$2" && cd "$2" && "#
            + #"find . -mindepth 1 -maxdepth 1 -printf '%P\0' | exec tar --null -T - --numeric-owner --xattrs -cf -"#
        let pipe = try Pipe.make()
        let pid: pid_t
        do {
            pid = try Spawn.start(["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "export",
                                   lowers.joined(separator: ":"), target], descriptors: [(pipe.write, 1)])
        } catch {
            pipe.closeBoth()
            throw error
        }
        close(pipe.write)
        return (pid, pipe.read)
    }
}
