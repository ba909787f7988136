import BerthArchive
import BerthOCI
import BerthStore
import Foundation
import Glibc
import Testing

@Suite struct DurableContentTests {
    @Test func committedBlobsAreReadOnlyAndIngestLeavesNothingBehind() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        let unkeyed = try store.content.ingest(BytesSource(Array("unkeyed".utf8)))
        let keyed = try store.content.ingest(bytes: Array("keyed".utf8))
        for digest in [unkeyed.digest, keyed] {
            var info = stat()
            #expect(stat(store.content.path(of: digest), &info) == 0)
            #expect(info.st_mode & 0o7777 == 0o444, "blob \(digest) has mode \(String(info.st_mode & 0o7777, radix: 8))")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/ingest").isEmpty)
    }

    /// Two writers of one blob in two threads: the second waits for the first (the ingest is keyed
    /// by the digest and locked) and then finds the blob stored, so its content is never written.
    @Test func concurrentWritersOfOneBlobWriteItOnce() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let first = try Store(root: root)
        let second = try Store(root: root)
        let content = Array(repeating: UInt8(ascii: "x"), count: 3 << 20)
        let digest = Digest.sha256(of: content)
        let firstIsWriting = DispatchSemaphore(value: 0)
        let secondHasStarted = DispatchSemaphore(value: 0)
        let secondIsDone = DispatchSemaphore(value: 0)
        let secondWrote = Locked(false)
        let secondResult = Locked<Result<Digest, any Error>?>(nil)
        let thread = Thread {
            firstIsWriting.wait()
            secondHasStarted.signal()
            secondResult.set(Result {
                try second.content.ingest(what: "blob", expected: digest) { sink in
                    secondWrote.set(true)
                    try content.withUnsafeBytes { try sink.write($0) }
                }.digest
            })
            secondIsDone.signal()
        }
        thread.start()
        let stored = try first.content.ingest(what: "blob", expected: digest) { sink in
            try content[..<(1 << 20)].withUnsafeBytes { try sink.write($0) }
            firstIsWriting.signal()
            secondHasStarted.wait()
            try content[(1 << 20)...].withUnsafeBytes { try sink.write($0) }
        }
        secondIsDone.wait()
        #expect(stored.digest == digest)
        #expect(try secondResult.value?.get() == digest)
        #expect(secondWrote.value == false, "the second writer wrote the blob again")
        #expect(try first.content.read(digest) == content)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/ingest").isEmpty)
    }

    @Test func checkFindsAndRepairsACorruptBlob() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        let layer = try StoreFixtures.layer(["etc/hostname": "box\n"])
        _ = try store.importImage(from: BytesSource(layer), sourceName: "-", message: nil,
                                  tag: Reference(parsing: "app")) { _ in }
        #expect(try store.check(repair: false).problems.isEmpty)

        let layerDigest = Digest.sha256(of: layer)
        let path = store.content.path(of: layerDigest)
        #expect(chmod(path, 0o644) == 0)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: 600)
        try handle.write(contentsOf: Data("tampered".utf8))
        try handle.close()

        let found = try store.check(repair: false)
        #expect(found.remaining == 1)
        guard case .corruptBlob(layerDigest, _)? = found.problems.first?.kind else {
            Issue.record("not reported as a corrupt blob: \(found.problems)")
            return
        }
        let repaired = try store.check(repair: true)
        #expect(repaired.problems.map(\.kind) == [
            found.problems[0].kind, .missingBlob(layerDigest, image: "app:latest"),
        ])
        #expect(repaired.remaining == 1, "the image still needs its layer")
        #expect(!store.content.contains(layerDigest))

        // Storing the layer again brings the image back.
        try store.content.ingest(BytesSource(layer), expected: layerDigest)
        #expect(try store.check(repair: false).problems.isEmpty)
    }
}

@Suite struct HostileLayerTests {
    static let hostile: [(name: String, entry: TarEntry, offending: String)] = [
        ("climbing path", TarEntry(kind: .file, path: "../../evil"), "../../evil"),
        ("climbing path after a directory", TarEntry(kind: .file, path: "etc/../../evil"), "etc/../../evil"),
        ("hard link out of the root", TarEntry(kind: .hardlink, path: "passwd", linkName: "../../etc/passwd"), "passwd"),
        ("whiteout of nothing", TarEntry(kind: .file, path: "etc/.wh."), "etc/.wh."),
        ("whiteout of the parent", TarEntry(kind: .file, path: "etc/.wh.."), "etc/.wh.."),
    ]

    @Test(arguments: hostile.indices)
    func importAndLoadRefuseUnsafeLayersAndRecordNothing(index: Int) throws {
        let (_, entry, offending) = Self.hostile[index]
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        let layer = try StoreFixtures.layer(["etc/hostname": "box\n"], extra: [entry])

        do {
            _ = try store.importImage(from: BytesSource(layer), sourceName: "-", message: nil,
                                      tag: Reference(parsing: "hostile")) { _ in }
            Issue.record("import accepted a layer with \(offending)")
        } catch StoreError.unsafeLayer(let what, let name, _) {
            #expect(what == "the imported layer")
            #expect(name == offending)
        }
        let (archive, _) = try StoreFixtures.dockerArchive(layers: [layer], repoTags: ["hostile:loaded"])
        do {
            _ = try store.load(from: BytesSource(archive))
            Issue.record("load accepted a layer with \(offending)")
        } catch StoreError.unsafeLayer(let what, let name, _) {
            #expect(what == "layer layer0/layer.tar")
            #expect(name == offending)
        }
        #expect(try store.images().isEmpty)
    }

    @Test func safeLayersWithAbsolutePathsAndWhiteoutsAreAccepted() throws {
        let root = StoreFixtures.temporaryDirectory()
        defer { StoreFixtures.cleanUp(root) }
        let store = try Store(root: root)
        // As Docker reads them: an absolute path is inside the root, `..` that stays inside is fine.
        let layer = try StoreFixtures.layer(["etc/hostname": "box\n"], extra: [
            TarEntry(kind: .file, path: "/etc/motd"),
            TarEntry(kind: .file, path: "etc/../etc/issue"),
            TarEntry(kind: .hardlink, path: "etc/name", linkName: "/etc/hostname"),
            TarEntry(kind: .file, path: "etc/.wh.old.conf"),
            TarEntry(kind: .file, path: "etc/.wh..wh..opq"),
        ])
        _ = try store.importImage(from: BytesSource(layer), sourceName: "-", message: nil,
                                  tag: Reference(parsing: "fine")) { _ in }
        #expect(try store.images().count == 1)
    }
}

/// A value shared between a test and a thread it starts.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value { lock.withLock { stored } }
    func set(_ value: Value) { lock.withLock { stored = value } }
}
