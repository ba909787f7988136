import ArgumentParser
import BerthEngine

/// `berth builder …`: manage the build cache.
struct BuilderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "builder", abstract: "Manage builds.", subcommands: [BuilderPrune.self])
}

/// `berth builder prune`: empties the build cache shared by all builds on this root.
struct BuilderPrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove build cache.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Remove all build cache (the only kind Berth keeps).")
    var all = false

    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.")
    var force = false

    func run() throws {
        if !force {
            guard confirm("WARNING! This will remove all build cache. ") else { return }
        }
        let report = try global.openEngine().pruneBuildCache()
        if !report.deleted.isEmpty { print("Deleted build cache objects: \(report.deleted.count)\n") }
        print("Total reclaimed space: \(HumanUnits.size(report.reclaimedBytes, precision: 4))")
    }
}

extension BuilderPrune {
    /// Bytes of the regular files under `path`.
    static func diskUsage(_ path: String) -> Int64 { Engine.diskUsage(path) }
}
