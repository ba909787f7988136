@testable import BerthEngine
import BerthOCI
import BerthRuntime
import Foundation
import Glibc
import NIOCore
import Testing

/// The pure rules of a container's streams: Docker's frame format, detach keys, which log entries
/// `logs` shows and how, and the file modes `cp` reports.
struct ContainerIOTests {
    @Test func aFrameIsTheStreamThreeZerosTheBigEndianLengthAndThePayload() {
        let frame = StreamFraming.frame(.stderr, ByteBuffer(string: "hello"))
        #expect(Array(frame.readableBytesView) == [2, 0, 0, 0, 0, 0, 0, 5] + Array("hello".utf8))
        let large = StreamFraming.frame(.stdout, ByteBuffer(bytes: [UInt8](repeating: 7, count: 0x1_0203)))
        #expect(Array(large.readableBytesView.prefix(8)) == [1, 0, 0, 0, 0, 1, 2, 3])
        #expect(large.readableBytes == 8 + 0x1_0203)
    }

    @Test func detachKeysParseAsMobysTermDoes() throws {
        #expect(try DetachKeys(parsing: nil) == .standard)
        #expect(try DetachKeys(parsing: "").sequence == [0x10, 0x11])
        #expect(try DetachKeys(parsing: "ctrl-a,x,ctrl-@,ctrl-_").sequence == [1, UInt8(ascii: "x"), 0, 31])
        #expect(throws: EngineError.invalidParameter("Invalid detach keys (ctrl-1) provided")) {
            try DetachKeys(parsing: "ctrl-1")
        }
        #expect(throws: EngineError.self) { try DetachKeys(parsing: "a,,b") }
    }

    @Test func theMatcherPassesOtherInputOnAndStopsAtTheSequence() {
        var matcher = DetachKeys.Matcher(.standard)
        #expect(matcher.filter(Array("ab".utf8)) == (Array("ab".utf8), false))
        // A Ctrl-P waits for the next byte: not followed by Ctrl-Q, it is passed on.
        #expect(matcher.filter([0x10]) == ([], false))
        #expect(matcher.filter([0x10, UInt8(ascii: "c")]) == ([0x10, 0x10, UInt8(ascii: "c")], false))
        #expect(matcher.filter([UInt8(ascii: "d"), 0x10, 0x11, UInt8(ascii: "e")]) == ([UInt8(ascii: "d")], true))
        var single = DetachKeys.Matcher(DetachKeys(sequence: [UInt8(ascii: "q")]))
        #expect(single.filter(Array("xqy".utf8)) == (Array("x".utf8), true))
    }

    private func entry(_ text: String, _ stream: String, _ time: String) -> JSONLog.Entry {
        JSONLog.Entry(log: Array(text.utf8), stream: stream, time: time)
    }

    @Test func logsApplyTheWindowThenTheTail() throws {
        let entries = [
            entry("a\n", "stdout", "2024-01-01T00:00:01Z"), entry("b\n", "stderr", "2024-01-01T00:00:02Z"),
            entry("c\n", "stdout", "2024-01-01T00:00:03Z"), entry("d\n", "stdout", "2024-01-01T00:00:04Z"),
        ]
        let until = try #require(Timestamp.parse("2024-01-01T00:00:03Z"))
        let windowed = LogsOptions(until: until, tail: 2).initial(entries)
        #expect(windowed.map { String(decoding: $0.log, as: UTF8.self) } == ["b\n", "c\n"])
        let since = try #require(Timestamp.parse("2024-01-01T00:00:02Z"))
        #expect(LogsOptions(stderr: false, since: since).initial(entries).count == 2)
        #expect(LogsOptions(tail: 0).initial(entries).isEmpty)
        #expect(try LogsOptions.tail("all") == nil)
        #expect(try LogsOptions.tail("-1") == nil)
        #expect(try LogsOptions.tail("3") == 3)
        #expect(throws: EngineError.self) { try LogsOptions.tail("three") }
    }

    @Test func timestampsHaveNineFractionalDigits() {
        #expect(LogsOptions.fixedNanos("2024-01-02T03:04:05.12Z") == "2024-01-02T03:04:05.120000000Z")
        #expect(LogsOptions.fixedNanos("2024-01-02T03:04:05Z") == "2024-01-02T03:04:05.000000000Z")
        let line = LogsOptions(timestamps: true).line(entry("x\n", "stdout", "2024-01-02T03:04:05.5Z"))
        #expect(String(decoding: line, as: UTF8.self) == "2024-01-02T03:04:05.500000000Z x\n")
    }

    @Test func pathStatModesAreGosFileModes() throws {
        #expect(PathStat.goFileMode(UInt32(S_IFDIR) | 0o755) == 1 << 31 | 0o755)
        #expect(PathStat.goFileMode(UInt32(S_IFREG) | 0o644) == 0o644)
        #expect(PathStat.goFileMode(UInt32(S_IFLNK) | 0o777) == 1 << 27 | 0o777)
        #expect(PathStat.goFileMode(UInt32(S_IFCHR) | 0o666) == 1 << 26 | 1 << 21 | 0o666)
        #expect(PathStat.goFileMode(UInt32(S_IFREG) | UInt32(S_ISUID) | 0o755) == 1 << 23 | 0o755)
        let stat = PathStat(ContainerPathStat(name: "etc", size: 4096, mode: UInt32(S_IFDIR) | 0o755,
                                              modified: Date(timeIntervalSince1970: 1_700_000_000.25), linkTarget: ""))
        let decoded = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: stat.headerValue))) as? [String: Any]
        #expect(decoded?["name"] as? String == "etc")
        #expect(decoded?["mtime"] as? String == "2023-11-14T22:13:20.25Z")
        #expect(decoded?["mode"] as? Int == Int(1 << 31 | 0o755))
        #expect(decoded?["linkTarget"] as? String == "")
    }
}
