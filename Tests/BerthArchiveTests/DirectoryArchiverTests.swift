import Glibc
import Testing

@testable import BerthArchive

@Suite struct DirectoryArchiverTests {
    /// A tree with a hard link, a symlink, an empty dir, a setuid file and an xattr.
    static func makeTree(_ directory: TemporaryDirectory) throws -> String {
        let root = directory.file("tree")
        try run(["mkdir", "-p", root + "/bin", root + "/empty", root + "/a-b", root + "/a/b"])
        try writeFile(root + "/bin/tool", "#!/bin/sh\n", mode: 0o4755)
        try writeFile(root + "/data.txt", "data\n")
        try writeFile(root + "/a/b/c.txt", "c\n")
        try run(["ln", root + "/data.txt", root + "/hardlink.txt"])
        try run(["ln", "-s", "data.txt", root + "/symlink"])
        _ = Xattr.set(path: root + "/data.txt", name: "user.test", value: Array("x".utf8))
        try run(["touch", "-h", "-d", "@2000000000.75", root + "/data.txt", root + "/symlink", root + "/empty"])
        return root
    }

    static func archive(_ root: String, fromOverlayUpper: Bool = false, sourceDateEpoch: Int64? = nil) throws -> [UInt8] {
        let sink = BytesSink()
        let writer = TarWriter(sink)
        try DirectoryArchiver.write(root: root, to: writer, fromOverlayUpper: fromOverlayUpper, sourceDateEpoch: sourceDateEpoch)
        try writer.finish()
        return sink.bytes
    }

    @Test func archivesTreeInOrderWithLinksAndMetadata() throws {
        let directory = try TemporaryDirectory()
        let root = try Self.makeTree(directory)
        let entries = try readAll(try Self.archive(root))
        #expect(entries.map(\.0.path) == [
            "a", "a/b", "a/b/c.txt", "a-b", "bin", "bin/tool", "data.txt", "empty", "hardlink.txt", "symlink",
        ])
        let byPath = Dictionary(uniqueKeysWithValues: entries.map { ($0.0.path, $0) })
        #expect(byPath["bin/tool"]?.0.mode == 0o4755)
        #expect(byPath["data.txt"]?.1 == Array("data\n".utf8))
        #expect(byPath["data.txt"]?.0.modificationTime == TarTime(seconds: 2_000_000_000), "truncated to whole seconds")
        #expect(byPath["hardlink.txt"]?.0.kind == .hardlink)
        #expect(byPath["hardlink.txt"]?.0.linkName == "data.txt")
        #expect(byPath["symlink"]?.0.kind == .symlink)
        #expect(byPath["symlink"]?.0.linkName == "data.txt")
        #expect(byPath["empty"]?.0.kind == .directory)
        if Xattr.get(path: root + "/data.txt", name: "user.test") != nil {
            #expect(byPath["data.txt"]?.0.xattrs["user.test"] == Array("x".utf8))
        }
    }

    @Test func sameTreeGivesIdenticalBytes() throws {
        let directory = try TemporaryDirectory()
        let root = try Self.makeTree(directory)
        #expect(try Self.archive(root) == (try Self.archive(root)))
        let clampedFirst = try Self.archive(root, sourceDateEpoch: 1_000_000_000)
        try run(["touch", root + "/a/b"])  // a newer mtime is clamped to the epoch
        let clampedSecond = try Self.archive(root, sourceDateEpoch: 1_000_000_000)
        #expect(clampedFirst == clampedSecond)
        #expect(try readAll(clampedFirst).allSatisfy { $0.0.modificationTime.seconds <= 1_000_000_000 })

        // A copy of the tree made at another time, with files created in another order, archives identically.
        let copy = directory.file("copy")
        try run(["cp", "-a", root, copy])
        try run(["touch", "-d", "@1500000000", copy + "/data.txt"])
        try run(["touch", "-d", "@1500000000", root + "/data.txt"])
        #expect(try Self.archive(root, sourceDateEpoch: 1_700_000_000) == (try Self.archive(copy, sourceDateEpoch: 1_700_000_000)))

        let gzipped = { (bytes: [UInt8]) throws -> [UInt8] in
            let sink = BytesSink()
            let gzip = GzipSink(sink)
            try gzip.write(bytes)
            try gzip.finish()
            return sink.bytes
        }
        #expect(try gzipped(clampedFirst) == (try gzipped(clampedSecond)))
    }

    @Test func archiveExtractsBackToTheSameTree() throws {
        let directory = try TemporaryDirectory()
        let root = try Self.makeTree(directory)
        let out = directory.file("out")
        _ = try SafeExtractor(root: out).extract(TarReader(BytesSource(try Self.archive(root))))
        #expect(try run(["diff", "-r", "--no-dereference", root, out]).isEmpty)
        #expect(FileSystem.lstatInfo(out + "/hardlink.txt")?.st_ino == FileSystem.lstatInfo(out + "/data.txt")?.st_ino)
        #expect(FileSystem.lstatInfo(out + "/bin/tool").map { $0.st_mode & 0o7777 } == 0o4755)
        #expect(FileSystem.lstatInfo(out + "/empty")?.st_mtim.tv_sec == 2_000_000_000)
    }

    @Test func overlayUpperBecomesOCIWhiteouts() throws {
        guard isRoot else {
            print("skipping overlay upper conversion test: creating 0/0 character devices and trusted.* xattrs needs root")
            return
        }
        let directory = try TemporaryDirectory()
        let upper = directory.file("upper")
        try run(["mkdir", "-p", upper + "/etc", upper + "/opaque"])
        try writeFile(upper + "/etc/new.conf", "new")
        try writeFile(upper + "/opaque/only.txt", "only")
        guard mknod(upper + "/etc/removed", S_IFCHR, 0) == 0 else { throw ArchiveError.lastIO("mknod", upper) }
        guard Xattr.set(path: upper + "/opaque", name: "trusted.overlay.opaque", value: [UInt8(ascii: "y")]) else {
            throw ArchiveError.lastIO("setxattr", upper)
        }
        let entries = try readAll(try Self.archive(upper, fromOverlayUpper: true))
        #expect(entries.map(\.0.path) == ["etc", "etc/.wh.removed", "etc/new.conf", "opaque", "opaque/.wh..wh..opq", "opaque/only.txt"])
        #expect(entries.allSatisfy { $0.0.xattrs.keys.allSatisfy { !$0.hasPrefix("trusted.overlay.") } })
        #expect(entries[1].0.kind == .file && entries[1].0.size == 0)

        // Without the flag the device is archived as a device.
        let raw = try readAll(try Self.archive(upper))
        #expect(raw.first { $0.0.path == "etc/removed" }?.0.kind == .characterDevice)

        // And the layer unpacks back into overlay form.
        let snapshot = directory.file("snapshot")
        _ = try SafeExtractor(root: snapshot, whiteouts: .overlay).extract(TarReader(BytesSource(try Self.archive(upper, fromOverlayUpper: true))))
        #expect(FileSystem.lstatInfo(snapshot + "/etc/removed").map { $0.st_mode & S_IFMT } == S_IFCHR)
        #expect(Xattr.get(path: snapshot + "/opaque", name: "trusted.overlay.opaque") == [UInt8(ascii: "y")])
    }
}
