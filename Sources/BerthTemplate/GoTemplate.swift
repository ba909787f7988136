/// A Go text/template as Docker's `--format` flags take it: Go's actions (`if`/`else if`/`else`,
/// `range` with variables, `with`, `break`/`continue`), variables, pipelines, parenthesised
/// arguments, field chains, method calls with arguments, `{{-`/`-}}` trimming, comments, Go's
/// built-in functions and Docker's (`json`, `join`, `split`, `title`, `lower`, `upper`, `pad`,
/// `truncate`). Errors read as Go's.
public struct GoTemplate: Sendable {
    private let nodes: [TemplateNode]
    private let parser: TemplateParser
    private let name: String

    /// Parses `source`; `name` is the template's name in error messages (Docker's is "").
    public init(_ source: String, name: String = "") throws {
        var parser = TemplateParser(source: source, name: name, functions: Set(TemplateFunctions.standard.keys))
        nodes = try parser.parse()
        self.parser = parser
        self.name = name
    }

    /// The template evaluated with `dot` as `.`.
    ///
    /// - Parameters:
    ///   - missingKeyIsError: Go's `missingkey=error`, which `docker inspect` uses for documents.
    ///   - headerFunctions: Docker's header variants of its functions, for a table's header row.
    public func execute(_ dot: TemplateValue, missingKeyIsError: Bool = false, headerFunctions: Bool = false) throws -> String {
        var evaluator = TemplateEvaluator(parser: parser,
                                          functions: headerFunctions ? TemplateFunctions.header : TemplateFunctions.standard,
                                          missingKeyIsError: missingKeyIsError)
        try evaluator.run(nodes, dot: dot)
        return evaluator.output
    }

    /// What the template writes before it ends or fails, as Go's Execute leaves partial output in
    /// its writer (Docker keeps a table's header row so, whatever went wrong in it).
    public func executePartially(_ dot: TemplateValue, headerFunctions: Bool = false) -> String {
        var evaluator = TemplateEvaluator(parser: parser,
                                          functions: headerFunctions ? TemplateFunctions.header : TemplateFunctions.standard,
                                          missingKeyIsError: false)
        try? evaluator.run(nodes, dot: dot)
        return evaluator.output
    }

    /// The template evaluated over a JSON document (`docker inspect`'s documents).
    public func render(_ dot: OrderedJSON, missingKeyIsError: Bool = false) throws -> String {
        try execute(TemplateValue(dot), missingKeyIsError: missingKeyIsError)
    }

    /// Go's `%v` formatting of a value.
    public static func format(_ value: OrderedJSON) -> String {
        GoFormat.value(TemplateValue(value))
    }

    /// Go's `%v` formatting of a value.
    public static func format(_ value: TemplateValue) -> String {
        GoFormat.value(value)
    }
}

