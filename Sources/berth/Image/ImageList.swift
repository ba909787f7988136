import ArgumentParser
import BerthEngine
import BerthOCI
import BerthStore
import BerthTemplate
import Foundation

/// `berth image ls`.
struct ImageList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List images.", aliases: ["list"])
    @OptionGroup var options: ImageListOptions
    func run() throws { try options.run() }
}

/// `berth images`: the short form of `berth image ls`.
struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "List images.")
    @OptionGroup var options: ImageListOptions
    func run() throws { try options.run() }
}

/// The options and work of `image ls`, shared by its two names.
struct ImageListOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Show all images (default hides intermediate images).")
    var all = false

    @Flag(help: "Show digests.")
    var digests = false

    @Option(name: .shortAndLong, help: ArgumentHelp(
        "Filter output: dangling=true|false, label=<key>[=<value>], before=<image>, since=<image>, reference=<pattern>.",
        valueName: "filter"))
    var filter: [String] = []

    @Option(help: ArgumentHelp(
        "Format output: 'table', 'table TEMPLATE', 'json', or a Go template such as '{{.Repository}}:{{.Tag}}'.",
        valueName: "string"))
    var format: String?

    @Flag(name: .customLong("no-trunc"), help: "Don't truncate output.")
    var noTrunc = false

    @Flag(name: .shortAndLong, help: "Only show image IDs.")
    var quiet = false

    @Argument(help: ArgumentHelp("Only images with this name (patterns as in --filter reference=).",
                                 valueName: "REPOSITORY[:TAG]"))
    var repository: String?

    func run() throws {
        let engine = try global.openEngine()
        let images = try usageErrors {
            var filters = try Filters(cli: filter)
            if let repository { filters.add("reference", repository) }
            return try engine.images(BerthEngine.ImageListOptions(all: all, filters: filters))
        }
        let rows = images.flatMap { ImageRow.rows(for: $0, noTrunc: noTrunc) }
        if quiet {
            print(rows.map(\.id).joined(separator: "\n"), terminator: rows.isEmpty ? "" : "\n")
            return
        }
        var columns: [(String, String)] = [("REPOSITORY", "Repository"), ("TAG", "Tag")]
        if digests { columns.append(("DIGEST", "Digest")) }
        columns += [("IMAGE ID", "ID"), ("CREATED", "CreatedSince"), ("SIZE", "Size")]
        try ListFormatter(format: format, columns: columns, headers: ImageRow.headers, typeName: "*formatter.imageContext")
            .write(rows.map(\.json))
    }
}

/// One line of `images` output. An image appears once per tag, once per digest of a repository
/// it has no tag in, or once as `<none>` when it has neither.
struct ImageRow {
    var repository: String
    var tag: String
    var digest: String
    var id: String
    var image: ImageRecord

    static let headers = ["Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
                          "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
                          "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
                          "Containers": "CONTAINERS"]

    static func rows(for image: ImageRecord, noTrunc: Bool) -> [ImageRow] {
        let id = noTrunc ? image.id.description : image.id.shortID
        func digest(in repository: String) -> String {
            image.repoDigests.first { $0.name == repository }?.digest?.description ?? "<none>"
        }
        var rows = image.tags.map {
            ImageRow(repository: $0.familiarName, tag: $0.tag ?? "<none>", digest: digest(in: $0.name), id: id, image: image)
        }
        let taggedRepositories = Set(image.tags.map(\.name))
        for repoDigest in image.repoDigests where !taggedRepositories.contains(repoDigest.name) {
            rows.append(ImageRow(repository: repoDigest.familiarName, tag: "<none>",
                                 digest: repoDigest.digest?.description ?? "<none>", id: id, image: image))
        }
        if rows.isEmpty {
            rows.append(ImageRow(repository: "<none>", tag: "<none>", digest: "<none>", id: id, image: image))
        }
        return rows
    }

    /// The fields Docker's image formatter offers, as `--format json` prints them.
    var json: OrderedJSON {
        let size = HumanUnits.size(image.size)
        return .object([
            ("Containers", .string("N/A")),
            ("CreatedAt", .string(HumanUnits.goTime(image.createdDate))),
            ("CreatedSince", .string(HumanUnits.since(image.createdDate))),
            ("Digest", .string(digest)),
            ("ID", .string(id)),
            ("Repository", .string(repository)),
            ("SharedSize", .string("N/A")),
            ("Size", .string(size)),
            ("Tag", .string(tag)),
            ("UniqueSize", .string("N/A")),
            ("VirtualSize", .string(size)),
        ])
    }
}
