/// The parse tree of a Go text/template, with the byte offsets Go's error messages report.
indirect enum TemplateNode: Sendable {
    case text(String)
    case action(TemplatePipe)
    case branch(kind: BranchKind, pipe: TemplatePipe, body: [TemplateNode], otherwise: [TemplateNode]?)
    case breakLoop
    case continueLoop
    /// `{{template "name" pipeline}}` (also what `{{block}}` leaves in place); `position` is the
    /// name's, as Go reports it.
    case template(name: String, pipe: TemplatePipe?, position: Int)

    enum BranchKind: String, Sendable { case `if`, range, with }
}

/// A pipeline: optional variable declarations, then commands joined by `|`.
struct TemplatePipe: Sendable {
    var position: Int
    var declarations: [String] = []
    var isAssignment = false
    var commands: [TemplateCommand] = []

    /// Go's rendering of the node, for error contexts.
    var description: String {
        let text = commands.map(\.description).joined(separator: " | ")
        guard !declarations.isEmpty else { return text }
        return declarations.joined(separator: ", ") + (isAssignment ? " = " : " := ") + text
    }
}

struct TemplateCommand: Sendable {
    var position: Int
    var arguments: [TemplateArgument] = []
    var description: String { arguments.map(\.description).joined(separator: " ") }
}

/// One operand of a command.
indirect enum TemplateArgument: Sendable {
    case dot(Int)
    case null(Int)
    case bool(Bool, Int)
    /// A number constant: its value and its source text.
    case number(TemplateValue, String, Int)
    /// A string constant: its value and its quoted source text.
    case string(String, String, Int)
    /// `.A.B`
    case field([String], Int)
    /// `$x.A.B` (`$` alone is the root)
    case variable(String, [String], Int)
    /// `(pipeline).A.B`
    case chain(TemplateArgument, [String], Int)
    /// A function name.
    case identifier(String, Int)
    case pipe(TemplatePipe)

    var position: Int {
        switch self {
        case .dot(let at), .null(let at), .bool(_, let at), .number(_, _, let at), .string(_, _, let at),
             .field(_, let at), .variable(_, _, let at), .chain(_, _, let at), .identifier(_, let at):
            return at
        case .pipe(let pipe): return pipe.position
        }
    }

    var description: String {
        switch self {
        case .dot: return "."
        case .null: return "nil"
        case .bool(let value, _): return value ? "true" : "false"
        case .number(_, let text, _), .string(_, let text, _): return text
        case .field(let names, _): return names.map { "." + $0 }.joined()
        case .variable(let name, let names, _): return name + names.map { "." + $0 }.joined()
        case .chain(let base, let names, _):
            let inner = if case .pipe = base { "(" + base.description + ")" } else { base.description }
            return inner + names.map { "." + $0 }.joined()
        case .identifier(let name, _): return name
        case .pipe(let pipe): return "(" + pipe.description + ")"
        }
    }

    /// Constants and dot cannot start a later stage of a pipeline.
    var isExecutable: Bool {
        switch self {
        case .dot, .null, .bool, .number, .string: return false
        default: return true
        }
    }
}

/// A template that does not parse, worded as Go's parser words it
/// (`template: :1: function "foo" not defined`).
public struct TemplateParseError: Error, CustomStringConvertible, Equatable {
    public var name: String
    public var line: Int
    public var message: String
    public var description: String { "template: \(name):\(line): \(message)" }
}

/// Go's template lexer and parser.
struct TemplateParser: Sendable {
    enum TokenKind: Equatable, Sendable {
        case text, leftDelimiter, rightDelimiter, space, pipe, leftParen, rightParen, declare, assign, char
        case string, rawString, charConstant, number, bool, null, keyword, identifier, field, variable, dot, eof
    }

    struct Token: Sendable {
        var kind: TokenKind
        var text: String
        var position: Int
    }

    static let keywords: Set<String> = ["block", "break", "continue", "define", "else", "end", "if", "range",
                                        "template", "with"]
    /// Go's limit on nested expressions and control structures.
    static let maximumDepth = 1000

    let source: [UInt8]
    let name: String
    let functions: Set<String>
    private var tokens: [Token] = []
    private var index = 0
    private var variables: [String] = ["$"]
    private var rangeDepth = 0
    private var depth = 0
    /// The templates `{{define}}` and `{{block}}` name.
    private(set) var definitions: [String: [TemplateNode]] = [:]

    init(source: String, name: String, functions: Set<String>) {
        self.source = Array(source.utf8)
        self.name = name
        self.functions = functions
    }

    func line(at position: Int) -> Int {
        1 + source[..<min(position, source.count)].filter { $0 == UInt8(ascii: "\n") }.count
    }

    private func fail(_ message: String, at position: Int? = nil) -> TemplateParseError {
        TemplateParseError(name: name, line: line(at: position ?? currentPosition), message: message)
    }

    private var currentPosition: Int { index < tokens.count ? tokens[index].position : source.count }

    // MARK: Lexing

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
            || byte >= 0x80
    }

    private func starts(_ text: String, at position: Int) -> Bool {
        let bytes = Array(text.utf8)
        return position + bytes.count <= source.count && Array(source[position..<position + bytes.count]) == bytes
    }

    private func string(_ range: Range<Int>) -> String { String(decoding: source[range], as: UTF8.self) }

    /// Splits the source into text and action tokens, applying trim markers and dropping comments.
    private mutating func lex() throws {
        var position = 0
        var trimNext = false
        while position <= source.count {
            var open = position
            while open < source.count, !starts("{{", at: open) { open += 1 }
            var textStart = position
            if trimNext {
                while textStart < open, Self.isSpace(source[textStart]) { textStart += 1 }
                trimNext = false
            }
            var textEnd = open
            var inside = open + 2
            let trimLeft = starts("{{-", at: open) && open + 3 < source.count && Self.isSpace(source[open + 3])
            if trimLeft {
                while textEnd > textStart, Self.isSpace(source[textEnd - 1]) { textEnd -= 1 }
                inside += 2
            }
            if textEnd > textStart { tokens.append(Token(kind: .text, text: string(textStart..<textEnd), position: textStart)) }
            guard open < source.count else { break }
            tokens.append(Token(kind: .leftDelimiter, text: "{{", position: open))
            if starts("/*", at: inside) {
                guard let close = find("*/", from: inside + 2) else { throw fail("unclosed comment", at: inside) }
                var after = close + 2
                if after + 1 < source.count, Self.isSpace(source[after]), source[after + 1] == UInt8(ascii: "-"),
                   starts("}}", at: after + 2) {
                    trimNext = true
                    after += 2
                }
                guard starts("}}", at: after) else { throw fail("comment ends before closing delimiter", at: close) }
                tokens.removeLast()
                position = after + 2
                continue
            }
            position = try lexAction(from: inside, trimNext: &trimNext)
        }
        tokens.append(Token(kind: .eof, text: "", position: source.count))
    }

    private func find(_ text: String, from start: Int) -> Int? {
        var position = start
        while position < source.count {
            if starts(text, at: position) { return position }
            position += 1
        }
        return nil
    }

    /// Lexes the inside of one action; returns the offset after its closing delimiter.
    private mutating func lexAction(from start: Int, trimNext: inout Bool) throws -> Int {
        var position = start
        var parenDepth = 0
        func emit(_ kind: TokenKind, _ from: Int, _ to: Int) {
            tokens.append(Token(kind: kind, text: string(from..<to), position: from))
        }
        while true {
            if position + 1 < source.count, Self.isSpace(source[position]), source[position + 1] == UInt8(ascii: "-"),
               starts("}}", at: position + 2) {
                emit(.rightDelimiter, position + 2, position + 4)
                trimNext = true
                return position + 4
            }
            if starts("}}", at: position) {
                if parenDepth > 0 { throw fail("unclosed left paren", at: position) }
                emit(.rightDelimiter, position, position + 2)
                return position + 2
            }
            guard position < source.count else { throw fail("unclosed action", at: position) }
            let byte = source[position]
            let begin = position
            switch byte {
            case _ where Self.isSpace(byte):
                while position < source.count, Self.isSpace(source[position]),
                      !(position + 1 < source.count && source[position + 1] == UInt8(ascii: "-") && starts("}}", at: position + 2)) {
                    position += 1
                }
                if position == begin { position += 1 }
                emit(.space, begin, position)
            case UInt8(ascii: "="): position += 1; emit(.assign, begin, position)
            case UInt8(ascii: ":"):
                guard position + 1 < source.count, source[position + 1] == UInt8(ascii: "=") else {
                    throw fail("expected :=", at: position)
                }
                position += 2
                emit(.declare, begin, position)
            case UInt8(ascii: "|"): position += 1; emit(.pipe, begin, position)
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                position += 1
                while true {
                    guard position < source.count, source[position] != UInt8(ascii: "\n") else {
                        throw fail(byte == UInt8(ascii: "'") ? "unterminated character constant" : "unterminated quoted string",
                                   at: begin)
                    }
                    if source[position] == UInt8(ascii: "\\") { position += 2; continue }
                    position += 1
                    if source[position - 1] == byte { break }
                }
                emit(byte == UInt8(ascii: "'") ? .charConstant : .string, begin, position)
            case UInt8(ascii: "`"):
                guard let close = find("`", from: position + 1) else { throw fail("unterminated raw quoted string", at: begin) }
                position = close + 1
                emit(.rawString, begin, position)
            case UInt8(ascii: "$"):
                position += 1
                while position < source.count, Self.isAlphanumeric(source[position]) { position += 1 }
                emit(.variable, begin, position)
            case UInt8(ascii: "."):
                if position + 1 < source.count, source[position + 1] >= 0x30, source[position + 1] <= 0x39 {
                    position = try lexNumber(from: position)
                    emit(.number, begin, position)
                } else {
                    position += 1
                    while position < source.count, Self.isAlphanumeric(source[position]) { position += 1 }
                    emit(position == begin + 1 ? .dot : .field, begin, position)
                }
            case UInt8(ascii: "+"), UInt8(ascii: "-"), 0x30...0x39:
                position = try lexNumber(from: position)
                emit(.number, begin, position)
            case UInt8(ascii: "("):
                parenDepth += 1
                position += 1
                emit(.leftParen, begin, position)
            case UInt8(ascii: ")"):
                parenDepth -= 1
                guard parenDepth >= 0 else { throw fail("unexpected right paren", at: begin) }
                position += 1
                emit(.rightParen, begin, position)
            case _ where Self.isAlphanumeric(byte):
                while position < source.count, Self.isAlphanumeric(source[position]) { position += 1 }
                let word = string(begin..<position)
                if position < source.count, !Self.isSpace(source[position]),
                   !".,|:()".utf8.contains(source[position]), !starts("}}", at: position) {
                    throw fail("bad character \(Self.describe(source[position]))", at: position)
                }
                let kind: TokenKind = Self.keywords.contains(word) ? .keyword
                    : word == "true" || word == "false" ? .bool : word == "nil" ? .null : .identifier
                emit(kind, begin, position)
            case 0x21...0x7E:
                position += 1
                emit(.char, begin, position)
            default:
                throw fail("unrecognized character in action: \(Self.describe(byte))", at: begin)
            }
        }
    }

    private static func describe(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: 4 - hex.count) + hex + (byte >= 0x20 && byte < 0x7F ? " '\(Character(Unicode.Scalar(byte)))'" : "")
    }

    private func lexNumber(from start: Int) throws -> Int {
        var position = start
        if position < source.count, source[position] == UInt8(ascii: "+") || source[position] == UInt8(ascii: "-") {
            position += 1
        }
        var digits = "0123456789_"
        var exponent = "eE"
        if starts("0x", at: position) || starts("0X", at: position) {
            position += 2; digits = "0123456789abcdefABCDEF_"; exponent = "pP"
        } else if starts("0o", at: position) || starts("0O", at: position) {
            position += 2; digits = "01234567_"
        } else if starts("0b", at: position) || starts("0B", at: position) {
            position += 2; digits = "01_"
        }
        func run(_ set: String) { while position < source.count, set.utf8.contains(source[position]) { position += 1 } }
        run(digits)
        if position < source.count, source[position] == UInt8(ascii: ".") { position += 1; run(digits) }
        if position < source.count, exponent.utf8.contains(source[position]) {
            position += 1
            if position < source.count, "+-".utf8.contains(source[position]) { position += 1 }
            run("0123456789_")
        }
        if position < source.count, Self.isAlphanumeric(source[position]) {
            var end = position
            while end < source.count, Self.isAlphanumeric(source[end]) || source[end] == UInt8(ascii: ".") { end += 1 }
            throw fail("bad number syntax: \(goQuoted(string(start..<end)))", at: start)
        }
        return position
    }

    // MARK: Parsing

    /// Parses the whole template.
    mutating func parse() throws -> [TemplateNode] {
        try lex()
        let (nodes, stop) = try list()
        if let stop { throw fail("unexpected {{\(stop)}}", at: tokens[index].position) }
        return nodes
    }

    private var peek: Token { tokens[index] }

    private mutating func next() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private mutating func nextNonSpace() -> Token {
        while peek.kind == .space { index += 1 }
        return next()
    }

    private mutating func peekNonSpace() -> Token {
        while peek.kind == .space { index += 1 }
        return peek
    }

    /// Nodes up to EOF, or up to an `{{else}}`/`{{end}}` (returned as the stop word, with the
    /// position after the keyword).
    private mutating func list() throws -> ([TemplateNode], String?) {
        var nodes: [TemplateNode] = []
        while true {
            let token = next()
            switch token.kind {
            case .eof: return (nodes, nil)
            case .text: nodes.append(.text(token.text))
            case .leftDelimiter:
                let word = peekNonSpace()
                if word.kind == .keyword, word.text == "end" || word.text == "else" {
                    _ = next()
                    if word.text == "end" { try expectRightDelimiter("end") }
                    return (nodes, word.text)
                }
                if let node = try action() { nodes.append(node) }
            default:
                throw fail("unexpected \(token.text)", at: token.position)
            }
        }
    }

    private mutating func expectRightDelimiter(_ context: String) throws {
        let token = nextNonSpace()
        guard token.kind == .rightDelimiter else { throw unexpected(token, in: context) }
    }

    private func unexpected(_ token: Token, in context: String) -> TemplateParseError {
        let shown = switch token.kind {
        case .eof: "EOF"
        case .keyword, .dot, .null: "<\(token.text)>"
        default: goQuoted(token.text)
        }
        return fail("unexpected \(shown) in \(context)", at: token.position)
    }

    private mutating func action() throws -> TemplateNode? {
        let token = peekNonSpace()
        if token.kind == .keyword {
            _ = next()
            switch token.text {
            case "if", "range", "with":
                return try control(TemplateNode.BranchKind(rawValue: token.text) ?? .if, at: token.position)
            case "break", "continue":
                guard rangeDepth > 0 else { throw fail("{{\(token.text)}} outside {{range}}", at: token.position) }
                try expectRightDelimiter(token.text)
                return token.text == "break" ? .breakLoop : .continueLoop
            case "define" where depth == 0:
                let name = try templateName("define")
                try expectRightDelimiter("define")
                try define(name, at: token.position)
                return nil
            case "template":
                let name = try templateName("template")
                if peekNonSpace().kind == .rightDelimiter {
                    _ = next()
                    return .template(name: name.text, pipe: nil, position: name.position)
                }
                return .template(name: name.text, pipe: try pipeline(context: "template", end: .rightDelimiter),
                                 position: name.position)
            case "block":
                let name = try templateName("block")
                let pipe = try pipeline(context: "block", end: .rightDelimiter)
                try define(name, at: token.position)
                return .template(name: name.text, pipe: pipe, position: name.position)
            default:
                throw unexpected(token, in: "command")
            }
        }
        return .action(try pipeline(context: "command", end: .rightDelimiter))
    }

    /// The quoted name after `define`, `template` or `block`.
    private mutating func templateName(_ context: String) throws -> (text: String, position: Int) {
        let token = nextNonSpace()
        switch token.kind {
        case .string:
            guard let name = GoStringLiteral.unquote(token.text) else { throw fail("invalid syntax", at: token.position) }
            return (name, token.position)
        case .rawString: return (String(token.text.dropFirst().dropLast()), token.position)
        default: throw unexpected(token, in: "\(context) clause")
        }
    }

    /// A named template's body up to its `{{end}}`, in a scope of its own (only `$`). An empty
    /// body does not replace a definition, as in Go.
    private mutating func define(_ name: (text: String, position: Int), at position: Int) throws {
        let outer = variables
        variables = ["$"]
        depth += 1
        defer {
            variables = outer
            depth -= 1
        }
        let (body, stop) = try list()
        guard stop == "end" else { throw fail(stop == nil ? "unexpected EOF" : "unexpected {{else}}") }
        let isEmpty = body.allSatisfy { if case .text(let text) = $0 { text.allSatisfy(\.isWhitespace) } else { false } }
        if !isEmpty || definitions[name.text] == nil { definitions[name.text] = body }
    }

    /// `if`, `range` and `with`, their `else` (and `else if`/`else with` chains) and `end`.
    private mutating func control(_ kind: TemplateNode.BranchKind, at position: Int) throws -> TemplateNode {
        depth += 1
        defer { depth -= 1 }
        guard depth < Self.maximumDepth else { throw fail("max expression depth exceeded", at: position) }
        let mark = variables.count
        defer { variables.removeLast(variables.count - mark) }
        let pipe = try pipeline(context: kind.rawValue, end: .rightDelimiter)
        if kind == .range { rangeDepth += 1 }
        let (body, stop) = try list()
        if kind == .range { rangeDepth -= 1 }
        var otherwise: [TemplateNode]?
        switch stop {
        case "end": break
        case "else":
            let chained = peekNonSpace()
            if kind != .range, chained.kind == .keyword, chained.text == kind.rawValue {
                _ = next()
                otherwise = [try control(kind, at: chained.position)]
            } else {
                try expectRightDelimiter("else")
                let (alternative, last) = try list()
                guard last == "end" else {
                    throw fail(last == nil ? "unexpected EOF" : "expected end; found {{else}}")
                }
                otherwise = alternative
            }
        default: throw fail("unexpected EOF")
        }
        return .branch(kind: kind, pipe: pipe, body: body, otherwise: otherwise)
    }

    private mutating func pipeline(context: String, end: TokenKind) throws -> TemplatePipe {
        var pipe = TemplatePipe(position: peekNonSpace().position)
        declarations: while peekNonSpace().kind == .variable {
            let variableIndex = index
            let variable = next()
            let following = peekNonSpace()
            switch following.kind {
            case .declare, .assign:
                _ = next()
                pipe.isAssignment = following.kind == .assign
                if pipe.isAssignment, !variables.contains(variable.text) {
                    throw fail("undefined variable \(goQuoted(variable.text))", at: variable.position)
                }
                pipe.declarations.append(variable.text)
                variables.append(variable.text)
            case .char where following.text == ",":
                _ = next()
                pipe.declarations.append(variable.text)
                variables.append(variable.text)
                if context == "range", pipe.declarations.count < 2 {
                    switch peekNonSpace().kind {
                    case .variable, .rightDelimiter, .rightParen: continue declarations
                    default: throw fail("range can only initialize variables")
                    }
                }
                throw fail("too many declarations in \(context)")
            default:
                // Not a declaration: the variable starts the first command.
                index = variableIndex
            }
            break
        }
        pipe.position = peekNonSpace().position
        while true {
            let token = peekNonSpace()
            if token.kind == end {
                _ = next()
                try check(pipe, context: context)
                return pipe
            }
            switch token.kind {
            case .bool, .charConstant, .dot, .field, .identifier, .number, .null, .rawString, .string, .variable, .leftParen:
                pipe.commands.append(try command())
            default:
                throw unexpected(token, in: context)
            }
        }
    }

    private func check(_ pipe: TemplatePipe, context: String) throws {
        guard !pipe.commands.isEmpty else { throw fail("missing value for \(context)") }
        for (stage, command) in pipe.commands.enumerated().dropFirst() where !command.arguments[0].isExecutable {
            throw fail("non executable command in pipeline stage \(stage + 1)")
        }
    }

    private mutating func command() throws -> TemplateCommand {
        var command = TemplateCommand(position: peekNonSpace().position)
        while true {
            _ = peekNonSpace()
            if let operand = try operand() { command.arguments.append(operand) }
            let token = next()
            switch token.kind {
            case .space: continue
            case .rightDelimiter, .rightParen: index -= 1
            case .pipe: break
            default: throw unexpected(token, in: "operand")
            }
            break
        }
        guard !command.arguments.isEmpty else { throw fail("empty command") }
        return command
    }

    private mutating func operand() throws -> TemplateArgument? {
        guard let term = try term() else { return nil }
        guard peek.kind == .field else { return term }
        let position = peek.position
        var names: [String] = []
        while peek.kind == .field { names.append(String(next().text.dropFirst())) }
        switch term {
        case .field(let base, _): return .field(base + names, position)
        case .variable(let name, let base, _): return .variable(name, base + names, position)
        case .bool, .string, .number, .null, .dot:
            throw fail("unexpected . after term \(goQuoted(term.description))", at: position)
        default: return .chain(term, names, position)
        }
    }

    private mutating func term() throws -> TemplateArgument? {
        let token = nextNonSpace()
        switch token.kind {
        case .identifier:
            guard functions.contains(token.text) else {
                throw fail("function \(goQuoted(token.text)) not defined", at: token.position)
            }
            return .identifier(token.text, token.position)
        case .dot: return .dot(token.position)
        case .null: return .null(token.position)
        case .variable:
            guard variables.contains(token.text) else {
                throw fail("undefined variable \(goQuoted(token.text))", at: token.position)
            }
            return .variable(token.text, [], token.position)
        case .field: return .field([String(token.text.dropFirst())], token.position)
        case .bool: return .bool(token.text == "true", token.position)
        case .number, .charConstant:
            return .number(try number(token), token.text, token.position)
        case .leftParen:
            depth += 1
            defer { depth -= 1 }
            guard depth < Self.maximumDepth else { throw fail("max expression depth exceeded", at: token.position) }
            return .pipe(try pipeline(context: "parenthesized pipeline", end: .rightParen))
        case .string:
            guard let value = GoStringLiteral.unquote(token.text) else { throw fail("invalid syntax", at: token.position) }
            return .string(value, token.text, token.position)
        case .rawString:
            let value = String(token.text.dropFirst().dropLast()).replacingOccurrences(of: "\r", with: "")
            return .string(value, token.text, token.position)
        default:
            index -= 1
            return nil
        }
    }

    /// Go's number constants: ints (decimal, 0x, 0o, 0b, with `_`), floats (`.`, exponents), and
    /// character constants (their code point).
    private func number(_ token: Token) throws -> TemplateValue {
        let text = token.text
        if token.kind == .charConstant {
            // `\'` is a character constant's own escape; the rest are a string's.
            let inner = text.dropFirst().dropLast()
            guard let value = inner == "\\'" ? "'" : GoStringLiteral.unquote("\"" + inner + "\""),
                  value.unicodeScalars.count == 1, let scalar = value.unicodeScalars.first else {
                throw fail("malformed character constant: \(text)", at: token.position)
            }
            return .int(Int(scalar.value))
        }
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        var body = Substring(cleaned)
        var negative = false
        if body.first == "-" || body.first == "+" { negative = body.first == "-"; body = body.dropFirst() }
        let lower = body.lowercased()
        let isHex = lower.hasPrefix("0x")
        if lower.contains(".") || (!isHex && lower.contains("e")) || (isHex && lower.contains("p")) {
            guard let value = Double(cleaned) else { throw fail("illegal number syntax: \(goQuoted(text))", at: token.position) }
            return .float(value)
        }
        var radix = 10
        var digits = Substring(lower)
        if lower.hasPrefix("0x") { radix = 16; digits = digits.dropFirst(2) }
        else if lower.hasPrefix("0o") { radix = 8; digits = digits.dropFirst(2) }
        else if lower.hasPrefix("0b") { radix = 2; digits = digits.dropFirst(2) }
        else if lower.count > 1, lower.hasPrefix("0") { radix = 8; digits = digits.dropFirst() }
        guard let magnitude = Int(digits, radix: radix) else {
            // An integer too large for int parses; using it fails (`TemplateValue.overflow`).
            if !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit }) { return .overflow(text) }
            throw fail("illegal number syntax: \(goQuoted(text))", at: token.position)
        }
        return .int(negative ? -magnitude : magnitude)
    }
}

/// strconv.Unquote for double-quoted Go string literals.
enum GoStringLiteral {
    static func unquote(_ literal: String) -> String? {
        var scalars = Array(literal.unicodeScalars)
        guard scalars.count >= 2, scalars.first == "\"", scalars.last == "\"" else { return nil }
        scalars = Array(scalars[1..<(scalars.count - 1)])
        var out = String.UnicodeScalarView()
        var bytes: [UInt8] = []
        func flushBytes() {
            if !bytes.isEmpty { out.append(contentsOf: String(decoding: bytes, as: UTF8.self).unicodeScalars); bytes = [] }
        }
        var index = 0
        func hex(_ count: Int) -> UInt32? {
            guard index + count <= scalars.count else { return nil }
            let text = String(String.UnicodeScalarView(scalars[index..<index + count]))
            index += count
            return UInt32(text, radix: 16)
        }
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            guard scalar == "\\" else {
                if scalar == "\"" { return nil }
                flushBytes()
                out.append(scalar)
                continue
            }
            guard index < scalars.count else { return nil }
            let escape = scalars[index]
            index += 1
            var simple: Unicode.Scalar?
            switch escape {
            case "a": simple = "\u{07}"
            case "b": simple = "\u{08}"
            case "f": simple = "\u{0C}"
            case "n": simple = "\n"
            case "r": simple = "\r"
            case "t": simple = "\t"
            case "v": simple = "\u{0B}"
            case "\\": simple = "\\"
            case "\"": simple = "\""
            case "x":
                guard let value = hex(2) else { return nil }
                bytes.append(UInt8(value))
                continue
            case "0"..."7":
                index -= 1
                guard index + 3 <= scalars.count,
                      let value = UInt32(String(String.UnicodeScalarView(scalars[index..<index + 3])), radix: 8),
                      value < 256 else { return nil }
                index += 3
                bytes.append(UInt8(value))
                continue
            case "u", "U":
                guard let value = hex(escape == "u" ? 4 : 8), let unicode = Unicode.Scalar(value) else { return nil }
                simple = unicode
            default: return nil
            }
            flushBytes()
            if let simple { out.append(simple) }
        }
        flushBytes()
        return String(out)
    }
}
