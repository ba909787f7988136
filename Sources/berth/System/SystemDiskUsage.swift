import ArgumentParser
import BerthEngine
import BerthOCI
import BerthTemplate
import Foundation

/// `berth system df`: the space images, containers, volumes and the build cache take, summed as
/// the docker CLI sums the engine's `/system/df` document; `-v` lists each object.
struct SystemDiskUsage: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "df", abstract: "Show Berth's disk usage.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Show detailed information on space usage.")
    var verbose = false

    @Option(help: ArgumentHelp("Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template.", valueName: "string"))
    var format: String?

    func validate() throws {
        if verbose, format != nil { throw ValidationError("the verbose and the format options conflict") }
    }

    func run() throws {
        let usage = try global.openEngine().diskUsage()
        if verbose {
            printVerbose(usage)
            return
        }
        let rows = Self.summary(usage).map { row in
            OrderedJSON.object([
                ("Active", .string(String(row.active))), ("Reclaimable", .string(row.reclaimableText)),
                ("Size", .string(HumanUnits.size(row.size, precision: 4))), ("TotalCount", .string(String(row.total))),
                ("Type", .string(row.type)),
            ])
        }
        try ListFormatter(
            format: format,
            columns: [("TYPE", "Type"), ("TOTAL", "TotalCount"), ("ACTIVE", "Active"), ("SIZE", "Size"), ("RECLAIMABLE", "Reclaimable")],
            headers: ["Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"]
        ).write(rows)
    }

    struct Summary {
        var type: String
        var total: Int
        var active: Int
        var size: Int64
        var reclaimable: Int64
        var showsPercentage = true

        var reclaimableText: String {
            let text = HumanUnits.size(reclaimable, precision: 4)
            return showsPercentage && size > 0 ? "\(text) (\(reclaimable * 100 / size)%)" : text
        }
    }

    /// The four rows, computed as the docker CLI computes them: an image is active while a
    /// container uses it, and what such images hold alone is not reclaimable; a container is
    /// active while it runs; a volume while a container mounts it.
    static func summary(_ usage: OrderedJSON) -> [Summary] {
        let images = items(usage["Images"])
        let containers = items(usage["Containers"])
        let volumes = items(usage["Volumes"])
        let cache = items(usage["BuildCache"])
        let layersSize = int(usage["LayersSize"])
        let usedImages = images.filter { int($0["Containers"]) > 0 }
        let used = usedImages.reduce(Int64(0)) { $0 + int($1["Size"]) - int($1["SharedSize"]) }
        let activeContainers = containers.filter { ["running", "paused", "restarting"].contains(string($0["State"])) }
        let containerSize = containers.reduce(Int64(0)) { $0 + int($1["SizeRw"]) }
        let activeSize = activeContainers.reduce(Int64(0)) { $0 + int($1["SizeRw"]) }
        let volumeSize = volumes.reduce(Int64(0)) { $0 + max(0, int($1["UsageData"]?["Size"])) }
        let unusedVolumes = volumes.filter { int($0["UsageData"]?["RefCount"]) == 0 }
        let cacheSize = cache.filter { $0["Shared"] != .bool(true) }.reduce(Int64(0)) { $0 + int($1["Size"]) }
        let cacheReclaimable = cache.filter { $0["Shared"] != .bool(true) && $0["InUse"] != .bool(true) }
            .reduce(Int64(0)) { $0 + int($1["Size"]) }
        return [
            Summary(type: "Images", total: images.count, active: usedImages.count, size: layersSize,
                    reclaimable: layersSize - used),
            Summary(type: "Containers", total: containers.count, active: activeContainers.count, size: containerSize,
                    reclaimable: containerSize - activeSize),
            Summary(type: "Local Volumes", total: volumes.count, active: volumes.count - unusedVolumes.count, size: volumeSize,
                    reclaimable: unusedVolumes.reduce(Int64(0)) { $0 + max(0, int($1["UsageData"]?["Size"])) }),
            Summary(type: "Build Cache", total: cache.count, active: cache.filter { $0["InUse"] == .bool(true) }.count,
                    size: cacheSize, reclaimable: cacheReclaimable, showsPercentage: false),
        ]
    }

    private func printVerbose(_ usage: OrderedJSON) {
        let size = { (bytes: Int64) in HumanUnits.size(bytes, precision: 4) }
        var images = Table(header: ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"])
        for image in Self.items(usage["Images"]) {
            let tags = Info.strings(image["RepoTags"])
            var (repository, tag) = ("<none>", "<none>")
            if let first = tags.first, let colon = first.lastIndex(of: ":") {
                (repository, tag) = (String(first[..<colon]), String(first[first.index(after: colon)...]))
            }
            let id = Self.string(image["Id"]).replacingOccurrences(of: "sha256:", with: "")
            let created = Date(timeIntervalSince1970: TimeInterval(Self.int(image["Created"])))
            let total = Self.int(image["Size"])
            let shared = Self.int(image["SharedSize"])
            images.append([repository, tag, String(id.prefix(12)), HumanUnits.since(created), size(total), size(shared),
                           size(total - shared), String(Self.int(image["Containers"]))])
        }
        print("Images space usage:\n")
        print(images.rendered)
        var containers = Table(header: ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"])
        for container in Self.items(usage["Containers"]) {
            let volumes = Self.items(container["Mounts"]).filter { Self.string($0["Type"]) == "volume" }.count
            var command = Self.string(container["Command"])
            if command.count > 20 { command = String(command.prefix(19)) + "…" }
            let created = Date(timeIntervalSince1970: TimeInterval(Self.int(container["Created"])))
            let names = Info.strings(container["Names"]).map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }
            containers.append([String(Self.string(container["Id"]).prefix(12)), Self.string(container["Image"]),
                               "\"\(command)\"", String(volumes), size(Self.int(container["SizeRw"])),
                               HumanUnits.since(created), Self.string(container["Status"]), names.joined(separator: ",")])
        }
        print("Containers space usage:\n")
        print(containers.rendered)
        var volumes = Table(header: ["VOLUME NAME", "LINKS", "SIZE"])
        for volume in Self.items(usage["Volumes"]) {
            volumes.append([Self.string(volume["Name"]), String(Self.int(volume["UsageData"]?["RefCount"])),
                            size(max(0, Self.int(volume["UsageData"]?["Size"])))])
        }
        print("Local Volumes space usage:\n")
        print(volumes.rendered)
        let cache = Self.items(usage["BuildCache"])
        print("Build cache usage: \(size(cache.reduce(Int64(0)) { $0 + Self.int($1["Size"]) }))\n")
        var entries = Table(header: ["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"])
        for entry in cache {
            let created = Timestamp.parse(Self.string(entry["CreatedAt"]))
            entries.append([Self.string(entry["ID"]), Self.string(entry["Type"]), size(Self.int(entry["Size"])),
                            HumanUnits.since(created), HumanUnits.since(Timestamp.parse(Self.string(entry["LastUsedAt"]))),
                            String(Self.int(entry["UsageCount"])), GoTemplate.format(entry["Shared"] ?? .bool(false))])
        }
        print(entries.rendered, terminator: "")
    }

    static func items(_ value: OrderedJSON?) -> [OrderedJSON] {
        guard case .array(let items)? = value else { return [] }
        return items
    }

    static func int(_ value: OrderedJSON?) -> Int64 {
        guard case .number(let text)? = value else { return 0 }
        return Int64(text) ?? 0
    }

    static func string(_ value: OrderedJSON?) -> String {
        guard case .string(let text)? = value else { return "" }
        return text
    }
}
