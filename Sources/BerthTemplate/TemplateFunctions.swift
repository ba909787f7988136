import Foundation

/// The functions a `--format` template can call: Go's built-ins and the ones Docker's CLI adds.
enum TemplateFunctions {
    private typealias Body = @Sendable ([TemplateValue]) throws -> TemplateValue

    private static func function(_ parameters: [TemplateParameter], variadic: TemplateParameter? = nil,
                                 _ body: @escaping Body) -> TemplateFunction {
        TemplateFunction(kind: .call(parameters: parameters, variadic: variadic, body: body))
    }

    private static func fail(_ message: String) -> TemplateMethodError { TemplateMethodError(message) }

    static let standard: [String: TemplateFunction] = builtins.merging(docker) { $1 }

    /// Docker's header functions: in the header row of a `table` format, these return the header
    /// text they are given, so `{{json .Labels}}` is headed "LABELS".
    static let header: [String: TemplateFunction] = standard.merging([
        "json": function([.string]) { $0[0] },
        "split": function([.string, .string]) { $0[0] },
        "join": function([.string, .string]) { $0[0] },
        "title": function([.string]) { $0[0] },
        "lower": function([.string]) { $0[0] },
        "upper": function([.string]) { $0[0] },
        "truncate": function([.string, .int]) { $0[0] },
    ]) { $1 }

    // MARK: Go's built-ins

    private static let builtins: [String: TemplateFunction] = [
        "and": TemplateFunction(kind: .and),
        "or": TemplateFunction(kind: .or),
        "not": function([.any]) { .bool(!TemplateEvaluator.isTrue($0[0])) },
        "len": function([.any]) { arguments in
            switch arguments[0] {
            case .string(let text): return .int(text.utf8.count)
            case .list(let items): return .int(items.count)
            case .map(let members): return .int(members.count)
            case .object(let object): throw fail("len of type \(object.typeName)")
            case .nilCollection: return .int(0)
            case .missing, .null: throw fail("len of nil pointer")
            default: throw fail("len of type \(arguments[0].goType)")
            }
        },
        "index": function([.any], variadic: .any) { try index($0[0], Array($0.dropFirst())) },
        "slice": function([.any], variadic: .any) { try slice($0[0], Array($0.dropFirst())) },
        "print": function([], variadic: .any) { .string(GoFormat.sprint($0)) },
        "println": function([], variadic: .any) { .string(GoFormat.sprintln($0)) },
        "printf": function([.string], variadic: .any) { arguments in
            guard case .string(let format) = arguments[0] else { return .string("") }
            return .string(GoFormat.sprintf(format, Array(arguments.dropFirst())))
        },
        "html": function([], variadic: .any) { .string(htmlEscaped(evaluatedArguments($0))) },
        "urlquery": function([], variadic: .any) { .string(queryEscaped(evaluatedArguments($0))) },
        "eq": function([.any], variadic: .any) { arguments in
            guard arguments.count > 1 else { throw fail("missing argument for comparison") }
            for other in arguments.dropFirst() where try equal(arguments[0], other) { return .bool(true) }
            return .bool(false)
        },
        "ne": function([.any, .any]) { .bool(!(try equal($0[0], $0[1]))) },
        "lt": function([.any, .any]) { .bool(try less($0[0], $0[1])) },
        "le": function([.any, .any]) { .bool(try less($0[0], $0[1]) || equal($0[0], $0[1])) },
        "gt": function([.any, .any]) { .bool(!(try less($0[0], $0[1]) || equal($0[0], $0[1]))) },
        "ge": function([.any, .any]) { .bool(!(try less($0[0], $0[1]))) },
    ]

    /// html and urlquery print their arguments as fmt.Sprint does (a lone string as it is).
    private static func evaluatedArguments(_ arguments: [TemplateValue]) -> String {
        if arguments.count == 1, case .string(let text) = arguments[0] { return text }
        return GoFormat.sprint(arguments)
    }

    private static func htmlEscaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\0": out += "\u{FFFD}"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Go's url.QueryEscape.
    private static func queryEscaped(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "): out += "+"
            default: out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    private enum BasicKind { case bool, int, float, string }

    private static func basicKind(_ value: TemplateValue) -> BasicKind? {
        switch value {
        case .bool: return .bool
        case .int: return .int
        case .float: return .float
        case .string: return .string
        default: return nil
        }
    }

    /// Go's eq: basic values of one kind compare by value; different kinds are an error unless
    /// one side is nil.
    private static func equal(_ left: TemplateValue, _ right: TemplateValue) throws -> Bool {
        // A nil slice or map equals nil only.
        let left = if case .nilCollection = left { TemplateValue.null } else { left }
        let right = if case .nilCollection = right { TemplateValue.null } else { right }
        switch (left, right) {
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.float(let a), .float(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.missing, .missing), (.null, .null), (.missing, .null), (.null, .missing): return true
        case (.missing, _), (.null, _), (_, .missing), (_, .null): return false
        default:
            if basicKind(left) != nil || basicKind(right) != nil { throw fail("incompatible types for comparison") }
            throw fail("non-comparable type \(GoFormat.value(left)): \(left.goType)")
        }
    }

    private static func less(_ left: TemplateValue, _ right: TemplateValue) throws -> Bool {
        guard let leftKind = basicKind(left), let rightKind = basicKind(right) else {
            throw fail("invalid type for comparison")
        }
        guard leftKind == rightKind else { throw fail("incompatible types for comparison") }
        switch (left, right) {
        case (.int(let a), .int(let b)): return a < b
        case (.float(let a), .float(let b)): return a < b
        case (.string(let a), .string(let b)): return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        default: throw fail("invalid type for comparison")
        }
    }

    private static func indexValue(_ value: TemplateValue, length: Int) throws -> Int {
        guard case .int(let index) = value else {
            if case .missing = value { throw fail("cannot index slice/array with nil") }
            if case .null = value { throw fail("cannot index slice/array with nil") }
            throw fail("cannot index slice/array with type \(value.goType)")
        }
        guard index >= 0, index < length else { throw fail("index out of range: \(index)") }
        return index
    }

    private static func index(_ item: TemplateValue, _ indexes: [TemplateValue]) throws -> TemplateValue {
        var item = item
        for key in indexes {
            switch item {
            case .list(let items): item = items[try indexValue(key, length: items.count)]
            case .string(let text):
                let bytes = Array(text.utf8)
                item = .int(Int(bytes[try indexValue(key, length: bytes.count)]))
            case .map(let members):
                guard case .string(let name) = key else {
                    throw fail("value has type \(key.goType); should be string")
                }
                // A missing key gives the map's zero value: "" for a map of strings (Docker's
                // labels), nil otherwise.
                let strings = members.allSatisfy { if case .string = $0.1 { true } else { false } }
                item = members.first { $0.0 == name }?.1 ?? (strings ? .string("") : .missing)
                if case .null = item { item = .missing }
            case .null, .missing, .nilCollection:
                // Docker's typed documents hold nil maps and slices here: a nil map of labels
                // indexes to "", a nil slice is out of range.
                if case .string = key { item = .string(""); continue }
                _ = try indexValue(key, length: 0)
            default: throw fail("can't index item of type \(item.goType)")
            }
        }
        return item
    }

    private static func slice(_ item: TemplateValue, _ indexes: [TemplateValue]) throws -> TemplateValue {
        if case .missing = item { throw fail("slice of untyped nil") }
        guard indexes.count <= 3 else { throw fail("too many slice indexes: \(indexes.count)") }
        let length: Int
        switch item {
        case .list(let items): length = items.count
        case .nilCollection(isMap: false): length = 0
        case .string(let text):
            guard indexes.count < 3 else { throw fail("cannot 3-index slice a string") }
            length = text.utf8.count
        default: throw fail("can't slice item of type \(item.goType)")
        }
        var bounds = [0, length]
        for (position, value) in indexes.prefix(2).enumerated() {
            guard case .int(let index) = value else { throw fail("cannot index slice/array with type \(value.goType)") }
            guard index >= 0, index <= length else { throw fail("index out of range: \(index)") }
            bounds[position] = index
        }
        guard bounds[0] <= bounds[1] else { throw fail("invalid slice index: \(bounds[0]) > \(bounds[1])") }
        switch item {
        case .list(let items): return .list(Array(items[bounds[0]..<bounds[1]]))
        case .nilCollection: return item
        case .string(let text): return .string(String(decoding: Array(text.utf8)[bounds[0]..<bounds[1]], as: UTF8.self))
        default: return item
        }
    }

    // MARK: Docker's functions (docker/cli templates package)

    private static let docker: [String: TemplateFunction] = [
        // json.Encoder without HTML escaping, trailing newline trimmed.
        // Docker's list contexts marshal themselves with json.Marshal, which does escape HTML.
        "json": function([.any]) { arguments in
            if case .object(let object) = arguments[0], object.kind == .context { return .string(arguments[0].json.compact) }
            return .string(arguments[0].json.templateJSON)
        },
        "split": function([.string, .string]) { arguments in
            guard case .string(let text) = arguments[0], case .string(let separator) = arguments[1] else { return .null }
            return .list(split(text, separator).map(TemplateValue.string))
        },
        "join": function([.any, .string]) { arguments in
            guard case .string(let separator) = arguments[1] else { return .string("") }
            switch arguments[0] {
            case .null, .missing, .nilCollection: return .string("")
            case .list(let items): return .string(items.map { GoFormat.sprint([$0]) }.joined(separator: separator))
            case .map(let members): return .string(members.map { GoFormat.sprint([$0.1]) }.sorted().joined(separator: separator))
            default: throw fail("expected slice, got \(arguments[0].goType)")
            }
        },
        "title": function([.string]) { .string(title(text($0[0]))) },
        "lower": function([.string]) { .string(text($0[0]).lowercased()) },
        "upper": function([.string]) { .string(text($0[0]).uppercased()) },
        "pad": function([.string, .int, .int]) { arguments in
            let source = text(arguments[0])
            guard !source.isEmpty, case .int(let prefix) = arguments[1], case .int(let suffix) = arguments[2] else {
                return .string(source)
            }
            guard prefix >= 0, suffix >= 0 else { throw fail("strings: negative Repeat count") }
            return .string(String(repeating: " ", count: prefix) + source + String(repeating: " ", count: suffix))
        },
        "truncate": function([.string, .int]) { arguments in
            let source = text(arguments[0])
            guard case .int(let length) = arguments[1] else { return .string(source) }
            let bytes = Array(source.utf8)
            guard bytes.count >= length else { return .string(source) }
            guard length >= 0 else { throw fail("slice bounds out of range [:\(length)]") }
            return .string(String(decoding: bytes[..<length], as: UTF8.self))
        },
    ]

    private static func text(_ value: TemplateValue) -> String {
        if case .string(let text) = value { return text }
        return ""
    }

    /// strings.Split: an empty separator splits after each character.
    private static func split(_ text: String, _ separator: String) -> [String] {
        if separator.isEmpty { return text.unicodeScalars.map { String($0) } }
        return text.components(separatedBy: separator)
    }

    /// strings.Title: upper-cases the first letter of each word; words are separated by
    /// anything but ASCII letters, digits and `_` (and non-ASCII letters and digits).
    private static func title(_ text: String) -> String {
        var out = ""
        var previous: Unicode.Scalar = " "
        for scalar in text.unicodeScalars {
            if isSeparator(previous) {
                out += String(scalar).uppercased()
            } else {
                out.unicodeScalars.append(scalar)
            }
            previous = scalar
        }
        return out
    }

    private static func isSeparator(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let byte = UInt8(scalar.value)
            return !(Character(scalar).isLetter || Character(scalar).isNumber || byte == UInt8(ascii: "_"))
        }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.numericType != nil { return false }
        return properties.isWhitespace
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }
}
