import BerthEngine
import BerthKubeAPI
import BerthRuntime
import Foundation
import Glibc

/// `kubectl top`: the usage of the node's pods' running containers from their cgroups (CPU time,
/// and memory in use less the inactive file cache), and of the whole host from /proc, as
/// metrics-server reports what the kubelet measures.
extension Kubelet: KubeMetricsSource {
    public func podMetrics(namespace: String?, name: String?) async throws -> [KubePodMetrics] {
        let context = context
        var pods: [Pod]
        if let namespace, let name {
            guard let object = try? context.store.get(KubeResourceRegistry.pods, namespace: namespace, name: name) else { return [] }
            pods = [try object.decode(Pod.self)]
        } else {
            pods = try context.store.list(KubeResourceRegistry.pods, namespace: namespace).items.map { try $0.decode(Pod.self) }
        }
        pods = pods.filter { $0.spec.nodeName == context.nodeName }
        let uids = Set(pods.compactMap(\.metadata.uid))
        let containers = try context.engine.listContainersNow(ContainerListOptions()).filter { record in
            let labels = record.config.labels
            return record.state.running && uids.contains(labels[PodContainerNaming.podUIDLabel] ?? "")
                && labels[PodContainerNaming.containerNameLabel] != PodContainerNaming.sandboxContainerName
        }
        let runtime = context.engine.runtime
        let rates = try await context.usageMeter.measure({
            var readings: [String: UsageReading] = [:]
            for record in containers {
                guard let usage = try? runtime.usage(of: record) else { continue }
                readings[record.id] = UsageReading(cpuNanoseconds: usage.cpuNanoseconds, memoryBytes: usage.memoryUsage,
                                                   instant: .now, time: .now)
            }
            return readings
        }, blocking: { try await context.engine.blocking($0) })
        return pods.compactMap { pod in
            let measured = containers.filter { $0.config.labels[PodContainerNaming.podUIDLabel] == pod.metadata.uid }
                .compactMap { record in
                    rates[record.id].map { (name: record.config.labels[PodContainerNaming.containerNameLabel] ?? "", rate: $0) }
                }
            guard let first = measured.first else { return nil }
            let order = (pod.spec.initContainers ?? []).map(\.name) + pod.spec.containers.map(\.name)
            let sorted = measured.sorted { (order.firstIndex(of: $0.name) ?? .max) < (order.firstIndex(of: $1.name) ?? .max) }
            return KubePodMetrics(name: pod.metadata.name ?? "", namespace: pod.metadata.namespace ?? "", labels: pod.metadata.labels ?? [:],
                                  timestamp: first.rate.timestamp, window: measured.map(\.rate.window).min() ?? first.rate.window,
                                  containers: sorted.map { KubePodMetrics.Container(name: $0.name, usage: $0.rate.usage) })
        }
    }

    public func nodeMetrics() async throws -> [KubeNodeMetrics] {
        let context = context
        let node = try context.store.get(KubeResourceRegistry.nodes, namespace: nil, name: context.nodeName)
        let rates = try await context.usageMeter.measure({
            guard let reading = HostUsage.read() else { return [:] }
            return [HostUsage.key: reading]
        }, blocking: { try await context.engine.blocking($0) })
        guard let rate = rates[HostUsage.key] else { return [] }
        return [KubeNodeMetrics(name: context.nodeName, labels: node.stringMap(at: ["metadata", "labels"]) ?? [:],
                                timestamp: rate.timestamp, window: rate.window, usage: rate.usage)]
    }
}

/// The whole host's usage. CPU: the busy time of /proc/stat's first line (every field but idle
/// and iowait). Memory: the working set as cAdvisor counts the root cgroup's, memory in use
/// less the inactive file cache: MemTotal − MemFree − Inactive(file) of /proc/meminfo.
enum HostUsage {
    /// The node's key among the meter's readings (container ids are hexadecimal).
    static let key = "node"

    static func read() -> UsageReading? {
        // Read to the end: String(contentsOfFile:) stops after a page of a /proc file.
        let text = { (path: String) in FileHandle(forReadingAtPath: path).map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) } ?? "" }
        guard let cpu = busyNanoseconds(stat: text("/proc/stat"), ticksPerSecond: UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))),
              let memory = workingSetBytes(meminfo: text("/proc/meminfo")) else { return nil }
        return UsageReading(cpuNanoseconds: cpu, memoryBytes: memory, instant: .now, time: .now)
    }

    /// All CPUs' busy time since boot from /proc/stat's `cpu` line (user nice system idle
    /// iowait irq softirq steal; guest time is already in user).
    static func busyNanoseconds(stat: String, ticksPerSecond: UInt64) -> UInt64? {
        guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let ticks = line.split(separator: " ").dropFirst().prefix(8).compactMap { UInt64($0) }
        guard ticks.count >= 5 else { return nil }
        let busy = ticks.enumerated().filter { $0.offset != 3 && $0.offset != 4 }.map(\.element).reduce(0, +)
        return busy * (1_000_000_000 / ticksPerSecond)
    }

    /// MemTotal − MemFree − Inactive(file), in bytes.
    static func workingSetBytes(meminfo: String) -> UInt64? {
        var values: [String: UInt64] = [:]
        for line in meminfo.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[0].hasSuffix(":"), let value = UInt64(fields[1]) else { continue }
            values[String(fields[0].dropLast())] = value * 1024
        }
        guard let total = values["MemTotal"], let free = values["MemFree"] else { return nil }
        let used = total > free ? total - free : 0
        let inactive = values["Inactive(file)"] ?? 0
        return used > inactive ? used - inactive : used
    }
}
