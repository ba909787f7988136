import BerthFiles
import BerthOCI
import BerthProcess
import CBerth
import Foundation
import Glibc

/// The per-container monitor: a process of its own (`berth-monitor`, in a new session so it
/// outlives the CLI) that mounts the rootfs, creates the container with runc with pipes as its
/// stdout and stderr, attaches the network, starts it, re-executes itself to idle small
/// (`MonitorHandover`), copies its output into the json-file log, waits for its exit as the child
/// subreaper, records the exit code and releases (or, for `--rm`, removes) the container.
public enum Monitor {
    /// Runs the monitor for container `id`, reporting on `syncDescriptor` (`started`,
    /// `error <message>`, then `exited <code>`). With `awaitAttach`, it first reports `attachable`
    /// and waits for the caller to attach before the process starts. Returns its own exit status.
    public static func main(root: String, id: String, syncDescriptor: Int32 = 3, awaitAttach: Bool = false) -> Int32 {
        run(root: root, id: id, sync: syncDescriptor) { runtime, report in
            let lock = runtime.containers.monitorLock(of: id)
            guard try lock.tryLock() else {
                report("error another monitor already runs container \(id)")
                return nil
            }
            return lock
        } body: { runtime, report, lock in
            try runtime.monitor(id: id, report: report, awaitingClientOn: awaitAttach ? syncDescriptor : nil,
                                idle: handOver(root: root, id: id, lock: lock, sync: syncDescriptor))
        }
    }

    /// Goes on monitoring a running container after the monitor re-executed itself
    /// (`--resume ID …`, see `MonitorHandover`); nil if `arguments` are not a handover's.
    public static func resume(root: String, arguments: [String]) -> Int32? {
        guard let handover = MonitorHandover(arguments: arguments) else { return nil }
        MonitorHandover.keepPrivate(handover.descriptors)
        // Executed as /proc/self/exe, the process is named `exe`; `ps` should see the monitor.
        _ = berth_set_thread_name("berth-monitor")
        return run(root: root, id: handover.id, sync: handover.sync) { runtime, _ in
            FileLock(runtime.containers.monitorLock(of: handover.id).path, holdingOn: handover.lock)
        } body: { runtime, report, lock in
            try runtime.monitor(id: handover.id, report: report, resuming: handover.run,
                                idle: handOver(root: root, id: handover.id, lock: lock, sync: handover.sync))
        }
    }

    /// The monitor process around its work: SIGPIPE ignored, reports on `sync`, the monitor
    /// lock `acquire` returns (nil: taken elsewhere, already reported) held, the subreaper role.
    private static func run(root: String, id: String, sync: Int32,
                            acquire: (ContainerRuntime, (String) -> Void) throws -> FileLock?,
                            body: (ContainerRuntime, (String) -> Void, FileLock) throws -> Int32) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        if sync >= 0 { _ = fcntl(sync, F_SETFD, FD_CLOEXEC) }
        let report = { (line: String) in
            guard sync >= 0 else { return }
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(sync, $0.baseAddress, $0.count) }
        }
        do {
            let runtime = try ContainerRuntime(root: root, monitorExecutable: "")
            guard let lock = try acquire(runtime, report) else { return 1 }
            // Preserved across execve (prctl(2)), but cheap to make sure of.
            setChildSubreaper()
            _ = try body(runtime, report, lock)
            lock.unlock()
            return 0
        } catch {
            report("error \(error)")
            FileHandle.standardError.write(Data("monitor \(id): \(error)\n".utf8))
            return 1
        }
    }

    /// What the monitor does once a run has started and before it idles: re-executes itself with
    /// the run's streams, so the idle process is small. Returns only if that is not possible.
    private static func handOver(root: String, id: String, lock: FileLock, sync: Int32) -> (MonitorHandover.Run) -> Void {
        { run in MonitorHandover(id: id, lock: lock.descriptor, sync: sync, run: run).execute(root: root) }
    }

    /// Makes orphaned descendants (the container's init, once `runc create` exits) this process's
    /// children, so it can wait for them.
    static func setChildSubreaper() {
        _ = berth_set_child_subreaper()
    }
}

extension ContainerRuntime {
    /// The root's event log, where a monitor records what it sees happen to its container.
    var events: EventLog { EventLog(root: containers.root) }

    /// How long a run goes on in the monitor that started it before that monitor re-executes
    /// itself to idle small (`MonitorHandover`).
    static let handoverDelay: Duration = .milliseconds(250)

    /// The monitor's work: runs the container, and again under its restart policy with Docker's
    /// back-off (100 ms, doubling, back to 100 ms after 10 s of running) until the policy says
    /// stop; reports each exit; returns the last exit code. With `sync`, the first run waits for
    /// a client on the attach socket while the caller holds `sync`'s other end. Each run, once
    /// started, is passed to `idle` (which re-executes the monitor, and returns only if it could
    /// not); `resuming` is such a run, taken over.
    func monitor(id: String, report: (String) -> Void, awaitingClientOn sync: Int32? = nil,
                 resuming handover: MonitorHandover.Run? = nil, idle: (MonitorHandover.Run) -> Void) throws -> Int32 {
        let directory = containers.path(of: id)
        var backoff: TimeInterval = handover?.backoff ?? 0.1
        var isFirstRun = handover == nil
        var resumed = handover
        while true {
            let pid: Int32
            let io: ContainerIO
            let log: LogWriter?
            let prober: HealthProber?
            if let run = resumed {
                resumed = nil
                pid = run.pid
                io = try ContainerIO(resuming: run.streams, directory: directory)
                log = run.log.flatMap { (try? LogWriter($0)) ?? (try? LogWriter(path: "/dev/null")) }
                // Only a health check needs the record while the container runs.
                prober = run.healthCheck ? try containers.record(id).flatMap { HealthProber(runtime: self, record: $0) } : nil
            } else {
                guard var record = try containers.record(id) else { throw RuntimeError.noSuchContainer(id) }
                do {
                    (record, io) = try createContainer(record, directory: directory, awaitingClientOn: isFirstRun ? sync : nil,
                                                       report: report)
                } catch {
                    releaseResources(record)
                    let updated = try? containers.update(id) { current in
                        current.state.status = isFirstRun ? .created : .exited
                        current.state.exitCode = 128
                        current.state.error = "\(error)"
                        current.state.monitorPID = 0
                    }
                    if let updated, updated.hostConfig.autoRemove { try? removeFiles(updated) }
                    if isFirstRun { throw error }
                    return 128
                }
                pid = record.state.pid
                // The log exists before `started` is reported, so a foreground caller can open it at once.
                log = LogWriter.forContainer(path: containers.logPath(of: id), config: record.hostConfig.logConfig ?? LogConfig())
                if isFirstRun { report("started") }
                isFirstRun = false
                prober = HealthProber(runtime: self, record: record)
                // A run that ends within its first moments is seen out here: the exec would only
                // delay its exit (and a `run --rm`); one that goes on idles in the lean process,
                // unless its log could not be continued there exactly.
                if !io.relay(into: log, until: .now + Self.handoverDelay), log?.canBeReopened ?? true,
                   let streams = io.handover {
                    idle(MonitorHandover.Run(pid: pid, backoff: backoff, streams: streams, log: log?.settings,
                                             healthCheck: prober != nil))
                }
            }
            prober?.start()
            let exitCode = try finishRun(id, pid: pid, io: io, log: log)
            prober?.stop()
            // `exited` is reported once the container is removed (`--rm`), so a waiter finds it gone.
            guard let current = try containers.record(id) else {
                report("exited \(exitCode)")
                return exitCode
            }
            // Every exit, whoever caused it, is seen here: the one place that records `die`, with
            // the exit code a `wait` for a container that removes itself answers.
            events.record(.container, "die", id: id, attributes: current.eventAttributes(["exitCode": String(exitCode)]))
            recordNetworkEvents("disconnect", current)
            guard current.hostConfig.restartPolicy.restarts(exitCode: exitCode, restarts: current.state.restartCount,
                                                            manuallyStopped: current.state.manuallyStopped) else {
                if current.hostConfig.autoRemove {
                    try removeFiles(current)
                    events.record(.container, "destroy", id: id, attributes: current.eventAttributes())
                }
                report("exited \(exitCode)")
                return exitCode
            }
            report("exited \(exitCode)")
            if Date().timeIntervalSince(current.state.startedAt ?? Date()) >= 10 { backoff = 0.1 }
            try containers.update(id) { state in
                state.state.status = .restarting
                state.state.restartCount += 1
                state.state.monitorPID = getpid()
            }
            // Wait out the back-off, unless `stop` or `kill` arrives meanwhile.
            let deadline = Date().addingTimeInterval(backoff)
            while Date() < deadline {
                usleep(50_000)
                if (try? containers.record(id))??.state.manuallyStopped ?? true { break }
            }
            backoff = min(backoff * 2, 60)
            if (try? containers.record(id))??.state.manuallyStopped ?? true {
                let record = try containers.update(id) { state in
                    state.state.status = .exited
                    state.state.monitorPID = 0
                }
                if record.hostConfig.autoRemove { try removeFiles(record) }
                return exitCode
            }
        }
    }

    /// Mounts, writes the bundle, runs `runc create` with the container's streams, attaches the
    /// network, with `sync` reports `attachable` and waits for the attaching client, and starts
    /// the container. A container with no network to attach and no client to wait for is created
    /// and started by one `runc run --detach`, which spares a runtime process. On return the
    /// container runs and the record says so.
    private func createContainer(_ initial: ContainerRecord, directory: String, awaitingClientOn sync: Int32?,
                                 report: (String) -> Void) throws -> (ContainerRecord, ContainerIO) {
        var record = initial
        let rootfs = try Overlay.mount(lowers: record.layers, directory: directory)
        let users = UserResolver(rootfs: rootfs)
        let (user, home) = try users.resolve(record.config.user, groupAdd: record.hostConfig.groupAdd)
        if !record.config.workingDir.isEmpty {
            let target = SecurePath.join(rootfs, record.config.workingDir)
            if !Files.exists(target) {
                try Files.makeDirectories(target)
                _ = chown(target, user.uid, user.gid)
            }
        }
        try fillNewVolumes(record, rootfs: rootfs)
        record.network = ContainerRecord.NetworkSettings()
        if record.hostConfig.networkMode.hasPrefix("container:"),
           let donor = try? container(String(record.hostConfig.networkMode.dropFirst("container:".count))) {
            // The joined namespace's address names this container in its /etc/hosts, as in the donor's.
            record.network.ipAddress = donor.network.ipAddress
            record.network.nameServer = donor.network.nameServer
        }
        try BundleBuilder.writeEtcFiles(directory: directory, record: record)
        var builder = BundleBuilder(record: record, directory: directory, rootfs: rootfs, layout: layout)
        builder.sharedNamespaces = try sharedNamespacePaths(record)
        try mountSharedMemory(record)
        let spec = try builder.spec(user: user, home: home, networkNamespace: nil)
        let files = containers.files(of: record.id)
        try Files.writeAtomically(CanonicalJSON.encode(spec), to: files.bundleConfig, mode: 0o600, durability: .atomicOnly)

        let io = try ContainerIO(config: record.config, directory: directory)
        var handedOver = false
        defer { if !handedOver { io.close() } }
        let pidFile = files.initPid
        unlink(pidFile)
        let logFile = files.runtimeLog
        unlink(logFile)
        // An attaching API client that came before the start holds it (`AttachHold`).
        let heldForClient = sync == nil && (record.config.tty || record.config.openStdin)
            && AttachHold.isHeld(directory: directory)
        let startsAtOnce = record.endpointsConfig.isEmpty && sync == nil && !heldForClient
        let runtime = try ociRuntime(for: record)
        let creator = try Spawn.start(runtime.createArguments(id: record.id, bundle: directory, pidFile: pidFile, logFile: logFile,
                                                              options: io.runtimeArguments, start: startsAtOnce),
                                      descriptors: io.childDescriptors)
        let status = Spawn.wait(creator)
        guard status == 0 else {
            let step = startsAtOnce ? "run" : "create"
            throw RuntimeError.runtime(Runc.lastError(inLog: logFile) ?? "\(runtime.binary) \(step) exited with status \(status)")
        }
        try io.created()
        guard let pid: Int32 = Files.readNumber(pidFile) else {
            throw RuntimeError.runtime("runc create did not write the container's pid")
        }
        record.state.pid = pid
        if !record.endpointsConfig.isEmpty {
            record.network = try attachNetworks(record, pid: pid)
            try BundleBuilder.writeEtcFiles(directory: directory, record: record)
        }
        if let sync {
            report("attachable")
            // Docker does not start a container whose attaching client is gone.
            guard io.awaitFirstClient(whileReaderOf: sync) else {
                throw RuntimeError.startFailed("the client attaching to the container went away")
            }
        } else if heldForClient {
            // The start was asked for by someone else: it goes on even if the client went away.
            _ = io.awaitFirstClient(while: { AttachHold.isHeld(directory: directory) })
        }
        if !startsAtOnce { try runtime.start(record.id) }
        // Recorded once attached, as dockerd's order has it: after an attaching client, before `start`.
        recordNetworkEvents("connect", record)
        let network = record.network
        let running = try containers.update(record.id) { current in
            current.state.status = .running
            current.state.pid = pid
            current.state.exitCode = 0
            current.state.error = ""
            current.state.startedAt = Date()
            current.state.finishedAt = nil
            current.state.monitorPID = getpid()
            current.network = network
        }
        handedOver = true
        return (running, io)
    }

    /// Relays the container's streams (output into the log) until its output closes, reaps the
    /// container (init `pid`), then records the exit and releases the container. The record is
    /// read only now: a re-executed monitor idles without it.
    private func finishRun(_ id: String, pid: Int32, io: ContainerIO, log: LogWriter?) throws -> Int32 {
        io.relay(into: log)
        log?.close()
        let exitCode = waitForContainer(pid)
        guard let record = try containers.record(id) else { throw RuntimeError.noSuchContainer(id) }
        let oomKilled = exitCode == 137 && Self.oomKilled(record)
        releaseResources(record)
        try containers.update(id) { current in
            current.state.status = .exited
            current.state.exitCode = exitCode
            current.state.pid = 0
            current.state.monitorPID = 0
            current.state.finishedAt = Date()
            current.state.oomKilled = oomKilled
        }
        return exitCode
    }

    /// Waits for the container's init (our child through the subreaper) and returns its exit code.
    /// Orphans of `runc exec` are reparented to us meanwhile; they are reaped as they come, since
    /// an init cannot finish exiting while its namespace still has unreaped processes. The init's
    /// pidfd wakes the wait the moment it exits, rather than at the next 20 ms tick.
    private func waitForContainer(_ pid: Int32) -> Int32 {
        let exited = Spawn.exitDescriptor(of: pid)
        defer { if let exited { close(exited) } }
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return Spawn.decode(status) }
            if result < 0, errno == EINTR { continue }
            if result < 0 { break }
            Spawn.reapOrphans(sparing: [pid])
            if let exited {
                var fds = [pollfd(fd: exited, events: Int16(POLLIN), revents: 0)]
                _ = poll(&fds, 1, 20)
            } else {
                usleep(20_000)
            }
        }
        // Not our child (no subreaper): wait for it to disappear; the code is unknown.
        while Glibc.kill(pid, 0) == 0 { usleep(50_000) }
        return 255
    }

    /// Whether the kernel's OOM killer struck the container's memory cgroup (v1 and hybrid).
    static func oomKilled(_ record: ContainerRecord) -> Bool {
        guard record.hostConfig.memory > 0,
              let text = try? Files.read("/sys/fs/cgroup/memory" + CgroupLayout.path(for: record.id) + "/memory.oom_control") else {
            return false
        }
        return String(decoding: text, as: UTF8.self).contains("oom_kill 1")
    }
}

extension ContainerRuntime {
    /// Fills each empty volume with what the image has at its mount point (unless `nocopy`), as
    /// Docker does on a volume's first use; the volume's directory takes that directory's owner
    /// and mode, so a non-root image user can write to it.
    func fillNewVolumes(_ record: ContainerRecord, rootfs: String) throws {
        for mount in record.mounts where mount.type == .volume && !mount.noCopy {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: mount.source)) ?? []
            guard entries.isEmpty else { continue }
            let source = SecurePath.join(rootfs, mount.destination)
            var info = stat()
            guard lstat(source, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { continue }
            let result = try Spawn.run(["cp", "-a", "--", source + "/.", mount.source])
            guard result.status == 0 else {
                throw RuntimeError.runtime("copying \(mount.destination) into volume \(mount.name): \(result.stderrText)")
            }
        }
    }
}
