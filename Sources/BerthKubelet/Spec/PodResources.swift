import BerthKubeAPI
import Foundation

/// A container's `resources` as the node applies them to its cgroup, with the kubelet's arithmetic.
public struct ContainerResources: Sendable, Equatable {
    /// The CFS period the kubelet uses (100 ms), in microseconds.
    public static let cpuPeriod: Int64 = 100_000
    /// The smallest CFS quota the kubelet sets (1 ms).
    static let minimumQuota: Int64 = 1000
    /// The CPU shares of a container that requests no CPU, and the most there can be.
    static let minimumShares: Int64 = 2
    static let maximumShares: Int64 = 262_144

    /// Memory limit in bytes; 0 is none.
    public var memory: Int64 = 0
    /// CFS quota per `cpuPeriod` in microseconds; 0 is none.
    public var cpuQuota: Int64 = 0
    public var cpuShares: Int64

    public init(_ requirements: ResourceRequirements?) {
        let limits = Self.parsed(requirements?.limits)
        let requests = Self.requests(requirements)
        memory = limits["memory"]?.value ?? 0
        if let cpu = limits["cpu"], !cpu.isZero {
            cpuQuota = max(cpu.milliValue * Self.cpuPeriod / 1000, Self.minimumQuota)
        }
        let requested = requests["cpu"]?.milliValue ?? 0
        cpuShares = min(max(requested * 1024 / 1000, Self.minimumShares), Self.maximumShares)
    }

    /// The requests, each defaulting to its limit as the API server defaults them.
    static func requests(_ requirements: ResourceRequirements?) -> [String: KubeQuantity] {
        parsed(requirements?.limits).merging(parsed(requirements?.requests)) { _, request in request }
    }

    static func parsed(_ map: [String: String]?) -> [String: KubeQuantity] {
        (map ?? [:]).compactMapValues(KubeQuantity.parsing)
    }
}

/// A pod's quality-of-service class (`status.qosClass`), from its containers' CPU and memory.
public enum PodQOSClass: String, Sendable {
    /// Every container limits CPU and memory and requests exactly that.
    case guaranteed = "Guaranteed"
    /// Neither limits nor requests in any container.
    case bestEffort = "BestEffort"
    case burstable = "Burstable"

    public init(_ spec: PodSpec) {
        let computeResources = ["cpu", "memory"]
        var requested: [String: Int128] = [:]
        var limited: [String: Int128] = [:]
        var guaranteed = true
        for container in (spec.initContainers ?? []) + spec.containers {
            let limits = ContainerResources.parsed(container.resources?.limits)
            for (name, quantity) in ContainerResources.requests(container.resources)
            where computeResources.contains(name) && !quantity.isZero {
                requested[name, default: 0] += quantity.nanos
            }
            for name in computeResources {
                guard let quantity = limits[name], !quantity.isZero else {
                    guaranteed = false
                    continue
                }
                limited[name, default: 0] += quantity.nanos
            }
        }
        if requested.isEmpty && limited.isEmpty {
            self = .bestEffort
        } else if guaranteed && requested == limited {
            self = .guaranteed
        } else {
            self = .burstable
        }
    }
}
