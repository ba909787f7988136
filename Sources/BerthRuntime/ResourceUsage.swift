import Foundation
import Glibc

/// A reading of a running container's resource use, from its cgroups (v1, hybrid or v2) and its
/// network namespace, with what `stats` needs to show Docker's columns.
public struct ResourceUsage: Sendable {
    /// CPU time the container has used, in nanoseconds.
    public var cpuNanoseconds: UInt64
    /// All CPUs' time since boot, in nanoseconds (the denominator of CPU %).
    public var systemNanoseconds: UInt64
    public var onlineCPUs: Int
    /// Memory in use less the inactive page cache, as Docker counts it.
    public var memoryUsage: UInt64
    /// The memory limit, or the host's memory when unlimited.
    public var memoryLimit: UInt64
    public var networkReceived: UInt64
    public var networkSent: UInt64
    public var blockRead: UInt64
    public var blockWritten: UInt64
    public var pids: UInt64

    /// CPU % between two readings, as Docker computes it: the container's share of all CPU time
    /// in the interval, times the number of CPUs.
    public static func cpuPercent(from earlier: ResourceUsage, to later: ResourceUsage) -> Double {
        let container = Double(later.cpuNanoseconds &- earlier.cpuNanoseconds)
        let system = Double(later.systemNanoseconds &- earlier.systemNanoseconds)
        guard system > 0, container >= 0, later.cpuNanoseconds >= earlier.cpuNanoseconds else { return 0 }
        return container / system * Double(later.onlineCPUs) * 100
    }
}

extension ContainerRuntime {
    /// Reads the container's current resource use; throws if it is not running.
    public func usage(of record: ContainerRecord, cgroupBase base: String = "/sys/fs/cgroup") throws -> ResourceUsage {
        guard record.state.running else { throw RuntimeError.notRunning(record.id) }
        let relative = CgroupLayout.path(for: record.id)
        func text(_ path: String) -> String {
            (try? Files.read(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        func number(_ path: String) -> UInt64 { UInt64(text(path).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
        func keyed(_ content: String, _ key: String) -> UInt64 {
            for line in content.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count == 2, fields[0] == Substring(key) { return UInt64(fields[1]) ?? 0 }
            }
            return 0
        }
        let hostMemory = UInt64(sysconf(Int32(_SC_PHYS_PAGES))) * UInt64(sysconf(Int32(_SC_PAGESIZE)))
        var usage = ResourceUsage(
            cpuNanoseconds: 0, systemNanoseconds: Self.systemCPUNanoseconds(), onlineCPUs: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
            memoryUsage: 0, memoryLimit: hostMemory, networkReceived: 0, networkSent: 0, blockRead: 0, blockWritten: 0, pids: 0)
        switch layout {
        case .v2:
            let directory = base + relative
            usage.cpuNanoseconds = keyed(text(directory + "/cpu.stat"), "usage_usec") * 1000
            let stat = text(directory + "/memory.stat")
            usage.memoryUsage = number(directory + "/memory.current") &- keyed(stat, "inactive_file")
            if let limit = UInt64(text(directory + "/memory.max").trimmingCharacters(in: .whitespacesAndNewlines)) {
                usage.memoryLimit = min(limit, hostMemory)
            }
            usage.pids = number(directory + "/pids.current")
            for line in text(directory + "/io.stat").split(separator: "\n") {
                for field in line.split(separator: " ") {
                    if field.hasPrefix("rbytes=") { usage.blockRead += UInt64(field.dropFirst(7)) ?? 0 }
                    if field.hasPrefix("wbytes=") { usage.blockWritten += UInt64(field.dropFirst(7)) ?? 0 }
                }
            }
        case .v1, .hybrid:
            usage.cpuNanoseconds = number(base + "/cpuacct" + relative + "/cpuacct.usage")
            let memory = base + "/memory" + relative
            let stat = text(memory + "/memory.stat")
            let used = number(memory + "/memory.usage_in_bytes")
            let inactive = keyed(stat, "total_inactive_file")
            usage.memoryUsage = used > inactive ? used - inactive : used
            usage.memoryLimit = min(number(memory + "/memory.limit_in_bytes"), hostMemory)
            if usage.memoryLimit == 0 { usage.memoryLimit = hostMemory }
            usage.pids = number(base + "/pids" + relative + "/pids.current")
            for line in text(base + "/blkio" + relative + "/blkio.throttle.io_service_bytes").split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count == 3, let bytes = UInt64(fields[2]) else { continue }
                if fields[1] == "Read" { usage.blockRead += bytes }
                if fields[1] == "Write" { usage.blockWritten += bytes }
            }
        }
        // The container's interfaces, from its init's view of /proc/net/dev (loopback excluded).
        for line in text("/proc/\(record.state.pid)/net/dev").split(separator: "\n").dropFirst(2) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) != "lo" else { continue }
            let fields = parts[1].split(separator: " ")
            guard fields.count >= 9 else { continue }
            usage.networkReceived += UInt64(fields[0]) ?? 0
            usage.networkSent += UInt64(fields[8]) ?? 0
        }
        return usage
    }

    /// The first line of /proc/stat in nanoseconds: all CPUs' time since boot.
    static func systemCPUNanoseconds() -> UInt64 {
        guard let bytes = try? Files.read("/proc/stat"),
              let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first else { return 0 }
        let ticks = line.split(separator: " ").dropFirst().prefix(8).compactMap { UInt64($0) }.reduce(0, +)
        let perSecond = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        return ticks * (1_000_000_000 / perSecond)
    }
}
