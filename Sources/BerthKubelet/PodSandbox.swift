import BerthEngine
import BerthKubeAPI
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
    /// Where its /16 comes from: clear of Berth's own pools (10.77–10.127) and those the tests use
    /// (10.128 and up); the first one no interface of the host uses yet, so the nodes of daemons
    /// on other roots of this host (parallel tests) do not take each other's subnet.
    static let podCIDRs = (244...251).map { "10.\($0).0.0/16" }

    let engine: Engine

    /// Creates the pods' network unless it exists.
    func ensureNetwork() async throws {
        let engine = engine
        try await engine.blocking {
            let addresses = NodeAgent.hostAddresses()
            if let existing = try? engine.network(Self.networkName) {
                // Kept unless another root's bridge took its subnet meanwhile (its own bridge is
                // down while no pod runs): then, with no pod on it, it is made anew elsewhere.
                guard let bridge = existing.bridge, let subnet = Self.slash16(bridge.subnet),
                      addresses.contains(where: { $0.interface != bridge.bridge && Self.slash16($0.address) == subnet }),
                      (try? engine.removeNetwork(Self.networkName)) != nil else { return }
            }
            let used = Set(addresses.compactMap { Self.slash16($0.address) })
            guard let subnet = Self.podCIDRs.first(where: { !used.contains(Self.slash16($0) ?? "") }) else {
                throw EngineError.invalidParameter("no free pod subnet: \(Self.podCIDRs.joined(separator: ", ")) are all in use on this host")
            }
            var options = NetworkCreateOptions(name: Self.networkName)
            options.subnet = subnet
            options.labels = ["io.berth.kubelet": "pods"]
            _ = try engine.createNetwork(options)
        }
    }

    /// `10.244` of `10.244.0.1` or `10.244.0.0/16`.
    private static func slash16(_ address: String) -> String? {
        let octets = address.split(separator: "/")[0].split(separator: ".")
        return octets.count == 4 ? "\(octets[0]).\(octets[1])" : nil
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
