import ArgumentParser
import BerthOCI
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
        if !force {
            let warning = all
                ? "WARNING! This will remove all images without at least one container associated to them."
                : "WARNING! This will remove all dangling images."
            guard confirm(warning + "\n") else { return }
        }
        let store = try global.openStore()
        // Images that containers use are kept, dangling or not, as Docker keeps them.
        let inUse = try store.imagesInUse()
        let candidates = try store.images().filter { (all || $0.tags.isEmpty) && !inUse.contains($0.id) }
            .filter(try pruneFilter(store))
        var removed: [String] = []
        for image in candidates {
            if image.tags.isEmpty {
                if try store.removeIfUntagged(image.id) { removed.append("deleted: \(image.id)") }
            } else {
                for event in try store.remove(image.id.description, force: true, isRunning: { _ in true }) {
                    switch event {
                    case .untagged(let name): removed.append("untagged: \(name)")
                    case .deleted(let id): removed.append("deleted: \(id)")
                    }
                }
            }
        }
        let garbage = try store.collectGarbage()
        if !removed.isEmpty {
            print("Deleted Images:\n" + removed.joined(separator: "\n") + "\n")
        }
        print("Total reclaimed space: \(HumanUnits.size(garbage.reclaimedBytes, precision: 4))")
    }

    /// `until=` (RFC 3339, date, or a Go duration like `24h`) and `label=` / `label!=`.
    private func pruneFilter(_ store: Store) throws -> (ImageRecord) -> Bool {
        var predicates: [(ImageRecord) -> Bool] = []
        for item in filter {
            if item.hasPrefix("until=") {
                let value = String(item.dropFirst("until=".count))
                guard let limit = TimeArgument.parse(value) else { throw ValidationError("invalid until filter: \(value)") }
                predicates.append { ($0.createdDate ?? .distantPast) < limit }
            } else if item.hasPrefix("label!=") || item.hasPrefix("label=") {
                let negate = item.hasPrefix("label!=")
                let parts = item.dropFirst(negate ? 7 : 6).split(separator: "=", maxSplits: 1).map(String.init)
                predicates.append { image in
                    let labels = (try? store.config(of: image).config?.Labels) ?? nil
                    let matches = labels?[parts[0]].map { parts.count == 1 || $0 == parts[1] } ?? false
                    return matches != negate
                }
            } else {
                throw ValidationError("invalid filter '\(item)'")
            }
        }
        return { image in predicates.allSatisfy { $0(image) } }
    }
}
