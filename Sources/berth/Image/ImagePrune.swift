import ArgumentParser
import BerthEngine
import BerthStore
import Foundation

/// `berth image prune`.
struct ImagePrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused images.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Remove all unused images, not just dangling ones.")
    var all = false

    @Option(help: ArgumentHelp("Provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>').", valueName: "filter"))
    var filter: [String] = []

    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.")
    var force = false

    func run() throws {
        // As the docker CLI does: -a asks for every unused image, not only the dangling ones.
        var filters = try usageErrors { try Filters(cli: filter) }
        filters.add("dangling", all ? "false" : "true")
        if !force {
            let warning = all
                ? "WARNING! This will remove all images without at least one container associated to them."
                : "WARNING! This will remove all dangling images."
            guard confirm(warning + "\n") else { return }
        }
        let engine = try global.openEngine()
        let report = try usageErrors { try engine.pruneImages(filters) }
        let removed = report.removed.map { event -> String in
            switch event {
            case .untagged(let name): "untagged: \(name)"
            case .deleted(let id): "deleted: \(id)"
            }
        }
        if !removed.isEmpty {
            print("Deleted Images:\n" + removed.joined(separator: "\n") + "\n")
        }
        print("Total reclaimed space: \(HumanUnits.size(report.reclaimedBytes, precision: 4))")
    }
}
