import BerthArchive
import BerthOCI
import BerthStore
import Foundation
import Testing

@Suite struct ContentStoreTests {
    @Test func ingestVerifiesDigestAndStoresNothingOnMismatch() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        let bytes = Array("hello".utf8)
        let wrong = Digest.sha256(of: Array("other".utf8))
        #expect(throws: StoreError.self) { try store.content.ingest(BytesSource(bytes), expected: wrong) }
        #expect(try store.content.list().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/ingest").isEmpty)
        let stored = try store.content.ingest(BytesSource(bytes), expected: Digest.sha256(of: bytes))
        #expect(stored.size == 5)
        #expect(try store.content.read(stored.digest) == bytes)
        #expect(throws: StoreError.self) { try store.content.ingest(BytesSource(bytes), expectedSize: 6) }
    }
}

@Suite struct ImageStoreTests {
    @Test func loadsDockerArchiveAndSavesItBack() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root + "/a")
        let base = try StoreFixtures.layer(["bin/sh": "#!shell", "etc/passwd": "root:x:0:0::/root:/bin/sh\n"])
        let top = try StoreFixtures.layer(["app/app.py": "print('hi')\n"])
        let (archive, imageID) = try StoreFixtures.dockerArchive(layers: [base, top], repoTags: ["demo/app:v1", "demo"])
        let loaded = try store.load(from: BytesSource(archive))
        #expect(loaded.map(\.id) == [imageID])
        let image = try store.image(named: "demo/app:v1")
        #expect(image.id == imageID)
        #expect(image.tags.map(\.familiarString) == ["demo/app:v1", "demo:latest"])
        // Docker's image size: the bytes of the layers' files, not of the tar streams.
        #expect(image.size == Int64("#!shell".utf8.count + "root:x:0:0::/root:/bin/sh\n".utf8.count + "print('hi')\n".utf8.count))
        #expect(try store.image(named: String(imageID.encoded.prefix(8))).id == imageID)
        #expect(try store.config(of: image).config?.Cmd == ["sh"])

        let saved = BytesSink()
        try store.save(["demo/app:v1"], to: saved)
        let names = try entryNames(saved.bytes)
        #expect(names.contains("index.json") && names.contains("oci-layout") && names.contains("manifest.json"))
        #expect(names.contains("blobs/sha256/\(imageID.encoded)"))

        let second = try Store(root: root + "/b")
        let reloaded = try second.load(from: BytesSource(saved.bytes))
        #expect(reloaded.map(\.id) == [imageID])
        #expect(try second.image(named: "demo/app:v1").tags.map(\.familiarString) == ["demo/app:v1"])
        #expect(try second.manifest(of: second.image(named: "demo/app:v1")) == store.manifest(of: image))
    }

    @Test func loadsOCILayoutWithCompressedLayersCheckingDiffIDs() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        let layer = try StoreFixtures.layer(["hello.txt": "hello\n"])
        let (archive, imageID) = try StoreFixtures.ociArchive(layers: [layer], name: "localhost:5000/oci/img:2")
        #expect(try store.load(from: BytesSource(archive)).map(\.id) == [imageID])
        let image = try store.image(named: "localhost:5000/oci/img:2")
        #expect(image.size == Int64("hello\n".utf8.count))
        #expect(try store.manifest(of: image).layers.first?.mediaType == MediaType.ociLayerGzip)

        let lying = try StoreFixtures.ociArchive(layers: [layer], name: "x/y:z", diffIDs: [Digest.sha256(of: [1])])
        #expect(throws: StoreError.self) { try store.load(from: BytesSource(lying.archive)) }
        let corrupt = try StoreFixtures.ociArchive(layers: [layer], name: "x/y:z", corruptLayerName: true)
        #expect(throws: StoreError.self) { try store.load(from: BytesSource(corrupt.archive)) }
        #expect(throws: StoreError.self) { try store.image(named: "x/y:z") }
    }

    @Test func refusesArchivesThatAreNotImages() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        let notImage = try StoreFixtures.layer(["readme": "just files"])
        #expect(throws: StoreError.self) { try store.load(from: BytesSource(notImage)) }
        #expect(throws: (any Error).self) { try store.load(from: BytesSource(Array("garbage".utf8))) }
        #expect(try store.images().isEmpty)
    }

    /// Each command opens the store afresh, and its first connection re-reads the whole
    /// write-ahead log: the log must stay small however many commands write (it once grew by every
    /// commit, since a fresh connection cannot tell what earlier checkpoints copied).
    @Test func writeAheadLogStaysSmallAcrossManyCommands() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        _ = try Store(root: root).importImage(from: BytesSource(StoreFixtures.layer(["a": "1"])), sourceName: "-",
                                              message: nil, tag: Reference(parsing: "app:1")) { $0.Cmd = ["a"] }
        for index in 0..<600 {
            let store = try Store(root: root)
            try store.tag(try store.image(named: "app:1"), as: Reference(parsing: "app:\(index)-copy"))
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: root + "/metadata.db-wal")[.size] as? Int)
        #expect(size < 1 << 20, "the write-ahead log is \(size) bytes after 600 commands")
        #expect(try Store(root: root).images().first?.tags.count == 601)
    }

    @Test func tagsMoveAndRemovalFollowsDockerRules() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        let first = try store.importImage(from: BytesSource(StoreFixtures.layer(["a": "1"])), sourceName: "-",
                                          message: nil, tag: Reference(parsing: "app:1")) { $0.Cmd = ["a"] }
        let image = try store.image(named: "app:1")
        try store.tag(image, as: Reference(parsing: "app:2"))
        try store.tag(image, as: Reference(parsing: "other/app"))
        #expect(try store.image(named: "app:2").id == first.id)

        // By ID with tags in two repositories: refused unless forced.
        #expect(throws: StoreError.self) { try store.remove(first.id.description, force: false) }
        // By tag: only that tag goes.
        #expect(try store.remove("app:2", force: false) == [.untagged("app:2")])
        #expect(try store.remove("other/app", force: false) == [.untagged("other/app:latest")])
        #expect(try store.remove("app:1", force: false) == [.untagged("app:1"), .deleted(first.id)])
        #expect(try store.images().isEmpty)

        let garbage = try store.collectGarbage()
        #expect(garbage.blobs.count == 3)
        #expect(try store.content.list().isEmpty)
    }

    @Test func retaggingLeavesTheOldImageDangling() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        let tag = try Reference(parsing: "app")
        let old = try store.importImage(from: BytesSource(StoreFixtures.layer(["v": "1"])), sourceName: "-",
                                        message: nil, tag: tag) { _ in }
        let new = try store.importImage(from: BytesSource(StoreFixtures.layer(["v": "2"])), sourceName: "-",
                                        message: "second", tag: tag) { _ in }
        #expect(new.tag?.previousImage == old.id)
        let images = try store.images()
        #expect(images.first { $0.id == old.id }?.tags.isEmpty == true)
        #expect(try store.config(of: store.image(named: "app")).history?.first?.comment == "second")
    }

    @Test func garbageCollectionRemovesAbandonedWrites() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        try store.importImage(from: BytesSource(StoreFixtures.layer(["keep": "me"])), sourceName: "-", message: nil,
                              tag: Reference(parsing: "keep")) { _ in }
        let orphan = try store.content.ingest(bytes: Array("orphan".utf8))
        FileManager.default.createFile(atPath: root + "/ingest/interrupted", contents: Data([1, 2, 3]))
        try FileManager.default.createDirectory(atPath: root + "/snapshots/.unpack-x/fs", withIntermediateDirectories: true)
        let garbage = try store.collectGarbage()
        #expect(garbage.blobs == [orphan])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/ingest").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: root + "/snapshots/.unpack-x"))
        #expect(try store.content.list().count == 3)
    }

    @Test func importRejectsNonTarInputAndRecordsNothing() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        #expect(throws: StoreError.self) {
            try store.importImage(from: BytesSource(Array(repeating: 7, count: 2048)), sourceName: "-", message: nil,
                                  tag: Reference(parsing: "bad")) { _ in }
        }
        #expect(try store.images().isEmpty)
    }

    @Test(.enabled(if: getuid() == 0, "overlay whiteouts are character devices: needs root"))
    func unpacksLayersIntoSnapshotsWithOverlayWhiteouts() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        let base = try StoreFixtures.layer(["etc/old.conf": "old", "etc/keep.conf": "keep"])
        let top = try StoreFixtures.layer(["etc/new.conf": "new"],
                                          extra: [TarEntry(kind: .file, path: "etc/.wh.old.conf")])
        let (archive, _) = try StoreFixtures.dockerArchive(layers: [base, top], repoTags: ["layered"])
        _ = try store.load(from: BytesSource(archive))
        let image = try store.image(named: "layered")
        let paths = try store.unpack(image)
        let chain = ChainID.chain([Digest.sha256(of: base), Digest.sha256(of: top)])
        #expect(paths == chain.map(store.snapshotPath))
        #expect(FileManager.default.contents(atPath: paths[0] + "/etc/old.conf") == Data("old".utf8))
        var info = stat()
        #expect(lstat(paths[1] + "/etc/old.conf", &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0)
        #expect(Set(try store.snapshots()) == Set(chain))
        // Unpacking again reuses the snapshots.
        #expect(try store.unpack(image) == paths)
    }
}

/// Entry names of a tar archive.
func entryNames(_ archive: [UInt8]) throws -> [String] {
    let reader = TarReader(BytesSource(archive))
    var names: [String] = []
    while let entry = try reader.next() { names.append(entry.path) }
    return names
}
