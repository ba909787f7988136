import ArgumentParser
import BerthBuild
import BerthRuntime
import Foundation

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
        let cacheRoot = global.root + "/buildcache"
        BuildStepRecord.releaseAbandoned(berthRoot: global.root)
        let before = Self.diskUsage(cacheRoot)
        let store = try global.openStore()
        let entries = try BuildCache(root: global.root).prune(store: store)
        let garbage = try store.collectGarbage()
        if entries > 0 { print("Deleted build cache objects: \(entries)\n") }
        let reclaimed = max(0, before - Self.diskUsage(cacheRoot)) + garbage.reclaimedBytes
        print("Total reclaimed space: \(HumanUnits.size(reclaimed, precision: 4))")
    }

    /// Bytes of the regular files under `path`.
    static func diskUsage(_ path: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: Int64 = 0
        for case let name as String in walker {
            var info = stat()
            if lstat(path + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG { total += Int64(info.st_size) }
        }
        return total
    }
}
