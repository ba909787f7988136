import BerthFiles
import BerthRuntime
import BerthStore
import Foundation
import NIOPosix
import Synchronization

/// Berth's service layer: the one place where the store, the runtime, networks, volumes, builds
/// and registry transfers are composed, with Docker's semantics. The CLI and `berth serve` are
/// both thin front ends over it, and may run at the same time on one state root: every piece of
/// state lives on disk and is shared through the metadata database and file locks.
public final class Engine: Sendable {
    /// The state root (`--root`, env `BERTH_ROOT`, default /var/lib/berth), absolute.
    public let root: String
    /// Containers, their monitors, exec, logs and volumes.
    public let runtime: ContainerRuntime
    /// What happened on this root, recorded by every process that uses it.
    public let events: EventLog
    /// Exec instances, kept for inspect after they end (dockerd keeps them in memory too).
    public let execs = ExecRegistry()
    private let openedStore = Mutex<Store?>(nil)
    /// Runs the modules' blocking calls off Swift's cooperative threads (two, on two cores), so
    /// a slow store write or runc call never stalls the daemon's other requests.
    private let threadPool: NIOThreadPool

    /// Opens the engine on `root`; `monitorExecutable` is `berth-monitor`, started for each container.
    public init(root: String, monitorExecutable: String) throws {
        self.root = root
        runtime = try ContainerRuntime(root: root, monitorExecutable: monitorExecutable)
        events = EventLog(root: root)
        BuildStepRecord.releaseAbandoned(berthRoot: root)
        threadPool = NIOThreadPool(numberOfThreads: 16)
        threadPool.start()
    }

    deinit {
        threadPool.shutdownGracefully { _ in }
    }

    /// The image store, opened on first use (a command that only lists containers never pays for
    /// opening the database), once what killed builds left is released and every container holds
    /// its image.
    public func store() throws -> Store {
        try openedStore.withLock { opened in
            if let opened { return opened }
            let store = try Store(root: root)
            try leaseContainersMadeBeforeLeases(store)
            opened = store
            return store
        }
    }

    /// Runs `body`, which blocks (disk, runc, the database), on the engine's thread pool. Waits
    /// that may last indefinitely (a container's exit, a followed log) belong in async code
    /// instead: each would hold one of the pool's threads for as long as it lasts.
    public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threadPool.runIfActive(body)
    }

    /// Containers made by a Berth without leases hold none: the first command that opens the store
    /// gives each container its image's, once (the marker file records that it was done; holding
    /// again is harmless, as a lease's holds are a set).
    private func leaseContainersMadeBeforeLeases(_ store: Store) throws {
        let layout = StateRoot(root)
        let marker = layout.containersLeasedMarker
        guard access(layout.containers, F_OK) == 0, access(marker, F_OK) != 0 else { return }
        for record in try runtime.containers.records() {
            // An image removed before leases existed is gone already: nothing is left to hold.
            _ = try? store.holdImage(named: record.imageID, in: .container(record.id, directory: runtime.containers.path(of: record.id)))
        }
        let created = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if created >= 0 { close(created) }
    }
}
