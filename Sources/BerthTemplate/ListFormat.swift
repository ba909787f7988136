/// Docker's `--format` for list commands (docker/cli's formatter.Context): a `table` prefix gives
/// aligned columns under a header row, `json` is `{{json .}}`, anything else is a template run
/// once per row. `\t` and `\n` written literally in the flag become tabs and newlines.
public struct ListFormat: Sendable {
    /// Whether the output is a table (the format starts with `table`).
    public let isTable: Bool
    private let template: GoTemplate

    /// Parses `format`; a parse error is the template's (`TemplateParseError`).
    public init(_ format: String) throws {
        isTable = format.hasPrefix("table")
        var source = isTable ? String(format.dropFirst("table".count)) : format == "json" ? "{{json .}}" : format
        source = String(source.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        source = source.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n")
        template = try GoTemplate(source)
    }

    /// The rows rendered, one line each; for a table, aligned under `header` (a header context,
    /// whose fields are the column titles) as Docker's tabwriter aligns them.
    public func render(_ rows: [TemplateValue], header: TemplateValue) throws -> String {
        var body = ""
        for row in rows {
            body += try template.execute(row) + "\n"
        }
        guard isTable else { return body }
        // Docker ignores an error in the header row and keeps what was written before it.
        let headerRow = template.executePartially(header, headerFunctions: true)
        return TabWriter.format(headerRow + "\n" + body)
    }

    /// Docker's header context: a map of field names to column titles whose `Label "a.b-c"`
    /// method titles a label column ("b c").
    public static func header(_ titles: [String: String]) -> TemplateValue {
        .object(TemplateObject(
            typeName: "formatter.SubHeaderContext",
            fields: titles.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) },
            methods: ["Label": (1, { arguments in
                guard case .string(let name) = arguments[0] else { return .string("") }
                let last = name.split(separator: ".", omittingEmptySubsequences: false).last.map(String.init) ?? ""
                return .string(last.replacingOccurrences(of: "-", with: " ").replacingOccurrences(of: "_", with: " "))
            })],
            kind: .headerMap))
    }
}

/// Go's text/tabwriter as the Docker CLI configures it (minimum width 10, padding 3, spaces):
/// tab-terminated cells are padded to their column's width; a column runs over consecutive
/// lines that have a cell in it.
public enum TabWriter {
    public static func format(_ text: String, minimumWidth: Int = 10, padding: Int = 3) -> String {
        var lines = text.components(separatedBy: "\n").map { $0.components(separatedBy: "\t") }
        let trailing = lines.removeLast()
        var out = ""
        var widths: [Int] = []

        func write(_ range: Range<Int>) {
            for line in lines[range] {
                for (column, cell) in line.enumerated() {
                    out += cell
                    if column < widths.count {
                        out += String(repeating: " ", count: max(0, widths[column] - cell.unicodeScalars.count))
                    }
                }
                out += "\n"
            }
        }

        func format(_ start: Int, _ end: Int) {
            var line0 = start
            let column = widths.count
            var this = start
            while this < end {
                guard column < lines[this].count - 1 else { this += 1; continue }
                write(line0..<this)
                line0 = this
                var width = minimumWidth
                while this < end, column < lines[this].count - 1 {
                    width = max(width, lines[this][column].unicodeScalars.count + padding)
                    this += 1
                }
                widths.append(width)
                format(line0, this)
                widths.removeLast()
                line0 = this
            }
            write(line0..<end)
        }

        format(0, lines.count)
        return out + trailing.joined(separator: "\t")
    }
}
