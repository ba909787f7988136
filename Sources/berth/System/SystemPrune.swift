import ArgumentParser
import BerthEngine
import Foundation

/// `berth system prune`: the engine's prunes in the docker CLI's order (containers, networks,
/// volumes with `--volumes`, images, build cache) behind one confirmation, then the total.
struct SystemPrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused data.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Remove all unused images not just dangling ones.")
    var all = false

    @Flag(help: "Prune anonymous volumes.")
    var volumes = false

    @Option(help: ArgumentHelp("Provide filter values (e.g. 'label=<key>=<value>').", valueName: "filter"))
    var filter: [String] = []

    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.")
    var force = false

    func run() async throws {
        let filters = try usageErrors { try Filters(cli: filter) }
        if volumes, filters.contains("until") {
            printError("ERROR: The \"until\" filter is not supported with \"--volumes\"")
            throw ExitCode(1)
        }
        if !force {
            var warnings = ["all stopped containers", "all networks not used by at least one container"]
            if volumes { warnings.append("all anonymous volumes not used by at least one container") }
            warnings.append(all ? "all images without at least one container associated to them" : "all dangling images")
            warnings.append(all ? "all build cache" : "unused build cache")
            var message = "WARNING! This will remove:\n" + warnings.map { "  - \($0)\n" }.joined()
            let shown = ["label", "label!", "until"].flatMap { key in filters.values(key).map { "\(key)=\($0)" } }.sorted()
            if !shown.isEmpty {
                message += "\n  Items to be pruned will be filtered with:\n" + shown.map { "  - \($0)\n" }.joined()
            }
            guard confirm(message + "\n") else { return }
        }
        let engine = try global.openEngine()
        var reclaimed: Int64 = 0
        func section(_ title: String, _ lines: [String]) {
            if !lines.isEmpty { print("\(title):\n" + lines.joined(separator: "\n") + "\n") }
        }
        let containers = try await daemonErrors { try await engine.pruneContainers(filters) }
        reclaimed += containers.spaceReclaimed
        section("Deleted Containers", containers.deleted)
        section("Deleted Networks", try await daemonErrors { try engine.pruneNetworks(filters: filters) })
        if volumes {
            let report = try await daemonErrors { try engine.pruneVolumes(filters: filters) }
            reclaimed += report.spaceReclaimed
            section("Deleted Volumes", report.deleted)
        }
        var imageFilters = filters
        imageFilters.add("dangling", all ? "false" : "true")
        let images = try await daemonErrors { try engine.pruneImages(imageFilters) }
        reclaimed += images.reclaimedBytes
        section("Deleted Images", images.removed.map { event in
            switch event {
            case .untagged(let name): "untagged: \(name)"
            case .deleted(let id): "deleted: \(id)"
            }
        })
        // The build cache has neither labels nor ages to filter by: a filtered prune keeps it.
        if filters.isEmpty {
            let cache = try await daemonErrors { try engine.pruneBuildCache() }
            reclaimed += cache.reclaimedBytes
            section("Deleted build cache objects", cache.deleted)
        }
        print("Total reclaimed space: \(HumanUnits.size(reclaimed, precision: 4))")
    }

    /// Runs one prune; an engine error ends the command as the docker CLI reports a daemon's.
    private func daemonErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as EngineError {
            printError("Error response from daemon: \(error.message)")
            throw ExitCode(1)
        }
    }
}
