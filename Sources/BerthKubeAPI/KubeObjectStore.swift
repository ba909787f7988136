import BerthTemplate
import Foundation
import GRDB
import Synchronization

/// How a list is narrowed and paged (`labelSelector`, `fieldSelector`, `limit`, `continue`,
/// `resourceVersion`).
public struct KubeListOptions: Sendable {
    public var labelSelector: LabelSelector = .everything
    public var fieldSelector: FieldSelector = .everything
    public var limit: Int?
    public var continueToken: String?
    public var resourceVersion: String?
    /// `Exact` lists the state at `resourceVersion`; `NotOlderThan` (and no value) anything at least as new.
    public var resourceVersionMatch: String?

    public init(labelSelector: LabelSelector = .everything, fieldSelector: FieldSelector = .everything,
                limit: Int? = nil, continueToken: String? = nil, resourceVersion: String? = nil, resourceVersionMatch: String? = nil) {
        self.resourceVersionMatch = resourceVersionMatch
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
    }
}

/// One page of a list: the items, the revision they reflect, and the token for the next page.
public struct KubeListPage: Sendable {
    public var items: [OrderedJSON]
    public var resourceVersion: Int64
    public var continueToken: String?
}

/// The API's objects in SQLite. Every write is one immediate transaction that takes the next
/// revision of one global counter (the object's `resourceVersion`), updates the live table and
/// appends the new state to the version log; after the commit the change goes to the watchers
/// in revision order. The version log lets a watch resume from any revision and a paged list
/// read every page from the snapshot of its first page, across restarts of the server too.
public final class KubeObjectStore: Sendable {
    public let registry: KubeResourceRegistry
    private let queue: DatabaseQueue
    private let watchers = Mutex<Watchers>(Watchers())

    private struct Watchers: ~Copyable {
        var next = 0
        var byID: [Int: (filter: KubeWatchFilter, continuation: AsyncStream<KubeWatchEvent>.Continuation)] = [:]
    }

    /// Namespaces every cluster has; the apiserver recreates them when missing and refuses to
    /// delete the first three.
    public static let systemNamespaces = ["default", "kube-node-lease", "kube-public", "kube-system"]
    static let undeletableNamespaces: Set<String> = ["default", "kube-public", "kube-system"]

    /// A watcher that falls this far behind is closed (its client re-lists) instead of making
    /// the server hold an unbounded backlog.
    static let watcherBacklog = 10_000

    /// How many revisions the version log keeps (etcd's compaction): watches and paged lists
    /// from older revisions get 410 Expired, and their clients list again.
    public let retainedRevisions: Int64

    /// The cluster's address plan (ClusterIPs are allocated from its service CIDR).
    public let clusterNetwork: KubeClusterNetwork

    /// Opens (creating when missing) the store at `path` and makes sure the system namespaces exist.
    public init(path: String, registry: KubeResourceRegistry = .builtIn, retainedRevisions: Int64 = 10_000,
                clusterNetwork: KubeClusterNetwork = KubeClusterNetwork(index: 0)) throws {
        self.registry = registry
        self.retainedRevisions = retainedRevisions
        self.clusterNetwork = clusterNetwork
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.label = "berth-kube"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try Self.migrator.migrate(queue)
        if let namespaces = registry.resources.first(where: { $0.group.isEmpty && $0.plural == "namespaces" }) {
            for name in Self.systemNamespaces where (try? get(namespaces, namespace: nil, name: name)) == nil {
                _ = try create(namespaces, namespace: nil, object: .object([("metadata", .object([("name", .string(name))]))]))
            }
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE kube_object (
                    key TEXT PRIMARY KEY NOT NULL,
                    resource TEXT NOT NULL,
                    namespace TEXT NOT NULL,
                    rv INTEGER NOT NULL,
                    json TEXT NOT NULL
                );
                CREATE TABLE kube_version (
                    rv INTEGER PRIMARY KEY NOT NULL,
                    key TEXT NOT NULL,
                    resource TEXT NOT NULL,
                    namespace TEXT NOT NULL,
                    type TEXT NOT NULL,
                    json TEXT NOT NULL,
                    previous TEXT
                );
                CREATE INDEX kube_version_key ON kube_version (key, rv);
                CREATE INDEX kube_version_resource ON kube_version (resource, rv);
                """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: "CREATE TABLE kube_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)")
        }
        return migrator
    }

    // MARK: Reads

    /// The revision of the last write.
    public func currentResourceVersion() throws -> Int64 {
        try queue.read(Self.revision)
    }

    public func get(_ resource: KubeResource, namespace: String?, name: String) throws -> OrderedJSON {
        let key = Self.key(resource, namespace, name)
        guard let text = try queue.read({ try String.fetchOne($0, sql: "SELECT json FROM kube_object WHERE key = ?", arguments: [key]) }) else {
            throw KubeAPIError.notFound(resource, name)
        }
        return try OrderedJSON.parse(text)
    }

    /// The objects of `resource` (in `namespace`, or all namespaces when nil) that match the
    /// options, in key order, one page at a time when `limit` is set.
    public func list(_ resource: KubeResource, namespace: String?, options: KubeListOptions = KubeListOptions()) throws -> KubeListPage {
        var snapshot: Int64?
        var after = ""
        if let token = options.continueToken, !token.isEmpty {
            if let version = options.resourceVersion, !version.isEmpty {
                throw KubeAPIError.badRequest("specifying resource version is not allowed when using continue")
            }
            (snapshot, after) = try Self.decodeContinue(token)
        }
        let version = options.resourceVersion ?? ""
        let match = options.resourceVersionMatch ?? ""
        var requested: Int64?
        if !version.isEmpty {
            guard let value = Int64(version), value >= 0 else {
                throw KubeAPIError.badRequest("resourceVersion: Invalid value: \"\(version)\": must be a non-negative integer")
            }
            requested = value
        }
        switch match {
        case "": break
        case _ where version.isEmpty:
            throw KubeAPIError(code: 422, reason: "Invalid", message: "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                               group: "meta.k8s.io", kind: "ListOptions")
        case "Exact":
            guard requested != 0 else {
                throw KubeAPIError(code: 422, reason: "Invalid", message: "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                                   group: "meta.k8s.io", kind: "ListOptions")
            }
            snapshot = requested
        case "NotOlderThan": break
        default:
            throw KubeAPIError(code: 422, reason: "Invalid", message: "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: \"\(match)\": supported values: \"Exact\", \"NotOlderThan\", \"\"",
                               group: "meta.k8s.io", kind: "ListOptions")
        }
        let filter = KubeWatchFilter(resource: resource, namespace: namespace, labels: options.labelSelector, fields: options.fieldSelector)
        let prefix = Self.keyPrefix(resource, namespace)
        return try queue.read { db in
            let current = try Self.revision(db)
            if let requested, requested > current {
                throw KubeAPIError(code: 504, reason: "Timeout", message: "Too large resource version: \(requested), current: \(current)")
            }
            let compacted = try Self.compactedRevision(db)
            if let snapshot, snapshot < compacted {
                if options.continueToken?.isEmpty ?? true {
                    throw KubeAPIError.expired("too old resource version: \(snapshot) (\(compacted))")
                }
                throw KubeAPIError.expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            }
            let rows: [Row]
            if let snapshot {
                // The state at the first page's revision: each key's newest version up to it.
                rows = try Row.fetchAll(db, sql: """
                    SELECT v.key, v.json FROM kube_version v
                    WHERE v.resource = ? AND v.key > ? AND v.key LIKE ? ESCAPE '\\'
                      AND v.rv = (SELECT MAX(rv) FROM kube_version WHERE key = v.key AND rv <= ?)
                      AND v.type != 'DELETED'
                    ORDER BY v.key
                    """, arguments: [resource.qualifiedName, prefix + after, Self.likePattern(prefix), snapshot])
            } else {
                rows = try Row.fetchAll(db, sql: """
                    SELECT key, json FROM kube_object WHERE resource = ? AND key LIKE ? ESCAPE '\\' ORDER BY key
                    """, arguments: [resource.qualifiedName, Self.likePattern(prefix)])
            }
            var items: [OrderedJSON] = []
            var token: String?
            for row in rows {
                let object = try OrderedJSON.parse(row["json"] as String)
                guard filter.matches(object) else { continue }
                if let limit = options.limit, limit > 0, items.count == limit {
                    let lastKey = String((items.last.map { Self.key(resource, $0.string("metadata", "namespace"), $0.string("metadata", "name") ?? "") } ?? prefix).dropFirst(prefix.count))
                    token = Self.encodeContinue(snapshot: snapshot ?? current, after: lastKey)
                    break
                }
                items.append(object)
            }
            return KubeListPage(items: items, resourceVersion: snapshot ?? current, continueToken: token)
        }
    }

    // MARK: Writes

    /// Creates `object` as a new object of `resource`, filling in the server-owned metadata.
    /// With `dryRun`, every check runs and the answer is what would be stored, but the transaction
    /// is rolled back and nobody is notified (`dryRun=All`); the answer then has no resourceVersion.
    public func create(_ resource: KubeResource, namespace: String?, object: OrderedJSON, dryRun: Bool = false) throws -> OrderedJSON {
        var object = try Self.settleType(object, resource)
        if resource.namespaced, namespace?.isEmpty ?? true {
            throw KubeAPIError.badRequest("an empty namespace may not be set during creation")
        }
        if let given = object.string("metadata", "namespace"), resource.namespaced, !given.isEmpty, given != namespace {
            throw KubeAPIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        if let version = object.string("metadata", "resourceVersion"), !version.isEmpty {
            throw KubeAPIError.badRequest("resourceVersion should not be set on objects to be created")
        }
        var name = object.string("metadata", "name") ?? ""
        if name.isEmpty {
            guard let base = object.string("metadata", "generateName"), !base.isEmpty else {
                throw KubeAPIError.invalid(resource, "", [.init(reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name")])
            }
            name = base + Self.randomSuffix()
            object = object.setting(["metadata", "name"], to: .string(name))
        }
        object = object.setting(["metadata", "namespace"], to: resource.namespaced ? namespace.map(OrderedJSON.string) : nil)
        // Admission may need the uid (a Job's generated selector carries it).
        object = object.setting(["metadata", "uid"], to: .string(UUID().uuidString.lowercased()))
        if resource.kind == "Ingress" { object = withDefaultIngressClass(object) }
        object = try KubeKinds.admit(object, resource, name: name, creating: true)
        let prepared = object
        let created = try write(dryRun: dryRun) { db, changes in
            if resource.namespaced, let namespace {
                guard let text = try String.fetchOne(db, sql: "SELECT json FROM kube_object WHERE key = ?", arguments: ["namespaces//" + namespace]) else {
                    throw KubeAPIError.notFound(KubeResourceRegistry.namespaces, namespace)
                }
                if try OrderedJSON.parse(text).value(at: ["metadata", "deletionTimestamp"]) != nil {
                    throw KubeAPIError.namespaceTerminating(resource, name, namespace)
                }
            }
            let key = Self.key(resource, namespace, name)
            if try String.fetchOne(db, sql: "SELECT key FROM kube_object WHERE key = ?", arguments: [key]) != nil {
                throw KubeAPIError.alreadyExists(resource, name)
            }
            let rv = try Self.revision(db) + 1
            var stored = try allocated(db, resource, key: key, prepared)
                .setting(["metadata", "resourceVersion"], to: .string(String(rv)))
                .setting(["metadata", "creationTimestamp"], to: .string(Date.now.formatted(.iso8601)))
                .setting(["metadata", "deletionTimestamp"], to: nil)
            if resource.hasGeneration { stored = stored.setting(["metadata", "generation"], to: .int(1)) }
            try Self.record(db, rv: rv, key: key, resource: resource, namespace: namespace, type: .added, object: stored, previous: nil)
            changes.append(KubeChange(resource: resource, namespace: namespace ?? "", type: .added, object: stored, previous: nil))
            return stored
        }
        return dryRun ? created.setting(["metadata", "resourceVersion"], to: nil) : created
    }

    /// Replaces the object (PUT). A `metadata.resourceVersion` in the body must be the stored one;
    /// a replacement that changes nothing keeps the revision and notifies nobody.
    /// With `dryRun`, the answer keeps the stored resourceVersion and nothing is written.
    /// `scope` says which part of a kind with a status subresource the write may change.
    /// An object being deleted whose finalizers this write empties is removed (the write answers
    /// its last state). A namespace's `spec.finalizers` only change through `finalizeNamespace`.
    public func replace(_ resource: KubeResource, namespace: String?, name: String, object: OrderedJSON, dryRun: Bool = false,
                        scope: KubeWriteScope = .whole) throws -> OrderedJSON {
        try replace(resource, namespace: namespace, name: name, object: object, dryRun: dryRun, scope: scope, finalizing: false)
    }

    func replace(_ resource: KubeResource, namespace: String?, name: String, object: OrderedJSON, dryRun: Bool,
                 scope: KubeWriteScope = .whole, finalizing: Bool) throws -> OrderedJSON {
        let object = try Self.settleType(object, resource)
        let bodyName = object.string("metadata", "name") ?? ""
        if bodyName != name {
            throw KubeAPIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        if let given = object.string("metadata", "namespace"), resource.namespaced, !given.isEmpty, given != namespace {
            throw KubeAPIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        let admitted = try KubeKinds.admit(object, resource, name: name)
        return try write(dryRun: dryRun) { db, changes in
            let key = Self.key(resource, namespace, name)
            guard let text = try String.fetchOne(db, sql: "SELECT json FROM kube_object WHERE key = ?", arguments: [key]) else {
                throw KubeAPIError.notFound(resource, name)
            }
            let live = try OrderedJSON.parse(text)
            let liveVersion = live.string("metadata", "resourceVersion") ?? ""
            if let given = admitted.string("metadata", "resourceVersion"), !given.isEmpty, given != liveVersion {
                throw KubeAPIError.conflict(resource, name)
            }
            var updated = admitted.setting(["metadata", "namespace"], to: resource.namespaced ? namespace.map(OrderedJSON.string) : nil)
            for field in ["uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"] {
                updated = updated.setting(["metadata", field], to: live.value(at: ["metadata", field]))
            }
            updated = try KubeKinds.admitUpdate(updated, old: live, resource, name: name, scope: scope)
            updated = try allocated(db, resource, key: key, updated)
            let deleting = live.value(at: ["metadata", "deletionTimestamp"]) != nil
            if deleting {
                try Self.refuseNewFinalizers(resource, name, live: live, updated: updated)
            }
            if Self.isNamespace(resource) {
                if !finalizing { updated = updated.setting(["spec", "finalizers"], to: live.value(at: ["spec", "finalizers"])) }
                if deleting { updated = updated.setting(["status", "phase"], to: .string("Terminating")) }
            }
            if resource.hasGeneration, !Self.sameContent(updated["spec"], live["spec"]) {
                let generation = live.value(at: ["metadata", "generation"])?.int ?? 0
                updated = updated.setting(["metadata", "generation"], to: .int(generation + 1))
            }
            updated = updated.setting(["metadata", "resourceVersion"], to: .string(liveVersion))
            if deleting, Self.isFinalized(resource, updated) {
                return try Self.remove(db, key: key, resource: resource, namespace: namespace, live: updated, changes: &changes)
            }
            if Self.sameContent(updated, live) { return live }
            if dryRun { return updated }
            let rv = try Self.revision(db) + 1
            updated = updated.setting(["metadata", "resourceVersion"], to: .string(String(rv)))
            try Self.record(db, rv: rv, key: key, resource: resource, namespace: namespace, type: .modified, object: updated, previous: live)
            changes.append(KubeChange(resource: resource, namespace: namespace ?? "", type: .modified, object: updated, previous: live))
            return updated
        }
    }

    /// A Service with its ClusterIP and NodePorts, taken in the write's own transaction.
    private func allocated(_ db: Database, _ resource: KubeResource, key: String, _ object: OrderedJSON) throws -> OrderedJSON {
        guard resource.group.isEmpty, resource.kind == "Service" else { return object }
        return try KubeServiceAllocator.allocate(db, service: object, key: key, network: clusterNetwork)
    }

    // MARK: Watches

    /// The changes to `resource` from `resourceVersion` on: with nil or "0", first an ADDED for
    /// every object that matches now, then live changes; with a revision N, every change after N
    /// (from the version log), then live changes. Ends when the caller stops iterating.
    public func watch(_ resource: KubeResource, namespace: String?, options: KubeListOptions = KubeListOptions()) throws -> AsyncStream<KubeWatchEvent> {
        let filter = KubeWatchFilter(resource: resource, namespace: namespace, labels: options.labelSelector, fields: options.fieldSelector)
        var from: Int64?
        if let text = options.resourceVersion, !text.isEmpty, text != "0" {
            guard let value = Int64(text), value >= 0 else {
                throw KubeAPIError.badRequest("resourceVersion: Invalid value: \"\(text)\": must be a non-negative integer")
            }
            from = value
        }
        let (stream, continuation) = AsyncStream.makeStream(of: KubeWatchEvent.self, bufferingPolicy: .bufferingOldest(Self.watcherBacklog))
        let prefix = Self.keyPrefix(resource, namespace)
        // The queue runs reads and writes one at a time, and writes publish before they return:
        // no change can fall between the replay and the registration.
        try queue.read { db in
            let current = try Self.revision(db)
            if let from {
                guard from <= current else {
                    throw KubeAPIError(code: 504, reason: "Timeout", message: "Too large resource version: \(from), current: \(current)")
                }
                let compacted = try Self.compactedRevision(db)
                if from < compacted {
                    // The stream's one event says so; the client lists again.
                    continuation.yield(KubeWatchEvent(type: .error, object: KubeAPIError.expired("too old resource version: \(from) (\(compacted))").status))
                    continuation.finish()
                    return
                }
                let rows = try Row.fetchAll(db, sql: """
                    SELECT type, json, previous FROM kube_version WHERE resource = ? AND rv > ? AND key LIKE ? ESCAPE '\\' ORDER BY rv
                    """, arguments: [resource.qualifiedName, from, Self.likePattern(prefix)])
                for row in rows {
                    let object = try OrderedJSON.parse(row["json"] as String)
                    let previous = try (row["previous"] as String?).map { try OrderedJSON.parse($0) }
                    guard let type = KubeWatchEvent.EventType(rawValue: row["type"]) else { continue }
                    let change = KubeChange(resource: resource, namespace: object.string("metadata", "namespace") ?? "", type: type, object: object, previous: previous)
                    if let event = filter.event(for: change) { continuation.yield(event) }
                }
            } else {
                let rows = try String.fetchAll(db, sql: "SELECT json FROM kube_object WHERE resource = ? AND key LIKE ? ESCAPE '\\' ORDER BY key",
                                               arguments: [resource.qualifiedName, Self.likePattern(prefix)])
                for text in rows {
                    let object = try OrderedJSON.parse(text)
                    if filter.matches(object) { continuation.yield(KubeWatchEvent(type: .added, object: object)) }
                }
            }
            let id = watchers.withLock { watchers in
                let id = watchers.next
                watchers.next += 1
                watchers.byID[id] = (filter, continuation)
                return id
            }
            continuation.onTermination = { [weak self] _ in
                _ = self?.watchers.withLock { $0.byID.removeValue(forKey: id) }
            }
        }
        return stream
    }

    private func publish(_ changes: [KubeChange]) {
        guard !changes.isEmpty else { return }
        watchers.withLock { watchers in
            for (id, watcher) in watchers.byID {
                for change in changes {
                    guard let event = watcher.filter.event(for: change) else { continue }
                    if case .dropped = watcher.continuation.yield(event) {
                        watcher.continuation.finish()
                        watchers.byID.removeValue(forKey: id)
                        break
                    }
                }
            }
        }
    }

    // MARK: Storage helpers

    /// Runs `body` in one immediate transaction and publishes its changes after the commit, still
    /// inside the queue so watchers see changes in revision order. A dry run rolls back instead.
    func write<T>(dryRun: Bool = false, _ body: (Database, inout [KubeChange]) throws -> T) throws -> T {
        try queue.writeWithoutTransaction { db in
            var result: T?
            var changes: [KubeChange] = []
            try db.inTransaction(.immediate) {
                changes = []
                result = try body(db, &changes)
                if dryRun { return .rollback }
                try compactIfDue(db)
                return .commit
            }
            guard let result else { preconditionFailure("transaction committed without a result") }
            if !dryRun { publish(changes) }
            return result
        }
    }

    /// Drops the versions no revision at or after the compaction point needs: each key keeps its
    /// newest version up to that point (unless it is a deletion), so paged lists from later
    /// snapshots still see every object. Runs once per tenth of the window, in the write's transaction.
    private func compactIfDue(_ db: Database) throws {
        let current = try Self.revision(db)
        let compacted = try Self.compactedRevision(db)
        let target = current - retainedRevisions
        guard target > compacted, target - compacted >= max(1, retainedRevisions / 10) else { return }
        try db.execute(sql: """
            DELETE FROM kube_version WHERE rv <= :target AND (type = 'DELETED' OR EXISTS (
                SELECT 1 FROM kube_version later WHERE later.key = kube_version.key AND later.rv > kube_version.rv AND later.rv <= :target))
            """, arguments: ["target": target])
        try db.execute(sql: "INSERT OR REPLACE INTO kube_meta (key, value) VALUES ('compacted', ?)", arguments: [target])
    }

    private static func compactedRevision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM kube_meta WHERE key = 'compacted'") ?? 0
    }

    @discardableResult
    static func remove(_ db: Database, key: String, resource: KubeResource, namespace: String?, live: OrderedJSON,
                               changes: inout [KubeChange]) throws -> OrderedJSON {
        let rv = try revision(db) + 1
        let last = live.setting(["metadata", "resourceVersion"], to: .string(String(rv)))
        try db.execute(sql: "DELETE FROM kube_object WHERE key = ?", arguments: [key])
        try db.execute(sql: "INSERT INTO kube_version (rv, key, resource, namespace, type, json, previous) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [rv, key, resource.qualifiedName, namespace ?? "", KubeWatchEvent.EventType.deleted.rawValue, last.compact, live.compact])
        changes.append(KubeChange(resource: resource, namespace: namespace ?? "", type: .deleted, object: last, previous: live))
        return last
    }

    static func record(_ db: Database, rv: Int64, key: String, resource: KubeResource, namespace: String?,
                               type: KubeWatchEvent.EventType, object: OrderedJSON, previous: OrderedJSON?) throws {
        let text = object.compact
        try db.execute(sql: "INSERT OR REPLACE INTO kube_object (key, resource, namespace, rv, json) VALUES (?, ?, ?, ?, ?)",
                       arguments: [key, resource.qualifiedName, namespace ?? "", rv, text])
        try db.execute(sql: "INSERT INTO kube_version (rv, key, resource, namespace, type, json, previous) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [rv, key, resource.qualifiedName, namespace ?? "", type.rawValue, text, previous?.compact])
    }

    static func revision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT MAX(rv) FROM kube_version") ?? 0
    }

    /// `configmaps/<namespace>/<name>`; cluster-scoped objects have an empty namespace part, so keys
    /// sort by namespace, then name, as etcd's do.
    static func key(_ resource: KubeResource, _ namespace: String?, _ name: String) -> String {
        keyPrefix(resource, resource.namespaced ? namespace ?? "" : "") + name
    }

    /// The common prefix of the keys in `namespace` (all namespaces when nil).
    static func keyPrefix(_ resource: KubeResource, _ namespace: String?) -> String {
        guard let namespace else { return resource.qualifiedName + "/" }
        return "\(resource.qualifiedName)/\(resource.namespaced ? namespace : "")/"
    }

    static func likePattern(_ prefix: String) -> String {
        prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
    }

    /// Sets `kind`/`apiVersion` for the resource, refusing a body of another kind.
    private static func settleType(_ object: OrderedJSON, _ resource: KubeResource) throws(KubeAPIError) -> OrderedJSON {
        guard case .object = object else { throw .badRequest("the body of the request was in an unknown format") }
        if let kind = object.string("kind"), !kind.isEmpty, kind != resource.kind {
            throw .badRequest("the API version in the data (\(object.string("apiVersion") ?? "")) does not match the expected API version (\(resource.apiVersion))")
        }
        if let version = object.string("apiVersion"), !version.isEmpty, version != resource.apiVersion {
            throw .badRequest("the API version in the data (\(version)) does not match the expected API version (\(resource.apiVersion))")
        }
        return object.setting(["kind"], to: .string(resource.kind)).setting(["apiVersion"], to: .string(resource.apiVersion))
    }

    /// Equality regardless of member order, so a PUT that only reorders keys is no change.
    static func sameContent(_ a: OrderedJSON?, _ b: OrderedJSON?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (.object(let x)?, .object(let y)?):
            guard x.count == y.count else { return false }
            let other = Dictionary(y, uniquingKeysWith: { first, _ in first })
            return x.allSatisfy { key, value in other[key].map { sameContent(value, $0) } ?? false }
        case (.array(let x)?, .array(let y)?):
            return x.count == y.count && zip(x, y).allSatisfy { sameContent($0, $1) }
        case (let x?, let y?): return x == y
        default: return false
        }
    }

    /// Five characters from the alphabet the apiserver uses for generated names.
    private static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement() ?? "x" })
    }

    private static func encodeContinue(snapshot: Int64, after: String) -> String {
        let token = OrderedJSON.object([("v", .string("meta.k8s.io/v1")), ("rv", .int(snapshot)), ("start", .string(after))])
        return Data(token.compact.utf8).base64EncodedString()
    }

    private static func decodeContinue(_ token: String) throws(KubeAPIError) -> (Int64, String) {
        guard let data = Data(base64Encoded: token), let decoded = try? OrderedJSON.parse(Array(data)),
              case .number(let number)? = decoded["rv"], let rv = Int64(number), let start = decoded.string("start") else {
            throw .badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        }
        return (rv, start)
    }
}
