import BerthArchive
import BerthBuild
import Foundation
import Glibc
import Testing

/// What COPY and ADD do to the directories they write into, to symbolic links and to several
/// sources, as BuildKit does (the classic builder agrees unless a test says otherwise).
@Suite(.serialized) struct CopySemanticsTests {
    /// A layer's entry for a directory, written with or without its trailing slash.
    func directory(_ entries: [String: TarEntry], _ path: String) -> TarEntry? {
        entries[path + "/"] ?? entries[path]
    }

    @Test func copyIntoAnExistingDirectoryKeepsItsModeOwnerAndTime() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("a.txt", "a\n")
        try fixture.write("tree/b.txt", "b\n")
        try fixture.write("tree/sub/c.txt", "c\n")
        chmod(fixture.contextDirectory + "/tree", 0o700)
        try fixture.build("""
            FROM busybox
            COPY a.txt /tmp/x/a.txt
            COPY --chown=1000:1000 tree/ /tmp/
            ADD a.txt /tmp/
            COPY <<EOF /root/note
            n
            EOF
            """)
        // busybox's /tmp is 1777 root's, its /root 0700; the layers carry them unchanged, with the
        // image's modification time (0), wherever the copy went.
        for offset in 0..<4 {
            let entries = try fixture.layerEntries(fromTop: offset)
            let name = offset == 0 ? "root" : "tmp"
            let entry = try #require(directory(entries, name), "layer \(offset) has \(name)")
            #expect(entry.mode & 0o7777 == (name == "tmp" ? 0o1777 : 0o700), "layer \(offset)")
            #expect(entry.uid == 0 && entry.gid == 0, "layer \(offset)")
            #expect(entry.modificationTime.seconds == 0, "layer \(offset)")
        }
        // What the copy makes is the copy's: the new /tmp/x, and directories inside a copied one
        // (the source's mode, --chown's owner).
        let made = try #require(directory(try fixture.layerEntries(fromTop: 3), "tmp/x"))
        #expect(made.mode & 0o7777 == 0o755 && made.uid == 0)
        let sub = try #require(directory(try fixture.layerEntries(fromTop: 2), "tmp/sub"))
        #expect(sub.uid == 1000 && sub.gid == 1000)
        #expect(try fixture.layerFile("tmp/sub/c.txt", fromTop: 2) == "c\n")
    }

    /// BuildKit makes a destination's missing parents with --chown's owner for files and
    /// directories alike; the classic builder does so only for files (its directory copies make
    /// them root's), so this is checked against Berth alone.
    @Test func chownOwnsTheDirectoriesTheCopyMakesParentsIncluded() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("f.txt", "f\n")
        try fixture.write("tree/g.txt", "g\n")
        try fixture.build("""
            FROM busybox
            COPY --chown=1000:1001 tree/ /srv/deep/tree/
            COPY --chown=1002:1003 f.txt /opt/one/two/f.txt
            ADD --chown=1004:1005 <<EOF /var/new/
            x
            EOF
            """)
        // BuildKit's history shows --chown.
        #expect(try fixture.config().history?.suffix(3).first?.createdBy == "COPY --chown=1000:1001 tree/ /srv/deep/tree/ # buildkit")
        let directories = try fixture.layerEntries(fromTop: 2)
        for path in ["srv", "srv/deep", "srv/deep/tree"] {
            let entry = try #require(directory(directories, path), "\(path)")
            #expect(entry.uid == 1000 && entry.gid == 1001 && entry.mode & 0o7777 == 0o755, "\(path)")
        }
        let files = try fixture.layerEntries(fromTop: 1)
        for path in ["opt", "opt/one", "opt/one/two", "opt/one/two/f.txt"] {
            let entry = try #require(directory(files, path), "\(path)")
            #expect(entry.uid == 1002 && entry.gid == 1003, "\(path)")
        }
        let inline = try fixture.layerEntries()
        #expect(directory(inline, "var/new").map { $0.uid == 1004 && $0.gid == 1005 } == true)
        // /var exists in busybox: it stays root's.
        #expect(directory(inline, "var").map { $0.uid == 0 && $0.mode & 0o7777 == 0o755 } == true)
        #expect(inline["var/new/EOF"].map { $0.uid == 1004 } == true)
    }

    @Test func aSymlinkNamedAsASourceIsFollowedAndLinksInsideStayLinks() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("real/data.txt", "data\n")
        try fixture.write("real/nested/deep.txt", "deep\n")
        let context = fixture.contextDirectory
        #expect(symlink("data.txt", context + "/real/inner-link") == 0)
        #expect(symlink("real/data.txt", context + "/file-link") == 0)
        #expect(symlink("real", context + "/dir-link") == 0)
        #expect(symlink("/real/nested", context + "/absolute-link") == 0)
        try fixture.build("""
            FROM busybox
            COPY file-link /copied.txt
            COPY dir-link /tree/
            COPY absolute-link file-link /many/
            COPY dir-link/nested/deep.txt /through-link.txt
            """)
        let file = try #require(try fixture.layerEntries(fromTop: 3)["copied.txt"])
        #expect(file.kind == .file)
        #expect(try fixture.layerFile("copied.txt", fromTop: 3) == "data\n")
        let tree = try fixture.layerEntries(fromTop: 2)
        #expect(tree["tree/data.txt"]?.kind == .file)
        #expect(tree["tree/inner-link"]?.kind == .symlink && tree["tree/inner-link"]?.linkName == "data.txt")
        #expect(try fixture.layerFile("tree/nested/deep.txt", fromTop: 2) == "deep\n")
        // An absolute link resolves inside the context; a file keeps the link's name.
        let many = try fixture.layerEntries(fromTop: 1)
        #expect(try fixture.layerFile("many/deep.txt", fromTop: 1) == "deep\n")
        #expect(many["many/file-link"]?.kind == .file)
        #expect(try fixture.layerFile("through-link.txt") == "deep\n")
    }

    @Test func aDestinationThroughTheImagesSymlinksWritesWhereTheyPoint() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("a.txt", "a\n")
        try fixture.write("image/usr/lib/app/keep", "k\n")
        #expect(symlink("usr/lib", fixture.contextDirectory + "/image/lib") == 0)
        #expect(symlink("/usr/lib/app", fixture.contextDirectory + "/image/app-link") == 0)
        try fixture.build("""
            FROM busybox
            COPY image/ /
            COPY a.txt /lib/app/
            COPY a.txt /app-link
            COPY <<EOF /lib/note
            n
            EOF
            """)
        let merged = try fixture.layerEntries(fromTop: 2)
        #expect(merged["usr/lib/app/a.txt"] != nil && merged["lib"] == nil && merged["lib/"] == nil, "\(merged.keys.sorted())")
        let named = try fixture.layerEntries(fromTop: 1)
        #expect(named["usr/lib/app/a.txt"] != nil && named["app-link"] == nil, "\(named.keys.sorted())")
        #expect(try fixture.layerFile("usr/lib/note") == "n\n")
        // The links stay links in the image.
        let links = try fixture.layerEntries(fromTop: 3)
        #expect(links["lib"]?.kind == .symlink && links["app-link"]?.kind == .symlink)
    }

    @Test func aSourceLinkNeverReadsOutsideTheContext() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        let outside = (fixture.contextDirectory as NSString).deletingLastPathComponent + "/outside.txt"
        try Data("host secret\n".utf8).write(to: URL(fileURLWithPath: outside))
        #expect(symlink("../outside.txt", fixture.contextDirectory + "/climb") == 0)
        #expect(symlink(outside, fixture.contextDirectory + "/absolute") == 0)
        #expect(symlink("..", fixture.contextDirectory + "/parent") == 0)
        for (line, source) in [(2, "climb"), (2, "absolute"), (2, "parent/outside.txt")] {
            #expect(throws: BuildError.sourceNotFound(source, fileName: "Dockerfile", line: line)) {
                try fixture.build("FROM busybox\nCOPY \(source) /got.txt\n")
            }
        }
        // Resolved inside the context, `..` stops at its root: the context itself.
        try fixture.write("inside.txt", "inside\n")
        try fixture.build("FROM busybox\nCOPY parent/inside.txt /got.txt\n")
        #expect(try fixture.layerFile("got.txt") == "inside\n")
    }

    @Test func severalSourcesNeedADirectoryDestinationEndingInASlash() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("a.txt", "a\n")
        try fixture.write("b.txt", "b\n")
        try fixture.write("dir/c.txt", "c\n")
        func refused(_ keyword: String, line: Int) -> BuildError {
            .invalid("When using \(keyword) with more than one source file, the destination must be a directory and end with a /",
                     fileName: "Dockerfile", line: line)
        }
        #expect(throws: refused("COPY", line: 3)) { try fixture.build("FROM busybox\nENV X=1\nCOPY a.txt b.txt /dest\n") }
        #expect(throws: refused("COPY", line: 2)) { try fixture.build("FROM busybox\nCOPY *.txt /dest\n") }
        #expect(throws: refused("ADD", line: 2)) { try fixture.build("FROM busybox\nADD a.txt dir .\n") }
        #expect(throws: refused("COPY", line: 2)) { try fixture.build("FROM busybox\nCOPY a.txt <<EOF /dest\nx\nEOF\n") }
        // One match, or one directory (however many files it holds), is one source.
        try fixture.build("FROM busybox\nCOPY a*.txt /single\nCOPY dir /d\nCOPY a.txt b.txt /both/\n")
        #expect(try fixture.layerFile("single", fromTop: 2) == "a\n")
        #expect(try fixture.layerFile("d/c.txt", fromTop: 1) == "c\n")
        #expect(try fixture.layerFile("both/b.txt") == "b\n")
    }
}
