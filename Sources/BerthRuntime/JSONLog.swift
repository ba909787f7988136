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

/// Turns a stream's bytes into log entries, one per line (a line longer than Docker's 16 KiB
/// limit is split into partial entries), and appends them to the log file.
final class LogWriter {
    private let descriptor: Int32
    private var pending: [String: [UInt8]] = [:]

    init(path: String) throws {
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        if descriptor < 0 { throw RuntimeError.lastIO("open", path) }
    }

    deinit { close(descriptor) }

    /// Adds bytes read from `stream` and writes every completed line.
    func append(_ bytes: ArraySlice<UInt8>, stream: String) {
        var buffer = pending[stream, default: []]
        buffer.append(contentsOf: bytes)
        var out: [UInt8] = []
        let time = Timestamp.format(Date())
        var start = 0
        while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var lineStart = start
            while newline + 1 - lineStart > JSONLog.maxLine {
                JSONLog.encode(buffer[lineStart..<lineStart + JSONLog.maxLine], stream: stream, time: time, into: &out)
                lineStart += JSONLog.maxLine
            }
            JSONLog.encode(buffer[lineStart...newline], stream: stream, time: time, into: &out)
            start = newline + 1
        }
        while buffer.count - start >= JSONLog.maxLine {
            JSONLog.encode(buffer[start..<start + JSONLog.maxLine], stream: stream, time: time, into: &out)
            start += JSONLog.maxLine
        }
        pending[stream] = Array(buffer[start...])
        write(out)
    }

    /// Writes what is left of a stream that ended without a newline.
    func finish(stream: String) {
        guard let rest = pending[stream], !rest.isEmpty else { return }
        var out: [UInt8] = []
        JSONLog.encode(rest[...], stream: stream, time: Timestamp.format(Date()), into: &out)
        pending[stream] = []
        write(out)
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

/// Reads a json-file log incrementally from an open descriptor (which keeps working after the
/// container's directory is removed, as it is for `run --rm`).
public final class LogReader {
    private let descriptor: Int32
    private var partial: [UInt8] = []

    /// Opens the log at `path`, reading from byte `offset` on (a previous size, to skip old runs).
    public init(path: String, offset: Int64 = 0) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 { throw RuntimeError.lastIO("open", path) }
        if offset > 0 { lseek(descriptor, off_t(offset), SEEK_SET) }
    }

    /// The size of the log at `path` now (0 if it does not exist yet).
    public static func size(of path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    deinit { close(descriptor) }

    /// Entries completed since the last call.
    public func readAvailable() -> [JSONLog.Entry] {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var entries: [JSONLog.Entry] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
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
        return entries
    }
}
