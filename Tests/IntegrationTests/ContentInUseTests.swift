import Foundation
import Glibc
import Testing

/// Content in use is never deleted: containers keep their image's layers through `rmi`, prune and
/// `builder prune`, and a build keeps what it reads and writes while another shell removes it.
@Suite(.serialized, .enabled(if: Peers.berth, "needs root and GNU tar"))
struct ContentInUseTests {
    /// Every blob in the store matches its name (its digest).
    private func blobsMatchTheirDigests(_ sandbox: BerthSandbox, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for name in sandbox.blobs {
            let sum = try Command.run("/usr/bin/sha256sum", [sandbox.root + "/blobs/sha256/" + name])
            #expect(sum.out.hasPrefix(name + " "), "blob \(name) holds other content: \(sum.out)", sourceLocation: sourceLocation)
        }
    }

    /// Writes a build context holding `dockerfile`; returns its directory.
    private func context(_ sandbox: BerthSandbox, _ dockerfile: String) throws -> String {
        let directory = sandbox.scratch + "/context"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try dockerfile.write(toFile: directory + "/Dockerfile", atomically: false, encoding: .utf8)
        return directory
    }

    @Test func containersKeepTheirImageThroughRemovalAndPrune() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try sandbox.ok("build", "-q", "-t", "app", context(sandbox, "FROM busybox\nRUN echo built > /built\n"))
        let running = try sandbox.ok("run", "-d", "--name", "running", "app", "sleep", "300")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? sandbox.run("rm", "-f", "running", "stopped") }
        try sandbox.ok("create", "--name", "stopped", "app", "cat", "/built")
        let imageID = try sandbox.ok("images", "-q", "app").trimmingCharacters(in: .whitespacesAndNewlines)
        let stoppedID = try sandbox.ok("inspect", "-f", "{{.Id}}", "stopped").trimmingCharacters(in: .whitespacesAndNewlines)

        // Docker's conflicts: the last name of an image in use, and its ID while a container runs.
        let byName = try sandbox.run("rmi", "app")
        #expect(byName.status == 1)
        #expect([running, stoppedID].contains { id in
            byName.err.contains("conflict: unable to remove repository reference \"app\" (must force) - container "
                + "\(id.prefix(12)) is using its referenced image \(imageID)")
        }, "\(byName)")
        let byID = try sandbox.run("rmi", "-f", imageID)
        #expect(byID.status == 1)
        #expect(byID.err.contains("conflict: unable to delete \(imageID) (cannot be forced) - image is being used by running container \(running.prefix(12))"),
                "\(byID)")
        // Forced by name: untagged only, since a container runs on it.
        #expect(try sandbox.ok("rmi", "-f", "app") == "Untagged: app:latest\n")
        try sandbox.ok("image", "prune", "-a", "-f")
        try sandbox.ok("builder", "prune", "-a", "-f")
        #expect(try sandbox.ok("images", "-q", "--filter", "dangling=true").contains(imageID), "prune keeps the image in use")

        #expect(try sandbox.ok("exec", "running", "cat", "/built") == "built\n")
        #expect(try sandbox.ok("exec", "running", "ls", "/bin/ls") == "/bin/ls\n")
        #expect(try sandbox.ok("start", "-a", "stopped") == "built\n")
        try blobsMatchTheirDigests(sandbox)

        // Once the containers are gone, so is their content.
        try sandbox.ok("rm", "-f", "running", "stopped")
        try sandbox.ok("image", "prune", "-a", "-f")
        #expect(try sandbox.imageIDs().isEmpty)
        #expect(sandbox.blobs.isEmpty, "\(sandbox.blobs)")
        #expect(sandbox.entries("snapshots").isEmpty, "\(sandbox.entries("snapshots"))")
    }

    @Test func aForcedRemovalOfAStoppedContainersImageKeepsTheContainerWorking() throws {
        let sandbox = try BerthSandbox()
        let imageID = try sandbox.importBusybox()
        try sandbox.ok("create", "--name", "stopped", "busybox", "echo", "still here")
        defer { _ = try? sandbox.run("rm", "-f", "stopped") }
        let refused = try sandbox.run("rmi", imageID)
        #expect(refused.status == 1 && refused.err.contains("(must be forced) - image is being used by stopped container"), "\(refused)")
        let forced = try sandbox.ok("rmi", "-f", imageID)
        #expect(forced.contains("Deleted: \(imageID)"), "\(forced)")
        try sandbox.ok("image", "prune", "-a", "-f")
        #expect(try sandbox.ok("start", "-a", "stopped") == "still here\n")
    }

    /// A store written by a Berth without leases: its containers are leased by the next command.
    @Test func containersMadeBeforeLeasesHoldTheirImageOnceTheStoreIsOpened() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let id = try sandbox.ok("create", "busybox", "true").trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? sandbox.run("rm", "-f", id) }
        let forget = try Command.run("/usr/bin/python3", ["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("DELETE FROM lease_resources"); db.execute("DELETE FROM leases"); db.commit()
            """, sandbox.root + "/metadata.db"])
        try #require(forget.succeeded, "\(forget)")
        unlink(sandbox.root + "/containers/.leased")

        let refused = try sandbox.run("rmi", "busybox")
        #expect(refused.status == 1 && refused.err.contains("container \(id.prefix(12)) is using its referenced image"), "\(refused)")
        try sandbox.ok("rm", id)
        try sandbox.ok("rmi", "busybox")
    }

    @Test func aBuildFinishesWholeWhileAnotherShellRemovesItsBaseAndPrunes() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let directory = try context(sandbox, "FROM busybox\nRUN echo one > /one\nRUN sleep 4 && echo two > /two\n")
        let build = try sandbox.start(["build", "--progress", "plain", "-t", "out", directory])
        // Wait until the second RUN step is running (its container's bundle exists).
        let deadline = Date().addingTimeInterval(60)
        while build.isRunning, Date() < deadline, !sandbox.entries("buildcache/runc").contains(where: { $0.hasPrefix("build-") }) {
            usleep(20_000)
        }
        usleep(500_000)
        try #require(build.isRunning, "the build ended before the removal could run")
        try sandbox.ok("rmi", "-f", "busybox")
        try sandbox.ok("image", "prune", "-a", "-f")
        try sandbox.ok("builder", "prune", "-a", "-f")
        let result = build.wait()
        #expect(result.succeeded, "\(result)")

        try blobsMatchTheirDigests(sandbox)
        let saved = sandbox.scratch + "/out.tar"
        try sandbox.ok("save", "-o", saved, "out")
        #expect(try sandbox.ok("run", "--rm", "out", "cat", "/one", "/two") == "one\ntwo\n")
    }
}

/// Removal frees space on a full disk: `rmi` and `image prune` commit through the metadata
/// database's reserve instead of failing with "database or disk is full".
@Suite(.serialized, .enabled(if: Peers.berth, "needs root (mounts a tmpfs) and GNU tar"))
struct FullDiskRemovalTests {
    @Test func rmiAndPruneWorkOnAFullDisk() throws {
        let sandbox = try BerthSandbox()
        let disk = sandbox.scratch + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let mount = try Command.run("/bin/mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", disk])
        try #require(mount.succeeded, "\(mount)")
        defer { _ = try? Command.run("/bin/umount", [disk]) }
        func berth(_ arguments: [String]) throws -> CommandResult {
            try Command.run(BerthSandbox.binary, ["--root", disk + "/root"] + arguments)
        }
        let rootfs = try Fixtures.randomRootfs(sizeMB: 20)
        #expect(try berth(["import", rootfs, "big:1"]).succeeded)
        try berth(["import", Fixtures.busyboxRootfs(), "busybox"])
        // Fill what is left of the disk.
        _ = try Command.run("/bin/dd", ["if=/dev/zero", "of=\(disk)/fill", "bs=1M"])
        let full = try Command.run("/bin/df", ["--output=avail", disk])
        #expect(full.lines.last?.trimmingCharacters(in: .whitespaces) == "0", "\(full)")

        let rmi = try berth(["rmi", "big:1"])
        #expect(rmi.succeeded && rmi.out.contains("Deleted: sha256:"), "\(rmi)")
        let prune = try berth(["image", "prune", "-a", "-f"])
        #expect(prune.succeeded && prune.out.contains("deleted: sha256:"), "\(prune)")
        #expect(try berth(["images", "-q"]).out.isEmpty)
        // Space freed, the store takes new content again.
        try FileManager.default.removeItem(atPath: disk + "/fill")
        #expect(try berth(["import", Fixtures.busyboxRootfs(), "busybox"]).succeeded)
    }
}
