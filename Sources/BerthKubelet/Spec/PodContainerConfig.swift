import BerthEngine
import BerthKubeAPI
import BerthTemplate

// Stand-in for kubelet-spec's PodContainerConfig, PodVolumes and PodImages (same signatures), so
// the pod lifecycle builds and runs before that work lands: when merging, take kubelet-spec's
// version of this file.

public struct PodVolumes: Sendable {
    public static func prepare(pod: Pod, podObject: OrderedJSON, store: KubeObjectStore, engine: Engine, root: String) async throws -> PodVolumes {
        PodVolumes()
    }

    public func refresh(pod: Pod, store: KubeObjectStore, engine: Engine) async throws -> [String] { [] }

    public func release() async throws {}
}

public enum PodImages {
    public static func ensure(pod: Pod, container: Container, store: KubeObjectStore, engine: Engine) async throws {}
}

public struct PodContainerConfig {
    public static func make(pod: Pod, podObject: OrderedJSON, container: Container, sandbox: PodSandboxInfo, store: KubeObjectStore,
                            engine: Engine, volumes: PodVolumes) async throws -> ContainerCreateOptions {
        var options = ContainerCreateOptions(image: container.image ?? "")
        if let command = container.command {
            options.entrypoint = command
            options.command = container.args ?? []
        } else if let args = container.args {
            options.command = args
        }
        options.env = (container.env ?? []).map { "\($0.name)=\($0.value ?? "")" }
        options.networkMode = sandbox.networkMode
        options.hostname = sandbox.hostname
        return options
    }
}
