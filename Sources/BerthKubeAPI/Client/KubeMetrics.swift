import BerthTemplate
import Foundation

/// What a container, pod or node is using, as the Metrics API reports it: CPU as a rate over a
/// window, memory as the working set (in use less the inactive file cache).
public struct KubeResourceUsage: Sendable, Equatable {
    public var cpuNanocores: UInt64
    public var memoryBytes: UInt64

    public init(cpuNanocores: UInt64, memoryBytes: UInt64) {
        self.cpuNanocores = cpuNanocores
        self.memoryBytes = memoryBytes
    }
}

/// One pod's running containers' usage, measured over `window` up to `timestamp`.
public struct KubePodMetrics: Sendable, Equatable {
    public struct Container: Sendable, Equatable {
        public var name: String
        public var usage: KubeResourceUsage

        public init(name: String, usage: KubeResourceUsage) {
            self.name = name
            self.usage = usage
        }
    }

    public var name: String
    public var namespace: String
    public var labels: [String: String]
    public var timestamp: Date
    public var window: Duration
    public var containers: [Container]

    public init(name: String, namespace: String, labels: [String: String], timestamp: Date, window: Duration, containers: [Container]) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.timestamp = timestamp
        self.window = window
        self.containers = containers
    }
}

/// The whole node's usage, measured over `window` up to `timestamp`.
public struct KubeNodeMetrics: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var timestamp: Date
    public var window: Duration
    public var usage: KubeResourceUsage

    public init(name: String, labels: [String: String], timestamp: Date, window: Duration, usage: KubeResourceUsage) {
        self.name = name
        self.labels = labels
        self.timestamp = timestamp
        self.window = window
        self.usage = usage
    }
}

/// Who measures pods and the node for `metrics.k8s.io` (in a cluster, metrics-server scraping
/// the kubelets). Usage is computed on each request; nothing is stored.
public protocol KubeMetricsSource: Sendable {
    /// The pods of `namespace` (nil: every namespace), or only the one named `name`, that have
    /// at least one running container, with those containers only.
    func podMetrics(namespace: String?, name: String?) async throws -> [KubePodMetrics]
    /// The node(s) serving the pods.
    func nodeMetrics() async throws -> [KubeNodeMetrics]
}

/// The `metrics.k8s.io/v1beta1` API's documents: discovery, and the PodMetrics and NodeMetrics
/// objects and lists, shaped as metrics-server answers. The group is served beside the resource
/// registry, not in it: its objects are computed, never stored, written or watched.
public enum KubeMetricsAPI {
    public static let group = "metrics.k8s.io"
    public static let version = "v1beta1"
    public static var groupVersion: String { "\(group)/\(version)" }
    public static let verbs = ["get", "list"]

    /// The two resources: (plural, kind, namespaced).
    static let resources = [("nodes", "NodeMetrics", false), ("pods", "PodMetrics", true)]

    /// The group's entry in aggregated discovery (`/apis`, apidiscovery.k8s.io/v2).
    public static var aggregatedGroup: OrderedJSON {
        let entries: [OrderedJSON] = resources.map { plural, kind, namespaced in
            .object([
                ("resource", .string(plural)),
                ("responseKind", .object([("group", .string(group)), ("version", .string(version)), ("kind", .string(kind))])),
                ("scope", .string(namespaced ? "Namespaced" : "Cluster")),
                ("singularResource", .string("")),
                ("verbs", .strings(verbs)),
            ])
        }
        return .object([("metadata", .object([("name", .string(group))])),
                        ("versions", .array([.object([("version", .string(version)), ("resources", .array(entries)),
                                                      ("freshness", .string("Current"))])]))])
    }

    /// The group's entry in legacy `/apis` (an APIGroupList's `groups`).
    static var groupMembers: [(String, OrderedJSON)] {
        let entry = OrderedJSON.object([("groupVersion", .string(groupVersion)), ("version", .string(version))])
        return [("name", .string(group)), ("versions", .array([entry])), ("preferredVersion", entry)]
    }

    /// Legacy `GET /apis/metrics.k8s.io`.
    public static var apiGroup: OrderedJSON {
        .object([("kind", .string("APIGroup")), ("apiVersion", .string("v1"))] + groupMembers)
    }

    /// Legacy `GET /apis/metrics.k8s.io/v1beta1`.
    public static var apiResourceList: OrderedJSON {
        let entries: [OrderedJSON] = resources.map { plural, kind, namespaced in
            .object([("name", .string(plural)), ("singularName", .string("")), ("namespaced", .bool(namespaced)),
                     ("kind", .string(kind)), ("verbs", .strings(verbs))])
        }
        return .object([("kind", .string("APIResourceList")), ("apiVersion", .string("v1")),
                        ("groupVersion", .string(groupVersion)), ("resources", .array(entries))])
    }

    /// An aggregated discovery list (`/apis`) with the metrics group added at its end.
    public static func addingGroup(toAggregated list: OrderedJSON) -> OrderedJSON {
        let items = list.value(at: ["items"]).flatMap { value -> [OrderedJSON]? in
            if case .array(let items) = value { return items } else { return nil }
        } ?? []
        return list.setting(["items"], to: .array(items + [aggregatedGroup]))
    }

    /// A legacy APIGroupList (`/apis`) with the metrics group added at its end.
    public static func addingGroup(toGroupList list: OrderedJSON) -> OrderedJSON {
        let groups = list.value(at: ["groups"]).flatMap { value -> [OrderedJSON]? in
            if case .array(let groups) = value { return groups } else { return nil }
        } ?? []
        return list.setting(["groups"], to: .array(groups + [.object(groupMembers)]))
    }

    /// A PodMetrics object; `item` leaves out kind and apiVersion, as in a list's items.
    public static func document(_ pod: KubePodMetrics, now: Date, item: Bool = false) -> OrderedJSON {
        let containers: [OrderedJSON] = pod.containers.map { container in
            .object([("name", .string(container.name)), ("usage", usage(container.usage))])
        }
        return .object(header("PodMetrics", item: item) + [
            ("metadata", metadata(name: pod.name, namespace: pod.namespace, labels: pod.labels, now: now)),
            ("timestamp", .string(rfc3339(pod.timestamp))),
            ("window", .string(pod.window.goDescription)),
            ("containers", .array(containers)),
        ])
    }

    /// A NodeMetrics object; `item` leaves out kind and apiVersion, as in a list's items.
    public static func document(_ node: KubeNodeMetrics, now: Date, item: Bool = false) -> OrderedJSON {
        .object(header("NodeMetrics", item: item) + [
            ("metadata", metadata(name: node.name, namespace: nil, labels: node.labels, now: now)),
            ("timestamp", .string(rfc3339(node.timestamp))),
            ("window", .string(node.window.goDescription)),
            ("usage", usage(node.usage)),
        ])
    }

    /// A PodMetricsList or NodeMetricsList of `items` (made with `item: true`).
    public static func list(kind: String, items: [OrderedJSON]) -> OrderedJSON {
        .object([("kind", .string(kind + "List")), ("apiVersion", .string(groupVersion)), ("metadata", .object([])),
                 ("items", .array(items))])
    }

    /// The 404 for a pod (named `namespace/name`) or node that is there but has no metrics, in
    /// metrics-server's words; one that is not there at all is the core kind's 404.
    public static func notFound(_ plural: String, _ name: String) -> KubeAPIError {
        let singular = plural == "pods" ? "podmetrics" : "nodemetrics"
        return KubeAPIError(code: 404, reason: "NotFound", message: "\(singular).\(group) \"\(name)\" not found",
                            name: name, group: group, kind: singular)
    }

    /// A `meta.k8s.io/v1` Table of pods' metrics (`kubectl get podmetrics`), with metrics-server's
    /// columns: the name, the containers' summed cpu and memory, and the window.
    public static func table(_ pods: [KubePodMetrics], now: Date, includeObject: KubeTable.IncludeObject) -> OrderedJSON {
        table(pods.map { pod in
            let usage = KubeResourceUsage(cpuNanocores: pod.containers.reduce(0) { $0 + $1.usage.cpuNanocores },
                                          memoryBytes: pod.containers.reduce(0) { $0 + $1.usage.memoryBytes })
            return (pod.name, usage, pod.window, document(pod, now: now))
        }, includeObject: includeObject)
    }

    /// A `meta.k8s.io/v1` Table of the node's metrics (`kubectl get nodemetrics`).
    public static func table(_ nodes: [KubeNodeMetrics], now: Date, includeObject: KubeTable.IncludeObject) -> OrderedJSON {
        table(nodes.map { ($0.name, $0.usage, $0.window, document($0, now: now)) }, includeObject: includeObject)
    }

    private static func table(_ rows: [(name: String, usage: KubeResourceUsage, window: Duration, object: OrderedJSON)],
                              includeObject: KubeTable.IncludeObject) -> OrderedJSON {
        func column(_ name: String, _ format: String, _ description: String) -> OrderedJSON {
            .object([("name", .string(name)), ("type", .string("string")), ("format", .string(format)),
                     ("description", .string(description)), ("priority", .int(0))])
        }
        let definitions = [column("Name", "name", "Name of the resource"), column("cpu", "quantity", ""),
                           column("memory", "quantity", ""), column("Window", "duration", "")]
        let entries: [OrderedJSON] = rows.map { row in
            var members: [(String, OrderedJSON)] = [("cells", .array([
                .string(row.name), .string(cpuQuantity(row.usage.cpuNanocores)), .string(memoryQuantity(row.usage.memoryBytes)),
                .string(row.window.goDescription),
            ]))]
            switch includeObject {
            case .none: break
            case .metadata:
                members.append(("object", .object([("kind", .string("PartialObjectMetadata")), ("apiVersion", .string("meta.k8s.io/v1")),
                                                   ("metadata", row.object.value(at: ["metadata"]) ?? .object([]))])))
            case .object:
                members.append(("object", row.object))
            }
            return .object(members)
        }
        return .object([("kind", .string("Table")), ("apiVersion", .string("meta.k8s.io/v1")), ("metadata", .object([])),
                        ("columnDefinitions", .array(definitions)), ("rows", .array(entries))])
    }

    /// A write, watch or other verb the resources do not have.
    public static func methodNotAllowed(_ plural: String) -> KubeAPIError {
        KubeAPIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource",
                     group: group, kind: plural)
    }

    /// `usage`: CPU in nanocores (canonical: `1234567n`, `1500m`, `0`), memory as a binary quantity (`12345Ki`).
    public static func usage(_ usage: KubeResourceUsage) -> OrderedJSON {
        .object([("cpu", .string(cpuQuantity(usage.cpuNanocores))), ("memory", .string(memoryQuantity(usage.memoryBytes)))])
    }

    public static func cpuQuantity(_ nanocores: UInt64) -> String {
        KubeQuantity(nanos: Int128(nanocores)).canonical
    }

    public static func memoryQuantity(_ bytes: UInt64) -> String {
        KubeQuantity(nanos: Int128(bytes) * 1_000_000_000, format: .binarySI).canonical
    }

    /// An RFC 3339 time to the second, in UTC, as metav1.Time marshals.
    public static func rfc3339(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    private static func header(_ kind: String, item: Bool) -> [(String, OrderedJSON)] {
        item ? [] : [("kind", .string(kind)), ("apiVersion", .string(groupVersion))]
    }

    /// metrics-server stamps each answer's objects with the time they were made.
    private static func metadata(name: String, namespace: String?, labels: [String: String], now: Date) -> OrderedJSON {
        var members: [(String, OrderedJSON)] = [("name", .string(name))]
        if let namespace { members.append(("namespace", .string(namespace))) }
        members.append(("creationTimestamp", .string(rfc3339(now))))
        if !labels.isEmpty {
            members.append(("labels", .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        return .object(members)
    }
}
