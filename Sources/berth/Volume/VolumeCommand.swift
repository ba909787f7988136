import ArgumentParser
import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

/// `berth volume …`: manage volumes.
struct VolumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Manage volumes.",
        subcommands: [VolumeCreate.self, VolumeList.self, VolumeInspect.self, VolumeRemove.self, VolumePrune.self])
}

/// `berth volume create [NAME]`.
struct VolumeCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a volume.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Specify volume driver name (only \"local\").", valueName: "string"))
    var driver = "local"

    @Option(help: ArgumentHelp("Set metadata for a volume.", valueName: "list"))
    var label: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Set driver specific options.", valueName: "map"))
    var opt: [String] = []

    @Argument(help: ArgumentHelp("The volume's name (random if not given).", valueName: "volume"))
    var name: String?

    func run() throws {
        guard driver == "local" else {
            printError("Error response from daemon: create \(name ?? ""): error looking up volume plugin \(driver): plugin \"\(driver)\" not found")
            throw ExitCode(1)
        }
        do {
            let volume = try global.openRuntime().volumes.create(name,
                                                                 labels: keyValues(label), options: keyValues(opt))
            print(volume.name)
        } catch let error as RuntimeError {
            printError("Error response from daemon: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `berth volume ls`.
struct VolumeList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List volumes.", aliases: ["list"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Only display volume names.")
    var quiet = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Provide filter values (e.g. 'dangling=true', 'name=x', 'label=k=v', 'driver=local').", valueName: "filter"))
    var filter: [String] = []

    @Option(help: ArgumentHelp("Format output: 'table', 'table TEMPLATE', 'json', or a Go template such as '{{.Name}}'.", valueName: "string"))
    var format: String?

    func run() throws {
        let runtime = try global.openRuntime()
        let inUse = Set(try runtime.containers.records().flatMap { $0.mounts.filter { $0.type == .volume }.map(\.name) })
        var volumes = try runtime.volumes.list()
        var byKey: [String: [String]] = [:]
        for item in filter {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["dangling", "name", "label", "driver"].contains(parts[0]) else {
                throw ValidationError("invalid filter '\(parts[0])'")
            }
            byKey[parts[0], default: []].append(parts[1])
        }
        if let dangling = byKey["dangling"] {
            let wanted = try dangling.map { value -> Bool in
                guard let flag = ["true": true, "1": true, "false": false, "0": false][value] else {
                    throw ValidationError("invalid filter 'dangling=\(value)'")
                }
                return flag
            }
            volumes = volumes.filter { volume in wanted.contains(!inUse.contains(volume.name)) }
        }
        if let names = byKey["name"] { volumes = volumes.filter { volume in names.contains { volume.name.contains($0) } } }
        if let drivers = byKey["driver"] { volumes = volumes.filter { drivers.contains($0.driver) } }
        if let labels = byKey["label"] {
            volumes = volumes.filter { volume in
                labels.allSatisfy { label in
                    let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                    guard let value = volume.labels[parts[0]] else { return false }
                    return parts.count == 1 || value == parts[1]
                }
            }
        }
        if quiet {
            for volume in volumes { print(volume.name) }
            return
        }
        let rows = volumes.map { volume in
            OrderedJSON.object([
                ("Availability", .string("N/A")), ("Driver", .string(volume.driver)), ("Group", .string("N/A")),
                ("Labels", .string(volume.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))),
                ("Links", .string("N/A")), ("Mountpoint", .string(volume.mountpoint)), ("Name", .string(volume.name)),
                ("Scope", .string("local")), ("Size", .string("N/A")), ("Status", .string("N/A")),
            ])
        }
        try ListFormatter(format: format, columns: [("DRIVER", "Driver"), ("VOLUME NAME", "Name")],
                          headers: ["Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT",
                                    "Labels": "LABELS", "Scope": "SCOPE", "Size": "SIZE", "Links": "LINKS"])
            .write(rows)
    }
}

/// `berth volume inspect`.
struct VolumeInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Display detailed information on one or more volumes.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Format output using a Go template, or 'json'.", valueName: "string"))
    var format: String?

    @Argument(help: ArgumentHelp("Volumes to inspect.", valueName: "volume"))
    var volumes: [String]

    func run() throws {
        let runtime = try global.openRuntime()
        try InspectPrinter(format: format, missingNoun: "volume").print(volumes) { name in
            guard let volume = try runtime.volumes.volume(name) else { throw RuntimeError.noSuchVolume(name) }
            return Self.document(volume)
        }
    }

    /// Docker's volume document, in its field order.
    static func document(_ volume: Volume) -> OrderedJSON {
        func map(_ values: [String: String], emptyIsNull: Bool) -> OrderedJSON {
            if values.isEmpty && emptyIsNull { return .null }
            return .object(values.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
        }
        return .object([
            ("CreatedAt", .string(Timestamp.format(volume.createdAt))),
            ("Driver", .string(volume.driver)),
            ("Labels", map(volume.labels, emptyIsNull: volume.anonymous)),
            ("Mountpoint", .string(volume.mountpoint)),
            ("Name", .string(volume.name)),
            ("Options", map(volume.options, emptyIsNull: true)),
            ("Scope", .string("local")),
        ])
    }
}

/// `berth volume rm`.
struct VolumeRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more volumes.", aliases: ["remove"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Do not fail when a volume does not exist.")
    var force = false

    @Argument(help: ArgumentHelp("Volumes to remove.", valueName: "volume"))
    var volumes: [String]

    func run() throws {
        let runtime = try global.openRuntime()
        var failed = false
        for name in volumes {
            do {
                try runtime.removeVolume(name)
                print(name)
            } catch RuntimeError.noSuchVolume where force {
                print(name)
            } catch {
                printError("Error response from daemon: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// `berth volume prune`: anonymous volumes no container uses (`-a`: every unused volume).
struct VolumePrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused local volumes.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Remove all unused volumes, not just anonymous ones.")
    var all = false

    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.")
    var force = false

    func run() throws {
        if !force {
            let what = all ? "all local volumes" : "anonymous local volumes"
            guard confirm("WARNING! This will remove \(what) not used by at least one container.\n") else { return }
        }
        let runtime = try global.openRuntime()
        var removed: [String] = []
        var reclaimed: Int64 = 0
        for volume in try runtime.volumes.list() where all || volume.anonymous {
            let size = runtime.volumes.size(of: volume.name)
            guard (try? runtime.removeVolume(volume.name)) != nil else { continue }
            removed.append(volume.name)
            reclaimed += size
        }
        if !removed.isEmpty { print("Deleted Volumes:\n" + removed.joined(separator: "\n") + "\n") }
        print("Total reclaimed space: \(HumanUnits.size(reclaimed, precision: 4))")
    }
}
