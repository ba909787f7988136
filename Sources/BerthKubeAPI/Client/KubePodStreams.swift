import BerthTemplate
import Synchronization

/// A `pods/<name>/exec` or `pods/<name>/attach` request: which container, which streams, and
/// for an exec the command. The streaming front ends (WebSocket channels, SPDY) fill it from
/// the query and hand it to the node.
public struct KubePodStreamRequest: Sendable, Equatable {
    public var namespace: String
    public var pod: String
    /// Nil or empty: the pod's only container (the apiserver's default).
    public var container: String?
    /// The command of an exec; empty for an attach.
    public var command: [String]
    public var stdin: Bool
    public var stdout: Bool
    public var stderr: Bool
    public var tty: Bool

    public init(namespace: String, pod: String, container: String? = nil, command: [String] = [], stdin: Bool = false,
                stdout: Bool = true, stderr: Bool = true, tty: Bool = false) {
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.command = command
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.tty = tty
    }
}

/// A terminal's size as the resize channel carries it (`{"Width":80,"Height":24}`).
public struct KubeTerminalSize: Sendable, Equatable, Codable {
    public var width: UInt16
    public var height: UInt16

    public init(width: UInt16, height: UInt16) {
        self.width = width
        self.height = height
    }

    enum CodingKeys: String, CodingKey {
        case width = "Width"
        case height = "Height"
    }
}

/// How an exec or attach ended, as the error channel reports it at the end of the stream.
public enum KubeStreamExit: Sendable, Equatable {
    case success
    /// The command exited with this non-zero code; `command` names it in the message.
    case exitCode(Int32, command: [String])
    /// Something other than the command failed (an InternalError, as the kubelet reports it).
    case failure(String)

    /// The `Status` the error channel carries (kubectl reads NonZeroExitCode's ExitCode cause
    /// and exits with it, printing "command terminated with exit code N").
    public var status: OrderedJSON {
        switch self {
        case .success:
            return .object([("metadata", .object([])), ("status", .string("Success"))])
        case .exitCode(let code, let command):
            return .object([
                ("metadata", .object([])), ("status", .string("Failure")),
                ("message", .string("command terminated with non-zero exit code: error executing command [\(command.joined(separator: " "))], exit code \(code)")),
                ("reason", .string("NonZeroExitCode")),
                ("details", .object([("causes", .array([.object([("reason", .string("ExitCode")), ("message", .string(String(code)))])]))])),
            ])
        case .failure(let message):
            return .object([
                ("metadata", .object([])), ("status", .string("Failure")),
                ("message", .string("Internal error occurred: \(message)")), ("reason", .string("InternalError")),
                ("details", .object([("causes", .array([.object([("message", .string(message))])]))])),
                ("code", .int(500)),
            ])
        }
    }
}

/// One exec or attach the node runs, relayed by a streaming front end: write the client's
/// input with `write` and `closeInput`, forward `resize`, read `stdout` and `stderr` (each
/// finishes when the process's stream ends; one not asked for, or stderr with a terminal,
/// finishes empty), then report `exit`. `cancel` is for a client that went away: an exec's
/// processes are killed, an attach detaches. Output is buffered until read.
public final class KubePodStreamSession: Sendable {
    /// Whether the process has a terminal: its output is one raw stream on `stdout`.
    public let tty: Bool
    public let stdout: AsyncStream<[UInt8]>
    public let stderr: AsyncStream<[UInt8]>
    private let input: AsyncStream<[UInt8]>.Continuation
    private let resizer: @Sendable (KubeTerminalSize) -> Void
    private let canceller: @Sendable () -> Void
    private let ending: Task<KubeStreamExit, Never>
    private let cancelled = Atomic<Bool>(false)

    /// `run` gets the input (ending when the client closes it) and the continuations of the
    /// output streams, and returns how it ended; the streams are finished after it returns.
    public init(tty: Bool, resize: @escaping @Sendable (KubeTerminalSize) -> Void, cancel: @escaping @Sendable () -> Void,
                run: @escaping @Sendable (_ input: AsyncStream<[UInt8]>, _ stdout: AsyncStream<[UInt8]>.Continuation,
                                          _ stderr: AsyncStream<[UInt8]>.Continuation) async -> KubeStreamExit) {
        self.tty = tty
        let (input, inputContinuation) = AsyncStream.makeStream(of: [UInt8].self)
        let (stdout, stdoutContinuation) = AsyncStream.makeStream(of: [UInt8].self)
        let (stderr, stderrContinuation) = AsyncStream.makeStream(of: [UInt8].self)
        self.stdout = stdout
        self.stderr = stderr
        self.input = inputContinuation
        resizer = resize
        canceller = cancel
        ending = Task {
            let exit = await run(input, stdoutContinuation, stderrContinuation)
            stdoutContinuation.finish()
            stderrContinuation.finish()
            return exit
        }
    }

    /// Bytes for the process's stdin (dropped when it has none).
    public func write(_ bytes: [UInt8]) {
        input.yield(bytes)
    }

    /// The client's end of input: the process's stdin is closed.
    public func closeInput() {
        input.finish()
    }

    public func resize(_ size: KubeTerminalSize) {
        resizer(size)
    }

    /// How it ended, once it has (after the output streams finished).
    public var exit: KubeStreamExit {
        get async { await ending.value }
    }

    /// The client went away: an exec's process tree is killed (an attach just detaches), and
    /// the session ends soon after. Safe to call more than once, and after the end.
    public func cancel() {
        guard !cancelled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        input.finish()
        canceller()
    }
}

/// The node's refusal of a stream it cannot run (the container is not running): the kubelet
/// answers it as plain text, not a `Status`, which kubectl prints as
/// "error: unable to upgrade connection: <message>".
public struct KubeNodeStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    public static func containerNotFound(_ container: String) -> KubeNodeStreamError {
        KubeNodeStreamError("container not found (\"\(container)\")")
    }
}

/// Who runs pods' exec and attach streams: the node (the apiserver hands these to the kubelet).
/// Errors thrown are `KubeAPIError`s (the apiserver's checks, answered as a `Status`) or
/// `KubeNodeStreamError`s (the node's, answered as text), before any stream is opened.
public protocol KubePodStreamSource: Sendable {
    /// Checks that the request could stream now (pod, container, running), without starting
    /// anything: the answer for a request that is not an upgrade.
    func check(_ request: KubePodStreamRequest, attach: Bool) async throws

    /// Starts `request.command` in the container; the command runs from now on.
    func exec(_ request: KubePodStreamRequest) async throws -> KubePodStreamSession

    /// Attaches to the container's main process.
    func attach(_ request: KubePodStreamRequest) async throws -> KubePodStreamSession
}
