import BerthTemplate
import Testing

@testable import BerthKubeAPI

@Suite struct KubeSelectorAndStatusTests {
    @Test func labelSelectorForms() throws {
        let selector = try LabelSelector(parsing: "app=web, tier!=db,env in (a, b),zone notin (x),present,!absent,k==v")
        #expect(selector.requirements == [.equals("app", "web"), .notEquals("tier", "db"), .in("env", ["a", "b"]), .notIn("zone", ["x"]),
                                          .exists("present"), .doesNotExist("absent"), .equals("k", "v")])
        #expect(selector.matches(["app": "web", "env": "a", "present": "", "k": "v"]))
        #expect(!selector.matches(["app": "web", "env": "c", "present": "", "k": "v"]))
        #expect(!selector.matches(["app": "web", "env": "a", "present": "", "k": "v", "absent": "1"]))
        #expect(try LabelSelector(parsing: "").matches([:]))
        #expect(try LabelSelector(parsing: "example.com/app=x").matches(["example.com/app": "x"]))
        #expect(throws: KubeAPIError.self) { try LabelSelector(parsing: "a b c") }
        #expect(throws: KubeAPIError.self) { try LabelSelector(parsing: "a=b c") }
    }

    @Test func fieldSelectorForms() throws {
        let selector = try FieldSelector(parsing: "metadata.name=a,metadata.namespace!=kube-system,type==Opaque",
                                         supported: KubeKinds.selectableFields(KubeResourceRegistry.secrets))
        #expect(selector.matches(["metadata.name": "a", "metadata.namespace": "default", "type": "Opaque"]))
        #expect(!selector.matches(["metadata.name": "a", "metadata.namespace": "kube-system", "type": "Opaque"]))
        #expect(throws: KubeAPIError.badRequest("field label not supported: type")) {
            try FieldSelector(parsing: "type=Opaque", supported: KubeKinds.selectableFields(KubeResourceRegistry.configMaps))
        }
    }

    @Test func statusBodiesCarryReasonCodeAndDetails() throws {
        let notFound = KubeAPIError.notFound(KubeResourceRegistry.configMaps, "a").status
        #expect(notFound.compact == #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"a\" not found","reason":"NotFound","details":{"name":"a","kind":"configmaps"},"code":404}"#)
        let deployments = KubeResource(group: "apps", version: "v1", kind: "Deployment", plural: "deployments", singular: "deployment",
                                       namespaced: true, shortNames: ["deploy"], categories: ["all"], verbs: KubeResource.allVerbs)
        #expect(KubeAPIError.conflict(deployments, "web").status.compact == #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"web","group":"apps","kind":"deployments"},"code":409}"#)
        let invalid = KubeAPIError.invalid(deployments, "web", [
            .init(reason: "FieldValueInvalid", message: "Invalid value: -1: must be greater than or equal to 0", field: "spec.replicas"),
            .init(reason: "FieldValueRequired", message: "Required value", field: "spec.template.spec.containers[0].image"),
        ])
        #expect(invalid.message == "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.template.spec.containers[0].image: Required value]")
        #expect(invalid.status["details"]?.string("kind") == "Deployment")
        #expect(invalid.status.value(at: ["details", "causes"]) == .array([
            .object([("reason", .string("FieldValueInvalid")), ("message", .string("Invalid value: -1: must be greater than or equal to 0")), ("field", .string("spec.replicas"))]),
            .object([("reason", .string("FieldValueRequired")), ("message", .string("Required value")), ("field", .string("spec.template.spec.containers[0].image"))]),
        ]))
        #expect(KubeAPIError.unauthorized.status.compact == #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#)
    }
}
