import ArgumentParser
import BerthOCI
import BerthStore
import BerthTemplate
import Foundation
import Glibc

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
        let store = try global.openStore()
        let filters = filter + (repository.map { ["reference=\($0)"] } ?? [])
        let images = try ImageFilter(filters, store: store).apply(to: store.images())
        var rows = images.flatMap { ImageRow.rows(for: $0, noTrunc: noTrunc) }
        // Docker shows only the names that match a reference filter, not every tag of the image.
        let patterns = filters.filter { $0.lowercased().hasPrefix("reference=") }.map { String($0.dropFirst("reference=".count)) }
        if !patterns.isEmpty {
            rows = rows.filter { row in
                patterns.contains { pattern in
                    let names: [String] = [row.repository, row.repository + ":" + row.tag]
                    return names.contains { (name: String) in fnmatch(pattern, name, FNM_PATHNAME) == 0 }
                }
            }
        }
        if quiet {
            print(rows.map(\.id).joined(separator: "\n"), terminator: rows.isEmpty ? "" : "\n")
            return
        }
        var columns: [(String, String)] = [("REPOSITORY", "Repository"), ("TAG", "Tag")]
        if digests { columns.append(("DIGEST", "Digest")) }
        columns += [("IMAGE ID", "ID"), ("CREATED", "CreatedSince"), ("SIZE", "Size")]
        try ListFormatter(format: format, columns: columns, headers: ImageRow.headers)
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

/// `--filter` for image lists, with Docker's filter names.
struct ImageFilter {
    private var predicates: [(ImageRecord) -> Bool] = []

    init(_ filters: [String], store: Store) throws {
        for filter in filters {
            guard let equals = filter.firstIndex(of: "=") else {
                throw ValidationError("bad format of filter (expected name=value)")
            }
            let name = filter[..<equals].lowercased()
            let value = String(filter[filter.index(after: equals)...])
            switch name {
            case "dangling":
                guard value == "true" || value == "false" else {
                    throw ValidationError("invalid filter 'dangling=\(value)'")
                }
                let dangling = value == "true"
                predicates.append { $0.tags.isEmpty == dangling }
            case "label":
                let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
                let labels = { (image: ImageRecord) in (try? store.config(of: image).config?.Labels) ?? nil }
                predicates.append { image in
                    guard let found = labels(image)?[parts[0]] else { return false }
                    return parts.count == 1 || found == parts[1]
                }
            case "before", "since":
                let pivot = try store.image(named: value)
                let before = name == "before"
                predicates.append { image in
                    let created = image.created ?? ""
                    return before ? created < (pivot.created ?? "") : created > (pivot.created ?? "")
                }
            case "reference":
                predicates.append { image in
                    image.tags.contains { tag in
                        fnmatch(value, tag.familiarName, FNM_PATHNAME) == 0
                            || fnmatch(value, tag.familiarString, FNM_PATHNAME) == 0
                    }
                }
            default:
                throw ValidationError("invalid filter '\(name)'")
            }
        }
    }

    func apply(to images: [ImageRecord]) -> [ImageRecord] {
        images.filter { image in predicates.allSatisfy { $0(image) } }
    }
}
