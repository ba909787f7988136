import BerthEngine
import BerthKubeAPI
import BerthNetwork
import BerthTemplate
import Foundation
import Glibc

/// The Node object of this host: registered at start, its conditions' heartbeats renewed every
/// 10 s (upstream's node status update frequency), so `kubectl get nodes` shows it Ready.
struct NodeAgent: Sendable {
    static let kubeletVersion = "v1.32.0-berth"
    static let maxPods = 110

    let store: KubeObjectStore
    let nodeName: String
    let startTime: String

    /// Registers or refreshes the node.
    func heartbeat() throws {
        let now = Date.now.formatted(.iso8601)
        let existing = try? store.get(KubeResourceRegistry.nodes, namespace: nil, name: nodeName)
        var node = existing ?? OrderedJSON.object([
            ("apiVersion", .string("v1")), ("kind", .string("Node")),
            ("metadata", .object([("name", .string(nodeName))])),
            ("spec", .object([])),
        ])
        var labels = node.stringMap(at: ["metadata", "labels"]) ?? [:]
        labels["kubernetes.io/hostname"] = nodeName
        labels["kubernetes.io/os"] = "linux"
        labels["kubernetes.io/arch"] = Self.architecture
        labels["beta.kubernetes.io/os"] = "linux"
        labels["beta.kubernetes.io/arch"] = Self.architecture
        node = node.setting(["metadata", "labels"], to: .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        let previous = (try? node.value(at: ["status", "conditions"])?.decode([NodeCondition].self)) ?? []
        let conditions = [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ].map { type, status, reason, message in
            let before = previous.first { $0.type == type }
            return NodeCondition(type: type, status: status, lastHeartbeatTime: now,
                                 lastTransitionTime: before?.status == status ? before?.lastTransitionTime ?? now : now,
                                 reason: reason, message: message)
        }
        let resources = Self.capacity()
        let status = OrderedJSON.object([
            ("capacity", resources), ("allocatable", resources),
            ("conditions", try OrderedJSON(encoding: conditions)),
            ("addresses", .array([
                .object([("type", .string("InternalIP")), ("address", .string(Self.hostIP()))]),
                .object([("type", .string("Hostname")), ("address", .string(nodeName))]),
            ])),
            ("daemonEndpoints", .object([("kubeletEndpoint", .object([("Port", .int(10250))]))])),
            ("nodeInfo", Self.nodeInfo()),
        ])
        node = node.setting(["status"], to: status)
        if existing == nil {
            _ = try store.create(KubeResourceRegistry.nodes, namespace: nil, object: node)
        } else {
            _ = try store.replace(KubeResourceRegistry.nodes, namespace: nil, name: nodeName, object: node)
        }
    }

    /// The node's capacity: its CPUs, memory and root file system, and 110 pods.
    static func capacity() -> OrderedJSON {
        let memory = ProcessInfo.processInfo.physicalMemory
        var disk = statvfs()
        statvfs("/", &disk)
        let storage = UInt64(disk.f_blocks) * UInt64(disk.f_frsize)
        return .object([
            ("cpu", .string(String(ProcessInfo.processInfo.activeProcessorCount))),
            ("ephemeral-storage", .string("\(storage / 1024)Ki")),
            ("memory", .string("\(memory / 1024)Ki")),
            ("pods", .string(String(maxPods))),
        ])
    }

    /// Millicores and bytes the node offers pods.
    static func allocatable() -> (milliCPU: Int64, memory: Int64) {
        (Int64(ProcessInfo.processInfo.activeProcessorCount) * 1000, Int64(ProcessInfo.processInfo.physicalMemory))
    }

    static var architecture: String {
        #if arch(arm64)
        "arm64"
        #else
        "amd64"
        #endif
    }

    static func nodeInfo() -> OrderedJSON {
        var names = utsname()
        uname(&names)
        let kernel = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let osImage = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { String($0.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "Linux"
        let read = { (path: String) in
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return .object([
            ("architecture", .string(architecture)),
            ("bootID", .string(read("/proc/sys/kernel/random/boot_id"))),
            ("containerRuntimeVersion", .string("berth://\(Engine.version)")),
            ("kernelVersion", .string(kernel)),
            ("kubeProxyVersion", .string("")),
            ("kubeletVersion", .string(kubeletVersion)),
            ("machineID", .string(read("/etc/machine-id"))),
            ("operatingSystem", .string("linux")),
            ("osImage", .string(osImage)),
            ("systemUUID", .string(read("/sys/class/dmi/id/product_uuid"))),
        ])
    }

    /// The node's InternalIP: the host's primary address.
    static func hostIP() -> String { HostAddress.primary() }
}

struct NodeCondition: Codable, Sendable, Equatable {
    var type: String
    var status: String
    var lastHeartbeatTime: String?
    var lastTransitionTime: String?
    var reason: String?
    var message: String?
}
