import BerthArchive
import BerthOCI
import Foundation
import Glibc
import Testing

/// The store refuses what could harm it, reports and repairs what went wrong, and survives a full disk.
@Suite(.serialized, .enabled(if: Peers.berth, "needs root and GNU tar"))
struct StoreIntegrityTests {
    /// Layers with one unsafe entry each, beside an ordinary file; `entry` is what the error names.
    static let hostileLayers: [(entry: String, tar: TarEntry)] = [
        ("../../evil", TarEntry(kind: .file, path: "../../evil")),
        ("passwd", TarEntry(kind: .hardlink, path: "passwd", linkName: "../../etc/passwd")),
        ("etc/.wh.", TarEntry(kind: .file, path: "etc/.wh.")),
    ]

    static func tar(_ entries: [(TarEntry, [UInt8])]) throws -> [UInt8] {
        let sink = BytesSink()
        let writer = TarWriter(sink)
        for (entry, bytes) in entries {
            var entry = entry
            entry.size = Int64(bytes.count)
            try writer.write(entry, bytes: bytes)
        }
        try writer.finish()
        return sink.bytes
    }

    static func hostileLayer(_ entry: TarEntry) throws -> [UInt8] {
        try tar([(TarEntry(kind: .directory, path: "etc", mode: 0o755), []),
                 (TarEntry(kind: .file, path: "etc/hostname"), Array("box\n".utf8)),
                 (entry, [])])
    }

    /// A docker-archive of one image with one layer, tagged `tag`.
    static func dockerArchive(layer: [UInt8], tag: String) throws -> [UInt8] {
        let diffID = Digest.sha256(of: layer)
        let config: [String: Any] = [
            "architecture": "amd64", "os": "linux", "config": ["Cmd": ["sh"]],
            "rootfs": ["type": "layers", "diff_ids": [diffID.description]],
            "history": [["created_by": "hostile"]],
        ]
        let configBytes = Array(try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]))
        let configName = Digest.sha256(of: configBytes).encoded + ".json"
        let manifest: [[String: Any]] = [["Config": configName, "RepoTags": [tag], "Layers": ["layer/layer.tar"]]]
        return try tar([(TarEntry(kind: .directory, path: "layer", mode: 0o755), []),
                        (TarEntry(kind: .file, path: "layer/layer.tar"), layer),
                        (TarEntry(kind: .file, path: configName), configBytes),
                        (TarEntry(kind: .file, path: "manifest.json"), Array(try JSONSerialization.data(withJSONObject: manifest)))])
    }

    private func expectRefusal(_ result: CommandResult, entry: String, layer: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!result.succeeded, "\(result)", sourceLocation: sourceLocation)
        let lines = result.err.split(separator: "\n")
        #expect(lines.count == 1, "not one line: \(result.err)", sourceLocation: sourceLocation)
        #expect(result.err.contains("refusing \(layer)") && result.err.contains("entry '\(entry)' is unsafe"),
                "\(result)", sourceLocation: sourceLocation)
    }

    @Test func hostileLayersAreRefusedByImportAndLoad() throws {
        let sandbox = try BerthSandbox()
        for (index, hostile) in Self.hostileLayers.enumerated() {
            let layer = try Self.hostileLayer(hostile.tar)
            let layerFile = "\(sandbox.scratch)/hostile-\(index).tar"
            let archiveFile = "\(sandbox.scratch)/hostile-\(index)-image.tar"
            try Data(layer).write(to: URL(fileURLWithPath: layerFile))
            try Data(Self.dockerArchive(layer: layer, tag: "hostile:\(index)")).write(to: URL(fileURLWithPath: archiveFile))

            expectRefusal(try sandbox.run("import", layerFile, "hostile:imported"), entry: hostile.entry, layer: "the imported layer")
            expectRefusal(try sandbox.run("load", "-i", archiveFile), entry: hostile.entry, layer: "layer layer/layer.tar")
        }
        #expect(try sandbox.imageIDs().isEmpty)
        #expect(try sandbox.run("image", "inspect", "hostile:imported").status != 0)
    }

    @Test(.enabled(if: Command.resolve("skopeo") != nil, "needs skopeo"))
    func hostileLayersAreRefusedByPull() throws {
        let sandbox = try BerthSandbox()
        let registry = try RegistryServerTests.Server(sandbox: sandbox)
        for (index, hostile) in Self.hostileLayers.enumerated() {
            let layer = try Self.hostileLayer(hostile.tar)
            let archiveFile = "\(sandbox.scratch)/hostile-\(index)-image.tar"
            try Data(Self.dockerArchive(layer: layer, tag: "hostile:\(index)")).write(to: URL(fileURLWithPath: archiveFile))
            // skopeo pushes the layer as it is: nothing on the way looks inside it.
            let name = "\(registry.address)/hostile/app:\(index)"
            let push = try RegistryServerTests.skopeo(["copy", "--dest-tls-verify=false", "docker-archive:\(archiveFile)", "docker://\(name)"])
            try #require(push.succeeded, "\(push)")

            let pull = try sandbox.run("pull", name)
            #expect(!pull.succeeded, "\(pull)")
            #expect(pull.err.contains("refusing layer sha256:") && pull.err.contains("entry '\(hostile.entry)' is unsafe"), "\(pull)")
            #expect(pull.err.split(separator: "\n").count == 1, "\(pull.err)")
        }
        #expect(try sandbox.imageIDs().isEmpty)
    }

    @Test func systemCheckReportsAndRepairsCorruptBlobsAndSnapshots() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        #expect(try sandbox.run("run", "--rm", "--network", "none", "busybox", "true").succeeded)
        let clean = try sandbox.run("system", "check")
        #expect(clean.succeeded, "\(clean)")
        #expect(clean.lines == ["checked 3 blobs and 1 snapshot: 0 problems"], "\(clean)")

        // A layer blob changed behind the store's back (committed blobs are read-only).
        let layerDigest = try #require((sandbox.inspect("busybox")["RootFS"] as? [String: Any])?["Layers"] as? [String]).first
        let layerHex = try #require(layerDigest).dropFirst("sha256:".count)
        let blob = "\(sandbox.root)/blobs/sha256/\(layerHex)"
        var info = stat()
        #expect(stat(blob, &info) == 0 && info.st_mode & 0o777 == 0o444)
        #expect(chmod(blob, 0o644) == 0)
        let handle = try #require(FileHandle(forWritingAtPath: blob))
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Data("corrupt".utf8))
        try handle.close()
        // And a snapshot whose unpack never finished.
        let snapshot = try #require(sandbox.entries("snapshots").first { !$0.hasPrefix(".") })
        try FileManager.default.removeItem(atPath: "\(sandbox.root)/snapshots/\(snapshot)/fs")

        let found = try sandbox.run("system", "check")
        #expect(found.status == 1, "\(found)")
        #expect(found.lines.contains { $0.hasPrefix("blob sha256:\(layerHex): corrupt: its content hashes to sha256:") }, "\(found)")
        #expect(found.lines.contains("snapshot sha256:\(snapshot): recorded but not unpacked"), "\(found)")
        #expect(found.lines.last == "checked 3 blobs and 1 snapshot: 2 problems", "\(found)")

        let repair = try sandbox.run("system", "check", "--repair")
        #expect(repair.status == 1, "the image still lacks its layer: \(repair)")
        #expect(repair.lines.contains { $0.hasPrefix("blob sha256:\(layerHex): corrupt") && $0.hasSuffix("removed, the next pull or load stores it again") },
                "\(repair)")
        #expect(repair.lines.contains("image busybox:latest: blob sha256:\(layerHex) is missing: pull or load the image again"), "\(repair)")
        #expect(repair.lines.contains { $0.hasPrefix("snapshot sha256:\(snapshot): recorded but not unpacked; forgotten") }, "\(repair)")
        #expect(!sandbox.blobs.contains(String(layerHex)))

        // Importing the same root file system stores the layer again: the store is whole.
        try sandbox.importBusybox(as: "busybox:again")
        let whole = try sandbox.run("system", "check")
        #expect(whole.succeeded, "\(whole)")
        let run = try sandbox.run("run", "--rm", "--network", "none", "busybox", "echo", "unpacked again")
        #expect(run.succeeded && run.out == "unpacked again\n", "\(run)")
    }

    /// Two `load`s of one archive at once, as two processes: each blob is written once (the second
    /// writer waits for the first), both succeed, and every blob matches its digest.
    @Test func concurrentLoadsOfOneArchiveBothSucceed() throws {
        let source = try BerthSandbox()
        try source.importBusybox()
        let archive = source.scratch + "/busybox.tar"
        try source.ok("save", "-o", archive, "busybox")
        let sandbox = try BerthSandbox()
        let loads = try (0..<2).map { _ in try sandbox.start(["load", "-i", archive]) }
        for load in loads {
            let result = load.wait()
            #expect(result.succeeded, "\(result)")
        }
        #expect(try sandbox.imageIDs() == source.imageIDs())
        #expect(sandbox.entries("ingest").isEmpty)
        let check = try sandbox.run("system", "check")
        #expect(check.succeeded, "\(check)")
    }

    /// A state root on a small tmpfs: an import larger than the space left fails with the errno's
    /// own message and the absolute path, leaves nothing half-written, and the store works after.
    @Test func diskFullImportFailsCleanlyAndTheStoreStillWorks() throws {
        let sandbox = try BerthSandbox()
        let mountPoint = sandbox.scratch + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try Command.run("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mountPoint])
        try #require(mount.succeeded, "\(mount)")
        defer { _ = try? Command.run("umount", ["-l", mountPoint]) }
        let root = mountPoint + "/root"
        func berth(_ arguments: String...) throws -> CommandResult {
            try Command.run(BerthSandbox.binary, ["--root", root] + arguments)
        }
        let busybox = try Fixtures.busyboxRootfs()
        let imported = try berth("import", "--change", #"CMD ["sh"]"#, busybox, "busybox")
        try #require(imported.succeeded, "\(imported)")

        let large = try Fixtures.randomRootfs(sizeMB: 24)
        let full = try berth("import", large, "large")
        #expect(!full.succeeded, "\(full)")
        #expect(full.err.split(separator: "\n").count == 1, "\(full.err)")
        #expect(full.err.contains("write the imported layer to \(root)/ingest/"), "\(full)")
        #expect(full.err.contains("No space left on device"), "\(full)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: root + "/ingest")) == [], "a half-written ingest file is left")

        let images = try berth("images", "--format", "{{.Repository}}")
        #expect(images.succeeded && images.lines == ["busybox"], "\(images)")
        let check = try berth("system", "check")
        #expect(check.succeeded, "\(check)")
        let small = try berth("import", busybox, "busybox:second")
        #expect(small.succeeded, "\(small)")
        let run = try berth("run", "--rm", "--network", "none", "busybox", "echo", "still works")
        #expect(run.succeeded && run.out == "still works\n", "\(run)")

        // Filled to the last byte by something else, the disk can still be freed with Berth itself.
        let filler = mountPoint + "/filler"
        let fill = try Command.shell("head -c 64M /dev/zero > \(filler)")
        #expect(fill.err.contains("No space left on device"), "\(fill)")
        let prune = try berth("image", "prune", "-a", "-f")
        #expect(prune.succeeded, "\(prune)")
        #expect(prune.lines.contains { $0.hasPrefix("Total reclaimed space: ") }, "\(prune)")
        #expect(try berth("images", "-q").out.isEmpty)
        try FileManager.default.removeItem(atPath: filler)
        let again = try berth("import", busybox, "busybox")
        #expect(again.succeeded, "\(again)")
        #expect(access(root + "/metadata.db-reserve", F_OK) == 0, "the space reserve was not made again")
    }
}
