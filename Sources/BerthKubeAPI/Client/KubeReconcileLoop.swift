import BerthTemplate
import Foundation

/// The namespace and name of one object a reconciler works on.
public struct KubeObjectKey: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public init(_ object: OrderedJSON) {
        self.init(namespace: object.string("metadata", "namespace") ?? "", name: object.string("metadata", "name") ?? "")
    }

    public var description: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
}

/// Which changes wake a reconciler, and which of its keys a change concerns.
public struct KubeTrigger: Sendable {
    public var resource: KubeResource
    public var keys: @Sendable (KubeWatchEvent) -> [KubeObjectKey]

    public init(resource: KubeResource, keys: @escaping @Sendable (KubeWatchEvent) -> [KubeObjectKey]) {
        self.resource = resource
        self.keys = keys
    }

    /// Changes of the reconciled objects themselves.
    public static func own(_ resource: KubeResource) -> KubeTrigger {
        KubeTrigger(resource: resource) { [KubeObjectKey($0.object)] }
    }

    /// Changes of objects controlled by an owner of `ownerKind` (a ReplicaSet's pods): the owner's key.
    public static func controlled(_ resource: KubeResource, byKind ownerKind: String) -> KubeTrigger {
        KubeTrigger(resource: resource) { event in
            guard let owner = try? event.object.value(at: ["metadata"])?.decode(ObjectMeta.self).controller, owner.kind == ownerKind else { return [] }
            return [KubeObjectKey(namespace: event.object.string("metadata", "namespace") ?? "", name: owner.name)]
        }
    }
}

/// A control loop: brings the objects named by keys toward their desired state. Reconcilers are
/// level-triggered: `reconcile` reads the current state from the store and must be safe to run
/// again at any time (after a crash, a conflict, or a periodic resync).
public protocol KubeReconciler: Sendable {
    /// The component name events and logs carry (`deployment-controller`, `kubelet`).
    var name: String { get }
    /// The first trigger's resource is the reconciled one; every object of it is resynced periodically.
    var triggers: [KubeTrigger] { get }
    /// Reconciles one key; answers when to look again regardless of changes (nil: on the next change).
    /// A thrown error retries the key with back-off.
    func reconcile(_ key: KubeObjectKey) async throws -> Duration?
    /// Keys to reconcile now for reasons the store does not see (a probe's verdict); nil for none.
    var wakeups: AsyncStream<KubeObjectKey>? { get }
}

extension KubeReconciler {
    public var wakeups: AsyncStream<KubeObjectKey>? { nil }
}

/// Runs reconcilers over the store's watches: one work queue per reconciler, each key handled by one
/// reconcile at a time, duplicate wake-ups of a waiting key folded into one.
public final class KubeReconcileLoop: Sendable {
    private let store: KubeObjectStore
    private let resyncInterval: Duration

    public init(store: KubeObjectStore, resyncInterval: Duration = .seconds(30)) {
        self.store = store
        self.resyncInterval = resyncInterval
    }

    /// Runs `reconciler` until the task is cancelled, with `workers` keys in flight at once.
    public func run(_ reconciler: some KubeReconciler, workers: Int = 2) async {
        let queue = KubeWorkQueue()
        await withDiscardingTaskGroup { group in
            for trigger in reconciler.triggers {
                group.addTask { [store] in
                    // A watch from "now" replays every existing object as ADDED, which is the initial sync.
                    let events: AsyncStream<KubeWatchEvent>
                    do {
                        events = try store.watch(trigger.resource, namespace: nil)
                    } catch {
                        // Without its watch this trigger never fires; say so rather than run half blind.
                        FileHandle.standardError.write(Data("berth serve: \(reconciler.name): cannot watch \(trigger.resource.plural): \(error)\n".utf8))
                        return
                    }
                    for await event in events {
                        for key in trigger.keys(event) { await queue.add(key) }
                    }
                }
            }
            if let wakeups = reconciler.wakeups {
                group.addTask {
                    for await key in wakeups { await queue.add(key) }
                }
            }
            if let primary = reconciler.triggers.first?.resource {
                group.addTask { [store, resyncInterval] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: resyncInterval)
                        for object in (try? store.list(primary, namespace: nil).items) ?? [] { await queue.add(KubeObjectKey(object)) }
                    }
                }
            }
            for _ in 0..<max(1, workers) {
                group.addTask {
                    while let key = await queue.next() {
                        do {
                            let again = try await reconciler.reconcile(key)
                            await queue.done(key, failed: false)
                            if let again { await queue.add(key, after: again) }
                        } catch {
                            let delay = await queue.done(key, failed: true)
                            // A conflict is the normal outcome of racing another writer: retried quietly.
                            if (error as? KubeAPIError)?.code != 409 {
                                FileHandle.standardError.write(Data("berth serve: \(reconciler.name): \(key): \(error)\n".utf8))
                            }
                            await queue.add(key, after: delay)
                        }
                    }
                }
            }
        }
    }
}

/// Keys waiting to be reconciled. A key is never handed to two workers at once: a key added while
/// it is being reconciled is handed out again once that reconcile is done.
actor KubeWorkQueue {
    private var waiting: [KubeObjectKey] = []
    private var queued: Set<KubeObjectKey> = []
    private var active: Set<KubeObjectKey> = []
    private var dirty: Set<KubeObjectKey> = []
    private var failures: [KubeObjectKey: Int] = [:]
    private var sleepers: [CheckedContinuation<KubeObjectKey?, Never>] = []

    func add(_ key: KubeObjectKey) {
        if active.contains(key) {
            dirty.insert(key)
            return
        }
        guard queued.insert(key).inserted else { return }
        if sleepers.isEmpty {
            waiting.append(key)
        } else {
            queued.remove(key)
            active.insert(key)
            sleepers.removeFirst().resume(returning: key)
        }
    }

    nonisolated func add(_ key: KubeObjectKey, after delay: Duration) {
        Task {
            try? await Task.sleep(for: delay)
            await add(key)
        }
    }

    /// The next key to reconcile; waits for one (the loops run as long as the daemon).
    func next() async -> KubeObjectKey? {
        if Task.isCancelled { return nil }
        if !waiting.isEmpty {
            let key = waiting.removeFirst()
            queued.remove(key)
            active.insert(key)
            return key
        }
        return await withCheckedContinuation { sleepers.append($0) }
    }

    /// Marks `key` finished; answers the back-off before retrying it after a failure
    /// (5 ms doubling to 30 s, as client-go's default rate limiter, rounded).
    @discardableResult
    func done(_ key: KubeObjectKey, failed: Bool) -> Duration {
        active.remove(key)
        var delay = Duration.zero
        if failed {
            let count = failures[key, default: 0]
            failures[key] = count + 1
            delay = min(.milliseconds(5) * (1 << min(count, 13)), .seconds(30))
        } else {
            failures[key] = nil
        }
        if dirty.remove(key) != nil { add(key) }
        return delay
    }
}
