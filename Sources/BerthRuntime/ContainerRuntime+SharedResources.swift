import BerthNetwork
import Foundation
import Glibc

/// What a container takes from others or asks of its network: `--ipc`/`--pid`/`--network container:NAME`,
/// `--volumes-from`, `--ip`.
extension ContainerRuntime {
    /// At create, as dockerd: the containers whose namespaces `--ipc`/`--pid` join must exist.
    func checkSharedNamespaces(_ hostConfig: ContainerRecord.HostConfig) throws {
        for mode in [hostConfig.ipcMode, hostConfig.pidMode] where mode.hasPrefix("container:") {
            _ = try container(String(mode.dropFirst("container:".count)))
        }
    }

    /// At start: the namespace files the container joins, by OCI namespace type, from the running
    /// containers its modes name (dockerd's messages when one does not run or does not share its IPC).
    func sharedNamespacePaths(_ record: ContainerRecord) throws -> [String: String] {
        var paths: [String: String] = [:]
        let modes = [("ipc", record.hostConfig.ipcMode), ("pid", record.hostConfig.pidMode), ("net", record.hostConfig.networkMode)]
        for (type, mode) in modes where mode.hasPrefix("container:") {
            let name = String(mode.dropFirst("container:".count))
            let donor = try container(name)
            guard donor.state.status == .running, donor.state.pid > 0 else {
                throw RuntimeError.invalidOption("failed to join \(type.uppercased()) namespace: Container \(donor.id) is not running")
            }
            if type == "ipc", donor.hostConfig.ipcMode != "shareable" {
                throw RuntimeError.invalidOption("failed to join IPC namespace: container \(name): non-shareable IPC (hint: use IpcMode:shareable for the donor container)")
            }
            paths[type] = "/proc/\(donor.state.pid)/ns/\(type)"
            if type == "ipc" { paths["shm"] = containers.path(of: donor.id) + "/shm" }
        }
        return paths
    }

    /// The host directory a `shareable` container's /dev/shm lives in (a tmpfs mounted at start),
    /// so containers joining its IPC namespace see the same shared memory files, as Docker does.
    func mountSharedMemory(_ record: ContainerRecord) throws {
        guard record.hostConfig.ipcMode == "shareable" else { return }
        let path = containers.path(of: record.id) + "/shm"
        unmountSharedMemory(record.id)
        try Files.makeDirectories(path)
        let options = "mode=1777,size=\(record.hostConfig.shmSize)"
        guard mount("shm", path, "tmpfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), options) == 0 else {
            throw RuntimeError.lastIO("mount", path)
        }
    }

    func unmountSharedMemory(_ id: String) {
        let path = containers.path(of: id) + "/shm"
        while umount2(path, Int32(MNT_DETACH)) == 0 {}
    }

    /// `--volumes-from`: the volumes and bind mounts of each named container, read-only with `:ro`
    /// (as the source has them otherwise), except where the container's own mounts take the path.
    func mountsFrom(_ entries: [String], besides own: [MountPoint]) throws -> [MountPoint] {
        var taken = Set(own.map(\.destination))
        var result: [MountPoint] = []
        for entry in entries {
            var name = entry
            var mode: String?
            if let colon = entry.lastIndex(of: ":") {
                name = String(entry[..<colon])
                mode = String(entry[entry.index(after: colon)...])
                guard mode == "ro" || mode == "rw" else {
                    throw RuntimeError.invalidOption("invalid mode: \(mode ?? "")")
                }
            }
            let source = try container(name)
            for var mount in source.mounts where mount.type != .tmpfs && !taken.contains(mount.destination) {
                if let mode { mount.readWrite = mode == "rw" }
                // The volume stays the source's: it is neither made again nor removed with this container.
                mount.anonymous = false
                taken.insert(mount.destination)
                result.append(mount)
            }
        }
        return result
    }

    /// `--ip`: only on a user-defined network whose subnet the user configured, and inside it
    /// (dockerd's messages).
    func requestAddress(_ address: String, endpoints: [ContainerRecord.EndpointConfig], networkMode: String) throws
        -> [ContainerRecord.EndpointConfig] {
        guard var first = endpoints.first else {
            throw RuntimeError.invalidOption("user specified IP address is supported on user defined networks only")
        }
        let definition = try NetworkStore(root: root).find(first.network)
        if definition.isPredefined {
            throw RuntimeError.invalidOption("user specified IP address is supported on user defined networks only")
        }
        guard definition.subnetConfigured == true else {
            throw RuntimeError.invalidOption("user specified IP address is supported only when connecting to networks with user configured subnets")
        }
        guard let bridge = definition.bridge, bridge.contains(address: address) else {
            throw RuntimeError.invalidOption("no configured subnet or ip-range contain the IP address \(address)")
        }
        first.ipv4Address = address
        return [first] + endpoints.dropFirst()
    }
}
