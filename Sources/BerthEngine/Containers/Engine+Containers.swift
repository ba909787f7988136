import BerthNetwork
import BerthOCI
import BerthProcess
import BerthRuntime
import BerthStore
import Foundation
import Glibc

/// What `wait` waits for (the API's `condition`).
public enum WaitCondition: String, Sendable {
    /// The container is not running: at once if it is not.
    case notRunning = "not-running"
    /// The container's next exit, even if it does not run now.
    case nextExit = "next-exit"
    /// The container is removed.
    case removed
}

/// Docker's `container prune` result.
public struct ContainersPruned: Sendable, Equatable {
    public var deleted: [String]
    public var spaceReclaimed: Int64
}

extension Engine {
    // MARK: Create

    /// Creates a container from `options`: checks them, holds the image (so no `rmi` or prune
    /// takes its layers from under the container), unpacks its layers and records the container.
    public func createContainer(_ options: ContainerCreateOptions) async throws -> ContainerRecord {
        let record = try await blocking { try self.createContainerNow(options) }
        events.record(.container, "create", id: record.id, attributes: record.eventAttributes())
        return record
    }

    private func createContainerNow(_ options: ContainerCreateOptions) throws -> ContainerRecord {
        let run = try options.runOptions()
        let store = try store()
        // The container holds its image from before it exists: its lease lives while this process
        // or the container's directory does.
        let id = ContainerID.random()
        let lease = Lease.container(id, directory: runtime.containers.path(of: id))
        do {
            let image: ImageRecord
            do {
                image = try store.holdImage(named: options.image, in: lease)
            } catch StoreError.noSuchImage {
                throw EngineError.notFound("No such image: \(Self.familiarImageName(options.image))")
            }
            let imageConfig = try store.config(of: image)
            if let text = options.platform, !text.isEmpty, !(try PlatformText(parsing: text)).matches(os: imageConfig.os, architecture: imageConfig.architecture) {
                throw EngineError.notFound("image with reference \(options.image) was found but does not match the specified platform: wanted \(text), actual: \(imageConfig.os)/\(imageConfig.architecture)")
            }
            let config = imageConfig.config ?? ContainerConfig()
            do {
                return try runtime.create(run, image: ContainerImage(id: image.id.description, config: config, layers: store.unpack(image)), id: id)
            } catch let error as PortSpecError {
                throw RuntimeError.invalidOption(error.description)
            }
        } catch {
            try? store.release(lease)
            throw error
        }
    }

    /// `busybox` as dockerd names a missing image: `busybox:latest`.
    static func familiarImageName(_ name: String) -> String {
        guard !name.hasPrefix("sha256:"), let reference = try? Reference(parsing: name) else { return name }
        return reference.digest == nil ? reference.withDefaultTag.familiarString : reference.familiarString
    }

    /// A container by ID, unique ID prefix or name, its state reconciled.
    public func container(_ reference: String) async throws -> ContainerRecord {
        try await blocking { try self.runtime.container(reference) }
    }

    // MARK: Start, stop, kill, restart

    /// Starts a created or stopped container and returns once its process runs; the container's
    /// monitor keeps it running. `notModified` when it runs already.
    public func startContainer(_ reference: String) async throws {
        let record = try await blocking { () throws -> ContainerRecord in
            let record = try self.runtime.container(reference)
            if [.running, .paused, .restarting].contains(record.state.status) {
                throw EngineError(.notModified, "container \(record.id) is already running")
            }
            do {
                try self.runtime.start(record.id).finish()
            } catch RuntimeError.startFailed(let message) {
                throw ContainerStartError(runtimeMessage: message, description: RuntimeError.startFailed(message).description)
            }
            return record
        }
        events.record(.container, "start", id: record.id, attributes: record.eventAttributes())
    }

    /// Starts the container on the calling thread for a front end that follows the run to its
    /// exit (the CLI's foreground `run` and `start -a`): the monitor's report, and when `attach`
    /// an attach client connected before the process starts (for `-i` and `-t`), with the
    /// client's window `size` when it has a terminal.
    public func startContainerFollowing(_ reference: String, attach: Bool = false, size: TerminalSize? = nil) throws
        -> (connection: MonitorConnection, client: AttachClient?) {
        let record = try runtime.container(reference)
        // The front end follows the container's output: dockerd logs that attach before the
        // start (and before the container's network connects).
        events.record(.container, "attach", id: record.id, attributes: record.eventAttributes())
        let started: (MonitorConnection, AttachClient?)
        do {
            if attach {
                let (connection, client) = try runtime.startAttached(record.id, size: size)
                started = (connection, client)
            } else {
                started = (try runtime.start(record.id), nil)
            }
        } catch RuntimeError.startFailed(let message) {
            throw ContainerStartError(runtimeMessage: message, description: RuntimeError.startFailed(message).description)
        }
        events.record(.container, "start", id: record.id, attributes: record.eventAttributes())
        return started
    }

    /// Sends the stop signal (default: the container's), waits `timeout` seconds (default: the
    /// container's stop timeout, else 10; -1 without end) for the exit, then SIGKILL.
    /// `notModified` when it does not run.
    public func stopContainer(_ reference: String, timeout: Int? = nil, signal: String? = nil) async throws {
        let signalNumber = try signal.map { String(try SignalName.parse($0)) }
        // The `kill` event goes out before the signal: the monitor records `die` as soon as the
        // process is gone.
        let stopping = try await blocking {
            try self.runtime.beginStop(reference, timeout: timeout, signal: signalNumber) { record in
                let sent = (try? SignalName.parse(signal ?? record.config.stopSignal)) ?? SIGTERM
                self.events.record(.container, "kill", id: record.id, attributes: record.eventAttributes(["signal": String(sent)]))
            }
        }
        guard let stopping else {
            let record = try await blocking { try self.runtime.container(reference) }
            throw EngineError(.notModified, "container \(record.id) is already stopped")
        }
        let record = stopping.record
        let exited = try await waitForMonitor(record.id, seconds: stopping.grace)
        if !exited {
            events.record(.container, "kill", id: record.id, attributes: record.eventAttributes(["signal": String(SIGKILL)]))
            try await blocking { try self.runtime.finishStop(record) }
        }
        events.record(.container, "stop", id: record.id, attributes: record.eventAttributes())
    }

    /// Sends `signal` (default SIGKILL) to a running container.
    public func killContainer(_ reference: String, signal: String = "KILL") async throws {
        let number = try SignalName.parse(signal.isEmpty ? "KILL" : signal)
        let record = try await blocking { () throws -> ContainerRecord in
            let record: ContainerRecord
            do {
                record = try self.runtime.container(reference)
            } catch RuntimeError.noSuchContainer {
                throw EngineError.notFound("Cannot kill container: \(reference): No such container: \(reference)")
            }
            guard [.running, .paused].contains(record.state.status) else {
                throw EngineError.conflict("Cannot kill container: \(reference): Container \(record.id) is not running")
            }
            // Before the signal: the monitor records `die` as soon as the process is gone.
            self.events.record(.container, "kill", id: record.id, attributes: record.eventAttributes(["signal": String(number)]))
            try self.runtime.kill(record.id, signal: String(number))
            return record
        }
        // As dockerd's, a SIGKILL returns once the container has stopped, so a `rm` that follows
        // finds it stopped.
        if number == SIGKILL { _ = try await waitForMonitor(record.id, seconds: 10) }
    }

    /// Stops the container as `stop` does (when it runs), then starts it again.
    public func restartContainer(_ reference: String, timeout: Int? = nil, signal: String? = nil) async throws {
        do {
            try await stopContainer(reference, timeout: timeout, signal: signal)
        } catch let error as EngineError where error.kind == .notModified {}
        let record = try await blocking { try self.runtime.container(reference) }
        do {
            try await startContainer(record.id)
        } catch let error as EngineError where error.kind == .notModified {}
        events.record(.container, "restart", id: record.id, attributes: record.eventAttributes())
    }

    /// Polls (without holding a thread) until the container's monitor has exited: true, or false
    /// once `seconds` have passed (nil: without end).
    func waitForMonitor(_ id: String, seconds: Double?) async throws -> Bool {
        let deadline = seconds.map { ContinuousClock.now + .milliseconds(Int64($0 * 1000)) }
        while runtime.isMonitored(id) {
            if let deadline, ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    // MARK: Wait

    /// Waits until `condition` holds and returns the container's exit code. Polls the container's
    /// record and monitor lock, so a wait holds no thread however long it lasts; cancelling the
    /// task ends it. `asked` is the container as it was when the wait was asked for, when that was
    /// before now: `next-exit` waits for an exit after it, and `removed` still answers once the
    /// container is gone.
    public func waitContainer(_ reference: String, condition: WaitCondition = .notRunning, asked: ContainerRecord? = nil) async throws -> Int32 {
        var last = if let asked { asked } else { try await blocking { try self.runtime.container(reference) } }
        let id = last.id
        let finishedAt = last.state.finishedAt
        while true {
            let current = try await blocking { () -> ContainerRecord? in
                do { return try self.runtime.container(id) } catch RuntimeError.noSuchContainer { return nil }
            }
            // Gone (`run --rm`): its monitor recorded the exit code in the `die` event before it
            // removed the container.
            guard let current else { return events.lastExitCode(ofContainer: id) ?? last.state.exitCode }
            last = current
            let running = [.running, .paused].contains(current.state.status) && runtime.isMonitored(id)
            switch condition {
            case .notRunning where !running:
                return current.state.exitCode
            case .nextExit where current.state.finishedAt != finishedAt && !running:
                return current.state.exitCode
            default:
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    // MARK: Rename, remove, prune

    public func renameContainer(_ reference: String, to name: String) async throws {
        let (old, renamed) = try await blocking { () throws -> (ContainerRecord, ContainerRecord) in
            let old = try self.runtime.container(reference)
            do {
                try self.runtime.rename(old.id, to: name)
            } catch let error as RuntimeError {
                guard case .nameInUse = error else { throw error }
                throw EngineError.conflict("Error when allocating new name: \(error)")
            }
            return (old, try self.runtime.container(old.id))
        }
        events.record(.container, "rename", id: renamed.id, attributes: renamed.eventAttributes(["oldName": "/" + old.name]))
    }

    /// Removes a container (`force`: a running one too, killed first), its anonymous volumes when
    /// `volumes`. Links do not exist in Berth: `link` is refused.
    public func removeContainer(_ reference: String, force: Bool = false, volumes: Bool = false, link: Bool = false) async throws {
        if link { throw EngineError.invalidParameter("links are not supported by berth: there is no link to remove") }
        let record = try await blocking { () throws -> ContainerRecord in
            let record = try self.runtime.container(reference)
            if !force, [.running, .paused, .restarting].contains(record.state.status) {
                throw EngineError.conflict("cannot remove container \"/\(record.name)\": container is running: stop the container before removing or force remove")
            }
            // Before the kill, so the monitor's `die` follows it as in dockerd's log.
            if record.state.running || record.state.status == .paused {
                self.events.record(.container, "kill", id: record.id, attributes: record.eventAttributes(["signal": String(SIGKILL)]))
            }
            try self.runtime.remove(record.id, force: force, volumes: volumes)
            return record
        }
        if record.state.running || record.state.status == .paused {
            // Its monitor records `die` when it sees the exit, unless the removal ended it first.
            if events.lastEvent(ofContainer: record.id)?.action != "die" {
                events.record(.container, "die", id: record.id, attributes: record.eventAttributes(["exitCode": "137"]))
            }
        }
        events.record(.container, "destroy", id: record.id, attributes: record.eventAttributes())
    }

    /// The filters `container prune` takes.
    public static let pruneFilterKeys: Set<String> = ["until", "label", "label!"]

    /// Removes every stopped container the filters (`until`, `label`, `label!`) keep.
    public func pruneContainers(_ filters: Filters) async throws -> ContainersPruned {
        try filters.validate(Self.pruneFilterKeys)
        let until = try filters.time("until")
        let (removed, reclaimed) = try await blocking { () throws -> ([ContainerRecord], Int64) in
            var reclaimed: Int64 = 0
            let removed = try self.runtime.prune { record in
                guard filters.matchesLabels(record.config.labels), until.map({ record.created < $0 }) ?? true else { return false }
                reclaimed += DiskUsage.bytes(self.runtime.containers.path(of: record.id) + "/upper")
                return true
            }
            return (removed, reclaimed)
        }
        for record in removed { events.record(.container, "destroy", id: record.id, attributes: record.eventAttributes()) }
        events.record(.container, "prune", id: "", attributes: ["reclaimed": String(reclaimed)])
        return ContainersPruned(deleted: removed.map(\.id), spaceReclaimed: reclaimed)
    }

    // MARK: Pause, update

    public func pauseContainer(_ reference: String) async throws {
        let record = try await blocking { () throws -> ContainerRecord in
            let record = try self.runtime.container(reference)
            if record.state.status == .paused { throw EngineError.conflict("Container \(record.id) is already paused") }
            guard record.state.status == .running else { throw EngineError.conflict("Container \(record.id) is not running") }
            try self.runtime.pause(record.id)
            return record
        }
        events.record(.container, "pause", id: record.id, attributes: record.eventAttributes())
    }

    public func unpauseContainer(_ reference: String) async throws {
        let record = try await blocking { () throws -> ContainerRecord in
            let record = try self.runtime.container(reference)
            guard record.state.status == .paused else { throw EngineError.conflict("Container \(record.id) is not paused") }
            try self.runtime.unpause(record.id)
            return record
        }
        events.record(.container, "unpause", id: record.id, attributes: record.eventAttributes())
    }

    /// Changes a container's resources (a running one's at once) and restart policy.
    public func updateContainer(_ reference: String, _ change: ResourceUpdate) async throws {
        try ContainerCreateOptions.checkResources(memory: change.memory ?? 0, nanoCPUs: change.nanoCPUs ?? 0,
                                                  cpuShares: change.cpuShares ?? 0)
        let record = try await blocking { try self.runtime.update(reference, change) }
        events.record(.container, "update", id: record.id, attributes: record.eventAttributes())
    }

    // MARK: Top, changes, export

    /// The container's processes as the host's `ps` shows them with `psArguments` (default `-ef`):
    /// its titles and the rows of the container's processes.
    public func topContainer(_ reference: String, psArguments: [String] = []) async throws -> (titles: [String], processes: [[String]]) {
        let (record, table) = try await blocking { () throws -> (ContainerRecord, (titles: [String], processes: [[String]])) in
            let record = try self.runtime.container(reference)
            guard record.state.status == .running || record.state.status == .paused else {
                throw EngineError.conflict("Container \(record.id) is not running")
            }
            let pids = Set(try self.runtime.ociRuntime(for: record).processes(record.id))
            let result = try Spawn.run(["ps"] + (psArguments.isEmpty ? ["-ef"] : psArguments))
            let lines = result.stdoutText.split(separator: "\n").map(String.init)
            guard let header = lines.first, result.status == 0 else {
                throw EngineError(.system, "ps: \(result.stderrText.isEmpty ? result.stdoutText : result.stderrText)")
            }
            let titles = header.split(separator: " ").map(String.init)
            guard let pidColumn = titles.firstIndex(of: "PID") else { throw EngineError(.system, "Couldn't find PID field in ps output") }
            // The last column (the command) may hold spaces: split into as many fields as titles.
            var processes: [[String]] = []
            for line in lines.dropFirst() {
                let fields = line.split(separator: " ", maxSplits: titles.count - 1).map(String.init)
                guard fields.count == titles.count, let pid = Int32(fields[pidColumn]), pids.contains(pid) else { continue }
                processes.append(fields)
            }
            return (record, (titles, processes))
        }
        events.record(.container, "top", id: record.id, attributes: record.eventAttributes())
        return table
    }

    /// What the container changed in its root filesystem.
    public func containerChanges(_ reference: String) async throws -> [FilesystemChange] {
        try await blocking { try self.runtime.changes(reference) }
    }

    /// Streams the container's root filesystem as a tar archive to `write`, chunk by chunk; when
    /// `write` throws (the client went away), the archiver is killed and nothing is left behind.
    public func exportContainer(_ reference: String, to write: @Sendable ([UInt8]) async throws -> Void) async throws {
        let (pid, output) = try await blocking { try self.runtime.startExport(reference) }
        var failure: (any Error)?
        do {
            while true {
                let chunk = try await blocking { () throws -> [UInt8] in
                    var buffer = [UInt8](repeating: 0, count: 256 * 1024)
                    let count = buffer.withUnsafeMutableBytes { Glibc.read(output, $0.baseAddress, $0.count) }
                    if count < 0 { throw EngineError(.system, "reading the exported filesystem: \(String(cString: strerror(errno)))") }
                    return Array(buffer.prefix(count))
                }
                if chunk.isEmpty { break }
                try await write(chunk)
            }
        } catch {
            failure = error
            Glibc.kill(pid, SIGKILL)
        }
        close(output)
        let status = try await blocking { Spawn.wait(pid) }
        if let failure { throw failure }
        if status != 0 { throw EngineError(.system, "exporting the container's filesystem failed (tar exited with \(status))") }
        if let record = try? await container(reference) {
            events.record(.container, "export", id: record.id, attributes: record.eventAttributes())
        }
    }
}

/// Why a container's process could not start, with the exit status Docker's `run` and `start -a`
/// give it: 127 when the command is not found, 126 when it cannot be executed, 125 otherwise.
public struct ContainerStartError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        case commandNotFound, notExecutable, other
    }

    public let reason: Reason
    public let description: String

    /// Classifies what the OCI runtime reported, the one place its wording is read: runc says
    /// why an exec failed only in its message.
    public init(runtimeMessage: String, description: String) {
        if runtimeMessage.contains("executable file not found") || runtimeMessage.contains("no such file or directory") {
            reason = .commandNotFound
        } else if runtimeMessage.contains("permission denied") {
            reason = .notExecutable
        } else {
            reason = .other
        }
        self.description = description
    }

    public var exitCode: Int32 {
        switch reason {
        case .commandNotFound: 127
        case .notExecutable: 126
        case .other: 125
        }
    }
}

/// The bytes of regular files under a directory (what removing it reclaims).
enum DiskUsage {
    static func bytes(_ path: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: Int64 = 0
        while let name = walker.nextObject() as? String {
            var info = stat()
            if lstat(path + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG { total += Int64(info.st_size) }
        }
        return total
    }
}
