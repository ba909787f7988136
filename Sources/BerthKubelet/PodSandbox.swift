/// What a pod's sandbox gives the containers of the pod: the container that holds the pod's
/// network namespace, how the app containers join it, and the pod's address and host name.
public struct PodSandboxInfo: Sendable, Equatable {
    /// The runtime ID of the sandbox ("POD") container.
    public var containerID: String
    /// The `--network` of the pod's containers: `container:<sandbox id>`, or `host` for a
    /// `hostNetwork` pod.
    public var networkMode: String
    /// The pod's IP address (the host's for a `hostNetwork` pod).
    public var podIP: String
    /// The host name the pod's containers see (the pod's `spec.hostname` or name; the node's
    /// for a `hostNetwork` pod).
    public var hostname: String

    public init(containerID: String, networkMode: String, podIP: String, hostname: String) {
        self.containerID = containerID
        self.networkMode = networkMode
        self.podIP = podIP
        self.hostname = hostname
    }
}
