import BerthEngine
import BerthKubeAPI
import BerthNetwork
import BerthOCI
import BerthRuntime
import Foundation

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

/// Makes and removes pod sandboxes: a container named after PodContainerNaming's "POD" that runs
/// only `berth-pause` and holds the pod's network namespace on the `berth-pods` bridge; the pod's
/// containers join that namespace (`--network container:<id>`), so they reach each other on
/// localhost and share the pod's IP. The sandbox has no image: its root filesystem is empty but
/// for the static pause binary bound into it, so no pause image has to be pulled or built.
struct PodSandboxes: Sendable {
    /// The Berth network pods get their addresses on.
    static let networkName = "berth-pods"
    let engine: Engine
    /// The cluster's address plan: the pods' subnet is its pod CIDR.
    let network: KubeClusterNetwork

    /// Whether `network`'s pod subnet is free on this host for the root of `engine`: no interface
    /// but that root's own pod bridge has an address in it.
    static func podSubnetIsFree(_ network: KubeClusterNetwork, engine: Engine) -> Bool {
        let own = (try? engine.network(networkName))?.bridge?.bridge
        return HostAddress.interfaces(inSubnet: network.podCIDR).subtracting(own.map { [$0] } ?? []).isEmpty
    }

    /// Creates the pods' network unless it exists with the plan's subnet (a daemon that had to
    /// take another plan after a restart makes it anew, once no pod is on it).
    func ensureNetwork() async throws {
        let engine = engine, subnet = network.podCIDR
        try await engine.blocking {
            if let existing = try? engine.network(Self.networkName) {
                guard existing.bridge?.subnet != subnet, (try? engine.removeNetwork(Self.networkName)) != nil else { return }
            }
            var options = NetworkCreateOptions(name: Self.networkName)
            options.subnet = subnet
            options.labels = ["io.berth.kubelet": "pods"]
            _ = try engine.createNetwork(options)
        }
    }

    /// The pause program installed next to `berth-monitor` (and `berth`).
    var pauseExecutable: String {
        URL(fileURLWithPath: engine.runtime.monitorExecutable).deletingLastPathComponent().appendingPathComponent("berth-pause").path
    }

    /// Creates and starts the sandbox of `pod` (attempt `attempt`), publishing its containers' host ports.
    func create(pod: Pod, attempt: Int) async throws -> PodSandboxInfo {
        let hostNetwork = pod.spec.hostNetwork ?? false
        var host = ContainerRecord.HostConfig(networkMode: hostNetwork ? "host" : Self.networkName)
        for container in pod.spec.containers {
            for port in container.ports ?? [] where (port.hostPort ?? 0) > 0 && !hostNetwork {
                let proto = (port.protocol ?? "TCP").lowercased()
                let address = port.hostIP.map { $0 + ":" } ?? ""
                host.publish.append("\(address)\(port.hostPort ?? 0):\(port.containerPort)/\(proto)")
            }
        }
        let hostname = hostNetwork ? ProcessInfo.processInfo.hostName : Self.hostname(of: pod)
        var options = RunOptions(image: "", entrypoint: ["/pause"],
                                 name: PodContainerNaming.runtimeName(container: PodContainerNaming.sandboxContainerName,
                                                                      pod: pod.metadata, attempt: attempt),
                                 hostname: hostname,
                                 labels: PodContainerNaming.labels(container: PodContainerNaming.sandboxContainerName,
                                                                   pod: pod.metadata, attempt: attempt),
                                 stopSignal: "SIGTERM", hostConfig: host)
        options.mounts = [MountPoint(type: .bind, source: pauseExecutable, destination: "/pause", readWrite: false)]
        let image = ContainerImage(id: "", config: ContainerConfig(), layers: [])
        let engine = engine, run = options
        let record = try await engine.blocking { try engine.runtime.create(run, image: image) }
        do {
            try await engine.startContainer(record.id)
        } catch {
            // A sandbox that could not start holds nothing: it goes, and the next pass tries anew.
            await remove(record.id)
            throw error
        }
        let started = try await engine.container(record.id)
        return Self.info(started, hostNetwork: hostNetwork)
    }

    /// What a running sandbox container gives its pod.
    static func info(_ record: ContainerRecord, hostNetwork: Bool) -> PodSandboxInfo {
        PodSandboxInfo(containerID: record.id, networkMode: hostNetwork ? "host" : "container:\(record.id)",
                       podIP: hostNetwork ? NodeAgent.hostIP() : record.network.ipAddress,
                       hostname: record.config.hostname)
    }

    /// The pod's host name: `spec.hostname`, else its name (at most 63 characters, as the kubelet cuts it).
    static func hostname(of pod: Pod) -> String {
        let name = pod.spec.hostname ?? pod.metadata.name ?? ""
        return String(name.prefix(63)).trimmingCharacters(in: CharacterSet(charactersIn: "-."))
    }

    /// Stops and removes a sandbox: the network namespace goes with its last process, and with
    /// it the veth; the runtime releases the address and the port rules.
    func remove(_ id: String) async {
        try? await engine.killContainer(id)
        try? await engine.removeContainer(id, force: true)
    }
}
