/// Column output like Go's text/tabwriter as the Docker CLI configures it (minimum width 10,
/// padding 3): every column but the last is padded to its widest cell.
struct Table {
    private var rows: [[String]] = []
    /// Docker's tabwriter minimum cell width (10 for lists, 20 for `top`).
    private let minimumWidth: Int

    init(header: [String], minimumWidth: Int = 10) {
        rows.append(header)
        self.minimumWidth = minimumWidth
    }

    mutating func append(_ row: [String]) { rows.append(row) }

    var rendered: String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (column, cell) in row.enumerated().dropLast() {
                widths[column] = max(widths[column], max(minimumWidth, cell.count + 3))
            }
        }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[column] - cell.count))
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
