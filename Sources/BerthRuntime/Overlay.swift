import BerthFiles
import Glibc

/// The container's root filesystem: an overlay of the image's snapshots (read-only lower
/// directories, top layer first) with an upper and work directory in the container's directory.
enum Overlay {
    static func mount(lowers: [String], directory: String) throws -> String {
        let target = directory + "/rootfs"
        for path in [target, directory + "/upper", directory + "/work"] { try Files.makeDirectories(path) }
        if isMountPoint(target) { return target }
        var lowerdirs = lowers.reversed().map { $0 }
        if lowerdirs.isEmpty {
            // overlayfs needs a lower directory even for an image without layers.
            let empty = directory + "/empty"
            try Files.makeDirectories(empty)
            lowerdirs = [empty]
        }
        let options = "lowerdir=\(lowerdirs.joined(separator: ":")),upperdir=\(directory)/upper,workdir=\(directory)/work"
        if Glibc.mount("overlay", target, "overlay", 0, options) != 0 {
            throw RuntimeError.lastIO("mount overlay on", target)
        }
        return target
    }

    /// Unmounts the rootfs if it is mounted (lazily if something still holds it).
    static func unmount(directory: String) throws {
        let target = directory + "/rootfs"
        while isMountPoint(target) {
            if umount2(target, 0) != 0 {
                if errno == EINVAL || errno == ENOENT { return }
                if umount2(target, Int32(MNT_DETACH)) != 0, errno != EINVAL {
                    throw RuntimeError.lastIO("unmount", target)
                }
            }
        }
    }

    /// Whether `path` is a mount point in this mount namespace.
    static func isMountPoint(_ path: String) -> Bool {
        MountTable.mountPoints().contains(path)
    }
}
