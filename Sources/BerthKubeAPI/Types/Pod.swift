/// core/v1 Pod, as far as the node and the controllers read it. Field names are the API's.
public struct Pod: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    public var spec: PodSpec
    public var status: PodStatus?
}

public struct PodTemplateSpec: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta?
    public var spec: PodSpec
}

public struct PodSpec: Codable, Sendable, Equatable {
    public var containers: [Container]
    public var initContainers: [Container]?
    public var volumes: [Volume]?
    public var restartPolicy: String?
    public var terminationGracePeriodSeconds: Int?
    public var activeDeadlineSeconds: Int?
    public var nodeName: String?
    public var hostNetwork: Bool?
    public var hostIPC: Bool?
    public var hostPID: Bool?
    public var shareProcessNamespace: Bool?
    public var hostname: String?
    public var subdomain: String?
    public var serviceAccountName: String?
    public var securityContext: PodSecurityContext?
    public var imagePullSecrets: [LocalObjectReference]?
    /// ClusterFirst (the default), ClusterFirstWithHostNet, Default or None.
    public var dnsPolicy: String?
    public var dnsConfig: PodDNSConfig?
    public var hostAliases: [HostAlias]?
}

/// Name servers, search domains and resolver options added to (or, with `dnsPolicy: None`,
/// making up) the pod's resolv.conf.
public struct PodDNSConfig: Codable, Sendable, Equatable {
    public struct Option: Codable, Sendable, Equatable {
        public var name: String?
        public var value: String?
    }

    public var nameservers: [String]?
    public var searches: [String]?
    public var options: [Option]?
}

/// Host names the kubelet writes into the pod's /etc/hosts for `ip`.
public struct HostAlias: Codable, Sendable, Equatable {
    public var ip: String?
    public var hostnames: [String]?
}

public struct LocalObjectReference: Codable, Sendable, Equatable {
    public var name: String?
}

public struct Container: Codable, Sendable, Equatable {
    public var name: String
    public var image: String?
    public var command: [String]?
    public var args: [String]?
    public var workingDir: String?
    public var ports: [ContainerPort]?
    public var env: [EnvVar]?
    public var envFrom: [EnvFromSource]?
    public var resources: ResourceRequirements?
    public var volumeMounts: [VolumeMount]?
    public var livenessProbe: Probe?
    public var readinessProbe: Probe?
    public var startupProbe: Probe?
    public var lifecycle: Lifecycle?
    public var imagePullPolicy: String?
    public var securityContext: SecurityContext?
    public var stdin: Bool?
    public var stdinOnce: Bool?
    public var tty: Bool?
    /// An init container with `restartPolicy: Always` is a sidecar.
    public var restartPolicy: String?
}

public struct ContainerPort: Codable, Sendable, Equatable {
    public var name: String?
    public var containerPort: Int
    public var hostPort: Int?
    public var hostIP: String?
    public var `protocol`: String?
}

public struct EnvVar: Codable, Sendable, Equatable {
    public var name: String
    public var value: String?
    public var valueFrom: EnvVarSource?
}

public struct EnvVarSource: Codable, Sendable, Equatable {
    public struct KeySelector: Codable, Sendable, Equatable {
        public var name: String?
        public var key: String
        public var optional: Bool?
    }

    public struct FieldSelector: Codable, Sendable, Equatable {
        public var fieldPath: String
        public var apiVersion: String?
    }

    public struct ResourceFieldSelector: Codable, Sendable, Equatable {
        public var containerName: String?
        public var resource: String
        public var divisor: String?
    }

    public var configMapKeyRef: KeySelector?
    public var secretKeyRef: KeySelector?
    public var fieldRef: FieldSelector?
    public var resourceFieldRef: ResourceFieldSelector?
}

public struct EnvFromSource: Codable, Sendable, Equatable {
    public struct Reference: Codable, Sendable, Equatable {
        public var name: String?
        public var optional: Bool?
    }

    public var prefix: String?
    public var configMapRef: Reference?
    public var secretRef: Reference?
}

/// Quantities stay in their API spelling (`500m`, `128Mi`); `KubeQuantity` parses them.
public struct ResourceRequirements: Codable, Sendable, Equatable {
    public var limits: [String: String]?
    public var requests: [String: String]?
}

public struct VolumeMount: Codable, Sendable, Equatable {
    public var name: String
    public var mountPath: String
    public var subPath: String?
    /// A subPath with `$(VAR)` references to the container's environment.
    public var subPathExpr: String?
    public var readOnly: Bool?
}

public struct Probe: Codable, Sendable, Equatable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    public var initialDelaySeconds: Int?
    public var timeoutSeconds: Int?
    public var periodSeconds: Int?
    public var successThreshold: Int?
    public var failureThreshold: Int?
    public var terminationGracePeriodSeconds: Int?
}

public struct ExecAction: Codable, Sendable, Equatable {
    public var command: [String]?
}

public struct HTTPGetAction: Codable, Sendable, Equatable {
    public struct Header: Codable, Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public var path: String?
    public var port: IntOrString
    public var host: String?
    public var scheme: String?
    public var httpHeaders: [Header]?
}

public struct TCPSocketAction: Codable, Sendable, Equatable {
    public var port: IntOrString
    public var host: String?
}

public struct Lifecycle: Codable, Sendable, Equatable {
    public struct Handler: Codable, Sendable, Equatable {
        public var exec: ExecAction?
        public var httpGet: HTTPGetAction?
        public var tcpSocket: TCPSocketAction?
        public var sleep: Sleep?
    }

    public struct Sleep: Codable, Sendable, Equatable {
        public var seconds: Int
    }

    public var postStart: Handler?
    public var preStop: Handler?
}

public struct SecurityContext: Codable, Sendable, Equatable {
    public struct Capabilities: Codable, Sendable, Equatable {
        public var add: [String]?
        public var drop: [String]?
    }

    public var runAsUser: Int?
    public var runAsGroup: Int?
    public var runAsNonRoot: Bool?
    public var readOnlyRootFilesystem: Bool?
    public var privileged: Bool?
    public var allowPrivilegeEscalation: Bool?
    public var capabilities: Capabilities?
    public var seccompProfile: SeccompProfile?
}

public struct SeccompProfile: Codable, Sendable, Equatable {
    /// `RuntimeDefault`, `Unconfined` or `Localhost`.
    public var type: String
    public var localhostProfile: String?
}

public struct PodSecurityContext: Codable, Sendable, Equatable {
    public var runAsUser: Int?
    public var runAsGroup: Int?
    public var runAsNonRoot: Bool?
    public var fsGroup: Int?
    public var supplementalGroups: [Int]?
    public var seccompProfile: SeccompProfile?
}

public struct Volume: Codable, Sendable, Equatable {
    public struct EmptyDir: Codable, Sendable, Equatable {
        public var medium: String?
        public var sizeLimit: String?
    }

    public struct KeyToPath: Codable, Sendable, Equatable {
        public var key: String
        public var path: String
        public var mode: Int?
    }

    public struct ConfigMapSource: Codable, Sendable, Equatable {
        public var name: String?
        public var items: [KeyToPath]?
        public var defaultMode: Int?
        public var optional: Bool?
    }

    public struct SecretSource: Codable, Sendable, Equatable {
        public var secretName: String?
        public var items: [KeyToPath]?
        public var defaultMode: Int?
        public var optional: Bool?
    }

    public struct ClaimSource: Codable, Sendable, Equatable {
        public var claimName: String
        public var readOnly: Bool?
    }

    public struct HostPath: Codable, Sendable, Equatable {
        public var path: String
        public var type: String?
    }

    public struct DownwardAPIFile: Codable, Sendable, Equatable {
        public var path: String
        public var fieldRef: EnvVarSource.FieldSelector?
        public var resourceFieldRef: EnvVarSource.ResourceFieldSelector?
        public var mode: Int?
    }

    public struct DownwardAPISource: Codable, Sendable, Equatable {
        public var items: [DownwardAPIFile]?
        public var defaultMode: Int?
    }

    public struct ProjectedSource: Codable, Sendable, Equatable {
        /// A projected Secret names it `name` (a secret volume says `secretName`).
        public struct SecretProjection: Codable, Sendable, Equatable {
            public var name: String?
            public var items: [KeyToPath]?
            public var optional: Bool?
        }

        public struct Projection: Codable, Sendable, Equatable {
            public var configMap: ConfigMapSource?
            public var secret: SecretProjection?
            public var downwardAPI: DownwardAPISource?
        }

        public var sources: [Projection]?
        public var defaultMode: Int?
    }

    public var name: String
    public var emptyDir: EmptyDir?
    public var configMap: ConfigMapSource?
    public var secret: SecretSource?
    public var persistentVolumeClaim: ClaimSource?
    public var hostPath: HostPath?
    public var downwardAPI: DownwardAPISource?
    public var projected: ProjectedSource?
}

public struct PodStatus: Codable, Sendable, Equatable {
    public var phase: String?
    public var conditions: [PodCondition]?
    public var hostIP: String?
    public var podIP: String?
    public var podIPs: [PodIP]?
    public var startTime: String?
    public var reason: String?
    public var message: String?
    public var qosClass: String?
    public var initContainerStatuses: [ContainerStatus]?
    public var containerStatuses: [ContainerStatus]?

    public init() {}
}

public struct PodIP: Codable, Sendable, Equatable {
    public var ip: String
}

public struct PodCondition: Codable, Sendable, Equatable {
    public var type: String
    public var status: String
    public var lastProbeTime: String?
    public var lastTransitionTime: String?
    public var reason: String?
    public var message: String?
}

public struct ContainerStatus: Codable, Sendable, Equatable {
    public var name: String
    public var state: ContainerState?
    public var lastState: ContainerState?
    public var ready: Bool
    public var started: Bool?
    public var restartCount: Int
    public var image: String
    public var imageID: String
    public var containerID: String?
}

public struct ContainerState: Codable, Sendable, Equatable {
    public struct Waiting: Codable, Sendable, Equatable {
        public var reason: String?
        public var message: String?
    }

    public struct Running: Codable, Sendable, Equatable {
        public var startedAt: String?
    }

    public struct Terminated: Codable, Sendable, Equatable {
        public var exitCode: Int
        public var signal: Int?
        public var reason: String?
        public var message: String?
        public var startedAt: String?
        public var finishedAt: String?
        public var containerID: String?
    }

    public var waiting: Waiting?
    public var running: Running?
    public var terminated: Terminated?
}
