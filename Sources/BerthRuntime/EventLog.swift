import BerthFiles
import Foundation
import Glibc

/// The events of every process on one state root — CLI commands and the daemon alike — in one
/// file of JSON lines, `events.jsonl`. Each event is appended with one `write` to a file opened
/// with O_APPEND, so concurrent writers never interleave; should a killed writer leave its line
/// cut short, the next writer ends that line first, so only the cut event is lost. The log is bounded: past `generationLimit` bytes it is renamed to `events.jsonl.1`
/// (replacing the previous one), under an exclusive flock of `events.lock` that writers hold
/// shared, so no event goes to a file just renamed away.
public struct EventLog: Sendable {
    public let path: String
    package let rotatedPath: String
    private let lockPath: String
    private let generationLimit: Int

    /// The log of the state root `root`.
    public init(root: String, generationLimit: Int = 1 << 20) {
        let layout = StateRoot(root)
        path = layout.events
        rotatedPath = layout.previousEvents
        lockPath = layout.eventsLock
        self.generationLimit = generationLimit
    }

    /// Appends an event that happened now. Never fails: an event that cannot be written (a full
    /// disk, a read-only root) is dropped rather than failing the change it reports.
    public func record(_ type: EventType, _ action: String, id: String, attributes: [String: String] = [:]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let event = Event(type: type, action: action, actor: .init(id: id, attributes: attributes),
                          timeNano: Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec))
        append(event)
    }

    /// The exit code of the last `die` event of container `id` in the current generation: what a
    /// `wait` for a container that removed itself (`run --rm`) answers once its record is gone.
    public func lastExitCode(ofContainer id: String) -> Int32? {
        lastEvent(ofContainer: id, action: "die").flatMap { $0.actor.attributes["exitCode"] }.flatMap { Int32($0) }
    }

    /// The last event of container `id` in the current generation (with `action`, the last of those).
    public func lastEvent(ofContainer id: String, action: String? = nil) -> Event? {
        var reader = EventLogReader(path: path)
        reader.open()
        return reader.readNew().last { $0.type == .container && $0.actor.id == id && (action == nil || $0.action == action) }
    }

    /// Appends `event` as one line.
    func append(_ event: Event) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(event) else { return }
        line.append(UInt8(ascii: "\n"))
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { return }
        defer { close(lock) }
        guard Self.lock(lock, LOCK_SH) else { return }
        let descriptor = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        if Self.endsTorn(descriptor) {
            // A writer killed in the middle of its line: end that line, so this one stays whole.
            line.insert(UInt8(ascii: "\n"), at: 0)
        }
        _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        var info = stat()
        let size = fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
        close(descriptor)
        flock(lock, LOCK_UN)
        if size > generationLimit { rotate(lock) }
    }

    /// Whether the file's last byte is not a newline (a line cut short).
    private static func endsTorn(_ descriptor: Int32) -> Bool {
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_size > 0 else { return false }
        var last: UInt8 = 0
        return pread(descriptor, &last, 1, info.st_size - 1) == 1 && last != UInt8(ascii: "\n")
    }

    /// Starts a new generation, unless another writer did so since this one looked.
    private func rotate(_ lock: Int32) {
        guard Self.lock(lock, LOCK_EX) else { return }
        defer { flock(lock, LOCK_UN) }
        var info = stat()
        guard stat(path, &info) == 0, Int(info.st_size) > generationLimit else { return }
        rename(path, rotatedPath)
    }

    private static func lock(_ descriptor: Int32, _ operation: Int32) -> Bool {
        while flock(descriptor, operation) != 0 {
            guard errno == EINTR else { return false }
        }
        return true
    }
}

/// Reads one log path as it grows and rotates: complete lines only (a line being written stays
/// buffered until its newline arrives), and after a rotation the rest of the old file, then the
/// new one from its start.
package struct EventLogReader: ~Copyable {
    package let path: String
    private var descriptor: Int32 = -1
    package private(set) var inode: ino_t = 0
    private var pending: [UInt8] = []

    package init(path: String) {
        self.path = path
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    package mutating func open() {
        descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        var info = stat()
        inode = descriptor >= 0 && fstat(descriptor, &info) == 0 ? info.st_ino : 0
    }

    /// Opens the log where it ends now: only later events are read.
    package mutating func openAtEnd() {
        open()
        if descriptor >= 0 { lseek(descriptor, 0, SEEK_END) }
    }

    /// The events appended since the last read.
    package mutating func readNew() -> [Event] {
        var events: [Event] = []
        if descriptor < 0 {
            open()
            guard descriptor >= 0 else { return [] }
        }
        events += readToEnd()
        var info = stat()
        if stat(path, &info) == 0, info.st_ino != inode {
            // Rotated (or replaced): the old file gets nothing after its rename, so once read to
            // its end again it is done.
            events += readToEnd()
            close(descriptor)
            descriptor = -1
            pending = []
            open()
            events += readToEnd()
        }
        return events
    }

    private mutating func readToEnd() -> [Event] {
        guard descriptor >= 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            pending += buffer[..<count]
        }
        guard let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = pending[...lastNewline]
        pending.removeSubrange(...lastNewline)
        let decoder = JSONDecoder()
        // A line that does not decode (an event type a newer Berth wrote) is skipped.
        return complete.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(Event.self, from: Data($0)) }
    }
}
