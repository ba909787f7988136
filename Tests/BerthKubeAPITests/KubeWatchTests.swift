import BerthTemplate
import Testing

@testable import BerthKubeAPI

@Suite struct KubeWatchTests {
    let cm = KubeResourceRegistry.configMaps

    @Test func watchWithoutVersionStartsWithTheCurrentObjects() async throws {
        let scratch = try ScratchStore()
        let a = try scratch.store.create(cm, namespace: "default", object: configMap("a"))
        let stream = try scratch.store.watch(cm, namespace: "default")
        let b = try scratch.store.create(cm, namespace: "default", object: configMap("b"))
        let changed = try scratch.store.replace(cm, namespace: "default", name: "a", object: a.setting(["data", "k"], to: .string("v")))
        let gone = try scratch.store.delete(cm, namespace: "default", name: "b")
        let rv = { (object: OrderedJSON) in object.string("metadata", "resourceVersion") ?? "" }
        #expect(await stream.first(4) == ["ADDED a \(rv(a))", "ADDED b \(rv(b))", "MODIFIED a \(rv(changed))", "DELETED b \(rv(gone))"])
        #expect(Int(rv(gone))! == Int(rv(b))! + 2)
    }

    @Test func watchFromARevisionReplaysLaterChangesInOrder() async throws {
        let scratch = try ScratchStore()
        let a = try scratch.store.create(cm, namespace: "default", object: configMap("a"))
        let start = try #require(a.string("metadata", "resourceVersion"))
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("b"))
        _ = try scratch.store.delete(cm, namespace: "default", name: "a")
        // The log outlives the process: a reopened store replays the same changes.
        let stream = try scratch.reopen().watch(cm, namespace: nil, options: KubeListOptions(resourceVersion: start))
        let events = await stream.first(2)
        #expect(events.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == ["ADDED b", "DELETED a"])
        let versions = events.compactMap { Int($0.split(separator: " ")[2]) }
        #expect(versions == versions.sorted() && versions.first! > Int(start)!)
    }

    @Test func selectorsTurnLabelChangesIntoAddedAndDeleted() async throws {
        let scratch = try ScratchStore()
        let a = try scratch.store.create(cm, namespace: "default", object: configMap("a"))
        let stream = try scratch.store.watch(cm, namespace: "default", options: KubeListOptions(labelSelector: try LabelSelector(parsing: "app=web"),
                                                                                            resourceVersion: a.string("metadata", "resourceVersion")))
        let labelled = try scratch.store.replace(cm, namespace: "default", name: "a", object: a.setting(["metadata", "labels"], to: .stringMap(["app": "web"])))
        let relabelled = try scratch.store.replace(cm, namespace: "default", name: "a",
                                                   object: labelled.setting(["metadata", "labels"], to: .stringMap(["app": "db"])))
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("other"))
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("web", labels: ["app": "web"]))
        let events = await stream.first(3)
        #expect(events.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == ["ADDED a", "DELETED a", "ADDED web"])
        #expect(events[1].hasSuffix(relabelled.string("metadata", "resourceVersion") ?? "-"))
    }

    @Test func compactionExpiresOldRevisionsAndKeepsLiveObjects() async throws {
        let scratch = try ScratchStore(retainedRevisions: 3)
        let first = try scratch.store.create(cm, namespace: "default", object: configMap("a"))
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("b"))
        let page = try scratch.store.list(cm, namespace: "default", options: KubeListOptions(limit: 1))
        for round in 0..<4 {
            _ = try scratch.store.create(cm, namespace: "default", object: configMap("c\(round)"))
            _ = try scratch.store.delete(cm, namespace: "default", name: "c\(round)")
        }
        // A watch from before the compaction point gets one ERROR event, 410 Expired.
        let stream = try scratch.store.watch(cm, namespace: nil, options: KubeListOptions(resourceVersion: first.string("metadata", "resourceVersion")))
        var events: [KubeWatchEvent] = []
        for await event in stream { events.append(event) }
        #expect(events.count == 1 && events[0].type == .error)
        #expect(events[0].object.value(at: ["code"]) == .int(410))
        #expect(events[0].object.string("message")?.hasPrefix("too old resource version: \(first.string("metadata", "resourceVersion") ?? "")") == true)
        do {
            _ = try scratch.store.list(cm, namespace: "default", options: KubeListOptions(limit: 1, continueToken: page.continueToken))
            Issue.record("a continue token from before the compaction point was honoured")
        } catch let error as KubeAPIError {
            #expect(error.code == 410 && error.reason == "Expired")
        }
        // Objects whose only versions were compacted still show in paged lists from later snapshots.
        let later = try scratch.store.list(cm, namespace: "default", options: KubeListOptions(limit: 1))
        let rest = try scratch.store.list(cm, namespace: "default", options: KubeListOptions(limit: 5, continueToken: later.continueToken))
        #expect((later.items + rest.items).compactMap { $0.string("metadata", "name") } == ["a", "b"])
    }

    @Test func aFutureRevisionIsRefused() throws {
        let scratch = try ScratchStore()
        let current = try scratch.store.currentResourceVersion()
        #expect(throws: KubeAPIError(code: 504, reason: "Timeout", message: "Too large resource version: \(current + 10), current: \(current)")) {
            try scratch.store.watch(cm, namespace: nil, options: KubeListOptions(resourceVersion: String(current + 10)))
        }
    }
}
