import BerthKubeAPI
import BerthTemplate
import Crypto
import Foundation

/// Maps Kubernetes API requests onto the object store: the fixed endpoints (`/version`, health,
/// discovery) and the one generic resource handler behind `/api/v1/…` and `/apis/<g>/<v>/…`.
public struct KubeRouter: Sendable {
    public let store: KubeObjectStore
    /// `host:port` clients reach the server at (legacy discovery reports it).
    public let serverAddress: String
    /// Where `pods/<name>/log` is read from (the node); without one it is not served.
    public let podLogs: (any KubePodLogSource)?
    /// Who runs `pods/<name>/exec` and `pods/<name>/attach` (the node); without one they are not served.
    public let podStreams: (any KubePodStreamSource)?
    /// Who connects to pods' ports for `pods/<name>/portforward` (the node); without one it is not served.
    public let portForwarder: (any KubePodPortForwarder)?
    /// Who measures pods and the node for `metrics.k8s.io`; without one the group is not served.
    public let metrics: (any KubeMetricsSource)?

    /// The OpenAPI documents, rendered once (they depend on the registry only).
    let openAPIDocuments: OpenAPIDocuments

    public init(store: KubeObjectStore, serverAddress: String, podLogs: (any KubePodLogSource)? = nil,
                podStreams: (any KubePodStreamSource)? = nil, portForwarder: (any KubePodPortForwarder)? = nil,
                metrics: (any KubeMetricsSource)? = nil) {
        self.store = store
        self.serverAddress = serverAddress
        self.podLogs = podLogs
        self.podStreams = podStreams
        self.portForwarder = portForwarder
        self.metrics = metrics
        openAPIDocuments = OpenAPIDocuments(store.registry)
    }

    var registry: KubeResourceRegistry { store.registry }

    public func handle(_ request: KubeRequest) async -> KubeResponse {
        guard request.user != nil else { return .error(.unauthorized) }
        do {
            if let target = KubePodStreamPath(path: request.path), target.subresource != .portforward, let podStreams {
                return try await streamWithoutUpgrade(request, target: target, source: podStreams)
            }
            if let metrics, let response = try await metricsRequest(request, source: metrics) { return response }
            return try route(request)
        } catch let error as KubeAPIError {
            return .error(error)
        } catch let error as KubeNodeStreamError {
            return .text(error.message, status: 500)
        } catch {
            return .error(.internal("\(error)"))
        }
    }

    private func route(_ request: KubeRequest) throws -> KubeResponse {
        let segments = request.path.split(separator: "/").map(String.init)
        switch (request.method, segments.first ?? "") {
        case ("GET", "version") where segments.count == 1:
            return .json(KubeDiscovery.version)
        case ("GET", "healthz"), ("GET", "livez"), ("GET", "readyz"):
            guard segments.count == 1 else { throw KubeAPIError.unknownPath }
            if request.query["verbose"] != nil {
                return .text("[+]ping ok\n[+]etcd ok\n\(segments[0].dropLast()) check passed\n")
            }
            return .text("ok")
        case ("GET", "openapi") where segments.count >= 2:
            return try openAPI(request, version: segments[1], path: segments.dropFirst(2).joined(separator: "/"))
        case (_, "api"):
            if segments.count == 1, request.method == "GET" {
                return request.wantsAggregatedDiscovery
                    ? .json(KubeDiscovery.aggregated(registry, core: true), contentType: KubeDiscovery.aggregatedContentType)
                    : .json(KubeDiscovery.apiVersions(serverAddress: serverAddress))
            }
            // Discovery documents take GET only.
            guard segments.count >= 2 else { throw Self.methodNotAllowed }
            return try resourceRequest(request, group: "", version: segments[1], rest: Array(segments.dropFirst(2)))
        case (_, "apis"):
            if segments.count == 1, request.method == "GET" {
                return request.wantsAggregatedDiscovery
                    ? .json(KubeDiscovery.aggregated(registry, core: false), contentType: KubeDiscovery.aggregatedContentType)
                    : .json(KubeDiscovery.apiGroupList(registry))
            }
            if segments.count == 2, request.method == "GET" {
                guard let group = KubeDiscovery.apiGroup(registry, group: segments[1]) else { throw KubeAPIError.unknownPath }
                return .json(group)
            }
            guard segments.count >= 3 else { throw Self.methodNotAllowed }
            return try resourceRequest(request, group: segments[1], version: segments[2], rest: Array(segments.dropFirst(3)))
        default:
            throw KubeAPIError.unknownPath
        }
    }

    static let methodNotAllowed = KubeAPIError(code: 405, reason: "MethodNotAllowed",
                                               message: "the server does not allow this method on the requested resource")

    /// `/openapi/v3` (the index), `/openapi/v3/<gv>?hash=<H>` and `/openapi/v2`. H is the
    /// upper-case hex SHA-512 of the document, so a client may cache a document under its hash
    /// for good; a stale hash is redirected to the current one. Only JSON is served: a client
    /// that accepts only protobuf gets 406.
    private func openAPI(_ request: KubeRequest, version: String, path: String) throws -> KubeResponse {
        if version == "v2" {
            guard path.isEmpty else { throw KubeAPIError.unknownPath }
            guard request.acceptsJSON else { throw KubeAPIError.notAcceptable }
            return .full(status: 200, contentType: "application/json", body: openAPIDocuments.v2)
        }
        guard version == "v3" else { throw KubeAPIError.unknownPath }
        if path.isEmpty {
            let entries: [(String, OrderedJSON)] = openAPIDocuments.v3.map { entry in
                (entry.path, .object([("serverRelativeURL", .string("/openapi/v3/\(entry.path)?hash=\(entry.hash)"))]))
            }
            return .json(.object([("paths", .object(entries))]))
        }
        guard let document = openAPIDocuments.v3.first(where: { $0.path == path }) else { throw KubeAPIError.unknownPath }
        guard request.acceptsJSON else { throw KubeAPIError.notAcceptable }
        let etag = ("Etag", "\"\(document.hash)\"")
        guard let asked = request.parameter("hash") else {
            return .full(status: 200, contentType: "application/json", body: document.body, headers: [etag])
        }
        guard asked == document.hash else {
            return .full(status: 301, contentType: "text/plain", body: [], headers: [("Location", "/openapi/v3/\(path)?hash=\(document.hash)")])
        }
        let expires = Date.now.addingTimeInterval(365 * 86400)
        return .full(status: 200, contentType: "application/json", body: document.body,
                     headers: [etag, ("Vary", "Accept"), ("Cache-Control", "public, immutable"), ("Expires", Self.httpDate(expires))])
    }

    /// An HTTP date (`Mon, 06 Dec 2027 17:00:00 GMT`).
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }

    /// `<gv>/[watch/][namespaces/<ns>/]<resource>[/<name>]`.
    private func resourceRequest(_ request: KubeRequest, group: String, version: String, rest: [String]) throws -> KubeResponse {
        if rest.isEmpty {
            guard request.method == "GET", let list = KubeDiscovery.apiResourceList(registry, group: group, version: version) else {
                throw KubeAPIError.unknownPath
            }
            return .json(list)
        }
        var rest = rest
        var watch = ["true", "1"].contains(request.parameter("watch") ?? "")
        if rest.first == "watch" {
            watch = true
            rest.removeFirst()
        }
        var namespace: String?
        if rest.count >= 3, rest[0] == "namespaces", registry.resource(group: group, version: version, plural: rest[2]) != nil {
            namespace = rest[1]
            rest.removeFirst(2)
        }
        if rest.count == 3, rest[0] == "pods", rest[2] == "log", group.isEmpty, let namespace, let podLogs {
            guard request.method == "GET" else { throw KubeAPIError.methodNotAllowed("create", KubeResourceRegistry.pods) }
            return try podLog(request, source: podLogs, namespace: namespace, pod: rest[1])
        }
        if rest.count == 3, rest[0] == "pods", rest[2] == "portforward", group.isEmpty, let namespace, let portForwarder {
            // An upgrade the SPDY or WebSocket upgrader took never reaches the router: this one was refused.
            guard request.method == "GET" || request.method == "POST" else { throw KubeAPIError.methodNotAllowed("create", KubeResourceRegistry.pods) }
            try portForwarder.checkPortForward(namespace: namespace, pod: rest[1])
            throw KubeAPIError.badRequest("Upgrade request required")
        }
        guard let plural = rest.first, rest.count <= 3,
              let resource = registry.resource(group: group, version: version, plural: plural) else {
            throw KubeAPIError.unknownPath
        }
        if rest.count == 3, rest[2] == "finalize", group.isEmpty, plural == "namespaces", !watch {
            guard request.method == "PUT" else {
                throw KubeAPIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
            }
            return try ResourceHandler(store: store, resource: resource, namespace: nil, request: request).finalize(rest[1])
        }
        if !resource.namespaced, namespace != nil { throw KubeAPIError.unknownPath }
        let name = rest.count >= 2 ? rest[1] : nil
        let handler = ResourceHandler(store: store, resource: resource, namespace: namespace, request: request)
        if rest.count == 3, let name, !watch {
            return try subresourceRequest(handler, name: name, subresource: rest[2])
        }
        guard rest.count <= 2 else { throw KubeAPIError.unknownPath }
        switch (request.method, name) {
        case ("GET", nil): return try watch ? handler.watch() : handler.list()
        case ("GET", let name?): return try handler.get(name)
        case ("POST", nil): return try handler.create()
        case ("PUT", let name?): return try handler.replace(name)
        case ("PATCH", let name?): return try handler.patch(name)
        case ("DELETE", let name?): return try handler.delete(name)
        case ("DELETE", nil):
            guard resource.verbs.contains("deletecollection") else { throw KubeAPIError.methodNotAllowed("deletecollection", resource) }
            return try handler.deleteCollection()
        default:
            throw KubeAPIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
        }
    }

    /// `<object>/status` and `<object>/scale`, for the kinds that have them.
    private func subresourceRequest(_ handler: ResourceHandler, name: String, subresource: String) throws -> KubeResponse {
        guard handler.resource.subresources.contains(where: { $0.name == subresource }) else { throw KubeAPIError.unknownPath }
        switch (handler.request.method, subresource) {
        case ("GET", "status"): return try handler.get(name)
        case ("PUT", "status"): return try handler.replace(name, scope: .status)
        case ("PATCH", "status"): return try handler.patch(name, scope: .status)
        case ("GET", "scale"): return try handler.getScale(name)
        case ("PUT", "scale"): return try handler.replaceScale(name)
        case ("PATCH", "scale"): return try handler.patchScale(name)
        default:
            throw KubeAPIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
        }
    }

    /// An exec or attach that reached the router was not upgraded (the front ends upgrade the
    /// ones that can stream): the reason it cannot stream, or that it must be an upgrade.
    private func streamWithoutUpgrade(_ request: KubeRequest, target: KubePodStreamPath,
                                      source: any KubePodStreamSource) async throws -> KubeResponse {
        guard request.method == "GET" || request.method == "POST" else {
            throw KubeAPIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
        }
        if request.headers["upgrade"]?.lowercased() == "websocket" {
            let offered = request.headers["sec-websocket-protocol"].map { [$0] } ?? []
            if KubeChannelProtocol.negotiate(offered) == nil { throw KubeChannelProtocol.unsupported(offered) }
        }
        try await source.check(try request.podStreamRequest(target), attach: target.subresource == .attach)
        throw KubeAPIError.badRequest("Upgrade request required")
    }

    /// `pods/<name>/log`: the query's options, the log as plain text (streamed).
    private func podLog(_ request: KubeRequest, source: any KubePodLogSource, namespace: String, pod: String) throws -> KubeResponse {
        var options = KubePodLogRequest(namespace: namespace, pod: pod)
        func flag(_ name: String) -> Bool { ["true", "1"].contains(request.parameter(name) ?? "") }
        func number(_ name: String) throws -> Int? {
            guard let text = request.parameter(name) else { return nil }
            guard let value = Int(text) else { throw KubeAPIError.badRequest("invalid value for \(name): \(text)") }
            return value
        }
        options.container = request.parameter("container").flatMap { $0.isEmpty ? nil : $0 }
        options.follow = flag("follow")
        options.previous = flag("previous")
        options.timestamps = flag("timestamps")
        options.tailLines = try number("tailLines")
        options.limitBytes = try number("limitBytes")
        if let seconds = try number("sinceSeconds") {
            options.since = Date.now.addingTimeInterval(-Double(seconds))
        } else if let time = request.parameter("sinceTime") {
            guard let date = try? Date(time, strategy: .iso8601) else { throw KubeAPIError.badRequest("invalid value for sinceTime: \(time)") }
            options.since = date
        }
        return .stream(contentType: "text/plain", chunks: try source.logs(options))
    }
}

/// The served OpenAPI documents as bytes, with the hashes their URLs carry.
struct OpenAPIDocuments: Sendable {
    struct Document: Sendable {
        var path: String
        var body: [UInt8]
        var hash: String
    }

    let v3: [Document]
    let v2: [UInt8]

    init(_ registry: KubeResourceRegistry) {
        v3 = KubeOpenAPI.groupVersionPaths(registry).compactMap { path in
            KubeOpenAPI.document(registry, path: path).map { document in
                let body = Array(document.compact.utf8)
                return Document(path: path, body: body, hash: SHA512.hash(data: body).map { String(format: "%02X", $0) }.joined())
            }
        }
        v2 = Array(KubeOpenAPI.swagger(registry).compact.utf8)
    }
}
