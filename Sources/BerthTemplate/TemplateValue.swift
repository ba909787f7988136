/// A value a template works on, modelled on what Go's text/template sees through reflection: the
/// JSON shapes of Docker's documents (as `encoding/json` decodes them into `interface{}`), the
/// integers and floats Go keeps apart, Go's invalid value ("<no value>", a map's missing key), and
/// objects with methods (Docker's formatter contexts, such as `ps`'s `.Label "x"`).
public indirect enum TemplateValue: Sendable {
    /// Go's invalid reflect.Value: a missing map key; prints as `<no value>`.
    case missing
    /// A nil interface or pointer (`<nil>`).
    case null
    /// A typed document's nil slice or map: printed `[]` or `map[]`, encoded as null.
    case nilCollection(isMap: Bool)
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list([TemplateValue])
    /// A map or a decoded JSON object; members keep their order for `json`, while ranging and
    /// printing sort the keys as Go does for maps.
    case map([(String, TemplateValue)])
    case object(TemplateObject)
    /// An integer constant beyond Go's int, which fails where it is used ("… overflows int").
    case overflow(String)

    /// A JSON document as Go's decoder gives it to a template; integral numbers become ints.
    public init(_ json: OrderedJSON) {
        switch json {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .number(let text):
            if let value = Int(text) {
                self = .int(value)
            } else {
                self = .float(Double(text) ?? 0)
            }
        case .string(let text): self = .string(text)
        case .array(let items): self = .list(items.map(TemplateValue.init))
        case .object(let members): self = .map(members.map { ($0.0, TemplateValue($0.1)) })
        }
    }

    /// The value as Go's encoding/json encodes it.
    public var json: OrderedJSON {
        switch self {
        case .missing, .null, .nilCollection: return .null
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .float(let value): return .number(GoNumbers.jsonFloat(value))
        case .string(let text): return .string(text)
        case .list(let items): return .array(items.map(\.json))
        case .map(let members): return .object(members.map { ($0.0, $0.1.json) })
        case .overflow: return .null
        case .object(let object):
            // Docker's formatter contexts marshal their methods through a map: sorted by name.
            let fields = object.kind == .context ? TemplateValue.sorted(object.fields) : object.fields
            return .object(fields.map { ($0.0, $0.1.json) })
        }
    }

    /// Go's name of the value's type, as `%T` and error messages print it.
    var goType: String {
        switch self {
        case .missing, .null: return "<nil>"
        case .nilCollection(let isMap): return isMap ? "map[string]interface {}" : "[]interface {}"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float64"
        case .string: return "string"
        case .list: return "[]interface {}"
        case .map: return "map[string]interface {}"
        case .object(let object): return object.typeName
        case .overflow: return "int"
        }
    }

    /// Map members in Go's iteration order for maps: sorted by key.
    static func sorted(_ members: [(String, TemplateValue)]) -> [(String, TemplateValue)] {
        members.sorted { $0.0 < $1.0 }
    }
}

/// A value with methods, like the Go structs Docker's formatters hand to templates: `.Name`
/// calls a method without arguments (or reads a field), `.Label "x"` one with arguments.
public struct TemplateObject: Sendable {
    /// A method taking arguments; it receives them already checked against its parameter count.
    public typealias Method = @Sendable ([TemplateValue]) throws -> TemplateValue

    public enum Kind: Sendable {
        /// A formatter context of Docker's list commands: `json` marshals its argument-less
        /// methods sorted by name, HTML-escaped (json.Marshal).
        case context
        /// A struct of a typed document: `json` writes its fields in order.
        case structure
        /// A map type with methods (Docker's table header context): a missing field is a
        /// missing map key (`<no value>`), not an error.
        case headerMap
    }

    /// Go's type name, for error messages (`*formatter.ContainerContext`).
    public var typeName: String
    /// The fields and argument-less methods, in the order `json` encodes them.
    public var fields: [(String, TemplateValue)]
    /// Methods with arguments: name → (number of parameters, implementation).
    public var methods: [String: (parameters: Int, call: Method)]
    public var kind: Kind

    public init(typeName: String, fields: [(String, TemplateValue)],
                methods: [String: (parameters: Int, call: Method)] = [:], kind: Kind = .context) {
        self.typeName = typeName
        self.fields = fields
        self.methods = methods
        self.kind = kind
    }
}

/// An error a method of a `TemplateObject` raises; the template reports it as Go reports a
/// method's error ("error calling Label: …").
public struct TemplateMethodError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
