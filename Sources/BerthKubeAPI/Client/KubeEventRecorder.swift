import BerthTemplate
import Foundation
import Synchronization

/// Records core/v1 Events about objects, as controllers and the kubelet do, so `kubectl describe`
/// and `kubectl get events` show what happened. A repeat of the same event (same object, reason and
/// message) counts up the existing Event instead of creating another, as client-go's correlator does.
public final class KubeEventRecorder: Sendable {
    public enum EventType: String, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    private let store: KubeObjectStore
    private let component: String
    private let host: String
    /// The Event recorded last for each (object uid, type, reason, message).
    private let recorded = Mutex<[String: String]>([:])

    public init(store: KubeObjectStore, component: String, host: String) {
        self.store = store
        self.component = component
        self.host = host
    }

    /// Records an event about `object` (a stored object); `fieldPath` names a part of it
    /// (`spec.containers{web}`). Failures are dropped: an event is never worth failing the work it reports.
    public func record(_ object: OrderedJSON, _ type: EventType, reason: String, message: String, fieldPath: String? = nil) {
        let namespace = object.string("metadata", "namespace") ?? "default"
        let name = object.string("metadata", "name") ?? ""
        let uid = object.string("metadata", "uid") ?? ""
        let correlation = [uid, fieldPath ?? "", type.rawValue, reason, message].joined(separator: "\u{0}")
        let now = Date.now.formatted(.iso8601)
        if let existing = recorded.withLock({ $0[correlation] }),
           let live = try? store.get(KubeResourceRegistry.events, namespace: namespace, name: existing) {
            let count = (live.value(at: ["count"])?.int ?? 1) + 1
            let updated = live.setting(["count"], to: .int(count)).setting(["lastTimestamp"], to: .string(now))
            if (try? store.replace(KubeResourceRegistry.events, namespace: namespace, name: existing, object: updated)) != nil { return }
        }
        var involved: [(String, OrderedJSON)] = [
            ("kind", .string(object.string("kind") ?? "")), ("namespace", .string(namespace)), ("name", .string(name)),
            ("uid", .string(uid)), ("apiVersion", .string(object.string("apiVersion") ?? "")),
            ("resourceVersion", .string(object.string("metadata", "resourceVersion") ?? "")),
        ]
        if let fieldPath { involved.append(("fieldPath", .string(fieldPath))) }
        let eventName = "\(name).\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        let event = OrderedJSON.object([
            ("apiVersion", .string("v1")), ("kind", .string("Event")),
            ("metadata", .object([("name", .string(eventName)), ("namespace", .string(namespace))])),
            ("involvedObject", .object(involved)),
            ("reason", .string(reason)), ("message", .string(message)),
            ("source", .object([("component", .string(component)), ("host", .string(host))])),
            ("firstTimestamp", .string(now)), ("lastTimestamp", .string(now)), ("count", .int(1)),
            ("type", .string(type.rawValue)), ("eventTime", .null),
            ("reportingComponent", .string(component)), ("reportingInstance", .string(host)),
        ])
        guard (try? store.create(KubeResourceRegistry.events, namespace: namespace, object: event)) != nil else { return }
        recorded.withLock { $0[correlation] = eventName }
    }
}
