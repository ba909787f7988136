/// What the node asks the service proxy before it stops a pod: a terminating pod's endpoints turn
/// not ready, the proxy then stops sending it new connections, and only after that does the
/// kubelet run preStop hooks and send SIGTERM, so no new connection meets a pod that is going away.
public protocol KubeTrafficGate: Sendable {
    /// Returns once no Service routes new connections to `podIP`, or after `timeout` at the latest
    /// (an endpoint that stays routed, such as a Service's last serving one, must not hold a pod's
    /// termination up for long).
    func waitUntilUnrouted(_ podIP: String, timeout: Duration) async
}
