import BerthArchive
import Foundation
import Glibc
import Testing

@testable import BerthRuntime

/// What a run of the `berth` binary printed and returned.
struct BerthCommandResult {
    var status: Int32
    var stdout: [UInt8]
    var stderr: String

    var text: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs the built `berth` on the fixture's root with `stdin` as its input, from `directory`.
func berthCommand(_ fixture: RuntimeFixture, _ arguments: [String], stdin: [UInt8]? = nil,
                  in directory: String? = nil) throws -> BerthCommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: RuntimeFixture.berthBinary ?? "")
    process.arguments = ["--root", fixture.root] + arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe()
    // A file, not a pipe: read after the exit, it needs no second reader thread.
    let errPath = fixture.root + "/.stderr-\(UUID().uuidString)"
    guard FileManager.default.createFile(atPath: errPath, contents: nil), let err = FileHandle(forWritingAtPath: errPath)
    else { throw POSIXError(.EIO) }
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try process.run()
    if let stdin {
        // Fed from another thread: a large archive would fill the pipe before berth reads it.
        let handle = input.fileHandleForWriting
        Thread.detachNewThread {
            handle.write(Data(stdin))
            try? handle.close()
        }
    }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try err.close()
    let stderr = FileManager.default.contents(atPath: errPath) ?? Data()
    return BerthCommandResult(status: process.terminationStatus, stdout: Array(stdout),
                              stderr: String(decoding: stderr, as: UTF8.self))
}

/// `berth cp` between containers (running and stopped) and the host, through the built binary
/// with real runc and overlayfs (root only). The symlink attacks are the point: whatever a
/// container's paths say, a copy reads and writes inside the container, never the host.
@Suite(.serialized)
struct CopyTests {
    func berth(_ fixture: RuntimeFixture, _ arguments: String..., stdin: [UInt8]? = nil, in directory: String? = nil) throws
        -> BerthCommandResult {
        try berthCommand(fixture, arguments, stdin: stdin, in: directory)
    }

    /// A fresh host directory for one test.
    func scratch() throws -> String {
        let path = "/tmp/berth-cp-test-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func contents(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }

    /// The entries of a tar stream: path, uid and contents of files.
    func entries(_ tar: [UInt8]) throws -> [(path: String, uid: Int, contents: String)] {
        let reader = TarReader(BytesSource(tar))
        var result: [(String, Int, String)] = []
        while let entry = try reader.next() {
            let bytes = entry.kind == .file ? try reader.readContents() : []
            result.append((entry.path, entry.uid, String(decoding: bytes, as: UTF8.self)))
        }
        return result
    }

    func mounted(_ id: String) -> Bool {
        RuntimeFixture.mountTable().contains(id)
    }

    /// A stopped container whose files include symlinks pointing out of its root, and whose
    /// /etc/passwd differs from the host's.
    func makeStoppedContainer(_ fixture: RuntimeFixture, name: String, script: String = "") throws -> String {
        let run = try berth(fixture, "run", "--name", name, "--network", "none", "busybox", "sh", "-c", """
            mkdir -p /d/sub && echo a > /d/f && echo b > /d/sub/g && \
            ln -s /../../../../etc /escape && ln -s /etc /abs && ln -s f /d/flink && \
            echo container-passwd > /etc/passwd \(script)
            """)
        #expect(run.status == 0, "\(run.stderr)")
        return try #require(try berth(fixture, "inspect", "--format", "{{.Id}}", name).text.split(separator: "\n").first).description
    }

    @Test func copiesOutOfAStoppedContainerByDockersRules() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let id = try makeStoppedContainer(fixture, name: "src")
        let host = try scratch()
        defer { try? FileManager.default.removeItem(atPath: host) }

        // A file to a new name, and into an existing directory under its own name.
        #expect(try berth(fixture, "cp", "src:/d/f", host + "/f1").status == 0)
        #expect(contents(host + "/f1") == "a\n")
        try FileManager.default.createDirectory(atPath: host + "/into", withIntermediateDirectories: false)
        #expect(try berth(fixture, "cp", "src:d/f", "into", in: host).status == 0)
        #expect(contents(host + "/into/f") == "a\n")
        // A directory to a new name (its contents), into an existing one (itself), `/.` (its contents).
        #expect(try berth(fixture, "cp", "src:/d", host + "/newdir").status == 0)
        #expect(contents(host + "/newdir/sub/g") == "b\n")
        #expect(try berth(fixture, "cp", "src:/d", host + "/into").status == 0)
        #expect(contents(host + "/into/d/sub/g") == "b\n")
        try FileManager.default.createDirectory(atPath: host + "/dot", withIntermediateDirectories: false)
        #expect(try berth(fixture, "cp", "src:/d/.", host + "/dot").status == 0)
        #expect(contents(host + "/dot/f") == "a\n" && contents(host + "/dot/sub/g") == "b\n")
        // A symlink is copied as a symlink; -L copies what it points to.
        #expect(try berth(fixture, "cp", "src:/d/flink", host + "/link").status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: host + "/link") == "f")
        #expect(try berth(fixture, "cp", "-L", "src:/d/flink", host + "/followed").status == 0)
        #expect(contents(host + "/followed") == "a\n")

        // Docker's errors, and nothing written for them.
        let missing = try berth(fixture, "cp", "src:/nope", host + "/x")
        #expect(missing.status == 1 && missing.stderr == "Error response from daemon: Could not find the file /nope in container src\n")
        let slash = try berth(fixture, "cp", "src:/d/f/", host + "/x")
        #expect(slash.status == 1 && slash.stderr == "Error response from daemon: lstat /d/f/: not a directory\n")
        let dirOverFile = try berth(fixture, "cp", "src:/d", host + "/f1")
        #expect(dirOverFile.status == 1 && dirOverFile.stderr == "cannot copy directory\n")
        let fileToMissingDir = try berth(fixture, "cp", "src:/d/f", host + "/nodir/")
        #expect(fileToMissingDir.status == 1 && fileToMissingDir.stderr == "no such directory\n")
        let noParent = try berth(fixture, "cp", "src:/d/f", host + "/a/b")
        #expect(noParent.status == 1 && noParent.stderr == "invalid output path: directory \"\(host)/a\" does not exist\n")
        #expect(!FileManager.default.fileExists(atPath: host + "/x") && !FileManager.default.fileExists(atPath: host + "/nodir"))
        #expect(try berth(fixture, "cp", host + "/f1", host + "/f2").stderr == "must specify at least one container source\n")
        #expect(try berth(fixture, "cp", "src:/a", "src:/b").stderr == "copying between containers is not supported\n")
        #expect(try berth(fixture, "cp", "nosuch:/a", host).stderr == "Error response from daemon: No such container: nosuch\n")

        // The helper mounted the stopped container privately: nothing of it is mounted here.
        #expect(!mounted(id))
    }

    @Test func symlinksInAContainerNeverLeadToTheHost() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        // The target directory exists on the host too: an escape would write there.
        let bait = try scratch()
        defer { try? FileManager.default.removeItem(atPath: bait) }
        let id = try makeStoppedContainer(fixture, name: "trap", script: """
            && mkdir -p \(bait) && ln -s /../../..\(bait) /baitlink && ln -s \(bait) /baitabs
            """)
        let host = try scratch()
        defer { try? FileManager.default.removeItem(atPath: host) }

        // Reading through a relative escape and an absolute link gives the container's /etc/passwd.
        #expect(try berth(fixture, "cp", "trap:/escape/passwd", host + "/p1").status == 0)
        #expect(contents(host + "/p1") == "container-passwd\n")
        #expect(try berth(fixture, "cp", "trap:/abs/passwd", host + "/p2").status == 0)
        #expect(contents(host + "/p2") == "container-passwd\n")
        #expect(try berth(fixture, "cp", "-L", "trap:/escape", host + "/etc").status == 0)
        #expect(contents(host + "/etc/passwd") == "container-passwd\n")
        // The link itself would point out of the destination on the host: refused, as Docker does.
        let link = try berth(fixture, "cp", "trap:/escape", host + "/escape")
        #expect(link.status == 1 && link.stderr.contains("symlink target '/../../../../etc' is outside the extraction root"))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: host + "/escape")) == nil)
        #expect(try berth(fixture, "cp", "trap:/abs", host + "/abs").status == 0)
        let stream = try berth(fixture, "cp", "trap:/escape/", "-")
        #expect(try entries(stream.stdout).contains { $0.path == "escape/passwd" && $0.contents == "container-passwd\n" })

        // Writing through them lands in the container's directory; the host's stays empty.
        try "payload\n".write(toFile: host + "/payload", atomically: true, encoding: .utf8)
        #expect(try berth(fixture, "cp", host + "/payload", "trap:/baitlink/").status == 0)
        #expect(try berth(fixture, "cp", host + "/payload", "trap:/baitabs/p2").status == 0)
        #expect(try berth(fixture, "cp", host + "/payload", "trap:/escape/passwd").status == 0)
        // An archive whose entries go through the links, and one that climbs out with `..`.
        func archive(_ path: String) throws -> [UInt8] {
            let tar = BytesSink()
            let writer = TarWriter(tar)
            try writer.write(TarEntry(kind: .file, path: path, mode: 0o644, uid: 0, gid: 0, modificationTime: TarTime(seconds: 0)),
                             bytes: Array("archived\n".utf8))
            try writer.finish()
            return tar.bytes
        }
        #expect(try berth(fixture, "cp", "-", "trap:/", stdin: archive("baitabs/p3")).status == 0)
        // The extractor refuses a link that climbs above its root rather than clamping it.
        let relative = try berth(fixture, "cp", "-", "trap:/", stdin: archive("baitlink/p5"))
        #expect(relative.status == 1 && relative.stderr.contains("leads out of the extraction root"), "\(relative.stderr)")
        let climbing = try berth(fixture, "cp", "-", "trap:/d", stdin: archive("../../p4"))
        #expect(climbing.status == 1 && climbing.stderr.contains("climbs out of the extraction root"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: bait) == [])
        #expect(contents("/etc/passwd") != "payload\n")

        let inside = try entries(berth(fixture, "cp", "trap:\(bait)", "-").stdout)
        #expect(inside.contains { $0.path.hasSuffix("/payload") && $0.contents == "payload\n" })
        #expect(inside.contains { $0.path.hasSuffix("/p2") && $0.contents == "payload\n" })
        #expect(inside.contains { $0.path.hasSuffix("/p3") && $0.contents == "archived\n" })
        #expect(try entries(berth(fixture, "cp", "trap:/etc/passwd", "-").stdout).first?.contents == "payload\n")
        #expect(!mounted(id))
    }

    @Test func copiesIntoAStoppedContainerOwnedByRootUnlessArchiveMode() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let id = try makeStoppedContainer(fixture, name: "dst")
        let host = try scratch()
        defer { try? FileManager.default.removeItem(atPath: host) }
        try FileManager.default.createDirectory(atPath: host + "/tree/inner", withIntermediateDirectories: true)
        try "one\n".write(toFile: host + "/tree/one", atomically: true, encoding: .utf8)
        try "two\n".write(toFile: host + "/tree/inner/two", atomically: true, encoding: .utf8)
        for path in ["/tree", "/tree/one", "/tree/inner", "/tree/inner/two"] { chown(host + path, 1234, 1234) }

        #expect(try berth(fixture, "cp", host + "/tree/one", "dst:/one").status == 0)
        #expect(try berth(fixture, "cp", "-a", host + "/tree/one", "dst:/one-archive").status == 0)
        #expect(try berth(fixture, "cp", host + "/tree", "dst:/d").status == 0)          // into /d
        #expect(try berth(fixture, "cp", host + "/tree", "dst:/newtree").status == 0)    // as /newtree
        #expect(try berth(fixture, "cp", host + "/tree/.", "dst:/d/sub").status == 0)    // contents into /d/sub
        // A destination symlink is followed: this writes /d/f.
        #expect(try berth(fixture, "cp", host + "/tree/one", "dst:/d/flink").status == 0)

        let all = try entries(berth(fixture, "cp", "dst:/", "-").stdout)
        func entry(_ path: String) -> (path: String, uid: Int, contents: String)? { all.first { $0.path == "./" + path } }
        #expect(entry("one")?.contents == "one\n" && entry("one")?.uid == 0)
        #expect(entry("one-archive")?.uid == 1234)
        #expect(entry("d/tree/inner/two")?.contents == "two\n" && entry("d/tree/inner/two")?.uid == 0)
        #expect(entry("newtree/inner/two")?.contents == "two\n")
        #expect(entry("d/sub/inner/two")?.contents == "two\n" && entry("d/sub/g")?.contents == "b\n")
        #expect(entry("d/f")?.contents == "one\n")

        // Errors as Docker's, with the container left as it was.
        let missingParent = try berth(fixture, "cp", host + "/tree/one", "dst:/nope/x")
        #expect(missingParent.stderr == "Error response from daemon: Could not find the file /nope in container dst\n")
        #expect(try berth(fixture, "cp", host + "/tree/one", "dst:/nope/").stderr == "no such directory\n")
        #expect(try berth(fixture, "cp", host + "/tree", "dst:/one").stderr == "cannot copy directory\n")
        #expect(try berth(fixture, "cp", host + "/missing", "dst:/").stderr == "lstat \(host)/missing: no such file or directory\n")
        #expect(try berth(fixture, "cp", "-", "dst:/one", stdin: []).stderr == "destination \"dst:/one\" must be a directory\n")
        #expect(!mounted(id))
    }

    @Test func tarStreamsInAndOut() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        _ = try makeStoppedContainer(fixture, name: "tars")
        let out = try berth(fixture, "cp", "tars:/d", "-")
        #expect(out.status == 0)
        #expect(try entries(out.stdout).map(\.path) == ["d", "d/f", "d/flink", "d/sub", "d/sub/g"])
        #expect(try entries(berth(fixture, "cp", "tars:/d/.", "-").stdout).map(\.path) == [".", "./f", "./flink", "./sub", "./sub/g"])

        let tar = BytesSink()
        let writer = TarWriter(tar)
        try writer.write(TarEntry(kind: .directory, path: "in", mode: 0o755, uid: 0, gid: 0, modificationTime: TarTime(seconds: 0)), contents: nil)
        try writer.write(TarEntry(kind: .file, path: "in/x", mode: 0o600, uid: 42, gid: 42, modificationTime: TarTime(seconds: 0)),
                         bytes: Array("streamed\n".utf8))
        try writer.finish()
        #expect(try berth(fixture, "cp", "-", "tars:/d", stdin: tar.bytes).status == 0)
        #expect(try berth(fixture, "cp", "-a", "-", "tars:/d/sub", stdin: tar.bytes).status == 0)
        let back = try entries(berth(fixture, "cp", "tars:/d", "-").stdout)
        #expect(back.first { $0.path == "d/in/x" }?.contents == "streamed\n")
        #expect(back.first { $0.path == "d/in/x" }?.uid == 0)
        #expect(back.first { $0.path == "d/sub/in/x" }?.uid == 42)
    }

    @Test func runningContainerIncludingItsVolume() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let run = try berth(fixture, "run", "-d", "--name", "live", "--network", "none", "-v", "cpvol:/data", "busybox", "sh", "-c", """
            echo from-volume > /data/v && ln -s /../../../etc /escape && echo live-passwd > /etc/passwd && \
            touch /ready && sleep 1000
            """)
        #expect(run.status == 0, "\(run.stderr)")
        var ready = false
        for _ in 0..<200 where !ready {
            ready = try berth(fixture, "cp", "live:/ready", "-").status == 0
            usleep(50_000)
        }
        #expect(ready)
        let host = try scratch()
        defer { try? FileManager.default.removeItem(atPath: host) }

        #expect(try berth(fixture, "cp", "live:/data/v", host + "/v").status == 0)
        #expect(contents(host + "/v") == "from-volume\n")
        #expect(try berth(fixture, "cp", "live:/escape/passwd", host + "/p").status == 0)
        #expect(contents(host + "/p") == "live-passwd\n")
        try "to-volume\n".write(toFile: host + "/in", atomically: true, encoding: .utf8)
        #expect(try berth(fixture, "cp", host + "/in", "live:/data/").status == 0)
        #expect(try berth(fixture, "exec", "live", "cat", "/data/in").text == "to-volume\n")
        let name = "berth-cp-" + UUID().uuidString.prefix(8).lowercased()
        #expect(try berth(fixture, "cp", host + "/in", "live:/escape/" + name).status == 0)
        #expect(try berth(fixture, "exec", "live", "cat", "/etc/" + name).text == "to-volume\n")
        #expect(!FileManager.default.fileExists(atPath: "/etc/" + name))

        // The whole root: the volume's files in it, kernel file systems (/proc, /sys) only as
        // empty directories, as Docker's cp shows them.
        let whole = try berth(fixture, "cp", "live:/", "-")
        #expect(whole.status == 0, "\(whole.stderr)")
        let paths = try entries(whole.stdout).map(\.path)
        #expect(paths.contains("./data/v") && paths.contains("./proc") && !paths.contains { $0.hasPrefix("./proc/") })
        #expect(try berth(fixture, "cp", "live:/proc/1/status", "-").stderr
            == "Error response from daemon: Could not find the file /proc/1/status in container live\n")

        // The volume as a stopped container has it: mounted privately for the copy.
        #expect(try berth(fixture, "stop", "-t", "0", "live").status == 0)
        #expect(try berth(fixture, "cp", "live:/data/in", host + "/again").status == 0)
        #expect(contents(host + "/again") == "to-volume\n")
        let id = try berth(fixture, "inspect", "--format", "{{.Id}}", "live").text.trimmingCharacters(in: .newlines)
        #expect(!mounted(id))
    }
}

/// The pure parts of `cp`: Docker's path rules.
@Suite struct CopyPathTests {
    @Test func containerPathsAreAbsoluteAndKeepTheirTrailingMarks() {
        #expect(CopyPath.inContainer("tmp/foo") == "/tmp/foo")
        #expect(CopyPath.inContainer("/a/../../b/") == "/b/")
        #expect(CopyPath.inContainer("/d/.") == "/d/.")
        #expect(CopyPath.inContainer("/") == "/")
        #expect(CopyPath.onHost("x/./y/", workingDirectory: "/work") == "/work/x/y/")
        #expect(CopyPath.archiveName("/d/.") == "." && CopyPath.archiveName("/d/") == "d" && CopyPath.archiveName("/") == ".")
        #expect(CopyPath.splitEntry("/a/b/.") == ("/a/b", ".") && CopyPath.splitEntry("/a/b/") == ("/a", "b"))
    }

    @Test func extractionFollowsDockersTable() throws {
        // File source: into an existing directory, over an existing file, to a new name.
        #expect(try CopyPath.extraction(sourceName: "f", sourceIsDirectory: false, destination: "/dst",
                                        destinationExists: true, destinationIsDirectory: true) == ("/dst", "f"))
        #expect(try CopyPath.extraction(sourceName: "f", sourceIsDirectory: false, destination: "/dst/g",
                                        destinationExists: true, destinationIsDirectory: false) == ("/dst", "g"))
        #expect(try CopyPath.extraction(sourceName: "f", sourceIsDirectory: false, destination: "/dst/new",
                                        destinationExists: false, destinationIsDirectory: false) == ("/dst", "new"))
        #expect(throws: CopyError(message: "no such directory", fromDaemon: false)) {
            try CopyPath.extraction(sourceName: "f", sourceIsDirectory: false, destination: "/dst/new/",
                                    destinationExists: false, destinationIsDirectory: false)
        }
        // Directory source: a new directory takes the destination's name; never over a file.
        #expect(try CopyPath.extraction(sourceName: "d", sourceIsDirectory: true, destination: "/dst/new",
                                        destinationExists: false, destinationIsDirectory: false) == ("/dst", "new"))
        #expect(try CopyPath.extraction(sourceName: ".", sourceIsDirectory: true, destination: "/dst",
                                        destinationExists: true, destinationIsDirectory: true) == ("/dst", "."))
        #expect(throws: CopyError(message: "cannot copy directory", fromDaemon: false)) {
            try CopyPath.extraction(sourceName: "d", sourceIsDirectory: true, destination: "/dst/g",
                                    destinationExists: true, destinationIsDirectory: false)
        }
    }
}
