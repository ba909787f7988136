import BerthOCI
import Foundation
import Testing

/// Berth against the peer Docker daemon, skopeo and umoci: archives go both ways and each side
/// sees the same image.
@Suite(.serialized, .enabled(if: Peers.docker, "needs root and dockerd"))
struct DockerInteropTests {
    /// The multi-layer fixture: whiteouts, hard and symbolic links, and every Dockerfile config field.
    static let fixtureTag = "berth-fixture:8mb-3layers"
    static func fixture() throws -> String { try Fixtures.dockerArchive(sizeMB: 8, layers: 3) }

    /// The Config keys a Dockerfile (or `--change`) can set.
    static let configKeys = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes",
                             "StopSignal", "Healthcheck", "OnBuild", "Shell"]

    static func dockerInspect(_ name: String) throws -> [String: Any] {
        let text = try PeerDocker.checked("image", "inspect", name)
        let documents = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        return try #require(documents.first)
    }

    /// Docker and Berth describe the same image: ID, tags, layers and config.
    static func expectSameImage(berth: [String: Any], docker: [String: Any], tags: Bool = true,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(berth["Id"] as? String == docker["Id"] as? String, sourceLocation: sourceLocation)
        if tags {
            #expect(Set(berth["RepoTags"] as? [String] ?? []) == Set(docker["RepoTags"] as? [String] ?? []),
                    sourceLocation: sourceLocation)
        }
        #expect(canonicalJSON((berth["RootFS"] as? [String: Any])?["Layers"])
                == canonicalJSON((docker["RootFS"] as? [String: Any])?["Layers"]), sourceLocation: sourceLocation)
        let berthConfig = berth["Config"] as? [String: Any] ?? [:]
        let dockerConfig = docker["Config"] as? [String: Any] ?? [:]
        for key in configKeys {
            #expect(canonicalJSON(berthConfig[key]) == canonicalJSON(dockerConfig[key]), "Config.\(key)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func loadOfADockerArchiveMatchesDocker() throws {
        let archive = try Self.fixture()
        let sandbox = try BerthSandbox()
        #expect(try sandbox.ok("load", "-i", archive) == "Loaded image: \(Self.fixtureTag)\n")

        try PeerDocker.checked("load", "-i", archive)
        defer { _ = try? PeerDocker.docker("rmi", Self.fixtureTag) }
        let docker = try Self.dockerInspect(Self.fixtureTag)
        let berth = try sandbox.inspect(Self.fixtureTag)
        Self.expectSameImage(berth: berth, docker: docker)
        // The fixture really sets what is compared.
        let config = try #require(berth["Config"] as? [String: Any])
        #expect(Self.configKeys.allSatisfy { config[$0] != nil && !(config[$0] is NSNull) }, "\(config)")
        #expect(((berth["RootFS"] as? [String: Any])?["Layers"] as? [Any])?.count == 6)

        // The rest of the document too, but for what depends on the storage driver and sizes.
        let storageSpecific: Set = ["GraphDriver", "Metadata", "Size", "VirtualSize"]
        #expect(Array(berth.keys).sorted() == Array(docker.keys).sorted())
        for key in Set(docker.keys).subtracting(storageSpecific) {
            #expect(canonicalJSON(berth[key]) == canonicalJSON(docker[key]), "\(key)")
        }
        // Docker's overlay2 driver sizes a layer as the st_size of each inode in it once, so a
        // symbolic link counts the length of its target.
        #expect(berth["Size"] as? Int == docker["Size"] as? Int)
        let berthSizes = try sandbox.ok("history", "--format", "{{.Size}}", Self.fixtureTag)
        let dockerSizes = try PeerDocker.checked("history", "--format", "{{.Size}}", Self.fixtureTag)
        #expect(berthSizes.trimmingCharacters(in: .whitespacesAndNewlines) == dockerSizes)

        let berthHistory = try sandbox.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}", Self.fixtureTag)
        let dockerHistory = try PeerDocker.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", Self.fixtureTag)
        #expect(dockerHistory.succeeded, "\(dockerHistory)")
        #expect(berthHistory == dockerHistory.out)

        // Docker's history prints CreatedAt as RFC 3339, unlike `images`.
        let columns = "{{.ID}} {{.CreatedAt}} {{.Comment}}"
        let berthColumns = try sandbox.ok("history", "--format", columns, Self.fixtureTag)
        let dockerColumns = try PeerDocker.docker("history", "--format", columns, Self.fixtureTag)
        #expect(berthColumns == dockerColumns.out)
    }

    @Test func dockerSaveThroughAPipeIntoBerthLoad() throws {
        let sandbox = try BerthSandbox()
        try PeerDocker.start()
        let result = try Command.shell(
            "docker save busybox:latest | '\(BerthSandbox.binary)' --root '\(sandbox.root)' load",
            environment: PeerDocker.environment)
        #expect(result.succeeded, "\(result)")
        #expect(result.out == "Loaded image: busybox:latest\n", "\(result)")
        Self.expectSameImage(berth: try sandbox.inspect("busybox:latest"), docker: try Self.dockerInspect("busybox:latest"))
    }

    @Test func loadMovesATagAwayFromAnotherImageAsDockerSays() throws {
        let sandbox = try BerthSandbox()
        let imported = try sandbox.importBusybox(changes: [#"CMD ["berth"]"#])
        let load = try sandbox.run("load", "-i", try Fixtures.dockerSavedBusybox())
        #expect(load.succeeded, "\(load)")
        #expect(load.out == """
            The image busybox:latest already exists, renaming the old one with ID \(imported) to empty string
            Loaded image: busybox:latest

            """, "\(load)")
        let dockerID = try PeerDocker.checked("image", "inspect", "-f", "{{.Id}}", "busybox:latest")
        #expect(try sandbox.ok("images", "-q", "--no-trunc", "--filter", "dangling=true") == imported + "\n")
        #expect(try sandbox.inspect("busybox:latest")["Id"] as? String == dockerID)
    }

    @Test func berthSaveLoadsIntoDocker() throws {
        let sandbox = try BerthSandbox()
        try sandbox.ok("load", "-i", try Self.fixture())
        let berth = try sandbox.inspect(Self.fixtureTag)
        let id = try #require(berth["Id"] as? String)
        let saved = sandbox.scratch + "/fixture.tar"
        try sandbox.ok("save", "-o", saved, Self.fixtureTag)

        // Docker must take the image from Berth's archive, not from what it already had.
        _ = try PeerDocker.docker("rmi", "-f", id)
        let loaded = try PeerDocker.docker("load", "-i", saved)
        #expect(loaded.succeeded, "\(loaded)")
        defer { _ = try? PeerDocker.docker("rmi", "-f", id) }
        Self.expectSameImage(berth: berth, docker: try Self.dockerInspect(Self.fixtureTag))
        #expect(try PeerDocker.checked("images", "-q", "--no-trunc", Self.fixtureTag) == id)
    }

    @Test func berthImportRunsOnDocker() throws {
        let sandbox = try BerthSandbox()
        let tag = "berth-it-roundtrip:busybox"
        let id = try sandbox.importBusybox(as: tag)
        _ = try PeerDocker.docker("rmi", "-f", id)
        defer { _ = try? PeerDocker.docker("rmi", "-f", id) }
        // `berth save` to stdout, straight into `docker load`.
        let piped = try Command.shell(
            "'\(BerthSandbox.binary)' --root '\(sandbox.root)' save \(tag) | docker load",
            environment: PeerDocker.environment)
        #expect(piped.succeeded, "\(piped)")
        #expect(piped.out.contains("Loaded image: \(tag)"), "\(piped)")
        #expect(try PeerDocker.checked("image", "inspect", "-f", "{{.Id}}", tag) == id)
        let run = try PeerDocker.docker("run", "--rm", "--network", "none", tag, "echo", "ok")
        #expect(run.succeeded && run.out == "ok\n", "\(run)")
    }

    /// Every `--change` instruction that Docker 20.10's import accepts (it refuses STOPSIGNAL,
    /// which Berth also takes).
    /// `docker save IMAGE-ID` writes the image without names (`RepoTags: null`), so loading it
    /// elsewhere never moves a tag; only names given to save are written.
    @Test func saveByIDWritesNoTagsAsDockerDoes() throws {
        func repoTags(_ script: String, environment: [String: String] = [:]) throws -> Any? {
            let result = try Command.shell(script + " | tar -xO manifest.json", environment: environment)
            try #require(result.succeeded, "\(result)")
            let entries = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]])
            try #require(entries.count == 1)
            return entries[0]["RepoTags"]
        }
        let dockerID = try PeerDocker.checked("image", "inspect", "-f", "{{.Id}}", "busybox:latest")
        #expect(canonicalJSON(try repoTags("docker save \(dockerID)", environment: PeerDocker.environment)) == "null")

        let sandbox = try BerthSandbox()
        let id = try sandbox.importBusybox()
        let berthTags = try repoTags("'\(BerthSandbox.binary)' --root '\(sandbox.root)' save \(id)")
        #expect(["null", "[]"].contains(canonicalJSON(berthTags)), "RepoTags: \(canonicalJSON(berthTags))")
        #expect(canonicalJSON(try repoTags("'\(BerthSandbox.binary)' --root '\(sandbox.root)' save busybox"))
                == #"["busybox:latest"]"#)
    }

    @Test func importChangesMatchDockerImport() throws {
        let changes = [
            #"CMD ["-c", "echo hi"]"#, #"ENTRYPOINT ["/bin/sh"]"#, "ENV A=1 B=two", "EXPOSE 8080 53/udp",
            #"LABEL a=b "c d"="e f""#, "USER 33:33", "WORKDIR /srv/app", #"VOLUME ["/data"]"#,
            "HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD true", "ONBUILD RUN echo child",
        ]
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox(as: "berth-it-changes:1", changes: changes)
        let rootfs = try Fixtures.busyboxRootfs()
        try PeerDocker.start()
        let dockerImport = try Command.run(
            "docker", ["import"] + changes.flatMap { ["--change", $0] } + [rootfs, "berth-it-changes:1"],
            environment: PeerDocker.environment)
        try #require(dockerImport.succeeded, "\(dockerImport)")
        defer { _ = try? PeerDocker.docker("rmi", "berth-it-changes:1") }
        let berthConfig = try #require(try sandbox.inspect("berth-it-changes:1")["Config"] as? [String: Any])
        let dockerConfig = try #require(try Self.dockerInspect("berth-it-changes:1")["Config"] as? [String: Any])
        for key in Self.configKeys {
            #expect(canonicalJSON(berthConfig[key]) == canonicalJSON(dockerConfig[key]), "Config.\(key)")
        }
    }

    @Test(.enabled(if: Peers.skopeo, "needs skopeo"))
    func skopeoReadsBerthSaveAsAnOCIArchive() throws {
        let sandbox = try BerthSandbox()
        try sandbox.ok("load", "-i", try Self.fixture())
        let berth = try sandbox.inspect(Self.fixtureTag)
        let saved = sandbox.scratch + "/fixture.tar"
        try sandbox.ok("save", "-o", saved, Self.fixtureTag)

        let inspect = try Command.run("skopeo", ["inspect", "oci-archive:" + saved])
        try #require(inspect.succeeded, "\(inspect)")
        let document = try #require(try JSONSerialization.jsonObject(with: inspect.stdout) as? [String: Any])
        let diffIDs = try #require((berth["RootFS"] as? [String: Any])?["Layers"] as? [String])
        // Layers from a docker-archive are uncompressed, so their digests are their diff IDs.
        #expect(document["Layers"] as? [String] == diffIDs)
        #expect(document["Labels"] as? [String: String] == (berth["Config"] as? [String: Any])?["Labels"] as? [String: String])

        let config = try Command.run("skopeo", ["inspect", "--config", "--raw", "oci-archive:" + saved])
        try #require(config.succeeded, "\(config)")
        #expect(Digest.sha256(of: Array(config.stdout)).description == berth["Id"] as? String)
        let rawConfig = try #require(try JSONSerialization.jsonObject(with: config.stdout) as? [String: Any])
        #expect((rawConfig["rootfs"] as? [String: Any])?["diff_ids"] as? [String] == diffIDs)

        // skopeo converts it back to a docker-archive that Berth loads as the same image.
        let copied = sandbox.scratch + "/copied.tar"
        let copy = try Command.run("skopeo", ["copy", "oci-archive:" + saved, "docker-archive:\(copied):berth-it/copied:1"])
        try #require(copy.succeeded, "\(copy)")
        let other = try BerthSandbox()
        #expect(try other.ok("load", "-i", copied) == "Loaded image: berth-it/copied:1\n")
        #expect(try other.inspect("berth-it/copied:1")["Id"] as? String == berth["Id"] as? String)
    }

    /// skopeo's OCI archives (plain and gzip layers, tagged by ref.name only) load as the image
    /// whose config skopeo wrote; Docker also loads such an archive untagged.
    @Test(.enabled(if: Peers.skopeo, "needs skopeo"))
    func berthLoadsSkopeosOCIArchives() throws {
        let sandbox = try BerthSandbox()
        for (name, extra) in [("plain", [String]()), ("gzip", ["--dest-compress"])] {
            let archive = sandbox.scratch + "/\(name).tar"
            let copy = try Command.run("skopeo", ["copy", "-q"] + extra
                                       + ["docker-archive:" + (try Self.fixture()), "oci-archive:\(archive):v1"])
            try #require(copy.succeeded, "\(copy)")
            let config = try Command.run("skopeo", ["inspect", "--config", "--raw", "oci-archive:" + archive])
            try #require(config.succeeded, "\(config)")
            let id = Digest.sha256(of: Array(config.stdout)).description
            #expect(try sandbox.ok("load", "-i", archive) == "Loaded image ID: \(id)\n")
            let layers = (try sandbox.inspect(id)["RootFS"] as? [String: Any])?["Layers"] as? [String]
            #expect(layers?.count == 6)
        }
    }

    @Test(.enabled(if: Peers.umoci, "needs umoci"))
    func umociUnpacksBerthSave() throws {
        let sandbox = try BerthSandbox()
        try sandbox.ok("load", "-i", try Self.fixture())
        let saved = sandbox.scratch + "/fixture.tar"
        try sandbox.ok("save", "-o", saved, Self.fixtureTag)
        let layout = sandbox.scratch + "/layout"
        try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
        try #require(try Command.run("tar", ["-xf", saved, "-C", layout]).succeeded)

        let bundle = sandbox.scratch + "/bundle"
        let tag = String(Self.fixtureTag.split(separator: ":")[1])
        let unpack = try Command.run("umoci", ["unpack", "--image", "\(layout):\(tag)", bundle])
        try #require(unpack.succeeded, "\(unpack)")
        let rootfs = bundle + "/rootfs"
        let files = FileManager.default
        #expect(files.isExecutableFile(atPath: rootfs + "/bin/busybox"))
        // Whiteouts and the opaque directory of the last layer were applied.
        #expect(!files.fileExists(atPath: rootfs + "/data/extra/removed.txt"))
        #expect(!files.fileExists(atPath: rootfs + "/data/extra/dir/old.txt"))
        #expect(files.fileExists(atPath: rootfs + "/data/extra/dir/new.txt"))
        #expect(try files.destinationOfSymbolicLink(atPath: rootfs + "/data/extra/kept-symlink") == "kept.txt")
        let kept = try files.attributesOfItem(atPath: rootfs + "/data/extra/kept.txt")
        let link = try files.attributesOfItem(atPath: rootfs + "/data/extra/kept-hardlink")
        #expect(kept[.systemFileNumber] as? UInt64 == link[.systemFileNumber] as? UInt64)
        for index in 1...3 {
            let size = try files.attributesOfItem(atPath: rootfs + String(format: "/data/layer-%02d.bin", index))[.size]
            #expect((size as? NSNumber)?.intValue ?? 0 > 2_000_000)
        }
        let config = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: bundle + "/config.json"))) as? [String: Any])
        #expect((config["process"] as? [String: Any])?["cwd"] as? String == "/srv/app")
    }
}
