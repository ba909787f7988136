import ArgumentParser
import BerthEngine

/// `berth image rm`.
struct ImageRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more images.", aliases: ["remove"])
    @OptionGroup var options: ImageRemoveOptions
    func run() throws { try options.run() }
}

/// `berth rmi`: the short form of `berth image rm`.
struct RemoveImages: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove one or more images.")
    @OptionGroup var options: ImageRemoveOptions
    func run() throws { try options.run() }
}

/// The options and work of `image rm`, shared by its two names.
struct ImageRemoveOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Force removal of the image.")
    var force = false

    @Flag(name: .customLong("no-prune"), help: "Do not delete untagged parents (accepted for compatibility).")
    var noPrune = false

    @Argument(help: ArgumentHelp("Images to remove.", valueName: "image"))
    var images: [String]

    func run() throws {
        let engine = try global.openEngine()
        var failed = false
        for name in images {
            do {
                for event in try engine.removeImage(name, force: force) {
                    switch event {
                    case .untagged(let reference): print("Untagged: \(reference)")
                    case .deleted(let id): print("Deleted: \(id)")
                    }
                }
            } catch {
                printDaemonError(error)
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
