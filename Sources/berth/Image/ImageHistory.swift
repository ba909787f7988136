import ArgumentParser
import BerthOCI
import BerthStore
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
        let store = try global.openStore()
        let record = try store.image(named: image)
        let config = try store.config(of: record)
        let sizes = try store.layerSizes(config.rootfs.diffIDs)
        var entries = config.history ?? []
        if entries.isEmpty {
            entries = config.rootfs.diffIDs.map { _ in History() }
        }
        // Non-empty history entries correspond, in order, to the layers.
        var layerIndex = 0
        var perEntrySize: [Int64] = []
        for entry in entries {
            if entry.emptyLayer == true || layerIndex >= config.rootfs.diffIDs.count {
                perEntrySize.append(0)
            } else {
                perEntrySize.append(sizes[config.rootfs.diffIDs[layerIndex]] ?? 0)
                layerIndex += 1
            }
        }
        var rows: [OrderedJSON] = []
        let topID = noTrunc ? record.id.description : record.id.shortID
        for (position, entry) in entries.enumerated().reversed() {
            let id = position == entries.count - 1 ? topID : "<missing>"
            let created = entry.created.flatMap(Timestamp.parse)
            // Docker's history shows CreatedAt as RFC 3339 in whole seconds.
            let createdAt = created.map { Timestamp.format(Date(timeIntervalSince1970: $0.timeIntervalSince1970.rounded(.down))) } ?? ""
            var createdBy = (entry.createdBy ?? "").replacingOccurrences(of: "\t", with: " ")
            if !noTrunc, createdBy.count > 45 { createdBy = String(createdBy.prefix(44)) + "…" }
            let size = perEntrySize[position]
            rows.append(.object([
                ("Comment", .string(entry.comment ?? "")),
                ("CreatedAt", .string(createdAt)),
                ("CreatedBy", .string(createdBy)),
                ("CreatedSince", .string(human ? HumanUnits.since(created) : createdAt)),
                ("ID", .string(id)),
                ("Size", .string(human ? HumanUnits.size(size) : String(size))),
            ]))
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
                      "Size": "SIZE", "Comment": "COMMENT"]
        ).write(rows)
    }
}
