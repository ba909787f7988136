import BerthEngine
import BerthKubeAPI
import BerthTemplate

/// A pod's container as the engine creates it: the one `ContainerCreateOptions` that `berth run`
/// fills, here filled from the pod spec with Kubernetes' meaning (command and args over the
/// image's, the resolved environment, volume mounts, security context, resources as cgroup limits),
/// joined to the pod's sandbox. The caller names and labels the container (`PodContainerNaming`).
public enum PodContainerConfig {
    /// Builds the options; a `PodSpecError` (`CreateContainerConfigError`) says why the container
    /// cannot be created yet. `recorder` hears the kubelet's warnings (skipped env keys).
    /// The container joins `sandbox`'s network and host name.
    public static func make(pod: Pod, podObject: OrderedJSON, container: Container, sandbox: PodSandboxInfo,
                            store: KubeObjectStore, engine: Engine, volumes: PodVolumes,
                            recorder: KubeEventRecorder? = nil) async throws -> ContainerCreateOptions {
        let (networkMode, podIP, hostname) = (sandbox.networkMode, sandbox.podIP, sandbox.hostname)
        let image = container.image ?? ""
        let imageUser = try await engine.blocking { () -> String in
            guard let record = try? engine.image(named: image) else { return "" }
            return try engine.store().config(of: record).config?.User ?? ""
        }
        let podIPs = podIP.isEmpty ? DownwardAPI(pod: pod).podIPs : [podIP]
        let hostIPs = [pod.status?.hostIP].compactMap { $0 }
        let downwardAPI = DownwardAPI(pod: pod, podIPs: podIPs, hostIPs: hostIPs)
        let objects = PodObjectSource(store: store, namespace: pod.metadata.namespace ?? "default")
        let environment = try ContainerEnvironment(container: container, pod: pod, objects: objects, downwardAPI: downwardAPI)
        for warning in environment.warnings {
            recorder?.record(podObject, .warning, reason: "InvalidEnvironmentVariableNames", message: warning)
        }
        let command = ContainerCommand(container: container, environment: environment.entries)
        let security = try ContainerSecurity(pod: pod, container: container, imageUser: imageUser)
        let resources = ContainerResources(container.resources)

        var options = ContainerCreateOptions(image: image)
        options.entrypoint = command.entrypoint
        options.command = command.command
        options.env = environment.entries
        options.workingDir = container.workingDir
        options.tty = container.tty ?? false
        options.openStdin = container.stdin ?? false
        options.stdinOnce = container.stdinOnce ?? false
        options.networkMode = networkMode
        options.hostname = hostname
        if pod.spec.hostIPC == true { options.ipcMode = "host" }
        if pod.spec.hostPID == true {
            options.pidMode = "host"
        } else if pod.spec.shareProcessNamespace == true, networkMode.hasPrefix("container:") {
            options.pidMode = networkMode
        }
        options.user = security.user
        options.groupAdd = security.groupAdd
        options.readonlyRootfs = security.readonlyRootfs
        options.privileged = security.privileged
        options.capAdd = security.capAdd
        options.capDrop = security.capDrop
        options.securityOpt = security.securityOpt.isEmpty ? nil : security.securityOpt
        options.memory = resources.memory
        // Kubernetes gives containers no swap beyond their memory limit.
        options.memorySwap = resources.memory
        if resources.cpuQuota > 0 { (options.cpuPeriod, options.cpuQuota) = (ContainerResources.cpuPeriod, resources.cpuQuota) }
        options.cpuShares = resources.cpuShares
        options.mounts = try PodDNS.mounts(pod: pod, sandbox: sandbox, network: store.clusterNetwork, directory: volumes.directory)
            + volumes.mounts(for: container, environment: environment.entries)
        return options
    }
}
