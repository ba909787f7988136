import Glibc

/// The host's cgroup layout, which decides how the runtime places and limits containers.
public enum CgroupLayout: String, Sendable {
    /// Only cgroup v1 controller hierarchies.
    case v1
    /// v1 controllers plus a v2 hierarchy at /sys/fs/cgroup/unified (systemd's hybrid mode).
    case hybrid
    /// The unified v2 hierarchy mounted at /sys/fs/cgroup.
    case v2

    /// Detects the layout from where a v2 hierarchy is mounted: only a v2 root has
    /// `cgroup.controllers`. Two lookups, where reading mountinfo costs every command more the
    /// more containers (overlay mounts) are running.
    public static func detect(base: String = "/sys/fs/cgroup") -> CgroupLayout {
        if access(base + "/cgroup.controllers", F_OK) == 0 { return .v2 }
        if access(base + "/unified/cgroup.controllers", F_OK) == 0 { return .hybrid }
        return .v1
    }

    /// The `cgroupsPath` Berth gives a container: an absolute path under each hierarchy's root
    /// (cgroupfs driver), like Docker's `/docker/<id>`.
    public static func path(for id: String) -> String { "/berth/\(id)" }

    /// Directories the container's cgroup occupies on this host, for checking and cleaning up.
    public func directories(for id: String, base: String = "/sys/fs/cgroup") -> [String] {
        let relative = Self.path(for: id)
        switch self {
        case .v2:
            return [base + relative]
        case .v1, .hybrid:
            var result: [String] = []
            if let directory = opendir(base) {
                while let entry = readdir(directory) {
                    let name = withUnsafePointer(to: entry.pointee.d_name) {
                        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                    }
                    if name.hasPrefix(".") { continue }
                    var info = stat()
                    // Skip the symlinks (cpu → cpu,cpuacct) so each hierarchy is listed once.
                    if lstat(base + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                        result.append(base + "/" + name + relative)
                    }
                }
                closedir(directory)
            }
            return result.sorted()
        }
    }

    /// Removes the container's cgroup directories the runtime left (empty ones only, as the kernel
    /// allows); returns the ones that still exist.
    @discardableResult
    public func removeDirectories(for id: String) -> [String] {
        directories(for: id).filter { directory in
            if rmdir(directory) == 0 || errno == ENOENT { return false }
            return access(directory, F_OK) == 0
        }
    }
}
