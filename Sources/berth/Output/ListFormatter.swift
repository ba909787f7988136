import ArgumentParser
import BerthTemplate

/// Renders rows of a list command the way Docker's `--format` does: a default table, `json`
/// (one object per line), `table TEMPLATE` (headers from field names), or a bare template.
struct ListFormatter {
    var format: String?
    /// (header, field) pairs of the default table.
    var columns: [(String, String)]
    /// Header titles for fields used in `table` templates.
    var headers: [String: String]
    /// The Go type Docker names in "can't evaluate field" errors for this list's rows.
    var typeName = "*formatter.Context"

    /// Rows given as JSON objects: each member is a field of the row.
    func write(_ rows: [OrderedJSON]) throws {
        try write(rows: rows.map { row in
            guard case .object(let members) = row else { return TemplateValue(row) }
            return .object(TemplateObject(typeName: typeName, fields: members.map { ($0.0, TemplateValue($0.1)) }))
        })
    }

    func write(rows: [TemplateValue]) throws {
        var source = format ?? ""
        if source.isEmpty || source == "table" {
            source = "table " + columns.map { "{{.\($0.1)}}" }.joined(separator: "\t")
        }
        var titles = headers
        for (title, field) in columns { titles[field] = title }
        try templateErrors {
            let list = try ListFormat(source)
            print(try list.render(rows, header: ListFormat.header(titles)), terminator: "")
        }
    }
}

/// Reports a template's parse or execution error as Docker's formatter does ("template parsing
/// error: template: :1: …", exit status 1), prefixed with `prefix` when given.
func templateErrors<T>(_ prefix: String = "template parsing error", _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as TemplateParseError {
        printError("\(prefix): \(error)")
        throw ExitCode(1)
    } catch let error as TemplateExecutionError {
        printError("\(prefix): \(error)")
        throw ExitCode(1)
    }
}

/// The `--format` template of a command that exits 64 when it does not parse, as the docker CLI's
/// inspect, version, info and events do, after `prefix` and the parser's error.
func templateOrExit64(_ format: String, prefix: String = "template parsing error") throws -> GoTemplate {
    do {
        return try GoTemplate(format)
    } catch let error as TemplateParseError {
        printError("\(prefix): \(error)")
        throw ExitCode(64)
    }
}
