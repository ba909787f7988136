import ArgumentParser
import BerthEngine

/// `berth tag` / `berth image tag`.
struct ImageTag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Existing image.", valueName: "SOURCE_IMAGE[:TAG]"))
    var source: String

    @Argument(help: ArgumentHelp("New name.", valueName: "TARGET_IMAGE[:TAG]"))
    var target: String

    func run() throws {
        let engine = try global.openEngine()
        try usageErrors { try engine.tagImage(source, as: target) }
    }
}
