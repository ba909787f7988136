import BerthNetwork
import BerthOCI
import BerthProcess
import Foundation
import Glibc

/// What `berth run`/`create` was asked for, before it is resolved against the image.
public struct RunOptions: Sendable {
    public var image: String
    /// The command and its arguments after the image name; empty means the image's Cmd.
    public var command: [String]
    /// `--entrypoint` (Docker's Config.Entrypoint): nil keeps the image's; `[]` or `[""]` clears it.
    /// Either way the image's Cmd goes with its entrypoint.
    public var entrypoint: [String]?
    public var name: String?
    /// `-e`/`--env-file` entries, `NAME=value`, in order (later ones win).
    public var env: [String]
    public var workingDir: String?
    public var user: String?
    public var hostname: String?
    public var labels: [String: String]
    public var stopSignal: String?
    public var stopTimeout: Int?
    public var hostConfig: ContainerRecord.HostConfig
    /// `-v`, `--mount` and `--tmpfs` mounts as parsed by `MountParser`; volumes are made at create.
    public var mounts: [MountPoint] = []
    /// The `--health-*` flags: each set field replaces the image's (`Test ["NONE"]` disables it).
    public var healthcheck: HealthConfig?
    /// `--network-alias`: more names the container answers to on its user-defined network.
    public var networkAliases: [String] = []
    /// Ports exposed besides the image's (Docker's Config.ExposedPorts from the client), `80/tcp`.
    public var exposedPorts: [String] = []
    /// `-t`, `-i` and the streams `run`/`create` attach, as Docker records them in Config.
    public var tty = false
    public var openStdin = false
    public var stdinOnce = false
    public var attachStdin = false
    public var attachStdout = false
    public var attachStderr = false
    /// `--domainname` (Config.Domainname).
    public var domainname: String?
    /// `--mac-address`: the first network's interface gets this address (Config.MacAddress).
    public var macAddress: String?
    /// `--ip`: the first network's address.
    public var ipv4Address: String?
    /// `--volumes-from` entries, `container[:ro|:rw]`: that container's volumes and binds.
    public var volumesFrom: [String] = []

    public init(image: String, command: [String] = [], entrypoint: [String]? = nil, name: String? = nil,
                env: [String] = [], workingDir: String? = nil, user: String? = nil, hostname: String? = nil,
                labels: [String: String] = [:], stopSignal: String? = nil, stopTimeout: Int? = nil,
                hostConfig: ContainerRecord.HostConfig = ContainerRecord.HostConfig()) {
        self.image = image
        self.command = command
        self.entrypoint = entrypoint
        self.name = name
        self.env = env
        self.workingDir = workingDir
        self.user = user
        self.hostname = hostname
        self.labels = labels
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.hostConfig = hostConfig
    }
}

/// What a container is created from: an image's ID, its config and its layers, unpacked (lowest
/// first).
public struct ContainerImage: Sendable {
    public var id: String
    public var config: ContainerConfig
    public var layers: [String]

    public init(id: String, config: ContainerConfig, layers: [String]) {
        self.id = id
        self.config = config
        self.layers = layers
    }
}

/// Runs containers: creates their records and bundles, starts each under its own monitor process
/// (which outlives the caller), and stops, kills, waits for and removes them. Any number of
/// Berth processes may use the same root at once; they coordinate through file locks.
public final class ContainerRuntime: Sendable {
    public let root: String
    public let containers: ContainerStore
    public let volumes: VolumeStore
    public let layout: CgroupLayout
    /// The program started as a container's monitor (`--root ROOT [--attach] ID`) and as `cp`'s
    /// container side (`--copy REQUEST`): `berth-monitor`, installed next to `berth`.
    public let monitorExecutable: String

    public init(root: String, monitorExecutable: String) throws {
        self.root = root
        self.containers = try ContainerStore(root: root)
        self.volumes = try VolumeStore(root: root)
        self.layout = CgroupLayout.detect()
        self.monitorExecutable = monitorExecutable
    }

    /// The OCI runtime the container was created with (HostConfig.Runtime).
    public func ociRuntime(for record: ContainerRecord) throws -> Runc {
        try Runc.named(record.hostConfig.runtime, root: root, layout: layout)
    }

    // MARK: Create

    /// Creates a container from an image: resolves the process from the image config and the
    /// options and records the container (status `created`). The caller looks the image up, so
    /// the runtime (and the monitor built on it) does without the image store and its database.
    public func create(_ options: RunOptions, image: ContainerImage, id: String = ContainerID.random()) throws -> ContainerRecord {
        let imageConfig = image.config
        let layers = image.layers

        var entrypoint = imageConfig.Entrypoint ?? []
        var cmd = imageConfig.Cmd ?? []
        if let override = options.entrypoint {
            entrypoint = override == [""] ? [] : override
            cmd = []
        }
        if !options.command.isEmpty { cmd = options.command }
        if entrypoint.isEmpty && cmd.isEmpty { throw RuntimeError.noCommand }

        let name = try options.name ?? containers.generateName()
        guard Self.isValidName(name) else { throw RuntimeError.invalidName(name) }

        var hostname = options.hostname ?? String(id.prefix(12))
        if options.hostname == nil, options.hostConfig.networkMode == "host" || options.hostConfig.utsMode == "host" {
            hostname = ProcessInfo.processInfo.hostName
        }
        var labels = imageConfig.Labels ?? [:]
        labels.merge(options.labels) { _, new in new }
        var config = ContainerRecord.Config(
            hostname: hostname, user: options.user ?? imageConfig.User ?? "",
            env: BundleBuilder.mergeEnvironment(imageConfig.Env ?? [], options.env),
            entrypoint: entrypoint, cmd: cmd, workingDir: options.workingDir ?? imageConfig.WorkingDir ?? "",
            labels: labels, stopSignal: options.stopSignal ?? imageConfig.StopSignal ?? "SIGTERM",
            stopTimeout: options.stopTimeout,
            exposedPorts: Set((imageConfig.ExposedPorts ?? [:]).keys).union(options.exposedPorts).sorted())
        config.healthcheck = Self.mergeHealthcheck(image: imageConfig.Healthcheck, flags: options.healthcheck)
        (config.tty, config.openStdin, config.stdinOnce) = (options.tty, options.openStdin, options.stdinOnce)
        (config.attachStdin, config.attachStdout, config.attachStderr) = (options.attachStdin, options.attachStdout, options.attachStderr)
        config.domainname = options.domainname ?? ""
        config.macAddress = options.macAddress ?? ""
        if !config.workingDir.isEmpty, !config.workingDir.hasPrefix("/") {
            throw RuntimeError.invalidOption("the working directory '\(config.workingDir)' is invalid, it needs to be an absolute path")
        }
        var hostConfig = options.hostConfig
        var endpointsConfig = try resolveNetwork(&hostConfig, aliases: options.networkAliases)
        if let address = options.ipv4Address {
            endpointsConfig = try requestAddress(address, endpoints: endpointsConfig, networkMode: hostConfig.networkMode)
        }
        if options.macAddress != nil, endpointsConfig.isEmpty {
            throw RuntimeError.invalidOption("conflicting options: mac-address and the network mode")
        }
        try checkSharedNamespaces(hostConfig)
        if hostConfig.autoRemove, hostConfig.restartPolicy.name != "no" {
            throw RuntimeError.invalidOption("Conflicting options: --restart and --rm")
        }
        if hostConfig.initProcess { _ = try BundleBuilder.initBinary() }
        try Self.applySecurityDefaults(&hostConfig)
        _ = try Runc.named(hostConfig.runtime, root: root, layout: layout)
        if hostConfig.publishAllPorts {
            guard !endpointsConfig.isEmpty else {
                throw RuntimeError.invalidOption("published ports are discarded when using \(hostConfig.networkMode) network mode")
            }
            // Each exposed port on a random host port, as `-P` does; a port `-p` maps keeps that mapping.
            let mapped = Set(try hostConfig.publish.flatMap { try PortMapping.parse($0) }.map { "\($0.containerPort)/\($0.proto)" })
            hostConfig.publish += config.exposedPorts.map { $0.contains("/") ? $0 : $0 + "/tcp" }.filter { !mapped.contains($0) }
        }
        var record = ContainerRecord(id: id, name: name, created: Date(), imageName: options.image,
                                     imageID: image.id, config: config,
                                     hostConfig: hostConfig, layers: layers)
        record.endpointsConfig = endpointsConfig
        record.mounts = try resolveMounts(options.mounts + (try mountsFrom(options.volumesFrom, besides: options.mounts)),
                                          imageVolumes: (imageConfig.Volumes ?? [:]).keys.sorted())
        do {
            try containers.create(record)
        } catch {
            for mount in record.mounts where mount.anonymous { try? volumes.remove(mount.name) }
            throw error
        }
        return record
    }

    /// Checks the capabilities and `--security-opt` values (a custom seccomp profile included) and
    /// records what dockerd records at create: `label=disable` for a privileged container that
    /// names no label, and the default masked and read-only paths unless the container is
    /// privileged or the client cleared them.
    static func applySecurityDefaults(_ hostConfig: inout ContainerRecord.HostConfig) throws {
        let capabilities = try BundleBuilder.capabilities(add: hostConfig.capAdd, drop: hostConfig.capDrop,
                                                          privileged: hostConfig.privileged)
        _ = try SecurityOptions(parsing: hostConfig.securityOpt ?? [])
            .linuxSeccomp(capabilities: capabilities, privileged: hostConfig.privileged)
        if hostConfig.privileged, !(hostConfig.securityOpt ?? []).contains(where: { $0.hasPrefix("label=") }) {
            hostConfig.securityOpt = (hostConfig.securityOpt ?? []) + ["label=disable"]
        }
        if !hostConfig.privileged {
            if hostConfig.maskedPaths == nil { hostConfig.maskedPaths = BundleBuilder.maskedPaths }
            if hostConfig.readonlyPaths == nil { hostConfig.readonlyPaths = BundleBuilder.readonlyPaths }
        }
    }

    /// Makes the volumes the mounts name (and an anonymous one for each image VOLUME no mount
    /// covers), refusing two mounts on one destination.
    func resolveMounts(_ requested: [MountPoint], imageVolumes: [String]) throws -> [MountPoint] {
        var seen = Set<String>()
        for mount in requested where !seen.insert(mount.destination).inserted {
            throw RuntimeError.invalidOption("Duplicate mount point: \(mount.destination)")
        }
        var mounts = requested
        for path in imageVolumes where !seen.contains(MountParser.clean(path)) {
            mounts.append(MountPoint(type: .volume, destination: MountParser.clean(path), anonymous: true))
        }
        var made: [String] = []
        do {
            for index in mounts.indices where mounts[index].type == .volume {
                let volume = try volumes.create(mounts[index].anonymous ? nil : mounts[index].name,
                                                anonymous: mounts[index].anonymous)
                if mounts[index].anonymous { made.append(volume.name) }
                mounts[index].name = volume.name
                mounts[index].source = volume.mountpoint
            }
        } catch {
            for name in made { try? volumes.remove(name) }
            throw error
        }
        return mounts
    }

    /// The image's health check with each field the flags set replacing its own, as Docker merges them.
    static func mergeHealthcheck(image: HealthConfig?, flags: HealthConfig?) -> HealthConfig? {
        guard let flags else { return image }
        var merged = image ?? HealthConfig()
        if let test = flags.Test { merged.Test = test }
        if let interval = flags.Interval { merged.Interval = interval }
        if let timeout = flags.Timeout { merged.Timeout = timeout }
        if let startPeriod = flags.StartPeriod { merged.StartPeriod = startPeriod }
        if let retries = flags.Retries { merged.Retries = retries }
        return merged.Test == nil ? nil : merged
    }

    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, isAlphanumeric(first) else { return false }
        return bytes.dropFirst().allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }

    // MARK: Look-up

    /// A container by ID, ID prefix or name, with its state reconciled (a container whose monitor
    /// died is shown exited and its resources released).
    public func container(_ reference: String) throws -> ContainerRecord {
        let record = try containers.find(reference)
        guard let current = try reconcile(record) else { throw RuntimeError.noSuchContainer(reference) }
        return current
    }

    /// Every container, newest first, reconciled.
    public func list() throws -> [ContainerRecord] {
        try containers.records().compactMap { try reconcile($0) }
    }

    /// Brings a record in line with reality: a `running` container whose monitor is gone is
    /// killed, its resources released and its state set to exited. Returns nil if it was removed.
    @discardableResult
    func reconcile(_ record: ContainerRecord) throws -> ContainerRecord? {
        guard [.running, .restarting, .paused].contains(record.state.status),
              !containers.monitorAlive(record.id) else { return record }
        let stillRunning = (try? ociRuntime(for: record).state(record.id))??.status == "running"
        releaseResources(record)
        let updated = try? containers.update(record.id) { current in
            guard [.running, .restarting, .paused].contains(current.state.status) else { return }
            current.state.status = .exited
            current.state.exitCode = stillRunning ? 137 : 255
            current.state.pid = 0
            current.state.monitorPID = 0
            current.state.finishedAt = Date()
        }
        guard let updated else { return nil }
        if updated.hostConfig.autoRemove {
            try removeFiles(updated)
            return nil
        }
        return updated
    }

    // MARK: Start

    /// Starts a created or exited container under a new monitor and returns once the container's
    /// process runs (or throws why it could not start). Keep the returned connection to wait
    /// for the exit code; dropping it leaves the container running on its own.
    public func start(_ reference: String) throws -> MonitorConnection {
        try startLocked(reference, attachingWith: nil).connection
    }

    /// Starts the container as `start` does with this process attached from the first byte: the
    /// monitor waits for the returned client before it starts the process (containers with `-i`
    /// or `-t`). `size` is the client's window size, for the container's terminal.
    public func startAttached(_ reference: String, size: TerminalSize?) throws -> (MonitorConnection, AttachClient) {
        let (connection, client) = try startLocked(reference, attachingWith: size ?? TerminalSize(rows: 0, columns: 0))
        guard let client else {
            connection.finish()
            throw RuntimeError.startFailed("the container's monitor did not offer an attach socket")
        }
        return (connection, client)
    }

    private func startLocked(_ reference: String, attachingWith size: TerminalSize?) throws
        -> (connection: MonitorConnection, client: AttachClient?) {
        let found = try containers.find(reference)
        // One start at a time per container, so a second one cannot clean up what the first's
        // monitor is setting up; it waits, then sees the container running.
        return try FileLock(containers.files(of: found.id).startLock).withLock {
            try startMonitor(found.id, attachingWith: size)
        }
    }

    private func startMonitor(_ reference: String, attachingWith size: TerminalSize?) throws
        -> (connection: MonitorConnection, client: AttachClient?) {
        let record = try container(reference)
        if record.state.status == .running || containers.monitorAlive(record.id) {
            throw RuntimeError.invalidOption("container \(record.name) is already running")
        }
        // A monitor killed before recording `running` may have left the runtime's state or mounts.
        releaseResources(record)
        try containers.update(record.id) { $0.state.manuallyStopped = false }
        let files = containers.files(of: record.id)
        let monitorLog = files.monitorLog
        let sync = try Pipe.make()
        let output = open(monitorLog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if output < 0 {
            sync.closeBoth()
            throw RuntimeError.lastIO("open", monitorLog)
        }
        let pid: pid_t
        do {
            pid = try Spawn.start([monitorExecutable, "--root", root] + (size == nil ? [] : ["--attach"]) + [record.id],
                                  descriptors: [(output, 1), (output, 2), (sync.write, 3)], newSession: true)
        } catch {
            close(output)
            sync.closeBoth()
            throw error
        }
        close(output)
        close(sync.write)
        let connection = MonitorConnection(descriptor: sync.read, monitorPID: pid)
        var client: AttachClient?
        while true {
            switch connection.readMessage() {
            case .attachable where size != nil && client == nil:
                do {
                    client = try AttachClient.connect(directory: files.path, size: size)
                } catch {
                    connection.finish()
                    throw error
                }
            case .started:
                return (connection, client)
            case .failed(let message):
                connection.finish()
                throw RuntimeError.startFailed(message)
            case .attachable, .exited, nil:
                connection.finish()
                let log = (try? Files.read(monitorLog)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                let lastLine = log.split(separator: "\n").last.map(String.init) ?? "the monitor exited before starting the container"
                throw RuntimeError.startFailed(lastLine)
            }
        }
    }

    // MARK: Stop, kill, wait

    /// Sends `signal` (default: the container's stop signal), then SIGKILL after `timeout` seconds
    /// (default: the container's stop timeout, else 10), and waits for it to exit. A stopped
    /// container is left as is.
    public func stop(_ reference: String, timeout: Int? = nil, signal: String? = nil) throws {
        guard let stopping = try beginStop(reference, timeout: timeout, signal: signal) else { return }
        if let grace = stopping.grace, waitForMonitor(stopping.record.id, timeout: grace) { return }
        try finishStop(stopping.record)
    }

    /// The first half of `stop`: marks the container stopped by the user (so its restart policy
    /// leaves it stopped) and sends it the stop signal, unless the grace period is 0. Returns the
    /// container and how long to wait for its exit (nil: without end) before `finishStop`; nil
    /// when it does not run.
    public func beginStop(_ reference: String, timeout: Int? = nil, signal: String? = nil,
                          beforeSignal: (ContainerRecord) -> Void = { _ in }) throws
        -> (record: ContainerRecord, grace: Double?)? {
        let record = try container(reference)
        guard [.running, .restarting, .paused].contains(record.state.status) else { return nil }
        try containers.update(record.id) { $0.state.manuallyStopped = true }
        let grace = timeout ?? record.config.stopTimeout ?? 10
        guard grace != 0 else { return (record, 0) }
        beforeSignal(record)
        try? ociRuntime(for: record).kill(record.id, signal: Self.signalName(signal ?? record.config.stopSignal))
        // A frozen process gets the signal once thawed, as dockerd's stop of a paused container does.
        if record.state.status == .paused { try? unpause(record.id) }
        return (record, grace < 0 ? nil : Double(grace))
    }

    /// The second half of `stop`: SIGKILL, then waits (at most 30 s) for the monitor to record the exit.
    public func finishStop(_ record: ContainerRecord) throws {
        try? ociRuntime(for: record).kill(record.id, signal: "KILL")
        if (try? containers.record(record.id))??.state.status == .paused { try? unpause(record.id) }
        if !waitForMonitor(record.id, timeout: 30) {
            throw RuntimeError.runtime("container \(record.shortID) did not exit after SIGKILL")
        }
    }

    /// Sends a signal (name or number) to a running container.
    public func kill(_ reference: String, signal: String = "KILL") throws {
        let record = try container(reference)
        guard record.state.status == .running || record.state.status == .paused else { throw RuntimeError.notRunning(record.id) }
        try containers.update(record.id) { $0.state.manuallyStopped = true }
        try ociRuntime(for: record).kill(record.id, signal: Self.signalName(signal))
    }

    /// Waits for the container to stop and returns its exit code (nil if it was removed on exit).
    public func wait(_ reference: String) throws -> Int32? {
        let record = try container(reference)
        if record.state.status == .running { _ = waitForMonitor(record.id, timeout: nil) }
        guard let final = try containers.record(record.id) else { return nil }
        return try reconcile(final)?.state.exitCode
    }

    /// Polls until the container's monitor has exited; false on timeout.
    func waitForMonitor(_ id: String, timeout: Double?) -> Bool {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while containers.monitorAlive(id) {
            if let deadline, Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// runc accepts `TERM`, `SIGTERM` or a number.
    static func signalName(_ signal: String) -> String {
        let upper = signal.uppercased()
        return upper.hasPrefix("SIG") ? String(upper.dropFirst(3)) : upper
    }

    // MARK: Rename

    /// Renames a container; the name must be valid and not used by another container. The networks
    /// with DNS it is attached to answer the new name at once, as Docker's embedded DNS does.
    public func rename(_ reference: String, to name: String) throws {
        let record = try container(reference)
        let newName = name.hasPrefix("/") ? String(name.dropFirst()) : name
        guard Self.isValidName(newName) else { throw RuntimeError.invalidName(newName) }
        if newName == record.name {
            throw RuntimeError.invalidOption("Renaming a container with the same name as its current name")
        }
        try containers.rename(record.id, to: newName)
        try renameInNetworks(try container(record.id))
    }

    // MARK: Remove

    /// Removes every container that is not running (created, exited or dead) and passes
    /// `include`; returns the removed ones. A container whose removal fails is left and skipped.
    public func prune(where include: (ContainerRecord) -> Bool = { _ in true }) throws -> [ContainerRecord] {
        var removed: [ContainerRecord] = []
        for record in try list() where record.state.status != .running && !containers.monitorAlive(record.id) && include(record) {
            guard (try? remove(record.id, force: false)) != nil else { continue }
            removed.append(record)
        }
        return removed
    }

    /// Whether the container runs, paused and restarting included (Docker's IsRunning), for the
    /// image conflict rules: a missing container does not.
    public func isRunning(_ id: String) -> Bool {
        guard let record = try? containers.record(id) else { return false }
        return [.running, .paused, .restarting].contains(record.state.status)
    }

    /// Removes a container: refuses a running one unless `force` (which kills it first), then
    /// releases its runtime state, network, mounts and cgroups and deletes its directory.
    public func remove(_ reference: String, force: Bool, volumes removeVolumes: Bool = false) throws {
        let record = try container(reference)
        if [.running, .restarting, .paused].contains(record.state.status) {
            guard force else { throw RuntimeError.containerRunning(record.id) }
            try containers.update(record.id) { $0.state.manuallyStopped = true }
            try finishStop(record)
        } else if containers.monitorAlive(record.id) {
            // A monitor is between creating and starting the container.
            guard force else { throw RuntimeError.containerRunning(record.id) }
            _ = waitForMonitor(record.id, timeout: 30)
        }
        guard let current = try containers.record(record.id) else { return }
        releaseResources(current)
        try removeFiles(current, volumes: removeVolumes)
    }

    /// Deletes the container's directory (its record last but one, so a half-removed container
    /// is still listed and can be removed again), and its anonymous volumes when asked to or
    /// when it was started with `--rm`, as Docker does.
    func removeFiles(_ record: ContainerRecord, volumes removeVolumes: Bool = false) throws {
        let directory = containers.path(of: record.id)
        try Overlay.unmount(directory: directory)
        try Files.removeTree(directory)
        guard removeVolumes || record.hostConfig.autoRemove else { return }
        for mount in record.mounts where mount.type == .volume && mount.anonymous {
            try? volumes.remove(mount.name)
        }
    }

    /// The containers (IDs) whose mounts use the volume `name`.
    public func users(ofVolume name: String) throws -> [String] {
        try containers.records().filter { $0.mounts.contains { $0.type == .volume && $0.name == name } }.map(\.id)
    }

    /// Removes a volume unless a container uses it (`force` does not override that, as in Docker).
    public func removeVolume(_ name: String) throws {
        let users = try users(ofVolume: name)
        guard users.isEmpty else { throw RuntimeError.volumeInUse(name: name, containers: users) }
        try volumes.remove(name)
    }

    /// Releases everything a container holds outside its directory; each step tolerates what is
    /// already gone, so it can run again after a crash.
    func releaseResources(_ record: ContainerRecord) {
        // `runc delete` is mostly a Go program starting: it runs while the network and the
        // rootfs are released, and the cgroups are seen to only once it is done.
        let deleting = (try? ociRuntime(for: record))?.startDelete(record.id)
        detachNetwork(record)
        try? Overlay.unmount(directory: containers.path(of: record.id))
        unmountSharedMemory(record.id)
        if let deleting { _ = Spawn.wait(deleting) }
        layout.removeDirectories(for: record.id)
    }

    /// Removes the monitors this process started and that have exited from the process table.
    public static func reapMonitors() {
        MonitorConnection.reapFinished()
    }
}
