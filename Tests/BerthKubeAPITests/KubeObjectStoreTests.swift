import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeAPI

@Suite struct KubeObjectStoreTests {
    let cm = KubeResourceRegistry.configMaps
    let secrets = KubeResourceRegistry.secrets
    let namespaces = KubeResourceRegistry.namespaces

    @Test func systemNamespacesExistWithTheirLabel() throws {
        let scratch = try ScratchStore()
        let page = try scratch.store.list(namespaces, namespace: nil)
        #expect(page.items.compactMap { $0.string("metadata", "name") } == ["default", "kube-node-lease", "kube-public", "kube-system"])
        let system = try scratch.store.get(namespaces, namespace: nil, name: "kube-system")
        #expect(system.stringMap(at: ["metadata", "labels"]) == ["kubernetes.io/metadata.name": "kube-system"])
        #expect(system.string("status", "phase") == "Active")
        #expect(system.value(at: ["spec", "finalizers"]) == .array([.string("kubernetes")]))
    }

    @Test func createFillsServerMetadataAndRefusesDuplicates() throws {
        let scratch = try ScratchStore()
        let before = try scratch.store.currentResourceVersion()
        let created = try scratch.store.create(cm, namespace: "default", object: configMap("a", data: ["k": "v"]))
        #expect(created.string("metadata", "namespace") == "default")
        #expect(created.string("metadata", "resourceVersion") == String(before + 1))
        let uid = try #require(created.string("metadata", "uid"))
        #expect(UUID(uuidString: uid) != nil && uid == uid.lowercased())
        let timestamp = try #require(created.string("metadata", "creationTimestamp"))
        #expect(timestamp.hasSuffix("Z") && timestamp.count == 20)
        #expect(created.value(at: ["metadata", "generation"]) == nil)
        #expect(try scratch.store.get(cm, namespace: "default", name: "a") == created)

        #expect(throws: KubeAPIError.alreadyExists(cm, "a")) {
            try scratch.store.create(cm, namespace: "default", object: configMap("a"))
        }
        #expect(throws: KubeAPIError.notFound(namespaces, "nope")) {
            try scratch.store.create(cm, namespace: "nope", object: configMap("b"))
        }
        #expect(throws: KubeAPIError.notFound(cm, "zzz")) {
            try scratch.store.get(cm, namespace: "default", name: "zzz")
        }
    }

    @Test func invalidNamesAreRefusedWithCauses() throws {
        let scratch = try ScratchStore()
        do {
            _ = try scratch.store.create(cm, namespace: "default", object: configMap("Bad_Name"))
            Issue.record("created an invalid name")
        } catch let error as KubeAPIError {
            #expect(error.code == 422 && error.reason == "Invalid" && error.kind == "ConfigMap")
            #expect(error.causes.map(\.field) == ["metadata.name"])
            #expect(error.message.hasPrefix("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"))
        }
        do {
            _ = try scratch.store.create(cm, namespace: "default", object: .object([("metadata", .object([]))]))
            Issue.record("created an object without a name")
        } catch let error as KubeAPIError {
            #expect(error.message == "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required")
        }
    }

    @Test func generateNameAddsFiveCharacters() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(cm, namespace: "default", object: json(#"{"metadata":{"generateName":"gen-"}}"#))
        let name = try #require(created.string("metadata", "name"))
        #expect(name.hasPrefix("gen-") && name.count == 9)
    }

    @Test func secretsFoldStringDataIntoBase64Data() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(secrets, namespace: "default", object: json(#"""
            {"metadata":{"name":"s"},"data":{"a":"eA==","b":"eQ=="},"stringData":{"b":"hello","c":"wörld"}}
            """#))
        #expect(created.stringMap(at: ["data"]) == ["a": "eA==", "b": "aGVsbG8=", "c": "d8O2cmxk"])
        #expect(created["stringData"] == nil)
        #expect(created.string("type") == "Opaque")
        #expect(throws: KubeAPIError.badRequest("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 2")) {
            try scratch.store.create(secrets, namespace: "default", object: json(#"{"metadata":{"name":"t"},"data":{"a":"ab!c"}}"#))
        }
    }

    @Test func replaceChecksResourceVersionAndSkipsNoOps() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(cm, namespace: "default", object: configMap("a", data: ["k": "1"]))
        let rv = try #require(created.string("metadata", "resourceVersion"))
        let same = try scratch.store.replace(cm, namespace: "default", name: "a", object: created)
        #expect(same == created)
        #expect(try scratch.store.currentResourceVersion() == Int64(rv))

        let changed = try scratch.store.replace(cm, namespace: "default", name: "a", object: created.setting(["data", "k"], to: .string("2")))
        #expect(changed.string("metadata", "resourceVersion") == String(Int64(rv)! + 1))
        #expect(changed.string("metadata", "uid") == created.string("metadata", "uid"))
        #expect(throws: KubeAPIError.conflict(cm, "a")) {
            try scratch.store.replace(cm, namespace: "default", name: "a", object: created.setting(["data", "k"], to: .string("3")))
        }
        // Without a resourceVersion the write is unconditional.
        let unconditional = try scratch.store.replace(cm, namespace: "default", name: "a",
                                                      object: configMap("a", data: ["k": "4"]))
        #expect(unconditional.string("data", "k") == "4")
        #expect(throws: KubeAPIError.badRequest("the name of the object (b) does not match the name on the URL (a)")) {
            try scratch.store.replace(cm, namespace: "default", name: "a", object: configMap("b"))
        }
        #expect(throws: KubeAPIError.notFound(cm, "b")) {
            try scratch.store.replace(cm, namespace: "default", name: "b", object: configMap("b"))
        }
    }

    @Test func generationCountsSpecChangesOnly() throws {
        let widgets = KubeResource(group: "example.berth.dev", version: "v1", kind: "Widget", plural: "widgets", singular: "widget",
                                   namespaced: true, shortNames: [], categories: [], verbs: KubeResource.allVerbs, hasGeneration: true)
        let scratch = try ScratchStore(registry: KubeResourceRegistry(resources: KubeResourceRegistry.builtIn.resources + [widgets]))
        let created = try scratch.store.create(widgets, namespace: "default", object: json(#"{"metadata":{"name":"w"},"spec":{"size":1}}"#))
        #expect(created.value(at: ["metadata", "generation"]) == .int(1))
        let labelled = try scratch.store.replace(widgets, namespace: "default", name: "w",
                                                 object: created.setting(["metadata", "labels"], to: .stringMap(["a": "b"])))
        #expect(labelled.value(at: ["metadata", "generation"]) == .int(1))
        let resized = try scratch.store.replace(widgets, namespace: "default", name: "w", object: labelled.setting(["spec", "size"], to: .int(2)))
        #expect(resized.value(at: ["metadata", "generation"]) == .int(2))
        #expect(throws: KubeAPIError.notFound(widgets, "x")) {
            try scratch.store.get(widgets, namespace: "default", name: "x")
        }
        #expect(KubeAPIError.notFound(widgets, "x").message == #"widgets.example.berth.dev "x" not found"#)
    }

    @Test func listPagesFromOneSnapshot() throws {
        let scratch = try ScratchStore()
        for name in ["a", "b", "c", "d", "e"] {
            _ = try scratch.store.create(cm, namespace: "default", object: configMap(name))
        }
        let first = try scratch.store.list(cm, namespace: "default", options: KubeListOptions(limit: 2))
        #expect(first.items.compactMap { $0.string("metadata", "name") } == ["a", "b"])
        let token = try #require(first.continueToken)

        // Changes after the first page do not show in the later pages.
        _ = try scratch.store.delete(cm, namespace: "default", name: "c")
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("bb"))
        let second = try scratch.store.list(cm, namespace: "default", options: KubeListOptions(limit: 2, continueToken: token))
        #expect(second.items.compactMap { $0.string("metadata", "name") } == ["c", "d"])
        #expect(second.resourceVersion == first.resourceVersion)
        let third = try scratch.store.list(cm, namespace: "default", options: KubeListOptions(limit: 2, continueToken: second.continueToken))
        #expect(third.items.compactMap { $0.string("metadata", "name") } == ["e"])
        #expect(third.continueToken == nil)

        let now = try scratch.store.list(cm, namespace: "default")
        #expect(now.items.compactMap { $0.string("metadata", "name") } == ["a", "b", "bb", "d", "e"])
        #expect(throws: KubeAPIError.badRequest("specifying resource version is not allowed when using continue")) {
            try scratch.store.list(cm, namespace: "default", options: KubeListOptions(continueToken: token, resourceVersion: "5"))
        }
    }

    @Test func listsAtAnExactRevision() throws {
        let scratch = try ScratchStore()
        let a = try scratch.store.create(cm, namespace: "default", object: configMap("a", data: ["k": "1"]))
        let at = try #require(a.string("metadata", "resourceVersion"))
        _ = try scratch.store.replace(cm, namespace: "default", name: "a", object: a.setting(["data", "k"], to: .string("2")))
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("b"))
        let exact = try scratch.store.list(cm, namespace: "default", options: KubeListOptions(resourceVersion: at, resourceVersionMatch: "Exact"))
        #expect(exact.items.map { $0.string("data", "k") ?? "" } == ["1"])
        #expect(exact.resourceVersion == Int64(at))
        let newer = try scratch.store.list(cm, namespace: "default", options: KubeListOptions(resourceVersion: at, resourceVersionMatch: "NotOlderThan"))
        #expect(newer.items.count == 2)
        let current = try scratch.store.currentResourceVersion()
        #expect(throws: KubeAPIError(code: 504, reason: "Timeout", message: "Too large resource version: \(current + 1), current: \(current)")) {
            try scratch.store.list(cm, namespace: nil, options: KubeListOptions(resourceVersion: String(current + 1)))
        }
        do {
            _ = try scratch.store.list(cm, namespace: nil, options: KubeListOptions(resourceVersionMatch: "Exact"))
            Issue.record("resourceVersionMatch without resourceVersion was accepted")
        } catch let error as KubeAPIError {
            #expect(error.code == 422 && error.message.hasSuffix("resourceVersionMatch is forbidden unless resourceVersion is provided"))
        }
    }

    @Test func listsFilterBySelectorsAndNamespace() throws {
        let scratch = try ScratchStore()
        _ = try scratch.store.create(namespaces, namespace: nil, object: json(#"{"metadata":{"name":"other"}}"#))
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("web", labels: ["app": "web", "tier": "fe"]))
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("db", labels: ["app": "db"]))
        _ = try scratch.store.create(cm, namespace: "other", object: configMap("web", labels: ["app": "web"]))
        func names(_ namespace: String?, labels: String = "", fields: String = "") throws -> [String] {
            let options = KubeListOptions(labelSelector: try LabelSelector(parsing: labels),
                                          fieldSelector: try FieldSelector(parsing: fields, supported: KubeKinds.selectableFields(cm)))
            return try scratch.store.list(cm, namespace: namespace, options: options).items.map {
                "\($0.string("metadata", "namespace") ?? "")/\($0.string("metadata", "name") ?? "")"
            }
        }
        #expect(try names(nil) == ["default/db", "default/web", "other/web"])
        #expect(try names("default", labels: "app=web") == ["default/web"])
        #expect(try names(nil, labels: "app in (web, db),!tier") == ["default/db", "other/web"])
        #expect(try names(nil, fields: "metadata.namespace!=default") == ["other/web"])
        #expect(try names(nil, fields: "metadata.name=web,metadata.namespace=default") == ["default/web"])
        #expect(throws: KubeAPIError.badRequest("field label not supported: spec.x")) { try names(nil, fields: "spec.x=1") }
    }

    @Test func systemNamespacesMayNotBeDeleted() throws {
        let scratch = try ScratchStore()
        #expect(throws: KubeAPIError.forbidden(namespaces, "default", "this namespace may not be deleted")) {
            try scratch.store.delete(namespaces, namespace: nil, name: "default")
        }
    }

    @Test func deleteHonoursPreconditionsAndDeleteCollectionSelects() throws {
        let scratch = try ScratchStore()
        let a = try scratch.store.create(cm, namespace: "default", object: configMap("a", labels: ["x": "1"]))
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("b", labels: ["x": "1"]))
        _ = try scratch.store.create(cm, namespace: "default", object: configMap("c"))
        do {
            _ = try scratch.store.delete(cm, namespace: "default", name: "a", preconditionResourceVersion: "1")
            Issue.record("deleted despite a stale precondition")
        } catch let error as KubeAPIError {
            #expect(error.code == 409)
            #expect(error.message.contains("the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (\(a.string("metadata", "resourceVersion") ?? ""))"))
        }
        let deleted = try scratch.store.deleteCollection(cm, namespace: "default", options: KubeListOptions(labelSelector: try LabelSelector(parsing: "x=1")))
        #expect(deleted.compactMap { $0.string("metadata", "name") } == ["a", "b"])
        #expect(try scratch.store.list(cm, namespace: "default").items.compactMap { $0.string("metadata", "name") } == ["c"])
    }

    @Test func dryRunsCheckEverythingAndStoreNothing() async throws {
        let scratch = try ScratchStore()
        let before = try scratch.store.currentResourceVersion()
        let stream = try scratch.store.watch(cm, namespace: "default", options: KubeListOptions(resourceVersion: String(before)))
        let would = try scratch.store.create(cm, namespace: "default", object: configMap("dry"), dryRun: true)
        #expect(would.string("metadata", "uid") != nil && would.string("metadata", "resourceVersion") == nil)
        #expect(throws: KubeAPIError.notFound(cm, "dry")) { try scratch.store.get(cm, namespace: "default", name: "dry") }
        let real = try scratch.store.create(cm, namespace: "default", object: configMap("real"))
        let replaced = try scratch.store.replace(cm, namespace: "default", name: "real", object: real.setting(["data", "k"], to: .string("v")), dryRun: true)
        #expect(replaced.string("data", "k") == "v" && replaced.string("metadata", "resourceVersion") == real.string("metadata", "resourceVersion"))
        #expect(throws: KubeAPIError.conflict(cm, "real")) {
            try scratch.store.replace(cm, namespace: "default", name: "real",
                                      object: real.setting(["metadata", "resourceVersion"], to: .string("1")), dryRun: true)
        }
        _ = try scratch.store.delete(cm, namespace: "default", name: "real", dryRun: true)
        _ = try scratch.store.delete(namespaces, namespace: nil, name: "kube-node-lease", dryRun: true)
        #expect(try scratch.store.get(cm, namespace: "default", name: "real") == real)
        #expect(try scratch.store.get(namespaces, namespace: nil, name: "kube-node-lease").string("metadata", "name") == "kube-node-lease")
        #expect(try scratch.store.currentResourceVersion() == before + 1)
        // Watchers saw only the real creation.
        #expect(await stream.first(1) == ["ADDED real \(real.string("metadata", "resourceVersion") ?? "")"])
    }

    @Test func objectsAndRevisionsSurviveReopening() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(cm, namespace: "default", object: configMap("kept", data: ["k": "v"]))
        let reopened = try scratch.reopen()
        #expect(try reopened.get(cm, namespace: "default", name: "kept") == created)
        let next = try reopened.create(cm, namespace: "default", object: configMap("next"))
        #expect(Int64(next.string("metadata", "resourceVersion") ?? "") == Int64(created.string("metadata", "resourceVersion") ?? "")! + 1)
    }
}
