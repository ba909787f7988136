import BerthOCI
import BerthProcess
import Foundation

/// A change of a container's resources and restart policy (Docker's `update`): each field that is
/// set replaces the container's.
public struct ResourceUpdate: Sendable, Equatable {
    /// Memory limit in bytes; 0 removes the limit.
    public var memory: Int64?
    /// CPU quota in units of 10⁻⁹ CPUs; 0 removes the quota.
    public var nanoCPUs: Int64?
    /// CPU shares (relative weight); 0 is the kernel's default.
    public var cpuShares: Int64?
    /// Maximum number of tasks; 0 or less removes the limit.
    public var pidsLimit: Int64?
    public var restartPolicy: RestartPolicy?

    public init(memory: Int64? = nil, nanoCPUs: Int64? = nil, cpuShares: Int64? = nil, pidsLimit: Int64? = nil,
                restartPolicy: RestartPolicy? = nil) {
        self.memory = memory
        self.nanoCPUs = nanoCPUs
        self.cpuShares = cpuShares
        self.pidsLimit = pidsLimit
        self.restartPolicy = restartPolicy
    }

    public var changesResources: Bool { memory != nil || nanoCPUs != nil || cpuShares != nil || pidsLimit != nil }
}

extension ContainerRuntime {
    /// Freezes every process of a running container (the cgroup freezer, through the runtime).
    public func pause(_ reference: String) throws {
        let record = try container(reference)
        if record.state.status == .paused { throw RuntimeError.invalidOption("Container \(record.id) is already paused") }
        guard record.state.status == .running else { throw RuntimeError.notRunning(record.id) }
        try ociRuntime(for: record).pause(record.id)
        try containers.update(record.id) { $0.state.status = .paused }
    }

    /// Thaws a paused container.
    public func unpause(_ reference: String) throws {
        let record = try container(reference)
        guard record.state.status == .paused else { throw RuntimeError.invalidOption("Container \(record.id) is not paused") }
        try ociRuntime(for: record).resume(record.id)
        try containers.update(record.id) { current in
            if current.state.status == .paused { current.state.status = .running }
        }
    }

    /// Records the new resources and restart policy; a running container's cgroups change at once.
    @discardableResult
    public func update(_ reference: String, _ change: ResourceUpdate) throws -> ContainerRecord {
        let record = try container(reference)
        var host = record.hostConfig
        if let memory = change.memory { host.memory = memory }
        if let nanoCPUs = change.nanoCPUs { host.nanoCPUs = nanoCPUs }
        if let cpuShares = change.cpuShares { host.cpuShares = cpuShares }
        if let pids = change.pidsLimit { host.pidsLimit = pids > 0 ? pids : nil }
        if let policy = change.restartPolicy {
            if host.autoRemove, policy.name != "no" {
                throw RuntimeError.invalidOption("Restart policy cannot be updated because AutoRemove is enabled for the container")
            }
            host.restartPolicy = policy
        }
        if change.changesResources, [.running, .paused].contains(record.state.status) {
            try ociRuntime(for: record).update(record.id, BundleBuilder.resources(host))
        }
        let updated = host
        return try containers.update(record.id) { $0.hostConfig = updated }
    }
}

extension Runc {
    /// Freezes the container's processes.
    public func pause(_ id: String) throws {
        let result = try Spawn.run(base + ["pause", id])
        if result.status != 0 { throw RuntimeError.runtime(Self.message(result.stderrText)) }
    }

    /// Thaws the container's processes.
    public func resume(_ id: String) throws {
        let result = try Spawn.run(base + ["resume", id])
        if result.status != 0 { throw RuntimeError.runtime(Self.message(result.stderrText)) }
    }

    /// Sets the container's cgroup limits: memory, CPU quota and shares, pids (0 lifts a limit).
    func update(_ id: String, _ resources: RuntimeSpec.Resources) throws {
        var arguments = ["update"]
        // -1 lifts a limit; the swap limit is left as the bundle left it (unset).
        arguments += ["--memory", String(resources.memory?.limit ?? -1)]
        arguments += ["--cpu-quota", String(resources.cpu?.quota ?? -1), "--cpu-period", String(resources.cpu?.period ?? 100_000)]
        if let shares = resources.cpu?.shares { arguments += ["--cpu-share", String(shares)] }
        arguments += ["--pids-limit", String(resources.pids?.limit ?? -1)]
        let result = try Spawn.run(base + arguments + [id])
        if result.status != 0 { throw RuntimeError.runtime(Self.message(result.stderrText)) }
    }
}
