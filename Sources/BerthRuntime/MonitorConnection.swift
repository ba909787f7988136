import Foundation
import Glibc
import Synchronization

/// The caller's end of the pipe a monitor reports on: one line when the container started (or
/// failed to), one when it exited; before those, `attachable` when the caller attaches.
public final class MonitorConnection {
    /// What a monitor reports.
    public enum Message: Equatable, Sendable {
        /// The monitor listens on the container's attach socket and waits for its first client.
        case attachable
        case started
        case failed(String)
        case exited(Int32)
    }

    private var descriptor: Int32
    /// The monitor process (a child of this process).
    public let monitorPID: pid_t
    private var buffered: [UInt8] = []

    init(descriptor: Int32, monitorPID: pid_t) {
        self.descriptor = descriptor
        self.monitorPID = monitorPID
    }

    deinit { finish() }

    /// Reads the next message; nil at end of file (the monitor is gone) or on timeout.
    public func readMessage(timeoutMilliseconds: Int32 = -1) -> Message? {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeFirst(newline + 1)
                if line == "started" { return .started }
                if line == "attachable" { return .attachable }
                if line.hasPrefix("exited "), let code = Int32(line.dropFirst(7)) { return .exited(code) }
                if line.hasPrefix("error ") { return .failed(String(line.dropFirst(6))) }
                continue
            }
            guard descriptor >= 0 else { return nil }
            var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 1, timeoutMilliseconds)
            if ready < 0, errno == EINTR { continue }
            if ready == 0 { return nil }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 {
                close(descriptor)
                descriptor = -1
                return nil
            }
            buffered.append(contentsOf: chunk[0..<count])
        }
    }

    /// Whether the monitor closed its end (it exited).
    public var isClosed: Bool { descriptor < 0 && buffered.isEmpty }

    /// Waits for the container to exit; its exit code, or nil if the monitor died without saying.
    public func waitForExit() -> Int32? {
        while !isClosed {
            if case .exited(let code) = readMessage() {
                finish()
                return code
            }
        }
        finish()
        return nil
    }

    /// Stops listening; the container keeps running. The monitor is reaped once it exits.
    public func finish() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        _ = Self.unreaped.withLock { $0.insert(monitorPID) }
        Self.reapFinished()
    }

    private static let unreaped = Mutex<Set<pid_t>>([])

    static func reapFinished() {
        unreaped.withLock { unreaped in
            for pid in unreaped {
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid || (result < 0 && errno == ECHILD) { unreaped.remove(pid) }
            }
        }
    }
}
