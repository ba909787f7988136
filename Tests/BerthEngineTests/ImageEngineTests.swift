import BerthArchive
import BerthBuild
@testable import BerthEngine
import BerthOCI
import BerthRegistryClient
import BerthRuntime
import BerthStore
import Foundation
import Synchronization
import Testing

/// The engine's image, build and transfer operations on a fresh root (no daemon, no runc).
@Suite struct ImageEngineTests {
    let root: String
    let engine: Engine

    init() throws {
        root = NSTemporaryDirectory() + "berth-engine-images-" + UUID().uuidString
        engine = try Engine(root: root, monitorExecutable: "/bin/false")
    }

    /// Imports a one-file root filesystem, named `reference` (untagged when nil).
    @discardableResult
    func importImage(_ reference: String?, changes: [String] = [], file: String = "hello") throws -> Digest {
        let sink = BytesSink()
        let writer = TarWriter(sink)
        try writer.write(TarEntry(kind: .file, path: file, mode: 0o644), bytes: Array("hello\n".utf8))
        try writer.finish()
        return try engine.importImage(from: BytesSource(sink.bytes), options: ImageImportOptions(changes: changes, reference: reference))
    }

    @Test func aBuildPullsWhatItsStagesStartCopyAndMountFromThatIsNoStage() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try importImage("local/present:1")
        let dockerfile = """
            ARG BASE=example/base:1
            FROM $BASE AS build
            ARG TOOL=example/tool:2
            COPY --from=$TOOL /x /x
            FROM local/present:1
            COPY --from=build /x /y
            COPY --from=0 /x /z
            RUN --mount=from=example/mounted,target=/m --mount=type=cache,from=build,target=/c true
            FROM scratch
            COPY --from=example/base:1 / /
            """
        let source = DockerfileSource.text(dockerfile, name: "Dockerfile")
        let all = try engine.basesToPull(BuildOptions(pull: .always), contextDirectory: root, dockerfile: source)
        #expect(all == ["example/base:1", "example/tool:2", "local/present:1", "example/mounted"])
        let missing = try engine.basesToPull(BuildOptions(buildArgs: ["BASE": "other/base:3"]), contextDirectory: root,
                                             dockerfile: source)
        #expect(missing == ["other/base:3", "example/tool:2", "example/mounted", "example/base:1"])
        #expect(try engine.basesToPull(BuildOptions(pull: .never), contextDirectory: root, dockerfile: source).isEmpty)
    }

    @Test func listsWithDockersFiltersAndNarrowsNamesToTheReferenceFilter() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let labelled = try importImage("app/web:1", changes: ["LABEL tier=web"])
        try engine.tagImage("app/web:1", as: "other/name:2")
        let dangling = try importImage(nil, file: "other")

        let all = try engine.images(ImageListOptions(filters: Filters()))
        #expect(Set(all.map(\.id)) == [labelled, dangling])
        #expect(try engine.images(ImageListOptions(filters: Filters(cli: ["dangling=true"]))).map(\.id) == [dangling])
        #expect(try engine.images(ImageListOptions(filters: Filters(cli: ["label=tier=web"]))).map(\.id) == [labelled])
        #expect(try engine.images(ImageListOptions(filters: Filters(cli: ["label=tier=db"]))).isEmpty)
        let narrowed = try engine.images(ImageListOptions(filters: Filters(cli: ["reference=app/*"])))
        #expect(narrowed.map(\.id) == [labelled])
        #expect(narrowed.first?.tags.map(\.familiarString) == ["app/web:1"])
        #expect(throws: EngineError.invalidParameter("invalid filter 'nope'")) {
            try engine.images(ImageListOptions(filters: Filters(cli: ["nope=1"])))
        }
        let summaries = try engine.imageSummaries(ImageListOptions(filters: Filters(cli: ["dangling=false"])), sharedSize: true)
        #expect(summaries.first?.labels == ["tier": "web"])
        #expect(summaries.first?.sharedSize == 0)
    }

    @Test func tagsRemovesAndReportsMissingImagesAsDockerdDoes() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = try importImage("busybox:1")
        #expect(throws: EngineError.invalidParameter("refusing to create a tag with a digest reference")) {
            try engine.tagImage("busybox:1", as: "x@sha256:" + String(repeating: "a", count: 64))
        }
        #expect(throws: EngineError.notFound("No such image: nosuch:latest")) { try engine.tagImage("nosuch", as: "y") }
        #expect(throws: EngineError.notFound("No such image: nosuch:latest")) { try engine.removeImage("nosuch", force: false) }
        try engine.tagImage(id.description, as: "second")
        #expect(try engine.removeImage("second", force: false) == [.untagged("second:latest")])
        #expect(try engine.removeImage("busybox:1", force: false) == [.untagged("busybox:1"), .deleted(id)])
        #expect(try engine.images(ImageListOptions(filters: Filters())).isEmpty)
    }

    @Test func historyAndInspectFollowTheAPIVersion() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = try importImage("web:1")
        let history = try engine.imageHistory("web:1")
        #expect(history.count == 1)
        #expect(history.first?.imageID == id && history.first?.tags == ["web:1"] && history.first?.size == 6)
        #expect(history.first?.comment == "Imported from -")

        let cli = try engine.inspectImage("web:1")
        #expect(cli["VirtualSize"] != nil && cli["ContainerConfig"] != nil && cli["Descriptor"] == nil)
        let newest = try engine.inspectImage("web:1", fields: .api(minor: 50))
        #expect(newest["VirtualSize"] == nil && newest["ContainerConfig"] == nil)
        #expect(newest["Descriptor"]?["mediaType"] == .string(MediaType.ociManifest))
        #expect(try engine.inspectImage("web:1", fields: .api(minor: 43))["VirtualSize"] != nil)
    }

    @Test func pruneTakesDanglingImagesOrAllWithDanglingFalse() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tagged = try importImage("keep:1")
        let dangling = try importImage(nil, file: "loose")
        let first = try engine.pruneImages(Filters(cli: ["dangling=true"]))
        #expect(first.removed == [.deleted(dangling)])
        #expect(first.reclaimedBytes > 0)
        #expect(try engine.pruneImages(Filters(cli: ["until=1h"])).removed.isEmpty, "the image is newer than an hour")
        let all = try engine.pruneImages(Filters(cli: ["dangling=false"]))
        #expect(all.removed == [.untagged("keep:1"), .deleted(tagged)])
        #expect(throws: EngineError.invalidParameter("invalid filter 'reference'")) {
            try engine.pruneImages(Filters(cli: ["reference=x"]))
        }
    }

    @Test func saveAndLoadRoundTripWithDockersLines() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = try importImage("round/trip:1")
        let archive = BytesSink()
        try engine.saveImages(["round/trip:1"], to: archive)
        #expect(throws: EngineError.notFound("No such image: missing:latest")) { try engine.saveImages(["missing"], to: BytesSink()) }
        _ = try engine.removeImage("round/trip:1", force: false)
        #expect(try engine.loadImages(from: BytesSource(archive.bytes)) == ["Loaded image: round/trip:1"])
        #expect(try engine.image(named: "round/trip:1").id == id)
    }

    @Test func importRefusesWhatItCannotDo() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(throws: EngineError.self) {
            try engine.importImage(from: BytesSource([]), options: ImageImportOptions(platform: "linux/s390x"))
        }
        #expect(throws: EngineError.self) {
            try engine.importImage(from: BytesSource([]), options: ImageImportOptions(sourceName: "https://example.com/x.tar"))
        }
        #expect(throws: EngineError.self) {
            try engine.importImage(from: BytesSource([]), options: ImageImportOptions(changes: ["RUN true"]))
        }
    }

    @Test func aClassicBuildReportsDockerdsStepsAndTheImageID() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let context = root + "-context"
        defer { try? FileManager.default.removeItem(atPath: context) }
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "hi\n".write(toFile: context + "/greeting", atomically: true, encoding: .utf8)
        try "FROM scratch\nLABEL a=b\nCOPY greeting /\n".write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let events = Mutex<[BuildEvent]>([])
        let result = try engine.build(BuildOptions(tags: ["built:1"]), contextDirectory: context, dockerfile: .context(path: "Dockerfile"),
                                      style: .classic) { event in events.withLock { $0.append(event) } }
        let lines = events.withLock { $0 }.compactMap { if case .line(let text) = $0 { text } else { nil } }
        #expect(lines == ["Step 1/3 : FROM scratch", "Step 2/3 : LABEL a=b", "Step 3/3 : COPY greeting /",
                          " ---> \(result.imageID.shortID)", "Successfully built \(result.imageID.shortID)",
                          "Successfully tagged built:1"])
        #expect(events.withLock { $0 }.contains(.imageID(result.imageID)))
        #expect(throws: EngineError.self) {
            try engine.build(BuildOptions(network: "container:x"), contextDirectory: context, dockerfile: .context(path: "Dockerfile"),
                             style: .classic) { _ in }
        }
        #expect(throws: EngineError.invalidParameter("Cannot locate specified Dockerfile: ../etc/passwd")) {
            try engine.build(BuildOptions(), contextDirectory: context, dockerfile: .context(path: "../etc/passwd"), style: .classic) { _ in }
        }
    }

    @Test func aCancelledBuildStopsBeforeItsNextStep() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let context = root + "-context"
        defer { try? FileManager.default.removeItem(atPath: context) }
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM scratch\nLABEL a=b\n".write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let cancellation = BuildCancellation()
        cancellation.cancel()
        #expect(throws: BuildError.cancelled) {
            try engine.build(BuildOptions(), contextDirectory: context, dockerfile: .context(path: "Dockerfile"), style: .classic,
                             cancellation: cancellation) { _ in }
        }
    }

    @Test func baseImagesAreTheStagesFromsAfterTheirArgs() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try importImage("busybox:latest")
        let dockerfile = """
            ARG BASE=example.test/base:1
            FROM $BASE AS first
            FROM first
            FROM scratch
            FROM busybox
            FROM ${BASE}
            """
        let all = try engine.basesToPull(BuildOptions(pull: .always), contextDirectory: root,
                                         dockerfile: .text(dockerfile, name: "Dockerfile"))
        #expect(all == ["example.test/base:1", "busybox"])
        let missing = try engine.basesToPull(BuildOptions(buildArgs: ["BASE": "other:2"]), contextDirectory: root,
                                             dockerfile: .text(dockerfile, name: "Dockerfile"))
        #expect(missing == ["other:2"])
    }

    @Test func buildFailuresNameTheirDockerfileLine() {
        let failed = BuildError.processFailed(command: "/bin/sh -c false", exitCode: 1, fileName: "Dockerfile", line: 4)
        #expect(Engine.buildFailureMessage(failed)
            == "Dockerfile:4: process \"/bin/sh -c false\" did not complete successfully: exit code: 1")
        let located = BuildError.sourceNotFound("x", fileName: "Dockerfile", line: 2)
        #expect(Engine.buildFailureMessage(located) == located.description)
    }

    @Test func transferMessagesAreDockerdsPerLayerStatuses() {
        let messages = Mutex<[TransferMessage]>([])
        let translator = TransferMessages(verb: "Downloading", first: TransferMessage(id: "latest", status: "Pulling from app")) { message in
            messages.withLock { $0.append(message) }
        }
        let layer = Digest.sha256(of: Array("layer".utf8))
        translator.observer(.waiting(layer: layer))
        translator.observer(.started(layer: layer, total: 10))
        translator.observer(.progressed(layer: layer, bytes: 4))
        translator.observer(.progressed(layer: layer, bytes: 6))
        translator.observer(.finished(layer: layer, status: .pullComplete))
        let sent = messages.withLock { $0 }
        #expect(sent.first == TransferMessage(id: "latest", status: "Pulling from app"))
        #expect(sent[1] == TransferMessage(id: layer.shortID, status: "Pulling fs layer", isIntermediate: true))
        #expect(sent.contains(TransferMessage(id: layer.shortID, status: "Downloading", progress: .init(current: 4, total: 10))))
        #expect(sent.contains(TransferMessage(id: layer.shortID, status: "Downloading", progress: .init(current: 10, total: 10))),
                "the last bytes of a layer are always reported")
        #expect(sent.suffix(2) == [TransferMessage(id: layer.shortID, status: "Download complete", isIntermediate: true),
                                   TransferMessage(id: layer.shortID, status: "Pull complete")])
    }

    @Test func imageChangesAreRecordedAsDockerdsEvents() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = try importImage("events:1")
        try engine.tagImage("events:1", as: "events:2")
        let archive = BytesSink()
        try engine.saveImages(["events:2"], to: archive)
        _ = try engine.removeImage("events:2", force: false)
        _ = try engine.removeImage("events:1", force: false)
        _ = try engine.loadImages(from: BytesSource(archive.bytes))
        var recorded: [String] = []
        for await event in engine.events.follow(since: Date(timeIntervalSince1970: 0), until: Date(), filters: Filters())
        where event.type == .image {
            #expect(event.actor.id == id.description)
            recorded.append(event.action + (event.actor.attributes["name"].map { " " + $0 } ?? ""))
        }
        #expect(recorded == ["import \(id)", "tag events:2", "save \(id)", "untag \(id)", "untag \(id)", "delete \(id)",
                             "load \(id)"])
    }

    @Test func registryHostsAreNormalizedAsDockerNamesThem() {
        #expect(Engine.registryHost(nil) == "docker.io")
        #expect(Engine.registryHost("https://index.docker.io/v1/") == "docker.io")
        #expect(Engine.registryHost("http://127.0.0.1:5000/v2/") == "127.0.0.1:5000")
        #expect(Engine.registryHost("registry.example:443") == "registry.example:443")
    }
}
