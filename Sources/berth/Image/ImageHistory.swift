import ArgumentParser
import BerthEngine
import BerthOCI
import BerthTemplate
import Foundation

/// `berth history` / `berth image history`.
struct ImageHistory: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show the history of an image.")

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Format output: 'table', 'table TEMPLATE', 'json', or a Go template.", valueName: "string"))
    var format: String?

    @Option(name: .shortAndLong, parsing: .unconditional, help: ArgumentHelp(
        "Print sizes and dates in human readable format.", valueName: "bool"))
    var human = true

    @Flag(name: .customLong("no-trunc"), help: "Don't truncate output.")
    var noTrunc = false

    @Flag(name: .shortAndLong, help: "Only show image IDs.")
    var quiet = false

    @Argument(help: ArgumentHelp("Image.", valueName: "image"))
    var image: String

    func run() throws {
        let entries = try global.openEngine().imageHistory(image)
        let rows = entries.map { entry -> OrderedJSON in
            let id = entry.imageID.map { noTrunc ? $0.description : $0.shortID } ?? "<missing>"
            // Docker's history shows CreatedAt as RFC 3339 in whole seconds.
            let createdAt = entry.created.map {
                Timestamp.format(Date(timeIntervalSince1970: $0.timeIntervalSince1970.rounded(.down)))
            } ?? ""
            var createdBy = entry.createdBy.replacingOccurrences(of: "\t", with: " ")
            if !noTrunc, createdBy.count > 45 { createdBy = String(createdBy.prefix(44)) + "…" }
            return .object([
                ("Comment", .string(entry.comment)),
                ("CreatedAt", .string(createdAt)),
                ("CreatedBy", .string(createdBy)),
                ("CreatedSince", .string(human ? HumanUnits.since(entry.created) : createdAt)),
                ("ID", .string(id)),
                ("Size", .string(human ? HumanUnits.size(entry.size) : String(entry.size))),
            ])
        }
        if quiet {
            for row in rows { print(row["ID"].map(GoTemplate.format) ?? "") }
            return
        }
        try ListFormatter(
            format: format,
            columns: [("IMAGE", "ID"), ("CREATED", "CreatedSince"), ("CREATED BY", "CreatedBy"), ("SIZE", "Size"),
                      ("COMMENT", "Comment")],
            headers: ["ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                      "Size": "SIZE", "Comment": "COMMENT"],
            typeName: "*image.historyContext"
        ).write(rows)
    }
}
