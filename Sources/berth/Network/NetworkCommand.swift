import ArgumentParser
import BerthNetwork
import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

/// `berth network …`: manage networks.
struct NetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Manage networks.",
        subcommands: [NetworkCreate.self, NetworkList.self, NetworkInspect.self, NetworkRemove.self, NetworkPrune.self,
                      NetworkConnect.self, NetworkDisconnect.self])
}

/// Docker prefixes what its daemon refuses with this.
private func daemonError(_ error: Error) -> ExitCode {
    printError("Error response from daemon: \(error)")
    return ExitCode(1)
}

/// `berth network create NAME`: a bridge network whose containers resolve each other by name.
struct NetworkCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Driver to manage the Network (only \"bridge\").", valueName: "string"))
    var driver = "bridge"

    @Option(help: ArgumentHelp("Subnet in CIDR format that represents a network segment.", valueName: "strings"))
    var subnet: String?

    @Option(help: ArgumentHelp("IPv4 Gateway for the master subnet.", valueName: "strings"))
    var gateway: String?

    @Option(help: ArgumentHelp("Set metadata on a network.", valueName: "list"))
    var label: [String] = []

    @Argument(help: ArgumentHelp("The network's name.", valueName: "network"))
    var name: String

    func run() throws {
        guard driver == "bridge" else {
            printError("Error response from daemon: plugin \"\(driver)\" not found")
            throw ExitCode(1)
        }
        if gateway != nil, subnet == nil {
            printError("Error response from daemon: no matching subnet for gateway \(gateway ?? "")")
            throw ExitCode(1)
        }
        do {
            let definition = try NetworkStore(root: global.root).create(
                name: name, subnet: subnet, gateway: gateway, labels: keyValues(label))
            print(definition.id)
        } catch let error as NetworkError {
            throw daemonError(error)
        }
    }
}

/// `berth network ls`.
struct NetworkList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks.", aliases: ["list"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Only display network IDs.")
    var quiet = false

    @Flag(name: .customLong("no-trunc"), help: "Do not truncate the output.")
    var noTrunc = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Provide filter values (e.g. 'driver=bridge', 'name=x', 'id=…', 'label=k=v', 'type=custom|builtin').", valueName: "filter"))
    var filter: [String] = []

    @Option(help: ArgumentHelp("Format output: 'table', 'table TEMPLATE', 'json', or a Go template such as '{{.Name}}'.", valueName: "string"))
    var format: String?

    func run() throws {
        var networks = try NetworkStore(root: global.root).list()
        for item in filter {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["driver", "name", "id", "label", "type"].contains(parts[0]) else {
                throw ValidationError("invalid filter '\(parts[0])'")
            }
            let value = parts[1]
            switch parts[0] {
            case "driver": networks = networks.filter { $0.driver == value }
            case "name": networks = networks.filter { $0.name.contains(value) }
            case "id": networks = networks.filter { $0.id.hasPrefix(value) }
            case "type":
                guard ["custom", "builtin"].contains(value) else { throw ValidationError("invalid filter: 'type'='\(value)'") }
                networks = networks.filter { $0.isPredefined == (value == "builtin") }
            default:
                let label = value.split(separator: "=", maxSplits: 1).map(String.init)
                networks = networks.filter { network in
                    guard let found = network.labels[label[0]] else { return false }
                    return label.count == 1 || found == label[1]
                }
            }
        }
        if quiet {
            for network in networks { print(noTrunc ? network.id : String(network.id.prefix(12))) }
            return
        }
        let rows = networks.map { network in
            OrderedJSON.object([
                ("CreatedAt", .string(Timestamp.format(network.created))),
                ("Driver", .string(network.driver)),
                ("ID", .string(noTrunc ? network.id : String(network.id.prefix(12)))),
                ("IPv6", .string("false")), ("Internal", .string("false")),
                ("Labels", .string(network.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))),
                ("Name", .string(network.name)), ("Scope", .string("local")),
            ])
        }
        try ListFormatter(format: format,
                          columns: [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"), ("SCOPE", "Scope")],
                          headers: ["ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                                    "CreatedAt": "CREATED AT", "Labels": "LABELS", "IPv6": "IPV6", "Internal": "INTERNAL"])
            .write(rows)
    }
}

/// `berth network inspect`: Docker's network document, with the attached containers.
struct NetworkInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Display detailed information on one or more networks.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Format output using a Go template, or 'json'.", valueName: "string"))
    var format: String?

    @Argument(help: ArgumentHelp("Networks to inspect.", valueName: "network"))
    var networks: [String]

    func run() throws {
        let store = try NetworkStore(root: global.root)
        let runtime = try global.openRuntime()
        let manager = try NetworkManager(root: global.root)
        try InspectPrinter(format: format, missingNoun: "network").print(networks) { reference in
            try Self.document(store.find(reference), manager: manager, runtime: runtime)
        }
    }

    /// Docker's network document, in its field order.
    static func document(_ network: NetworkDefinition, manager: NetworkManager, runtime: ContainerRuntime) throws -> OrderedJSON {
        var containers: [(String, OrderedJSON)] = []
        for id in try manager.containers(on: network.name) {
            guard let attachment = try manager.attachment(containerID: id, network: network.name) else { continue }
            let name = (try? runtime.containers.record(id))??.name ?? ""
            containers.append((id, .object([
                ("Name", .string(name)),
                ("MacAddress", .string(attachment.macAddress)),
                ("IPv4Address", .string("\(attachment.ipAddress)/\(attachment.prefixLength)")),
                ("IPv6Address", .string("")),
            ])))
        }
        let ipamConfig: [OrderedJSON] = network.bridge.map {
            [.object([("Subnet", .string($0.subnet)), ("Gateway", .string($0.gateway))])]
        } ?? []
        let options: [(String, OrderedJSON)] = network.bridge.map {
            [("com.docker.network.bridge.name", .string($0.bridge))]
        } ?? []
        return .object([
            ("Name", .string(network.name)),
            ("Id", .string(network.id)),
            ("Created", .string(Timestamp.format(network.created))),
            ("Scope", .string("local")),
            ("Driver", .string(network.driver)),
            ("EnableIPv6", .bool(false)),
            ("IPAM", .object([("Driver", .string("default")), ("Options", network.isPredefined ? .null : .object([])),
                              ("Config", .array(ipamConfig))])),
            ("Internal", .bool(false)),
            ("Attachable", .bool(false)),
            ("Ingress", .bool(false)),
            ("ConfigFrom", .object([("Network", .string(""))])),
            ("ConfigOnly", .bool(false)),
            ("Containers", .object(containers)),
            ("Options", .object(options)),
            ("Labels", .object(network.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ])
    }
}

/// `berth network rm`.
struct NetworkRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more networks.", aliases: ["remove"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Do not error if the network does not exist.")
    var force = false

    @Argument(help: ArgumentHelp("Networks to remove.", valueName: "network"))
    var networks: [String]

    func run() throws {
        let store = try NetworkStore(root: global.root)
        let manager = try NetworkManager(root: global.root)
        var failed = false
        for reference in networks {
            do {
                try manager.removeNetwork(try store.find(reference))
                print(reference)
            } catch NetworkError.unknownNetwork(let missing) {
                if force { continue }
                printError("Error: No such network: \(missing)")
                failed = true
            } catch {
                printError("Error response from daemon: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// `berth network prune`: user networks that no container refers to.
struct NetworkPrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all unused networks.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.")
    var force = false

    func run() throws {
        if !force {
            guard confirm("WARNING! This will remove all custom networks not used by at least one container.\n") else { return }
        }
        let runtime = try global.openRuntime()
        let manager = try NetworkManager(root: global.root)
        let used = Set(try runtime.containers.records().flatMap { $0.endpointsConfig.map(\.network) })
        var removed: [String] = []
        for network in try NetworkStore(root: global.root).list() where !network.isPredefined && !used.contains(network.name) {
            guard (try? manager.removeNetwork(network)) != nil else { continue }
            removed.append(network.name)
        }
        if !removed.isEmpty { print("Deleted Networks:\n" + removed.joined(separator: "\n") + "\n") }
    }
}

/// `berth network connect NETWORK CONTAINER`.
struct NetworkConnect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Connect a container to a network.")

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Add network-scoped alias for the container.", valueName: "strings"))
    var alias: [String] = []

    @Argument(help: ArgumentHelp("The network.", valueName: "network"))
    var network: String

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    func run() throws {
        do {
            try global.openRuntime().connect(container, to: network, aliases: alias)
        } catch {
            throw daemonError(error)
        }
    }
}

/// `berth network disconnect NETWORK CONTAINER`.
struct NetworkDisconnect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disconnect", abstract: "Disconnect a container from a network.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Force the container to disconnect from a network.")
    var force = false

    @Argument(help: ArgumentHelp("The network.", valueName: "network"))
    var network: String

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    func run() throws {
        do {
            try global.openRuntime().disconnect(container, from: network)
        } catch NetworkError.notConnected where force {
            return
        } catch {
            throw daemonError(error)
        }
    }
}
