import BerthFiles
import BerthProcess
import Foundation
import Glibc

/// Drives runc (or a compatible OCI runtime) with Berth's own state directory, so Berth's
/// containers never mix with another engine's.
public struct Runc: Sendable {
    /// The runtime binary (looked up in PATH).
    public var binary: String
    /// runc's `--root`: where it keeps its per-container state.
    public var stateRoot: String

    /// What runs before the binary: empty, or for crun on a hybrid cgroup host, a private mount
    /// namespace hiding the v2 hierarchy (crun refuses hybrid mode, "drop all controllers from
    /// cgroupv2"; without it crun sees plain v1 and places the container in the v1 controllers,
    /// as runc does on this layout).
    public var launcher: [String] = []

    public init(binary: String = "runc", stateRoot: String, launcher: [String] = []) {
        self.binary = binary
        self.stateRoot = stateRoot
        self.launcher = launcher
    }

    /// The OCI runtimes `--runtime` accepts, with Docker's names.
    public static let supported = ["runc", "crun"]

    /// The runtime called `name`, keeping its state in `<root>/<name>` so runtimes never read
    /// each other's state.
    public static func named(_ name: String, root: String, layout: CgroupLayout) throws -> Runc {
        guard supported.contains(name) else { throw RuntimeError.unknownRuntime(name) }
        let hideUnified = name == "crun" && layout == .hybrid
        return Runc(binary: name, stateRoot: StateRoot(root).ociRuntimeState(name), launcher: hideUnified ? [
            "unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
            #"mount -t tmpfs berth-hide-cgroup2 /sys/fs/cgroup/unified && exec "$0" "$@""#,
        ] : [])
    }

    /// The command line up to the runtime's subcommand, for callers that spawn it themselves.
    public func command(logFile: String? = nil) -> [String] {
        launcher + [binary, "--root", stateRoot] + (logFile.map { ["--log", $0, "--log-format", "json"] } ?? [])
    }

    /// What `runc state` reports.
    public struct State: Decodable, Sendable {
        public var id: String
        public var pid: Int32
        /// created, running, paused or stopped.
        public var status: String
    }

    var base: [String] { command() }

    /// The container's runtime state, or nil if the runtime does not know it.
    public func state(_ id: String) throws -> State? {
        guard Files.exists(stateRoot + "/" + id) else { return nil }
        let result = try Spawn.run(base + ["state", id])
        guard result.status == 0 else { return nil }
        return try JSONDecoder().decode(State.self, from: Data(result.stdoutText.utf8))
    }

    /// Sends a signal (a name like `TERM`/`SIGTERM` or a number) to the container's init process.
    public func kill(_ id: String, signal: String) throws {
        let result = try Spawn.run(base + ["kill", id, signal])
        if result.status != 0 { throw RuntimeError.runtime(Self.message(result.stderrText)) }
    }

    /// Deletes the runtime's state and cgroups of the container, killing it first when `force`.
    public func delete(_ id: String, force: Bool) throws {
        guard Files.exists(stateRoot + "/" + id) else { return }
        let result = try Spawn.run(base + ["delete"] + (force ? ["--force"] : []) + [id])
        if result.status != 0, Files.exists(stateRoot + "/" + id) {
            throw RuntimeError.runtime(Self.message(result.stderrText))
        }
    }

    /// Starts `delete --force` of `id` without waiting, for a caller with other work meanwhile; the
    /// process to `Spawn.wait` for, or nil when there is nothing to delete.
    func startDelete(_ id: String) -> pid_t? {
        guard Files.exists(stateRoot + "/" + id) else { return nil }
        return try? Spawn.start(base + ["delete", "--force", id])
    }

    /// The host PIDs of the container's processes.
    public func processes(_ id: String) throws -> [Int32] {
        let result = try Spawn.run(base + ["ps", "--format", "json", id])
        if result.status != 0 { throw RuntimeError.runtime(Self.message(result.stderrText)) }
        // runc prints `null` when the container has no processes; `try?` flattens that to nil too.
        guard let pids = try? JSONDecoder().decode([Int32]?.self, from: Data(result.stdoutText.utf8)) else { return [] }
        return pids
    }

    /// Starts the user process of a created container.
    public func start(_ id: String) throws {
        let result = try Spawn.run(base + ["start", id])
        if result.status != 0 { throw RuntimeError.runtime(Self.message(result.stderrText)) }
    }

    /// The arguments of `runc create` for a bundle, with more `options` (`--console-socket`); the
    /// caller supplies the container's stdio. With `start`, `run --detach` instead: created and
    /// started in one runtime process, for a container with nothing to set up in between.
    func createArguments(id: String, bundle: String, pidFile: String, logFile: String, options: [String] = [],
                         start: Bool = false) -> [String] {
        command(logFile: logFile) + (start ? ["run", "--detach"] : ["create"]) + ["--bundle", bundle, "--pid-file", pidFile]
            + options + [id]
    }

    /// The last error runc logged in its JSON log, for reporting a failed create.
    static func lastError(inLog path: String) -> String? {
        guard let bytes = try? Files.read(path) else { return nil }
        var message: String?
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
               (object["level"] as? String) == "error", let text = object["msg"] as? String {
                message = text
            }
        }
        return message
    }

    /// runc's stderr reduced to its message (it may be logrus-formatted).
    static func message(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let range = trimmed.range(of: "msg=\"") {
            let rest = trimmed[range.upperBound...]
            if let end = rest.range(of: "\"", options: .backwards) { return String(rest[..<end.lowerBound]) }
        }
        return trimmed.isEmpty ? "runtime failed" : trimmed
    }
}
