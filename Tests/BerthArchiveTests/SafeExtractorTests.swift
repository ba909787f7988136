import Glibc
import Testing

@testable import BerthArchive

@Suite struct SafeExtractorTests {
    /// Extracts `entries` into `<tmp>/root` and returns the temp dir and the result.
    static func extract(
        _ entries: [(TarEntry, [UInt8])], whiteouts: SafeExtractor.WhiteoutMode = .overlay, into directory: TemporaryDirectory? = nil
    ) throws -> (TemporaryDirectory, Result<ExtractionSummary, any Error>) {
        let directory = try directory ?? TemporaryDirectory()
        let extractor = SafeExtractor(root: directory.file("root"), whiteouts: whiteouts)
        let tar = try makeTar(entries)
        let result = Result { try extractor.extract(TarReader(BytesSource(tar))) }
        return (directory, result)
    }

    static func file(_ path: String, _ text: String = "data", mode: UInt32 = 0o644) -> (TarEntry, [UInt8]) {
        (TarEntry(kind: .file, path: path, mode: mode), Array(text.utf8))
    }

    static func symlink(_ path: String, _ target: String) -> (TarEntry, [UInt8]) {
        (TarEntry(kind: .symlink, path: path, linkName: target, mode: 0o777), [])
    }

    static func directory(_ path: String, mode: UInt32 = 0o755, mtime: Int64 = 1_000_000) -> (TarEntry, [UInt8]) {
        (TarEntry(kind: .directory, path: path, mode: mode, modificationTime: TarTime(seconds: mtime)), [])
    }

    /// The temp dir must hold nothing but the extraction root.
    static func expectNothingOutsideRoot(_ directory: TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try listing(directory.path) == ["root"], sourceLocation: sourceLocation)
    }

    @Test func extractsAllKindsWithMetadata() throws {
        let time = TarTime(seconds: 1_500_000_000, nanoseconds: 42)
        let entries: [(TarEntry, [UInt8])] = [
            (TarEntry(kind: .directory, path: "a", mode: 0o750, modificationTime: TarTime(seconds: 1_000)), []),
            (TarEntry(kind: .file, path: "a/file", mode: 0o4755, uid: 1234, gid: 5678, size: 3, modificationTime: time), [1, 2, 3]),
            (TarEntry(kind: .hardlink, path: "a/hard", linkName: "a/file"), []),
            (TarEntry(kind: .symlink, path: "a/sym", linkName: "/nowhere/at/all", modificationTime: time), []),
            (TarEntry(kind: .fifo, path: "deep/er/fifo", mode: 0o600, modificationTime: time), []),
            (TarEntry(kind: .characterDevice, path: "null", mode: 0o666, deviceMajor: 1, deviceMinor: 3), []),
            (TarEntry(kind: .directory, path: "sticky", mode: 0o1777), []),
            (TarEntry(kind: .file, path: "/absolute/inside", size: 1), [9]),
        ]
        let (directory, result) = try Self.extract(entries)
        let summary = try result.get()
        let root = directory.file("root")
        #expect(summary.bytesWritten == 4)
        #expect(summary.entries + summary.skippedEntries == entries.count)
        #expect(try readFile(root + "/a/file") == [1, 2, 3])
        let file = FileSystem.lstatInfo(root + "/a/file")
        #expect(file.map { $0.st_mode & 0o7777 } == 0o4755)
        #expect(file?.st_mtim.tv_sec == 1_500_000_000 && file?.st_mtim.tv_nsec == 42)
        if isRoot {
            #expect(file?.st_uid == 1234 && file?.st_gid == 5678)
            #expect(FileSystem.lstatInfo(root + "/null").map { $0.st_rdev } == FileSystem.makeDevice(major: 1, minor: 3))
        } else {
            #expect(summary.skippedEntries == 1)
        }
        #expect(FileSystem.lstatInfo(root + "/a/hard")?.st_ino == file?.st_ino)
        #expect(FileSystem.readLink(root + "/a/sym") == "/nowhere/at/all")
        #expect(FileSystem.lstatInfo(root + "/a/sym")?.st_mtim.tv_sec == 1_500_000_000)
        #expect(FileSystem.lstatInfo(root + "/deep/er/fifo").map { $0.st_mode & S_IFMT } == S_IFIFO)
        // Directory metadata is applied after its contents were written.
        let a = FileSystem.lstatInfo(root + "/a")
        #expect(a.map { $0.st_mode & 0o7777 } == 0o750)
        #expect(a?.st_mtim.tv_sec == 1_000)
        #expect(FileSystem.lstatInfo(root + "/sticky").map { $0.st_mode & 0o7777 } == 0o1777)
        #expect(try readFile(root + "/absolute/inside") == [9])
        try Self.expectNothingOutsideRoot(directory)
    }

    @Test func replacesExistingPathsInsteadOfWritingThroughThem() throws {
        let directory = try TemporaryDirectory()
        try writeFile(directory.file("victim"), "original")
        let entries: [(TarEntry, [UInt8])] = [
            Self.symlink("link", "../victim"),
            Self.file("link", "replaced"),  // must replace the symlink, not write through it
            Self.file("dir", "was a file"),
            Self.directory("dir"),
            Self.file("dir/inner", "inner"),
            Self.directory("tree"),
            Self.file("tree/old"),
            Self.file("tree", "now a file"),
        ]
        let (_, result) = try Self.extract(entries, into: directory)
        _ = try result.get()
        let root = directory.file("root")
        #expect(try readFile(directory.file("victim")) == Array("original".utf8))
        #expect(try readFile(root + "/link") == Array("replaced".utf8))
        #expect(try readFile(root + "/dir/inner") == Array("inner".utf8))
        #expect(try readFile(root + "/tree") == Array("now a file".utf8))
    }

    @Test(arguments: ["../x", "a/../../x", "./../x", "a/b/../../../x"])
    func refusesDotDotEscapes(path: String) throws {
        let (directory, result) = try Self.extract([Self.file("ok"), Self.file(path, "evil")])
        #expect(throws: ArchiveError.self) { try result.get() }
        if case .failure(let error) = result {
            #expect("\(error)".contains(path), "the error names the entry: \(error)")
        }
        try Self.expectNothingOutsideRoot(directory)
    }

    @Test func dotDotThatStaysInsideIsAllowed() throws {
        let (directory, result) = try Self.extract([Self.file("a/../b", "fine")])
        _ = try result.get()
        #expect(try readFile(directory.file("root/b")) == Array("fine".utf8))
    }

    @Test func absolutePathsLandInsideTheRoot() throws {
        let (directory, result) = try Self.extract([Self.file("/etc/x", "inside")])
        _ = try result.get()
        #expect(try readFile(directory.file("root/etc/x")) == Array("inside".utf8))
        try Self.expectNothingOutsideRoot(directory)
    }

    @Test func symlinkToSlashIsResolvedInsideTheRoot() throws {
        // `link -> /` is data; writing `link/etc/passwd` must land in root/etc/passwd, never /etc/passwd.
        let before = try readFile("/etc/passwd")
        let (directory, result) = try Self.extract([Self.symlink("link", "/"), Self.file("link/etc/passwd", "evil")])
        _ = try result.get()
        #expect(try readFile("/etc/passwd") == before)
        #expect(try readFile(directory.file("root/etc/passwd")) == Array("evil".utf8))
        #expect(FileSystem.readLink(directory.file("root/link")) == "/")
        try Self.expectNothingOutsideRoot(directory)
    }

    @Test(arguments: [
        [symlink("up", ".."), file("up/escaped")],
        [symlink("a", "."), symlink("b", "a/.."), file("b/escaped")],
        [directory("d"), symlink("d/up", "../.."), file("d/up/escaped")],
        [symlink("loop1", "loop2"), symlink("loop2", "loop1"), file("loop1/x")],
        [symlink("rel", "../root/../.."), file("rel/escaped")],
    ])
    func refusesWritingThroughSymlinksThatLeaveTheRoot(entries: [(TarEntry, [UInt8])]) throws {
        let (directory, result) = try Self.extract(entries)
        #expect(throws: ArchiveError.self) { try result.get() }
        try Self.expectNothingOutsideRoot(directory)
        #expect(!exists(directory.path + "/../escaped"))
    }

    @Test(arguments: ["/etc/passwd", "../outside", "../../etc/passwd", "missing"])
    func refusesHardLinksOutsideTheRoot(target: String) throws {
        let directory = try TemporaryDirectory()
        try writeFile(directory.file("outside"), "secret")
        let (_, result) = try Self.extract([(TarEntry(kind: .hardlink, path: "h", linkName: target), [])], into: directory)
        #expect(throws: ArchiveError.self) { try result.get() }
        #expect(!exists(directory.file("root/h")))
        #expect(FileSystem.lstatInfo(directory.file("outside"))?.st_nlink == 1)
    }

    @Test func refusesHardLinksThroughEscapingSymlinks() throws {
        let directory = try TemporaryDirectory()
        try writeFile(directory.file("outside"), "secret")
        let (_, result) = try Self.extract(
            [Self.symlink("up", ".."), (TarEntry(kind: .hardlink, path: "h", linkName: "up/outside"), [])], into: directory)
        #expect(throws: ArchiveError.self) { try result.get() }
        #expect(FileSystem.lstatInfo(directory.file("outside"))?.st_nlink == 1)
    }

    @Test func hardLinkThroughAbsoluteSymlinkStaysInside() throws {
        let (directory, result) = try Self.extract([
            Self.file("etc/passwd", "inner passwd"), Self.symlink("abs", "/etc"),
            (TarEntry(kind: .hardlink, path: "h", linkName: "abs/passwd"), []),
        ])
        _ = try result.get()
        #expect(try readFile(directory.file("root/h")) == Array("inner passwd".utf8))
    }

    static let layerEntries: [(TarEntry, [UInt8])] = [
        file("keep.txt", "kept"),
        file(".wh.gone.txt", ""),
        directory("opaque"),
        file("opaque/.wh..wh..opq", ""),
        file("opaque/new.txt", "new"),
        file("sub/.wh.gonedir", ""),
    ]

    /// Lower content that the layer's whiteouts refer to.
    static func makeLower(_ directory: TemporaryDirectory) throws {
        let root = directory.file("root")
        try run(["mkdir", "-p", root + "/opaque/lowerdir", root + "/sub/gonedir/inner"])
        try writeFile(root + "/gone.txt", "lower")
        try writeFile(root + "/opaque/lower.txt", "lower")
        try writeFile(root + "/sub/gonedir/inner/f", "lower")
        try writeFile(root + "/sub/stays.txt", "lower")
    }

    @Test func whiteoutsApplyDeletesLowerContent() throws {
        let directory = try TemporaryDirectory()
        try Self.makeLower(directory)
        let (_, result) = try Self.extract(Self.layerEntries, whiteouts: .apply, into: directory)
        _ = try result.get()
        let root = directory.file("root")
        #expect(!exists(root + "/gone.txt"))
        #expect(!exists(root + "/sub/gonedir"))
        #expect(exists(root + "/sub/stays.txt"))
        #expect(try listing(root + "/opaque") == ["new.txt"])
        #expect(try listing(root).contains { $0.hasPrefix(".wh.") } == false)
    }

    @Test func opaqueWhiteoutKeepsEntriesOfTheSameLayerWrittenBeforeIt() throws {
        let directory = try TemporaryDirectory()
        try Self.makeLower(directory)
        let (_, result) = try Self.extract(
            [Self.file("opaque/early/x.txt", "same layer"), Self.file("opaque/.wh..wh..opq", "")], whiteouts: .apply, into: directory)
        _ = try result.get()
        #expect(try listing(directory.file("root/opaque")) == ["early"])
        #expect(try readFile(directory.file("root/opaque/early/x.txt")) == Array("same layer".utf8))
    }

    @Test func whiteoutsKeepWritesPlainFiles() throws {
        let (directory, result) = try Self.extract(Self.layerEntries, whiteouts: .keep)
        _ = try result.get()
        let root = directory.file("root")
        #expect(exists(root + "/.wh.gone.txt"))
        #expect(exists(root + "/opaque/.wh..wh..opq"))
        #expect(exists(root + "/sub/.wh.gonedir"))
    }

    @Test func whiteoutsOverlayBecomeCharacterDevicesAndOpaqueXattrs() throws {
        guard isRoot else {
            print("skipping overlay whiteout test: mknod 0/0 and trusted.* xattrs need root")
            return
        }
        let directory = try TemporaryDirectory()
        let (_, result) = try Self.extract(Self.layerEntries, whiteouts: .overlay, into: directory)
        _ = try result.get()
        let root = directory.file("root")
        for path in ["/gone.txt", "/sub/gonedir"] {
            let info = FileSystem.lstatInfo(root + path)
            #expect(info.map { $0.st_mode & S_IFMT } == S_IFCHR, "\(path)")
            #expect(info?.st_rdev == 0)
        }
        #expect(Xattr.get(path: root + "/opaque", name: "trusted.overlay.opaque") == [UInt8(ascii: "y")])
        #expect(try listing(root + "/opaque") == ["new.txt"])
        #expect(!exists(root + "/.wh.gone.txt"))
    }

    @Test func devicesAreSkippedWhenNotRoot() throws {
        guard !isRoot else {
            print("skipping non-root device test: running as root, where devices are created (see extractsAllKindsWithMetadata)")
            return
        }
        let (_, result) = try Self.extract([(TarEntry(kind: .blockDevice, path: "sda", deviceMajor: 8), [])])
        #expect(try result.get().skippedEntries == 1)
    }

    @Test func extractsGNUTarArchiveOfARealTree() throws {
        let directory = try TemporaryDirectory()
        let tree = try GNUTarInteropTests.makeTree(directory)
        try run(["rm", tree + "/fifo"])  // diff would block reading it
        let archive = directory.file("tree.tar.gz")
        try run(["tar", "--format=pax", "-czf", archive, "."], in: tree)
        let summary = try SafeExtractor(root: directory.file("out")).extract(TarReader(DecompressingSource(FileSource(path: archive))))
        #expect(summary.entries > 5)
        let diff = try run(["diff", "-r", "--no-dereference", tree, directory.file("out")])
        #expect(diff.isEmpty)
    }
}
