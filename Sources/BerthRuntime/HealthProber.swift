import BerthOCI
import BerthProcess
import Foundation
import Glibc
import Synchronization

/// Runs a running container's health check on a thread of its monitor: every interval, the test
/// command through `runc exec` with a time-out, recording each probe in the container's
/// State.Health with Docker's rules (failures in the start period do not count; `retries`
/// consecutive failures make it unhealthy; a success makes it healthy).
final class HealthProber: Sendable {
    private let runtime: ContainerRuntime
    private let record: ContainerRecord
    private let check: HealthConfig
    private let stopped = Atomic(false)

    static let defaultInterval: TimeInterval = 30
    static let defaultTimeout: TimeInterval = 30
    static let defaultRetries = 3
    /// Docker keeps the last five probes and 4 KiB of each one's output.
    static let keptProbes = 5
    static let maximumOutput = 4096

    /// A prober for `record`, or nil when it has no health check (none, or `NONE`).
    init?(runtime: ContainerRuntime, record: ContainerRecord) {
        guard let check = record.config.healthcheck, let test = check.Test, let kind = test.first,
              kind == "CMD" || kind == "CMD-SHELL", test.count > 1 else { return nil }
        self.runtime = runtime
        self.record = record
        self.check = check
    }

    func start() {
        _ = try? runtime.containers.update(record.id) { $0.state.health = Health() }
        Thread { [self] in run() }.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private var isStopped: Bool { stopped.load(ordering: .relaxed) }

    private static func seconds(_ nanoseconds: Int64?, default value: TimeInterval) -> TimeInterval {
        guard let nanoseconds, nanoseconds > 0 else { return value }
        return TimeInterval(nanoseconds) / 1e9
    }

    /// Sleeps up to `interval`, waking early when stopped; false if stopped.
    private func pause(_ interval: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(interval)
        while Date() < deadline {
            if isStopped { return false }
            usleep(20_000)
        }
        return !isStopped
    }

    private func run() {
        let interval = Self.seconds(check.Interval, default: Self.defaultInterval)
        let timeout = Self.seconds(check.Timeout, default: Self.defaultTimeout)
        let startPeriod = Self.seconds(check.StartPeriod, default: 0)
        let retries = (check.Retries ?? 0) > 0 ? check.Retries! : Self.defaultRetries
        let startedAt = Date()
        while pause(interval) {
            let probe = self.probe(timeout: timeout)
            Spawn.reapOrphans(sparing: [record.state.pid])
            guard !isStopped else { return }
            let inStartPeriod = Date().timeIntervalSince(startedAt) < startPeriod
            _ = try? runtime.containers.update(record.id) { current in
                guard current.state.status == .running else { return }
                var health = current.state.health ?? Health()
                health.log = Array((health.log + [probe]).suffix(Self.keptProbes))
                if probe.exitCode == 0 {
                    health.status = "healthy"
                    health.failingStreak = 0
                } else if !(inStartPeriod && health.status == "starting") {
                    health.failingStreak += 1
                    if health.failingStreak >= retries { health.status = "unhealthy" }
                }
                current.state.health = health
            }
        }
    }

    /// A duration as Go prints it, for the time-out message (`300ms`, `30s`).
    static func goDuration(_ seconds: TimeInterval) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        let whole = seconds.rounded(.down)
        return whole == seconds ? "\(Int(whole))s" : "\(seconds)s"
    }

    /// One run of the test command, its output captured in a file of the container's directory.
    private func probe(timeout: TimeInterval) -> Health.Probe {
        let test = check.Test ?? []
        let command = test[0] == "CMD-SHELL" ? ["/bin/sh", "-c", test[1]] : Array(test.dropFirst())
        let outputPath = runtime.containers.path(of: record.id) + "/health-\(ContainerID.random().prefix(12)).out"
        let start = Date()
        var exitCode: Int32 = -1
        var output = ""
        let descriptor = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if descriptor < 0 {
            output = "health check output: \(String(cString: strerror(errno)))"
        } else {
            do {
                if let status = try runtime.runExec(record, ExecOptions(command: command),
                                                    descriptors: [(descriptor, 1), (descriptor, 2)], timeout: timeout) {
                    exitCode = status
                } else {
                    output = "Health check exceeded timeout (\(Self.goDuration(timeout)))"
                }
            } catch {
                output = "\(error)"
            }
            close(descriptor)
            if output.isEmpty, let bytes = try? Files.read(outputPath) {
                output = String(decoding: bytes.prefix(Self.maximumOutput), as: UTF8.self)
            }
            unlink(outputPath)
        }
        return Health.Probe(start: start, end: Date(), exitCode: exitCode, output: output)
    }
}
