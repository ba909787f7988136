import BerthTemplate
import Foundation

/// Typed views of stored objects. The store keeps the untyped tree, so fields Berth does not model
/// survive; controllers and the node decode just the fields they read, and write back by setting
/// members of the tree (`OrderedJSON.setting`), never by re-encoding a view.
extension OrderedJSON {
    public func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        try JSONDecoder().decode(type, from: Data(compact.utf8))
    }

    /// The tree of an encodable value (a view built by a controller, such as a status).
    public init<Value: Encodable>(encoding value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        self = try OrderedJSON.parse(Array(try encoder.encode(value)))
    }
}

/// metadata of every object.
public struct ObjectMeta: Codable, Sendable, Equatable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var deletionGracePeriodSeconds: Int?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
    }

    /// The owner that manages this object (`controller: true`), if any.
    public var controller: OwnerReference? { ownerReferences?.first { $0.controller == true } }
}

public struct OwnerReference: Codable, Sendable, Equatable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = true, blockOwnerDeletion: Bool? = true) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// The structured selector of workloads (`matchLabels`, `matchExpressions`).
public struct LabelSelectorSpec: Codable, Sendable, Equatable {
    public struct Expression: Codable, Sendable, Equatable {
        public var key: String
        public var `operator`: String
        public var values: [String]?
    }

    public var matchLabels: [String: String]?
    public var matchExpressions: [Expression]?

    /// The same selector as requirements; an unknown operator matches nothing, as the API rejects it.
    public var selector: LabelSelector {
        var requirements: [LabelSelector.Requirement] = (matchLabels ?? [:]).sorted { $0.key < $1.key }.map { .equals($0.key, $0.value) }
        for expression in matchExpressions ?? [] {
            switch expression.operator {
            case "In": requirements.append(.in(expression.key, expression.values ?? []))
            case "NotIn": requirements.append(.notIn(expression.key, expression.values ?? []))
            case "Exists": requirements.append(.exists(expression.key))
            case "DoesNotExist": requirements.append(.doesNotExist(expression.key))
            default: requirements.append(.in(expression.key, []))
            }
        }
        return LabelSelector(requirements: requirements)
    }
}

/// A value that is either an integer or a string (`targetPort: 8080` / `"http"`, `maxSurge: "25%"`).
public enum IntOrString: Codable, Sendable, Equatable {
    case int(Int)
    case string(String)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) { self = .int(value) } else { self = .string(try container.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }

    /// The value scaled against `total` (`"25%"` of 4 → 1 rounding down, or 2 rounding up).
    public func scaled(total: Int, roundUp: Bool) -> Int? {
        switch self {
        case .int(let value): return value
        case .string(let text):
            guard text.hasSuffix("%"), let percent = Int(text.dropLast()) else { return Int(text) }
            let product = percent * total
            return roundUp ? (product + 99) / 100 : product / 100
        }
    }
}
