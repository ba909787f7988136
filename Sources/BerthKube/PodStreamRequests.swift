import BerthKubeAPI

/// A request to one of a pod's streaming subresources,
/// `/api/v1/namespaces/<ns>/pods/<name>/{exec,attach,portforward}`: what the WebSocket and
/// SPDY front ends upgrade, instead of routing it as a resource request.
public struct KubePodStreamPath: Sendable, Equatable {
    public enum Subresource: String, Sendable {
        case exec, attach, portforward
    }

    public var namespace: String
    public var pod: String
    public var subresource: Subresource

    /// Nil for any other path.
    public init?(path: String) {
        let segments = path.split(separator: "/").map(String.init)
        guard segments.count == 7, segments[0] == "api", segments[1] == "v1", segments[2] == "namespaces", segments[4] == "pods",
              let subresource = Subresource(rawValue: segments[6]) else { return nil }
        namespace = segments[3]
        pod = segments[5]
        self.subresource = subresource
    }
}

extension KubeRequest {
    /// The exec or attach its query asks for (`command` repeated, `container`, and the
    /// `stdin`/`stdout`/`stderr`/`tty` flags as Go's ParseBool reads them); throws the
    /// apiserver's BadRequest when no stream is asked for.
    public func podStreamRequest(_ target: KubePodStreamPath) throws -> KubePodStreamRequest {
        func flag(_ name: String) -> Bool { ["1", "t", "T", "true", "TRUE", "True"].contains(parameter(name) ?? "") }
        let request = KubePodStreamRequest(
            namespace: target.namespace, pod: target.pod, container: parameter("container"),
            command: target.subresource == .exec ? query["command"] ?? [] : [],
            stdin: flag("stdin"), stdout: flag("stdout"), stderr: flag("stderr"), tty: flag("tty"))
        guard request.stdin || request.stdout || request.stderr else {
            throw KubeAPIError.badRequest("you must specify at least 1 of stdin, stdout, stderr")
        }
        return request
    }
}
