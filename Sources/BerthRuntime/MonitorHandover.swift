import Foundation
import Glibc

/// What a container's monitor hands to a fresh execution of itself once the container runs.
///
/// Setting a container up (mounting, writing the bundle, runc, the network) touches several
/// megabytes of the monitor's own code, and those pages stay in its resident set for as long as
/// the container runs. So once the run has started, the monitor re-executes itself
/// (`berth-monitor --root ROOT --resume ID …`), keeping open only the descriptors the idle phase
/// needs, and idles in a process that touched little more than the relay. Everything else is read
/// back from the container's record. The process (and so its pid, its session, its children and
/// the subreaper role) is the same one.
struct MonitorHandover: Equatable {
    var id: String
    /// The monitor lock's descriptor: the flock stays held through the execve.
    var lock: Int32
    /// The report pipe to the CLI that started the monitor.
    var sync: Int32
    /// The container's init.
    var pid: Int32
    /// The restart back-off the next restart waits.
    var backoff: TimeInterval
    var streams: ContainerIO.Descriptors

    /// The descriptors the new execution inherits (and only those lose close-on-exec).
    var descriptors: [Int32] { [lock, sync].filter { $0 >= 0 } + streams.all }

    /// The arguments after `--root ROOT`.
    var arguments: [String] {
        var arguments = ["--resume", id, "--pid", String(pid), "--lock", String(lock), "--sync", String(sync),
                         "--backoff-ms", String(Int((backoff * 1000).rounded())),
                         "--stdout", String(streams.stdout), "--stderr", String(streams.stderr),
                         "--input", String(streams.input), "--attach", String(streams.attach)]
        if !streams.clients.isEmpty {
            arguments += ["--clients", streams.clients.map(String.init).joined(separator: ",")]
        }
        return arguments
    }

    init(id: String, lock: Int32, sync: Int32, pid: Int32, backoff: TimeInterval, streams: ContainerIO.Descriptors) {
        self.id = id
        self.lock = lock
        self.sync = sync
        self.pid = pid
        self.backoff = backoff
        self.streams = streams
    }

    /// Reads `arguments` back; nil if they are not a handover's.
    init?(arguments: [String]) {
        guard arguments.count % 2 == 0, arguments.first == "--resume" else { return nil }
        var values: [String: String] = [:]
        for index in stride(from: 0, to: arguments.count, by: 2) {
            values[arguments[index]] = arguments[index + 1]
        }
        func number(_ name: String) -> Int32? { values[name].flatMap { Int32($0) } }
        guard let id = values["--resume"], !id.hasPrefix("-"), let pid = number("--pid"), pid > 0,
              let lock = number("--lock"), lock >= 0, let sync = number("--sync"),
              let backoff = values["--backoff-ms"].flatMap({ Int($0) }), let stdout = number("--stdout"), stdout >= 0,
              let stderr = number("--stderr"), let input = number("--input"), let attach = number("--attach") else {
            return nil
        }
        let clients = (values["--clients"] ?? "").split(separator: ",").compactMap { Int32($0) }
        self.init(id: id, lock: lock, sync: sync, pid: pid, backoff: TimeInterval(backoff) / 1000,
                  streams: ContainerIO.Descriptors(stdout: stdout, stderr: stderr, input: input, attach: attach,
                                                   clients: clients))
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
