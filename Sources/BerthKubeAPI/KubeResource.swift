/// A resource type the API serves: how it is named in URLs and discovery, and what it holds.
public struct KubeResource: Sendable, Hashable {
    /// The API group; "" for the core group (`/api/v1`).
    public var group: String
    public var version: String
    public var kind: String
    /// The plural lower-case name used in paths (`configmaps`).
    public var plural: String
    public var singular: String
    public var namespaced: Bool
    public var shortNames: [String]
    public var categories: [String]
    public var verbs: [String]
    /// Whether objects count `metadata.generation` up on each change of their `spec`.
    public var hasGeneration = false
    /// The subresources served under `<object>/<name>` (`status`, `scale`), as discovery lists them.
    public var subresources: [KubeSubresource] = []

    /// `v1` or `apps/v1`, as objects carry it in `apiVersion`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `configmaps` or `deployments.apps`, as error messages name a resource.
    public var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }
    public var listKind: String { kind + "List" }

    static let allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    /// Whether the kind has a `status` subresource: writes to the object itself then keep the
    /// stored status, and writes to `/status` change nothing but the status.
    public var hasStatus: Bool { subresources.contains { $0.name == "status" } }
    public var hasScale: Bool { subresources.contains { $0.name == "scale" } }
}

/// What a replacing write of an object may change, for kinds with a `status` subresource.
public enum KubeWriteScope: Sendable {
    /// Everything given: the writes of Berth's own controllers and node, which read, modify and
    /// write back whole objects.
    case whole
    /// A client's write to the object itself: the stored status stays.
    case main
    /// A write to `/status`: only the status changes.
    case status
}

/// A subresource of a served kind, as aggregated discovery describes it.
public struct KubeSubresource: Sendable, Hashable {
    public var name: String
    /// The group, version and kind a request to it answers with.
    public var group: String
    public var version: String
    public var kind: String
    public var verbs: [String]

    /// `status`: the object itself, restricted to its status.
    static func status(_ group: String, _ kind: String) -> KubeSubresource {
        KubeSubresource(name: "status", group: group, version: "v1", kind: kind, verbs: ["get", "patch", "update"])
    }

    /// `scale`: an autoscaling/v1 Scale view of the replica count.
    static let scale = KubeSubresource(name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"])
}

/// The resource types Berth serves, in discovery order.
public struct KubeResourceRegistry: Sendable {
    public let resources: [KubeResource]

    public init(resources: [KubeResource]) {
        self.resources = resources
    }

    /// The kinds Berth serves, in the order a 1.32 apiserver's discovery lists them.
    public static let builtIn = KubeResourceRegistry(resources: [
        core("ConfigMap", "configmaps", shortNames: ["cm"]),
        core("Endpoints", "endpoints", shortNames: ["ep"]),
        core("Event", "events", shortNames: ["ev"]),
        core("Namespace", "namespaces", namespaced: false, shortNames: ["ns"],
             verbs: ["create", "delete", "get", "list", "patch", "update", "watch"], status: true),
        core("Node", "nodes", namespaced: false, shortNames: ["no"], status: true),
        core("PersistentVolumeClaim", "persistentvolumeclaims", shortNames: ["pvc"], status: true),
        core("PersistentVolume", "persistentvolumes", namespaced: false, shortNames: ["pv"], status: true),
        core("Pod", "pods", shortNames: ["po"], categories: ["all"], status: true),
        core("Secret", "secrets"),
        core("ServiceAccount", "serviceaccounts", shortNames: ["sa"]),
        core("Service", "services", shortNames: ["svc"], categories: ["all"], status: true),
        workload("apps", "ControllerRevision", "controllerrevisions", generation: false),
        workload("apps", "DaemonSet", "daemonsets", shortNames: ["ds"], categories: ["all"], status: true),
        workload("apps", "Deployment", "deployments", shortNames: ["deploy"], categories: ["all"], status: true, scale: true),
        workload("apps", "ReplicaSet", "replicasets", shortNames: ["rs"], categories: ["all"], status: true, scale: true),
        workload("apps", "StatefulSet", "statefulsets", shortNames: ["sts"], categories: ["all"], status: true, scale: true),
        workload("batch", "CronJob", "cronjobs", shortNames: ["cj"], categories: ["all"], status: true),
        workload("batch", "Job", "jobs", categories: ["all"], status: true),
        workload("discovery.k8s.io", "EndpointSlice", "endpointslices", generation: false),
        KubeResource(group: "networking.k8s.io", version: "v1", kind: "IngressClass", plural: "ingressclasses", singular: "ingressclass",
                     namespaced: false, shortNames: [], categories: [], verbs: KubeResource.allVerbs, hasGeneration: true),
        workload("networking.k8s.io", "Ingress", "ingresses", shortNames: ["ing"], status: true),
    ])

    private static func core(_ kind: String, _ plural: String, namespaced: Bool = true, shortNames: [String] = [], categories: [String] = [],
                             verbs: [String] = KubeResource.allVerbs, status: Bool = false) -> KubeResource {
        KubeResource(group: "", version: "v1", kind: kind, plural: plural, singular: kind.lowercased(), namespaced: namespaced,
                     shortNames: shortNames, categories: categories, verbs: verbs,
                     subresources: status ? [.status("", kind)] : [])
    }

    private static func workload(_ group: String, _ kind: String, _ plural: String, shortNames: [String] = [], categories: [String] = [],
                                 generation: Bool = true, status: Bool = false, scale: Bool = false) -> KubeResource {
        var subresources: [KubeSubresource] = []
        if scale { subresources.append(.scale) }
        if status { subresources.append(.status(group, kind)) }
        return KubeResource(group: group, version: "v1", kind: kind, plural: plural, singular: kind.lowercased(), namespaced: true,
                            shortNames: shortNames, categories: categories, verbs: KubeResource.allVerbs, hasGeneration: generation,
                            subresources: subresources)
    }

    /// The resource served at `group`/`version` under the plural name `plural`.
    public func resource(group: String, version: String, plural: String) -> KubeResource? {
        resources.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    public static let configMaps = builtIn.served("", "configmaps")
    public static let endpoints = builtIn.served("", "endpoints")
    public static let services = builtIn.served("", "services")
    public static let endpointSlices = builtIn.served("discovery.k8s.io", "endpointslices")
    public static let ingresses = builtIn.served("networking.k8s.io", "ingresses")
    public static let ingressClasses = builtIn.served("networking.k8s.io", "ingressclasses")
    public static let events = builtIn.served("", "events")
    public static let namespaces = builtIn.served("", "namespaces")
    public static let nodes = builtIn.served("", "nodes")
    public static let persistentVolumeClaims = builtIn.served("", "persistentvolumeclaims")
    public static let persistentVolumes = builtIn.served("", "persistentvolumes")
    public static let pods = builtIn.served("", "pods")
    public static let secrets = builtIn.served("", "secrets")
    public static let serviceAccounts = builtIn.served("", "serviceaccounts")
    public static let controllerRevisions = builtIn.served("apps", "controllerrevisions")
    public static let daemonSets = builtIn.served("apps", "daemonsets")
    public static let deployments = builtIn.served("apps", "deployments")
    public static let replicaSets = builtIn.served("apps", "replicasets")
    public static let statefulSets = builtIn.served("apps", "statefulsets")
    public static let cronJobs = builtIn.served("batch", "cronjobs")
    public static let jobs = builtIn.served("batch", "jobs")

    private func served(_ group: String, _ plural: String) -> KubeResource {
        guard let resource = resource(group: group, version: "v1", plural: plural) else { preconditionFailure("\(plural) is not registered") }
        return resource
    }
}

extension KubeResourceRegistry {
    /// The field-selector labels `resource` supports.
    public static func selectableFields(_ resource: KubeResource) -> Set<String> {
        KubeKinds.selectableFields(resource)
    }
}
