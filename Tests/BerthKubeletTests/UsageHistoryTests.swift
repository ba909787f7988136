@testable import BerthKubelet
import Foundation
import Testing

/// The Metrics API's CPU rates: windows between kept readings, and the host's readings from /proc.
struct UsageHistoryTests {
    private let start = ContinuousClock.now
    private let epoch = Date(timeIntervalSince1970: 1_800_000_000)

    private func reading(cpu: UInt64, memory: UInt64 = 4096, at seconds: Double) -> UsageReading {
        UsageReading(cpuNanoseconds: cpu, memoryBytes: memory, instant: start + .milliseconds(Int64(seconds * 1000)),
                     time: epoch.addingTimeInterval(seconds))
    }

    @Test func rateIsCPUTimeOverTheWindow() {
        let rate = UsageHistory.rate(from: reading(cpu: 1_000_000_000, at: 0), to: reading(cpu: 1_500_000_000, memory: 8192, at: 2))
        // Half a second of CPU in two seconds: a quarter of a core.
        #expect(rate.usage.cpuNanocores == 250_000_000)
        #expect(rate.usage.memoryBytes == 8192)
        #expect(rate.window == .seconds(2))
        #expect(rate.timestamp == epoch.addingTimeInterval(2))
        // A busy core over 10.5 s.
        #expect(UsageHistory.rate(from: reading(cpu: 0, at: 0), to: reading(cpu: 10_500_000_000, at: 10.5)).usage.cpuNanocores == 1_000_000_000)
    }

    @Test func aCounterThatWentBackIsIdle() {
        #expect(UsageHistory.rate(from: reading(cpu: 5_000, at: 0), to: reading(cpu: 10, at: 1)).usage.cpuNanocores == 0)
    }

    @Test func baselineIsTheNewestReadingAtLeastASecondOld() {
        var history = UsageHistory()
        history.record("c", reading(cpu: 0, at: 0))
        // Too young to start a window.
        #expect(history.baseline(for: "c", at: start + .milliseconds(500)) == nil)
        // Kept readings are a second apart at least: this one is dropped.
        history.record("c", reading(cpu: 1, at: 0.5))
        history.record("c", reading(cpu: 2, at: 1.5))
        #expect(history.baseline(for: "c", at: start + .milliseconds(2000))?.cpuNanoseconds == 0)
        #expect(history.baseline(for: "c", at: start + .milliseconds(2600))?.cpuNanoseconds == 2)
        #expect(history.baseline(for: "other", at: start + .seconds(5)) == nil)
    }

    @Test func readingsOlderThanAMinuteAreForgotten() {
        var history = UsageHistory()
        history.record("c", reading(cpu: 0, at: 0))
        history.record("gone", reading(cpu: 0, at: 0))
        #expect(history.baseline(for: "c", at: start + .seconds(61)) == nil)
        history.record("c", reading(cpu: 7, at: 70))
        #expect(history.baseline(for: "c", at: start + .seconds(72))?.cpuNanoseconds == 7)
        #expect(history.baseline(for: "gone", at: start + .seconds(50)) == nil)
    }

    @Test func hostBusyTimeLeavesOutIdleAndIOWait() {
        let stat = """
        cpu  100 20 30 5000 400 6 7 8 9 0
        cpu0 50 10 15 2500 200 3 3 4 4 0
        intr 12345
        """
        // user+nice+system+irq+softirq+steal = 171 ticks of 10 ms.
        #expect(HostUsage.busyNanoseconds(stat: stat, ticksPerSecond: 100) == 1_710_000_000)
        #expect(HostUsage.busyNanoseconds(stat: "intr 1", ticksPerSecond: 100) == nil)
    }

    @Test func hostWorkingSetIsUsedLessInactiveFile() {
        let meminfo = """
        MemTotal:       16000000 kB
        MemFree:         4000000 kB
        MemAvailable:   10000000 kB
        Active(file):    3000000 kB
        Inactive(file):  2000000 kB
        """
        #expect(HostUsage.workingSetBytes(meminfo: meminfo) == 10_000_000 * 1024)
        #expect(HostUsage.workingSetBytes(meminfo: "MemFree: 1 kB") == nil)
    }
}
