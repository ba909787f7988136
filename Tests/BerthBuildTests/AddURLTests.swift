import BerthBuild
import BerthOCI
import Foundation
import Glibc
import Testing

/// ADD from remote URLs, against busybox httpd on 127.0.0.1.
@Suite(.serialized) struct AddURLTests {
    /// 2021-03-04 05:06:07 UTC, the served file's modification time.
    static let lastModified: Int64 = 1_614_834_367

    private func serve(_ files: [String: String]) throws -> HTTPServer {
        let server = try HTTPServer(files: files)
        for name in files.keys {
            var times = [timespec(tv_sec: Int(Self.lastModified), tv_nsec: 0),
                         timespec(tv_sec: Int(Self.lastModified), tv_nsec: 0)]
            utimensat(AT_FDCWD, server.directory + "/" + name, &times, 0)
        }
        return server
    }

    @Test func urlIsFetchedWithMode0600LastModifiedAndTheURLsName() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let server = try serve(["files/hello.txt": "hello over http\n"])
        defer { server.stop() }
        let fixture = try BuildFixture()
        let url = "http://127.0.0.1:\(server.port)/files/hello.txt"
        try fixture.build("""
            FROM busybox
            ADD \(url) /downloads/
            ADD --chmod=644 \(url) /renamed.txt
            WORKDIR /work
            ADD \(url) .
            """)
        // Layers from the top: ADD into the working directory, WORKDIR's /work, the renamed file, the named one.
        let named = try #require(try fixture.layerEntries(fromTop: 3)["downloads/hello.txt"])
        #expect(named.mode & 0o7777 == 0o600)
        #expect(named.uid == 0 && named.gid == 0)
        #expect(named.modificationTime.seconds == Self.lastModified)
        #expect(try fixture.layerFile("downloads/hello.txt", fromTop: 3) == "hello over http\n")
        let renamed = try #require(try fixture.layerEntries(fromTop: 2)["renamed.txt"])
        #expect(renamed.mode & 0o7777 == 0o644)
        #expect(try fixture.layerFile("work/hello.txt") == "hello over http\n")
        #expect(try fixture.config().history?.contains { $0.createdBy == "ADD \(url) /downloads/ # buildkit" } == true)
    }

    @Test func checksumIsVerifiedAndAMismatchCommitsNothing() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let content = "checked content\n"
        let server = try serve(["file.bin": content])
        defer { server.stop() }
        let fixture = try BuildFixture()
        let url = "http://127.0.0.1:\(server.port)/file.bin"
        let digest = Digest.sha256(of: Array(content.utf8))
        try fixture.build("FROM busybox\nADD --checksum=\(digest) \(url) /file.bin\n", tag: "good")
        #expect(try fixture.layerFile("file.bin", "good") == content)

        let wrong = Digest.sha256(of: Array("something else".utf8))
        do {
            try fixture.build("FROM busybox\nADD --checksum=\(wrong) \(url) /file.bin\n", tag: "bad")
            Issue.record("a checksum mismatch built")
        } catch let error as BuildError {
            #expect(error == .checksumMismatch(url: url, expected: wrong, actual: digest, fileName: "Dockerfile", line: 2))
            #expect(error.description.hasPrefix("Dockerfile:2: digest mismatch \(digest): \(wrong)"))
        }
        #expect(throws: (any Error).self) { try fixture.store.image(named: "bad") }
    }

    @Test func theCacheKeyIsTheContentsDigest() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let server = try serve(["data.txt": "version 1\n"])
        defer { server.stop() }
        let fixture = try BuildFixture()
        let dockerfile = "FROM busybox\nADD http://127.0.0.1:\(server.port)/data.txt /data.txt\n"
        #expect(try fixture.build(dockerfile).executedSteps == 1)
        // Fetched again, same content: the step is cached.
        #expect(try fixture.build(dockerfile).cachedSteps == 1)
        try Data("version 2\n".utf8).write(to: URL(fileURLWithPath: server.directory + "/data.txt"))
        let changed = try fixture.build(dockerfile)
        #expect(changed.executedSteps == 1)
        #expect(try fixture.layerFile("data.txt") == "version 2\n")
    }

    /// BuildKit keys a URL pinned by --checksum by that checksum, so a cached step needs no fetch:
    /// the rebuild works with the server gone, which an unpinned ADD of the same URL does not.
    @Test func aChecksumPinnedURLIsNotFetchedWhenItsStepIsCached() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let content = "pinned content\n"
        let server = try serve(["pinned.txt": content])
        let fixture = try BuildFixture()
        let url = "http://127.0.0.1:\(server.port)/pinned.txt"
        let digest = Digest.sha256(of: Array(content.utf8))
        let pinned = "FROM busybox\nADD --checksum=\(digest) \(url) /pinned.txt\n"
        #expect(try fixture.build(pinned).executedSteps == 1)
        server.stop()
        for _ in 0..<50 where BuildFixture.shell("busybox netstat -ltn | grep -q ':\(server.port) '") != nil {
            usleep(100_000)
        }
        #expect(throws: BuildError.self) { try fixture.build("FROM busybox\nADD \(url) /pinned.txt\n") }
        let rebuilt = try fixture.build(pinned)
        #expect(rebuilt.cachedSteps == 1 && rebuilt.executedSteps == 0)
        #expect(try fixture.layerFile("pinned.txt") == content)
    }

    @Test func badSourcesFailWithFileAndLine() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let server = try serve(["present.txt": "here\n"])
        defer { server.stop() }
        let fixture = try BuildFixture()
        try fixture.write("local.txt", "local\n")
        let digest = Digest.sha256(of: Array("local\n".utf8))
        #expect(throws: BuildError.invalid("checksum can't be specified for non-HTTP(S) sources", fileName: "Dockerfile",
                                           line: 2)) {
            try fixture.build("FROM busybox\nADD --checksum=\(digest) local.txt /local.txt\n")
        }
        let missing = "http://127.0.0.1:\(server.port)/missing.txt"
        #expect(throws: BuildError.download(url: missing, reason: "invalid response status 404", fileName: "Dockerfile",
                                            line: 2)) {
            try fixture.build("FROM busybox\nADD \(missing) /missing.txt\n")
        }
        #expect(throws: BuildError.self) {
            try fixture.build("FROM busybox\nADD --checksum=sha256:abc http://127.0.0.1:\(server.port)/present.txt /p\n")
        }
    }
}
