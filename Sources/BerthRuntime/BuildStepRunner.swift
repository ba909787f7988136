import BerthFiles
import BerthNetwork
import BerthOCI
import BerthProcess
import Foundation
import Glibc

/// Runs one build step's process (a Dockerfile RUN) in the foreground with runc, on an overlay of
/// read-only snapshots and a fresh upper directory, streaming its output. Nothing is recorded as
/// a container: the builder owns the directory and archives its upper directory afterwards.
public enum BuildStepRunner {
    /// What a RUN step executes and how.
    public struct Process: Sendable {
        public var arguments: [String]
        public var environment: [String]
        public var workingDirectory: String
        /// The USER value (`name`, `uid`, `name:group`, `uid:gid`; empty means root).
        public var user: String
        /// `host` shares the host's network; `none` gives a network namespace with only loopback;
        /// `bridge` (what Docker's `default` means for RUN) attaches the step to the default bridge.
        public var network: String
        /// Extra mounts (RUN --mount), which are not part of the step's layer.
        public var mounts: [Mount]

        public init(arguments: [String], environment: [String], workingDirectory: String, user: String, network: String,
                    mounts: [Mount] = []) {
            self.arguments = arguments
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.user = user
            self.network = network
            self.mounts = mounts
        }
    }

    /// A mount in the step's container: a bind of a host path, or a tmpfs.
    public struct Mount: Sendable, Equatable {
        public var destination: String
        /// A host path for a bind mount; nil for a tmpfs.
        public var source: String?
        public var readOnly: Bool

        public init(destination: String, source: String?, readOnly: Bool) {
            self.destination = destination
            self.source = source
            self.readOnly = readOnly
        }

        var specMount: RuntimeSpec.Mount {
            if let source {
                return RuntimeSpec.Mount(destination: destination, type: "bind", source: source,
                                         options: ["rbind", "rprivate", readOnly ? "ro" : "rw"])
            }
            return RuntimeSpec.Mount(destination: destination, type: "tmpfs", source: "tmpfs",
                                     options: ["nosuid", "nodev", readOnly ? "ro" : "rw"])
        }
    }

    /// The networks a RUN step can use: Docker's `default` is the bridge, as in BuildKit.
    public static let networkModes = ["default", "bridge", "host", "none"]

    /// Mounts `lowers` (base first) with `directory/upper` as the upper directory at
    /// `directory/rootfs`, runs the process there with `runc run`, hands its merged stdout and
    /// stderr to `output` as it arrives, unmounts and returns the exit code. Mount points runc had
    /// to create (/proc, /etc/hosts, …) are removed from the upper directory when they are empty,
    /// so they do not end up in the layer. On the bridge, the step gets a network namespace of its
    /// own (`directory/netns`) attached to the default network under `berthRoot` before runc starts,
    /// and detached afterwards whatever happens: no veth, rule or address lease outlives the step.
    /// A `cancellation` that fires while the process runs kills it (the exit code is then 137).
    public static func run(_ process: Process, lowers: [String], directory: String, runcBinary: String = "runc",
                           stateRoot: String, berthRoot: String, cancellation: BuildCancellation? = nil,
                           output: ([UInt8]) -> Void) throws -> Int32 {
        guard networkModes.contains(process.network) else {
            throw RuntimeError.invalidOption("network mode \(process.network) is not supported for RUN; use default, host or none")
        }
        let networkMode = process.network == "default" ? "bridge" : process.network
        let rootfs = try Overlay.mount(lowers: lowers, directory: directory)
        defer { try? Overlay.unmount(directory: directory) }
        let id = containerID(directory: directory)
        let users = UserResolver(rootfs: rootfs)
        let (user, home) = try users.resolve(process.user)
        let cwd = process.workingDirectory.isEmpty ? "/" : process.workingDirectory
        let target = SecurePath.join(rootfs, cwd)
        if !Files.exists(target) {
            try Files.makeDirectories(target)
            _ = chown(target, user.uid, user.gid)
        }
        let config = ContainerRecord.Config(hostname: String(id.prefix(12)), user: process.user, env: process.environment,
                                            cmd: process.arguments, workingDir: cwd)
        let hostConfig = ContainerRecord.HostConfig(networkMode: networkMode)
        var record = ContainerRecord(id: id, name: id, created: Date(), imageName: "", imageID: "", config: config,
                                     hostConfig: hostConfig, layers: lowers)
        var networkNamespace: String?
        defer {
            if networkNamespace != nil { releaseNetwork(directory: directory, berthRoot: berthRoot) }
        }
        if networkMode == "bridge" {
            let namespace = try makeNetworkNamespace(directory: directory)
            networkNamespace = namespace
            let attachment = try NetworkManager(root: berthRoot).attach(
                containerID: id, networkNamespace: namespace, network: "bridge", ports: [])
            record.network.ipAddress = attachment.ipAddress
            record.network.gateway = attachment.gateway
        }
        let builder = BundleBuilder(record: record, directory: directory, rootfs: rootfs, layout: CgroupLayout.detect())
        let mountTargets = builder.mounts(privileged: false).map(\.destination) + process.mounts.map(\.destination)
        let missingTargets = mountTargets.filter { !Files.exists(SecurePath.join(rootfs, $0)) }
        try BundleBuilder.writeEtcFiles(directory: directory, record: record)
        var spec = try builder.spec(user: user, home: home, networkNamespace: networkNamespace)
        spec.mounts = (spec.mounts ?? []) + process.mounts.map(\.specMount)
        try Files.writeAtomically(CanonicalJSON.encode(spec), to: directory + "/config.json", mode: 0o600, durability: .atomicOnly)

        let pipe = try Pipe.make()
        let pid: pid_t
        do {
            // Guarded: runc's container init outlives a killed runc, so the step would outlive a
            // killed build; the guard ends both once this process is gone.
            pid = try Spawn.start([runcBinary, "--root", stateRoot, "run", "--bundle", directory, id],
                                  descriptors: [(pipe.write, 1), (pipe.write, 2)], guarded: true)
        } catch {
            pipe.closeBoth()
            throw error
        }
        BuildStepRecord.started(containerID: id)
        close(pipe.write)
        func readOutput() {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(pipe.read, $0.baseAddress, $0.count) }
                if count > 0 {
                    output(Array(buffer[0..<count]))
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
        }
        if let cancellation {
            cancellation.whileRunning(stop: { BuildCancellation.killChildren(of: pid) }, readOutput)
        } else {
            readOutput()
        }
        close(pipe.read)
        let status = Spawn.wait(pid)
        try? Runc(binary: runcBinary, stateRoot: stateRoot).delete(id, force: true)
        try? Overlay.unmount(directory: directory)
        removeEmptyMountPoints(missingTargets.sorted(by: >), upper: directory + "/upper")
        return status
    }

    /// Undoes what a step run in `directory` may have left when its build was killed: the runc
    /// container, the network attachment and every mount under the directory (rootfs, network
    /// namespace, RUN --mount overlays), deepest first.
    public static func cleanUp(directory: String, runcBinary: String, stateRoot: String, berthRoot: String) {
        try? Runc(binary: runcBinary, stateRoot: stateRoot).delete(containerID(directory: directory), force: true)
        releaseNetwork(directory: directory, berthRoot: berthRoot)
        unmountAll(under: directory)
    }

    /// Unmounts every mount at or below `path`, deepest first (the whole mount table is read:
    /// Foundation's file reading stops at the first page of a /proc file).
    public static func unmountAll(under path: String) {
        for mountPoint in MountTable.mountPoints().filter({ $0 == path || $0.hasPrefix(path + "/") }).sorted(by: >) {
            while umount2(mountPoint, Int32(MNT_DETACH)) == 0 {}
        }
    }

    /// A persistent network namespace for the step, bind-mounted on `directory/netns` so it can be
    /// attached before runc starts and torn down after the step's processes are gone.
    private static func makeNetworkNamespace(directory: String) throws -> String {
        let path = directory + "/netns"
        let descriptor = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw RuntimeError.lastIO("create", path) }
        close(descriptor)
        let result = try Spawn.run(["unshare", "--net=" + path, "true"])
        guard result.status == 0 else {
            throw RuntimeError.invalidOption("cannot create a network namespace for RUN: \(result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return path
    }

    /// Detaches the step from the bridge (veth, address lease, iptables rules), then drops its namespace.
    private static func releaseNetwork(directory: String, berthRoot: String) {
        let path = directory + "/netns"
        let id = containerID(directory: directory)
        if let manager = try? NetworkManager(root: berthRoot), (try? manager.attachedContainers())?.contains(id) == true {
            try? manager.detach(containerID: id, networkNamespace: Overlay.isMountPoint(path) ? path : nil)
        }
        while umount2(path, Int32(MNT_DETACH)) == 0 {}
        unlink(path)
    }

    /// The runc container ID of the step run in `directory`: derived from it, so whoever cleans up
    /// after a killed build can find and delete the container.
    public static func containerID(directory: String) -> String {
        let name = directory.split(separator: "/").last.map(String.init) ?? ""
        let allowed = name.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        return "build-" + (allowed.isEmpty ? String(ContainerID.random().prefix(20)) : allowed)
    }

    /// Removes mount points that runc created, deepest first, when they are still empty.
    private static func removeEmptyMountPoints(_ targets: [String], upper: String) {
        for target in targets {
            var components = target.split(separator: "/").map(String.init)
            while !components.isEmpty {
                let path = upper + "/" + components.joined(separator: "/")
                var info = stat()
                guard lstat(path, &info) == 0 else { break }
                if (info.st_mode & S_IFMT) == S_IFDIR {
                    if rmdir(path) != 0 { break }
                } else if (info.st_mode & S_IFMT) == S_IFREG, info.st_size == 0 {
                    unlink(path)
                } else {
                    break
                }
                components.removeLast()
            }
        }
    }
}
