import ArgumentParser
import BerthEngine
import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

/// `berth container ls`.
struct ContainerList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List containers.", aliases: ["list", "ps"])
    @OptionGroup var options: ContainerListFlags
    func run() throws { try options.run() }
}

/// `berth ps`: the short form of `berth container ls`.
struct ContainerPs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")
    @OptionGroup var options: ContainerListFlags
    func run() throws { try options.run() }
}

struct ContainerListFlags: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Show all containers (default shows just running).")
    var all = false

    @Flag(name: .shortAndLong, help: "Only display container IDs.")
    var quiet = false

    @Flag(name: .customLong("no-trunc"), help: "Don't truncate output.")
    var noTrunc = false

    @Option(name: .shortAndLong, help: ArgumentHelp(
        "Filter output based on conditions provided (id, name, label, status, exited, ancestor, before, since, publish, expose, network, health).",
        valueName: "filter"))
    var filter: [String] = []

    @Option(help: ArgumentHelp(
        "Format output: 'table', 'table TEMPLATE', 'json', or a Go template such as '{{.ID}}'.", valueName: "string"))
    var format: String?

    @Flag(name: .shortAndLong, help: "Display total file sizes.")
    var size = false

    @Option(name: [.customShort("n"), .customLong("last")], help: ArgumentHelp("Show n last created containers (includes all states).", valueName: "int"))
    var last = -1

    @Flag(name: .shortAndLong, help: "Show the latest created container (includes all states).")
    var latest = false

    func run() throws {
        // Docker parses the format and runs it once over an empty row before listing.
        if let format, !format.isEmpty {
            _ = try templateErrors("failed to parse template") { try GoTemplate(format) }
            _ = try templateErrors("failed to execute template") { try GoTemplate(format).execute(ContainerRow.empty) }
        }
        let engine = try global.openEngine()
        // Docker's -l is -n 1; -n counts any state, newest first.
        let limit = latest ? 1 : max(last, 0)
        let records = try usageErrors {
            try engine.listContainersNow(ContainerListOptions(all: all, limit: limit, filters: try Filters(cli: filter)))
        }
        if quiet {
            for record in records { print(noTrunc ? record.id : record.shortID) }
            return
        }
        // As Docker, -s or a template that shows .Size asks for the sizes.
        let sizes = size || format?.contains(".Size") == true
        var columns = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"), ("CREATED", "RunningFor"),
                       ("STATUS", "Status"), ("PORTS", "Ports"), ("NAMES", "Names")]
        if size { columns.append(("SIZE", "Size")) }
        try ListFormatter(format: format, columns: columns, headers: ContainerRow.headers)
            .write(rows: records.map {
                ContainerRow(record: $0, noTrunc: noTrunc, size: sizes ? engine.containerSize($0) : nil).value
            })
    }
}

/// One line of `ps` output, with the fields and methods Docker's container formatter offers.
struct ContainerRow {
    var record: ContainerRecord
    var noTrunc: Bool
    /// The writable layer's size and the virtual size (image and writable layer), when `-s` or the
    /// format asks for them.
    var size: ContainerSize?

    static let headers = ["ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "RunningFor": "CREATED",
                          "CreatedAt": "CREATED AT", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
                          "State": "STATE", "Labels": "LABELS", "Networks": "NETWORKS", "Mounts": "MOUNTS",
                          "Size": "SIZE", "LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM"]

    static let typeName = "*formatter.ContainerContext"

    /// The row as templates see it: `.Label "name"` reads one label.
    var value: TemplateValue {
        let labels = record.config.labels
        return .object(TemplateObject(
            typeName: Self.typeName, fields: fields,
            methods: ["Label": (1, { arguments in
                guard case .string(let name) = arguments[0] else { return .string("") }
                return .string(labels[name] ?? "")
            })]))
    }

    /// What Docker's formatter gives for a container with nothing set, which it runs the template
    /// over to check it.
    static let empty: TemplateValue = .object(TemplateObject(
        typeName: typeName,
        fields: headers.keys.sorted().map { ($0, $0 == "Platform" ? .null : .string("")) },
        methods: ["Label": (1, { _ in .string("") })]))

    private var fields: [(String, TemplateValue)] {
        var command = ContainerSummaryJSON.command(record.config.argv)
        if !noTrunc { command = Self.ellipsis(command, 20) }
        let labels = record.config.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        var sizeText = "0B"
        if let size {
            sizeText = HumanUnits.size(size.rw)
            if size.rootFs > 0 { sizeText += " (virtual \(HumanUnits.size(size.rootFs)))" }
        }
        return [
            ("Command", .string(goQuoted(command))),
            ("CreatedAt", .string(HumanUnits.goTime(record.created))),
            ("ID", .string(noTrunc ? record.id : record.shortID)),
            ("Image", .string(record.imageName)),
            ("Labels", .string(labels)),
            ("LocalVolumes", .string(String(record.mounts.filter { $0.type == .volume }.count))),
            ("Mounts", .string(record.mounts.filter { $0.type != .tmpfs }.map { mount in
                let name = mount.type == .volume ? mount.name : mount.source
                return noTrunc ? name : Self.ellipsis(name, 15)
            }.joined(separator: ","))),
            ("Names", .string(record.name)),
            ("Networks", .string(record.endpointsConfig.isEmpty ? record.hostConfig.networkMode
                                                                : record.endpointsConfig.map(\.network).joined(separator: ","))),
            // Docker 28 shows the image's platform when the daemon reports it; dockerd 20.10 does not.
            ("Platform", .null),
            ("Ports", .string(Self.ports(record))),
            ("RunningFor", .string(HumanUnits.since(record.created))),
            ("Size", .string(sizeText)),
            ("State", .string(record.state.status.rawValue)),
            ("Status", .string(ContainerStatus.describe(record))),
        ]
    }

    /// Docker's PORTS column (the CLI's DisplayablePorts over the daemon's port list): sorted by
    /// private port, address, public port and protocol; ports published on the same number and
    /// exposed ports grouped into ranges first, then the other published ports one by one.
    static func ports(_ record: ContainerRecord) -> String {
        struct Port {
            var ip: String, privatePort: Int, publicPort: Int, type: String
        }
        guard case .array(let listed)? = ContainerSummaryJSON.document(for: record)["Ports"] else { return "" }
        let ports = listed.map { port -> Port in
            func text(_ key: String) -> String { if case .string(let value)? = port[key] { value } else { "" } }
            func number(_ key: String) -> Int { if case .number(let value)? = port[key] { Int(value) ?? 0 } else { 0 } }
            return Port(ip: text("IP"), privatePort: number("PrivatePort"), publicPort: number("PublicPort"), type: text("Type"))
        }.sorted {
            ($0.privatePort, $0.ip, $0.publicPort, $0.type) < ($1.privatePort, $1.ip, $1.publicPort, $1.type)
        }
        func hostPort(_ ip: String, _ port: String) -> String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }
        var groups: [(key: String, ip: String, type: String, first: Int, last: Int)] = []
        var result: [String] = []
        var mappings: [String] = []
        func form(_ group: (key: String, ip: String, type: String, first: Int, last: Int)) -> String {
            let range = group.first == group.last ? "\(group.first)" : "\(group.first)-\(group.last)"
            return (group.ip.isEmpty ? range : "\(hostPort(group.ip, range))->\(range)") + "/\(group.type)"
        }
        for port in ports {
            if !port.ip.isEmpty, port.publicPort != port.privatePort {
                mappings.append("\(hostPort(port.ip, String(port.publicPort)))->\(port.privatePort)/\(port.type)")
                continue
            }
            let key = port.ip.isEmpty ? port.type : port.ip + "/" + port.type
            if let index = groups.firstIndex(where: { $0.key == key }) {
                if port.privatePort == groups[index].last + 1 {
                    groups[index].last = port.privatePort
                } else {
                    result.append(form(groups[index]))
                    groups[index].first = port.privatePort
                    groups[index].last = port.privatePort
                }
            } else {
                groups.append((key, port.ip, port.type, port.privatePort, port.privatePort))
            }
        }
        return (result + groups.map(form) + mappings).joined(separator: ", ")
    }

    /// Docker's Ellipsis: at most `width` characters, the last one `…` when cut.
    static func ellipsis(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }
}
