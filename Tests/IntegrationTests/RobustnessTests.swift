import Foundation
import Glibc
import Testing

/// kill -9 in the middle of writing, and several writers at once: the store stays consistent.
@Suite(.serialized, .enabled(if: Peers.berth, "needs root and GNU tar"))
struct RobustnessTests {
    /// Kills `arguments` with SIGKILL once it is at least 0.3 s in and has content in flight in
    /// `ingest/`, then checks that the store shows nothing of it and that prune leaves exactly the
    /// blobs of the images that were there before.
    private func killMidway(_ arguments: [String], in sandbox: BerthSandbox, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = sandbox.blobs
        let imagesBefore = try sandbox.imageIDs()
        let started = Date()
        let running = try sandbox.start(arguments)
        var sawIngest = false
        while running.isRunning, Date().timeIntervalSince(started) < 60 {
            sawIngest = sawIngest || !sandbox.entries("ingest").isEmpty
            if sawIngest, Date().timeIntervalSince(started) >= 0.3 { break }
            usleep(10_000)
        }
        // A process that already ended is not signalled: its pid may belong to another by now.
        if running.isRunning { running.kill(SIGKILL) }
        let result = running.wait()
        try #require(result.signaled && result.status == SIGKILL,
                     "berth finished before it could be killed mid-write: \(result)", sourceLocation: sourceLocation)

        #expect(try sandbox.imageIDs() == imagesBefore, sourceLocation: sourceLocation)
        let prune = try sandbox.run("image", "prune", "-f")
        #expect(prune.succeeded, "\(prune)", sourceLocation: sourceLocation)
        #expect(sandbox.blobs == before, "left behind: \(sandbox.blobs.subtracting(before))", sourceLocation: sourceLocation)
        #expect(sandbox.entries("ingest").isEmpty, "ingest: \(sandbox.entries("ingest"))", sourceLocation: sourceLocation)
    }

    /// scripts/kill9-trials.sh: 50 kills of load, build, run, pull and push at random points, then
    /// the store's blobs, leases, mounts, veths, iptables rules and cgroups are checked.
    @Test func fiftyKillsAtRandomPointsLeaveAConsistentStoreAndNothingBehind() throws {
        let result = try Command.run(Peers.packageRoot + "/scripts/kill9-trials.sh", ["50"], timeout: 900)
        #expect(result.succeeded && result.out.contains("store consistent, nothing left behind"), "\(result)")
    }

    @Test(.enabled(if: Peers.docker, "needs root and dockerd"))
    func killDuringLoadLeavesNoImageAndTheLoadCanBeRepeated() throws {
        let archive = try Fixtures.dockerArchive(sizeMB: 200, layers: 4)
        let sandbox = try BerthSandbox()
        let busybox = try sandbox.importBusybox()
        try killMidway(["load", "-i", archive], in: sandbox)

        let again = try sandbox.run("load", "-i", archive)
        #expect(again.succeeded && again.out == "Loaded image: berth-fixture:200mb-4layers\n", "\(again)")
        #expect(try sandbox.imageIDs().count == 2 && sandbox.imageIDs().contains(busybox))
    }

    /// Garbage collection must not take blobs that a running load has stored but not yet recorded.
    @Test(.enabled(if: Peers.docker, "needs root and dockerd"))
    func pruneDuringLoadKeepsTheLoadedImageWhole() throws {
        let archive = try Fixtures.dockerArchive(sizeMB: 200, layers: 4)
        let sandbox = try BerthSandbox()
        let started = Date()
        let load = try sandbox.start(["load", "-i", archive])
        while load.isRunning, sandbox.entries("ingest").isEmpty, Date().timeIntervalSince(started) < 60 {
            usleep(10_000)
        }
        let prune = try sandbox.run("image", "prune", "-f")
        #expect(prune.succeeded, "\(prune)")
        let loaded = load.wait()
        #expect(loaded.succeeded && loaded.out == "Loaded image: berth-fixture:200mb-4layers\n", "\(loaded)")

        let saved = sandbox.scratch + "/saved.tar"
        let save = try sandbox.run("save", "-o", saved, "berth-fixture:200mb-4layers")
        #expect(save.succeeded, "every blob of the image is still there: \(save)")
        let layers = (try sandbox.inspect("berth-fixture:200mb-4layers")["RootFS"] as? [String: Any])?["Layers"] as? [String]
        // The layers, the config and the manifest, and nothing else.
        #expect(sandbox.blobs.count == Set(layers ?? []).count + 2, "\(sandbox.blobs.sorted())")
    }

    /// A pull holds what it has stored in a lease: a prune meanwhile runs (without waiting for the
    /// pull) and takes none of it.
    @Test(.enabled(if: Peers.docker, "needs root and dockerd"))
    func pruneDuringPullKeepsThePulledImageWhole() throws {
        let archive = try Fixtures.dockerArchive(sizeMB: 200, layers: 4)
        let source = try BerthSandbox()
        let registry = try RegistryServerTests.Server(sandbox: source)
        try source.ok("load", "-q", "-i", archive)
        let reference = "\(registry.address)/fixture:200mb"
        try source.ok("tag", "berth-fixture:200mb-4layers", reference)
        try source.ok("push", "-q", reference)

        let sandbox = try BerthSandbox()
        let started = Date()
        let pull = try sandbox.start(["pull", "-q", reference])
        while pull.isRunning, sandbox.entries("blobs/sha256").isEmpty, Date().timeIntervalSince(started) < 60 {
            usleep(10_000)
        }
        try #require(pull.isRunning, "the pull ended before the prune could run")
        let prune = try sandbox.run("image", "prune", "-a", "-f")
        #expect(prune.succeeded, "\(prune)")
        #expect(pull.isRunning, "the prune waited for the pull")
        let pulled = pull.wait()
        #expect(pulled.succeeded, "\(pulled)")
        try sandbox.ok("save", "-o", sandbox.scratch + "/pulled.tar", reference)
        for name in sandbox.blobs {
            let sum = try Command.run("/usr/bin/sha256sum", [sandbox.root + "/blobs/sha256/" + name])
            #expect(sum.out.hasPrefix(name + " "), "blob \(name): \(sum.out)")
        }
    }

    @Test func killDuringImportLeavesNoImageAndTheImportCanBeRepeated() throws {
        let rootfs = try Fixtures.randomRootfs(sizeMB: 200)
        let sandbox = try BerthSandbox()
        let busybox = try sandbox.importBusybox()
        try killMidway(["import", rootfs, "big:1"], in: sandbox)

        let again = try sandbox.run("import", rootfs, "big:1")
        #expect(again.succeeded, "\(again)")
        #expect(try sandbox.imageIDs().count == 2 && sandbox.imageIDs().contains(busybox))
        #expect(try sandbox.inspect("big:1")["RepoTags"] as? [String] == ["big:1"])
    }

    @Test func concurrentImportsIntoOneRootAllSucceed() throws {
        let rootfs = try Fixtures.busyboxRootfs()
        let sandbox = try BerthSandbox()
        // Same layer from every process: the blob is written concurrently under one name.
        let running = try (1...3).map { index in
            try sandbox.start(["import", "--change", "CMD [\"\(index)\"]", rootfs, "concurrent:\(index)"])
        }
        let results = running.map { $0.wait() }
        for result in results { #expect(result.succeeded, "\(result)") }
        let ids = Set(results.map { $0.out.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(ids.count == 3)
        #expect(try sandbox.imageIDs() == ids)
        for index in 1...3 {
            #expect(try sandbox.ok("inspect", "-f", "{{.Config.Cmd}}", "concurrent:\(index)") == "[\(index)]\n")
        }
    }

    @Test(.enabled(if: Peers.docker, "needs root and dockerd"))
    func concurrentLoadsAndImportIntoOneRootAllSucceed() throws {
        let fixture = try Fixtures.dockerArchive(sizeMB: 8, layers: 3)
        let busyboxArchive = try Fixtures.dockerSavedBusybox()
        let rootfs = try Fixtures.busyboxRootfs()
        let sandbox = try BerthSandbox()
        let running = try [
            sandbox.start(["load", "-i", fixture]),
            sandbox.start(["load", "-i", busyboxArchive]),
            sandbox.start(["load", "-i", fixture]),
            sandbox.start(["import", rootfs, "imported:1"]),
        ]
        let results = running.map { $0.wait() }
        for result in results { #expect(result.succeeded, "\(result)") }
        #expect(results[0].out == "Loaded image: berth-fixture:8mb-3layers\n")
        #expect(results[1].out == "Loaded image: busybox:latest\n")
        #expect(try sandbox.imageIDs().count == 3)
        let listed = Set(try sandbox.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split(separator: "\n"))
        #expect(listed == ["berth-fixture:8mb-3layers", "busybox:latest", "imported:1"])

        // Nothing is garbage afterwards: every blob belongs to a listed image.
        let blobs = sandbox.blobs
        let prune = try sandbox.ok("image", "prune", "-f")
        #expect(prune == "Total reclaimed space: 0B\n", "\(prune)")
        #expect(sandbox.blobs == blobs)
    }
}
