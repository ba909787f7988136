import BerthTemplate
import Testing

@testable import BerthKubeAPI

/// The schema table and what it drives: lookups, strict field validation, strategic merge patch,
/// server-side apply and the OpenAPI documents.
@Suite struct KubeSchemaTests {
    let deployments = KubeResourceRegistry.deployments
    let configMaps = KubeResourceRegistry.configMaps

    @Test func everyServedKindHasASchemaWithItsKind() throws {
        for resource in KubeResourceRegistry.builtIn.resources {
            let schema = try #require(KubeSchema.of(resource), "\(resource.kind)")
            #expect(schema.schema["x-kubernetes-group-version-kind"]?.items.first?.string("kind") == resource.kind)
            #expect(KubeSchema.definitionName(group: resource.group, version: resource.version, kind: resource.listKind) != nil)
        }
        #expect(KubeSchema.definitionName(group: "autoscaling", version: "v1", kind: "Scale") != nil)
    }

    @Test func lookupsFollowReferencesIntoThePodSpec() throws {
        let deployment = try #require(KubeSchema.of(deployments))
        let containers = try #require(deployment.descend(["spec", "template", "spec", "containers"]))
        #expect(containers.type == "array")
        #expect(containers.patchMergeKey == "name" && containers.listType == "map" && containers.listMapKeys == ["name"])
        #expect(containers.items?.definition == "io.k8s.api.core.v1.Container")
        #expect(containers.items?.required == ["name"])
        #expect(deployment.descend(["spec", "strategy"])?.patchStrategies == ["retainKeys"])
        #expect(deployment.descend(["spec", "strategy", "rollingUpdate", "maxSurge"])?.isIntOrString == true)
        #expect(deployment.descend(["spec", "replicas"])?.format == "int32")
        #expect(deployment.descend(["spec", "selector"])?.mapType == "atomic")
        #expect(deployment.descend(["spec", "template", "spec", "containers", "resources", "limits", "cpu"])?.isQuantity == true)
        #expect(deployment.descend(["metadata", "labels", "app"])?.type == "string")
        #expect(deployment.descend(["spec", "nope"]) == nil)
        #expect(deployment.schema["description"] != nil)
        #expect(KubeSchema.named("io.k8s.api.core.v1.Container")?.schema["description"] == nil)
    }

    @Test func listStrategiesComeFromThePatchMetadata() throws {
        let strategy = KubeSchema.listStrategies(deployments)
        let podSpec = ["spec", "template", "spec"]
        #expect(strategy(podSpec + ["containers"]) == .mergeByKey("name"))
        #expect(strategy(podSpec + ["initContainers"]) == .mergeByKey("name"))
        #expect(strategy(podSpec + ["containers", "env"]) == .mergeByKey("name"))
        #expect(strategy(podSpec + ["containers", "ports"]) == .mergeByKey("containerPort"))
        #expect(strategy(podSpec + ["containers", "volumeMounts"]) == .mergeByKey("mountPath"))
        #expect(strategy(podSpec + ["volumes"]) == .mergeByKey("name"))
        #expect(strategy(podSpec + ["imagePullSecrets"]) == .mergeByKey("name"))
        #expect(strategy(podSpec + ["containers", "args"]) == nil)
        #expect(strategy(podSpec + ["tolerations"]) == nil)
        #expect(strategy(["metadata", "finalizers"]) == .mergePrimitives)
        #expect(strategy(["metadata", "ownerReferences"]) == .mergeByKey("uid"))
        #expect(strategy(["status", "conditions"]) == .mergeByKey("type"))
    }

    /// The patch kubectl 1.32 sent for a Deployment whose env B, container `side` and volume
    /// mounts were dropped, whose volume switched from a ConfigMap to a Secret and whose
    /// strategy switched to Recreate (research note §3.3).
    @Test func kubectlsApplyPatchOnADeployment() throws {
        let live = try json(#"""
            {"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
             "template":{"spec":{"containers":[
               {"name":"web","image":"busybox:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"volumeMounts":[{"name":"cfg","mountPath":"/cfg"}]},
               {"name":"side","image":"busybox:1"}],
              "volumes":[{"name":"cfg","configMap":{"name":"c1"}}]}}}}
            """#)
        let patch = try json(#"""
            {"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"},
             "template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],"$setElementOrder/volumes":[{"name":"cfg"}],
              "containers":[{"$setElementOrder/env":[{"name":"A"}],"env":[{"$patch":"delete","name":"B"}],"name":"web","volumeMounts":null},
                            {"$patch":"delete","name":"side"}],
              "volumes":[{"$retainKeys":["name","secret"],"configMap":null,"name":"cfg","secret":{"secretName":"s1"}}]}}}}
            """#)
        let result = try KubeStrategicMerge.apply(patch, to: live, strategy: KubeSchema.listStrategies(deployments))
        #expect(result.compact == #"{"spec":{"strategy":{"type":"Recreate"},"template":{"spec":{"containers":[{"name":"web","image":"busybox:1","env":[{"name":"A","value":"1"}]}],"volumes":[{"name":"cfg","secret":{"secretName":"s1"}}]}}}}"#)
        // `kubectl set image`: the container is merged by name, the other one stays.
        let image = try KubeStrategicMerge.apply(try json(#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:2"}]}}}}"#),
                                                 to: live, strategy: KubeSchema.listStrategies(deployments))
        #expect(image.value(at: ["spec", "template", "spec", "containers"])?.items.compactMap { $0.string("image") } == ["busybox:1", "busybox:2"])
    }

    @Test func strictValidationNamesEveryUnknownAndRepeatedField() throws {
        let object = try json(#"""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
             "spec":{"replicas":1,"replicas":2,"foo":1,"selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"busybox","imagex":"x"}]}}}}
            """#)
        #expect(throws: KubeAPIError.badRequest(#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: duplicate field "spec.replicas", unknown field "spec.foo", unknown field "spec.template.spec.containers[0].imagex""#)) {
            try KubeFieldValidation.strict.check(object, deployments)
        }
        let (cleaned, warnings) = try KubeFieldValidation.warn.check(object, deployments)
        #expect(warnings.count == 3)
        #expect(cleaned.value(at: ["spec", "replicas"]) == .int(2))
        #expect(cleaned.compact.contains("imagex") == false && cleaned.compact.contains("foo") == false)
    }

    @Test func wrongTypesGetTheDecodersMessage() throws {
        func message(_ text: String) throws -> String? {
            let object = try json(text)
            do {
                _ = try KubeFieldValidation.ignore.check(object, deployments)
                return nil
            } catch {
                return error.message
            }
        }
        let prefix = #"Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal "#
        #expect(try message(#"{"spec":{"replicas":"3"}}"#) == prefix + "string into Go struct field DeploymentSpec.spec.replicas of type int32")
        #expect(try message(#"{"spec":{"replicas":1.5}}"#) == prefix + "number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32")
        #expect(try message(#"{"spec":"x"}"#) == prefix + "string into Go struct field Deployment.spec of type v1.DeploymentSpec")
        #expect(try message(#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":5}]}}}}"#)
                == prefix + "number into Go struct field Container.spec.template.spec.containers.image of type string")
        #expect(try message(#"{"spec":{"template":{"spec":{"containers":{}}}}}"#)
                == prefix + "object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container")
        #expect(try message(#"{"metadata":{"labels":{"a":1}}}"#) == prefix + "number into Go struct field ObjectMeta.metadata.labels of type string")
        // Ints and strings where either is allowed; quantities as numbers.
        #expect(try message(#"{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":"25%"}},"template":{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":0.5,"memory":"64Mi"}}}]}}}}"#) == nil)
    }

    @Test func serverSideApplyCreatesMergesAndRemovesWhatItStopsApplying() throws {
        let first = try KubeServerSideApply.apply(try json(#"{"metadata":{"name":"c","labels":{"a":"1","b":"2"}},"data":{"x":"1","y":"2"}}"#),
                                                  to: nil, manager: "me", force: false, resource: configMaps)
        let entries = KubeServerSideApply.entries(of: first)
        #expect(entries.map(\.manager) == ["me"] && entries.first?.operation == "Apply")
        #expect(entries.first?.fields.fieldsV1.compact
                == #"{"f:data":{".":{},"f:x":{},"f:y":{}},"f:metadata":{"f:labels":{".":{},"f:a":{},"f:b":{}}}}"#)
        // Another writer's label stays when the applier drops its own fields.
        let edited = KubeServerSideApply.recordUpdate(from: first, to: first.setting(["metadata", "labels", "c"], to: .string("3")),
                                                      manager: "kubectl-label", resource: configMaps)
        let second = try KubeServerSideApply.apply(try json(#"{"metadata":{"name":"c","labels":{"a":"1"}},"data":{"x":"2"}}"#),
                                                   to: edited, manager: "me", force: false, resource: configMaps)
        #expect(second.value(at: ["metadata", "labels"]) == .stringMap(["a": "1", "c": "3"]))
        #expect(second["data"] == .stringMap(["x": "2"]))
        #expect(Set(KubeServerSideApply.entries(of: second).map(\.manager)) == ["me", "kubectl-label"])
    }

    @Test func serverSideApplyRefusesAnotherManagersFieldUnlessForced() throws {
        let owned = try KubeServerSideApply.apply(try json(#"{"metadata":{"name":"c"},"data":{"x":"1","y":"1"}}"#),
                                                  to: nil, manager: "first", force: false, resource: configMaps)
        let change = try json(#"{"metadata":{"name":"c"},"data":{"x":"2","y":"2"}}"#)
        do {
            _ = try KubeServerSideApply.apply(change, to: owned, manager: "second", force: false, resource: configMaps)
            Issue.record("no conflict")
        } catch {
            #expect(error.code == 409 && error.reason == "Conflict")
            #expect(error.message == "Apply failed with 2 conflicts: conflicts with \"first\":\n- .data.x\n- .data.y")
            #expect(error.causes.map(\.field) == [".data.x", ".data.y"] && error.causes.first?.reason == "FieldManagerConflict")
        }
        // The same value is shared ownership, not a conflict.
        _ = try KubeServerSideApply.apply(try json(#"{"metadata":{"name":"c"},"data":{"x":"1"}}"#), to: owned, manager: "second",
                                          force: false, resource: configMaps)
        let forced = try KubeServerSideApply.apply(change, to: owned, manager: "second", force: true, resource: configMaps)
        #expect(forced["data"] == .stringMap(["x": "2", "y": "2"]))
        let first = KubeServerSideApply.entries(of: forced).first { $0.manager == "first" }
        #expect(first?.fields.contains(["f:data", "f:x"]) == false)
    }

    @Test func serverSideApplyMergesKeyedListsByTheirKeys() throws {
        let base = try json(#"""
            {"metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"a","ports":[{"containerPort":80}]},{"name":"side","image":"s"}]}}}}
            """#)
        let live = try KubeServerSideApply.apply(base, to: nil, manager: "me", force: false, resource: deployments)
        let fields = try #require(KubeServerSideApply.entries(of: live).first?.fields)
        #expect(fields.contains(["f:spec", "f:template", "f:spec", "f:containers", #"k:{"name":"web"}"#,
                                 "f:ports", #"k:{"containerPort":80,"protocol":"TCP"}"#, "f:containerPort"]))
        let next = try KubeServerSideApply.apply(try json(#"{"metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"b"}]}}}}"#),
                                                 to: live, manager: "me", force: false, resource: deployments)
        #expect(next.value(at: ["spec", "template", "spec", "containers"])?.compact == #"[{"name":"web","image":"b"}]"#)
        #expect(KubeFieldSet.describe(["f:spec", "f:containers", #"k:{"name":"web"}"#, "f:image"]) == #".spec.containers[name="web"].image"#)
    }

    @Test func fieldSetsRoundTripThroughFieldsV1() throws {
        let set = KubeFieldSet([["f:metadata", "f:labels"], ["f:metadata", "f:labels", "f:a"], ["f:spec", "f:replicas"]])
        #expect(set.fieldsV1.compact == #"{"f:metadata":{"f:labels":{".":{},"f:a":{}}},"f:spec":{"f:replicas":{}}}"#)
        #expect(KubeFieldSet(fieldsV1: set.fieldsV1) == set)
    }

    @Test func openAPIDocumentsCarryTheSchemas() throws {
        let document = try #require(KubeOpenAPI.document(.builtIn, path: "apis/apps/v1"))
        let schemas = try #require(document.value(at: ["components", "schemas"]))
        let deployment = try #require(schemas["io.k8s.api.apps.v1.Deployment"])
        #expect(deployment["x-kubernetes-group-version-kind"]?.items.first?.string("kind") == "Deployment")
        #expect(schemas["io.k8s.api.core.v1.Container"] != nil && schemas["io.k8s.api.autoscaling.v1.Scale"] != nil)
        // Every reference resolves inside the document.
        for reference in references(document) {
            #expect(schemas[String(reference.dropFirst("#/components/schemas/".count))] != nil, "\(reference)")
        }
        let patch = try #require(document.value(at: ["paths", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch"]))
        #expect(patch.value(at: ["parameters"])?.items.contains { $0.string("name") == "fieldValidation" } == true)
        #expect(patch.value(at: ["requestBody", "content"])?.members.map(\.0) == KubeOpenAPI.patchTypes)
        let scale = try #require(document.value(at: ["paths", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "patch"]))
        #expect(scale.string("x-kubernetes-group-version-kind", "kind") == "Scale")
        let swagger = KubeOpenAPI.swagger(.builtIn)
        #expect(swagger.value(at: ["definitions", "io.k8s.api.apps.v1.DeploymentSpec", "properties", "template", "$ref"])
                == .string("#/definitions/io.k8s.api.core.v1.PodTemplateSpec"))
    }

    private func references(_ node: OrderedJSON) -> [String] {
        switch node {
        case .object(let members): return members.flatMap { $0.0 == "$ref" ? [$0.1.stringValue ?? ""] : references($0.1) }
        case .array(let items): return items.flatMap(references)
        default: return []
        }
    }
}
