import BerthEngine
import BerthKubeAPI
import BerthRuntime
import CBerth
import Foundation

/// `kubectl port-forward`: connections to a pod's loopback, made from inside the pod's network
/// namespace (the sandbox's), so servers bound to 127.0.0.1 in the pod are reachable as they are
/// with a real kubelet.
extension Kubelet: KubePodPortForwarder {
    public func checkPortForward(namespace: String, pod: String) throws {
        _ = try sandbox(namespace: namespace, pod: pod)
    }

    public func connect(namespace: String, pod: String, port: UInt16) async throws -> Int32 {
        let sandbox = try sandbox(namespace: namespace, pod: pod)
        do {
            return try await Self.connectInNamespace(pid: sandbox.state.pid, port: port)
        } catch let error as KubePortForwardError {
            // The message a CRI runtime gives, which kubectl prints after "an error occurred forwarding".
            throw KubePortForwardError("error forwarding port \(port) to pod \(sandbox.id), uid : failed to connect to localhost:\(port) "
                                       + "inside namespace \"\(sandbox.id)\", IPv4: dial tcp4 127.0.0.1:\(port): \(error.message)")
        }
    }

    /// The running sandbox container of a running pod.
    private func sandbox(namespace: String, pod name: String) throws -> ContainerRecord {
        let pod = try context.store.get(KubeResourceRegistry.pods, namespace: namespace, name: name).decode(Pod.self)
        guard pod.status?.phase == "Running" else {
            throw KubeAPIError.badRequest("pod \(name) is not running (phase \(pod.status?.phase ?? "Pending"))")
        }
        let records = try context.engine.listContainersNow(ContainerListOptions(all: true)).filter {
            $0.config.labels[PodContainerNaming.podUIDLabel] == pod.metadata.uid
        }
        guard let sandbox = PodWorker.instances(of: PodContainerNaming.sandboxContainerName, in: records).last,
              sandbox.state.running, sandbox.state.pid > 0 else {
            throw KubeAPIError.badRequest("pod \(name) has no running sandbox on this node")
        }
        return sandbox
    }

    /// Creates and connects a TCP socket to 127.0.0.1:`port` on a thread of its own that entered
    /// the network namespace of process `pid` (setns applies to the calling thread only, and a
    /// socket belongs to the namespace it was created in; the thread ends afterwards, so no pool
    /// thread ever changes namespace).
    static func connectInNamespace(pid: Int32, port: UInt16) async throws -> Int32 {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try connectHere(namespacePath: "/proc/\(pid)/ns/net", port: port) })
            }
            thread.start()
        }
    }

    private static func connectHere(namespacePath: String, port: UInt16) throws -> Int32 {
        let namespace = open(namespacePath, O_RDONLY | O_CLOEXEC)
        guard namespace >= 0 else { throw KubePortForwardError("open \(namespacePath): \(String(cString: strerror(errno)))") }
        defer { close(namespace) }
        guard berth_enter_network_namespace(namespace) == 0 else {
            throw KubePortForwardError("enter the network namespace \(namespacePath): \(String(cString: strerror(errno)))")
        }
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw KubePortForwardError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno)).lowercased()
            close(socket)
            throw KubePortForwardError("connect: \(reason)")
        }
        return socket
    }
}
