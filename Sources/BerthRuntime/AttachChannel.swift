import Foundation
import Glibc
import Synchronization

/// What an attached client sends a container's monitor on the container's attach socket
/// (`attach.sock` in its directory, while a container with `-i` or `-t` runs). Each frame is a
/// type byte, a big-endian 32-bit payload length and the payload. The first frame a client sends
/// is a resize (0×0 when it has no terminal). The monitor sends back the terminal's output as is
/// (with `-t`); without a terminal, output is read from the log.
public enum AttachFrame: Equatable, Sendable {
    /// Bytes for the container's stdin.
    case input([UInt8])
    /// The client's stdin ended: with StdinOnce, the container's stdin is closed.
    case closeInput
    /// The client's window size, for the container's terminal.
    case resize(TerminalSize)

    static let socketName = "attach.sock"

    public func encoded() -> [UInt8] {
        let (type, payload): (UInt8, [UInt8])
        switch self {
        case .input(let bytes): (type, payload) = (0, bytes)
        case .closeInput: (type, payload) = (1, [])
        case .resize(let size):
            (type, payload) = (2, [UInt8(size.rows >> 8), UInt8(size.rows & 0xff),
                                   UInt8(size.columns >> 8), UInt8(size.columns & 0xff)])
        }
        let length = UInt32(payload.count)
        return [type, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff),
                UInt8(length & 0xff)] + payload
    }

    /// Splits a byte stream into frames.
    struct Decoder {
        private var buffer: [UInt8] = []

        mutating func append(_ bytes: ArraySlice<UInt8>) { buffer.append(contentsOf: bytes) }

        /// Whether no part of a frame is waiting here.
        var isEmpty: Bool { buffer.isEmpty }

        /// The next complete frame; nil until one has arrived. Unknown types are skipped.
        mutating func next() -> AttachFrame? {
            while buffer.count >= 5 {
                let length = Int(buffer[1]) << 24 | Int(buffer[2]) << 16 | Int(buffer[3]) << 8 | Int(buffer[4])
                guard buffer.count >= 5 + length else { return nil }
                let type = buffer[0]
                let payload = Array(buffer[5..<5 + length])
                buffer.removeFirst(5 + length)
                switch type {
                case 0: return .input(payload)
                case 1: return .closeInput
                case 2 where payload.count == 4:
                    return .resize(TerminalSize(rows: UInt16(payload[0]) << 8 | UInt16(payload[1]),
                                                columns: UInt16(payload[2]) << 8 | UInt16(payload[3])))
                default: continue
                }
            }
            return nil
        }
    }
}

/// A client attached to a running container through its monitor: sends stdin and window sizes,
/// reads the terminal's output (with `-t`). Safe to use from several threads.
public final class AttachClient: Sendable {
    /// The connection; readable for the terminal's output, at end of file when the run ends.
    public let descriptor: Int32
    /// Held while a frame is sent, so frames of two threads never interleave and the descriptor
    /// is not closed under a sender.
    private let closed = Mutex(false)

    /// Connects to the attach socket in `directory` and introduces itself with its window size.
    static func connect(directory: String, size: TerminalSize?) throws -> AttachClient {
        let client = AttachClient(descriptor: try UnixAddress.connect(directory: directory, name: AttachFrame.socketName))
        client.send(.resize(size ?? TerminalSize(rows: 0, columns: 0)))
        return client
    }

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close() }

    /// Forwards bytes of stdin; false once the monitor is gone.
    @discardableResult
    public func sendInput(_ bytes: ArraySlice<UInt8>) -> Bool { send(.input(Array(bytes))) }

    /// Says stdin ended.
    public func closeInput() { send(.closeInput) }

    /// Forwards a new window size.
    public func resize(_ size: TerminalSize) { send(.resize(size)) }

    @discardableResult
    private func send(_ frame: AttachFrame) -> Bool {
        closed.withLock { closed in
            guard !closed else { return false }
            let bytes = frame.encoded()
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written < 0, errno == EINTR { continue }
                if written <= 0 { return false }
                offset += written
            }
            return true
        }
    }

    /// Reads output into `buffer`: the byte count, 0 at the end of the run.
    public func readOutput(into buffer: inout [UInt8]) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            return max(count, 0)
        }
    }

    /// Ends the connection both ways (a reader of the output sees its end) without closing the
    /// descriptor under a thread that uses it.
    public func shutdown() {
        closed.withLock { closed in
            if !closed { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }
        }
    }

    public func close() {
        closed.withLock { closed in
            guard !closed else { return }
            closed = true
            Glibc.close(descriptor)
        }
    }
}

/// A client's claim on a container's next start: while it is held, a monitor starting the
/// container (with `-i` or `-t`) waits for a client on its attach socket before it starts the
/// process, as dockerd starts a container whose attach came first with its streams connected.
/// Held by an flock, so a waiter that dies lets the start go on.
public final class AttachHold {
    private let lock: FileLock

    init(_ lock: FileLock) {
        self.lock = lock
    }

    /// Lets the start go on without this client.
    public func release() { lock.unlock() }

    static let fileName = "attach-wait.lock"

    /// Whether a client holds the container in `directory` (a monitor asks, before it starts it).
    static func isHeld(directory: String) -> Bool {
        let probe = FileLock(directory + "/" + fileName)
        guard Files.exists(probe.path) else { return false }
        return (try? probe.tryLock(exclusive: true)) == false
    }
}

extension ContainerRuntime {
    /// Holds the container's next start for an attaching client (see `AttachHold`); the client
    /// then connects with `connectAttach` once the monitor listens.
    public func holdStartForAttach(_ id: String) throws -> AttachHold {
        let lock = FileLock(containers.path(of: id) + "/" + AttachHold.fileName)
        try lock.lock(exclusive: false)
        return AttachHold(lock)
    }

    /// Connects to the attach socket of the container's monitor, whether the container runs or
    /// its monitor waits for a first client; nil while no monitor listens.
    public func connectAttach(_ id: String, size: TerminalSize?) -> AttachClient? {
        try? AttachClient.connect(directory: containers.path(of: id), size: size)
    }

    /// Attaches to a running container with `-i` or `-t` through its monitor's attach socket;
    /// `size` is this client's window size, for the container's terminal.
    public func attach(_ reference: String, size: TerminalSize?) throws -> AttachClient {
        let record = try container(reference)
        guard record.state.running else { throw RuntimeError.notRunning(record.id) }
        return try AttachClient.connect(directory: containers.path(of: record.id), size: size)
    }

    /// Whether the container's monitor runs: its current run, or its restarts, go on.
    public func isMonitored(_ id: String) -> Bool {
        containers.monitorAlive(id)
    }
}
