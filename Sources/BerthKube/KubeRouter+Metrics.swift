import BerthKubeAPI
import BerthTemplate
import Foundation

/// `metrics.k8s.io/v1beta1` (what `kubectl top` reads), served beside the resource registry:
/// discovery names the group, and reads of `nodes` and `pods` are measured by the node on each
/// request. Its resources take get and list only; every other verb is 405, as metrics-server's.
/// `kubectl get podmetrics` gets metrics-server's Table.
extension KubeRouter {
    /// The answer to a request for the Metrics API or for `/apis` (which lists it); nil for
    /// every other path.
    func metricsRequest(_ request: KubeRequest, source: any KubeMetricsSource) async throws -> KubeResponse? {
        let segments = request.path.split(separator: "/").map(String.init)
        guard segments.first == "apis" else { return nil }
        if segments.count == 1 {
            guard request.method == "GET" else { return nil }
            return request.wantsAggregatedDiscovery
                ? .json(KubeMetricsAPI.addingGroup(toAggregated: KubeDiscovery.aggregated(registry, core: false)),
                        contentType: KubeDiscovery.aggregatedContentType)
                : .json(KubeMetricsAPI.addingGroup(toGroupList: KubeDiscovery.apiGroupList(registry)))
        }
        guard segments[1] == KubeMetricsAPI.group else { return nil }
        if segments.count == 2 {
            guard request.method == "GET" else { throw Self.methodNotAllowed }
            return .json(KubeMetricsAPI.apiGroup)
        }
        guard segments[2] == KubeMetricsAPI.version else { throw KubeAPIError.unknownPath }
        var rest = Array(segments.dropFirst(3))
        if rest.isEmpty {
            guard request.method == "GET" else { throw KubeAPIError.unknownPath }
            return .json(KubeMetricsAPI.apiResourceList)
        }
        let watch = rest.first == "watch" || ["true", "1"].contains(request.parameter("watch") ?? "")
        if rest.first == "watch" { rest.removeFirst() }
        var namespace: String?
        if rest.count >= 3, rest[0] == "namespaces", rest[2] == "pods" {
            namespace = rest[1]
            rest.removeFirst(2)
        }
        guard let plural = rest.first, ["nodes", "pods"].contains(plural), rest.count <= 2,
              plural == "pods" ? rest.count == 1 || namespace != nil : namespace == nil else {
            throw KubeAPIError.unknownPath
        }
        guard request.method == "GET", !watch else { throw KubeMetricsAPI.methodNotAllowed(plural) }
        let name = rest.count == 2 ? rest[1] : nil
        let labels = try LabelSelector(parsing: request.parameter("labelSelector") ?? "")
        let supported: Set<String> = plural == "pods" ? ["metadata.name", "metadata.namespace"] : ["metadata.name"]
        let fields = try FieldSelector(parsing: request.parameter("fieldSelector") ?? "", supported: supported)
        let now = Date.now
        let includeObject = KubeTable.IncludeObject(rawValue: request.parameter("includeObject") ?? "") ?? .metadata
        if plural == "nodes" {
            if let name {
                // A node that is not there is the core kind's 404, as metrics-server answers.
                _ = try store.get(KubeResourceRegistry.nodes, namespace: nil, name: name)
            }
            let nodes = try await source.nodeMetrics().filter { node in
                name.map { node.name == $0 } ?? (labels.matches(node.labels) && fields.matches(["metadata.name": node.name]))
            }.sorted { $0.name < $1.name }
            if let name {
                guard let node = nodes.first else { throw KubeMetricsAPI.notFound(plural, name) }
                if request.wantsTable { return .json(KubeMetricsAPI.table([node], now: now, includeObject: includeObject)) }
                return .json(KubeMetricsAPI.document(node, now: now))
            }
            if request.wantsTable { return .json(KubeMetricsAPI.table(nodes, now: now, includeObject: includeObject)) }
            return .json(KubeMetricsAPI.list(kind: "NodeMetrics", items: nodes.map { KubeMetricsAPI.document($0, now: now, item: true) }))
        }
        if let name, let namespace {
            _ = try store.get(KubeResourceRegistry.pods, namespace: namespace, name: name)
        }
        let pods = try await source.podMetrics(namespace: namespace, name: name).filter {
            labels.matches($0.labels) && fields.matches(["metadata.name": $0.name, "metadata.namespace": $0.namespace])
        }.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        if let name, let namespace {
            guard let pod = pods.first else { throw KubeMetricsAPI.notFound(plural, "\(namespace)/\(name)") }
            if request.wantsTable { return .json(KubeMetricsAPI.table([pod], now: now, includeObject: includeObject)) }
            return .json(KubeMetricsAPI.document(pod, now: now))
        }
        if request.wantsTable { return .json(KubeMetricsAPI.table(pods, now: now, includeObject: includeObject)) }
        return .json(KubeMetricsAPI.list(kind: "PodMetrics", items: pods.map { KubeMetricsAPI.document($0, now: now, item: true) }))
    }
}
