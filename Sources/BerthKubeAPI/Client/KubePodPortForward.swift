/// Who opens connections to pods' ports for `pods/<name>/portforward`: the node running them
/// (the apiserver asks the kubelet, which connects inside the pod's network namespace).
public protocol KubePodPortForwarder: Sendable {
    /// Checks that the pod exists and runs on this node; throws the `KubeAPIError` to answer
    /// the request with otherwise (before the connection is upgraded).
    func checkPortForward(namespace: String, pod: String) throws

    /// A TCP connection to `port` on the pod's loopback (127.0.0.1), made inside the pod's network
    /// namespace so that a server listening on localhost only is reached: the connected socket's
    /// descriptor, which the caller then owns. Throws `KubePortForwardError` when the connection
    /// fails.
    func connect(namespace: String, pod: String, port: UInt16) async throws -> Int32
}

/// A forwarded connection that could not be made, in the words the client shows.
public struct KubePortForwardError: Error, CustomStringConvertible, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
