import Testing

@testable import BerthArchive

@Suite struct LayerEntryChecksTests {
    static let refused: [TarEntry] = [
        TarEntry(kind: .file, path: "../evil"),
        TarEntry(kind: .file, path: "a/../../evil"),
        TarEntry(kind: .directory, path: "/../.."),
        TarEntry(kind: .hardlink, path: "link", linkName: "../etc/passwd"),
        TarEntry(kind: .hardlink, path: "link", linkName: "a/../../etc/passwd"),
        TarEntry(kind: .hardlink, path: "link", linkName: "/"),
        TarEntry(kind: .file, path: ".wh."),
        TarEntry(kind: .file, path: "etc/.wh.."),
        TarEntry(kind: .file, path: "etc/.wh..."),
        TarEntry(kind: .file, path: "a\u{0}b"),
    ]

    static let accepted: [TarEntry] = [
        TarEntry(kind: .file, path: "/etc/passwd"),
        TarEntry(kind: .file, path: "./a/../b"),
        TarEntry(kind: .hardlink, path: "link", linkName: "/etc/passwd"),
        TarEntry(kind: .hardlink, path: "link", linkName: "./usr/../etc/passwd"),
        TarEntry(kind: .symlink, path: "up", linkName: "../../.."),
        TarEntry(kind: .file, path: "etc/.wh.old"),
        TarEntry(kind: .file, path: "etc/.wh..wh..opq"),
        TarEntry(kind: .file, path: ".wh..wh.plnk"),
        TarEntry(kind: .directory, path: "."),
    ]

    @Test(arguments: refused)
    func refusesEntriesThatLeaveTheRootOrNameNothing(entry: TarEntry) {
        #expect(throws: ArchiveError.self) { try LayerEntryChecks.check(entry) }
    }

    @Test(arguments: accepted)
    func acceptsWhatStaysInsideTheRoot(entry: TarEntry) throws {
        try LayerEntryChecks.check(entry)
    }

    /// The extractor applies the same checks: a layer refused on arrival is refused at unpack too.
    @Test(arguments: refused.filter { !$0.path.contains("\u{0}") })
    func theExtractorRefusesTheSameEntries(entry: TarEntry) throws {
        let (directory, result) = try SafeExtractorTests.extract([(entry, [])], whiteouts: .apply)
        #expect(throws: ArchiveError.self) { try result.get() }
        try SafeExtractorTests.expectNothingOutsideRoot(directory)
    }
}
