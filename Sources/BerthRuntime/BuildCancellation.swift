import Glibc
import Synchronization

/// Stops a build from outside it: `berth serve` cancels the build of a client that went away.
/// The builder checks it between steps; a RUN step that runs when it is cancelled is ended at
/// once (its runc is killed, and the step's guard then kills what runc left in the container),
/// and the step releases what it took as when it fails.
public final class BuildCancellation: Sendable {
    private struct State {
        var cancelled = false
        /// Ends the step that runs now, if one does.
        var stopStep: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    public func cancel() {
        let stop = state.withLock { state -> (@Sendable () -> Void)? in
            state.cancelled = true
            defer { state.stopStep = nil }
            return state.stopStep
        }
        stop?()
    }

    /// Runs `body` with `stop` as the way to end it; `stop` runs at once when the build is
    /// cancelled already, or later from `cancel`.
    func whileRunning<T>(stop: @escaping @Sendable () -> Void, _ body: () throws -> T) rethrows -> T {
        let cancelled = state.withLock { state in
            if !state.cancelled { state.stopStep = stop }
            return state.cancelled
        }
        if cancelled { stop() }
        defer { state.withLock { $0.stopStep = nil } }
        return try body()
    }

    /// SIGKILL to the children of `guardProcess` (a guarded spawn's guard): the guarded child
    /// goes, and the guard ends whatever the child left behind before it exits.
    static func killChildren(of guardProcess: pid_t) {
        let path = "/proc/\(guardProcess)/task/\(guardProcess)/children"
        guard let file = fopen(path, "r") else { return }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return }
        let text = String(cString: buffer)
        for word in text.split(separator: " ") {
            if let pid = pid_t(word.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 { kill(pid, SIGKILL) }
        }
    }
}
