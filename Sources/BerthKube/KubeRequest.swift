import BerthKubeAPI
import BerthTemplate
import Foundation

/// One HTTP request to the Kubernetes API, as the router sees it.
public struct KubeRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: [String]]
    public var headers: [String: String]
    public var body: [UInt8]
    /// The client certificate's identity; nil when the client presented none.
    public var user: KubeUser?

    public init(method: String, uri: String, headers: [String: String], body: [UInt8], user: KubeUser?) {
        self.method = method
        let components = URLComponents(string: uri)
        path = components?.percentEncodedPath.removingPercentEncoding ?? uri
        var query: [String: [String]] = [:]
        // Form encoding, as Go's url.Values writes it: `+` is a space.
        func decoded(_ text: String) -> String {
            text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? text
        }
        for item in components?.percentEncodedQueryItems ?? [] {
            query[decoded(item.name), default: []].append(decoded(item.value ?? ""))
        }
        self.query = query
        self.headers = headers
        self.body = body
        self.user = user
    }

    public func parameter(_ name: String) -> String? { query[name]?.last }

    /// Whether the client accepts `as=Table` answers (what `kubectl get` asks for).
    var wantsTable: Bool {
        (headers["accept"] ?? "").split(separator: ",").contains { $0.contains("as=Table") && $0.contains("g=meta.k8s.io") }
    }

    /// Whether the client takes a JSON answer: no Accept header, or one naming JSON or a wildcard.
    var acceptsJSON: Bool {
        guard let accept = headers["accept"], !accept.isEmpty else { return true }
        return accept.split(separator: ",").contains { range in
            let type = range.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            return ["application/json", "application/*", "*/*"].contains(type)
        }
    }

    var wantsAggregatedDiscovery: Bool {
        (headers["accept"] ?? "").contains("as=APIGroupDiscoveryList")
    }
}

/// Who a request comes from: the client certificate's common name and organisations.
public struct KubeUser: Sendable, Equatable {
    public var name: String
    public var groups: [String]
}

/// An answer: a complete body, or a stream of chunks (watches).
public enum KubeResponse: Sendable {
    case full(status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = [])
    case stream(contentType: String, chunks: AsyncStream<[UInt8]>)

    static func json(_ value: OrderedJSON, status: Int = 200, contentType: String = "application/json",
                     headers: [(String, String)] = []) -> KubeResponse {
        .full(status: status, contentType: contentType, body: Array(value.compact.utf8), headers: headers)
    }

    /// `Warning` headers as the apiserver sends them (kubectl prints each as `Warning: …`).
    static func warnings(_ messages: [String]) -> [(String, String)] {
        messages.map { ("Warning", "299 - " + OrderedJSON.string($0).templateJSON) }
    }

    static func text(_ text: String, status: Int = 200) -> KubeResponse {
        .full(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    static func error(_ error: KubeAPIError) -> KubeResponse {
        json(error.status, status: error.code)
    }
}
