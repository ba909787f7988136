import BerthTemplate

/// One event of a watch, as the API streams it: `{"type": …, "object": …}`.
public struct KubeWatchEvent: Sendable, Equatable {
    public enum EventType: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
        case bookmark = "BOOKMARK"
        case error = "ERROR"
    }

    public var type: EventType
    public var object: OrderedJSON

    public init(type: EventType, object: OrderedJSON) {
        self.type = type
        self.object = object
    }

    public var json: OrderedJSON { .object([("type", .string(type.rawValue)), ("object", object)]) }
}

/// A committed change of one object, before any watcher's selectors looked at it.
struct KubeChange: Sendable {
    var resource: KubeResource
    var namespace: String
    var type: KubeWatchEvent.EventType
    /// The state after the change; for a deletion the last state, carrying the deletion's resourceVersion.
    var object: OrderedJSON
    /// The state before the change, nil for a creation.
    var previous: OrderedJSON?
}

/// What a watch asks for: one resource, optionally one namespace, and selectors.
struct KubeWatchFilter: Sendable {
    var resource: KubeResource
    var namespace: String?
    var labels: LabelSelector
    var fields: FieldSelector

    func matches(_ object: OrderedJSON) -> Bool {
        labels.matches(object.stringMap(at: ["metadata", "labels"]) ?? [:])
            && fields.matches(KubeKinds.fields(of: object, resource))
    }

    /// The event this watch sees for `change`, if any. Selectors are applied to the old and the new
    /// state: an object that stops matching is reported deleted, one that starts matching added.
    func event(for change: KubeChange) -> KubeWatchEvent? {
        guard change.resource == resource, namespace.map({ $0 == change.namespace }) ?? true else { return nil }
        switch change.type {
        case .added:
            return matches(change.object) ? KubeWatchEvent(type: .added, object: change.object) : nil
        case .deleted:
            return matches(change.object) ? KubeWatchEvent(type: .deleted, object: change.object) : nil
        case .modified:
            let old = change.previous.map(matches) ?? false
            let new = matches(change.object)
            switch (old, new) {
            case (true, true): return KubeWatchEvent(type: .modified, object: change.object)
            case (true, false): return KubeWatchEvent(type: .deleted, object: change.object)
            case (false, true): return KubeWatchEvent(type: .added, object: change.object)
            case (false, false): return nil
            }
        case .bookmark, .error:
            return nil
        }
    }
}
