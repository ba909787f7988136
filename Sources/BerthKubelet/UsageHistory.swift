import BerthKubeAPI
import Foundation
import Synchronization

/// One reading of a cumulative CPU counter and of memory in use.
struct UsageReading: Sendable, Equatable {
    /// CPU time used so far, in nanoseconds.
    var cpuNanoseconds: UInt64
    /// The working set at the time of the reading, in bytes.
    var memoryBytes: UInt64
    /// When it was taken, for windows (monotonic).
    var instant: ContinuousClock.Instant
    /// When it was taken, for timestamps.
    var time: Date
}

/// A usage measured between two readings.
struct UsageRate: Sendable, Equatable {
    var usage: KubeResourceUsage
    var timestamp: Date
    var window: Duration
}

/// The recent readings of each measured thing (a container by id, or the node), so that CPU, a
/// rate, can be answered from the window since an earlier reading instead of waiting for a new
/// one. Readings kept are at least `minimumWindow` apart and at most `maximumWindow` old.
struct UsageHistory: Sendable {
    static let minimumWindow = Duration.seconds(1)
    static let maximumWindow = Duration.seconds(60)

    private var readings: [String: [UsageReading]] = [:]

    /// The newest reading of `key` that is a usable start of a window ending at `instant`.
    func baseline(for key: String, at instant: ContinuousClock.Instant) -> UsageReading? {
        readings[key]?.last { reading in
            let age = reading.instant.duration(to: instant)
            return age >= Self.minimumWindow && age <= Self.maximumWindow
        }
    }

    /// Keeps `reading` of `key` (unless the newest kept one is under `minimumWindow` older) and
    /// forgets readings too old to start a window, and things not read for that long.
    mutating func record(_ key: String, _ reading: UsageReading) {
        var kept = readings[key] ?? []
        if let newest = kept.last, newest.instant.duration(to: reading.instant) < Self.minimumWindow {
            return
        }
        kept.append(reading)
        kept.removeAll { $0.instant.duration(to: reading.instant) > Self.maximumWindow }
        readings[key] = kept
        readings = readings.filter { _, kept in
            guard let newest = kept.last else { return false }
            return newest.instant.duration(to: reading.instant) <= Self.maximumWindow
        }
    }

    /// The CPU rate in nanocores between two readings, and the later reading's memory. A counter
    /// that went back (a reset) counts as idle.
    static func rate(from earlier: UsageReading, to later: UsageReading) -> UsageRate {
        let window = earlier.instant.duration(to: later.instant)
        let (seconds, attoseconds) = window.components
        let windowNanos = Int128(seconds) * 1_000_000_000 + Int128(attoseconds / 1_000_000_000)
        var nanocores: UInt64 = 0
        if windowNanos > 0, later.cpuNanoseconds >= earlier.cpuNanoseconds {
            let used = Int128(later.cpuNanoseconds - earlier.cpuNanoseconds)
            nanocores = UInt64(clamping: used * 1_000_000_000 / windowNanos)
        }
        return UsageRate(usage: KubeResourceUsage(cpuNanocores: nanocores, memoryBytes: later.memoryBytes),
                         timestamp: later.time, window: window)
    }
}

/// Measures usage for the Metrics API: reads now, and answers from the window since a kept
/// reading when every thing read has one between 1 and 60 s old; otherwise waits a second and
/// reads again, as a fresh metrics-server needs two scrapes before it answers.
final class UsageMeter: Sendable {
    private let history = Mutex(UsageHistory())

    /// The rates of the things `read` returns (keyed), for the ones read both times when it had
    /// to read twice.
    func measure(_ read: @escaping @Sendable () throws -> [String: UsageReading],
                 blocking: @Sendable (@escaping @Sendable () throws -> [String: UsageReading]) async throws -> [String: UsageReading])
        async throws -> [String: UsageRate] {
        var current = try await blocking(read)
        let complete = history.withLock { history in
            let complete = current.allSatisfy { key, reading in history.baseline(for: key, at: reading.instant) != nil }
            for (key, reading) in current { history.record(key, reading) }
            return complete
        }
        if !complete {
            try await Task.sleep(for: UsageHistory.minimumWindow)
            current = try await blocking(read)
            history.withLock { history in
                for (key, reading) in current { history.record(key, reading) }
            }
        }
        // Baselines come from the readings kept before this one was recorded, or from this
        // request's first reading: either is at least a second older.
        return history.withLock { history in
            var rates: [String: UsageRate] = [:]
            for (key, reading) in current {
                if let baseline = history.baseline(for: key, at: reading.instant) {
                    rates[key] = UsageHistory.rate(from: baseline, to: reading)
                }
            }
            return rates
        }
    }
}
