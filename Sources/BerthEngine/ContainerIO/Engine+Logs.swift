import BerthOCI
import BerthRuntime
import Foundation
import Glibc

/// What `logs` asks for (the CLI's flags, the API's query), with Docker's rules for which
/// entries it shows: the `since`/`until` window first, then `tail`.
public struct LogsOptions: Sendable {
    public var stdout: Bool
    public var stderr: Bool
    public var follow: Bool
    public var since: Date?
    public var until: Date?
    public var timestamps: Bool
    /// The number of entries to show from the end; nil for all.
    public var tail: Int?

    public init(stdout: Bool = true, stderr: Bool = true, follow: Bool = false, since: Date? = nil, until: Date? = nil,
                timestamps: Bool = false, tail: Int? = nil) {
        self.stdout = stdout
        self.stderr = stderr
        self.follow = follow
        self.since = since
        self.until = until
        self.timestamps = timestamps
        self.tail = tail
    }

    /// Parses `tail` as Docker does: "all" (or empty, or a negative number) for everything.
    public static func tail(_ text: String) throws -> Int? {
        if text.isEmpty || text == "all" { return nil }
        guard let count = Int(text) else { throw EngineError.invalidParameter("invalid value for --tail: \(text)") }
        return count < 0 ? nil : count
    }

    /// The entries inside the since/until window, of the streams asked for.
    public func window(_ entries: [JSONLog.Entry]) -> [JSONLog.Entry] {
        entries.filter { entry in
            if entry.stream == "stderr" ? !stderr : !stdout { return false }
            guard since != nil || until != nil, let time = Timestamp.parse(entry.time) else { return true }
            if let since, time < since { return false }
            if let until, time > until { return false }
            return true
        }
    }

    /// The first batch: the window, then the last `tail` of it.
    public func initial(_ entries: [JSONLog.Entry]) -> [JSONLog.Entry] {
        let inWindow = window(entries)
        guard let tail else { return inWindow }
        return Array(inWindow.suffix(tail))
    }

    /// An entry as shown: its bytes, after its time when `timestamps`.
    public func line(_ entry: JSONLog.Entry) -> [UInt8] {
        timestamps ? Array((Self.fixedNanos(entry.time) + " ").utf8) + entry.log : entry.log
    }

    /// Docker prints log times with exactly nine fractional digits (RFC3339NanoFixed).
    public static func fixedNanos(_ time: String) -> String {
        guard time.hasSuffix("Z"), time.count >= 20 else { return time }
        let base = time.prefix(19)
        var fraction = ""
        if let dot = time.firstIndex(of: ".") {
            fraction = String(time[time.index(after: dot)..<time.index(before: time.endIndex)])
        }
        fraction += String(repeating: "0", count: max(0, 9 - fraction.count))
        return base + "." + fraction.prefix(9) + "Z"
    }
}

/// A container's log opened for `logs`: the entries so far, then (following) those that come
/// until the container stops.
public final class ContainerLogReader {
    public let containerID: String
    /// Whether the container has a terminal: its output is one stream, sent raw.
    public let tty: Bool
    private let options: LogsOptions
    private let runtime: ContainerRuntime
    /// Nil when the container never wrote a log.
    private let reader: LogReader?

    init(runtime: ContainerRuntime, record: ContainerRecord, options: LogsOptions) throws {
        self.runtime = runtime
        self.options = options
        containerID = record.id
        tty = record.config.tty
        let path = runtime.containers.logPath(of: record.id)
        // Rotated files first, oldest first; following never holds the writer back (Docker's
        // followers do not either), so a follower far behind may miss whole rotated files.
        reader = access(path, F_OK) == 0 ? try LogReader(path: path, includingRotated: true, lossless: false) : nil
    }

    /// Delivers the entries as `options` select them: the first batch, then, following, new ones
    /// every tenth of a second until the container stops, `until` passes, the task is cancelled
    /// or `isConnected` says the client went away.
    public func run(isConnected: @Sendable () -> Bool = { true },
                    _ deliver: ([JSONLog.Entry]) async throws -> Void) async throws {
        guard let reader else { return }
        try await deliver(options.initial(reader.readAvailable()))
        guard options.follow else { return }
        while isConnected(), options.until.map({ Date() <= $0 }) ?? true {
            let running = (try? runtime.containers.record(containerID))??.state.running ?? false
            try await deliver(options.window(reader.readAvailable()))
            if !running { return }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
    }
}

extension Engine {
    /// Opens a container's log for `logs`; refuses a container whose log driver keeps nothing,
    /// and a request for neither stream.
    public func logs(_ reference: String, _ options: LogsOptions) throws -> ContainerLogReader {
        guard options.stdout || options.stderr else {
            throw EngineError.invalidParameter("Bad parameters: you must choose at least one stream")
        }
        let record = try runtime.container(reference)
        guard record.hostConfig.logConfig?.isReadable ?? true else {
            throw EngineError(.notImplemented, "configured logging driver does not support reading")
        }
        return try ContainerLogReader(runtime: runtime, record: record, options: options)
    }
}
