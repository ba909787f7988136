import BerthProcess
import Foundation

/// The nginx that serves the Ingresses: a daemon of its own (it outlives a killed `berth serve`),
/// found again through its pid file, reloaded with SIGHUP, stopped with SIGQUIT.
struct NginxProcess: Sendable {
    let configuration: NginxConfiguration

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The pid of the nginx master running this configuration, if one runs: a pid file left by a
    /// daemon that is gone, or a pid reused by another process, does not count.
    func runningPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: configuration.pidPath, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
              Self.isAlive(pid),
              let commandLine = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return nil }
        // nginx rewrites its title to one string ("nginx: master process nginx -c …"): words are
        // separated by NULs or spaces.
        let words = commandLine.split { $0 == 0 || $0 == UInt8(ascii: " ") }.map { String(decoding: $0, as: UTF8.self) }
        return words.contains(configuration.configurationPath) ? pid : nil
    }

    /// Makes nginx serve `text`: checked with `nginx -t` first (a bad configuration leaves the
    /// running one in place), then started, or reloaded when it runs. Nothing happens when the
    /// running nginx already serves the same text.
    func apply(_ text: String) throws {
        let running = runningPID()
        if running != nil, (try? String(contentsOfFile: configuration.configurationPath, encoding: .utf8)) == text { return }
        for directory in [configuration.directory, "\(configuration.directory)/tmp"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        let candidate = "\(configuration.directory)/nginx.conf.next"
        try Data(text.utf8).write(to: URL(fileURLWithPath: candidate))
        let check = try Spawn.run([try Self.executable(), "-t", "-q", "-e", configuration.errorLogPath, "-c", candidate])
        guard check.status == 0 else {
            unlink(candidate)
            throw Failure(description: "nginx rejected the generated configuration: \(Self.lastLine(check.stderrText))")
        }
        guard rename(candidate, configuration.configurationPath) == 0 else {
            throw Failure(description: "cannot write \(configuration.configurationPath): \(String(cString: strerror(errno)))")
        }
        if let running {
            kill(running, SIGHUP)
            return
        }
        let start = try Spawn.run([try Self.executable(), "-e", configuration.errorLogPath, "-c", configuration.configurationPath])
        guard start.status == 0 else {
            throw Failure(description: "nginx did not start: \(Self.lastLine(start.stderrText))")
        }
    }

    /// Stops nginx gracefully (in-flight requests finish), killing it if it lingers.
    func stop() {
        guard let pid = runningPID() else { return }
        kill(pid, SIGQUIT)
        for attempt in 0..<100 {
            if !Self.isAlive(pid) { return }
            if attempt == 50 { kill(pid, SIGTERM) }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
    }

    /// Alive and not a zombie waiting for a parent that does not reap it.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    static func executable() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        guard let found = directories.map({ "\($0)/nginx" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "nginx is not installed: Ingresses need it (apt-get install nginx-light)")
        }
        return found
    }

    private static func lastLine(_ text: String) -> String {
        text.split(separator: "\n").last.map(String.init) ?? "exit status without a message"
    }
}
