import BerthKubeAPI

/// A container's effective security settings: its own `securityContext` over the pod's, as the
/// container's run options take them.
public struct ContainerSecurity: Sendable, Equatable {
    /// `--user` (`uid` or `uid:gid`); nil keeps the image's user.
    public var user: String?
    /// `--group-add`: the pod's fsGroup and supplemental groups.
    public var groupAdd: [String] = []
    public var readonlyRootfs = false
    public var privileged = false
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    /// `no-new-privileges` when privilege escalation is refused.
    public var securityOpt: [String] = []

    /// Resolves the settings; `imageUser` is the image's `User` (`Config.User`). A `runAsNonRoot`
    /// that the user breaks or that cannot be verified throws a `CreateContainerConfigError`.
    public init(pod: Pod, container: Container, imageUser: String) throws {
        let podContext = pod.spec.securityContext
        let context = container.securityContext
        let runAsUser = context?.runAsUser ?? podContext?.runAsUser
        let runAsGroup = context?.runAsGroup ?? podContext?.runAsGroup
        if context?.runAsNonRoot ?? podContext?.runAsNonRoot ?? false {
            try Self.verifyNonRoot(runAsUser: runAsUser, imageUser: imageUser, pod: pod, container: container.name)
        }
        switch (runAsUser, runAsGroup) {
        case let (user?, group?): self.user = "\(user):\(group)"
        case let (user?, nil): self.user = String(user)
        case let (nil, group?):
            let imageUserName = imageUser.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            self.user = "\(imageUserName.isEmpty ? "0" : imageUserName):\(group)"
        case (nil, nil): self.user = nil
        }
        groupAdd = ([podContext?.fsGroup].compactMap { $0 } + (podContext?.supplementalGroups ?? [])).map(String.init)
        readonlyRootfs = context?.readOnlyRootFilesystem ?? false
        privileged = context?.privileged ?? false
        capAdd = context?.capabilities?.add ?? []
        capDrop = context?.capabilities?.drop ?? []
        if context?.allowPrivilegeEscalation == false, !privileged { securityOpt = ["no-new-privileges"] }
        // Without a profile the kubelet runs containers unconfined (its seccomp default is off).
        switch context?.seccompProfile?.type ?? podContext?.seccompProfile?.type {
        case "RuntimeDefault": break
        case nil, "Unconfined": securityOpt.append("seccomp=unconfined")
        case let type?:
            throw PodSpecError.config("seccomp profile type \(type) is not supported by this node")
        }
    }

    /// `name_namespace(uid)`, as the kubelet names a pod in messages.
    static func describe(_ pod: Pod) -> String {
        "\(pod.metadata.name ?? "")_\(pod.metadata.namespace ?? "")(\(pod.metadata.uid ?? ""))"
    }

    private static func verifyNonRoot(runAsUser: Int?, imageUser: String, pod: Pod, container: String) throws {
        let suffix = "(pod: \"\(describe(pod))\", container: \(container))"
        if let runAsUser {
            if runAsUser == 0 { throw PodSpecError.config("container's runAsUser breaks non-root policy \(suffix)") }
            return
        }
        let user = imageUser.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        if user.isEmpty { throw PodSpecError.config("container has runAsNonRoot and image will run as root \(suffix)") }
        guard let uid = Int(user) else {
            throw PodSpecError.config("container has runAsNonRoot and image has non-numeric user (\(user)), cannot verify user is non-root \(suffix)")
        }
        if uid == 0 { throw PodSpecError.config("container has runAsNonRoot and image will run as root \(suffix)") }
    }
}
