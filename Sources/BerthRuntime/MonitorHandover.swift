import Foundation
import Glibc

/// What a container's monitor hands to a fresh execution of itself once the container runs.
///
/// Setting a container up (reading its record, mounting, writing the bundle, runc, the network)
/// touches several megabytes of the monitor's own code, and those pages stay in its resident set
/// for as long as the container runs. So once the run has gone on for a moment
/// (`ContainerRuntime.handoverDelay`; shorter runs are seen out in place), the monitor
/// re-executes itself (`berth-monitor --root ROOT --resume ID …`), keeping open only the
/// descriptors the idle phase needs and passing the little it needs to know as arguments, so the
/// idle process touches not much more than the relay. The record is read again when the run
/// ends (or at once for a health check, which needs it). The process (and so its pid, its
/// session, its children and its subreaper role) stays the same.
struct MonitorHandover: Equatable {
    var id: String
    /// The monitor lock's descriptor: the flock stays held through the execve.
    var lock: Int32
    /// The report pipe to the CLI that started the monitor.
    var sync: Int32
    var run: Run

    /// A started run, as the monitor idles on it.
    struct Run: Equatable {
        /// The container's init.
        var pid: Int32
        /// What the next restart waits.
        var backoff: TimeInterval
        var streams: ContainerIO.Handover
        /// The json-file log; nil if even /dev/null could not be opened.
        var log: LogWriter.Settings?
        /// Whether the container has a health check (whose prober needs the record).
        var healthCheck: Bool
    }

    /// The descriptors the new execution inherits (and only those lose close-on-exec).
    var descriptors: [Int32] { [lock, sync].filter { $0 >= 0 } + run.streams.descriptors }

    /// The arguments after `--root ROOT`.
    var arguments: [String] {
        let streams = run.streams
        var arguments = ["--resume", id, "--pid", String(run.pid), "--lock", String(lock), "--sync", String(sync),
                         "--backoff-ms", String(Int((run.backoff * 1000).rounded())),
                         "--stdout", String(streams.stdout), "--stderr", String(streams.stderr),
                         "--input", String(streams.input), "--attach", String(streams.attach),
                         "--tty", Self.flag(streams.tty), "--stdin-once", Self.flag(streams.stdinOnce),
                         "--health-check", Self.flag(run.healthCheck)]
        if !streams.clients.isEmpty {
            arguments += ["--clients", streams.clients.map(String.init).joined(separator: ",")]
        }
        if let log = run.log {
            arguments += ["--log", log.path, "--log-max-size", String(log.rotation.maxSize ?? -1),
                          "--log-max-files", String(log.rotation.maxFiles), "--log-transient", Self.flag(log.transient)]
        }
        return arguments
    }

    private static func flag(_ value: Bool) -> String { value ? "1" : "0" }

    init(id: String, lock: Int32, sync: Int32, run: Run) {
        self.id = id
        self.lock = lock
        self.sync = sync
        self.run = run
    }

    /// Reads `arguments` back; nil if they are not a handover's.
    init?(arguments: [String]) {
        guard arguments.count % 2 == 0, arguments.first == "--resume" else { return nil }
        // A linear look-up: a Dictionary's generic metadata would make the Swift runtime scan
        // every protocol conformance of the binary, touching pages the idle process is spared.
        func value(_ name: String) -> String? {
            stride(from: 0, to: arguments.count, by: 2).first { arguments[$0] == name }.map { arguments[$0 + 1] }
        }
        func number(_ name: String) -> Int32? { value(name).flatMap { Int32($0) } }
        func flag(_ name: String) -> Bool? {
            switch value(name) {
            case "1": true
            case "0": false
            default: nil
            }
        }
        guard let id = value("--resume"), !id.hasPrefix("-"), let pid = number("--pid"), pid > 0,
              let lock = number("--lock"), lock >= 0, let sync = number("--sync"),
              let backoff = value("--backoff-ms").flatMap({ Int($0) }), let stdout = number("--stdout"), stdout >= 0,
              let stderr = number("--stderr"), let input = number("--input"), let attach = number("--attach"),
              let tty = flag("--tty"), let stdinOnce = flag("--stdin-once"), let healthCheck = flag("--health-check") else {
            return nil
        }
        var log: LogWriter.Settings?
        if let path = value("--log") {
            guard let maxSize = value("--log-max-size").flatMap({ Int64($0) }),
                  let maxFiles = value("--log-max-files").flatMap({ Int($0) }), maxFiles >= 1,
                  let transient = flag("--log-transient") else { return nil }
            log = LogWriter.Settings(path: path, rotation: LogConfig.Rotation(maxSize: maxSize > 0 ? maxSize : nil, maxFiles: maxFiles),
                                     transient: transient)
        }
        let clients = (value("--clients") ?? "").split(separator: ",").compactMap { Int32($0) }
        let streams = ContainerIO.Handover(stdout: stdout, stderr: stderr, input: input, attach: attach, clients: clients,
                                           tty: tty, stdinOnce: stdinOnce)
        self.init(id: id, lock: lock, sync: sync,
                  run: Run(pid: pid, backoff: TimeInterval(backoff) / 1000, streams: streams, log: log, healthCheck: healthCheck))
    }

    /// Re-executes this program (`/proc/self/exe`) with the handover as its arguments. Returns
    /// only if the execve failed, with every descriptor close-on-exec again.
    func execute(root: String) {
        let argv = [CommandLine.arguments.first ?? "berth-monitor", "--root", root] + arguments
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, 0) }
        var cArguments = argv.map { strdup($0) }
        cArguments.append(nil)
        execv("/proc/self/exe", cArguments)
        let error = errno
        cArguments.forEach { free($0) }
        Self.keepPrivate(descriptors)
        FileHandle.standardError.write(Data("monitor \(id): re-executing: \(String(cString: strerror(error)))\n".utf8))
    }

    /// Makes `descriptors` close-on-exec, so that no runtime or container process started later
    /// inherits (and prolongs) a pipe, a socket or the lock.
    static func keepPrivate(_ descriptors: [Int32]) {
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    }
}
