import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

/// What `kube generate` writes: a Pod or a Deployment (the default) and, on request, a NodePort
/// Service for the published ports.
public struct KubeGenerateOptions: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case pod, deployment
    }

    public var kind: Kind
    /// Also write a Service of type NodePort; the pod then publishes no hostPort.
    public var service: Bool
    /// The Deployment's replicas (written when above 1, as 1 is Kubernetes' default).
    public var replicas: Int

    public init(kind: Kind = .deployment, service: Bool = false, replicas: Int = 1) {
        self.kind = kind
        self.service = service
        self.replicas = replicas
    }
}

/// One container to translate: its record and what its image sets, so the manifest carries only
/// what the user changed (Kubernetes takes the rest from the image again).
public struct KubeGenerateSource: Sendable {
    public var container: ContainerRecord
    public var image: ContainerConfig?
    /// Bind sources that exist on the host: true for directories, false for files.
    public var bindSourceIsDirectory: [String: Bool]

    public init(container: ContainerRecord, image: ContainerConfig?, bindSourceIsDirectory: [String: Bool] = [:]) {
        self.container = container
        self.image = image
        self.bindSourceIsDirectory = bindSourceIsDirectory
    }
}

/// Containers → Kubernetes manifests, as `podman kube generate` translates them: all the given
/// containers become the containers of one pod, named after the first container (`NAME-pod`).
/// Pure: the engine gathers the records and image configs.
public enum KubeManifestGenerator {
    /// Why containers cannot be expressed as the requested manifests.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// The manifests in the order `kubectl apply -f` needs them: claims, the Service, the workload.
    public static func documents(_ sources: [KubeGenerateSource], options: KubeGenerateOptions) throws -> [OrderedJSON] {
        guard let first = sources.first else { throw Failure(description: "kube generate needs at least one container") }
        let podName = dnsLabel(first.container.name) + "-pod"
        let selector: OrderedJSON = .object([("app", .string(podName))])

        var containers: [OrderedJSON] = []
        var volumes: [OrderedJSON] = []
        var claims: [String] = []
        var usedVolumeNames: Set<String> = []
        var servicePorts: [OrderedJSON] = []
        var labels: [(String, OrderedJSON)] = []
        var annotations: [(String, OrderedJSON)] = []
        var hostNetwork = false
        var hostname: String?
        for source in sources {
            let record = source.container
            let name = dnsLabel(record.name)
            if record.hostConfig.networkMode == "host" { hostNetwork = true }
            if hostname == nil, !record.config.hostname.isEmpty, !record.id.hasPrefix(record.config.hostname),
               isDNSLabel(record.config.hostname) {
                hostname = record.config.hostname
            }
            // The container's own labels (not the image's): valid label pairs label the pod, the
            // others are kept as annotations.
            for (key, value) in record.config.labels.sorted(by: { $0.key < $1.key })
            where source.image?.Labels?[key] != value && !labels.contains(where: { $0.0 == key }) && key != "app" {
                if isLabelKey(key) && isLabelValue(value) {
                    labels.append((key, .string(value)))
                } else {
                    annotations.append(("\(key)/\(name)", .string(value)))
                }
            }

            var ports: [OrderedJSON] = []
            var seen: Set<String> = []
            for binding in record.network.ports.sorted(by: { ($0.containerPort, $0.hostPort) < ($1.containerPort, $1.hostPort) }) {
                let proto = binding.proto.uppercased()
                guard seen.insert("\(binding.containerPort)/\(proto)/\(binding.hostPort)").inserted else { continue }
                let hostIP = ["", "0.0.0.0", "::"].contains(binding.hostIP) ? nil : binding.hostIP
                ports.append(object([
                    ("containerPort", .int(binding.containerPort)),
                    ("hostIP", options.service ? nil : hostIP.map(OrderedJSON.string)),
                    ("hostPort", options.service || binding.hostPort == 0 ? nil : .int(binding.hostPort)),
                    ("protocol", proto == "TCP" ? nil : .string(proto)),
                ]))
                if options.service, binding.hostPort != 0 {
                    let nodePort = (30000...32767).contains(Int(binding.hostPort)) ? OrderedJSON.int(binding.hostPort) : nil
                    servicePorts.append(object([
                        ("name", .string(proto == "TCP" ? "\(binding.containerPort)" : "\(binding.containerPort)-\(proto.lowercased())")),
                        ("nodePort", nodePort),
                        ("port", .int(binding.containerPort)),
                        ("protocol", proto == "TCP" ? nil : .string(proto)),
                        ("targetPort", .int(binding.containerPort)),
                    ]))
                }
            }

            var mounts: [OrderedJSON] = []
            for mount in record.mounts {
                let volume: OrderedJSON
                var volumeName: String
                switch mount.type {
                case .volume where !mount.anonymous:
                    volumeName = dnsLabel(mount.name)
                    if !claims.contains(volumeName) { claims.append(volumeName) }
                    volume = object([("persistentVolumeClaim", .object([("claimName", .string(volumeName))]))])
                case .volume:
                    volumeName = dnsLabel(record.name + "-" + mount.destination)
                    volume = .object([("emptyDir", .object([]))])
                case .bind:
                    volumeName = dnsLabel(mount.source) + "-host"
                    let type = source.bindSourceIsDirectory[mount.source].map { $0 ? "Directory" : "File" } ?? "DirectoryOrCreate"
                    volume = .object([("hostPath", .object([("path", .string(mount.source)), ("type", .string(type))]))])
                case .tmpfs:
                    volumeName = dnsLabel(record.name + "-" + mount.destination)
                    volume = .object([("emptyDir", .object([("medium", .string("Memory"))]))])
                }
                volumeName = unique(volumeName, in: &usedVolumeNames)
                volumes.append(.object([("name", .string(volumeName))] + members(volume)))
                mounts.append(object([
                    ("mountPath", .string(mount.destination)),
                    ("name", .string(volumeName)),
                    ("readOnly", mount.readWrite ? nil : .bool(true)),
                ]))
            }

            let (command, args) = commandAndArgs(record.config, image: source.image)
            let imageEnv = Set(source.image?.Env ?? [])
            let env = record.config.env.filter { !imageEnv.contains($0) && $0.contains("=") && !Self.runtimeEnv.contains($0) }
            let workingDir = record.config.workingDir
            containers.append(object([
                ("name", .string(name)),
                ("image", .string(record.imageName)),
                ("imagePullPolicy", pullsAlways(record.imageName) ? .string("IfNotPresent") : nil),
                ("command", command.map(OrderedJSON.strings)),
                ("args", args.map(OrderedJSON.strings)),
                ("workingDir", workingDir.isEmpty || workingDir == (source.image?.WorkingDir ?? "") || (workingDir == "/" && source.image?.WorkingDir == nil)
                    ? nil : .string(workingDir)),
                ("env", env.isEmpty ? nil : .array(env.map { entry in
                    let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    return .object([("name", .string(String(parts[0]))), ("value", .string(String(parts[1])))])
                })),
                ("ports", ports.isEmpty ? nil : .array(ports)),
                ("resources", resources(record.hostConfig)),
                ("securityContext", securityContext(record, image: source.image)),
                ("stdin", record.config.openStdin ? .bool(true) : nil),
                ("tty", record.config.tty ? .bool(true) : nil),
                ("volumeMounts", mounts.isEmpty ? nil : .array(mounts)),
            ]))
        }

        let restartPolicy = try self.restartPolicy(first.container.hostConfig.restartPolicy.name, kind: options.kind)
        let podLabels: OrderedJSON = .object([("app", .string(podName))] + labels)
        let podSpec = object([
            ("containers", .array(containers)),
            ("hostNetwork", hostNetwork ? .bool(true) : nil),
            ("hostname", hostname.map(OrderedJSON.string)),
            ("restartPolicy", restartPolicy.map(OrderedJSON.string)),
            ("volumes", volumes.isEmpty ? nil : .array(volumes)),
        ])
        let podMetadata = object([
            ("annotations", annotations.isEmpty ? nil : .object(annotations)),
            ("labels", podLabels),
            ("name", options.kind == .pod ? .string(podName) : nil),
        ])

        var documents: [OrderedJSON] = claims.map { claim in
            .object([
                ("apiVersion", .string("v1")), ("kind", .string("PersistentVolumeClaim")),
                ("metadata", .object([("name", .string(claim))])),
                ("spec", .object([
                    ("accessModes", .array([.string("ReadWriteOnce")])),
                    ("resources", .object([("requests", .object([("storage", .string("1Gi"))]))])),
                ])),
            ])
        }
        if options.service {
            guard !servicePorts.isEmpty else {
                throw Failure(description: "a Service needs published ports: \(first.container.name) publishes none (run it with -p)")
            }
            documents.append(.object([
                ("apiVersion", .string("v1")), ("kind", .string("Service")),
                ("metadata", .object([("labels", .object([("app", .string(podName))])), ("name", .string(podName))])),
                ("spec", .object([("ports", .array(servicePorts)), ("selector", selector), ("type", .string("NodePort"))])),
            ]))
        }
        switch options.kind {
        case .pod:
            documents.append(.object([("apiVersion", .string("v1")), ("kind", .string("Pod")), ("metadata", podMetadata), ("spec", podSpec)]))
        case .deployment:
            documents.append(.object([
                ("apiVersion", .string("apps/v1")), ("kind", .string("Deployment")),
                ("metadata", .object([("labels", .object([("app", .string(podName))])), ("name", .string(podName + "-deployment"))])),
                ("spec", object([
                    ("replicas", options.replicas > 1 ? .int(options.replicas) : nil),
                    ("selector", .object([("matchLabels", selector)])),
                    ("template", .object([("metadata", podMetadata), ("spec", podSpec)])),
                ])),
            ]))
        }
        return documents
    }

    /// Variables the runtime sets in every container rather than the user or the image.
    static let runtimeEnv: Set<String> = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

    /// Whether Kubernetes would default the image's pull policy to Always (a `latest` tag or none,
    /// no digest). The image is in the local store but often in no registry, so the manifest asks
    /// for IfNotPresent: `berth serve` then runs the store's image instead of failing to pull it.
    static func pullsAlways(_ image: String) -> Bool {
        guard !image.contains("@") else { return false }
        let lastComponent = image.split(separator: "/").last ?? Substring(image)
        guard let colon = lastComponent.lastIndex(of: ":") else { return true }
        return lastComponent[lastComponent.index(after: colon)...] == "latest"
    }

    /// Kubernetes' `command` replaces the image's ENTRYPOINT and `args` its CMD; a `command` alone
    /// drops the image's CMD. So: the entrypoint when it differs from the image's (with the
    /// container's CMD as args), else the CMD as args when it differs.
    static func commandAndArgs(_ config: ContainerRecord.Config, image: ContainerConfig?) -> (command: [String]?, args: [String]?) {
        let imageEntrypoint = image?.Entrypoint ?? []
        let imageCmd = image?.Cmd ?? []
        if config.entrypoint != imageEntrypoint {
            if config.entrypoint.isEmpty { return (config.cmd.isEmpty ? nil : config.cmd, nil) }
            return (config.entrypoint, config.cmd.isEmpty ? nil : config.cmd)
        }
        if config.cmd != imageCmd, !config.cmd.isEmpty { return (nil, config.cmd) }
        return (nil, nil)
    }

    /// Docker's restart policy as the pod's: Deployments allow only Always (Kubernetes' default,
    /// so nothing is written); Docker's default `no` leaves a Deployment's pods restarting as
    /// Kubernetes does, and becomes Never for a bare Pod.
    static func restartPolicy(_ name: String, kind: KubeGenerateOptions.Kind) throws -> String? {
        let policy: String? = switch name {
        case "always", "unless-stopped": "Always"
        case "on-failure": "OnFailure"
        case "no", "": kind == .pod ? "Never" : nil
        default: nil
        }
        if kind == .deployment, let policy, policy != "Always" {
            throw Failure(description: "Kubernetes Deployments only restart Always: the container's restart policy is \(name) (use --type pod)")
        }
        return policy == "Always" && kind == .deployment ? nil : policy
    }

    static func resources(_ host: ContainerRecord.HostConfig) -> OrderedJSON? {
        var limits: [(String, OrderedJSON)] = []
        var milliCPUs: Int64 = 0
        if host.nanoCPUs > 0 {
            milliCPUs = host.nanoCPUs / 1_000_000
        } else if host.cpuQuota > 0 {
            milliCPUs = host.cpuQuota * 1000 / (host.cpuPeriod > 0 ? host.cpuPeriod : 100_000)
        }
        if milliCPUs > 0 { limits.append(("cpu", .string(milliCPUs % 1000 == 0 ? "\(milliCPUs / 1000)" : "\(milliCPUs)m"))) }
        if host.memory > 0 { limits.append(("memory", .string(quantity(host.memory)))) }
        return limits.isEmpty ? nil : .object([("limits", .object(limits))])
    }

    /// Bytes as a Kubernetes quantity with the largest binary suffix that keeps it exact.
    static func quantity(_ bytes: Int64) -> String {
        for (suffix, shift) in [("Gi", 30), ("Mi", 20), ("Ki", 10)] where bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }

    static func securityContext(_ record: ContainerRecord, image: ContainerConfig?) -> OrderedJSON? {
        let host = record.hostConfig
        func capability(_ name: String) -> OrderedJSON {
            let upper = name.uppercased()
            return .string(upper.hasPrefix("CAP_") ? String(upper.dropFirst(4)) : upper)
        }
        var capabilities: [(String, OrderedJSON)] = []
        if !host.capAdd.isEmpty { capabilities.append(("add", .array(host.capAdd.map(capability)))) }
        if !host.capDrop.isEmpty { capabilities.append(("drop", .array(host.capDrop.map(capability)))) }
        // Kubernetes takes numeric IDs only; a user name stays with the image's passwd file.
        var runAsUser: OrderedJSON?
        var runAsGroup: OrderedJSON?
        let user = record.config.user
        if !user.isEmpty, user != (image?.User ?? "") {
            let parts = user.split(separator: ":", maxSplits: 1)
            if let uid = Int64(parts[0]) { runAsUser = .int(uid) }
            if parts.count == 2, let gid = Int64(parts[1]) { runAsGroup = .int(gid) }
        }
        let context = object([
            ("capabilities", capabilities.isEmpty ? nil : .object(capabilities)),
            ("privileged", host.privileged ? .bool(true) : nil),
            ("readOnlyRootFilesystem", host.readonlyRootfs ? .bool(true) : nil),
            ("runAsGroup", runAsGroup),
            ("runAsUser", runAsUser),
        ])
        return members(context).isEmpty ? nil : context
    }

    // MARK: Names

    /// A name as an RFC 1123 label (what Kubernetes wants for container, volume and object
    /// names): lowercase letters, digits and inner dashes, at most 63 characters.
    static func dnsLabel(_ name: String) -> String {
        var label = ""
        for character in name.lowercased() {
            if character.isASCII && (character.isLetter || character.isNumber) {
                label.append(character)
            } else if !label.isEmpty && label.last != "-" {
                label.append("-")
            }
        }
        label = String(label.prefix(55))
        while label.hasSuffix("-") { label.removeLast() }
        return label.isEmpty ? "container" : label
    }

    static func unique(_ name: String, in used: inout Set<String>) -> String {
        var candidate = name
        var index = 1
        while !used.insert(candidate).inserted {
            candidate = "\(name)-\(index)"
            index += 1
        }
        return candidate
    }

    static func isDNSLabel(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 63 && dnsLabel(name) == name
    }

    /// `[prefix/]name`: a DNS subdomain prefix, and a name of up to 63 alphanumerics, `-`, `_`, `.`
    /// beginning and ending alphanumeric.
    static func isLabelKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last, !name.isEmpty, isLabelValue(String(name)) else { return false }
        if parts.count == 2 {
            let prefix = parts[0]
            guard !prefix.isEmpty, prefix.count <= 253 else { return false }
            return prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel(String($0)) }
        }
        return true
    }

    static func isLabelValue(_ value: String) -> Bool {
        guard value.count <= 63 else { return false }
        if value.isEmpty { return true }
        let alphanumeric = { (character: Character) in character.isASCII && (character.isLetter || character.isNumber) }
        guard let first = value.first, let last = value.last, alphanumeric(first), alphanumeric(last) else { return false }
        return value.allSatisfy { alphanumeric($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    // MARK: JSON helpers

    /// An object of the members that are present.
    static func object(_ members: [(String, OrderedJSON?)]) -> OrderedJSON {
        .object(members.compactMap { key, value in value.map { (key, $0) } })
    }

    static func members(_ value: OrderedJSON) -> [(String, OrderedJSON)] {
        if case .object(let members) = value { return members }
        return []
    }
}
