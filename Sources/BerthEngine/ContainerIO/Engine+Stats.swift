import BerthOCI
import BerthRuntime
import Foundation

/// One sample of `GET /containers/{id}/stats` (Docker's StatsResponse): this reading in
/// `cpu_stats` and friends, the one before in `precpu_stats`, so a client computes CPU % from
/// the two as the docker CLI does.
public struct ContainerStatsSample: Encodable, Sendable {
    public struct CPUUsage: Encodable, Sendable {
        var total_usage: UInt64 = 0
        var usage_in_kernelmode: UInt64 = 0
        var usage_in_usermode: UInt64 = 0
    }

    public struct Throttling: Encodable, Sendable {
        var periods: UInt64 = 0
        var throttled_periods: UInt64 = 0
        var throttled_time: UInt64 = 0
    }

    public struct CPUStats: Encodable, Sendable {
        var cpu_usage = CPUUsage()
        var system_cpu_usage: UInt64?
        var online_cpus: Int?
        var throttling_data = Throttling()
    }

    public struct MemoryStats: Encodable, Sendable {
        var usage: UInt64?
        var stats: [String: UInt64]?
        var limit: UInt64?
    }

    public struct PidsStats: Encodable, Sendable {
        var current: UInt64?
    }

    public struct BlkioEntry: Encodable, Sendable {
        var major: UInt64 = 0
        var minor: UInt64 = 0
        var op: String
        var value: UInt64
    }

    public struct BlkioStats: Encodable, Sendable {
        var io_service_bytes_recursive: [BlkioEntry]?
        var io_serviced_recursive: [BlkioEntry]?
        var io_queue_recursive: [BlkioEntry]?
        var io_service_time_recursive: [BlkioEntry]?
        var io_wait_time_recursive: [BlkioEntry]?
        var io_merged_recursive: [BlkioEntry]?
        var io_time_recursive: [BlkioEntry]?
        var sectors_recursive: [BlkioEntry]?
    }

    public struct NetworkStats: Encodable, Sendable {
        var rx_bytes: UInt64
        var rx_packets: UInt64 = 0
        var rx_errors: UInt64 = 0
        var rx_dropped: UInt64 = 0
        var tx_bytes: UInt64
        var tx_packets: UInt64 = 0
        var tx_errors: UInt64 = 0
        var tx_dropped: UInt64 = 0
    }

    var name: String
    var id: String
    var read: String
    var preread: String
    var pids_stats = PidsStats()
    var blkio_stats = BlkioStats()
    var num_procs = 0
    var storage_stats: [String: UInt64] = [:]
    var cpu_stats = CPUStats()
    var precpu_stats = CPUStats()
    var memory_stats = MemoryStats()
    var networks: [String: NetworkStats]?

    /// Go's zero time, which dockerd reports for a reading it does not have.
    static let zeroTime = "0001-01-01T00:00:00Z"

    init(record: ContainerRecord, reading: ResourceUsage?, at time: Date, previous: ResourceUsage?, previousTime: Date?) {
        name = "/" + record.name
        id = record.id
        read = reading == nil ? Self.zeroTime : Timestamp.format(time)
        preread = previousTime.map { Timestamp.format($0) } ?? Self.zeroTime
        guard let reading else { return }
        cpu_stats = Self.cpu(reading)
        if let previous { precpu_stats = Self.cpu(previous) }
        memory_stats = MemoryStats(usage: reading.memoryUsage, stats: [:], limit: reading.memoryLimit)
        pids_stats = PidsStats(current: reading.pids)
        blkio_stats.io_service_bytes_recursive = [BlkioEntry(op: "read", value: reading.blockRead),
                                                  BlkioEntry(op: "write", value: reading.blockWritten)]
        if record.hostConfig.networkMode != "host", record.hostConfig.networkMode != "none" {
            networks = ["eth0": NetworkStats(rx_bytes: reading.networkReceived, tx_bytes: reading.networkSent)]
        }
    }

    private static func cpu(_ reading: ResourceUsage) -> CPUStats {
        CPUStats(cpu_usage: CPUUsage(total_usage: reading.cpuNanoseconds), system_cpu_usage: reading.systemNanoseconds,
                 online_cpus: reading.onlineCPUs)
    }
}

/// A container with two readings of its resource use (nil where it could not be read), from
/// which a front end shows CPU % as the docker CLI computes it.
public struct ContainerUsage: Sendable {
    public let record: ContainerRecord
    public let earlier: ResourceUsage?
    public let later: ResourceUsage?
}

extension Engine {
    /// The gap between the two readings of a one-time sample with a previous reading.
    static let statsSampleInterval: UInt64 = 500_000_000

    /// Reads the resource use of the containers `references` names (none: the running ones, or
    /// every one with `all`) twice, `statsSampleInterval` apart, for `stats` in the CLI.
    public func sampleUsage(_ references: [String], all: Bool) async throws -> [ContainerUsage] {
        let runtime = runtime
        let records = try references.isEmpty
            ? runtime.list().filter { all || $0.state.running }
            : references.map { try runtime.container($0) }
        let read = { @Sendable in records.map { try? runtime.usage(of: $0) } }
        let earlier = try await blocking(read)
        try await Task.sleep(nanoseconds: Self.statsSampleInterval)
        let later = try await blocking(read)
        return records.indices.map { ContainerUsage(record: records[$0], earlier: earlier[$0], later: later[$0]) }
    }

    /// Samples a container's resource use: once (`oneShot`: no previous reading), or, streaming
    /// or not, with a previous reading half a second earlier, then (`stream`) every second until
    /// the container stops or `deliver` fails. A stopped container gives one empty sample, as
    /// with dockerd.
    public func stats(_ reference: String, stream: Bool, oneShot: Bool,
                      deliver: (ContainerStatsSample) async throws -> Void) async throws {
        let runtime = runtime
        let record = try runtime.container(reference)
        func reading() async -> (ResourceUsage?, Date) {
            let now = Date()
            let current = try? runtime.container(record.id)
            guard let current, current.state.running else { return (nil, now) }
            return (try? await blocking { try runtime.usage(of: current) }, now)
        }
        var (previous, previousTime) = await reading()
        if oneShot, !stream {
            try await deliver(ContainerStatsSample(record: record, reading: previous, at: previousTime, previous: nil, previousTime: nil))
            return
        }
        if previous != nil { try await Task.sleep(nanoseconds: Self.statsSampleInterval) }
        while true {
            let (current, time) = await reading()
            try await deliver(ContainerStatsSample(record: record, reading: current, at: time,
                                                   previous: previous, previousTime: previous == nil ? nil : previousTime))
            guard stream, current != nil else { return }
            (previous, previousTime) = (current, time)
            try await Task.sleep(nanoseconds: 1_000_000_000)
        }
    }
}
