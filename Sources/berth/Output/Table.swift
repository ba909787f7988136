/// Column output like Go's text/tabwriter as the Docker CLI configures it (minimum width 10,
/// padding 3): every column but the last is padded to its widest cell.
struct Table {
    private var rows: [[String]] = []

    init(header: [String]) { rows.append(header) }

    mutating func append(_ row: [String]) { rows.append(row) }

    var rendered: String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (column, cell) in row.enumerated().dropLast() {
                widths[column] = max(widths[column], max(10, cell.count + 3))
            }
        }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[column] - cell.count))
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
