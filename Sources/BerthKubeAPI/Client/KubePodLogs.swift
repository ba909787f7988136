import Foundation

/// A `GET …/pods/<name>/log` request: which container's log, and which part of it.
public struct KubePodLogRequest: Sendable, Equatable {
    public var namespace: String
    public var pod: String
    public var container: String?
    public var follow = false
    /// The log of the container's previous (terminated) instance.
    public var previous = false
    public var tailLines: Int?
    public var since: Date?
    public var timestamps = false
    public var limitBytes: Int?

    public init(namespace: String, pod: String) {
        self.namespace = namespace
        self.pod = pod
    }
}

/// Who serves pods' logs: the node running them (the apiserver asks the kubelet).
public protocol KubePodLogSource: Sendable {
    /// The log's bytes, as they come (following: until the container stops); throws a
    /// `KubeAPIError` when the pod or container has none to give.
    func logs(_ request: KubePodLogRequest) throws -> AsyncStream<[UInt8]>
}
