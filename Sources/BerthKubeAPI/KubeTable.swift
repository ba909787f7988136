import BerthTemplate
import Foundation

/// Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): the columns a
/// real cluster's apiserver prints for each kind, so `kubectl get` looks the same.
public enum KubeTable {
    /// What each row carries besides its cells (`includeObject`).
    public enum IncludeObject: String, Sendable {
        case none = "None"
        case metadata = "Metadata"
        case object = "Object"
    }

    struct Column {
        var name: String
        var type = "string"
        var format = ""
        var description: String
        var priority = 0
    }

    static func columns(_ resource: KubeResource) -> [Column] {
        let name = Column(name: "Name", format: "name", description: "Name of the object, unique within its namespace.")
        let age = Column(name: "Age", description: "Time since the object was created (metadata.creationTimestamp).")
        if let columns = workloadColumns(resource, name: name, age: age) { return columns }
        if let columns = networkingColumns(resource, name: name, age: age) { return columns }
        switch resource.kind {
        case "ConfigMap":
            return [name, Column(name: "Data", description: "Number of keys in data and binaryData."), age]
        case "Secret":
            return [name, Column(name: "Type", description: "The secret's type."), Column(name: "Data", description: "Number of keys in data."), age]
        case "Namespace":
            return [name, Column(name: "Status", description: "The namespace's phase."), age]
        case "Event":
            return [Column(name: "Last Seen", description: "Time since the event was last seen."),
                    Column(name: "Type", description: "Normal or Warning."),
                    Column(name: "Reason", description: "Why the event happened, in one word."),
                    Column(name: "Object", description: "The object the event is about."),
                    Column(name: "Subobject", description: "The part of the object (a container).", priority: 1),
                    Column(name: "Source", description: "The component that reported the event.", priority: 1),
                    Column(name: "Message", description: "What happened."),
                    Column(name: "First Seen", description: "Time since the event was first seen.", priority: 1),
                    Column(name: "Count", description: "How many times the event happened.", priority: 1),
                    Column(name: "Name", format: "name", description: "Name of the event object.", priority: 1)]
        default:
            return [name, Column(name: "Created At", type: "date", description: "Time the object was created.")]
        }
    }

    static func cells(_ resource: KubeResource, _ object: OrderedJSON, now: Date) -> [OrderedJSON] {
        let name = OrderedJSON.string(object.string("metadata", "name") ?? "")
        let created = object.string("metadata", "creationTimestamp")
        let age = OrderedJSON.string(age(since: created, now: now))
        if let cells = workloadCells(resource, object, now: now) { return cells }
        if let cells = networkingCells(resource, object, now: now) { return cells }
        switch resource.kind {
        case "ConfigMap":
            return [name, .int((object["data"]?.members.count ?? 0) + (object["binaryData"]?.members.count ?? 0)), age]
        case "Secret":
            return [name, .string(object.string("type") ?? ""), .int(object["data"]?.members.count ?? 0), age]
        case "Namespace":
            return [name, .string(object.string("status", "phase") ?? ""), age]
        case "Event":
            return eventCells(object, now: now)
        default:
            return [name, created.map(OrderedJSON.string) ?? .null]
        }
    }

    /// A `meta.k8s.io/v1` Table of `objects`. Watch events after the first leave the column
    /// definitions out (`includeHeaders: false`), as the apiserver does.
    public static func table(_ resource: KubeResource, objects: [OrderedJSON], resourceVersion: String?, continueToken: String? = nil,
                             includeObject: IncludeObject = .metadata, includeHeaders: Bool = true, now: Date = .now) -> OrderedJSON {
        var metadata: [(String, OrderedJSON)] = []
        if let resourceVersion { metadata.append(("resourceVersion", .string(resourceVersion))) }
        if let continueToken { metadata.append(("continue", .string(continueToken))) }
        let definitions: [OrderedJSON] = includeHeaders ? columns(resource).map { column in
            .object([("name", .string(column.name)), ("type", .string(column.type)), ("format", .string(column.format)),
                     ("description", .string(column.description)), ("priority", .int(column.priority))])
        } : []
        let rows: [OrderedJSON] = objects.map { object in
            var row: [(String, OrderedJSON)] = [("cells", .array(cells(resource, object, now: now)))]
            if let conditions = rowConditions(resource, object) { row.append(("conditions", conditions)) }
            switch includeObject {
            case .none: break
            case .metadata:
                row.append(("object", .object([("kind", .string("PartialObjectMetadata")), ("apiVersion", .string("meta.k8s.io/v1")),
                                                ("metadata", object["metadata"] ?? .object([]))])))
            case .object:
                row.append(("object", object))
            }
            return .object(row)
        }
        return .object([("kind", .string("Table")), ("apiVersion", .string("meta.k8s.io/v1")), ("metadata", .object(metadata)),
                        ("columnDefinitions", .array(definitions)), ("rows", .array(rows))])
    }

    /// As the apiserver prints events: times fall back from lastTimestamp to firstTimestamp to
    /// eventTime, a series' count and last observation win, and a count of 0 prints as 1.
    private static func eventCells(_ event: OrderedJSON, now: Date) -> [OrderedJSON] {
        let first = event.string("firstTimestamp").map { age(since: $0, now: now) } ?? age(since: event.string("eventTime"), now: now)
        var last = event.string("lastTimestamp").map { age(since: $0, now: now) } ?? first
        var count = event["count"]?.int ?? 0
        if let series = event["series"], case .object = series {
            last = age(since: series.string("lastObservedTime"), now: now)
            count = series["count"]?.int ?? count
        } else if count == 0 {
            count = 1
        }
        let component = [event.string("source", "component"), event.string("reportingComponent")].compactMap { $0 }.first { !$0.isEmpty } ?? ""
        let instance = [event.string("source", "host"), event.string("reportingInstance")].compactMap { $0 }.first { !$0.isEmpty } ?? ""
        let source = component.isEmpty ? "" : instance.isEmpty ? component : "\(component), \(instance)"
        let target = "\((event.string("involvedObject", "kind") ?? "").lowercased())/\(event.string("involvedObject", "name") ?? "")"
        return [.string(last), .string(event.string("type") ?? ""), .string(event.string("reason") ?? ""), .string(target),
                .string(event.string("involvedObject", "fieldPath") ?? ""), .string(source),
                .string((event.string("message") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)), .string(first), .int(count),
                .string(event.string("metadata", "name") ?? "")]
    }

    static func age(since timestamp: String?, now: Date) -> String {
        guard let timestamp,
              let date = (try? Date(timestamp, strategy: .iso8601))
                ?? (try? Date(timestamp, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) else { return "<unknown>" }
        return humanDuration(seconds: Int(now.timeIntervalSince(date).rounded(.down)))
    }

    /// Kubernetes' rendering of a duration (not Docker's): exact at short range, coarser with age.
    static func humanDuration(seconds: Int) -> String {
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s"
        }
        if minutes < 180 { return "\(minutes)m" }
        let hours = seconds / 3600
        if hours < 8 { return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m" }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 { return hours % 24 == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(hours % 24)h" }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let days = (hours / 24) % 365
            return days == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(days)d"
        }
        return "\(hours / 24 / 365)y"
    }
}
