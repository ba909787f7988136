import BerthKubeAPI
import Foundation

/// The pod's own facts that env `fieldRef`/`resourceFieldRef` and downwardAPI volume files expose.
public struct DownwardAPI: Sendable {
    public var pod: Pod
    public var podIPs: [String]
    public var hostIPs: [String]

    public init(pod: Pod, podIPs: [String], hostIPs: [String]) {
        self.pod = pod
        self.podIPs = podIPs
        self.hostIPs = hostIPs
    }

    /// The value of a `fieldRef`. `metadata.labels` and `metadata.annotations` (every entry,
    /// `key="value"` lines) are for volume files; the rest work in env too.
    public func value(fieldPath: String) throws -> String {
        let metadata = pod.metadata
        if let key = Self.key(fieldPath, of: "metadata.labels") { return metadata.labels?[key] ?? "" }
        if let key = Self.key(fieldPath, of: "metadata.annotations") { return metadata.annotations?[key] ?? "" }
        switch fieldPath {
        case "metadata.name": return metadata.name ?? ""
        case "metadata.namespace": return metadata.namespace ?? ""
        case "metadata.uid": return metadata.uid ?? ""
        case "metadata.labels": return Self.formatMap(metadata.labels ?? [:])
        case "metadata.annotations": return Self.formatMap(metadata.annotations ?? [:])
        case "spec.nodeName": return pod.spec.nodeName ?? ""
        case "spec.serviceAccountName": return pod.spec.serviceAccountName ?? ""
        case "status.hostIP": return hostIPs.first ?? ""
        case "status.hostIPs": return hostIPs.joined(separator: ",")
        case "status.podIP": return podIPs.first ?? ""
        case "status.podIPs": return podIPs.joined(separator: ",")
        default: throw PodSpecError.config("unsupported fieldPath: \(fieldPath)")
        }
    }

    /// The value of a `resourceFieldRef` about `container` (or the one it names): the quantity in
    /// units of its divisor, rounded up. A limit the container does not set is the node's allocatable amount.
    public func value(resource selector: EnvVarSource.ResourceFieldSelector, container: Container?) throws -> String {
        guard let container = selector.containerName.flatMap({ name in
            (pod.spec.containers + (pod.spec.initContainers ?? [])).first { $0.name == name }
        }) ?? container else {
            throw PodSpecError.config("cannot find container: \(selector.containerName ?? "")")
        }
        let parts = selector.resource.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, ["limits", "requests"].contains(parts[0]) else {
            throw PodSpecError.config("unsupported container resource : \(selector.resource)")
        }
        let limits = ContainerResources.parsed(container.resources?.limits)
        let requests = ContainerResources.requests(container.resources)
        let quantity: KubeQuantity
        if parts[0] == "limits" {
            quantity = limits[parts[1]].flatMap { $0.isZero ? nil : $0 } ?? Self.allocatable(parts[1])
        } else {
            quantity = requests[parts[1]] ?? KubeQuantity(whole: 0)
        }
        let divisor = selector.divisor.flatMap(KubeQuantity.parsing) ?? KubeQuantity(whole: 1)
        return String(quantity.dividedRoundingUp(by: divisor))
    }

    /// What the node offers of a resource: its CPUs, memory and the state root's file system.
    static func allocatable(_ resource: String) -> KubeQuantity {
        switch resource {
        case "cpu": return KubeQuantity(whole: Int64(ProcessInfo.processInfo.activeProcessorCount))
        case "memory": return KubeQuantity(whole: Int64(clamping: ProcessInfo.processInfo.physicalMemory))
        case "ephemeral-storage":
            let size = (try? FileManager.default.attributesOfFileSystem(forPath: "/")[.systemSize] as? NSNumber)?.int64Value ?? 0
            return KubeQuantity(whole: size)
        default: return KubeQuantity(whole: 0)
        }
    }

    /// `metadata.labels['key']` → `key`.
    private static func key(_ path: String, of field: String) -> String? {
        guard path.hasPrefix(field + "['"), path.hasSuffix("']") else { return nil }
        return String(path.dropFirst(field.count + 2).dropLast(2))
    }

    /// Every entry as `key="value"`, one a line, sorted by key, values quoted as Go's `%q` does.
    static func formatMap(_ map: [String: String]) -> String {
        map.keys.sorted().map { "\($0)=\(quoted(map[$0] ?? ""))" }.joined(separator: "\n")
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: out += String(format: "\\x%02x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
