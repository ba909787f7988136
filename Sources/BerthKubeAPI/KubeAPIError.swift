import BerthTemplate

/// An API failure, answered as a `Status` object with Kubernetes' reason, code and message.
public struct KubeAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One field problem of an Invalid error.
    public struct Cause: Sendable, Equatable {
        public var reason: String
        public var message: String
        public var field: String

        public init(reason: String, message: String, field: String) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    public var code: Int
    public var reason: String
    public var message: String
    /// `details.name`, `details.group` and `details.kind` (the resource for most reasons, the Kind
    /// for Invalid), when the failure concerns one object.
    public var name: String?
    public var group: String?
    public var kind: String?
    public var causes: [Cause] = []

    public var description: String { message }

    public init(code: Int, reason: String, message: String, name: String? = nil, group: String? = nil, kind: String? = nil,
                causes: [Cause] = []) {
        self.code = code
        self.reason = reason
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes
    }

    public static func notFound(_ resource: KubeResource, _ name: String) -> KubeAPIError {
        KubeAPIError(code: 404, reason: "NotFound", message: "\(resource.qualifiedName) \"\(name)\" not found",
                     name: name, group: resource.group, kind: resource.plural)
    }

    /// A path or resource the server does not serve.
    public static let unknownPath = KubeAPIError(code: 404, reason: "NotFound",
                                                 message: "the server could not find the requested resource")

    public static func alreadyExists(_ resource: KubeResource, _ name: String) -> KubeAPIError {
        KubeAPIError(code: 409, reason: "AlreadyExists", message: "\(resource.qualifiedName) \"\(name)\" already exists",
                     name: name, group: resource.group, kind: resource.plural)
    }

    /// A write whose resourceVersion precondition no longer holds.
    public static func conflict(_ resource: KubeResource, _ name: String) -> KubeAPIError {
        KubeAPIError(code: 409, reason: "Conflict",
                     message: "Operation cannot be fulfilled on \(resource.qualifiedName) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                     name: name, group: resource.group, kind: resource.plural)
    }

    /// Field validation failures: one cause per field, the message joins them as the apiserver does.
    public static func invalid(_ resource: KubeResource, _ name: String, _ causes: [Cause]) -> KubeAPIError {
        let parts = causes.map { "\($0.field): \($0.message)" }
        var unique: [String] = []
        for part in parts where !unique.contains(part) { unique.append(part) }
        let joined = unique.count == 1 ? unique[0] : "[" + unique.joined(separator: ", ") + "]"
        let kindName = resource.group.isEmpty ? resource.kind : "\(resource.kind).\(resource.group)"
        return KubeAPIError(code: 422, reason: "Invalid", message: "\(kindName) \"\(name)\" is invalid: \(joined)",
                            name: name, group: resource.group, kind: resource.kind, causes: causes)
    }

    public static func badRequest(_ message: String) -> KubeAPIError {
        KubeAPIError(code: 400, reason: "BadRequest", message: message)
    }

    public static func forbidden(_ resource: KubeResource, _ name: String, _ why: String) -> KubeAPIError {
        KubeAPIError(code: 403, reason: "Forbidden", message: "\(resource.qualifiedName) \"\(name)\" is forbidden: \(why)",
                     name: name, group: resource.group, kind: resource.plural)
    }

    public static func methodNotAllowed(_ verb: String, _ resource: KubeResource) -> KubeAPIError {
        KubeAPIError(code: 405, reason: "MethodNotAllowed",
                     message: "\(verb) is not supported on resources of kind \"\(resource.qualifiedName)\"",
                     group: resource.group, kind: resource.plural)
    }

    /// A request whose Accept header names no media type the server can answer with.
    public static let notAcceptable = KubeAPIError(code: 406, reason: "NotAcceptable",
                                                   message: "only the following media types are accepted: application/json")

    public static let unauthorized = KubeAPIError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    public static func expired(_ message: String) -> KubeAPIError {
        KubeAPIError(code: 410, reason: "Expired", message: message)
    }

    public static func `internal`(_ message: String) -> KubeAPIError {
        KubeAPIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }

    /// The `Status` object the server answers with.
    public var status: OrderedJSON {
        var members: [(String, OrderedJSON)] = [
            ("kind", .string("Status")), ("apiVersion", .string("v1")), ("metadata", .object([])),
            ("status", .string("Failure")), ("message", .string(message)), ("reason", .string(reason)),
        ]
        var details: [(String, OrderedJSON)] = []
        if let name { details.append(("name", .string(name))) }
        if let group, !group.isEmpty { details.append(("group", .string(group))) }
        if let kind { details.append(("kind", .string(kind))) }
        if !causes.isEmpty {
            details.append(("causes", .array(causes.map {
                .object([("reason", .string($0.reason)), ("message", .string($0.message)), ("field", .string($0.field))])
            })))
        }
        if !details.isEmpty { members.append(("details", .object(details))) }
        members.append(("code", .int(code)))
        return .object(members)
    }
}
