import BerthTemplate
import Testing

@testable import BerthKubeAPI

@Suite struct KubeRegistryTests {
    @Test func workloadKindsAreServedWithTheirDiscoveryNames() {
        let expected: [(KubeResource, String, String, [String], Bool)] = [
            (KubeResourceRegistry.pods, "v1", "Pod", ["po"], true),
            (KubeResourceRegistry.persistentVolumeClaims, "v1", "PersistentVolumeClaim", ["pvc"], true),
            (KubeResourceRegistry.persistentVolumes, "v1", "PersistentVolume", ["pv"], false),
            (KubeResourceRegistry.nodes, "v1", "Node", ["no"], false),
            (KubeResourceRegistry.deployments, "apps/v1", "Deployment", ["deploy"], true),
            (KubeResourceRegistry.replicaSets, "apps/v1", "ReplicaSet", ["rs"], true),
            (KubeResourceRegistry.statefulSets, "apps/v1", "StatefulSet", ["sts"], true),
            (KubeResourceRegistry.daemonSets, "apps/v1", "DaemonSet", ["ds"], true),
            (KubeResourceRegistry.controllerRevisions, "apps/v1", "ControllerRevision", [], true),
            (KubeResourceRegistry.jobs, "batch/v1", "Job", [], true),
            (KubeResourceRegistry.cronJobs, "batch/v1", "CronJob", ["cj"], true),
        ]
        for (resource, apiVersion, kind, shortNames, namespaced) in expected {
            #expect(resource.apiVersion == apiVersion && resource.kind == kind && resource.shortNames == shortNames && resource.namespaced == namespaced, "\(kind)")
        }
        let inAll = KubeResourceRegistry.builtIn.resources.filter { $0.categories.contains("all") }.map(\.plural).sorted()
        #expect(inAll == ["cronjobs", "daemonsets", "deployments", "jobs", "pods", "replicasets", "services", "statefulsets"])
        #expect(KubeResourceRegistry.deployments.hasScale && KubeResourceRegistry.statefulSets.hasScale && !KubeResourceRegistry.jobs.hasScale)
        #expect(KubeResourceRegistry.pods.hasStatus && !KubeResourceRegistry.configMaps.hasStatus)
    }

    @Test func aggregatedDiscoveryListsSubresources() throws {
        let apps = KubeDiscovery.aggregated(.builtIn, core: false)
        guard case .array(let groups)? = apps["items"],
              let group = groups.first(where: { $0.string("metadata", "name") == "apps" }),
              case .array(let versions)? = group["versions"], case .array(let resources)? = versions.first?["resources"],
              let deployments = resources.first(where: { $0.string("resource") == "deployments" }) else {
            Issue.record("no apps/v1 deployments in discovery")
            return
        }
        #expect(deployments["subresources"]?.compact == #"[{"subresource":"scale","responseKind":{"group":"autoscaling","version":"v1","kind":"Scale"},"verbs":["get","patch","update"]},{"subresource":"status","responseKind":{"group":"apps","version":"v1","kind":"Deployment"},"verbs":["get","patch","update"]}]"#)
        let legacy = try #require(KubeDiscovery.apiResourceList(.builtIn, group: "apps", version: "v1"))
        guard case .array(let entries)? = legacy["resources"] else { return }
        #expect(entries.compactMap { $0.string("name") }.contains("deployments/scale"))
    }
}
