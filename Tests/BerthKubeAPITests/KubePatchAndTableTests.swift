import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeAPI

@Suite struct KubePatchAndTableTests {
    @Test func mergePatchFollowsRFC7386() throws {
        let target = try json(#"{"a":"b","c":{"d":"e","f":"g"},"list":[1,2]}"#)
        let patched = KubePatch.merge(target, try json(#"{"a":"z","c":{"f":null,"h":"i"},"list":[3],"new":{"x":null,"y":1}}"#))
        #expect(patched.compact == #"{"a":"z","c":{"d":"e","h":"i"},"list":[3],"new":{"y":1}}"#)
    }

    @Test func jsonPatchOperations() throws {
        let target = try json(#"{"metadata":{"labels":{"a/b":"1"}},"items":["x","y"]}"#)
        let patched = try KubePatch.apply(jsonPatch: try json(#"""
            [{"op":"add","path":"/items/1","value":"new"},{"op":"add","path":"/items/-","value":"end"},
             {"op":"remove","path":"/metadata/labels/a~1b"},{"op":"add","path":"/metadata/labels/c","value":"2"},
             {"op":"copy","from":"/metadata/labels/c","path":"/copied"},{"op":"move","from":"/copied","path":"/moved"},
             {"op":"test","path":"/moved","value":"2"},{"op":"replace","path":"/items/0","value":"first"}]
            """#), to: target)
        #expect(patched.compact == #"{"metadata":{"labels":{"c":"2"}},"items":["first","new","y","end"],"moved":"2"}"#)
        #expect(throws: KubeAPIError.self) { try KubePatch.apply(jsonPatch: try json(#"[{"op":"replace","path":"/nope","value":1}]"#), to: target) }
        #expect(throws: KubeAPIError.self) { try KubePatch.apply(jsonPatch: try json(#"[{"op":"test","path":"/items/0","value":"y"}]"#), to: target) }
    }

    @Test func humanDurationsAsKubernetesPrintsThem() {
        let cases: [(Int, String)] = [(-5, "<invalid>"), (0, "0s"), (119, "119s"), (120, "2m"), (125, "2m5s"), (600, "10m"), (179 * 60, "179m"),
                                      (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"), (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"),
                                      (50 * 3600, "2d2h"), (8 * 86400, "8d"), (800 * 86400, "2y70d"), (3000 * 86400, "8y")]
        for (seconds, text) in cases {
            #expect(KubeTable.humanDuration(seconds: seconds) == text, "\(seconds) s")
        }
    }

    @Test func tablesHaveTheClusterColumnsAndPartialMetadata() throws {
        let secret = try json(#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s","namespace":"default","labels":{"a":"b"},"creationTimestamp":"2026-01-01T00:00:00Z"},"type":"Opaque","data":{"x":"eA==","y":"eQ=="}}"#)
        let now = try Date("2026-01-01T00:05:30Z", strategy: .iso8601)
        let table = KubeTable.table(KubeResourceRegistry.secrets, objects: [secret], resourceVersion: "7", now: now)
        #expect(table.value(at: ["columnDefinitions"]).map { definitions in
            guard case .array(let items) = definitions else { return [] }
            return items.compactMap { $0.string("name") }
        } == ["Name", "Type", "Data", "Age"])
        guard case .array(let rows)? = table["rows"], let row = rows.first else { Issue.record("no rows"); return }
        #expect(row["cells"] == .array([.string("s"), .string("Opaque"), .int(2), .string("5m30s")]))
        #expect(row.string("object", "kind") == "PartialObjectMetadata")
        #expect(row.stringMap(at: ["object", "metadata", "labels"]) == ["a": "b"])
        #expect(table.string("metadata", "resourceVersion") == "7")
        let later = KubeTable.table(KubeResourceRegistry.configMaps, objects: [], resourceVersion: nil, includeHeaders: false)
        #expect(later["columnDefinitions"] == .array([]))
    }

    @Test func eventRowsAsTheApiserverPrintsThem() throws {
        let event = try json(#"""
            {"metadata":{"name":"web.1"},"involvedObject":{"kind":"Deployment","name":"web","fieldPath":"spec"},"reason":"ScalingReplicaSet",
             "message":"Scaled up\n","type":"Normal","source":{"component":"deployment-controller","host":"node1"},
             "firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":null,"count":0}
            """#)
        let now = try Date("2026-01-01T00:01:00Z", strategy: .iso8601)
        #expect(KubeTable.cells(KubeResourceRegistry.events, event, now: now) == [
            .string("60s"), .string("Normal"), .string("ScalingReplicaSet"), .string("deployment/web"), .string("spec"),
            .string("deployment-controller, node1"), .string("Scaled up"), .string("60s"), .int(1), .string("web.1"),
        ])
        let series = event.setting(["series"], to: try json(#"{"count":7,"lastObservedTime":"2026-01-01T00:00:30.123456Z"}"#))
        let cells = KubeTable.cells(KubeResourceRegistry.events, series, now: now)
        #expect(cells[0] == .string("29s") && cells[8] == .int(7))
    }

    @Test func aggregatedDiscoveryListsTheCoreGroup() {
        let core = KubeDiscovery.aggregated(.builtIn, core: true)
        guard case .array(let items)? = core["items"], let group = items.first else { Issue.record("no core group"); return }
        #expect(items.count == 1 && group.string("metadata", "name") == "")
        guard case .array(let versions)? = group["versions"], case .array(let resources)? = versions.first?["resources"] else {
            Issue.record("no resources"); return
        }
        #expect(resources.compactMap { $0.string("resource") } == ["configmaps", "endpoints", "events", "namespaces", "nodes", "persistentvolumeclaims",
                                                                   "persistentvolumes", "pods", "secrets", "serviceaccounts", "services"])
        #expect(resources[3].string("scope") == "Cluster" && resources[0].value(at: ["shortNames"]) == .array([.string("cm")]))
        guard case .array(let named)? = KubeDiscovery.aggregated(.builtIn, core: false)["items"] else { Issue.record("no named groups"); return }
        #expect(named.compactMap { $0.string("metadata", "name") } == ["apps", "batch", "discovery.k8s.io", "networking.k8s.io"])
        #expect(KubeDiscovery.apiResourceList(.builtIn, group: "policy", version: "v1") == nil)
    }

    @Test func protobufBodiesBecomeJSON() throws {
        func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { [UInt8(number << 3 | 2), UInt8(bytes.count)] + bytes }
        func text(_ number: Int, _ value: String) -> [UInt8] { field(number, Array(value.utf8)) }
        func entry(_ number: Int, _ key: String, _ value: String) -> [UInt8] { field(number, text(1, key) + text(2, value)) }
        // As Go writes ObjectMeta: every scalar, empty ones included.
        let metadata = text(1, "cm") + text(2, "") + text(3, "default") + [7 << 3, 0] + field(8, []) + entry(11, "app", "web")
        let configMap = field(1, metadata) + entry(2, "a", "1") + entry(3, "bin", "\u{1}\u{2}")
        let envelope = [0x6B, 0x38, 0x73, 0x00] + field(1, text(1, "v1") + text(2, "ConfigMap")) + field(2, configMap)
        let decoded = try KubeProtobuf.decode(envelope)
        #expect(decoded.compact == #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm","namespace":"default","labels":{"app":"web"}},"data":{"a":"1"},"binaryData":{"bin":"AQI="}}"#)
        #expect(throws: KubeAPIError.self) { try KubeProtobuf.decode([0x6B, 0x38, 0x73]) }
        let unknown = [0x6B, 0x38, 0x73, 0x00] + field(1, text(1, "v1") + text(2, "ReplicationController")) + field(2, [])
        #expect(throws: KubeAPIError.self) { try KubeProtobuf.decode(unknown) }
    }
}
