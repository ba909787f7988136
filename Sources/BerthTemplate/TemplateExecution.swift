/// An action that fails while the template runs, worded as Go words it
/// (`template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type …`).
public struct TemplateExecutionError: Error, CustomStringConvertible, Equatable {
    public var location: String
    public var name: String
    public var context: String
    public var message: String
    public var description: String { "template: \(location): executing \(goQuoted(name)) at <\(context)>: \(message)" }
}

/// The parameter types of template functions, checked as Go's reflection checks arguments.
enum TemplateParameter {
    case any, string, int
}

/// A function callable from a template.
struct TemplateFunction: Sendable {
    enum Kind: Sendable {
        /// Fixed parameters, optionally followed by variadic ones.
        case call(parameters: [TemplateParameter], variadic: TemplateParameter?,
                  body: @Sendable ([TemplateValue]) throws -> TemplateValue)
        /// `and`/`or`: short-circuit, evaluate their arguments in turn.
        case and, or
    }

    var kind: Kind
}

/// Runs a parsed template over a value.
struct TemplateEvaluator {
    private enum LoopControl: Error { case breakLoop, continueLoop }

    let parser: TemplateParser
    let functions: [String: TemplateFunction]
    /// Docker's inspect runs templates over decoded JSON with `missingkey=error`.
    let missingKeyIsError: Bool
    var variables: [(String, TemplateValue)] = []
    var output = ""
    /// The node Go's `state.at` points at, for error messages.
    private var atPosition = 0
    private var atContext = ""

    init(parser: TemplateParser, functions: [String: TemplateFunction], missingKeyIsError: Bool) {
        self.parser = parser
        self.functions = functions
        self.missingKeyIsError = missingKeyIsError
    }

    mutating func run(_ nodes: [TemplateNode], dot: TemplateValue) throws {
        variables = [("$", dot)]
        try walk(nodes, dot: dot)
    }

    // MARK: Errors

    private mutating func at(_ position: Int, _ context: String) {
        atPosition = position
        atContext = context
    }

    private func fail(_ message: String) -> TemplateExecutionError {
        let prefix = parser.source[..<min(atPosition, parser.source.count)]
        let lineStart = (prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
        let location = "\(parser.name):\(parser.line(at: atPosition)):\(atPosition - lineStart)"
        return TemplateExecutionError(location: location, name: parser.name, context: atContext, message: message)
    }

    // MARK: Walking

    private mutating func walk(_ nodes: [TemplateNode], dot: TemplateValue) throws {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .action(let pipe):
                let value = try evaluate(pipe, dot: dot)
                if pipe.declarations.isEmpty { output += GoFormat.value(value) }
            case .branch(let kind, let pipe, let body, let otherwise):
                let mark = variables.count
                nesting += 1
                defer {
                    variables.removeLast(variables.count - mark)
                    nesting -= 1
                }
                guard nesting < Self.maximumNesting else {
                    throw fail("exceeded maximum template depth (\(Self.maximumNesting))")
                }
                if kind == .range {
                    try walkRange(pipe, body: body, otherwise: otherwise, dot: dot)
                    continue
                }
                let value = try evaluate(pipe, dot: dot)
                if Self.isTrue(value) {
                    try walk(body, dot: kind == .with ? value : dot)
                } else if let otherwise {
                    try walk(otherwise, dot: dot)
                }
            case .breakLoop: throw LoopControl.breakLoop
            case .continueLoop: throw LoopControl.continueLoop
            case .template(let name, let pipe, let position):
                try walkTemplate(name, pipe: pipe, position: position, dot: dot)
            }
        }
    }

    private mutating func walkRange(_ pipe: TemplatePipe, body: [TemplateNode], otherwise: [TemplateNode]?,
                                    dot: TemplateValue) throws {
        let value = try evaluate(Self.withoutDeclarations(pipe), dot: dot)
        var items: [(TemplateValue, TemplateValue)] = []
        switch value {
        case .list(let list): items = list.enumerated().map { (.int($0.offset), $0.element) }
        case .map(let members): items = TemplateValue.sorted(members).map { (.string($0.0), $0.1) }
        case .int(let count) where pipe.declarations.count > 1:
            throw fail("can't use \(count) to iterate over more than one variable")
        case .int(let count) where count > 0: items = (0..<count).map { (.int($0), .int($0)) }
        case .int, .missing, .null, .nilCollection: break
        default: throw fail("range can't iterate over \(GoFormat.value(value))")
        }
        for (key, element) in items {
            let mark = variables.count
            defer { variables.removeLast(variables.count - mark) }
            if pipe.declarations.count == 1 {
                variables.append((pipe.declarations[0], element))
            } else if pipe.declarations.count == 2 {
                variables.append((pipe.declarations[0], key))
                variables.append((pipe.declarations[1], element))
            }
            do {
                try walk(body, dot: element)
            } catch LoopControl.breakLoop {
                return
            } catch LoopControl.continueLoop {
                continue
            }
        }
        if items.isEmpty, let otherwise { try walk(otherwise, dot: dot) }
    }

    /// Runs a named template with its own variables: `$` is the new dot.
    private mutating func walkTemplate(_ name: String, pipe: TemplatePipe?, position: Int, dot: TemplateValue) throws {
        at(position, "{{template \(goQuoted(name))" + (pipe.map { " " + $0.description } ?? "") + "}}")
        guard let body = parser.definitions[name] else { throw fail("template \(goQuoted(name)) not defined") }
        guard nesting < Self.maximumNesting else {
            throw fail("exceeded maximum template depth (\(Self.maximumNesting))")
        }
        let newDot = try pipe.map { try evaluate($0, dot: dot) } ?? .missing
        let outer = variables
        variables = [("$", newDot)]
        nesting += 1
        defer {
            variables = outer
            nesting -= 1
        }
        try walk(body, dot: newDot)
    }

    /// Templates calling templates, and control structures within them, stop here rather than
    /// exhaust the stack (Go's limit is on template calls alone, on a stack that grows).
    static let maximumNesting = 1000
    private var nesting = 0

    /// A range's declarations name the key and element, not the pipeline's value.
    private static func withoutDeclarations(_ pipe: TemplatePipe) -> TemplatePipe {
        var copy = pipe
        copy.declarations = []
        return copy
    }

    /// Go's truth: false, 0, nil, and empty strings, lists and maps are false.
    static func isTrue(_ value: TemplateValue) -> Bool {
        switch value {
        case .missing, .null, .nilCollection: return false
        case .bool(let flag): return flag
        case .int(let number): return number != 0
        case .float(let number): return number != 0
        case .string(let text): return !text.isEmpty
        case .list(let items): return !items.isEmpty
        case .map(let members): return !members.isEmpty
        case .object, .overflow: return true
        }
    }

    // MARK: Pipelines and commands

    private mutating func evaluate(_ pipe: TemplatePipe, dot: TemplateValue) throws -> TemplateValue {
        at(pipe.position, pipe.description)
        var value: TemplateValue?
        for command in pipe.commands {
            value = try evaluate(command, dot: dot, final: value)
        }
        let result = value ?? .missing
        for name in pipe.declarations {
            if pipe.isAssignment, let index = variables.lastIndex(where: { $0.0 == name }) {
                variables[index].1 = result
            } else {
                variables.append((name, result))
            }
        }
        return result
    }

    private mutating func evaluate(_ command: TemplateCommand, dot: TemplateValue, final: TemplateValue?) throws -> TemplateValue {
        let first = command.arguments[0]
        switch first {
        case .field(let names, let position):
            at(position, first.description)
            return try fieldChain(dot, names: names, arguments: command.arguments, final: final)
        case .chain(let base, let names, let position):
            at(position, first.description)
            if case .null = base { throw fail("indirection through explicit nil in \(first.description)") }
            let receiver = try argument(base, as: .any, dot: dot)
            return try fieldChain(receiver, names: names, arguments: command.arguments, final: final)
        case .identifier(let name, let position):
            at(position, name)
            return try call(name, command: command, arguments: Array(command.arguments.dropFirst()), dot: dot, final: final)
        case .pipe(let pipe):
            try notAFunction(command.arguments, final: final)
            return try evaluate(pipe, dot: dot)
        case .variable(let name, let names, let position):
            at(position, first.description)
            let value = variable(name)
            if names.isEmpty {
                try notAFunction(command.arguments, final: final)
                return value
            }
            return try fieldChain(value, names: names, arguments: command.arguments, final: final)
        case .dot, .null, .bool, .number, .string:
            at(first.position, first.description)
            try notAFunction(command.arguments, final: final)
            switch first {
            case .dot: return dot
            case .null: throw fail("nil is not a command")
            case .bool(let flag, _): return .bool(flag)
            case .number(.overflow(let text), _, _): throw fail("\(text) overflows int")
            case .number(let value, _, _): return value
            case .string(let text, _, _): return .string(text)
            default: return .missing
            }
        }
    }

    private func notAFunction(_ arguments: [TemplateArgument], final: TemplateValue?) throws {
        if arguments.count > 1 || final != nil {
            throw fail("can't give argument to non-function \(arguments[0].description)")
        }
    }

    private func variable(_ name: String) -> TemplateValue {
        variables.last { $0.0 == name }?.1 ?? .missing
    }

    // MARK: Fields and methods

    private mutating func fieldChain(_ receiver: TemplateValue, names: [String], arguments: [TemplateArgument],
                                     final: TemplateValue?) throws -> TemplateValue {
        var value = receiver
        for name in names.dropLast() {
            value = try field(value, name: name, arguments: [], final: nil)
        }
        let result = try field(value, name: names[names.count - 1], arguments: arguments, final: final)
        // A JSON null in a map is a nil interface{}, which Go prints as its invalid value.
        if case .map = value, case .null = result { return .missing }
        return result
    }

    /// `arguments` holds the field node first, as in Go, then its arguments.
    private mutating func field(_ receiver: TemplateValue, name: String, arguments: [TemplateArgument],
                                final: TemplateValue?) throws -> TemplateValue {
        let hasArguments = arguments.count > 1 || final != nil
        switch receiver {
        case .object(let object):
            if let method = object.methods[name] {
                let given = arguments.count - 1 + (final == nil ? 0 : 1)
                guard given == method.parameters else {
                    throw fail("wrong number of args for \(name): want \(method.parameters) got \(given)")
                }
                let position = atPosition, context = atContext
                var values = try arguments.dropFirst().map { try argument($0, as: .string, dot: receiver) }
                if let final { values.append(try validate(final, as: .string)) }
                at(position, context)
                do {
                    return try method.call(values)
                } catch let error as TemplateMethodError {
                    throw fail("error calling \(name): \(error.description)")
                }
            }
            guard let value = object.fields.first(where: { $0.0 == name })?.1 else {
                if object.kind == .headerMap { return .missing }
                throw fail("can't evaluate field \(name) in type \(object.typeName)")
            }
            if hasArguments {
                throw fail("wrong number of args for \(name): want 0 got \(arguments.count - 1 + (final == nil ? 0 : 1))")
            }
            return value
        case .map(let members):
            if hasArguments { throw fail("\(name) is not a method but has arguments") }
            if let value = members.first(where: { $0.0 == name })?.1 { return value }
            if missingKeyIsError { throw fail("map has no entry for key \(goQuoted(name))") }
            return .missing
        case .missing:
            if missingKeyIsError { throw fail("nil data; no entry for key \(goQuoted(name))") }
            return .missing
        case .nilCollection(isMap: true):
            if hasArguments { throw fail("\(name) is not a method but has arguments") }
            if missingKeyIsError { throw fail("map has no entry for key \(goQuoted(name))") }
            return .missing
        case .null:
            throw fail("nil pointer evaluating interface {}.\(name)")
        default:
            throw fail("can't evaluate field \(name) in type \(receiver.goType)")
        }
    }

    // MARK: Arguments

    private mutating func argument(_ node: TemplateArgument, as parameter: TemplateParameter,
                                   dot: TemplateValue) throws -> TemplateValue {
        at(node.position, node.description)
        switch node {
        case .dot:
            return try validate(dot, as: parameter)
        case .null:
            guard parameter == .any else { throw fail("cannot assign nil to \(Self.name(of: parameter))") }
            return .null
        case .field(let names, _):
            return try validate(try fieldChain(dot, names: names, arguments: [node], final: nil), as: parameter)
        case .variable(let name, let names, _):
            let value = variable(name)
            return try validate(names.isEmpty ? value : try fieldChain(value, names: names, arguments: [node], final: nil),
                                as: parameter)
        case .pipe(let pipe):
            return try validate(try evaluate(pipe, dot: dot), as: parameter)
        case .identifier(let name, _):
            return try validate(try call(name, command: nil, arguments: [], dot: dot, final: nil), as: parameter)
        case .chain(let base, let names, _):
            if case .null = base { throw fail("indirection through explicit nil in \(node.description)") }
            let receiver = try argument(base, as: .any, dot: dot)
            at(node.position, node.description)
            return try validate(try fieldChain(receiver, names: names, arguments: [node], final: nil), as: parameter)
        case .bool(let flag, _):
            guard parameter == .any else { throw fail("expected \(Self.name(of: parameter)); found \(node.description)") }
            return .bool(flag)
        case .number(let value, let text, _):
            if case .overflow = value { throw fail("\(text) overflows int") }
            switch (parameter, value) {
            case (.any, _), (.int, .int): return value
            case (.int, .float(let number)) where number == number.rounded() && abs(number) < 9e18: return .int(Int(number))
            default: throw fail("expected \(parameter == .int ? "integer" : "string"); found \(node.description)")
            }
        case .string(let text, _, _):
            guard parameter != .int else { throw fail("expected integer; found \(node.description)") }
            return .string(text)
        }
    }

    private static func name(of parameter: TemplateParameter) -> String {
        switch parameter {
        case .any: return "interface {}"
        case .string: return "string"
        case .int: return "int"
        }
    }

    /// Go's validateType: a missing value becomes nil where nil fits; other types must match.
    private func validate(_ value: TemplateValue, as parameter: TemplateParameter) throws -> TemplateValue {
        switch (parameter, value) {
        case (.any, .missing): return .null
        case (.any, _), (.string, .string), (.int, .int): return value
        case (_, .missing): throw fail("invalid value; expected \(Self.name(of: parameter))")
        default:
            throw fail("wrong type for value; expected \(Self.name(of: parameter)); got \(value.goType)")
        }
    }

    // MARK: Functions

    private mutating func call(_ name: String, command: TemplateCommand?, arguments: [TemplateArgument],
                               dot: TemplateValue, final: TemplateValue?) throws -> TemplateValue {
        guard let function = functions[name] else { throw fail("\(goQuoted(name)) is not a defined function") }
        let given = arguments.count + (final == nil ? 0 : 1)
        let commandContext = command.map { ($0.position, $0.description) } ?? (atPosition, atContext)
        switch function.kind {
        case .and, .or:
            guard given >= 1 else { throw fail("wrong number of args for \(name): want at least 1 got 0") }
            var value: TemplateValue = .missing
            for node in arguments {
                value = try argument(node, as: .any, dot: dot)
                if Self.isTrue(value) != (function.kind.isAnd) { return value }
            }
            if let final { value = final }
            return value
        case .call(let parameters, let variadic, let body):
            if variadic == nil ? given != parameters.count : given < parameters.count {
                let want = variadic == nil ? "\(parameters.count)" : "at least \(parameters.count)"
                throw fail("wrong number of args for \(name): want \(want) got \(given)")
            }
            func parameter(_ index: Int) -> TemplateParameter {
                index < parameters.count ? parameters[index] : (variadic ?? .any)
            }
            var values = try arguments.enumerated().map { try argument($0.element, as: parameter($0.offset), dot: dot) }
            if let final { values.append(try validate(final, as: parameter(given - 1))) }
            at(commandContext.0, commandContext.1)
            do {
                return try body(values)
            } catch let error as TemplateMethodError {
                throw fail("error calling \(name): \(error.description)")
            }
        }
    }
}

extension TemplateFunction.Kind {
    var isAnd: Bool {
        if case .and = self { return true }
        return false
    }
}
