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

    func write(_ rows: [OrderedJSON]) throws {
        let format = format ?? "table"
        if format == "json" {
            for row in rows { print(row.compact) }
            return
        }
        if format == "table" {
            var table = Table(header: columns.map(\.0))
            for row in rows {
                table.append(columns.map { row[$0.1].map(GoTemplate.format) ?? "" })
            }
            print(table.rendered, terminator: "")
            return
        }
        let isTable = format.hasPrefix("table ")
        let source = (isTable ? String(format.dropFirst("table ".count)) : format)
            .replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n")
        let template = try GoTemplate(source)
        let lines = try rows.map { try template.render($0) }
        guard isTable else {
            for line in lines { print(line) }
            return
        }
        // Header: each {{.Field}} replaced by its title, as Docker's table formats do.
        var headerRow: [String: OrderedJSON] = [:]
        for (field, title) in headers { headerRow[field] = .string(title) }
        let header = try template.render(.object(headerRow.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        var table = Table(header: header.components(separatedBy: "\t"))
        for line in lines { table.append(line.components(separatedBy: "\t")) }
        print(table.rendered, terminator: "")
    }
}
