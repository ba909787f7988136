import BerthKubeAPI
import Testing

@testable import BerthKubeControllers

@Suite struct ServiceAccountControllerTests {
    @Test func everyNamespaceGetsItsDefaultServiceAccountBackAfterDeletion() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        _ = try store.create(KubeResourceRegistry.namespaces, namespace: nil,
                             object: object(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}"#))
        let account = { try store.get(KubeResourceRegistry.serviceAccounts, namespace: "team", name: "default") }
        #expect(await harness.eventually { try account().string("metadata", "name") == "default" })
        #expect(await harness.eventually { (try? store.get(KubeResourceRegistry.serviceAccounts, namespace: "kube-system", name: "default")) != nil })
        let first = try account().string("metadata", "uid")
        _ = try store.delete(KubeResourceRegistry.serviceAccounts, namespace: "team", name: "default")
        #expect(await harness.eventually { try account().string("metadata", "uid") != first })
    }
}
