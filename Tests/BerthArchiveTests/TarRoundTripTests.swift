import Glibc
import Testing

@testable import BerthArchive

@Suite struct TarRoundTripTests {
    static let longName = String(repeating: "d", count: 60) + "/" + String(repeating: "e", count: 60) + "/file-with-a-long-name.txt"
    static let veryLongName = (0..<30).map { "segment\($0)" }.joined(separator: "/") + "/" + String(repeating: "x", count: 120)

    static var sampleEntries: [(TarEntry, [UInt8])] {
        let time = TarTime(seconds: 1_700_000_000)
        return [
            (TarEntry(kind: .directory, path: "dir", mode: 0o755, uid: 1000, gid: 1000, userName: "user", groupName: "group", modificationTime: time), []),
            (TarEntry(kind: .file, path: "dir/hello.txt", mode: 0o644, size: 5, modificationTime: time), Array("hello".utf8)),
            (TarEntry(kind: .file, path: "dir/setuid", mode: 0o4755, size: 2, modificationTime: time), [1, 2]),
            (TarEntry(kind: .file, path: "empty", mode: 0o600, modificationTime: time), []),
            (TarEntry(kind: .symlink, path: "dir/link", linkName: "../etc/somewhere", mode: 0o777, modificationTime: time), []),
            (TarEntry(kind: .hardlink, path: "dir/hard", linkName: "dir/hello.txt", mode: 0o644, modificationTime: time), []),
            (TarEntry(kind: .characterDevice, path: "dev/null", mode: 0o666, modificationTime: time, deviceMajor: 1, deviceMinor: 3), []),
            (TarEntry(kind: .blockDevice, path: "dev/sda", mode: 0o660, gid: 6, modificationTime: time, deviceMajor: 8, deviceMinor: 0), []),
            (TarEntry(kind: .fifo, path: "pipe", mode: 0o644, modificationTime: time), []),
            (TarEntry(kind: .directory, path: "sticky", mode: 0o1777, modificationTime: time), []),
            (TarEntry(kind: .file, path: longName, mode: 0o644, size: 3, modificationTime: time), [7, 8, 9]),
            (TarEntry(kind: .file, path: veryLongName, mode: 0o644, size: 1, modificationTime: time), [42]),
            (TarEntry(kind: .symlink, path: "longlink", linkName: veryLongName, mode: 0o777, modificationTime: time), []),
            (TarEntry(kind: .hardlink, path: "longhard", linkName: veryLongName, mode: 0o644, modificationTime: time), []),
            (TarEntry(kind: .file, path: "bigids", mode: 0o644, uid: 3_000_000_000, gid: 2_500_000, size: 0, modificationTime: time), []),
            (TarEntry(kind: .file, path: "ünïcödé/файл", mode: 0o644, userName: "jöhn", size: 1, modificationTime: time), [1]),
            (TarEntry(kind: .file, path: "xattrs", mode: 0o755, size: 0, modificationTime: time,
                      xattrs: ["security.capability": [1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "user.comment": Array("hi".utf8)]), []),
            (TarEntry(kind: .file, path: "fraction", mode: 0o644, modificationTime: TarTime(seconds: 1_600_000_000, nanoseconds: 123_456_789)), []),
            (TarEntry(kind: .file, path: "old", mode: 0o644, modificationTime: TarTime(seconds: -1, nanoseconds: 500_000_000)), []),
        ]
    }

    @Test func everyEntryKindSurvivesWriterAndReader() throws {
        let entries = Self.sampleEntries
        let read = try readAll(try makeTar(entries))
        #expect(read.count == entries.count)
        for (written, readBack) in zip(entries, read) {
            #expect(readBack.0 == written.0)
            #expect(readBack.1 == written.1)
        }
    }

    @Test func headersThatFitStayPlainUstar() throws {
        let bytes = try makeTar([(TarEntry(kind: .file, path: "a.txt", size: 1), [65])])
        #expect(bytes[156] == UInt8(ascii: "0"))
        #expect(Array(bytes[257..<263]) == Array("ustar\0".utf8))
        #expect(bytes.count == 512 * 4)  // header, data block, two end blocks
        let twoFiftyFive = String(repeating: "p", count: 150) + "/" + String(repeating: "n", count: 99)
        let split = try makeTar([(TarEntry(kind: .file, path: twoFiftyFive), [])])
        #expect(split[156] == UInt8(ascii: "0"), "a path that splits into prefix and name needs no PAX header")
        #expect(try readAll(split).first?.0.path == twoFiftyFive)
    }

    @Test func paxHeaderUsedForLongPaths() throws {
        let bytes = try makeTar([(TarEntry(kind: .file, path: Self.veryLongName), [])])
        #expect(bytes[156] == UInt8(ascii: "x"))
    }

    @Test func readerSkipsUnreadDataAndStreamsIntoSinks() throws {
        let big = [UInt8]((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let bytes = try makeTar([
            (TarEntry(kind: .file, path: "big"), big),
            (TarEntry(kind: .file, path: "after"), [1, 2, 3]),
            (TarEntry(kind: .file, path: "streamed"), big),
        ])
        let reader = TarReader(BytesSource(bytes))
        #expect(try reader.next()?.path == "big")
        let after = try reader.next()
        #expect(after?.path == "after")
        #expect(try reader.readContents() == [1, 2, 3])
        #expect(try reader.next()?.size == Int64(big.count))
        let sink = BytesSink()
        try reader.readContents(into: sink)
        #expect(sink.bytes == big)
        #expect(try reader.next() == nil)
        #expect(try reader.next() == nil)
    }

    @Test func truncatedArchiveIsAnError() throws {
        let bytes = try makeTar([(TarEntry(kind: .file, path: "data"), [UInt8](repeating: 1, count: 2000))])
        let reader = TarReader(BytesSource(Array(bytes[0..<1024])))
        #expect(try reader.next()?.path == "data")
        #expect(throws: ArchiveError.truncatedArchive(entry: "data")) { try reader.readContents() }

        let halfHeader = TarReader(BytesSource(Array(bytes[0..<300])))
        #expect(throws: ArchiveError.truncatedArchive(entry: nil)) { try halfHeader.next() }
    }

    @Test func badChecksumIsAnError() throws {
        var bytes = try makeTar([(TarEntry(kind: .file, path: "a"), [1])])
        bytes[0] = UInt8(ascii: "b")
        #expect(throws: ArchiveError.badHeaderChecksum(offset: 0)) { try TarReader(BytesSource(bytes)).next() }
        let garbage = [UInt8](repeating: 0x41, count: 4096)
        #expect(throws: ArchiveError.self) { try TarReader(BytesSource(garbage)).next() }
    }

    @Test func writerRejectsContentsOfTheWrongSize() throws {
        let writer = TarWriter(BytesSink())
        #expect(throws: ArchiveError.sizeMismatch("short", expected: 10, actual: 3)) {
            try writer.write(TarEntry(kind: .file, path: "short", size: 10), contents: BytesSource([1, 2, 3]))
        }
        let other = TarWriter(BytesSink())
        #expect(throws: ArchiveError.sizeMismatch("long", expected: 2, actual: 3)) {
            try other.write(TarEntry(kind: .file, path: "long", size: 2), contents: BytesSource([1, 2, 3]))
        }
    }

    @Test func base256NumbersAndGlobalPaxHeadersAreRead() throws {
        var bytes = try makeTar([(TarEntry(kind: .file, path: "f", uid: 5), [])])
        // Rewrite the uid field as base-256 (GNU style) and fix the checksum.
        let uid: UInt64 = 9_000_000_000
        bytes[108] = 0x80
        for i in 0..<7 { bytes[109 + i] = UInt8(truncatingIfNeeded: uid >> (8 * UInt64(6 - i))) }
        var header = Array(bytes[0..<512])
        TarHeader.setChecksum(&header)
        bytes.replaceSubrange(0..<512, with: header)
        #expect(try readAll(bytes).first?.0.uid == 9_000_000_000)

        // A global header applies to every later entry.
        let records = PAXRecords.encode([("uname", Array("globaluser".utf8)), ("mtime", Array("1234.5".utf8))])
        var global = [UInt8](repeating: 0, count: 512)
        TarHeader.setBytes(&global, TarHeader.Field.name, Array("pax_global_header".utf8))
        TarHeader.setOctal(&global, TarHeader.Field.mode, 0o644)
        TarHeader.setOctal(&global, TarHeader.Field.size, Int64(records.count))
        global[156] = UInt8(ascii: "g")
        TarHeader.setBytes(&global, TarHeader.Field.magic, Array("ustar\0".utf8))
        TarHeader.setChecksum(&global)
        let body = records + [UInt8](repeating: 0, count: 512 - records.count)
        let archive = global + body + (try makeTar([(TarEntry(kind: .file, path: "one"), []), (TarEntry(kind: .file, path: "two"), [])]))
        let read = try readAll(archive)
        #expect(read.map(\.0.path) == ["one", "two"])
        #expect(read.allSatisfy { $0.0.userName == "globaluser" && $0.0.modificationTime == TarTime(seconds: 1234, nanoseconds: 500_000_000) })
    }

    @Test func paxRecordLengthsCountTheirOwnDigits() throws {
        for valueLength in [80, 85, 86, 87, 88, 89, 90, 990, 995, 996, 997, 998] {
            let value = [UInt8](repeating: UInt8(ascii: "v"), count: valueLength)
            let encoded = PAXRecords.encode([("path", value)])
            let parsed = try PAXRecords.parse(encoded, entry: nil)
            #expect(parsed.count == 1 && parsed[0].1 == value, "value length \(valueLength)")
        }
    }

    @Test func emptyInputIsAnEmptyArchive() throws {
        #expect(try TarReader(BytesSource([])).next() == nil)
    }
}
