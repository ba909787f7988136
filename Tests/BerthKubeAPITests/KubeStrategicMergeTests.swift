import BerthTemplate
import Testing

@testable import BerthKubeAPI

@Suite struct KubeStrategicMergeTests {
    private func apply(_ patch: String, to target: String) throws -> String {
        try KubeStrategicMerge.apply(try json(patch), to: try json(target), strategy: KubeSchema.listStrategies(KubeResourceRegistry.namespaces)).compact
    }

    @Test func mapsMergeAndNullDeletes() throws {
        // What `kubectl apply` sends for a ConfigMap whose key b was dropped and c added.
        #expect(try apply(#"{"data":{"b":null,"c":"3"},"metadata":{"annotations":{"last":"x"}}}"#,
                          to: #"{"metadata":{"name":"m","annotations":{"keep":"1"}},"data":{"a":"1","b":"2"}}"#)
                == #"{"metadata":{"name":"m","annotations":{"keep":"1","last":"x"}},"data":{"a":"1","c":"3"}}"#)
    }

    @Test func patchDirectivesOnMaps() throws {
        #expect(try apply(#"{"data":{"$patch":"replace","z":"9"}}"#, to: #"{"data":{"a":"1"}}"#) == #"{"data":{"z":"9"}}"#)
        #expect(try apply(#"{"data":{"$patch":"delete"}}"#, to: #"{"data":{"a":"1"}}"#) == #"{"data":{}}"#)
        #expect(try apply(#"{"spec":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":null}}"#,
                          to: #"{"spec":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1},"other":1}}"#) == #"{"spec":{"type":"Recreate"}}"#)
        #expect(throws: KubeAPIError.self) { try apply(#"{"data":{"$patch":"bogus"}}"#, to: "{}") }
    }

    @Test func listsWithAndWithoutStrategies() throws {
        // finalizers merge as a set of values; a list without a strategy is replaced.
        #expect(try apply(#"{"metadata":{"finalizers":["b","a"]},"spec":{"finalizers":["x"]}}"#,
                          to: #"{"metadata":{"finalizers":["a"]},"spec":{"finalizers":["kubernetes","y"]}}"#)
                == #"{"metadata":{"finalizers":["a","b"]},"spec":{"finalizers":["x"]}}"#)
        #expect(try apply(#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}"#, to: #"{"metadata":{"finalizers":["a","b"]}}"#)
                == #"{"metadata":{"finalizers":["b"]}}"#)
        // ownerReferences merge by uid: update one, delete one, add one, then order as asked.
        let owners = #"{"metadata":{"ownerReferences":[{"uid":"1","name":"a"},{"uid":"2","name":"b"},{"uid":"3","name":"c"}]}}"#
        let patched = try apply(#"""
            {"metadata":{"$setElementOrder/ownerReferences":[{"uid":"4"},{"uid":"1"}],
             "ownerReferences":[{"uid":"1","name":"a2"},{"uid":"2","$patch":"delete"},{"uid":"4","name":"d"}]}}
            """#, to: owners)
        #expect(patched == #"{"metadata":{"ownerReferences":[{"uid":"4","name":"d"},{"uid":"1","name":"a2"},{"uid":"3","name":"c"}]}}"#)
        #expect(throws: KubeAPIError.self) { try apply(#"{"metadata":{"ownerReferences":[{"name":"no-uid"}]}}"#, to: owners) }
    }

    @Test func fieldValidationModes() throws {
        let object = try json(#"{"kind":"ConfigMap","metadata":{"name":"m","nmae":"x","ownerReferences":[{"uid":"1","bad":1}]},"datta":{"a":"1"},"data":{}}"#)
        let cm = KubeResourceRegistry.configMaps
        #expect(throws: KubeAPIError.badRequest(#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "metadata.nmae", unknown field "metadata.ownerReferences[0].bad", unknown field "datta""#)) {
            try KubeFieldValidation.strict.check(object, cm)
        }
        let (cleaned, warnings) = try KubeFieldValidation.warn.check(object, cm)
        #expect(warnings == [#"unknown field "metadata.nmae""#, #"unknown field "metadata.ownerReferences[0].bad""#, #"unknown field "datta""#])
        #expect(cleaned.compact == #"{"kind":"ConfigMap","metadata":{"name":"m","ownerReferences":[{"uid":"1"}]},"data":{}}"#)
        let (ignored, none) = try KubeFieldValidation.ignore.check(object, cm)
        #expect(ignored == cleaned && none.isEmpty)
    }

    @Test func openAPIDocumentsTagPatchOperations() throws {
        #expect(KubeOpenAPI.groupVersionPaths(.builtIn) == ["api/v1", "apis/apps/v1", "apis/batch/v1", "apis/discovery.k8s.io/v1", "apis/networking.k8s.io/v1"])
        let document = try #require(KubeOpenAPI.document(.builtIn, path: "api/v1"))
        let patch = try #require(document.value(at: ["paths", "/api/v1/namespaces/{namespace}/configmaps/{name}", "patch"]))
        #expect(patch.string("x-kubernetes-group-version-kind", "kind") == "ConfigMap")
        guard case .array(let parameters)? = patch["parameters"] else { Issue.record("no parameters"); return }
        #expect(parameters.contains { $0.string("name") == "fieldValidation" && $0.string("in") == "query" })
        #expect(patch.value(at: ["requestBody", "content", "application/strategic-merge-patch+json"]) != nil)
        #expect(document.value(at: ["paths", "/api/v1/namespaces/{name}", "patch"]) != nil)
        #expect(KubeOpenAPI.document(.builtIn, path: "apis/apps/v1") != nil)
    }
}
