import BerthOCI
import Foundation
import Glibc

/// Docker's json-file log driver format: one JSON object per line,
/// `{"log":"text\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`.
public enum JSONLog {
    /// One log entry.
    public struct Entry: Sendable, Equatable {
        public var log: [UInt8]
        public var stream: String
        public var time: String

        public init(log: [UInt8], stream: String, time: String) {
            self.log = log
            self.stream = stream
            self.time = time
        }
    }

    /// Docker splits lines longer than this into partial entries.
    static let maxLine = 16 * 1024

    /// Encodes an entry as its line, escaping as Go's encoding/json does (HTML-safe, invalid UTF-8
    /// replaced), so Docker's tools read Berth's logs.
    public static func encode(_ log: ArraySlice<UInt8>, stream: String, time: String, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"log":""#.utf8)
        escape(log, into: &out)
        out.append(contentsOf: #"","stream":""#.utf8)
        out.append(contentsOf: stream.utf8)
        out.append(contentsOf: #"","time":""#.utf8)
        out.append(contentsOf: time.utf8)
        out.append(contentsOf: "\"}\n".utf8)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    static func escape(_ bytes: ArraySlice<UInt8>, into out: inout [UInt8]) {
        let valid: [UInt8]
        if !bytes.contains(where: { $0 >= 0x80 }) || String(validating: bytes, as: UTF8.self) != nil {
            valid = Array(bytes)
        } else {
            valid = Array(String(decoding: bytes, as: UTF8.self).utf8)
        }
        var runStart = 0
        var index = 0
        let count = valid.count
        while index < count {
            let byte = valid[index]
            var replacement: [UInt8]?
            switch byte {
            case UInt8(ascii: "\""): replacement = Array(#"\""#.utf8)
            case UInt8(ascii: "\\"): replacement = Array(#"\\"#.utf8)
            case UInt8(ascii: "\n"): replacement = Array(#"\n"#.utf8)
            case UInt8(ascii: "\r"): replacement = Array(#"\r"#.utf8)
            case UInt8(ascii: "\t"): replacement = Array(#"\t"#.utf8)
            case 0..<0x20, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"):
                replacement = Array(#"\u00"#.utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            case 0xE2 where index + 2 < count && valid[index + 1] == 0x80 && (valid[index + 2] == 0xA8 || valid[index + 2] == 0xA9):
                // U+2028 and U+2029, which Go escapes for JavaScript.
                out.append(contentsOf: valid[runStart..<index])
                out.append(contentsOf: (valid[index + 2] == 0xA8 ? #"\u2028"# : #"\u2029"#).utf8)
                index += 3
                runStart = index
                continue
            default: break
            }
            if let replacement {
                out.append(contentsOf: valid[runStart..<index])
                out.append(contentsOf: replacement)
                runStart = index + 1
            }
            index += 1
        }
        out.append(contentsOf: valid[runStart..<count])
    }

    /// Decodes one line of a json-file log.
    public static func decode(_ line: ArraySlice<UInt8>) -> Entry? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
              let log = object["log"] as? String else { return nil }
        return Entry(log: Array(log.utf8), stream: object["stream"] as? String ?? "stdout",
                     time: object["time"] as? String ?? "")
    }
}

/// The json-file log's files: `<id>-json.log` and, once rotated, `.1` (newest) … `.N` (oldest).
/// Rotation and a reader's look for a rotated file's successors exclude each other through an
/// flock on the log's directory, so a reader always sees a complete, ordered set of files.
///
/// A lossless reader (a foreground `run` following the log) holds a shared flock on each file it
/// has open; before the writer deletes a file, and before a run ends, it waits until no such
/// reader is left on a file it rotated out, so the reader has opened everything that followed.
enum LogFiles {
    static func rotated(_ path: String, _ index: Int) -> String { "\(path).\(index)" }

    /// Runs `body` holding the directory lock of the log at `path` (shared or exclusive); without
    /// the directory (a removed container) `body` runs unlocked.
    static func withDirectoryLock<T>(of path: String, exclusive: Bool, _ body: () throws -> T) rethrows -> T {
        let directory = open(CopyPath.directory(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return try body() }
        defer { close(directory) }
        while flock(directory, exclusive ? LOCK_EX : LOCK_SH) != 0, errno == EINTR {}
        return try body()
    }

    static func inode(_ descriptor: Int32) -> (UInt64, UInt64)? {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? (UInt64(info.st_dev), UInt64(info.st_ino)) : nil
    }

    static func inode(atPath path: String) -> (UInt64, UInt64)? {
        var info = stat()
        return stat(path, &info) == 0 ? (UInt64(info.st_dev), UInt64(info.st_ino)) : nil
    }

    /// Opens `path` for reading (made empty if missing and `create`), with a shared flock when
    /// `hold`; nil if it does not exist.
    static func openForReading(_ path: String, hold: Bool, create: Bool = false) -> Int32? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0o640)
        guard descriptor >= 0 else { return nil }
        if hold { while flock(descriptor, LOCK_SH) != 0, errno == EINTR {} }
        return descriptor
    }
}

/// Turns a stream's bytes into log entries, one per line (a line longer than Docker's 16 KiB
/// limit is split into partial entries), and appends them to the log file, rotating it as
/// Docker's json-file driver does: when the file has reached `max-size`, before the next entry,
/// `.N-1` is deleted, each `.i` becomes `.i+1`, the file becomes `.1` and a new one is started.
final class LogWriter {
    private let path: String
    private let rotation: LogConfig.Rotation
    /// The `none` driver: the file only carries a run's output to an attached client, and goes at its end.
    private let transient: Bool
    private var descriptor: Int32
    private var size: Int64
    /// Each stream's incomplete last line (stdout's and stderr's: two fields rather than a
    /// Dictionary, whose generic metadata would make an idle monitor scan the binary's protocol
    /// conformances at its first line of output).
    private var pendingStdout: [UInt8] = []
    private var pendingStderr: [UInt8] = []
    /// Files this writer rotated out (by rename or deletion), while a lossless reader may still read them.
    private var retired: [(descriptor: Int32, deleted: Bool)] = []

    /// How a writer opens its log, for a re-executed monitor to open it again (`MonitorHandover`).
    struct Settings: Equatable {
        var path: String
        var rotation: LogConfig.Rotation
        var transient: Bool
    }

    var settings: Settings { Settings(path: path, rotation: rotation, transient: transient) }
    /// Whether a writer opening the log afresh (a re-executed monitor's) would continue it exactly:
    /// no output waits here for the rest of its line, and no rotated-out file is held for a reader.
    var canBeReopened: Bool { pendingStdout.isEmpty && pendingStderr.isEmpty && retired.isEmpty }

    convenience init(_ settings: Settings) throws {
        try self.init(path: settings.path, rotation: settings.rotation, transient: settings.transient)
    }

    /// What the `none` driver keeps on disk at most: the file that carries a run's output to a client.
    static let transientMaxSize: Int64 = 1 << 20

    init(path: String, rotation: LogConfig.Rotation = LogConfig.Rotation(maxSize: nil, maxFiles: 1),
         transient: Bool = false) throws {
        self.path = path
        self.rotation = rotation
        self.transient = transient
        descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        if descriptor < 0 { throw RuntimeError.lastIO("open", path) }
        var info = stat()
        size = fstat(descriptor, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// The writer for a container's log as its log config says (/dev/null if the log cannot be opened).
    static func forContainer(path: String, config: LogConfig) -> LogWriter? {
        let writer: LogWriter?
        if config.isReadable {
            writer = try? LogWriter(path: path, rotation: (try? config.rotation()) ?? LogConfig.Rotation(maxSize: nil, maxFiles: 1))
        } else {
            writer = try? LogWriter(path: path, rotation: LogConfig.Rotation(maxSize: transientMaxSize, maxFiles: 1), transient: true)
        }
        return writer ?? (try? LogWriter(path: "/dev/null"))
    }

    deinit {
        Glibc.close(descriptor)
        for file in retired { Glibc.close(file.descriptor) }
    }

    /// Adds bytes read from `stream` and writes every completed line.
    func append(_ bytes: ArraySlice<UInt8>, stream: String) {
        var buffer = pending(stream)
        buffer.append(contentsOf: bytes)
        var out: [UInt8] = []
        let time = Timestamp.format(Date())
        var start = 0
        while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var lineStart = start
            while newline + 1 - lineStart > JSONLog.maxLine {
                add(buffer[lineStart..<lineStart + JSONLog.maxLine], stream: stream, time: time, to: &out)
                lineStart += JSONLog.maxLine
            }
            add(buffer[lineStart...newline], stream: stream, time: time, to: &out)
            start = newline + 1
        }
        while buffer.count - start >= JSONLog.maxLine {
            add(buffer[start..<start + JSONLog.maxLine], stream: stream, time: time, to: &out)
            start += JSONLog.maxLine
        }
        setPending(stream, Array(buffer[start...]))
        write(out)
    }

    /// Writes what is left of a stream that ended without a newline.
    func finish(stream: String) {
        let rest = pending(stream)
        guard !rest.isEmpty else { return }
        var out: [UInt8] = []
        add(rest[...], stream: stream, time: Timestamp.format(Date()), to: &out)
        setPending(stream, [])
        write(out)
    }

    private func pending(_ stream: String) -> [UInt8] { stream == "stderr" ? pendingStderr : pendingStdout }

    private func setPending(_ stream: String, _ bytes: [UInt8]) {
        if stream == "stderr" { pendingStderr = bytes } else { pendingStdout = bytes }
    }

    /// Ends the run's log: waits until lossless readers have moved on to the current file (so
    /// removing the container cannot take files they have not opened), and removes a transient file.
    func close() {
        waitForReaders(deletedOnly: false)
        guard transient, let current = LogFiles.inode(descriptor),
              let named = LogFiles.inode(atPath: path), current == named else { return }
        LogFiles.withDirectoryLock(of: path, exclusive: true) { _ = unlink(path) }
    }

    /// Encodes one entry into `out`, rotating first if the file has reached its maximum size.
    private func add(_ line: ArraySlice<UInt8>, stream: String, time: String, to out: inout [UInt8]) {
        if let maxSize = rotation.maxSize, size >= maxSize {
            write(out)
            out.removeAll(keepingCapacity: true)
            rotate()
        }
        let before = out.count
        JSONLog.encode(line, stream: stream, time: time, into: &out)
        size += Int64(out.count - before)
    }

    private func rotate() {
        let deletes = rotation.maxFiles < 2 || Files.exists(LogFiles.rotated(path, rotation.maxFiles - 1))
        // A lossless reader still on a deleted file has not opened the one about to be deleted.
        if deletes { waitForReaders(deletedOnly: true) }
        LogFiles.withDirectoryLock(of: path, exclusive: true) {
            if rotation.maxFiles < 2 {
                unlink(path)
                retired.append((descriptor, true))
            } else {
                let oldest = LogFiles.rotated(path, rotation.maxFiles - 1)
                if let old = LogFiles.openForReading(oldest, hold: false) {
                    unlink(oldest)
                    retired.append((old, true))
                }
                for index in stride(from: rotation.maxFiles - 1, to: 1, by: -1) {
                    rename(LogFiles.rotated(path, index - 1), LogFiles.rotated(path, index))
                }
                rename(path, LogFiles.rotated(path, 1))
                retired.append((descriptor, false))
            }
            // If the new file cannot be made, the old one keeps taking the output.
            let replacement = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o640)
            descriptor = replacement >= 0 ? replacement : retired.removeLast().descriptor
            size = 0
        }
        // Files no reader holds are let go of.
        retired.removeAll { file in
            guard flock(file.descriptor, LOCK_EX | LOCK_NB) == 0 else { return false }
            Glibc.close(file.descriptor)
            return true
        }
    }

    /// Waits until no lossless reader holds a retired file (only the deleted ones, if asked).
    private func waitForReaders(deletedOnly: Bool) {
        retired.removeAll { file in
            guard !deletedOnly || file.deleted else { return false }
            while flock(file.descriptor, LOCK_EX | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK || errno == EINTR else { break }
                usleep(10_000)
            }
            Glibc.close(file.descriptor)
            return true
        }
    }

    private func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}

/// Reads a json-file log incrementally from open descriptors (which keep working after the
/// container's directory is removed, as it is for `run --rm`), following it across rotations:
/// once the file it reads was rotated, it reads the files that came after it, oldest first.
public final class LogReader {
    private let path: String
    private let lossless: Bool
    /// Open files in order: the one being read first, then the ones that follow it.
    private var files: [Int32] = []
    private var partial: [UInt8] = []
    /// One read buffer for the reader's life: `logs -f` and an attached `run` read many times.
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    /// Opens the log at `path`, reading the current file from byte `offset` on (a previous size,
    /// to skip old runs), or with `includingRotated` every file from the oldest rotated one.
    /// A `lossless` reader (a foreground `run`) holds its files so the writer keeps every file
    /// until the reader has opened it; others (`logs -f`) may miss files if they fall far behind.
    /// With `creating`, a missing log is made (empty), so a reader opened before the container
    /// starts reads its output from the first byte.
    public init(path: String, offset: Int64 = 0, includingRotated: Bool = false, lossless: Bool = true,
                creating: Bool = false) throws {
        self.path = path
        self.lossless = lossless
        try LogFiles.withDirectoryLock(of: path, exclusive: false) {
            if includingRotated {
                var index = 1
                var rotated: [Int32] = []
                while let file = LogFiles.openForReading(LogFiles.rotated(path, index), hold: lossless) {
                    rotated.insert(file, at: 0)
                    index += 1
                }
                files = rotated
            }
            guard let current = LogFiles.openForReading(path, hold: lossless, create: creating) else {
                let error = RuntimeError.lastIO("open", path)
                files.forEach { _ = close($0) }
                throw error
            }
            if offset > 0 { lseek(current, off_t(offset), SEEK_SET) }
            files.append(current)
        }
    }

    /// The size of the log at `path` now (0 if it does not exist yet).
    public static func size(of path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    deinit { files.forEach { _ = close($0) } }

    /// Entries completed since the last call.
    public func readAvailable() -> [JSONLog.Entry] {
        var entries: [JSONLog.Entry] = []
        while let first = files.first {
            read(first, into: &entries)
            if files.count > 1 {
                // A rotated file is complete: the writer finished it before renaming it.
                close(files.removeFirst())
                partial = []
                continue
            }
            let successors = successors(of: first)
            guard !successors.isEmpty else { break }
            files += successors
        }
        return entries
    }

    private func read(_ descriptor: Int32, into entries: inout [JSONLog.Entry]) {
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            partial.append(contentsOf: buffer[0..<count])
            var start = 0
            while let newline = partial[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if let entry = JSONLog.decode(partial[start..<newline]) { entries.append(entry) }
                start = newline + 1
            }
            partial.removeFirst(start)
        }
    }

    /// The files written after `descriptor`'s, opened, if it was rotated out: the rotated ones
    /// newer than it, then the current one. If it was deleted, every file there is followed it
    /// (a lossless reader keeps the writer from deleting more until it has moved on).
    private func successors(of descriptor: Int32) -> [Int32] {
        guard let own = LogFiles.inode(descriptor) else { return [] }
        return LogFiles.withDirectoryLock(of: path, exclusive: false) {
            guard let current = LogFiles.inode(atPath: path), current != own else { return [] }
            var rotated: [String] = []
            var index = 1
            while let inode = LogFiles.inode(atPath: LogFiles.rotated(path, index)) {
                if inode == own { break }
                rotated.insert(LogFiles.rotated(path, index), at: 0)
                index += 1
            }
            return (rotated + [path]).compactMap { LogFiles.openForReading($0, hold: lossless) }
        }
    }
}
