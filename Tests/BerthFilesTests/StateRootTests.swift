import BerthFiles
import Testing

/// The names under a state root are a contract with every root earlier versions wrote: a path
/// that changed would make their images, containers and networks disappear.
@Suite struct StateRootTests {
    let root = StateRoot("/var/lib/berth")

    @Test func contentAndMetadataKeepTheirNames() {
        #expect(root.blob(algorithm: "sha256", encoded: "ab12") == "/var/lib/berth/blobs/sha256/ab12")
        #expect(root.ingest == "/var/lib/berth/ingest")
        #expect(root.snapshotFilesystem("cd34") == "/var/lib/berth/snapshots/cd34/fs")
        #expect(root.metadataDatabase == "/var/lib/berth/metadata.db")
        #expect(root.metadataLock == "/var/lib/berth/metadata.lock")
        #expect(root.storeLock == "/var/lib/berth/store.lock")
    }

    @Test func containersVolumesAndNetworksKeepTheirNames() {
        let id = String(repeating: "e", count: 64)
        let container = root.container(id)
        #expect(container.path == "/var/lib/berth/containers/\(id)")
        #expect(container.record == container.path + "/container.json")
        #expect(container.jsonLog == container.path + "/\(id)-json.log")
        #expect(container.lock == container.path + "/lock")
        #expect(container.monitorLock == container.path + "/monitor.lock")
        #expect(container.startLock == container.path + "/start.lock")
        #expect(container.bundleConfig == container.path + "/config.json")
        #expect(root.containerNamesLock == "/var/lib/berth/containers/.names.lock")
        #expect(root.containersLeasedMarker == "/var/lib/berth/containers/.leased")
        #expect(root.volume("data") == "/var/lib/berth/volumes/data")
        #expect(root.ociRuntimeState("runc") == "/var/lib/berth/runc")
        #expect(root.networkLock == "/var/lib/berth/network/lock")
        #expect(root.networkDefinitions == "/var/lib/berth/network/networks")
        #expect(root.networkDNS("net1") == "/var/lib/berth/network/dns/net1")
    }

    @Test func buildStateKeepsItsNames() {
        #expect(root.buildCacheKeys == "/var/lib/berth/buildcache/keys")
        #expect(root.buildSnapshots == "/var/lib/berth/buildcache/snapshots")
        #expect(root.buildMounts == "/var/lib/berth/buildcache/mounts")
        #expect(root.buildStepRecords == "/var/lib/berth/buildcache/steps")
        #expect(root.buildRuntimeState == "/var/lib/berth/buildcache/runc")
        #expect(root.buildTemporary == "/var/lib/berth/buildcache/tmp")
        #expect(root.scratch == "/var/lib/berth/tmp")
    }

    @Test func theEventLogKeepsItsNames() {
        #expect(root.events == "/var/lib/berth/events.jsonl")
        #expect(root.previousEvents == "/var/lib/berth/events.jsonl.1")
        #expect(root.eventsLock == "/var/lib/berth/events.lock")
        #expect(root.engineID == "/var/lib/berth/engine-id")
    }
}
