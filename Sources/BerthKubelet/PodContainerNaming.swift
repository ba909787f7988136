import BerthKubeAPI

/// How the node names and labels the containers of a pod in the container runtime, so that
/// `berth ps` shows which pod a container belongs to and a restarted daemon finds its pods' containers
/// again (the names and labels dockershim gave Kubernetes containers on Docker).
public enum PodContainerNaming {
    public static let podNameLabel = "io.kubernetes.pod.name"
    public static let podNamespaceLabel = "io.kubernetes.pod.namespace"
    public static let podUIDLabel = "io.kubernetes.pod.uid"
    public static let containerNameLabel = "io.kubernetes.container.name"
    /// Which attempt at running the container this is (its restart count when it started).
    public static let attemptLabel = "io.kubernetes.container.restartCount"
    /// The name of the container holding the pod's namespaces.
    public static let sandboxContainerName = "POD"

    /// `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`.
    public static func runtimeName(container: String, pod: ObjectMeta, attempt: Int) -> String {
        "k8s_\(container)_\(pod.name ?? "")_\(pod.namespace ?? "")_\(pod.uid ?? "")_\(attempt)"
    }

    /// The labels a pod's container carries.
    public static func labels(container: String, pod: ObjectMeta, attempt: Int) -> [String: String] {
        [podNameLabel: pod.name ?? "", podNamespaceLabel: pod.namespace ?? "", podUIDLabel: pod.uid ?? "",
         containerNameLabel: container, attemptLabel: String(attempt)]
    }
}
