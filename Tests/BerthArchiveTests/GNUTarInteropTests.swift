import Glibc
import Testing

@testable import BerthArchive

/// Archives made by the real GNU tar and Python's tarfile, and ours read by GNU tar.
@Suite struct GNUTarInteropTests {
    static let deepName = (0..<12).map { "level-\($0)-" + String(repeating: "z", count: 15) }.joined(separator: "/")

    /// A tree with a long path, a symlink with a long target, a hard link, a FIFO, an empty dir.
    static func makeTree(_ directory: TemporaryDirectory) throws -> String {
        let root = directory.file("tree")
        try run(["mkdir", "-p", root + "/" + deepName, root + "/empty"])
        try writeFile(root + "/" + deepName + "/leaf.txt", "leaf contents\n")
        try writeFile(root + "/plain.txt", "plain\n", mode: 0o640)
        try writeFile(root + "/ünïcödé.txt", "unicode\n")
        try run(["ln", "-s", deepName + "/leaf.txt", root + "/longlink"])
        try run(["ln", root + "/plain.txt", root + "/hardlink"])
        try run(["mkfifo", root + "/fifo"])
        try run(["touch", "-d", "@1600000000.25", root + "/plain.txt"])
        return root
    }

    @Test(arguments: ["gnu", "pax", "ustar"])
    func readsArchivesMadeByGNUTar(format: String) throws {
        let directory = try TemporaryDirectory()
        let root = try Self.makeTree(directory)
        let archive = directory.file("out.tar")
        if format == "ustar" {
            try run(["tar", "--format=ustar", "-cf", archive, "plain.txt", "hardlink", "empty", "fifo"], in: root)
        } else {
            try run(["tar", "--format=\(format)", "-cf", archive, "."], in: root)
        }
        let entries = try readAll(try readFile(archive))
        let byPath = Dictionary(entries.map { ($0.0.path.hasPrefix("./") ? String($0.0.path.dropFirst(2)) : $0.0.path, $0) }, uniquingKeysWith: { a, _ in a })
        // Whichever of the two names tar met first carries the data; the other is a hard link to it.
        let linked = [byPath["plain.txt"], byPath["hardlink"]].compactMap { $0 }
        #expect(linked.map(\.0.kind).sorted { "\($0)" < "\($1)" } == [.file, .hardlink])
        #expect(linked.first { $0.0.kind == .file }?.1 == Array("plain\n".utf8))
        #expect(linked.allSatisfy { $0.0.mode == 0o640 })
        #expect(byPath["empty"]?.0.kind == .directory)
        #expect(byPath["fifo"]?.0.kind == .fifo)
        if format == "pax" {
            #expect(byPath["plain.txt"]?.0.modificationTime == TarTime(seconds: 1_600_000_000, nanoseconds: 250_000_000))
        }
        if format != "ustar" {
            #expect(byPath[Self.deepName + "/leaf.txt"]?.1 == Array("leaf contents\n".utf8))
            #expect(byPath["longlink"]?.0.linkName == Self.deepName + "/leaf.txt")
            #expect(byPath["ünïcödé.txt"]?.1 == Array("unicode\n".utf8))
        }
    }

    @Test func readsGNUTarXattrsAndLargeIds() throws {
        let directory = try TemporaryDirectory()
        let root = directory.file("tree")
        try run(["mkdir", "-p", root])
        try writeFile(root + "/file", "x")
        guard Xattr.set(path: root + "/file", name: "user.berth", value: Array("value".utf8)) else {
            print("skipping xattr check: the temp file system does not support user xattrs (errno \(errno))")
            return
        }
        let archive = directory.file("x.tar")
        try run(["tar", "--format=pax", "--xattrs", "--xattrs-include=*", "--owner=3000000000", "--group=4000000", "-cf", archive, "file"], in: root)
        let entry = try readAll(try readFile(archive)).first?.0
        #expect(entry?.xattrs["user.berth"] == Array("value".utf8))
        #expect(entry?.uid == 3_000_000_000)
        #expect(entry?.gid == 4_000_000)
    }

    @Test func readsPythonTarfileArchives() throws {
        let directory = try TemporaryDirectory()
        let script = """
            import io, tarfile, sys
            for fmt, name in ((tarfile.GNU_FORMAT, "gnu.tar"), (tarfile.PAX_FORMAT, "pax.tar")):
                with tarfile.open(sys.argv[1] + "/" + name, "w", format=fmt) as t:
                    data = b"python data"
                    info = tarfile.TarInfo("p/" + "q" * 150 + "/file")
                    info.size = len(data); info.uid = 2**31; info.mtime = 1700000000
                    t.addfile(info, io.BytesIO(data))
                    link = tarfile.TarInfo("symlink"); link.type = tarfile.SYMTYPE; link.linkname = "t" * 200
                    t.addfile(link)
            """
        try run(["python3", "-c", script, directory.path])
        for name in ["gnu.tar", "pax.tar"] {
            let entries = try readAll(try readFile(directory.file(name)))
            #expect(entries.count == 2, "\(name)")
            #expect(entries.first?.0.path == "p/" + String(repeating: "q", count: 150) + "/file")
            #expect(entries.first?.1 == Array("python data".utf8))
            #expect(entries.first?.0.uid == 1 << 31)
            #expect(entries.last?.0.linkName == String(repeating: "t", count: 200))
        }
    }

    @Test func gnuTarListsAndExtractsOurArchives() throws {
        let directory = try TemporaryDirectory()
        let archive = directory.file("ours.tar")
        let sink = try FileSink(path: archive)
        let writer = TarWriter(sink)
        for (entry, bytes) in TarRoundTripTests.sampleEntries where entry.kind != .characterDevice && entry.kind != .blockDevice {
            try writer.write(entry, bytes: bytes)
        }
        try writer.finish()

        let listing = String(decoding: try run(["tar", "-tvf", archive]), as: UTF8.self)
        #expect(listing.contains(TarRoundTripTests.veryLongName))
        #expect(listing.contains("longlink -> " + TarRoundTripTests.veryLongName))
        #expect(listing.contains("-rwsr-xr-x"))
        #expect(listing.contains("3000000000/2500000"))

        let out = directory.file("out")
        try run(["mkdir", out])
        try run(["tar", "--xattrs", "-xf", archive, "-C", out])
        #expect(try readFile(out + "/dir/hello.txt") == Array("hello".utf8))
        #expect(try readFile(out + "/" + TarRoundTripTests.veryLongName) == [42])
        #expect(try readFile(out + "/" + TarRoundTripTests.longName) == [7, 8, 9])
        #expect(try readFile(out + "/ünïcödé/файл") == [1])
        #expect(FileSystem.readLink(out + "/longlink") == TarRoundTripTests.veryLongName)
        let hello = FileSystem.lstatInfo(out + "/dir/hello.txt")
        let hard = FileSystem.lstatInfo(out + "/dir/hard")
        #expect(hello?.st_ino == hard?.st_ino)
        #expect(FileSystem.lstatInfo(out + "/dir/setuid").map { $0.st_mode & 0o7777 } == (isRoot ? 0o4755 : 0o755))
        #expect(FileSystem.lstatInfo(out + "/fraction")?.st_mtim.tv_nsec == 123_456_789)
    }
}
