@testable import BerthEngine
import BerthNetwork
import BerthRuntime
import Foundation
import Glibc
import Testing

/// The engine's volume and network rules on a scratch root: no container runs and no network is
/// attached, so no bridge is ever made.
@Suite struct EngineVolumesNetworksTests {
    private final class Scratch {
        let root: String
        let engine: Engine

        init() throws {
            var template = Array((NSTemporaryDirectory() + "/berth-engine-XXXXXX").utf8CString)
            guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
            root = String(cString: made)
            engine = try Engine(root: root, monitorExecutable: "/bin/false")
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func events() async -> [Event] {
            var events: [Event] = []
            for await event in engine.events.follow(since: Date(timeIntervalSince1970: 0), until: Date(), filters: Filters()) {
                events.append(event)
            }
            return events
        }
    }

    @Test func volumesAreCreatedFilteredRemovedAndRecorded() async throws {
        let scratch = try Scratch()
        let engine = scratch.engine
        var options = VolumeCreateOptions(name: "named")
        options.labels = ["keep": "yes"]
        #expect(try engine.createVolume(options).name == "named")
        _ = try engine.createVolume(VolumeCreateOptions(name: "other"))
        #expect(try engine.volumes(filters: Filters(cli: ["label=keep"])).map(\.name) == ["named"])
        #expect(try engine.volumes(filters: Filters(cli: ["name=oth"])).map(\.name) == ["other"])
        #expect(try engine.volumes(filters: Filters(cli: ["dangling=true"])).map(\.name) == ["named", "other"])
        #expect(throws: EngineError.invalidParameter("invalid filter 'colour'")) { try engine.volumes(filters: Filters(cli: ["colour=red"])) }

        var remote = VolumeCreateOptions(name: "x")
        remote.driver = "nfs"
        #expect(throws: EngineError.notFound("create x: error looking up volume plugin nfs: plugin \"nfs\" not found")) {
            try engine.createVolume(remote)
        }
        var mounted = VolumeCreateOptions(name: "x")
        mounted.driverOptions = ["type": "tmpfs"]
        #expect(throws: EngineError.self) { try engine.createVolume(mounted) }

        #expect(throws: RuntimeError.noSuchVolume("missing")) { try engine.removeVolume("missing") }
        try engine.removeVolume("missing", force: true)
        try engine.removeVolume("other")
        #expect(try engine.volumes(filters: Filters()).map(\.name) == ["named"])

        let document = try engine.volume("named").document(usage: VolumeUsage(size: 3, referenceCount: 0))
        #expect(document.compact.hasPrefix(#"{"CreatedAt":"#))
        #expect(document.compact.hasSuffix(#""Scope":"local","UsageData":{"RefCount":0,"Size":3}}"#))

        let events = await scratch.events()
        #expect(events.map { "\($0.type.rawValue) \($0.action) \($0.actor.id)" } == [
            "volume create named", "volume create other", "volume destroy other",
        ])
    }

    @Test func pruneTakesAnonymousVolumesUnlessAllAreAsked() throws {
        let scratch = try Scratch()
        let engine = scratch.engine
        _ = try engine.createVolume(VolumeCreateOptions(name: "named"))
        let anonymous = try scratch.engine.runtime.volumes.create(nil, anonymous: true)
        #expect(try engine.pruneVolumes(filters: Filters()).deleted == [anonymous.name])
        #expect(try engine.pruneVolumes(filters: Filters(cli: ["all=true", "label=none"])).deleted == [])
        #expect(try engine.pruneVolumes(filters: Filters(cli: ["all=true"])).deleted == ["named"])
        #expect(throws: EngineError.invalidParameter("invalid filter 'until'")) { try engine.pruneVolumes(filters: Filters(cli: ["until=1h"])) }
    }

    @Test func networksAreCreatedFilteredRemovedAndRecorded() async throws {
        let scratch = try Scratch()
        let engine = scratch.engine
        var options = NetworkCreateOptions(name: "front")
        options.subnet = "10.201.0.0/24"
        options.labels = ["tier": "front"]
        options.attachable = true
        let front = try engine.createNetwork(options)
        #expect(front.bridge?.gateway == "10.201.0.1")
        #expect(try engine.network(String(front.id.prefix(10))).name == "front")
        #expect(try engine.networks(filters: Filters(cli: ["type=custom"])).map(\.name) == ["front"])
        #expect(try engine.networks(filters: Filters(cli: ["label=tier=front", "driver=bridge"])).map(\.name) == ["front"])
        #expect(try engine.networks(filters: Filters(cli: ["type=builtin"])).map(\.name) == ["bridge", "host", "none"])
        #expect(try engine.networks(filters: Filters(cli: ["dangling=true"])).map(\.name) == ["front"])
        #expect(throws: EngineError.invalidParameter("invalid filter: 'type'='other'")) {
            try engine.networks(filters: Filters(cli: ["type=other"]))
        }

        let document = try engine.networkDetails(front).document().compact
        #expect(document.contains(#""Attachable":true"#))
        // As dockerd lists a given subnet: without the gateway it chose.
        #expect(document.contains(#""Config":[{"Subnet":"10.201.0.0/24"}]"#))

        var refused = NetworkCreateOptions(name: "x")
        refused.options = ["com.docker.network.bridge.enable_icc": "false"]
        #expect(throws: EngineError.self) { try engine.createNetwork(refused) }
        refused.options = [:]
        refused.ipRange = "10.9.0.0/24"
        #expect(throws: NetworkError.invalidIPRange(range: "10.9.0.0/24", subnet: "")) { try engine.createNetwork(refused) }
        refused.subnet = "10.202.0.0/24"
        refused.ipRange = "10.9.0.0/24"
        #expect(throws: NetworkError.invalidIPRange(range: "10.9.0.0/24", subnet: "10.202.0.0/24")) { try engine.createNetwork(refused) }
        refused = NetworkCreateOptions(name: "bridge")
        #expect(throws: EngineError(.forbidden, "operation is not permitted on predefined bridge network ")) {
            try engine.createNetwork(refused)
        }
        refused = NetworkCreateOptions(name: "x")
        refused.driver = "overlay"
        #expect(throws: EngineError.notFound("plugin \"overlay\" not found")) { try engine.createNetwork(refused) }
        refused = NetworkCreateOptions(name: "x")
        refused.gateway = "10.9.0.1"
        #expect(throws: EngineError.invalidParameter("no matching subnet for gateway 10.9.0.1")) { try engine.createNetwork(refused) }
        #expect(throws: NetworkError.networkExists("front")) { try engine.createNetwork(options) }
        #expect(EngineError.kind(of: NetworkError.networkInUse(network: "front", containers: ["a"])) == .forbidden)

        try engine.removeNetwork("front")
        #expect(throws: NetworkError.unknownNetwork("front")) { try engine.network("front") }
        let events = await scratch.events()
        #expect(events.map { "\($0.action) \($0.actor.attributes["name"] ?? "")" } == ["create front", "destroy front"])
        #expect(events.allSatisfy { $0.type == .network && $0.actor.id == front.id })
    }

    @Test func endpointIDsAreStablePerContainerAndNetwork() {
        let one = Engine.endpointID(container: "c1", network: "n1")
        #expect(one.count == 64)
        #expect(one == Engine.endpointID(container: "c1", network: "n1"))
        #expect(one != Engine.endpointID(container: "c1", network: "n2"))
    }
}
