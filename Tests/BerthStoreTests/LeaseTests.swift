import BerthArchive
import BerthOCI
import BerthProcess
import BerthStore
import Foundation
import Testing

/// Leases as garbage-collection roots, and Docker's `rmi` conflict rules for images containers use.
@Suite struct LeaseTests {
    /// A store with one imported image tagged `app:1`, unpacked as a container would use it.
    struct Fixture {
        let root = StoreFixtures.temporaryDirectory()
        let store: Store
        let image: ImageRecord

        init() throws {
            store = try Store(root: root)
            let imported = try store.importImage(from: BytesSource(StoreFixtures.layer(["a": "1"])), sourceName: "-",
                                                 message: nil, tag: Reference(parsing: "app:1")) { $0.Cmd = ["a"] }
            image = try store.image(named: imported.id.description)
        }

        /// The image's blobs (manifest, config, layer) all in the store.
        func imageContentIsThere() throws -> Bool {
            let manifest = try store.manifest(of: image)
            return ([image.manifestDigest, image.id] + manifest.layers.map(\.digest)).allSatisfy(store.content.contains)
        }
    }

    /// A process identity that no running process has: this process's pid with another start time
    /// (as a reused pid would look).
    static let deadProcess = ProcessIdentity(pid: getpid(), startTime: ProcessIdentity.current.startTime + 1)

    /// What `body` throws, as the user reads it; empty if it throws nothing.
    static func errorText(_ body: () throws -> Void) -> String {
        do {
            try body()
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func aLiveLeaseKeepsAnImageThroughRemovalAndCollection() throws {
        let fixture = try Fixture()
        defer { StoreFixtures.cleanUp(fixture.root) }
        let lease = Lease.process()
        #expect(try fixture.store.holdImage(named: "app:1", in: lease).id == fixture.image.id)
        #expect(try fixture.store.remove("app:1", force: true, isRunning: { _ in false }).contains(.deleted(fixture.image.id)))
        #expect(try fixture.store.collectGarbage().blobs.isEmpty)
        #expect(try fixture.imageContentIsThere())

        try fixture.store.release(lease)
        #expect(try fixture.store.collectGarbage().blobs.count == 3)
        #expect(try fixture.store.content.list().isEmpty)
    }

    @Test func aLeaseOfADeadProcessIsStaleAndCollected() throws {
        let fixture = try Fixture()
        defer { StoreFixtures.cleanUp(fixture.root) }
        let lease = Lease(id: "process killed", holder: Self.deadProcess, path: nil)
        try fixture.store.hold(LeaseResource.image(fixture.image), in: lease)
        _ = try fixture.store.remove("app:1", force: false, isRunning: { _ in false })
        #expect(try fixture.store.collectGarbage().blobs.count == 3)
        #expect(try fixture.store.liveResources().isEmpty)
    }

    @Test func holdingMissingContentFails() throws {
        let fixture = try Fixture()
        defer { StoreFixtures.cleanUp(fixture.root) }
        let missing = Digest.sha256(of: Array("not stored".utf8))
        #expect(Self.errorText { try fixture.store.hold([.blob(missing)], in: .process()) }
            == "content \(missing) is missing from the store")
        #expect(Self.errorText { _ = try fixture.store.holdImage(named: "gone:1", in: .process()) } == "No such image: gone:1")
    }

    @Test func aContainersLeaseLastsWhileItsDirectoryExists() throws {
        let fixture = try Fixture()
        defer { StoreFixtures.cleanUp(fixture.root) }
        let containerID = "c0ffee" + String(repeating: "1", count: 58)
        let directory = fixture.root + "/containers/" + containerID
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Created by a process that has exited since, as `berth create` does.
        let lease = Lease(id: "container " + containerID, holder: Self.deadProcess, path: directory)
        _ = try fixture.store.holdImage(named: "app:1", in: lease)
        #expect(try fixture.store.containers(using: fixture.image.id) == [containerID])
        #expect(try fixture.store.imagesInUse() == [fixture.image.id])

        try FileManager.default.removeItem(atPath: directory)
        #expect(try fixture.store.containers(using: fixture.image.id).isEmpty)
        _ = try fixture.store.remove("app:1", force: false, isRunning: { _ in false })
        #expect(try fixture.store.collectGarbage().blobs.count == 3)
    }

    @Test func removalFollowsDockersConflictRulesForImagesInUse() throws {
        let fixture = try Fixture()
        defer { StoreFixtures.cleanUp(fixture.root) }
        let store = fixture.store
        let containerID = "abcdef012345" + String(repeating: "6", count: 52)
        let lease = Lease.container(containerID, directory: fixture.root)
        _ = try store.holdImage(named: "app:1", in: lease)
        let id = fixture.image.id
        func message(_ name: String, force: Bool, running: Bool) -> String {
            Self.errorText { _ = try store.remove(name, force: force, isRunning: { _ in running }) }
        }
        #expect(message("app:1", force: false, running: false)
            == "conflict: unable to remove repository reference \"app:1\" (must force) - container abcdef012345 is using its referenced image \(id.shortID)")
        #expect(message(id.encoded, force: false, running: false)
            == "conflict: unable to delete \(id.shortID) (must be forced) - image is being used by stopped container abcdef012345")
        #expect(message(id.encoded, force: true, running: true)
            == "conflict: unable to delete \(id.shortID) (cannot be forced) - image is being used by running container abcdef012345")
        #expect(try store.image(named: "app:1").id == id)

        // Forced by name while a container runs: untagged only, the image stays (dangling).
        #expect(try store.remove("app:1", force: true, isRunning: { _ in true }) == [.untagged("app:1")])
        #expect(try store.image(named: id.description).tags.isEmpty)
        #expect(message(id.encoded, force: false, running: false)
            == "conflict: unable to delete \(id.shortID) (must be forced) - image is being used by stopped container abcdef012345")
        // Forced while the container is stopped: deleted, its content kept by the container.
        #expect(try store.remove(id.description, force: true, isRunning: { _ in false }) == [.deleted(id)])
        #expect(try store.collectGarbage().blobs.isEmpty)
        #expect(try fixture.imageContentIsThere())
    }
}
