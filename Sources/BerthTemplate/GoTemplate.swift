import Foundation

/// The subset of Go's text/template that Docker's `--format` users rely on, evaluated over a
/// OrderedJSON: `{{.Field.Sub}}`, `{{json .X}}`, `{{index .X "key"}}`, `{{join .X ", "}}`,
/// `{{upper .X}}`, `{{lower .X}}`, `{{len .X}}`, `{{range .X}}…{{end}}`,
/// `{{if .X}}…{{else}}…{{end}}`, and pipelines (`{{.X | json}}`).
public struct GoTemplate {
    /// A template that does not parse, or an action that cannot be evaluated.
    public struct ParseError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { "template parsing error: \(message)" }
    }

    private indirect enum Node {
        case text(String)
        case action([[String]])
        case range([[String]], [Node])
        case conditional([[String]], [Node], [Node])
    }

    private let nodes: [Node]

    /// Parses `source`.
    public init(_ source: String) throws {
        var tokens = Self.tokenize(source)[...]
        nodes = try Self.parse(&tokens, until: [])
        guard tokens.isEmpty else { throw ParseError(message: "unexpected {{\(tokens.first!.1)}}") }
    }

    /// The template evaluated with `dot` as `.`.
    public func render(_ dot: OrderedJSON) throws -> String {
        var out = ""
        try Self.render(nodes, dot: dot, into: &out)
        return out
    }

    // MARK: Parsing

    /// (isAction, text) pairs.
    private static func tokenize(_ source: String) -> [(Bool, String)] {
        var tokens: [(Bool, String)] = []
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { tokens.append((false, String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                tokens.append((false, String(rest[open.lowerBound...])))
                return tokens
            }
            var action = rest[open.upperBound..<close.lowerBound]
            // {{- and -}} trim the neighbouring whitespace, as in Go.
            if action.hasPrefix("-") {
                action = action.dropFirst()
                if let last = tokens.last, !last.0 {
                    tokens[tokens.count - 1].1 = String(last.1.reversed().drop(while: \.isWhitespace).reversed())
                }
            }
            var trimAfter = false
            if action.hasSuffix("-") { action = action.dropLast(); trimAfter = true }
            tokens.append((true, action.trimmingCharacters(in: .whitespaces)))
            rest = rest[close.upperBound...]
            if trimAfter { rest = rest.drop(while: \.isWhitespace) }
        }
        if !rest.isEmpty { tokens.append((false, String(rest))) }
        return tokens
    }

    private static func parse(_ tokens: inout ArraySlice<(Bool, String)>, until stops: Set<String>) throws -> [Node] {
        var nodes: [Node] = []
        while let (isAction, text) = tokens.first {
            if !isAction {
                tokens.removeFirst()
                nodes.append(.text(text))
                continue
            }
            let keyword = text.split(separator: " ").first.map(String.init) ?? ""
            if stops.contains(keyword) { return nodes }
            tokens.removeFirst()
            switch keyword {
            case "range", "if":
                let pipeline = try parsePipeline(String(text.dropFirst(keyword.count)))
                let body = try parse(&tokens, until: ["end", "else"])
                var alternative: [Node] = []
                if tokens.first?.1 == "else" {
                    tokens.removeFirst()
                    alternative = try parse(&tokens, until: ["end"])
                }
                guard tokens.first?.1 == "end" else { throw ParseError(message: "unexpected EOF, missing {{end}}") }
                tokens.removeFirst()
                nodes.append(keyword == "range" ? .range(pipeline, body) : .conditional(pipeline, body, alternative))
            case "end", "else":
                throw ParseError(message: "unexpected {{\(keyword)}}")
            default:
                nodes.append(.action(try parsePipeline(text)))
            }
        }
        return nodes
    }

    /// Splits `a b "c d" | e` into commands of words, keeping quoted strings whole (quotes kept).
    private static func parsePipeline(_ text: String) throws -> [[String]] {
        var commands: [[String]] = [[]]
        var word = ""
        var quote: Character?
        func endWord() {
            if !word.isEmpty { commands[commands.count - 1].append(word) }
            word = ""
        }
        for character in text {
            if let open = quote {
                word.append(character)
                if character == open { quote = nil }
            } else if character == "\"" || character == "`" {
                word.append(character)
                quote = character
            } else if character == " " {
                endWord()
            } else if character == "|" {
                endWord()
                commands.append([])
            } else {
                word.append(character)
            }
        }
        guard quote == nil else { throw ParseError(message: "unterminated quoted string") }
        endWord()
        guard commands.allSatisfy({ !$0.isEmpty }) else { throw ParseError(message: "missing command in pipeline") }
        return commands
    }

    // MARK: Evaluation

    private static func render(_ nodes: [Node], dot: OrderedJSON, into out: inout String) throws {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .action(let pipeline):
                out += format(try evaluate(pipeline, dot: dot))
            case .range(let pipeline, let body):
                switch try evaluate(pipeline, dot: dot) {
                case .array(let items): for item in items { try render(body, dot: item, into: &out) }
                case .object(let members): for (_, value) in members.sorted(by: { $0.0 < $1.0 }) {
                    try render(body, dot: value, into: &out)
                }
                default: break
                }
            case .conditional(let pipeline, let body, let alternative):
                try render(isTruthy(try evaluate(pipeline, dot: dot)) ? body : alternative, dot: dot, into: &out)
            }
        }
    }

    private static func evaluate(_ pipeline: [[String]], dot: OrderedJSON) throws -> OrderedJSON {
        var previous: OrderedJSON?
        for command in pipeline {
            var arguments = try command.dropFirst().map { try operand($0, dot: dot) }
            if let previous { arguments.append(previous) }
            previous = try call(command[0], arguments, dot: dot)
        }
        return previous ?? .null
    }

    private static func call(_ name: String, _ arguments: [OrderedJSON], dot: OrderedJSON) throws -> OrderedJSON {
        switch name {
        case "json":
            return .string((arguments.first ?? dot).compact)
        case "index":
            guard arguments.count >= 2 else { throw ParseError(message: "wrong number of args for index") }
            var value = arguments[0]
            for key in arguments.dropFirst() {
                switch (value, key) {
                case (.object, .string(let k)): value = value[k] ?? .null
                case (.array(let items), .number(let n)): value = Int(n).flatMap { items.indices.contains($0) ? items[$0] : nil } ?? .null
                default: value = .null
                }
            }
            return value
        case "join":
            guard arguments.count == 2, case .array(let items) = arguments[0], case .string(let separator) = arguments[1]
            else { throw ParseError(message: "join expects a list and a separator") }
            return .string(items.map(format).joined(separator: separator))
        case "upper", "lower", "title":
            let text = format(arguments.first ?? dot)
            return .string(name == "upper" ? text.uppercased() : name == "lower" ? text.lowercased() : text.capitalized)
        case "len":
            switch arguments.first ?? dot {
            case .array(let items): return .int(items.count)
            case .object(let members): return .int(members.count)
            case .string(let text): return .int(text.utf8.count)
            default: throw ParseError(message: "len of a value without length")
            }
        case "println":
            return .string(arguments.map(format).joined(separator: " ") + "\n")
        default:
            guard arguments.isEmpty || name.hasPrefix(".") else {
                throw ParseError(message: "function \"\(name)\" not defined")
            }
            return try operand(name, dot: dot)
        }
    }

    private static func operand(_ word: String, dot: OrderedJSON) throws -> OrderedJSON {
        if word == "." { return dot }
        if word.hasPrefix(".") {
            var value = dot
            for field in word.dropFirst().split(separator: ".") {
                guard case .object = value else { return .null }
                guard let next = value[String(field)] else {
                    throw ParseError(message: "can't evaluate field \(field)")
                }
                value = next
            }
            return value
        }
        if word.count >= 2, let first = word.first, first == "\"" || first == "`", word.last == first {
            return .string(String(word.dropFirst().dropLast()).replacingOccurrences(of: "\\n", with: "\n")
                .replacingOccurrences(of: "\\t", with: "\t"))
        }
        if Double(word) != nil { return .number(word) }
        if word == "true" || word == "false" { return .bool(word == "true") }
        throw ParseError(message: "function \"\(word)\" not defined")
    }

    private static func isTruthy(_ value: OrderedJSON) -> Bool {
        switch value {
        case .null: return false
        case .bool(let b): return b
        case .number(let n): return Double(n) != 0
        case .string(let s): return !s.isEmpty
        case .array(let items): return !items.isEmpty
        case .object(let members): return !members.isEmpty
        }
    }

    /// Go's `%v` formatting of a value.
    public static func format(_ value: OrderedJSON) -> String {
        switch value {
        case .null: return "<nil>"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return s
        case .array(let items): return "[" + items.map(format).joined(separator: " ") + "]"
        case .object(let members):
            return "map[" + members.sorted { $0.0 < $1.0 }.map { "\($0.0):\(format($0.1))" }.joined(separator: " ") + "]"
        }
    }
}
