import Glibc

/// A process named so that a later reader can tell whether it still runs: its pid plus its start
/// time (field 22 of /proc/<pid>/stat, in clock ticks since boot), since a pid alone may have been
/// reused by an unrelated process once the original died. Records that a process leaves behind
/// (leases, build-step resources) carry one, so the next command can tell a holder that was killed.
public struct ProcessIdentity: Codable, Hashable, Sendable {
    public var pid: Int32
    public var startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// This process.
    public static var current: ProcessIdentity {
        let pid = getpid()
        return ProcessIdentity(pid: pid, startTime: startTime(of: pid) ?? 0)
    }

    /// Whether the process still runs (a zombie counts as gone): its pid exists and started at the
    /// recorded time.
    public var isAlive: Bool {
        guard let fields = Self.statFields(of: pid), fields.state != "Z" else { return false }
        return fields.startTime == startTime
    }

    /// The start time of `pid`, or nil if there is no such process.
    public static func startTime(of pid: Int32) -> UInt64? {
        statFields(of: pid)?.startTime
    }

    private static func statFields(of pid: Int32) -> (state: Character, startTime: UInt64)? {
        let descriptor = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return nil }
        // The command name (field 2) is in parentheses and may hold spaces or ')': the fields that
        // follow start after the last ')'.
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 is fields[19].
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return (state, start)
    }
}
